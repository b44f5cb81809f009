//! Foreign-language bindings for Trellis, generated with [UniFFI](https://mozilla.github.io/uniffi-rs/).
//!
//! This crate is the only one that knows UniFFI: it wraps the `trellis` SDK in
//! FFI-friendly objects ([`Model`], [`Session`], [`ResponseStream`], [`Adapter`]), foreign
//! traits implemented in Swift/Kotlin/Python ([`Tool`], [`StreamObserver`]), records
//! ([`ModelOptions`], [`GenerationOptions`], [`ToolOptions`], [`Usage`], [`Response`], ...)
//! and one error enum ([`TrellisError`]). `scripts/gen-bindings.sh` turns the compiled
//! library into Python, Kotlin and Swift sources.
//!
//! Guarantees at the boundary:
//! - every `trellis::Error` maps to a specific [`TrellisError`] variant;
//! - a panic inside an exported call becomes [`TrellisError::Internal`] instead of unwinding
//!   into foreign code;
//! - an unexpected exception raised by a foreign [`StreamObserver`] or [`Tool`] becomes
//!   [`TrellisError::Callback`] (for a tool, wrapped in [`TrellisError::ToolCall`]).
//!
//! The Rust API can be used directly too (handy for tests):
//!
//! ```no_run
//! # async fn demo() -> Result<(), trellis_ffi::TrellisError> {
//! use trellis_ffi::{Model, ModelOptions, Session};
//! let options = ModelOptions { context_size: 1024, threads: 2, batch_size: 256 };
//! let model = Model::load(trellis::Model::bundled_path().display().to_string(), Some(options))?;
//! let session = Session::new(model, Some("Answer briefly.".into()), None);
//! let answer = session.respond("What is the capital of France?".into()).await?;
//! println!("{} ({} tokens)", answer.content, answer.usage.completion_tokens);
//! # Ok(()) }
//! ```

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};

