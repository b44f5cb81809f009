//! Tool calling: the model asks for calls to functions of the app, the session runs them and
//! gives the results back, until the model answers.
//!
//! A tool is a type implementing [`Tool`] (typed arguments, any [`Generable`] type; any
//! `serde::Serialize` output) or a [`DynamicTool`] (schema, arguments and output as JSON at
//! run time, for tools written in other languages). Sessions hold them type-erased as
//! [`ErasedTool`]s: register them with [`Session::tool`] / [`Session::tools`].
//!
//! # How a turn with tools runs
//! Every step of the turn is decoded under one JSON Schema (grammar-constrained, so every
//! call names a registered tool and has schema-valid arguments):
//!
//! ```text
//! anyOf:
//!   {"tool_calls": [ anyOf( {"name": const "<tool>", "arguments": <tool's schema>} ... ) ]}
//!   {"answer": <string for `respond`, T's schema for `respond_as_with_tools::<T>`>}
//! ```
//!
//! When the model writes `tool_calls`, the calls run concurrently (outputs kept in call
//! order), the transcript gets an [`Entry::ToolCalls`] and one [`Entry::ToolOutput`] per
//! call, and the model is asked again; when it writes `answer`, that is the response. At most
//! [`ToolOptions::max_rounds`] rounds of calls are run ([`Error::ToolRoundsExceeded`]).
//! [`Session::stream_with_tools`] reports the same loop as [`ToolEvent`]s: each call, each
//! output, then the answer's text in pieces. With tools registered, [`Session::respond`]
//! starts its request when the returned future is first polled (not when it is called).
//! Another request on a clone of the session while a tool runs is not prevented; the
//! transcript edits of the loop assume one conversation at a time.
//!
//! # Prompt format
//! The tool definitions are an [`Entry::Tools`] of the transcript, rendered after the
//! instructions. For models without a chat template (the bundled Gemma 3 base model) the
//! plain question-and-answer format of [`Session`] is extended like this:
//!
//! ```text
//! {instructions}
//!
//! Tools you can call:
//! - calculator: Evaluates an arithmetic expression. Arguments: {"type":"object",...}
//! - lookup: Looks up a country's capital. Arguments: {...}
//! To call tools, answer with {"tool_calls":[{"name":"<tool>","arguments":{...}}]}; their
//! results follow as "Tool results:". To answer, write {"answer":...}.
//!
//! Q: What is 12 times 7?
//! A: {"tool_calls":[{"name":"calculator","arguments":{"expression":"12*7"}}]}
//!
//! Q: Tool results:
//! calculator: 84
//! A: {"answer":"84"}
//! ```
//!
//! (The transcript stores the final answer unwrapped, e.g. `84`, and later turns show it so.)
//!
//! With a chat template the same pieces become messages: the tools section is appended to the
//! `system` message, tool calls are an `assistant` message holding the JSON above, and tool
//! results a `user` message starting with `Tool results:`. With Gemma's template this reads
//! `<start_of_turn>user\n{system}\n\n{prompt}<end_of_turn>\n<start_of_turn>model\n{"tool_calls":...}<end_of_turn>\n<start_of_turn>user\nTool results:\n...`;
//! with Llama 3 `<|start_header_id|>system<|end_header_id|>\n\n{system + tools}<|eot_id|>`
//! then `assistant` / `user` headers; with Qwen/ChatML `<|im_start|>system\n...<|im_end|>`,
//! `<|im_start|>assistant\n{"tool_calls":...}<|im_end|>`,
//! `<|im_start|>user\nTool results:\n...<|im_end|>`. The grammar guarantees the calls in
//! every format; the models' own tool tokens (Qwen's `<tool_call>`, Llama's `ipython` role)
//! are not used.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::future::{join_all, BoxFuture};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use trellis_schema::{Generable, GeneratedContent, GenerationSchema, PartialJsonParser};

use crate::error::{Error, Result};
use crate::guided::GrammarConstraint;
use crate::options::GenerationOptions;
use crate::session::{FinishReason, Response, Session, Usage};
use crate::transcript::Entry;

