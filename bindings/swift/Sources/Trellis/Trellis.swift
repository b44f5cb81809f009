// Idiomatic Swift layer over the generated bindings (trellis_ffi.swift, same module).
//
//  - `session.deltas(prompt)`: an `AsyncThrowingStream<String, Error>` (an AsyncSequence) of
//    text pieces; cancelling the consuming task or leaving the loop stops generation;
//  - `session.respond(prompt, as: T.self, schema:)`: a JSON-Schema answer decoded with
//    `Codable`;
//  - `FunctionTool`: a `Tool` from a closure taking `Decodable` arguments.
import Foundation

extension Session {
    /// Streams the answer to `prompt` piece by piece.
    ///
    /// Generation starts at once; when the consumer stops iterating or its task is
    /// cancelled, generation stops and the session becomes free for the next request.
    public func deltas(_ prompt: String) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                let stream = await self.stream(prompt: prompt)
                do {
                    while !Task.isCancelled, let delta = try await stream.next() {
                        continuation.yield(delta)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
                // Stops generation when ended early; returns at once when it had finished.
                await stream.cancel()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Answers `prompt` with JSON valid for `schema` (a JSON Schema, grammar-constrained)
    /// and decodes it into `T`.
    ///
    /// - Throws: `TrellisError` from generation, `DecodingError` when `T` does not match
    ///   the schema's shape.
    public func respond<T: Decodable>(
        _ prompt: String, as type: T.Type, schema: String,
        decoder: JSONDecoder = JSONDecoder()
    ) async throws -> T {
        let response = try await respondJson(prompt: prompt, schemaJson: schema)
        return try decoder.decode(T.self, from: Data(response.content.utf8))
    }
}

/// A `Tool` implemented by a Swift closure: the model's JSON arguments are decoded into
/// `Arguments`, the closure's `String` result goes back to the model.
///
/// ```swift
/// struct CityArgs: Decodable { let city: String }
/// let weather = FunctionTool<CityArgs>(
///     name: "weather", description: "Current weather for a city",
///     parameters: #"{"type":"object","properties":{"city":{"type":"string","maxLength":40}},"required":["city"]}"#
/// ) { args in "Sunny in \(args.city)" }
/// let session = try Session.withTools(model: model, instructions: nil, options: nil,
///                                     tools: [weather], toolOptions: nil)
/// ```
public final class FunctionTool<Arguments: Decodable>: Tool, @unchecked Sendable {
    private let toolName: String
    private let toolDescription: String
    private let parameters: String
    private let handler: @Sendable (Arguments) async throws -> String

    /// A tool named `name` whose arguments follow the JSON Schema `parameters`.
    public init(
        name: String, description: String, parameters: String,
        handler: @escaping @Sendable (Arguments) async throws -> String
    ) {
        toolName = name
        toolDescription = description
        self.parameters = parameters
        self.handler = handler
    }

    public func name() -> String { toolName }
    public func description() -> String { toolDescription }
    public func parametersJson() -> String { parameters }

    /// Decodes the arguments and runs the closure. A thrown error that is not a
    /// `TrellisError` fails the response with `TrellisError.ToolCall` (reason: the error).
    public func call(argumentsJson: String) async throws -> String {
        let arguments = try JSONDecoder().decode(Arguments.self, from: Data(argumentsJson.utf8))
        return try await handler(arguments)
    }
}
