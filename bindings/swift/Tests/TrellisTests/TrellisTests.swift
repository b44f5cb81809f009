// Swift tests of the Trellis bindings against the real bundled model (Gemma 3 270M), the
// same scenarios as bindings/kotlin/tests/TrellisTests.kt. Run with `swift test` (needs the
// Rust library, see Package.swift, and `bash scripts/install-model.sh`).
import Foundation
import XCTest

@testable import Trellis

private let model: Model = {
    // swiftlint:disable:next force_try
    try! Model.load(
        path: bundledModelPath(),
        options: ModelOptions(contextSize: 2048, threads: 2, batchSize: 256))
}()

private func greedy(_ maxTokens: UInt32) -> GenerationOptions {
    GenerationOptions(sampling: .greedy, maxTokens: maxTokens)
}

private let story = "Write a long story about a dragon."

private let fewShot = """
    You answer questions and use tools when they help.

    Q: What is 2 plus 3?
    A: {"tool_calls":[{"name":"calculator","arguments":{"a":2,"operation":"add","b":3}}]}

    Q: Tool results:
    calculator: 5
    A: {"answer":"5"}
    """

private let calcSchema = """
    {"type":"object","properties":{
      "a":{"type":"integer","minimum":-1000,"maximum":1000},
      "operation":{"enum":["add","multiply","subtract"]},
      "b":{"type":"integer","minimum":-1000,"maximum":1000}},
     "required":["a","operation","b"],"additionalProperties":false}
    """

private struct CalcArgs: Decodable, Equatable {
    let a: Int
    let operation: String
    let b: Int

    var result: Int? {
        switch operation {
        case "add": return a + b
        case "multiply": return a * b
        case "subtract": return a - b
        default: return nil
        }
    }
}

/// Records calls across the tool's concurrent invocations.
private actor Calls {
    var list: [CalcArgs] = []
    func add(_ args: CalcArgs) { list.append(args) }
}

private struct City: Decodable {
    let city: String
    let kind: String
    let populationMillions: Int

    enum CodingKeys: String, CodingKey {
        case city, kind
        case populationMillions = "population_millions"
    }
}

final class TrellisTests: XCTestCase {
    func testRespondPlain() async throws {
        let session = Session(model: model, instructions: "Answer in one short sentence.", options: greedy(32))
        let answer = try await session.respond(prompt: "What is the capital of France?")
        XCTAssertTrue(answer.content.contains("Paris"), answer.content)
        XCTAssertTrue((1...32).contains(answer.usage.completionTokens))
        XCTAssertFalse(session.isResponding())
    }

    func testRespondWithSchemaDecodesCodable() async throws {
        let schema = """
            {"type":"object","properties":{
              "city":{"type":"string","maxLength":30},
              "kind":{"enum":["capital","village","town"]},
              "population_millions":{"type":"integer","minimum":0,"maximum":50}},
             "required":["city","kind","population_millions"],"additionalProperties":false}
            """
        let session = Session(model: model, instructions: "Describe the city as JSON.", options: greedy(96))
        let city = try await session.respond("Paris, the capital of France.", as: City.self, schema: schema)
        XCTAssertLessThanOrEqual(city.city.count, 30)
        XCTAssertTrue(["capital", "village", "town"].contains(city.kind))
        XCTAssertTrue((0...50).contains(city.populationMillions))
    }

    func testAsyncSequenceMatchesRespond() async throws {
        let expected = try await Session(model: model, instructions: nil, options: greedy(24))
            .respond(prompt: story).content
        var deltas: [String] = []
        for try await delta in Session(model: model, instructions: nil, options: greedy(24)).deltas(story) {
            deltas.append(delta)
        }
        XCTAssertGreaterThan(deltas.count, 1)
        XCTAssertEqual(deltas.joined(), expected)
    }

    func testCancellingTheConsumingTaskStopsGeneration() async throws {
        let session = Session(model: model, instructions: nil, options: greedy(200))
        let task = Task { () -> Int in
            var received = 0
            for try await _ in session.deltas(story) {
                received += 1
                if received == 2 { withUnsafeCurrentTask { $0?.cancel() } }
            }
            return received
        }
        let received = try await task.value
        XCTAssertLessThan(received, 100)
        // The session becomes free for the next request (no ConcurrentRequests).
        var waited = 0
        while session.isResponding() && waited < 3000 {
            try await Task.sleep(nanoseconds: 10_000_000)
            waited += 10
        }
        XCTAssertFalse(session.isResponding())
        let next = try await session.respond(prompt: "What is the capital of France?")
        XCTAssertFalse(next.content.isEmpty)
    }