/// The error type tools may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A function the model may call.
///
/// ```no_run
/// # async fn demo() -> trellis::Result<()> {
/// use trellis::{Generable, Model, Session, Tool};
///
/// #[derive(Generable)]
/// struct WeatherArgs {
///     /// The city name.
///     city: String,
/// }
///
/// struct Weather;
///
/// #[async_trait::async_trait]
/// impl Tool for Weather {
///     type Arguments = WeatherArgs;
///     type Output = String;
///     type Error = std::convert::Infallible;
///     fn name(&self) -> &str { "weather" }
///     fn description(&self) -> &str { "Current weather of a city." }
///     async fn call(&self, args: WeatherArgs) -> Result<String, Self::Error> {
///         Ok(format!("Sunny in {}", args.city))
///     }
/// }
///
/// let model = Model::bundled()?;
/// let session = Session::new(&model).tool(Weather);
/// let answer = session.respond("What's the weather in Paris?").await?;
/// println!("{}", answer.content);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    /// The arguments; their JSON Schema constrains what the model writes.
    type Arguments: Generable + Send + 'static;
    /// What the tool returns: a `String` is given to the model as text, anything else as JSON.
    type Output: Serialize + Send + 'static;
    /// The error of a failed call (any `std::error::Error + Send + Sync`, a `String`, or a
    /// [`BoxError`]).
    type Error: Into<BoxError> + Send + 'static;

    /// The tool's name (unique in a session; letters, digits, `_` and `-` recommended).
    fn name(&self) -> &str;
    /// What the tool does, for the model.
    fn description(&self) -> &str;
    /// Runs the tool.
    async fn call(
        &self,
        arguments: Self::Arguments,
    ) -> std::result::Result<Self::Output, Self::Error>;
}

/// A tool with its types erased, as a session holds it. Every [`Tool`] is one, and so is
/// [`DynamicTool`].
#[async_trait]
pub trait ErasedTool: Send + Sync {
    /// The tool's name.
    fn tool_name(&self) -> &str;
    /// The tool's description.
    fn tool_description(&self) -> &str;
    /// The JSON Schema of the arguments.
    fn arguments_schema(&self) -> GenerationSchema;
    /// Runs the tool on JSON arguments, returning JSON (a JSON string for text).
    async fn call_json(&self, arguments: GeneratedContent) -> std::result::Result<Value, BoxError>;
}

#[async_trait]
impl<T: Tool> ErasedTool for T {
    fn tool_name(&self) -> &str {
        Tool::name(self)
    }

    fn tool_description(&self) -> &str {
        Tool::description(self)
    }

    fn arguments_schema(&self) -> GenerationSchema {
        GenerationSchema::of::<T::Arguments>()
    }

    async fn call_json(&self, arguments: GeneratedContent) -> std::result::Result<Value, BoxError> {
        let arguments =
            T::Arguments::from_content(&arguments).map_err(|e| Box::new(e) as BoxError)?;
        let output = self.call(arguments).await.map_err(Into::into)?;
        serde_json::to_value(output).map_err(|e| Box::new(e) as BoxError)
    }
}

type Handler = dyn Fn(GeneratedContent) -> BoxFuture<'static, std::result::Result<Value, BoxError>>
    + Send
    + Sync;

/// A tool defined at run time: JSON Schema in, JSON arguments to an async closure, JSON or
/// text out. Used by the language bindings.
///
/// ```
/// use trellis::{DynamicSchema, DynamicProperty, DynamicTool, ErasedTool, GenerationSchema};
///
/// let schema = GenerationSchema::from_json(serde_json::json!({
///     "type": "object",
///     "properties": {"word": {"type": "string"}},
///     "required": ["word"]
/// })).unwrap();
/// let tool = DynamicTool::new("shout", "Upper-cases a word.", schema, |args| async move {
///     let word = args.get("word").and_then(|w| w.as_str()).unwrap_or_default().to_uppercase();
///     Ok(serde_json::Value::String(word))
/// });
/// assert_eq!(tool.tool_name(), "shout");
/// ```
#[derive(Clone)]
pub struct DynamicTool {
    name: String,
    description: String,
    schema: GenerationSchema,
    handler: Arc<Handler>,
}

impl DynamicTool {
    /// A tool named `name` whose arguments follow `schema`, run by `handler`.
    pub fn new<F, Fut>(
        name: impl Into<String>,
        description: impl Into<String>,
        schema: GenerationSchema,
        handler: F,
    ) -> Self
    where
        F: Fn(GeneratedContent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Value, BoxError>> + Send + 'static,
    {
        DynamicTool {
            name: name.into(),
            description: description.into(),
            schema,
            handler: Arc::new(move |args| Box::pin(handler(args))),
        }
    }
}

impl std::fmt::Debug for DynamicTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicTool")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ErasedTool for DynamicTool {
    fn tool_name(&self) -> &str {
        &self.name
    }

    fn tool_description(&self) -> &str {
        &self.description
    }

    fn arguments_schema(&self) -> GenerationSchema {
        self.schema.clone()
    }

    async fn call_json(&self, arguments: GeneratedContent) -> std::result::Result<Value, BoxError> {
        (self.handler)(arguments).await
    }
}

/// A tool as the model is told about it (stored in [`Entry::Tools`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// The tool's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The JSON Schema of its arguments, when shown in the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
}

/// One call the model asked for (stored in [`Entry::ToolCalls`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The tool's name.
    pub name: String,
    /// The arguments (valid for the tool's schema).
    pub arguments: Value,
}

/// What happens when a tool call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolErrorPolicy {
    /// The response fails with [`Error::ToolCall`] (default).
    #[default]
    Fail,
    /// The error message (`Error: ...`) becomes the tool's output and the model continues.
    ReportToModel,
}

