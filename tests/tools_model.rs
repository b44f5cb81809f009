//! Tool calling on the real bundled model (llama.cpp, Gemma 3 270M base).
//!
//! Run with `OMP_WAIT_POLICY=PASSIVE cargo test -p trellis --test tools_model -- --test-threads=1`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use trellis::{
    run_tool_calls, DynamicTool, Entry, ErasedTool, Error, Generable, GenerationOptions,
    GenerationSchema, Model, ModelOptions, Sampling, Session, Tool, ToolCall, ToolChoice,
    ToolErrorPolicy, ToolOptions, Transcript,
};

fn model() -> Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Model::bundled_with(ModelOptions {
                context_size: 2048,
                threads: 2,
                ..Default::default()
            })
            .expect("bundled model (run `bash scripts/install-model.sh`)")
        })
        .clone()
}

const FEW_SHOT: &str = "You answer questions and use tools when they help.\n\n\
Q: What is 2 plus 3?\n\
A: {\"tool_calls\":[{\"name\":\"calculator\",\"arguments\":{\"a\":2,\"operation\":\"add\",\"b\":3}}]}\n\n\
Q: Tool results:\ncalculator: 5\n\
A: {\"answer\":\"5\"}";

#[derive(Debug, Generable)]
#[serde(rename_all = "snake_case")]
enum Operation {
    Add,
    Subtract,
    Multiply,
    Divide,
}

#[derive(Debug, Generable)]
struct CalcArgs {
    a: f64,
    operation: Operation,
    b: f64,
}

#[derive(Default)]
struct Calculator {
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl Tool for Calculator {
    type Arguments = CalcArgs;
    type Output = f64;
    type Error = String;
    fn name(&self) -> &str {
        "calculator"
    }
    fn description(&self) -> &str {
        "Computes a op b."
    }
    async fn call(&self, x: CalcArgs) -> Result<f64, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(match x.operation {
            Operation::Add => x.a + x.b,
            Operation::Subtract => x.a - x.b,
            Operation::Multiply => x.a * x.b,
            Operation::Divide => x.a / x.b,
        })
    }
}

fn capital_schema() -> GenerationSchema {
    GenerationSchema::from_json(json!({
        "type": "object",
        "properties": {"country": {"type": "string", "maxLength": 40}},
        "required": ["country"],
        "additionalProperties": false
    }))
    .unwrap()
}

fn capital_tool() -> DynamicTool {
    DynamicTool::new(
        "capital",
        "Looks up the capital city of a country.",
        capital_schema(),
        |args| async move {
            let c = args.get("country").and_then(|c| c.as_str()).unwrap_or("");
            Ok(Value::String(match c.to_lowercase().as_str() {
                "france" => "Paris".into(),
                "japan" => "Tokyo".into(),
                other => format!("unknown country {other}"),
            }))
        },
    )
}

fn options(max_tokens: u32, seed: Option<u64>) -> GenerationOptions {
    GenerationOptions {
        sampling: seed.map_or(Sampling::Greedy, Sampling::random),
        max_tokens,
    }
}

fn session(tool_options: ToolOptions, gen: GenerationOptions) -> Session {
    Session::new(&model())
        .instructions(FEW_SHOT)
        .options(gen)
        .tool(Calculator::default())
        .tool(capital_tool())
        .tool_options(tool_options)
}

/// Checks a call against the registered tools' schemas with an independent validator.
fn assert_valid_call(call: &ToolCall) {
    let schema = match call.name.as_str() {
        "calculator" => GenerationSchema::of::<CalcArgs>(),
        "capital" => capital_schema(),
        other => panic!("call names an unregistered tool {other:?}"),
    };
    let validator = jsonschema::validator_for(schema.as_json()).unwrap();
    assert!(
        validator.is_valid(&call.arguments),
        "{} arguments {} do not follow {}",
        call.name,
        call.arguments,
        schema.as_json()
    );
}

const PROMPTS: &[&str] = &[
    "What is 12 times 4?",
    "What is the capital of France?",
    "What is 100 divided by 8?",
    "Which city is the capital of Japan?",
    "Tell me a fun fact about cats.",
];

