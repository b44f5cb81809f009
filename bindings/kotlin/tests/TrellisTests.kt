// Kotlin tests of the Trellis bindings against the real bundled model (Gemma 3 270M).
// No JUnit here: main() runs every test, prints one line per test and a summary line, and
// exits with status 1 when a test failed. Run by scripts/test-bindings.sh.
package trellis.tests

import kotlin.system.exitProcess
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import trellis.Json
import trellis.respondValue
import trellis.streamFlow
import trellis.tool
import uniffi.trellis_ffi.Adapter
import uniffi.trellis_ffi.AttachedAdapter
import uniffi.trellis_ffi.GenerationOptions
import uniffi.trellis_ffi.Model
import uniffi.trellis_ffi.ModelOptions
import uniffi.trellis_ffi.Sampling
import uniffi.trellis_ffi.Session
import uniffi.trellis_ffi.ToolChoice
import uniffi.trellis_ffi.TrellisException
import uniffi.trellis_ffi.bundledModelPath
import uniffi.trellis_ffi.defaultToolOptions
import uniffi.trellis_ffi.uniffiEnsureInitialized
import uniffi.trellis_ffi.writeRandomAdapter

class TestFailure(message: String) : Exception(message)

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw TestFailure(message())
}

fun greedy(maxTokens: Int) = GenerationOptions(Sampling.Greedy, maxTokens.toUInt())

val model: Model by lazy {
    Model.load(bundledModelPath(), ModelOptions(contextSize = 2048u, threads = 2u, batchSize = 256u))
}

const val STORY = "Write a long story about a dragon."

val FEW_SHOT = """You answer questions and use tools when they help.

Q: What is 2 plus 3?
A: {"tool_calls":[{"name":"calculator","arguments":{"a":2,"operation":"add","b":3}}]}

Q: Tool results:
calculator: 5
A: {"answer":"5"}"""

val OPERATIONS = mapOf<String, (Long, Long) -> Long>(
    "add" to { a, b -> a + b },
    "multiply" to { a, b -> a * b },
    "subtract" to { a, b -> a - b },
)

val CALC_SCHEMA = """{"type":"object","properties":{
  "a":{"type":"integer","minimum":-1000,"maximum":1000},
  "operation":{"enum":["add","multiply","subtract"]},
  "b":{"type":"integer","minimum":-1000,"maximum":1000}},
  "required":["a","operation","b"],"additionalProperties":false}"""

/** Checks calculator arguments against CALC_SCHEMA, independently of the grammar. */
fun checkCalcArguments(args: Map<String, Any?>) {
    check(args.keys == setOf("a", "operation", "b")) { "arguments $args" }
    for (k in listOf("a", "b")) {
        val v = args[k]
        check(v is Long && v in -1000L..1000L) { "argument $k = $v" }
    }
    check(args["operation"] in OPERATIONS.keys) { "operation ${args["operation"]}" }
}

// ---- tests ----------------------------------------------------------------------------------

suspend fun respondPlain() {
    val session = Session(model, "Answer in one short sentence.", greedy(32))
    val answer = session.respond("What is the capital of France?")
    check("Paris" in answer.content) { "answer: ${answer.content}" }
    check(answer.usage.completionTokens in 1u..32u) { "usage ${answer.usage}" }
    check(!session.isResponding()) { "still responding" }
}

suspend fun respondWithSchema() {
    val schema = """{"type":"object","properties":{
      "city":{"type":"string","maxLength":30},
      "kind":{"enum":["capital","village","town"]},
      "population_millions":{"type":"integer","minimum":0,"maximum":50}},
      "required":["city","kind","population_millions"],"additionalProperties":false}"""
    val session = Session(model, "Describe the city as JSON.", greedy(96))
    val value = session.respondValue("Paris, the capital of France.", schema)
    check(value is Map<*, *>) { "not an object: $value" }
    val obj = value as Map<*, *>
    check(obj.keys == setOf("city", "kind", "population_millions")) { "keys ${obj.keys}" }
    val city = obj["city"]
    check(city is String && city.length <= 30) { "city $city" }
    check(obj["kind"] in setOf("capital", "village", "town")) { "kind ${obj["kind"]}" }
    val pop = obj["population_millions"]
    check(pop is Long && pop in 0L..50L) { "population $pop" }
}