/// Whether the model must call a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// The model calls tools or answers, as it sees fit (default).
    #[default]
    Auto,
    /// The first step of every response must call at least one tool; later steps are free.
    Required,
}

/// Options of the tool loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolOptions {
    /// Most rounds of tool calls in one response (default 5).
    pub max_rounds: usize,
    /// Most calls in one round (default 4).
    pub max_calls_per_round: usize,
    /// Show each tool's argument schema in the prompt (default on). Decoding is constrained
    /// either way.
    pub include_schema_in_prompt: bool,
    /// What a failing tool does (default [`ToolErrorPolicy::Fail`]).
    pub on_error: ToolErrorPolicy,
    /// Emit tokens the grammar forces without sampling (default on).
    pub fast_forward: bool,
    /// Whether the first step must call a tool (default [`ToolChoice::Auto`]).
    pub tool_choice: ToolChoice,
}

impl Default for ToolOptions {
    fn default() -> Self {
        ToolOptions {
            max_rounds: 5,
            max_calls_per_round: 4,
            include_schema_in_prompt: true,
            on_error: ToolErrorPolicy::Fail,
            fast_forward: true,
            tool_choice: ToolChoice::Auto,
        }
    }
}

/// The tools of a session.
#[derive(Default)]
pub(crate) struct ToolState {
    tools: Vec<Arc<dyn ErasedTool>>,
    options: ToolOptions,
}

/// The tools section of the prompt.
pub(crate) fn tools_section(definitions: &[ToolDefinition]) -> String {
    let mut s = String::from("Tools you can call:\n");
    for d in definitions {
        s.push_str("- ");
        s.push_str(&d.name);
        s.push_str(": ");
        s.push_str(&d.description);
        if let Some(schema) = &d.arguments {
            s.push_str(" Arguments: ");
            s.push_str(&schema.to_string());
        }
        s.push('\n');
    }
    s.push_str(
        "To call tools, answer with {\"tool_calls\":[{\"name\":\"<tool>\",\"arguments\":{...}}]}; \
         their results follow as \"Tool results:\". To answer, write {\"answer\":...}.",
    );
    s
}

/// The text of an [`Entry::ToolCalls`] as the model wrote it.
pub(crate) fn tool_calls_text(calls: &[ToolCall]) -> String {
    json!({ "tool_calls": calls }).to_string()
}

fn output_text(output: &Value) -> String {
    match output {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The text of the run of [`Entry::ToolOutput`]s at the start of `entries`, and its length.
pub(crate) fn tool_outputs_text_at(entries: &[Entry]) -> (String, usize) {
    let mut text = String::from("Tool results:");
    let mut n = 0;
    for e in entries {
        let Entry::ToolOutput { tool, output } = e else {
            break;
        };
        text.push('\n');
        text.push_str(tool);
        text.push_str(": ");
        text.push_str(&output_text(output));
        n += 1;
    }
    (text, n)
}

/// Rewrites the local `$ref`s of a sub-schema moved to `#/$defs/{prefix}`.
fn rewrite_refs(v: &mut Value, prefix: &str) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => {
                        let new = if let Some(rest) = r.strip_prefix("#/$defs/") {
                            format!("#/$defs/{prefix}_{rest}")
                        } else if r == "#" {
                            format!("#/$defs/{prefix}")
                        } else if let Some(rest) = r.strip_prefix("#/") {
                            format!("#/$defs/{prefix}/{rest}")
                        } else {
                            continue;
                        };
                        *r = new;
                    }
                    ("const" | "enum" | "default" | "examples", _) => {}
                    (_, x) => rewrite_refs(x, prefix),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_refs(x, prefix)),
        _ => {}
    }
}

/// Moves `schema` (and its `$defs`, renamed `{prefix}_{name}`) into `defs`; returns the
/// `$ref` to it.
fn hoist(mut schema: Value, prefix: &str, defs: &mut Map<String, Value>) -> Value {
    let own = schema.as_object_mut().and_then(|o| {
        o.remove("$schema");
        o.remove("$defs")
    });
    rewrite_refs(&mut schema, prefix);
    if let Some(Value::Object(own)) = own {
        for (k, mut v) in own {
            rewrite_refs(&mut v, prefix);
            defs.insert(format!("{prefix}_{k}"), v);
        }
    }
    defs.insert(prefix.to_owned(), schema);
    json!({ "$ref": format!("#/$defs/{prefix}") })
}