uniffi::setup_scaffolding!();

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Every error a Trellis call can raise in foreign code (one variant per cause).
///
/// Field names avoid `message` (it breaks the generated Kotlin); the human-readable text is
/// the `Display` output.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum TrellisError {
    /// The bundled model is not installed.
    #[error("the bundled model is not installed at {path}: run `{install_command}` to install it")]
    ModelNotInstalled {
        /// Where the model was looked for.
        path: String,
        /// The command that installs it.
        install_command: String,
    },
    /// No file exists at the given model path.
    #[error("model file not found: {path}")]
    ModelNotFound {
        /// The path that was given.
        path: String,
    },
    /// The file is not a GGUF file.
    #[error("{path} is not a GGUF file")]
    NotGguf {
        /// The offending file.
        path: String,
    },
    /// The GGUF header, metadata or tensor table is invalid.
    #[error("{path} is not a valid GGUF file: {reason}")]
    InvalidGguf {
        /// The offending file.
        path: String,
        /// What the GGUF reader found.
        reason: String,
    },
    /// The GGUF file ends too early.
    #[error("{path} is a truncated GGUF file: {reason}")]
    TruncatedGguf {
        /// The offending file.
        path: String,
        /// What the GGUF reader found.
        reason: String,
    },
    /// Reading a file failed.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file being read.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// llama.cpp refused to load the model.
    #[error("llama.cpp could not load the model {path}: {reason}")]
    ModelLoad {
        /// The model file.
        path: String,
        /// What llama.cpp reported.
        reason: String,
    },
    /// The llama.cpp backend could not be initialised.
    #[error("could not initialise the llama.cpp backend: {reason}")]
    Backend {
        /// What went wrong.
        reason: String,
    },
    /// No inference context could be created (usually: out of memory).
    #[error("could not create an inference context: {reason}")]
    ContextCreation {
        /// What went wrong.
        reason: String,
    },
    /// Text could not be tokenized.
    #[error("could not tokenize the prompt: {reason}")]
    Tokenize {
        /// What went wrong.
        reason: String,
    },
    /// The prompt could not be formatted.
    #[error("could not format the prompt: {reason}")]
    PromptFormat {
        /// What went wrong.
        reason: String,
    },
    /// llama.cpp failed to evaluate a batch.
    #[error("llama.cpp failed to decode: {reason}")]
    Decode {
        /// What went wrong.
        reason: String,
    },
    /// A second request was sent while the session was still answering.
    #[error(
        "the session is already producing a response; wait for it before sending another request"
    )]
    ConcurrentRequests,
    /// The conversation does not fit in the context window.
    #[error("exceeded the context window: {used} tokens needed, the context holds {limit}")]
    ExceededContextWindow {
        /// Tokens needed when generation stopped.
        used: u64,
        /// The context size.
        limit: u64,
    },
    /// The session's worker thread is gone.
    #[error("the session's inference worker has stopped")]
    EngineStopped,
    /// An option is out of range.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOptions {
        /// The option's name.
        option: String,
        /// Why the value is refused.
        reason: String,
    },
    /// A decoding constraint failed.
    #[error("decoding constraint failed: {reason}")]
    Constraint {
        /// What went wrong.
        reason: String,
    },
    /// The JSON Schema is malformed or cannot be enforced.
    #[error("the schema cannot be used: {reason}")]
    Schema {
        /// What is wrong with it (keyword and JSON pointer when known).
        reason: String,
    },
    /// The model's vocabulary cannot be used for constrained decoding.
    #[error("the model's vocabulary cannot be used for constrained decoding: {reason}")]
    Vocabulary {
        /// What went wrong.
        reason: String,
    },
    /// Generation hit `max_tokens` before the constrained answer was complete.
    #[error("generation stopped before the answer was complete (max_tokens {max_tokens:?}); partial output: {output}")]
    IncompleteOutput {
        /// What was generated.
        output: String,
        /// The token limit in force, when known.
        max_tokens: Option<u32>,
    },
    /// The answer does not decode into the requested type.
    #[error("the answer does not decode into the requested type: {reason}; output: {output}")]
    InvalidOutput {
        /// What was generated.
        output: String,
        /// Why decoding failed.
        reason: String,
    },
    /// A LoRA adapter file was refused.
    #[error("LoRA adapter {path}: {reason}")]
    Adapter {
        /// The adapter file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// llama.cpp refused an adapter.
    #[error("llama.cpp could not load the LoRA adapter {path}: {reason}")]
    AdapterLoad {
        /// The adapter file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// An adapter of another model was attached.
    #[error("the LoRA adapter {adapter} was loaded for another model than {model}")]
    AdapterModelMismatch {
        /// The adapter file.
        adapter: String,
        /// The session's model file.
        model: String,
    },
    /// A tool call failed.
    #[error("tool `{tool}` failed: {reason}")]
    ToolCall {
        /// The tool's name.
        tool: String,
        /// What the tool reported.
        reason: String,
    },
    /// The model kept calling tools past the round limit.
    #[error("the model still called tools after {rounds} rounds")]
    ToolRoundsExceeded {
        /// The limit that was reached.
        rounds: u64,
    },
    /// A tool cannot be offered to the model.
    #[error("invalid tool `{tool}`: {reason}")]
    InvalidTool {
        /// The tool's name.
        tool: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A JSON argument (a transcript) could not be parsed.
    #[error("invalid JSON: {reason}")]
    InvalidJson {
        /// The parser's complaint.
        reason: String,
    },
    /// A foreign callback raised an exception that is not a `TrellisError`.
    #[error("a foreign callback failed: {reason}")]
    Callback {
        /// What the foreign side reported.
        reason: String,
    },
    /// A bug: a panic inside Trellis, or an error kind this binding does not know yet.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

fn text(s: impl std::fmt::Display) -> String {
    s.to_string()
}

impl From<trellis::Error> for TrellisError {
    fn from(e: trellis::Error) -> Self {
        use trellis::Error as E;
        match e {
            E::ModelNotInstalled {
                path,
                install_command,
            } => Self::ModelNotInstalled {
                path: text(path.display()),
                install_command,
            },
            E::ModelNotFound { path } => Self::ModelNotFound {
                path: text(path.display()),
            },
            E::NotGguf { path } => Self::NotGguf {
                path: text(path.display()),
            },
            E::InvalidGguf { path, source } => Self::InvalidGguf {
                path: text(path.display()),
                reason: text(source),
            },
            E::TruncatedGguf { path, source } => Self::TruncatedGguf {
                path: text(path.display()),
                reason: text(source),
            },
            E::Io { path, source } => Self::Io {
                path: text(path.display()),
                reason: text(source),
            },
            E::ModelLoad { path, reason } => Self::ModelLoad {
                path: text(path.display()),
                reason,
            },
            E::Backend(reason) => Self::Backend { reason },
            E::ContextCreation(reason) => Self::ContextCreation { reason },
            E::Tokenize(reason) => Self::Tokenize { reason },
            E::PromptFormat(reason) => Self::PromptFormat { reason },
            E::Decode(reason) => Self::Decode { reason },
            E::ConcurrentRequests => Self::ConcurrentRequests,
            E::ExceededContextWindow { used, limit } => Self::ExceededContextWindow {
                used: used as u64,
                limit: limit as u64,
            },
            E::EngineStopped => Self::EngineStopped,
            E::InvalidOptions { option, reason } => Self::InvalidOptions {
                option: option.to_string(),
                reason,
            },
            E::Constraint(reason) => Self::Constraint { reason },
            E::Schema(err) => Self::Schema { reason: text(err) },
            E::Vocabulary(reason) => Self::Vocabulary { reason },
            E::IncompleteOutput { output, max_tokens } => {
                Self::IncompleteOutput { output, max_tokens }
            }
            E::InvalidOutput { output, reason } => Self::InvalidOutput { output, reason },
            E::Adapter { path, source } => Self::Adapter {
                path: text(path.display()),
                reason: text(source),
            },
            E::AdapterLoad { path, reason } => Self::AdapterLoad {
                path: text(path.display()),
                reason,
            },
            E::AdapterModelMismatch { adapter, model } => Self::AdapterModelMismatch {
                adapter: text(adapter.display()),
                model: text(model.display()),
            },
            E::ToolCall { tool, source } => Self::ToolCall {
                tool,
                reason: text(source),
            },
            E::ToolRoundsExceeded { rounds } => Self::ToolRoundsExceeded {
                rounds: rounds as u64,
            },
            E::InvalidTool { tool, reason } => Self::InvalidTool { tool, reason },
            // `trellis::Error` is non-exhaustive: a kind added later is still reported.
            other => Self::Internal {
                reason: text(other),
            },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TrellisError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Callback { reason: e.reason }
    }
}

fn panic_reason(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic with a non-text payload".to_string()
    }
}

/// Runs `f`, turning a panic into [`TrellisError::Internal`].
fn guard<T>(f: impl FnOnce() -> Result<T, TrellisError>) -> Result<T, TrellisError> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(TrellisError::Internal {
            reason: panic_reason(p),
        })
    })
}

/// Awaits `f`, turning a panic into [`TrellisError::Internal`].
async fn guard_async<T>(
    f: impl Future<Output = Result<T, TrellisError>>,
) -> Result<T, TrellisError> {
    AssertUnwindSafe(f)
        .catch_unwind()
        .await
        .unwrap_or_else(|p| {
            Err(TrellisError::Internal {
                reason: panic_reason(p),
            })
        })
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// How a model is loaded.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ModelOptions {
    /// Context window in tokens (at least 16).
    pub context_size: u32,
    /// CPU threads llama.cpp uses (1..=1024).
    pub threads: u32,
    /// Tokens evaluated per llama.cpp batch (at least 1).
    pub batch_size: u32,
}

impl From<ModelOptions> for trellis::ModelOptions {
    fn from(o: ModelOptions) -> Self {
        trellis::ModelOptions {
            context_size: o.context_size,
            threads: o.threads as usize,
            batch_size: o.batch_size,
        }
    }
}