suspend fun flowMatchesRespond() {
    val expected = Session(model, null, greedy(24)).respond(STORY).content
    val deltas = Session(model, null, greedy(24)).streamFlow(STORY).toList()
    check(deltas.size > 1) { "${deltas.size} deltas" }
    check(deltas.joinToString("") == expected) { "stream ${deltas.joinToString("")} != $expected" }
}

suspend fun cancellingTheCollectorStopsGeneration() {
    val session = Session(model, null, greedy(200))
    // Stopping early (take) ...
    val firstThree = session.streamFlow(STORY).take(3).toList()
    check(firstThree.size == 3) { "took ${firstThree.size}" }
    check(!session.isResponding()) { "still responding after take(3)" }
    // ... and cancelling the collecting coroutine both stop generation.
    val received = mutableListOf<String>()
    val twoReceived = CompletableDeferred<Unit>()
    coroutineScope {
        val job = launch {
            session.streamFlow(STORY).collect {
                received += it
                if (received.size == 2) twoReceived.complete(Unit)
            }
        }
        withTimeout(60_000) { twoReceived.await() }
        job.cancel()
        job.join()
        check(job.isCancelled) { "job not cancelled" }
    }
    check(received.size < 100) { "received ${received.size} deltas after cancelling" }
    check(!session.isResponding()) { "still responding after cancel" }
    // The session takes the next request (no ConcurrentRequests).
    val next = session.respond("What is the capital of France?")
    check(next.content.isNotEmpty()) { "empty answer after cancel" }
}

suspend fun modelCallsAKotlinTool() {
    val calls = mutableListOf<Map<String, Any?>>()
    val calculator = tool("calculator", "Computes a op b.", CALC_SCHEMA) { args ->
        calls += args
        val op = OPERATIONS.getValue(args["operation"] as String)
        op(args["a"] as Long, args["b"] as Long).toString()
    }
    val options = defaultToolOptions().apply {
        toolChoice = ToolChoice.REQUIRED
        maxRounds = 2u
    }
    val session = Session.withTools(model, FEW_SHOT, greedy(48), listOf(calculator), options)
    val answer = session.respond("What is 12 plus 30?").content
    check(calls.isNotEmpty()) { "the tool was not called; answer $answer" }
    calls.forEach(::checkCalcArguments)
    val last = calls.last()
    val result = OPERATIONS.getValue(last["operation"] as String)(last["a"] as Long, last["b"] as Long)
    check(result.toString() in answer) { "answer '$answer' does not use the tool's $result ($calls)" }
    check("calculator" in session.transcriptJson()) { "no tool call in the transcript" }
}

suspend fun failingKotlinToolIsAToolCallError() {
    val broken = tool("calculator", "Computes a op b.", CALC_SCHEMA) {
        throw IllegalStateException("the calculator is broken")
    }
    val options = defaultToolOptions().apply {
        toolChoice = ToolChoice.REQUIRED
        maxRounds = 1u
    }
    val session = Session.withTools(model, FEW_SHOT, greedy(48), listOf(broken), options)
    try {
        session.respond("What is 6 times 7?")
        throw TestFailure("no error")
    } catch (e: TrellisException.ToolCall) {
        check(e.tool == "calculator") { "tool ${e.tool}" }
        check("the calculator is broken" in e.reason) { "reason ${e.reason}" }
    }
}