/// The JSON Schema of one step of the tool loop: tool calls or the final answer (only tool
/// calls when `answer` is `None`).
///
/// Public for tests and the evaluation; not a stable API.
#[doc(hidden)]
pub fn step_schema(
    tools: &[Arc<dyn ErasedTool>],
    answer: Option<&GenerationSchema>,
    max_calls: usize,
) -> Value {
    let mut defs = Map::new();
    let mut branches = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let args = hoist(
            tool.arguments_schema().into_json(),
            &format!("tool{i}"),
            &mut defs,
        );
        branches.push(json!({
            "type": "object",
            "properties": {"name": {"const": tool.tool_name()}, "arguments": args},
            "required": ["name", "arguments"],
            "additionalProperties": false
        }));
    }
    let calls = json!({
        "type": "object",
        "properties": {"tool_calls": {
            "type": "array", "minItems": 1, "maxItems": max_calls.max(1),
            "items": {"anyOf": branches}
        }},
        "required": ["tool_calls"],
        "additionalProperties": false
    });
    let mut any_of = vec![calls];
    if let Some(answer) = answer {
        let answer = hoist(answer.as_json().clone(), "answer", &mut defs);
        any_of.push(json!({
            "type": "object",
            "properties": {"answer": answer},
            "required": ["answer"],
            "additionalProperties": false
        }));
    }
    let mut out = Map::new();
    out.insert("$defs".into(), Value::Object(defs));
    out.insert("anyOf".into(), Value::Array(any_of));
    Value::Object(out)
}

fn validate(tools: &[Arc<dyn ErasedTool>]) -> Result<()> {
    for (i, t) in tools.iter().enumerate() {
        let name = t.tool_name();
        if name.trim().is_empty() {
            return Err(Error::InvalidTool {
                tool: name.to_owned(),
                reason: "the name is empty".into(),
            });
        }
        if tools[..i].iter().any(|o| o.tool_name() == name) {
            return Err(Error::InvalidTool {
                tool: name.to_owned(),
                reason: "two tools have this name".into(),
            });
        }
    }
    Ok(())
}

/// Runs `calls` concurrently and returns one [`Entry::ToolOutput`] per call, in call order.
///
/// # Errors
/// [`Error::InvalidTool`] when a call names no tool of `tools`; [`Error::ToolCall`] when a
/// call fails (or its arguments do not decode) and `on_error` is [`ToolErrorPolicy::Fail`].
pub async fn run_tool_calls(
    tools: &[Arc<dyn ErasedTool>],
    calls: &[ToolCall],
    on_error: ToolErrorPolicy,
) -> Result<Vec<Entry>> {
    let runs = calls.iter().map(|call| async move {
        let tool = tools
            .iter()
            .find(|t| t.tool_name() == call.name)
            .ok_or_else(|| Error::InvalidTool {
                tool: call.name.clone(),
                reason: "no tool of this name is registered".into(),
            })?;
        let result = match GeneratedContent::from_json_str(&call.arguments.to_string()) {
            Ok(args) => tool.call_json(args).await,
            Err(e) => Err(Box::new(e) as BoxError),
        };
        match (result, on_error) {
            (Ok(output), _) => Ok(Entry::ToolOutput {
                tool: call.name.clone(),
                output,
            }),
            (Err(source), ToolErrorPolicy::Fail) => Err(Error::ToolCall {
                tool: call.name.clone(),
                source,
            }),
            (Err(source), ToolErrorPolicy::ReportToModel) => Ok(Entry::ToolOutput {
                tool: call.name.clone(),
                output: Value::String(format!("Error: {source}")),
            }),
        }
    });
    join_all(runs).await.into_iter().collect()
}

fn add_usage(total: &mut Usage, u: &Usage) {
    total.prompt_tokens += u.prompt_tokens;
    total.cached_tokens += u.cached_tokens;
    total.completion_tokens += u.completion_tokens;
    total.prompt_duration += u.prompt_duration;
    total.generation_duration += u.generation_duration;
}

impl Session {
    /// Adds a tool the model may call (see the [`tools`](crate::tools) module docs).
    ///
    /// With tools registered, [`Session::respond`] runs the tool loop; typed answers use
    /// [`Session::respond_as_with_tools`].
    pub fn tool(self, tool: impl ErasedTool + 'static) -> Self {
        self.lock_tools().tools.push(Arc::new(tool));
        self.refresh_tool_definitions();
        self
    }

    /// Replaces the session's tools.
    pub fn tools(self, tools: impl IntoIterator<Item = Arc<dyn ErasedTool>>) -> Self {
        self.lock_tools().tools = tools.into_iter().collect();
        self.refresh_tool_definitions();
        self
    }

    /// Sets the options of the tool loop.
    pub fn tool_options(self, options: ToolOptions) -> Self {
        self.lock_tools().options = options;
        self.refresh_tool_definitions();
        self
    }

    /// Whether tools are registered.
    pub fn has_tools(&self) -> bool {
        !self.lock_tools().tools.is_empty()
    }

