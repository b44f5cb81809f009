//! Tool-calling evaluation on the bundled model: 42 cases (tool choice and arguments, single
//! and parallel calls, no tool needed), each decoded once with the step grammar and once
//! freely from the same prompt. Results go to stdout as a Markdown table (see
//! `docs/tool-eval.md`).
//!
//! ```sh
//! OMP_WAIT_POLICY=PASSIVE cargo bench -p trellis --bench tool_eval
//! ```

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use trellis::{
    DynamicTool, ErasedTool, GenerationOptions, GenerationSchema, Model, ModelOptions, Sampling,
    Session,
};

const INSTRUCTIONS: &str = "You answer questions and use tools when they help.\n\n\
Q: What is 2 plus 3?\n\
A: {\"tool_calls\":[{\"name\":\"calculator\",\"arguments\":{\"a\":2,\"operation\":\"add\",\"b\":3}}]}\n\n\
Q: Tool results:\ncalculator: 5\n\
A: {\"answer\":\"5\"}";

/// `TOOL_EVAL_PROMPT=rich`: two more worked examples (a lookup call and a direct answer).
const RICH_EXAMPLES: &str = "\n\n\
Q: What is the capital of Norway?\n\
A: {\"tool_calls\":[{\"name\":\"capital\",\"arguments\":{\"country\":\"Norway\"}}]}\n\n\
Q: Tool results:\ncapital: Oslo\n\
A: {\"answer\":\"Oslo\"}\n\n\
Q: Say thanks.\n\
A: {\"answer\":\"Thank you!\"}";

fn tool(name: &str, description: &str, schema: Value) -> Arc<dyn ErasedTool> {
    Arc::new(DynamicTool::new(
        name,
        description,
        GenerationSchema::from_json(schema).expect("schema"),
        |_| async { Ok(Value::Null) },
    ))
}

fn tools() -> Vec<Arc<dyn ErasedTool>> {
    vec![
        tool(
            "calculator",
            "Computes a op b.",
            json!({"type": "object", "properties": {
                "a": {"type": "number"},
                "operation": {"enum": ["add", "subtract", "multiply", "divide"]},
                "b": {"type": "number"}},
                "required": ["a", "operation", "b"], "additionalProperties": false}),
        ),
        tool(
            "capital",
            "Looks up the capital city of a country.",
            json!({"type": "object", "properties": {"country": {"type": "string", "maxLength": 40}},
                   "required": ["country"], "additionalProperties": false}),
        ),
        tool(
            "weather",
            "Current weather in a city.",
            json!({"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}},
                   "required": ["city"], "additionalProperties": false}),
        ),
    ]
}

fn calc(a: f64, op: &str, b: f64) -> Value {
    json!({"name": "calculator", "arguments": {"a": a, "operation": op, "b": b}})
}
fn capital(c: &str) -> Value {
    json!({"name": "capital", "arguments": {"country": c}})
}
fn weather(c: &str) -> Value {
    json!({"name": "weather", "arguments": {"city": c}})
}

