//! Foreign-language bindings for Trellis, generated with [UniFFI](https://mozilla.github.io/uniffi-rs/).
//!
//! This crate is the only one that knows UniFFI: it wraps the `trellis` SDK in
//! FFI-friendly objects ([`Model`], [`Session`], [`ResponseStream`]), records
//! ([`ModelOptions`], [`GenerationOptions`], [`Usage`], [`Response`]) and one error enum
//! ([`TrellisError`]). `scripts/gen-bindings.sh` turns the compiled library into Python
//! (and later Kotlin/Swift) sources.
//!
//! Guarantees at the boundary:
//! - every `trellis::Error` maps to a specific [`TrellisError`] variant;
//! - a panic inside an exported call becomes [`TrellisError::Internal`] instead of unwinding
//!   into foreign code;
//! - an unexpected exception raised by a foreign [`StreamObserver`] becomes
//!   [`TrellisError::Callback`].
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