    fn lock_tools(&self) -> std::sync::MutexGuard<'_, ToolState> {
        self.tool_parts()
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn refresh_tool_definitions(&self) {
        let definitions: Vec<ToolDefinition> = {
            let state = self.lock_tools();
            state
                .tools
                .iter()
                .map(|t| ToolDefinition {
                    name: t.tool_name().to_owned(),
                    description: t.tool_description().to_owned(),
                    arguments: state
                        .options
                        .include_schema_in_prompt
                        .then(|| t.arguments_schema().into_json()),
                })
                .collect()
        };
        let mut transcript = self
            .tool_parts()
            .1
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if definitions.is_empty() {
            transcript
                .entries_mut()
                .retain(|e| !matches!(e, Entry::Tools { .. }));
        } else {
            transcript.set_tools(definitions);
        }
    }

    /// Answers `prompt` with a value of type `T`, letting the model call the session's tools
    /// first.
    ///
    /// # Errors
    /// [`Error::ToolCall`], [`Error::ToolRoundsExceeded`], [`Error::InvalidTool`], and the
    /// errors of [`Session::respond_as`].
    pub async fn respond_as_with_tools<T: Generable>(
        &self,
        prompt: impl Into<String>,
    ) -> Result<Response<T>> {
        let schema = GenerationSchema::of::<T>();
        let prompt = format!(
            "{}\nThe answer follows this JSON Schema: {}",
            prompt.into(),
            schema.as_json()
        );
        let r = self
            .tool_loop(prompt, &schema, false, self.generation_options(), None)
            .await?;
        let content = GeneratedContent::from_json_str(&r.content)
            .map_err(|e| e.to_string())
            .and_then(|c| T::from_content(&c).map_err(|e| e.to_string()))
            .map_err(|reason| Error::InvalidOutput {
                output: r.content.clone(),
                reason,
            })?;
        Ok(Response {
            content,
            usage: r.usage,
            finish_reason: r.finish_reason,
        })
    }

    /// The text tool loop behind [`Session::respond`] when tools are registered.
    pub(crate) async fn respond_with_tools_using(
        &self,
        prompt: String,
        options: GenerationOptions,
    ) -> Result<Response<String>> {
        let schema = GenerationSchema::of::<String>();
        self.tool_loop(prompt, &schema, true, options, None).await
    }