/// (category, prompt, expected calls; empty = answer without tools)
fn cases() -> Vec<(&'static str, &'static str, Vec<Value>)> {
    vec![
        ("single", "What is 7 plus 5?", vec![calc(7.0, "add", 5.0)]),
        (
            "single",
            "What is 12 times 4?",
            vec![calc(12.0, "multiply", 4.0)],
        ),
        (
            "single",
            "What is 100 divided by 8?",
            vec![calc(100.0, "divide", 8.0)],
        ),
        (
            "single",
            "What is 45 minus 17?",
            vec![calc(45.0, "subtract", 17.0)],
        ),
        (
            "single",
            "Compute 3.5 times 2.",
            vec![calc(3.5, "multiply", 2.0)],
        ),
        (
            "single",
            "How much is 250 plus 125?",
            vec![calc(250.0, "add", 125.0)],
        ),
        (
            "single",
            "What is 81 divided by 9?",
            vec![calc(81.0, "divide", 9.0)],
        ),
        (
            "single",
            "Subtract 30 from 90.",
            vec![calc(90.0, "subtract", 30.0)],
        ),
        (
            "single",
            "What is 6 multiplied by 7?",
            vec![calc(6.0, "multiply", 7.0)],
        ),
        ("single", "Add 19 and 23.", vec![calc(19.0, "add", 23.0)]),
        (
            "single",
            "What is 1000 minus 1?",
            vec![calc(1000.0, "subtract", 1.0)],
        ),
        (
            "single",
            "What is 14 times 14?",
            vec![calc(14.0, "multiply", 14.0)],
        ),
        (
            "single",
            "What is the capital of Italy?",
            vec![capital("Italy")],
        ),
        (
            "single",
            "What is the capital of France?",
            vec![capital("France")],
        ),
        (
            "single",
            "Which city is the capital of Japan?",
            vec![capital("Japan")],
        ),
        (
            "single",
            "Tell me the capital of Kenya.",
            vec![capital("Kenya")],
        ),
        (
            "single",
            "What is the capital city of Peru?",
            vec![capital("Peru")],
        ),
        (
            "single",
            "Name the capital of Canada.",
            vec![capital("Canada")],
        ),
        (
            "single",
            "What's the capital of Germany?",
            vec![capital("Germany")],
        ),
        ("single", "Capital of Brazil?", vec![capital("Brazil")]),
        (
            "single",
            "What's the weather in Berlin?",
            vec![weather("Berlin")],
        ),
        (
            "single",
            "How is the weather in Tokyo today?",
            vec![weather("Tokyo")],
        ),
        (
            "single",
            "Is it raining in London?",
            vec![weather("London")],
        ),
        (
            "single",
            "What is the weather like in Madrid?",
            vec![weather("Madrid")],
        ),
        (
            "single",
            "Weather in Sydney, please.",
            vec![weather("Sydney")],
        ),
        (
            "single",
            "Tell me the current weather in Cairo.",
            vec![weather("Cairo")],
        ),
        (
            "single",
            "How warm is it in Rome right now?",
            vec![weather("Rome")],
        ),
        (
            "single",
            "What's the weather in Oslo?",
            vec![weather("Oslo")],
        ),
        (
            "parallel",
            "What are the capitals of Spain and Egypt?",
            vec![capital("Spain"), capital("Egypt")],
        ),
        (
            "parallel",
            "What is the weather in Paris and in Lima?",
            vec![weather("Paris"), weather("Lima")],
        ),
        (
            "parallel",
            "What is 2 plus 2, and what is 3 times 3?",
            vec![calc(2.0, "add", 2.0), calc(3.0, "multiply", 3.0)],
        ),
        (
            "parallel",
            "What is the capital of Chile and the weather in Dublin?",
            vec![capital("Chile"), weather("Dublin")],
        ),
        (
            "parallel",
            "Give me the capitals of India and China.",
            vec![capital("India"), capital("China")],
        ),
        (
            "parallel",
            "What's the weather in Boston and in Denver?",
            vec![weather("Boston"), weather("Denver")],
        ),
        ("no tool", "Say hello.", vec![]),
        ("no tool", "Write a short poem about the sea.", vec![]),
        ("no tool", "Translate 'thank you' into French.", vec![]),
        ("no tool", "What colour is the sky on a clear day?", vec![]),
        ("no tool", "Tell me a joke about cats.", vec![]),
        ("no tool", "Spell the word 'apple' backwards.", vec![]),
        ("no tool", "What is your favourite colour?", vec![]),
        ("no tool", "Give me a synonym for 'happy'.", vec![]),
    ]
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

#[derive(Default, Clone, Copy)]
struct Score {
    n: usize,
    truncated: usize,
    valid: usize,
    right_tool: usize,
    exact: usize,
}

fn first_json(text: &str) -> Option<Value> {
    serde_json::Deserializer::from_str(text.trim_start())
        .into_iter::<Value>()
        .next()?
        .ok()
}

fn main() {
    let model = Model::bundled_with(ModelOptions {
        context_size: 2048,
        threads: 2,
        ..Default::default()
    })
    .expect("bundled model (run `bash scripts/install-model.sh`)");
    let rich = std::env::var("TOOL_EVAL_PROMPT").is_ok_and(|v| v == "rich");
    println!(
        "prompt: {}",
        if rich {
            "rich (3 examples)"
        } else {
            "one example"
        }
    );
    let tools = tools();
    let step = trellis::tools::step_schema(&tools, Some(&GenerationSchema::of::<String>()), 4);
    let validator = jsonschema::validator_for(&step).expect("step schema");
    let session = Session::new(&model)
        .instructions(if rich {
            format!("{INSTRUCTIONS}{RICH_EXAMPLES}")
        } else {
            INSTRUCTIONS.to_owned()
        })
        .options(GenerationOptions {
            sampling: Sampling::Greedy,
            max_tokens: 96,
        })
        .tools(tools.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let mut scores = [[Score::default(); 4]; 2]; // [mode][all, single, parallel, no tool]
    let cases = cases();
    for (category, prompt, expected) in &cases {
        let cat = match *category {
            "single" => 1,
            "parallel" => 2,
            _ => 3,
        };
        for (mode, constrained) in [(0, true), (1, false)] {
            let text = rt
                .block_on(session.tool_step_raw(prompt, constrained, 96))
                .unwrap_or_else(|e| format!("<error: {e}>"));
            let parsed = first_json(&text);
            let valid = parsed.as_ref().is_some_and(|v| validator.is_valid(v));
            // Under the grammar, an output that does not parse can only be a valid prefix
            // cut off at max_tokens (e.g. a number whose digits never end).
            let truncated = parsed.is_none() && constrained;
            let calls: Vec<Value> = parsed
                .as_ref()
                .and_then(|v| v.get("tool_calls"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let answered = parsed.as_ref().is_some_and(|v| v.get("answer").is_some());
            let mut names: Vec<&str> = calls.iter().filter_map(|c| c["name"].as_str()).collect();
            let mut want: Vec<&str> = expected.iter().filter_map(|c| c["name"].as_str()).collect();
            names.sort_unstable();
            want.sort_unstable();
            let right_tool = if expected.is_empty() {
                answered && calls.is_empty()
            } else {
                names == want
            };
            let exact = right_tool
                && calls.len() == expected.len()
                && expected
                    .iter()
                    .all(|e| calls.iter().any(|c| same_value(c, e)));
            for c in [0, cat] {
                let s = &mut scores[mode][c];
                s.n += 1;
                s.valid += usize::from(valid);
                s.truncated += usize::from(truncated);
                s.right_tool += usize::from(right_tool);
                s.exact += usize::from(exact);
            }
            eprintln!(
                "[{}] {prompt} -> {} (valid {valid}, tool {right_tool}, args {exact})",
                if constrained { "constrained" } else { "free" },
                text.replace('\n', "\\n")
            );
        }
    }
    println!(
        "{} cases, {} steps, {:.0} s\n",
        cases.len(),
        cases.len() * 2,
        started.elapsed().as_secs_f64()
    );
    println!("| decoding | cases | valid output | cut off at max_tokens | right tool(s) | exact arguments |");
    println!("|---|---|---|---|---|---|");
    let names = ["all", "single call", "parallel calls", "no tool needed"];
    for (mode, label) in [(0, "constrained"), (1, "unconstrained")] {
        for (c, name) in names.iter().enumerate() {
            let s = scores[mode][c];
            let pct = |x: usize| 100.0 * x as f64 / s.n.max(1) as f64;
            println!(
                "| {label}, {name} | {} | {}/{} ({:.0}%) | {} | {}/{} ({:.0}%) | {}/{} ({:.0}%) |",
                s.n,
                s.valid,
                s.n,
                pct(s.valid),
                s.truncated,
                s.right_tool,
                s.n,
                pct(s.right_tool),
                s.exact,
                s.n,
                pct(s.exact)
            );
        }
    }
}