    func testModelCallsASwiftTool() async throws {
        let calls = Calls()
        let calculator = FunctionTool<CalcArgs>(
            name: "calculator", description: "Computes a op b.", parameters: calcSchema
        ) { args in
            await calls.add(args)
            return String(args.result ?? 0)
        }
        var options = defaultToolOptions()
        options.toolChoice = .required
        options.maxRounds = 2
        let session = try Session.withTools(
            model: model, instructions: fewShot, options: greedy(48), tools: [calculator],
            toolOptions: options)
        let answer = try await session.respond(prompt: "What is 12 plus 30?").content
        let list = await calls.list
        XCTAssertFalse(list.isEmpty, "the tool was not called")
        for args in list {
            XCTAssertTrue((-1000...1000).contains(args.a) && (-1000...1000).contains(args.b))
            XCTAssertNotNil(args.result, "operation \(args.operation)")
        }
        let last = try XCTUnwrap(list.last?.result)
        XCTAssertTrue(answer.contains(String(last)), "answer \(answer) does not use \(last)")
    }

    func testFailingSwiftToolIsAToolCallError() async throws {
        struct Broken: Error {}
        let broken = FunctionTool<CalcArgs>(
            name: "calculator", description: "Computes a op b.", parameters: calcSchema
        ) { _ in throw Broken() }
        var options = defaultToolOptions()
        options.toolChoice = .required
        options.maxRounds = 1
        let session = try Session.withTools(
            model: model, instructions: fewShot, options: greedy(48), tools: [broken],
            toolOptions: options)
        do {
            _ = try await session.respond(prompt: "What is 6 times 7?")
            XCTFail("no error")
        } catch TrellisError.ToolCall(let tool, _) {
            XCTAssertEqual(tool, "calculator")
        }
    }

    func testAdapterLoadAndAttach() async throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("trellis-swift-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeRandomAdapter(model: model, path: path, name: "swift-test-adapter", rank: 4, seed: 2026)
        let adapter = try Adapter.load(model: model, path: path)
        XCTAssertEqual(adapter.name(), "swift-test-adapter")
        XCTAssertEqual(adapter.rank(), 4)
        XCTAssertEqual(adapter.alpha(), 4)
        XCTAssertFalse(adapter.targets().isEmpty)
        XCTAssertTrue(adapter.metadata().contains { $0.key == "training.creator" })

        let prompt = "What do cats like to do?"
        let base = try await Session(model: model, instructions: nil, options: greedy(24))
            .respond(prompt: prompt).content
        let adapted = Session(model: model, instructions: nil, options: greedy(24))
        try adapted.setAdapter(adapter: adapter, scale: 1.0)
        XCTAssertEqual(adapted.attachedAdapter()?.scale, 1.0)
        let changed = try await adapted.respond(prompt: prompt).content
        XCTAssertNotEqual(changed, base)
        try adapted.clearAdapter()
        XCTAssertNil(adapted.attachedAdapter())

        // Stacked adapters: both attached, in order; an adapter listed twice is refused.
        let secondPath = path + ".second.gguf"
        defer { try? FileManager.default.removeItem(atPath: secondPath) }
        try writeRandomAdapter(model: model, path: secondPath, name: "second", rank: 2, seed: 7)
        let second = try Adapter.load(model: model, path: secondPath)
        let stacked = Session(model: model, instructions: nil, options: greedy(24))
        try stacked.setAdapters(adapters: [
            AttachedAdapter(adapter: adapter, scale: 1.0), AttachedAdapter(adapter: second, scale: 0.5),
        ])
        XCTAssertEqual(stacked.attachedAdapters().map { $0.adapter.name() }, ["swift-test-adapter", "second"])
        let stackedAnswer = try await stacked.respond(prompt: prompt).content
        XCTAssertNotEqual(stackedAnswer, changed)
        XCTAssertThrowsError(try stacked.setAdapters(adapters: [
            AttachedAdapter(adapter: second, scale: 1.0), AttachedAdapter(adapter: second, scale: 0.5),
        ]))
        XCTAssertEqual(stacked.attachedAdapters().count, 2)
    }

    func testErrorsAreTyped() async throws {
        XCTAssertThrowsError(try Model.load(path: "/nonexistent/trellis/model.gguf", options: nil)) { error in
            guard case TrellisError.ModelNotFound(let path) = error else {
                return XCTFail("expected ModelNotFound, got \(error)")
            }
            XCTAssertEqual(path, "/nonexistent/trellis/model.gguf")
        }
        XCTAssertThrowsError(try Adapter.load(model: model, path: model.path())) { error in
            guard case TrellisError.Adapter = error else {
                return XCTFail("expected Adapter, got \(error)")
            }
        }
    }
}