#[tokio::test]
async fn every_step_is_a_valid_call_or_answer_over_prompts_and_seeds() {
    let mut calls_seen = 0;
    for seed in [None, Some(1), Some(2)] {
        let s = session(ToolOptions::default(), options(64, seed));
        for prompt in PROMPTS {
            let text = s.tool_step_raw(prompt, true, 64).await.unwrap();
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => {
                    if let Some(calls) = v.get("tool_calls") {
                        let calls: Vec<ToolCall> = serde_json::from_value(calls.clone()).unwrap();
                        assert!(!calls.is_empty());
                        calls.iter().for_each(assert_valid_call);
                        calls_seen += calls.len();
                    } else {
                        assert!(v["answer"].is_string(), "{text}");
                        assert_eq!(v.as_object().unwrap().len(), 1, "{text}");
                    }
                }
                // Only an answer string can be long enough to hit max_tokens.
                Err(_) => assert!(text.starts_with("{\"answer\":\""), "{text}"),
            }
        }
    }
    eprintln!("tool calls among the free steps: {calls_seen}");
}

#[tokio::test]
async fn required_calls_are_valid_and_run() {
    let tool_options = ToolOptions {
        tool_choice: ToolChoice::Required,
        max_rounds: 1,
        on_error: ToolErrorPolicy::ReportToModel,
        ..Default::default()
    };
    for (i, prompt) in PROMPTS.iter().enumerate() {
        let seed = (i % 2 == 1).then_some(i as u64);
        let s = session(tool_options, options(160, seed));
        // The answer after the tool round may run into max_tokens or call again: the calls
        // of the first round are what is checked here.
        let _ = s.respond(*prompt).await;
        let t = s.transcript();
        let calls: Vec<&ToolCall> = t
            .entries()
            .iter()
            .filter_map(|e| match e {
                Entry::ToolCalls { calls } => Some(calls),
                _ => None,
            })
            .flatten()
            .collect();
        assert!(!calls.is_empty(), "{prompt}: {t:?}");
        calls.iter().for_each(|c| assert_valid_call(c));
        let outputs = t
            .entries()
            .iter()
            .filter(|e| matches!(e, Entry::ToolOutput { .. }))
            .count();
        // Every call of the first round got its output, in the transcript, right after it.
        let first = t
            .entries()
            .iter()
            .position(|e| matches!(e, Entry::ToolCalls { .. }))
            .unwrap();
        let Entry::ToolCalls { calls: round } = &t.entries()[first] else {
            unreachable!()
        };
        assert!(outputs >= round.len());
        for (k, call) in round.iter().enumerate() {
            assert!(
                matches!(&t.entries()[first + 1 + k], Entry::ToolOutput { tool, .. } if *tool == call.name)
            );
        }
    }
}

/// Two tools that can only finish when both run at the same time.
struct Rendezvous {
    name: &'static str,
    barrier: Arc<tokio::sync::Barrier>,
}

#[derive(Debug, Generable)]
struct Empty {
    note: String,
}

#[async_trait::async_trait]
impl Tool for Rendezvous {
    type Arguments = Empty;
    type Output = String;
    type Error = String;
    fn name(&self) -> &str {
        self.name
    }
    fn description(&self) -> &str {
        "Meets the other tool."
    }
    async fn call(&self, args: Empty) -> Result<String, String> {
        self.barrier.wait().await;
        Ok(format!("{} met {}", self.name, args.note))
    }
}

#[tokio::test]
async fn parallel_calls_run_concurrently() {
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let tools: Vec<Arc<dyn ErasedTool>> = vec![
        Arc::new(Rendezvous {
            name: "left",
            barrier: barrier.clone(),
        }),
        Arc::new(Rendezvous {
            name: "right",
            barrier,
        }),
    ];
    let calls = vec![
        ToolCall {
            name: "right".into(),
            arguments: json!({"note": "r"}),
        },
        ToolCall {
            name: "left".into(),
            arguments: json!({"note": "l"}),
        },
    ];
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        run_tool_calls(&tools, &calls, ToolErrorPolicy::Fail),
    )
    .await
    .expect("the calls ran one after the other (deadlock on the barrier)")
    .unwrap();
    assert_eq!(
        out,
        vec![
            Entry::ToolOutput {
                tool: "right".into(),
                output: json!("right met r")
            },
            Entry::ToolOutput {
                tool: "left".into(),
                output: json!("left met l")
            },
        ]
    );
}