    async fn tool_loop(
        &self,
        prompt: String,
        answer: &GenerationSchema,
        text_answer: bool,
        generation: GenerationOptions,
        events: Option<&UnboundedSender<ToolEvent>>,
    ) -> Result<Response<String>> {
        let (tools, options) = {
            let s = self.lock_tools();
            (s.tools.clone(), s.options)
        };
        validate(&tools)?;
        let model = self.model().clone();
        let schema = step_schema(&tools, Some(answer), options.max_calls_per_round);
        let grammar = model.guided().grammar(&model, &schema)?;
        let first_grammar = match options.tool_choice {
            ToolChoice::Auto => grammar.clone(),
            ToolChoice::Required => {
                let only_calls = step_schema(&tools, None, options.max_calls_per_round);
                model.guided().grammar(&model, &only_calls)?
            }
        };
        let mut usage = Usage::default();
        let mut step_prompt = prompt;
        let mut pending: Option<Vec<Entry>> = None; // outputs answered by this step
        let mut rounds = 0;
        loop {
            let grammar = if pending.is_none() {
                &first_grammar
            } else {
                &grammar
            };
            let constraint = GrammarConstraint::new(grammar, &model, options.fast_forward);
            let response = match self
                .run_step(step_prompt.clone(), generation, constraint, events)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    if let Some(outputs) = pending {
                        self.tool_parts()
                            .1
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entries_mut()
                            .extend(outputs);
                    }
                    return Err(e);
                }
            };
            add_usage(&mut usage, &response.usage);
            let text = response.content;
            let value = grammar
                .grammar()
                .accepts(text.as_bytes())
                .ok()
                .and_then(|_| serde_json::from_str::<Value>(&text).ok());
            let Some(value) = value else {
                let entry = Entry::Response { text: text.clone() };
                self.settle_step(&step_prompt, &text, pending.take(), entry);
                return Err(Error::IncompleteOutput {
                    output: text,
                    max_tokens: Some(generation.max_tokens),
                });
            };
            if let Some(calls) = value.get("tool_calls") {
                let calls: Vec<ToolCall> =
                    serde_json::from_value(calls.clone()).map_err(|e| Error::InvalidOutput {
                        output: text.clone(),
                        reason: e.to_string(),
                    })?;
                let entry = Entry::ToolCalls {
                    calls: calls.clone(),
                };
                self.settle_step(&step_prompt, &text, pending.take(), entry);
                rounds += 1;
                if rounds > options.max_rounds {
                    return Err(Error::ToolRoundsExceeded {
                        rounds: options.max_rounds,
                    });
                }
                if let Some(tx) = events {
                    for call in &calls {
                        let _ = tx.unbounded_send(ToolEvent::Call(call.clone()));
                    }
                }
                let outputs = run_tool_calls(&tools, &calls, options.on_error).await?;
                if let Some(tx) = events {
                    for entry in &outputs {
                        if let Entry::ToolOutput { tool, output } = entry {
                            let _ = tx.unbounded_send(ToolEvent::Output {
                                tool: tool.clone(),
                                output: output.clone(),
                            });
                        }
                    }
                }
                step_prompt = tool_outputs_text_at(&outputs).0;
                pending = Some(outputs);
                continue;
            }
            let Some(answer) = value.get("answer") else {
                return Err(Error::InvalidOutput {
                    output: text,
                    reason: "neither `tool_calls` nor `answer`".into(),
                });
            };
            let content = match answer {
                Value::String(s) if text_answer => s.clone(),
                other => other.to_string(),
            };
            let entry = Entry::Response {
                text: content.clone(),
            };
            self.settle_step(&step_prompt, &text, pending.take(), entry);
            return Ok(Response {
                content,
                usage,
                finish_reason: response.finish_reason,
            });
        }
    }

    /// One constrained step; with `events`, streamed, and the growing text of an `answer`
    /// string is sent as [`ToolEvent::Delta`]s.
    async fn run_step(
        &self,
        prompt: String,
        generation: GenerationOptions,
        constraint: GrammarConstraint,
        events: Option<&UnboundedSender<ToolEvent>>,
    ) -> Result<Response<String>> {
        let Some(tx) = events else {
            return self
                .respond_constrained(prompt, generation, Box::new(constraint))
                .await;
        };
        let mut stream = self.stream_constrained(prompt, generation, Box::new(constraint));
        let mut text = String::new();
        let mut parser = PartialJsonParser::new();
        let mut sent = 0usize;
        while let Some(delta) = stream.next().await {
            let delta = delta?;
            text.push_str(&delta);
            if parser.push(&delta).is_err() {
                continue;
            }
            let snapshot = parser.snapshot();
            if let Some(answer) = snapshot.get("answer").and_then(|a| a.as_str()) {
                if let Some(new) = answer.get(sent..).filter(|n| !n.is_empty()) {
                    let _ = tx.unbounded_send(ToolEvent::Delta(new.to_owned()));
                    sent = answer.len();
                }
            }
        }
        let usage = self.last_usage().unwrap_or_default();
        let finish_reason = if usage.completion_tokens >= generation.max_tokens as usize {
            FinishReason::MaxTokens
        } else {
            FinishReason::Stop
        };
        Ok(Response {
            content: text,
            usage,
            finish_reason,
        })
    }

    /// Streams the answer to `prompt`, running the session's tools on the way: the calls as
    /// the model makes them, their outputs as they return, then the answer's text in pieces.
    ///
    /// ```no_run
    /// # async fn demo(session: trellis::Session) -> trellis::Result<()> {
    /// use futures::StreamExt;
    /// use trellis::ToolEvent;
    ///
    /// let mut events = session.stream_with_tools("What is 6 times 7?");
    /// while let Some(event) = events.next().await {
    ///     match event? {
    ///         ToolEvent::Call(call) => println!("calling {}({})", call.name, call.arguments),
    ///         ToolEvent::Output { tool, output } => println!("{tool} returned {output}"),
    ///         ToolEvent::Delta(text) => print!("{text}"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// An error (those of [`Session::respond`] with tools) ends the stream.
    pub fn stream_with_tools(&self, prompt: impl Into<String>) -> ToolEventStream {
        let (tx, rx) = unbounded();
        let session = self.clone();
        let prompt = prompt.into();
        let driver: BoxFuture<'static, Result<Response<String>>> = Box::pin(async move {
            let schema = GenerationSchema::of::<String>();
            let generation = session.generation_options();
            session
                .tool_loop(prompt, &schema, true, generation, Some(&tx))
                .await
        });
        ToolEventStream {
            driver: Some(driver),
            events: rx,
            result: None,
            response: None,
            done: false,
        }
    }

    /// Replaces the `Prompt`/`Response` pair the worker recorded for one step: the prompt of
    /// a follow-up step becomes the tool outputs it carried, the response becomes `entry`.
    fn settle_step(
        &self,
        prompt: &str,
        generated: &str,
        outputs: Option<Vec<Entry>>,
        entry: Entry,
    ) {
        let mut transcript = self
            .tool_parts()
            .1
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let entries = transcript.entries_mut();
        let n = entries.len();
        let recorded = n >= 2
            && matches!(&entries[n - 2], Entry::Prompt { text } if text == prompt)
            && matches!(&entries[n - 1], Entry::Response { text } if text == generated);
        if recorded {
            entries.pop();
            if outputs.is_some() {
                entries.pop();
            }
        }
        if let Some(outputs) = outputs {
            entries.extend(outputs);
        }
        entries.push(entry);
    }

    /// One step of the tool loop on `prompt`, returning what the model wrote; the transcript
    /// is left unchanged. `constrained: false` decodes freely (for the evaluation).
    #[doc(hidden)]
    pub async fn tool_step_raw(
        &self,
        prompt: &str,
        constrained: bool,
        max_tokens: u32,
    ) -> Result<String> {
        let (tools, options) = {
            let s = self.lock_tools();
            (s.tools.clone(), s.options)
        };
        validate(&tools)?;
        let model = self.model().clone();
        let schema = step_schema(
            &tools,
            Some(&GenerationSchema::of::<String>()),
            options.max_calls_per_round,
        );
        let saved = self.transcript();
        let generation = GenerationOptions {
            max_tokens,
            ..self.generation_options()
        };
        let result = if constrained {
            let grammar = model.guided().grammar(&model, &schema)?;
            let c = GrammarConstraint::new(&grammar, &model, options.fast_forward);
            self.respond_constrained(prompt, generation, Box::new(c))
                .await
        } else {
            self.respond_constrained(prompt, generation, Box::new(Unconstrained))
                .await
        };
        *self
            .tool_parts()
            .1
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = saved;
        Ok(result?.content)
    }
}