impl From<&trellis::ModelOptions> for ModelOptions {
    fn from(o: &trellis::ModelOptions) -> Self {
        ModelOptions {
            context_size: o.context_size,
            threads: u32::try_from(o.threads).unwrap_or(u32::MAX),
            batch_size: o.batch_size,
        }
    }
}

/// The SDK's default model options (context 4096, one thread per physical core, batch 512).
#[uniffi::export]
pub fn default_model_options() -> ModelOptions {
    (&trellis::ModelOptions::default()).into()
}

/// How tokens are chosen.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Enum)]
pub enum Sampling {
    /// Always the most likely token (deterministic).
    Greedy,
    /// Random sampling with temperature, top-k and top-p; a seed makes it reproducible.
    Random {
        /// Temperature (> 0).
        temperature: f32,
        /// Keep the `top_k` most likely tokens.
        top_k: u32,
        /// Nucleus threshold in (0, 1].
        top_p: f32,
        /// Seed of the random generator (`None`: a fresh one).
        seed: Option<u64>,
    },
}

/// Per-request generation settings.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct GenerationOptions {
    /// How tokens are chosen.
    pub sampling: Sampling,
    /// Upper bound on generated tokens (at least 1).
    pub max_tokens: u32,
}

impl From<GenerationOptions> for trellis::GenerationOptions {
    fn from(o: GenerationOptions) -> Self {
        let sampling = match o.sampling {
            Sampling::Greedy => trellis::Sampling::Greedy,
            Sampling::Random {
                temperature,
                top_k,
                top_p,
                seed,
            } => trellis::Sampling::Random {
                temperature,
                top_k,
                top_p,
                seed,
            },
        };
        trellis::GenerationOptions {
            sampling,
            max_tokens: o.max_tokens,
        }
    }
}

/// The SDK's default generation options (greedy, 256 tokens).
#[uniffi::export]
pub fn default_generation_options() -> GenerationOptions {
    GenerationOptions {
        sampling: Sampling::Greedy,
        max_tokens: trellis::GenerationOptions::default().max_tokens,
    }
}

/// Token counts and timings of one response.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct Usage {
    /// Tokens of the whole formatted conversation.
    pub prompt_tokens: u64,
    /// Of those, tokens reused from the KV cache.
    pub cached_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Seconds to evaluate the prompt.
    pub prompt_seconds: f64,
    /// Seconds spent generating.
    pub generation_seconds: f64,
}

impl From<trellis::Usage> for Usage {
    fn from(u: trellis::Usage) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens as u64,
            cached_tokens: u.cached_tokens as u64,
            completion_tokens: u.completion_tokens as u64,
            prompt_seconds: u.prompt_duration.as_secs_f64(),
            generation_seconds: u.generation_duration.as_secs_f64(),
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FinishReason {
    /// The model ended its answer.
    Stop,
    /// `max_tokens` was reached.
    MaxTokens,
}

impl From<trellis::FinishReason> for FinishReason {
    fn from(f: trellis::FinishReason) -> Self {
        match f {
            trellis::FinishReason::Stop => FinishReason::Stop,
            // `MaxTokens` and any reason added later: generation was cut short.
            _ => FinishReason::MaxTokens,
        }
    }
}

/// A model answer: the text (for [`Session::respond_json`], JSON text), usage and why it ended.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Response {
    /// The answer (JSON text for schema-constrained answers).
    pub content: String,
    /// Token counts and timings.
    pub usage: Usage,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
}

/// Result of [`Session::stream_with`].
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StreamOutcome {
    /// All the deltas delivered to the observer, concatenated.
    pub text: String,
    /// How many deltas the observer received.
    pub deltas: u32,
    /// Whether the observer stopped generation by returning `false`.
    pub stopped: bool,
}

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

/// A loaded GGUF model, shared by any number of sessions.
#[derive(uniffi::Object)]
pub struct Model {
    inner: trellis::Model,
}

#[uniffi::export]
impl Model {
    /// Loads the bundled Gemma 3 270M model with the default options.
    ///
    /// # Errors
    /// [`TrellisError::ModelNotInstalled`] when it is not installed; load errors otherwise.
    #[uniffi::constructor]
    pub fn bundled() -> Result<Arc<Self>, TrellisError> {
        guard(|| {
            Ok(Arc::new(Model {
                inner: trellis::Model::bundled()?,
            }))
        })
    }

    /// Loads a GGUF model file (`options`: `None` for the defaults).
    ///
    /// # Errors
    /// [`TrellisError::ModelNotFound`], [`TrellisError::NotGguf`], [`TrellisError::InvalidGguf`],
    /// [`TrellisError::InvalidOptions`], ...
    #[uniffi::constructor]
    pub fn load(path: String, options: Option<ModelOptions>) -> Result<Arc<Self>, TrellisError> {
        guard(|| {
            let options: trellis::ModelOptions = options.map(Into::into).unwrap_or_default();
            Ok(Arc::new(Model {
                inner: trellis::Model::load(path, options)?,
            }))
        })
    }

    /// The model file's path.
    pub fn path(&self) -> String {
        self.inner.path().display().to_string()
    }