#[tokio::test]
async fn model_multi_call_prompt_gives_valid_calls() {
    let s = Session::new(&model())
        .instructions(format!(
            "{FEW_SHOT}\n\nQ: What are the capitals of Kenya and Peru?\n\
             A: {{\"tool_calls\":[{{\"name\":\"capital\",\"arguments\":{{\"country\":\"Kenya\"}}}},{{\"name\":\"capital\",\"arguments\":{{\"country\":\"Peru\"}}}}]}}"
        ))
        .options(options(96, None))
        .tool(Calculator::default())
        .tool(capital_tool());
    let text = s
        .tool_step_raw("What are the capitals of France and Japan?", true, 96)
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let calls: Vec<ToolCall> = serde_json::from_value(v["tool_calls"].clone()).unwrap();
    calls.iter().for_each(assert_valid_call);
    eprintln!("multi-call step: {text}");
}

#[tokio::test]
async fn max_rounds_gives_typed_error() {
    let s = session(
        ToolOptions {
            tool_choice: ToolChoice::Required,
            max_rounds: 0,
            ..Default::default()
        },
        options(48, None),
    );
    let err = s.respond("What is 3 plus 4?").await.unwrap_err();
    assert!(
        matches!(err, Error::ToolRoundsExceeded { rounds: 0 }),
        "{err}"
    );
}

struct Broken;

#[async_trait::async_trait]
impl Tool for Broken {
    type Arguments = CalcArgs;
    type Output = f64;
    type Error = std::io::Error;
    fn name(&self) -> &str {
        "calculator"
    }
    fn description(&self) -> &str {
        "Computes a op b."
    }
    async fn call(&self, _: CalcArgs) -> Result<f64, std::io::Error> {
        Err(std::io::Error::other("the calculator is broken"))
    }
}

#[tokio::test]
async fn failing_tool_gives_typed_error_or_reports_to_model() {
    let make = |on_error| {
        Session::new(&model())
            .instructions(FEW_SHOT)
            .options(options(48, None))
            .tool(Broken)
            .tool_options(ToolOptions {
                tool_choice: ToolChoice::Required,
                max_rounds: 1,
                on_error,
                ..Default::default()
            })
    };
    let err = make(ToolErrorPolicy::Fail)
        .respond("What is 6 times 7?")
        .await
        .unwrap_err();
    match &err {
        Error::ToolCall { tool, source } => {
            assert_eq!(tool, "calculator");
            assert_eq!(source.to_string(), "the calculator is broken");
        }
        other => panic!("expected Error::ToolCall, got {other}"),
    }
    let s = make(ToolErrorPolicy::ReportToModel);
    let _ = s.respond("What is 6 times 7?").await;
    assert!(
        s.transcript().entries().iter().any(|e| matches!(e,
            Entry::ToolOutput { tool, output } if tool == "calculator"
                && *output == json!("Error: the calculator is broken"))),
        "{:?}",
        s.transcript()
    );
}

#[tokio::test]
async fn transcript_round_trips_mid_conversation_and_reuses_the_cache() {
    let tool_options = ToolOptions {
        tool_choice: ToolChoice::Required,
        max_rounds: 2,
        on_error: ToolErrorPolicy::ReportToModel,
        ..Default::default()
    };
    let s = session(tool_options, options(48, None));
    let _ = s.respond("What is 9 times 9?").await;
    let saved = s.transcript();
    assert!(saved
        .entries()
        .iter()
        .any(|e| matches!(e, Entry::ToolCalls { .. })));
    assert!(saved
        .entries()
        .iter()
        .any(|e| matches!(e, Entry::ToolOutput { .. })));
    assert!(saved.tool_definitions().is_some());

    let json = serde_json::to_string(&saved).unwrap();
    let restored: Transcript = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, saved);

    // The same session continues with its KV cache: one step on the next question
    // re-renders the transcript, and everything up to the last answer is reused.
    let next = "What is the capital of Japan?";
    let _ = s.tool_step_raw(next, true, 16).await.unwrap();
    let usage = s.last_usage().unwrap();
    let mut upto_last_response = saved.entries().to_vec();
    while !matches!(
        upto_last_response.last(),
        Some(Entry::ToolOutput { .. }) | None
    ) {
        upto_last_response.pop();
    }
    let prefix = model()
        .prompt_tokens(&Transcript::from(upto_last_response), "")
        .unwrap()
        .len();
    assert!(
        usage.cached_tokens + 8 >= prefix,
        "cached {} of {} tokens, prefix up to the last tool output is {prefix}",
        usage.cached_tokens,
        usage.prompt_tokens
    );

    // A new session from the saved transcript (tools registered again) continues it.
    let resumed = Session::from_transcript(&model(), restored)
        .options(options(48, None))
        .tool(Calculator::default())
        .tool(capital_tool())
        .tool_options(tool_options);
    assert_eq!(
        resumed.transcript(),
        saved,
        "re-registering tools changes nothing"
    );
    let _ = resumed.respond(next).await;
    let after = resumed.transcript();
    assert_eq!(&after.entries()[..saved.len()], saved.entries());
    assert!(matches!(&after.entries()[saved.len()], Entry::Prompt { text } if text == next));
    assert!(matches!(
        &after.entries()[saved.len() + 1],
        Entry::ToolCalls { .. }
    ));
}