/// What [`Session::stream_with_tools`] reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ToolEvent {
    /// The model asked for a call (reported when its step is complete, before it runs).
    Call(ToolCall),
    /// A call returned (or failed, with [`ToolErrorPolicy::ReportToModel`]).
    Output {
        /// The tool's name.
        tool: String,
        /// What it returned.
        output: Value,
    },
    /// A piece of the final answer's text.
    Delta(String),
}

/// The events of a streamed response with tools (see [`Session::stream_with_tools`]).
#[must_use = "streams do nothing unless polled"]
pub struct ToolEventStream {
    driver: Option<BoxFuture<'static, Result<Response<String>>>>,
    events: UnboundedReceiver<ToolEvent>,
    result: Option<Result<Response<String>>>,
    response: Option<Response<String>>,
    done: bool,
}

impl std::fmt::Debug for ToolEventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolEventStream")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ToolEventStream {
    /// The final response (answer text, usage summed over the steps), once the stream has
    /// ended without error.
    pub fn response(&self) -> Option<&Response<String>> {
        self.response.as_ref()
    }
}

impl Stream for ToolEventStream {
    type Item = Result<ToolEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(driver) = this.driver.as_mut() {
            if let Poll::Ready(result) = driver.as_mut().poll(cx) {
                // Dropping the driver drops the sender: the receiver ends after the backlog.
                this.driver = None;
                this.result = Some(result);
            }
        }
        match this.events.poll_next_unpin(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(Some(Ok(event))),
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.done = true;
                match this.result.take() {
                    Some(Err(e)) => Poll::Ready(Some(Err(e))),
                    Some(Ok(r)) => {
                        this.response = Some(r);
                        Poll::Ready(None)
                    }
                    None => Poll::Ready(Some(Err(Error::EngineStopped))),
                }
            }
        }
    }
}

/// Allows every token (free decoding through the constrained path, without stop strings).
struct Unconstrained;

impl crate::constraint::TokenConstraint for Unconstrained {
    fn mask(&mut self, _allowed: &mut [u32]) {}
    fn accept(&mut self, _token: u32) -> std::result::Result<(), String> {
        Ok(())
    }
    fn is_complete(&self) -> bool {
        true
    }
    fn forced_tokens(&mut self) -> Vec<u32> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Generable;

    #[derive(Generable, Debug, PartialEq)]
    struct Inner {
        x: i64,
    }

    #[derive(Generable, Debug, PartialEq)]
    struct Args {
        inner: Inner,
        label: String,
    }

    struct Echo;

    #[async_trait]
    impl Tool for Echo {
        type Arguments = Args;
        type Output = Value;
        type Error = String;
        fn name(&self) -> &str {
            "echo"
        }
        fn description(&self) -> &str {
            "Echoes."
        }
        async fn call(&self, a: Args) -> std::result::Result<Value, String> {
            if a.label == "fail" {
                return Err("asked to fail".into());
            }
            Ok(json!({"x": a.inner.x, "label": a.label}))
        }
    }

    fn tools() -> Vec<Arc<dyn ErasedTool>> {
        let schema = GenerationSchema::from_json(
            json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
        )
        .unwrap();
        let dynamic = DynamicTool::new("dyn", "Dynamic.", schema, |a| async move {
            Ok(Value::String(format!(
                "got {}",
                a.get("q").and_then(|q| q.as_str()).unwrap_or("?")
            )))
        });
        vec![Arc::new(Echo), Arc::new(dynamic)]
    }

