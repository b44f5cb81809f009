//! The one error type of the SDK.

use std::path::PathBuf;

/// Everything that can go wrong in Trellis.
///
/// Each variant names one cause so callers can match on it; the messages are meant to be
/// shown to a user as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bundled model is not installed in the cache directory.
    #[error("the bundled model is not installed at {}: run `{install_command}` to install it", path.display())]
    ModelNotInstalled {
        /// Where the model was looked for.
        path: PathBuf,
        /// The command that installs it (`bash scripts/install-model.sh`).
        install_command: String,
    },

    /// No file exists at the given model path.
    #[error("model file not found: {}", path.display())]
    ModelNotFound {
        /// The path that was given.
        path: PathBuf,
    },

    /// The file exists but does not start with the GGUF magic bytes.
    #[error("{} is not a GGUF file", path.display())]
    NotGguf {
        /// The offending file.
        path: PathBuf,
    },

    /// The file is a GGUF file but its header, metadata or tensor table is invalid.
    #[error("{} is not a valid GGUF file: {source}", path.display())]
    InvalidGguf {
        /// The offending file.
        path: PathBuf,
        /// What the GGUF reader found.
        #[source]
        source: trellis_gguf::GgufError,
    },

    /// The file is a GGUF file that ends too early (an interrupted download or copy).
    #[error("{} is a truncated GGUF file: {source}", path.display())]
    TruncatedGguf {
        /// The offending file.
        path: PathBuf,
        /// What the GGUF reader found.
        #[source]
        source: trellis_gguf::GgufError,
    },

    /// Reading a file failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// llama.cpp refused to load a file that passed GGUF validation.
    #[error("llama.cpp could not load the model {}: {reason}", path.display())]
    ModelLoad {
        /// The model file.
        path: PathBuf,
        /// What llama.cpp reported.
        reason: String,
    },

    /// The llama.cpp backend could not be initialised.
    #[error("could not initialise the llama.cpp backend: {0}")]
    Backend(String),

    /// llama.cpp could not create an inference context (usually: out of memory).
    #[error("could not create an inference context: {0}")]
    ContextCreation(String),

    /// Text could not be turned into tokens.
    #[error("could not tokenize the prompt: {0}")]
    Tokenize(String),

    /// The prompt could not be formatted with the model's chat template.
    #[error("could not format the prompt: {0}")]
    PromptFormat(String),

    /// llama.cpp failed to evaluate a batch of tokens.
    #[error("llama.cpp failed to decode: {0}")]
    Decode(String),

    /// A session was asked for a second answer while the first one was still being produced.
    #[error(
        "the session is already producing a response; wait for it before sending another request"
    )]
    ConcurrentRequests,

    /// The conversation does not fit in the context window.
    #[error("exceeded the context window: {used} tokens needed, the context holds {limit}")]
    ExceededContextWindow {
        /// Tokens the request needed when it stopped.
        used: usize,
        /// The context size.
        limit: usize,
    },

    /// The session's worker thread is gone (it panicked or the process is shutting down).
    #[error("the session's inference worker has stopped")]
    EngineStopped,

    /// An option is out of range.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOptions {
        /// The option's name.
        option: &'static str,
        /// Why the value is refused.
        reason: String,
    },

    /// A decoding constraint rejected a token or left no token to choose.
    #[error("decoding constraint failed: {0}")]
    Constraint(String),

    /// The JSON Schema cannot be compiled into a grammar (the error names the keyword and
    /// its JSON pointer).
    #[error("the schema cannot be enforced: {0}")]
    Schema(#[from] trellis_grammar::CompileError),

    /// The model's vocabulary cannot be used for constrained decoding.
    #[error("the model's vocabulary cannot be used for constrained decoding: {0}")]
    Vocabulary(String),

    /// Generation stopped (at `max_tokens`) before the constrained answer was complete.
    #[error("generation stopped before the answer was complete (max_tokens {max_tokens:?}); the partial output was: {output}")]
    IncompleteOutput {
        /// What was generated.
        output: String,
        /// The token limit in force, when known.
        max_tokens: Option<u32>,
    },

    /// The generated answer does not decode into the requested type. Constrained decoding
    /// makes this unreachable for schemas derived from the type; it guards hand-written
    /// `Generable` implementations whose schema and decoder disagree.
    #[error("the answer does not decode into the requested type: {reason}; output: {output}")]
    InvalidOutput {
        /// What was generated.
        output: String,
        /// Why decoding failed.
        reason: String,
    },

    /// A LoRA adapter file was refused before llama.cpp saw it (not a GGUF file, a base
    /// model instead of an adapter, another architecture, a target missing from the model,
    /// a wrong shape, ...). The [`trellis_lora::LoraError`] names the cause.
    #[error("LoRA adapter {}: {source}", path.display())]
    Adapter {
        /// The adapter file.
        path: PathBuf,
        /// What is wrong with it (boxed: the error names tensors and shapes).
        #[source]
        source: Box<trellis_lora::LoraError>,
    },

    /// llama.cpp refused an adapter that passed validation.
    #[error("llama.cpp could not load the LoRA adapter {}: {reason}", path.display())]
    AdapterLoad {
        /// The adapter file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// Several LoRA adapters were attached to one session, but the llama.cpp context pointer
    /// that stacking needs could not be identified in this build of llama-cpp-2 (a single
    /// adapter still works). See the `adapter` module's unsafe-boundary notes.
    #[error("stacking {count} LoRA adapters on one session is not available with this llama-cpp-2 build")]
    AdapterStackingUnavailable {
        /// How many adapters (with a non-zero scale) were attached.
        count: usize,
    },

    /// An adapter loaded for one model was attached to a session of another model.
    #[error("the LoRA adapter {} was loaded for another model than {}", adapter.display(), model.display())]
    AdapterModelMismatch {
        /// The adapter file.
        adapter: PathBuf,
        /// The session's model file.
        model: PathBuf,
    },

    /// A tool's `call` failed (or its arguments did not decode). With
    /// [`ToolErrorPolicy::ReportToModel`](crate::ToolErrorPolicy) the message goes back to
    /// the model instead.
    #[error("tool `{tool}` failed: {source}")]
    ToolCall {
        /// The tool's name.
        tool: String,
        /// What the tool reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The model still asked for tools after the maximum number of tool rounds.
    #[error("the model still called tools after {rounds} rounds (see ToolOptions::max_rounds)")]
    ToolRoundsExceeded {
        /// The limit that was reached.
        rounds: usize,
    },

    /// A tool cannot be offered to the model (empty or duplicate name, unusable schema).
    #[error("invalid tool `{tool}`: {reason}")]
    InvalidTool {
        /// The tool's name.
        tool: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result type of the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(option: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidOptions {
            option,
            reason: reason.into(),
        }
    }
}