#[tokio::test]
async fn streaming_reports_calls_outputs_and_answer_text() {
    use futures::StreamExt;
    use trellis::ToolEvent;

    let s = session(
        ToolOptions {
            tool_choice: ToolChoice::Required,
            max_rounds: 2,
            ..Default::default()
        },
        options(64, None),
    );
    let mut stream = s.stream_with_tools("What is 17 multiplied by 23?");
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.expect("stream error"));
    }
    eprintln!("events: {events:?}");
    // Required: the first event is a call; every call is followed by its output.
    let Some(ToolEvent::Call(first)) = events.first() else {
        panic!("first event is not a call: {events:?}");
    };
    assert_valid_call(first);
    let calls: Vec<&ToolCall> = events
        .iter()
        .filter_map(|e| match e {
            ToolEvent::Call(c) => Some(c),
            _ => None,
        })
        .collect();
    let outputs: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            ToolEvent::Output { tool, .. } => Some(tool),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls.iter().map(|c| &c.name).collect::<Vec<_>>(),
        outputs,
        "one output per call, in call order"
    );
    // The deltas come last and make up the answer, which the transcript records.
    let first_delta = events
        .iter()
        .position(|e| matches!(e, ToolEvent::Delta(_)))
        .expect("no answer text");
    assert!(events[first_delta..]
        .iter()
        .all(|e| matches!(e, ToolEvent::Delta(_))));
    let text: String = events[first_delta..]
        .iter()
        .map(|e| match e {
            ToolEvent::Delta(d) => d.as_str(),
            _ => "",
        })
        .collect();
    let response = stream.response().expect("final response");
    assert_eq!(response.content, text);
    assert!(
        matches!(s.transcript().entries().last(), Some(Entry::Response { text: t }) if *t == text)
    );
}

/// A typed answer after a tool round.
#[derive(Debug, Generable)]
struct Capital {
    #[guide(length = 1..=30)]
    city: String,
}

/// `respond_as::<T>` on a session with tools goes through the tool loop: the model must call
/// a tool first (tool choice `Required`). The bundled base model tends to keep calling
/// tools, so the outcome is either a typed answer that decodes into `T` or the typed
/// rounds-exceeded error; either way every call made was valid.
#[tokio::test]
async fn respond_as_with_tools_calls_then_answers_typed() {
    let tool_options = ToolOptions {
        tool_choice: ToolChoice::Required,
        max_rounds: 2,
        on_error: ToolErrorPolicy::ReportToModel,
        ..Default::default()
    };
    let s = session(tool_options, options(200, None));
    match s
        .respond_as::<Capital>("What is the capital of Japan?")
        .await
    {
        Ok(answer) => assert!((1..=30).contains(&answer.content.city.chars().count())),
        Err(Error::ToolRoundsExceeded { rounds }) => assert_eq!(rounds, 2),
        Err(e) => panic!("unexpected error: {e}"),
    }
    let t = s.transcript();
    let calls: Vec<&ToolCall> = t
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::ToolCalls { calls } => Some(calls),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        !calls.is_empty(),
        "no tool call before the typed answer: {t:?}"
    );
    calls.iter().for_each(|c| assert_valid_call(c));
}