    #[test]
    fn step_schema_compiles_and_accepts_calls_and_answers_only() {
        let s = step_schema(&tools(), Some(&GenerationSchema::of::<String>()), 2);
        let g = trellis_grammar::Grammar::from_json_schema(&s, &Default::default()).unwrap();
        let ok = [
            r#"{"answer":"hi"}"#,
            r#"{"tool_calls":[{"name":"echo","arguments":{"inner":{"x":1},"label":"a"}}]}"#,
            r#"{"tool_calls":[{"name":"dyn","arguments":{"q":"z"}},{"name":"echo","arguments":{"inner":{"x":2},"label":"b"}}]}"#,
        ];
        for t in ok {
            assert!(g.accepts(t.as_bytes()).is_ok(), "{t}");
        }
        let bad = [
            r#"{"answer":3}"#,
            r#"{"tool_calls":[]}"#,
            r#"{"tool_calls":[{"name":"nope","arguments":{"q":"z"}}]}"#,
            r#"{"tool_calls":[{"name":"dyn","arguments":{"inner":{"x":1},"label":"a"}}]}"#,
            r#"{"tool_calls":[{"name":"dyn","arguments":{"q":"1"}},{"name":"dyn","arguments":{"q":"2"}},{"name":"dyn","arguments":{"q":"3"}}]}"#,
        ];
        for t in bad {
            assert!(g.accepts(t.as_bytes()).is_err(), "{t}");
        }
        let only_calls = step_schema(&tools(), None, 2);
        let g =
            trellis_grammar::Grammar::from_json_schema(&only_calls, &Default::default()).unwrap();
        assert!(g.accepts(ok[0].as_bytes()).is_err());
        assert!(g.accepts(ok[1].as_bytes()).is_ok());
    }

    #[test]
    fn refs_are_rewritten_into_prefixed_defs() {
        let mut defs = Map::new();
        let r = hoist(
            json!({"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"type": "integer"}},
                   "properties": {"a": {"$ref": "#/$defs/A"}, "me": {"$ref": "#"}}}),
            "t0",
            &mut defs,
        );
        assert_eq!(r, json!({"$ref": "#/$defs/t0"}));
        assert_eq!(defs["t0_A"], json!({"$ref": "#/$defs/t0_B"}));
        assert_eq!(
            defs["t0"]["properties"]["a"],
            json!({"$ref": "#/$defs/t0_A"})
        );
        assert_eq!(
            defs["t0"]["properties"]["me"],
            json!({"$ref": "#/$defs/t0"})
        );
    }

    #[tokio::test]
    async fn executor_runs_in_order_and_maps_errors() {
        let tools = tools();
        let calls = vec![
            ToolCall {
                name: "dyn".into(),
                arguments: json!({"q": "one"}),
            },
            ToolCall {
                name: "echo".into(),
                arguments: json!({"inner": {"x": 5}, "label": "two"}),
            },
        ];
        let out = run_tool_calls(&tools, &calls, ToolErrorPolicy::Fail)
            .await
            .unwrap();
        assert_eq!(
            out,
            vec![
                Entry::ToolOutput {
                    tool: "dyn".into(),
                    output: json!("got one")
                },
                Entry::ToolOutput {
                    tool: "echo".into(),
                    output: json!({"x": 5, "label": "two"})
                },
            ]
        );
        let failing = vec![ToolCall {
            name: "echo".into(),
            arguments: json!({"inner": {"x": 5}, "label": "fail"}),
        }];
        let err = run_tool_calls(&tools, &failing, ToolErrorPolicy::Fail)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::ToolCall { tool, .. } if tool == "echo"),
            "{err}"
        );
        let reported = run_tool_calls(&tools, &failing, ToolErrorPolicy::ReportToModel)
            .await
            .unwrap();
        assert_eq!(
            reported,
            vec![Entry::ToolOutput {
                tool: "echo".into(),
                output: json!("Error: asked to fail")
            }]
        );
        let bad_args = vec![ToolCall {
            name: "echo".into(),
            arguments: json!({"q": 1}),
        }];
        assert!(matches!(
            run_tool_calls(&tools, &bad_args, ToolErrorPolicy::Fail).await,
            Err(Error::ToolCall { .. })
        ));
        let unknown = vec![ToolCall {
            name: "zzz".into(),
            arguments: json!({}),
        }];
        assert!(matches!(
            run_tool_calls(&tools, &unknown, ToolErrorPolicy::Fail).await,
            Err(Error::InvalidTool { .. })
        ));
    }

    #[test]
    fn duplicate_and_empty_names_are_refused() {
        let mut t = tools();
        t.push(Arc::new(Echo));
        assert!(matches!(validate(&t), Err(Error::InvalidTool { tool, .. }) if tool == "echo"));
        assert!(validate(&tools()).is_ok());
    }

    #[test]
    fn outputs_render_as_one_turn() {
        let entries = vec![
            Entry::ToolOutput {
                tool: "a".into(),
                output: json!("x"),
            },
            Entry::ToolOutput {
                tool: "b".into(),
                output: json!({"k": 1}),
            },
            Entry::Response { text: "r".into() },
        ];
        assert_eq!(
            tool_outputs_text_at(&entries),
            ("Tool results:\na: x\nb: {\"k\":1}".into(), 2)
        );
    }
}