    /// The options the model was loaded with.
    pub fn options(&self) -> ModelOptions {
        self.inner.options().into()
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> u64 {
        self.inner.vocab_size() as u64
    }
}

/// Where the bundled model is expected (`~/.cache/trellis/models/...`).
#[uniffi::export]
pub fn bundled_model_path() -> String {
    trellis::Model::bundled_path().display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------------

/// How long a stopped stream may take to release the session (the worker notices at its
/// next token).
const STOP_WAIT: Duration = Duration::from_secs(30);

/// Waits until `session` no longer produces a response (after a stream was dropped early),
/// so the next request does not fail with `ConcurrentRequests`.
async fn wait_until_idle(session: &trellis::Session) {
    let deadline = tokio::time::Instant::now() + STOP_WAIT;
    while session.is_responding() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Receives the text of a streamed answer piece by piece (implemented in foreign code).
#[uniffi::export(foreign)]
pub trait StreamObserver: Send + Sync {
    /// Called with each new piece of text; return `false` to stop generation.
    ///
    /// # Errors
    /// A `TrellisError` raised here ends the stream with that error; any other exception
    /// becomes [`TrellisError::Callback`].
    fn on_delta(&self, delta: String) -> Result<bool, TrellisError>;
}

/// A conversation with a model. One request at a time; the KV cache is kept between turns.
#[derive(uniffi::Object)]
pub struct Session {
    inner: trellis::Session,
}

#[uniffi::export(async_runtime = "tokio")]
impl Session {
    /// Starts a conversation with optional instructions (system prompt) and generation
    /// options (`None`: greedy, 256 tokens).
    #[uniffi::constructor]
    pub fn new(
        model: Arc<Model>,
        instructions: Option<String>,
        options: Option<GenerationOptions>,
    ) -> Arc<Self> {
        let mut session = trellis::Session::new(&model.inner);
        if let Some(text) = instructions {
            session = session.instructions(text);
        }
        if let Some(options) = options {
            session = session.options(options.into());
        }
        Arc::new(Session { inner: session })
    }

    /// Restores a conversation saved with [`Session::transcript_json`].
    ///
    /// # Errors
    /// [`TrellisError::InvalidJson`] when `json` is not a transcript.
    #[uniffi::constructor]
    pub fn from_transcript_json(
        model: Arc<Model>,
        json: String,
        options: Option<GenerationOptions>,
    ) -> Result<Arc<Self>, TrellisError> {
        guard(|| {
            let transcript: trellis::Transcript =
                serde_json::from_str(&json).map_err(|e| TrellisError::InvalidJson {
                    reason: e.to_string(),
                })?;
            let mut session = trellis::Session::from_transcript(&model.inner, transcript);
            if let Some(options) = options {
                session = session.options(options.into());
            }
            Ok(Arc::new(Session { inner: session }))
        })
    }

    /// The conversation so far as JSON (instructions, prompts and responses).
    ///
    /// # Errors
    /// [`TrellisError::Internal`] if serialisation fails (it does not for valid transcripts).
    pub fn transcript_json(&self) -> Result<String, TrellisError> {
        guard(|| {
            serde_json::to_string(&self.inner.transcript()).map_err(|e| TrellisError::Internal {
                reason: e.to_string(),
            })
        })
    }

    /// Whether a response is being produced right now.
    pub fn is_responding(&self) -> bool {
        self.inner.is_responding()
    }

    /// Starts a conversation whose model may call `tools` (implemented in foreign code).
    /// [`Session::respond`] then runs the tool loop: the model calls tools (names and
    /// arguments constrained by the grammar), the session runs the calls, feeds their
    /// outputs back and continues until the model answers. `tool_options`: `None` for the
    /// defaults ([`default_tool_options`]).
    ///
    /// # Errors
    /// [`TrellisError::InvalidTool`] when a tool's parameters are not a usable JSON Schema
    /// or two tools share a name; [`TrellisError::InvalidOptions`] for out-of-range tool
    /// options.
    #[uniffi::constructor]
    pub fn with_tools(
        model: Arc<Model>,
        instructions: Option<String>,
        options: Option<GenerationOptions>,
        tools: Vec<Arc<dyn Tool>>,
        tool_options: Option<ToolOptions>,
    ) -> Result<Arc<Self>, TrellisError> {
        guard(|| {
            let tool_options = tool_options.unwrap_or_else(default_tool_options);
            let tool_options = trellis::ToolOptions::try_from(tool_options)?;
            let mut dynamic: Vec<Arc<dyn trellis::ErasedTool>> = Vec::with_capacity(tools.len());
            let mut names = std::collections::HashSet::new();
            for tool in tools {
                let dynamic_tool = dynamic_tool(tool)?;
                let name = trellis::ErasedTool::tool_name(&dynamic_tool).to_owned();
                if !names.insert(name.clone()) {
                    return Err(TrellisError::InvalidTool {
                        tool: name,
                        reason: "two tools have this name".into(),
                    });
                }
                dynamic.push(Arc::new(dynamic_tool));
            }
            let mut session = trellis::Session::new(&model.inner);
            if let Some(text) = instructions {
                session = session.instructions(text);
            }
            if let Some(options) = options {
                session = session.options(options.into());
            }
            let session = session.tool_options(tool_options).tools(dynamic);
            Ok(Arc::new(Session { inner: session }))
        })
    }

    /// Attaches `adapter` with `scale` (the effective factor is `scale × alpha / rank`) as the
    /// session's only adapter, from the next request on; a running request is not affected.
    /// The conversation is kept but evaluated again with the new weights.
    ///
    /// # Errors
    /// [`TrellisError::AdapterModelMismatch`] for an adapter loaded for another model,
    /// [`TrellisError::InvalidOptions`] for a non-finite scale; the attachment is then
    /// unchanged.
    pub fn set_adapter(&self, adapter: Arc<Adapter>, scale: f32) -> Result<(), TrellisError> {
        guard(|| {
            Ok(self
                .inner
                .set_adapter(Some((adapter.inner.clone(), scale)))?)
        })
    }

    /// Replaces the session's adapters by `adapters`, stacked (their contributions add up,
    /// each with its scale; an empty list detaches all), from the next request on.
    /// Setting the same adapters and scales again keeps the cached conversation.
    ///
    /// # Errors
    /// [`TrellisError::AdapterModelMismatch`] for an adapter loaded for another model,
    /// [`TrellisError::InvalidOptions`] for a non-finite scale or an adapter listed twice;
    /// the attachment is then unchanged.
    pub fn set_adapters(&self, adapters: Vec<AttachedAdapter>) -> Result<(), TrellisError> {
        guard(|| {
            let adapters = adapters
                .into_iter()
                .map(|a| (a.adapter.inner.clone(), a.scale))
                .collect();
            Ok(self.inner.set_adapters(adapters)?)
        })
    }

    /// Detaches every LoRA adapter from the next request on.
    ///
    /// # Errors
    /// None in practice; the signature mirrors [`Session::set_adapters`].
    pub fn clear_adapter(&self) -> Result<(), TrellisError> {
        guard(|| Ok(self.inner.set_adapters(Vec::new())?))
    }

    /// The attached LoRA adapters and their scales, in attachment order.
    pub fn attached_adapters(&self) -> Vec<AttachedAdapter> {
        self.inner
            .attached_adapters()
            .into_iter()
            .map(|(adapter, scale)| AttachedAdapter {
                adapter: Arc::new(Adapter { inner: adapter }),
                scale,
            })
            .collect()
    }

    /// The first attached LoRA adapter and its scale, if any (see
    /// [`Session::attached_adapters`]).
    pub fn attached_adapter(&self) -> Option<AttachedAdapter> {
        self.inner
            .attached_adapter()
            .map(|(adapter, scale)| AttachedAdapter {
                adapter: Arc::new(Adapter { inner: adapter }),
                scale,
            })
    }

    /// Answers `prompt` with free text.
    ///
    /// # Errors
    /// [`TrellisError::ConcurrentRequests`], [`TrellisError::InvalidOptions`],
    /// [`TrellisError::ExceededContextWindow`], llama.cpp failures.
    pub async fn respond(&self, prompt: String) -> Result<Response, TrellisError> {
        guard_async(async {
            let r = self.inner.respond(prompt).await?;
            Ok(Response {
                content: r.content,
                usage: r.usage.into(),
                finish_reason: r.finish_reason.into(),
            })
        })
        .await
    }

    /// Answers `prompt` with JSON that is valid for the JSON Schema `schema_json`
    /// (grammar-constrained decoding). The answer's `content` is the JSON text.
    ///
    /// # Errors
    /// [`TrellisError::Schema`] for a malformed or unsupported schema,
    /// [`TrellisError::IncompleteOutput`] when `max_tokens` cut the answer, and the errors of
    /// [`Session::respond`].
    pub async fn respond_json(
        &self,
        prompt: String,
        schema_json: String,
    ) -> Result<Response, TrellisError> {
        guard_async(async {
            let value: serde_json::Value =
                serde_json::from_str(&schema_json).map_err(|e| TrellisError::Schema {
                    reason: format!("the schema is not JSON: {e}"),
                })?;
            let schema = trellis::GenerationSchema::from_json(value)
                .map_err(|e| TrellisError::Schema { reason: text(e) })?;
            let r = self.inner.respond_with_schema(prompt, &schema).await?;
            Ok(Response {
                content: r.content.to_json_string(),
                usage: r.usage.into(),
                finish_reason: r.finish_reason.into(),
            })
        })
        .await
    }

    /// Starts a streamed answer; pull the pieces with [`ResponseStream::next`].
    pub async fn stream(&self, prompt: String) -> Arc<ResponseStream> {
        let stream = self.inner.stream(prompt);
        Arc::new(ResponseStream {
            session: self.inner.clone(),
            stream: tokio::sync::Mutex::new(Some(stream)),
        })
    }

    /// Streams an answer to `observer`, piece by piece, until the answer ends or the
    /// observer returns `false`. Returns once generation has stopped.
    ///
    /// # Errors
    /// Generation errors, and errors raised by the observer.
    pub async fn stream_with(
        &self,
        prompt: String,
        observer: Arc<dyn StreamObserver>,
    ) -> Result<StreamOutcome, TrellisError> {
        guard_async(async {
            let mut stream = self.inner.stream(prompt);
            let mut outcome = StreamOutcome {
                text: String::new(),
                deltas: 0,
                stopped: false,
            };
            let mut failure = None;
            while let Some(item) = stream.next().await {
                let delta = match item {
                    Ok(delta) => delta,
                    Err(e) => {
                        failure = Some(e.into());
                        break;
                    }
                };
                outcome.text.push_str(&delta);
                outcome.deltas += 1;
                match observer.on_delta(delta) {
                    Ok(true) => {}
                    Ok(false) => {
                        outcome.stopped = true;
                        break;
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            drop(stream);
            wait_until_idle(&self.inner).await;
            match failure {
                Some(e) => Err(e),
                None => Ok(outcome),
            }
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Tools implemented in foreign code
// ---------------------------------------------------------------------------------------------

/// A tool the model may call, implemented in foreign code (Swift, Kotlin, Python).
///
/// Give a list of them to [`Session::with_tools`]. The model only ever calls a tool by one
/// of the given names, with arguments that are valid for its [`Tool::parameters_json`]
/// schema (decoding is constrained by the grammar).
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    /// The tool's name, as the model calls it (unique within a session).
    fn name(&self) -> String;
    /// What the tool does, shown to the model.
    fn description(&self) -> String;
    /// The JSON Schema of the tool's arguments (a JSON object schema, as text). Bound
    /// strings with `maxLength` or `enum`: a small model can loop inside unbounded ones.
    fn parameters_json(&self) -> String;
    /// Runs the tool on `arguments_json` (a JSON object valid for the schema) and returns
    /// its output: text, or JSON text (passed to the model as JSON when it parses).
    ///
    /// # Errors
    /// The response fails with [`TrellisError::ToolCall`] naming the tool (or, with
    /// [`ToolErrorPolicy::ReportToModel`], the error text goes back to the model). A foreign
    /// exception that is not a `TrellisError` is reported as [`TrellisError::Callback`].
    async fn call(&self, arguments_json: String) -> Result<String, TrellisError>;
}

/// Wraps a foreign [`Tool`] as the core's [`trellis::DynamicTool`].
fn dynamic_tool(tool: Arc<dyn Tool>) -> Result<trellis::DynamicTool, TrellisError> {
    let name = tool.name();
    let invalid = |reason: String| TrellisError::InvalidTool {
        tool: name.clone(),
        reason,
    };
    if name.trim().is_empty() {
        return Err(invalid("the name is empty".into()));
    }
    let schema: serde_json::Value = serde_json::from_str(&tool.parameters_json())
        .map_err(|e| invalid(format!("the parameters schema is not JSON: {e}")))?;
    let schema = trellis::GenerationSchema::from_json(schema)
        .map_err(|e| invalid(format!("the parameters schema cannot be used: {e}")))?;
    let description = tool.description();
    Ok(trellis::DynamicTool::new(
        name.clone(),
        description,
        schema,
        move |arguments: trellis::GeneratedContent| {
            let tool = tool.clone();
            async move {
                let output = guard_async(tool.call(arguments.to_json_string()))
                    .await
                    .map_err(|e| Box::new(e) as trellis::BoxError)?;
                Ok(serde_json::from_str(&output).unwrap_or(serde_json::Value::String(output)))
            }
        },
    ))
}

/// What a failing tool does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ToolErrorPolicy {
    /// The response fails with [`TrellisError::ToolCall`].
    Fail,
    /// The error text becomes the tool's output and the model continues.
    ReportToModel,
}

/// Whether the model must call a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ToolChoice {
    /// The model calls tools or answers, as it sees fit.
    Auto,
    /// The first step of every response must call at least one tool.
    Required,
}

/// Options of the tool loop (see [`default_tool_options`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ToolOptions {
    /// Most rounds of tool calls in one response (at least 1).
    pub max_rounds: u32,
    /// Most calls in one round (at least 1).
    pub max_calls_per_round: u32,
    /// Show each tool's parameters schema in the prompt (decoding is constrained either way).
    pub include_schema_in_prompt: bool,
    /// What a failing tool does.
    pub on_error: ToolErrorPolicy,
    /// Whether the first step must call a tool.
    pub tool_choice: ToolChoice,
}

/// The SDK's default tool options (5 rounds, 4 calls per round, schemas in the prompt,
/// failing tools fail the response, the model chooses).
#[uniffi::export]
pub fn default_tool_options() -> ToolOptions {
    let o = trellis::ToolOptions::default();
    ToolOptions {
        max_rounds: u32::try_from(o.max_rounds).unwrap_or(u32::MAX),
        max_calls_per_round: u32::try_from(o.max_calls_per_round).unwrap_or(u32::MAX),
        include_schema_in_prompt: o.include_schema_in_prompt,
        on_error: match o.on_error {
            trellis::ToolErrorPolicy::ReportToModel => ToolErrorPolicy::ReportToModel,
            _ => ToolErrorPolicy::Fail,
        },
        tool_choice: match o.tool_choice {
            trellis::ToolChoice::Required => ToolChoice::Required,
            _ => ToolChoice::Auto,
        },
    }
}

impl TryFrom<ToolOptions> for trellis::ToolOptions {
    type Error = TrellisError;

    fn try_from(o: ToolOptions) -> Result<Self, TrellisError> {
        let at_least_one = |option: &str, value: u32| {
            if value == 0 {
                Err(TrellisError::InvalidOptions {
                    option: option.into(),
                    reason: "must be at least 1".into(),
                })
            } else {
                Ok(value as usize)
            }
        };
        Ok(trellis::ToolOptions {
            max_rounds: at_least_one("max_rounds", o.max_rounds)?,
            max_calls_per_round: at_least_one("max_calls_per_round", o.max_calls_per_round)?,
            include_schema_in_prompt: o.include_schema_in_prompt,
            on_error: match o.on_error {
                ToolErrorPolicy::Fail => trellis::ToolErrorPolicy::Fail,
                ToolErrorPolicy::ReportToModel => trellis::ToolErrorPolicy::ReportToModel,
            },
            tool_choice: match o.tool_choice {
                ToolChoice::Auto => trellis::ToolChoice::Auto,
                ToolChoice::Required => trellis::ToolChoice::Required,
            },
            ..trellis::ToolOptions::default()
        })
    }
}

// ---------------------------------------------------------------------------------------------
// LoRA adapters
// ---------------------------------------------------------------------------------------------

/// One metadata key/value of an adapter file (non-text values rendered as text).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AdapterMetadata {
    /// The GGUF key, e.g. `general.name`.
    pub key: String,
    /// The value: strings verbatim, numbers and booleans in decimal, arrays summarised.
    pub value: String,
}

fn metadata_value_text(value: &trellis_gguf::MetadataValue) -> String {
    use trellis_gguf::MetadataValue as V;
    match value {
        V::String(s) => s.clone(),
        V::Bool(b) => b.to_string(),
        V::F32(v) => v.to_string(),
        V::F64(v) => v.to_string(),
        V::Array(a) => format!("{a:?}").chars().take(200).collect(),
        other => other
            .as_i64()
            .map(|v| v.to_string())
            .unwrap_or_else(|| format!("{other:?}")),
    }
}

/// A LoRA adapter loaded for a [`Model`]; attach it to sessions with
/// [`Session::set_adapter`] (one) or [`Session::set_adapters`] (stacked).
#[derive(uniffi::Object)]
pub struct Adapter {
    inner: trellis::Adapter,
}

#[uniffi::export]
impl Adapter {
    /// Loads the GGUF LoRA adapter at `path` for `model`. The file is checked against the
    /// model (architecture, every target tensor exists, shapes agree) before llama.cpp sees
    /// it.
    ///
    /// # Errors
    /// [`TrellisError::Io`] for a missing file, [`TrellisError::Adapter`] naming what is
    /// wrong with the file, [`TrellisError::AdapterLoad`] when llama.cpp refuses it.
    #[uniffi::constructor]
    pub fn load(model: Arc<Model>, path: String) -> Result<Arc<Self>, TrellisError> {
        guard(|| {
            Ok(Arc::new(Adapter {
                inner: trellis::Adapter::load(&model.inner, path)?,
            }))
        })
    }

    /// The file the adapter was loaded from.
    pub fn path(&self) -> String {
        self.inner.path().display().to_string()
    }

    /// `general.name`, if the file has one.
    pub fn name(&self) -> Option<String> {
        self.inner.name().map(str::to_owned)
    }

    /// The rank shared by all A/B pairs (`None` if the pairs have different ranks).
    pub fn rank(&self) -> Option<u64> {
        self.inner.rank()
    }

    /// `adapter.lora.alpha`, if present: the effective scale is `scale × alpha / rank`.
    pub fn alpha(&self) -> Option<f32> {
        self.inner.alpha()
    }

    /// Names of the adapted base tensors (e.g. `blk.0.attn_q.weight`), sorted.
    pub fn targets(&self) -> Vec<String> {
        self.inner
            .targets()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// All metadata key/values of the adapter file, in file order.
    pub fn metadata(&self) -> Vec<AdapterMetadata> {
        self.inner
            .metadata()
            .iter()
            .map(|(key, value)| AdapterMetadata {
                key: key.clone(),
                value: metadata_value_text(value),
            })
            .collect()
    }

    /// Whether the adapter was loaded for `model` (the same loaded model).
    pub fn belongs_to(&self, model: Arc<Model>) -> bool {
        self.inner.belongs_to(&model.inner)
    }
}

/// An adapter attached to a session, with its scale (effective factor: `scale × alpha /
/// rank`).
#[derive(uniffi::Record)]
pub struct AttachedAdapter {
    /// The adapter.
    pub adapter: Arc<Adapter>,
    /// Its scale.
    pub scale: f32,
}

/// Writes a LoRA adapter with seeded pseudo-random weights (no training) for `model` to
/// `path`: rank `rank`, alpha = rank, on every layer's attention queries/values and MLP
/// up-projections, named `name`. Meant for tests and demos: an adapted session answers
/// differently from the base model, not better.
///
/// # Errors
/// [`TrellisError::Adapter`] when the file cannot be written or `rank` is out of range.
#[uniffi::export]
pub fn write_random_adapter(
    model: Arc<Model>,
    path: String,
    name: String,
    rank: u32,
    seed: u64,
) -> Result<(), TrellisError> {
    guard(|| {
        let failed = |reason: String| TrellisError::Adapter {
            path: path.clone(),
            reason,
        };
        if rank == 0 || rank > 64 {
            return Err(failed(format!("rank {rank} is not in 1..=64")));
        }
        let base = trellis_gguf::GgufFile::open(model.inner.path()).map_err(|e| failed(text(e)))?;
        trellis::lora::AdapterWriter::new(&base)
            .target("blk.*.attn_q.weight")
            .target("blk.*.attn_v.weight")
            .target("blk.*.ffn_up.weight")
            .rank(u64::from(rank))
            .alpha(rank as f32)
            .amplitude(0.08)
            .seed(seed)
            .name(&name)
            .metadata("training.creator", "trellis-ffi write_random_adapter")
            .write(&path)
            .map_err(|e| failed(text(e)))?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Pull-style stream
// ---------------------------------------------------------------------------------------------

/// The pieces of a streamed answer, pulled one at a time with [`ResponseStream::next`].
#[derive(uniffi::Object)]
pub struct ResponseStream {
    session: trellis::Session,
    stream: tokio::sync::Mutex<Option<trellis::ResponseStream>>,
}

#[uniffi::export(async_runtime = "tokio")]
impl ResponseStream {
    /// The next piece of text, or `None` when the answer is complete (or was cancelled).
    ///
    /// # Errors
    /// A generation error ends the stream; later calls return `None`.
    pub async fn next(&self) -> Result<Option<String>, TrellisError> {
        guard_async(async {
            let mut slot = self.stream.lock().await;
            let Some(stream) = slot.as_mut() else {
                return Ok(None);
            };
            match stream.next().await {
                Some(Ok(delta)) => Ok(Some(delta)),
                Some(Err(e)) => {
                    *slot = None;
                    Err(e.into())
                }
                None => {
                    *slot = None;
                    Ok(None)
                }
            }
        })
        .await
    }

    /// Stops generation and waits until the session is free for the next request.
    pub async fn cancel(&self) {
        let stream = self.stream.lock().await.take();
        if stream.is_some() {
            drop(stream);
            wait_until_idle(&self.session).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn core_errors_map_to_their_own_variant() {
        let e: TrellisError = trellis::Error::NotGguf {
            path: PathBuf::from("/tmp/x.txt"),
        }
        .into();
        assert!(matches!(e, TrellisError::NotGguf { ref path } if path == "/tmp/x.txt"));

        let e: TrellisError = trellis::Error::ExceededContextWindow {
            used: 2000,
            limit: 1024,
        }
        .into();
        assert!(matches!(
            e,
            TrellisError::ExceededContextWindow {
                used: 2000,
                limit: 1024
            }
        ));
        assert_eq!(
            e.to_string(),
            "exceeded the context window: 2000 tokens needed, the context holds 1024"
        );

        let e: TrellisError = trellis::Error::InvalidOptions {
            option: "top_p",
            reason: "must be in (0, 1]".into(),
        }
        .into();
        assert!(matches!(e, TrellisError::InvalidOptions { ref option, .. } if option == "top_p"));

        let e: TrellisError = trellis::Error::IncompleteOutput {
            output: "{\"a\":".into(),
            max_tokens: Some(3),
        }
        .into();
        assert!(matches!(
            e,
            TrellisError::IncompleteOutput {
                max_tokens: Some(3),
                ..
            }
        ));

        let e: TrellisError = trellis::Error::Io {
            path: PathBuf::from("/nope"),
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        }
        .into();
        assert!(
            matches!(e, TrellisError::Io { ref path, ref reason } if path == "/nope" && reason.contains("denied"))
        );
    }

    #[test]
    fn unexpected_callback_errors_become_callback_variant() {
        let e: TrellisError = uniffi::UnexpectedUniFFICallbackError::new("ValueError: boom").into();
        assert!(matches!(e, TrellisError::Callback { ref reason } if reason.contains("boom")));
    }

    #[test]
    fn panics_become_internal_errors() {
        let r: Result<(), TrellisError> = guard(|| panic!("kaboom"));
        assert!(
            matches!(r, Err(TrellisError::Internal { ref reason }) if reason.contains("kaboom"))
        );

        let r: Result<(), TrellisError> =
            futures::executor::block_on(guard_async(async { panic!("async {}", "kaboom") }));
        assert!(
            matches!(r, Err(TrellisError::Internal { ref reason }) if reason.contains("async kaboom"))
        );
    }

    struct RustTool {
        schema: &'static str,
        panics: bool,
    }

    #[async_trait::async_trait]
    impl Tool for RustTool {
        fn name(&self) -> String {
            "shout".into()
        }
        fn description(&self) -> String {
            "Upper-cases a word.".into()
        }
        fn parameters_json(&self) -> String {
            self.schema.into()
        }
        async fn call(&self, arguments_json: String) -> Result<String, TrellisError> {
            if self.panics {
                panic!("tool bug");
            }
            let v: serde_json::Value =
                serde_json::from_str(&arguments_json).map_err(|e| TrellisError::InvalidJson {
                    reason: e.to_string(),
                })?;
            let word = v["word"].as_str().unwrap_or_default().to_uppercase();
            Ok(if word == "JSON" {
                r#"{"loud": true}"#.into()
            } else {
                word
            })
        }
    }

    const WORD_SCHEMA: &str = r#"{"type":"object","properties":{"word":{"type":"string","maxLength":10}},"required":["word"]}"#;

    #[test]
    fn foreign_tools_become_dynamic_tools() {
        use trellis::ErasedTool;
        let tool = dynamic_tool(Arc::new(RustTool {
            schema: WORD_SCHEMA,
            panics: false,
        }))
        .unwrap();
        assert_eq!(tool.tool_name(), "shout");
        assert_eq!(tool.tool_description(), "Upper-cases a word.");
        let call = |word: &str| {
            let args = trellis::GeneratedContent::from_json_str(&format!(r#"{{"word":"{word}"}}"#))
                .unwrap();
            futures::executor::block_on(tool.call_json(args)).unwrap()
        };
        // Text stays text; output that parses as JSON is passed on as JSON.
        assert_eq!(call("hi"), serde_json::json!("HI"));
        assert_eq!(call("json"), serde_json::json!({"loud": true}));
    }

    #[test]
    fn bad_tool_schemas_are_invalid_tool_errors() {
        for schema in ["{not json", "[1, 2]", r##"{"$ref":"#/$defs/missing"}"##] {
            let err = dynamic_tool(Arc::new(RustTool {
                schema,
                panics: false,
            }))
            .unwrap_err();
            assert!(
                matches!(err, TrellisError::InvalidTool { ref tool, .. } if tool == "shout"),
                "{schema}: {err}"
            );
        }
    }

    #[test]
    fn a_panicking_tool_is_an_error_not_a_panic() {
        use trellis::ErasedTool;
        let tool = dynamic_tool(Arc::new(RustTool {
            schema: WORD_SCHEMA,
            panics: true,
        }))
        .unwrap();
        let args = trellis::GeneratedContent::from_json_str(r#"{"word":"x"}"#).unwrap();
        let err = futures::executor::block_on(tool.call_json(args)).unwrap_err();
        assert!(err.to_string().contains("tool bug"), "{err}");
    }

    #[test]
    fn tool_options_round_trip_and_refuse_zero() {
        let defaults = default_tool_options();
        let core = trellis::ToolOptions::try_from(defaults).unwrap();
        assert_eq!(core, trellis::ToolOptions::default());
        let required = ToolOptions {
            tool_choice: ToolChoice::Required,
            on_error: ToolErrorPolicy::ReportToModel,
            max_rounds: 2,
            ..defaults
        };
        let core = trellis::ToolOptions::try_from(required).unwrap();
        assert_eq!(core.tool_choice, trellis::ToolChoice::Required);
        assert_eq!(core.on_error, trellis::ToolErrorPolicy::ReportToModel);
        assert_eq!(core.max_rounds, 2);
        for zero in [
            ToolOptions {
                max_rounds: 0,
                ..defaults
            },
            ToolOptions {
                max_calls_per_round: 0,
                ..defaults
            },
        ] {
            assert!(matches!(
                trellis::ToolOptions::try_from(zero),
                Err(TrellisError::InvalidOptions { .. })
            ));
        }
    }

    #[test]
    fn metadata_values_render_as_text() {
        use trellis_gguf::MetadataValue as V;
        assert_eq!(metadata_value_text(&V::String("abc".into())), "abc");
        assert_eq!(metadata_value_text(&V::U32(7)), "7");
        assert_eq!(metadata_value_text(&V::I64(-3)), "-3");
        assert_eq!(metadata_value_text(&V::F32(0.5)), "0.5");
        assert_eq!(metadata_value_text(&V::Bool(true)), "true");
    }

    #[test]
    fn options_convert_field_by_field() {
        let o: trellis::GenerationOptions = GenerationOptions {
            sampling: Sampling::Random {
                temperature: 0.5,
                top_k: 7,
                top_p: 0.9,
                seed: Some(42),
            },
            max_tokens: 11,
        }
        .into();
        assert_eq!(o.max_tokens, 11);
        assert_eq!(
            o.sampling,
            trellis::Sampling::Random {
                temperature: 0.5,
                top_k: 7,
                top_p: 0.9,
                seed: Some(42)
            }
        );
        let m: trellis::ModelOptions = ModelOptions {
            context_size: 512,
            threads: 2,
            batch_size: 64,
        }
        .into();
        assert_eq!((m.context_size, m.threads, m.batch_size), (512, 2, 64));
        assert_eq!(ModelOptions::from(&m).threads, 2);
    }
}