suspend fun adapterLoadsAndChangesTheAnswer() {
    val path = kotlin.io.path.createTempFile("trellis-kotlin-adapter", ".gguf").toString()
    try {
        writeRandomAdapter(model, path, "kotlin-test-adapter", 4u, 2026u)
        val adapter = Adapter.load(model, path)
        check(adapter.name() == "kotlin-test-adapter") { "name ${adapter.name()}" }
        check(adapter.rank() == 4uL && adapter.alpha() == 4.0f) { "rank ${adapter.rank()} alpha ${adapter.alpha()}" }
        check(adapter.targets().isNotEmpty() && adapter.targets().all { it.startsWith("blk.") }) { "targets" }
        check(adapter.metadata().any { it.key == "training.creator" }) { "metadata ${adapter.metadata()}" }

        val prompt = "What do cats like to do?"
        val base = Session(model, null, greedy(24)).respond(prompt).content
        val adapted = Session(model, null, greedy(24))
        adapted.setAdapter(adapter, 1.0f)
        check(adapted.attachedAdapter()?.scale == 1.0f) { "not attached" }
        val changed = adapted.respond(prompt).content
        check(changed != base) { "the adapter did not change the answer: $changed" }
        // Stacked adapters: both attached, in order; an adapter listed twice is refused.
        val secondPath = kotlin.io.path.createTempFile("trellis-kotlin-adapter2", ".gguf").toString()
        try {
            writeRandomAdapter(model, secondPath, "second", 2u, 7u)
            val second = Adapter.load(model, secondPath)
            val stacked = Session(model, null, greedy(24))
            stacked.setAdapters(listOf(AttachedAdapter(adapter, 1.0f), AttachedAdapter(second, 0.5f)))
            val names = stacked.attachedAdapters().map { it.adapter.name() to it.scale }
            check(names == listOf("kotlin-test-adapter" to 1.0f, "second" to 0.5f)) { "stacked $names" }
            val stackedAnswer = stacked.respond(prompt).content
            check(stackedAnswer != changed) { "stacking a second adapter did not change the answer" }
            try {
                stacked.setAdapters(listOf(AttachedAdapter(second, 1.0f), AttachedAdapter(second, 0.5f)))
                throw TestFailure("an adapter listed twice was accepted")
            } catch (e: TrellisException.InvalidOptions) {
                check(stacked.attachedAdapters().size == 2) { "attachment changed after an error" }
            }
        } finally {
            java.io.File(secondPath).delete()
        }
        val detached = Session(model, null, greedy(24))
        detached.setAdapter(adapter, 1.0f)
        detached.clearAdapter()
        check(detached.attachedAdapter() == null) { "still attached" }
        check(detached.respond(prompt).content == base) { "detached session differs from the base" }
    } finally {
        java.io.File(path).delete()
    }
}

suspend fun errorsAreTypedExceptions() {
    try {
        Model.load("/nonexistent/trellis/model.gguf", null)
        throw TestFailure("no error for a missing model")
    } catch (e: TrellisException.ModelNotFound) {
        check(e.path == "/nonexistent/trellis/model.gguf") { "path ${e.path}" }
    }
    try {
        Adapter.load(model, model.path())
        throw TestFailure("a model file loaded as an adapter")
    } catch (e: TrellisException.Adapter) {
        check(e.path == model.path()) { "path ${e.path}" }
    }
    try {
        Session(model, "x", null).respondJson("x", "{not json")
        throw TestFailure("no error for a bad schema")
    } catch (e: TrellisException.Schema) {
        check(e.message?.contains("schema") == true) { "message ${e.message}" }
    }
}

// ---- runner ---------------------------------------------------------------------------------

val TESTS: List<Pair<String, suspend () -> Unit>> = listOf(
    "respond plain text" to ::respondPlain,
    "respond with a JSON Schema" to ::respondWithSchema,
    "Flow matches respond" to ::flowMatchesRespond,
    "cancelling the collector stops generation" to ::cancellingTheCollectorStopsGeneration,
    "the model calls a Kotlin tool" to ::modelCallsAKotlinTool,
    "a failing Kotlin tool is TrellisException.ToolCall" to ::failingKotlinToolIsAToolCallError,
    "adapter load and attach" to ::adapterLoadsAndChangesTheAnswer,
    "errors are typed exceptions" to ::errorsAreTypedExceptions,
)

fun main() {
    // Fails loudly (and first) when the bindings do not match the library's API checksums.
    uniffiEnsureInitialized()
    check(Json.parse("""{"a":[1,2.5,"x\n",true,null]}""") ==
        mapOf("a" to listOf(1L, 2.5, "x\n", true, null))) { "Json.parse" }
    var passed = 0
    var failed = 0
    runBlocking {
        for ((name, test) in TESTS) {
            val start = System.nanoTime()
            try {
                test()
                passed++
                println("ok   $name (${(System.nanoTime() - start) / 1_000_000} ms)")
            } catch (e: CancellationException) {
                failed++
                println("FAIL $name: cancelled: $e")
            } catch (e: Throwable) {
                failed++
                println("FAIL $name: $e")
            }
        }
    }
    println("kotlin tests: $passed passed, $failed failed")
    model.close()
    exitProcess(if (failed == 0) 0 else 1)
}
