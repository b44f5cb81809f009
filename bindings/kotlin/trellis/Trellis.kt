// Idiomatic Kotlin layer over the generated Trellis bindings (package uniffi.trellis_ffi).
//
// The generated API is already made of suspend functions; this file adds:
//  - Session.streamFlow(prompt): a cold Flow<String> of text pieces; cancelling the collecting
//    coroutine (or stopping early, e.g. take(n)) stops generation and frees the session;
//  - Session.respondJson(prompt, schema): the answer decoded into maps/lists/strings/numbers;
//  - tool(name, description, parametersJson) { args -> ... }: a Tool from a suspend lambda;
//  - Json: a small JSON reader/writer (no kotlinx-serialization needed).
package trellis

import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.withContext
import uniffi.trellis_ffi.Session
import uniffi.trellis_ffi.Tool

/**
 * Streams the answer to [prompt] piece by piece. Generation starts when the flow is
 * collected; when the collector stops early or its coroutine is cancelled, generation stops
 * and the session is free for the next request once the flow has completed.
 */
fun Session.streamFlow(prompt: String): Flow<String> = flow {
    val stream = stream(prompt)
    try {
        while (true) {
            val delta = stream.next() ?: break
            emit(delta)
        }
    } finally {
        withContext(NonCancellable) {
            stream.cancel()
            stream.close()
        }
    }
}

/**
 * Answers [prompt] with JSON valid for [schemaJson] (grammar-constrained) and decodes it with
 * [Json.parse]: a `Map<String, Any?>` for an object schema.
 */
suspend fun Session.respondValue(prompt: String, schemaJson: String): Any? =
    Json.parse(respondJson(prompt, schemaJson).content)

/**
 * A [Tool] whose [call] decodes the JSON arguments into a map and runs [handler]. A `String`
 * result is passed to the model as text, anything else is encoded with [Json.write].
 * An exception thrown by [handler] fails the response with `TrellisException.ToolCall`.
 */
fun tool(
    name: String,
    description: String,
    parametersJson: String,
    handler: suspend (arguments: Map<String, Any?>) -> Any?,
): Tool = LambdaTool(name, description, parametersJson, handler)

private class LambdaTool(
    private val name: String,
    private val description: String,
    private val parametersJson: String,
    private val handler: suspend (Map<String, Any?>) -> Any?,
) : Tool {
    override fun name() = name
    override fun description() = description
    override fun parametersJson() = parametersJson
    override suspend fun call(argumentsJson: String): String {
        @Suppress("UNCHECKED_CAST")
        val arguments = Json.parse(argumentsJson) as? Map<String, Any?>
            ?: throw IllegalArgumentException("tool arguments are not a JSON object: $argumentsJson")
        return when (val out = handler(arguments)) {
            is String -> out
            else -> Json.write(out)
        }
    }
}

/**
 * Minimal JSON: objects become `LinkedHashMap<String, Any?>`, arrays `List<Any?>`, numbers
 * `Long` (integers) or `Double`, plus `String`, `Boolean` and `null`.
 */
object Json {
    /** Parses one JSON document; throws [IllegalArgumentException] on malformed input. */
    fun parse(text: String): Any? {
        val p = Parser(text)
        val value = p.value()
        p.ws()
        require(p.i == text.length) { "trailing characters at ${p.i}" }
        return value
    }

    /** Encodes maps, lists, strings, numbers, booleans and null. */
    fun write(value: Any?): String = StringBuilder().also { write(value, it) }.toString()

    private fun write(v: Any?, out: StringBuilder) {
        when (v) {
            null -> out.append("null")
            is String -> {
                out.append('"')
                for (c in v) when {
                    c == '"' -> out.append("\\\"")
                    c == '\\' -> out.append("\\\\")
                    c == '\n' -> out.append("\\n")
                    c < ' ' -> out.append("\\u%04x".format(c.code))
                    else -> out.append(c)
                }
                out.append('"')
            }
            is Boolean, is Int, is Long, is Short, is Byte -> out.append(v.toString())
            is Number -> out.append(v.toDouble().let { if (it.isFinite()) it.toString() else "null" })
            is Map<*, *> -> {
                out.append('{')
                v.entries.forEachIndexed { i, (k, x) ->
                    if (i > 0) out.append(',')
                    write(k.toString(), out)
                    out.append(':')
                    write(x, out)
                }
                out.append('}')
            }
            is Iterable<*> -> {
                out.append('[')
                v.forEachIndexed { i, x ->
                    if (i > 0) out.append(',')
                    write(x, out)
                }
                out.append(']')
            }
            else -> write(v.toString(), out)
        }
    }

    private class Parser(val s: String) {
        var i = 0

        fun ws() {
            while (i < s.length && s[i] in " \t\r\n") i++
        }

        fun value(): Any? {
            ws()
            require(i < s.length) { "unexpected end of JSON" }
            return when (s[i]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> str()
                't' -> lit("true", true)
                'f' -> lit("false", false)
                'n' -> lit("null", null)
                else -> num()
            }
        }

        private fun lit(word: String, v: Any?): Any? {
            require(s.startsWith(word, i)) { "bad literal at $i" }
            i += word.length
            return v
        }

        private fun obj(): Map<String, Any?> {
            val m = LinkedHashMap<String, Any?>()
            i++
            ws()
            if (i < s.length && s[i] == '}') { i++; return m }
            while (true) {
                ws()
                require(i < s.length && s[i] == '"') { "expected a key at $i" }
                val k = str()
                ws()
                require(i < s.length && s[i] == ':') { "expected ':' at $i" }
                i++
                m[k] = value()
                ws()
                require(i < s.length) { "unexpected end of JSON" }
                when (s[i++]) {
                    ',' -> continue
                    '}' -> return m
                    else -> throw IllegalArgumentException("expected ',' or '}' at ${i - 1}")
                }
            }
        }

        private fun arr(): List<Any?> {
            val l = ArrayList<Any?>()
            i++
            ws()
            if (i < s.length && s[i] == ']') { i++; return l }
            while (true) {
                l.add(value())
                ws()
                require(i < s.length) { "unexpected end of JSON" }
                when (s[i++]) {
                    ',' -> continue
                    ']' -> return l
                    else -> throw IllegalArgumentException("expected ',' or ']' at ${i - 1}")
                }
            }
        }

        private fun str(): String {
            val b = StringBuilder()
            i++
            while (true) {
                require(i < s.length) { "unterminated string" }
                val c = s[i++]
                when (c) {
                    '"' -> return b.toString()
                    '\\' -> {
                        require(i < s.length) { "unterminated escape" }
                        when (val e = s[i++]) {
                            'n' -> b.append('\n'); 't' -> b.append('\t'); 'r' -> b.append('\r')
                            'b' -> b.append('\b'); 'f' -> b.append('\u000c')
                            'u' -> {
                                require(i + 4 <= s.length) { "bad \\u escape" }
                                b.append(s.substring(i, i + 4).toInt(16).toChar())
                                i += 4
                            }
                            else -> b.append(e)
                        }
                    }
                    else -> b.append(c)
                }
            }
        }

        private fun num(): Any {
            val start = i
            while (i < s.length && s[i] in "+-0123456789.eE") i++
            val t = s.substring(start, i)
            require(t.isNotEmpty()) { "unexpected character at $start" }
            return t.toLongOrNull() ?: t.toDouble()
        }
    }
}
