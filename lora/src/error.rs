//! Error type of the LoRA crate.

use std::path::PathBuf;

use trellis_gguf::GgufError;

/// Everything that can go wrong inspecting, validating, writing or converting an adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoraError {
    /// The file is not a GGUF file at all.
    #[error("{path}: not a GGUF file (magic bytes {found_magic:02x?})")]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// Its first bytes.
        found_magic: Vec<u8>,
    },

    /// The GGUF file is damaged or unreadable.
    #[error("GGUF error: {0}")]
    Gguf(#[from] GgufError),

    /// I/O error outside GGUF parsing (reading a PEFT config or safetensors file).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The GGUF file is a model, not an adapter (`general.type` is not `"adapter"`).
    #[error("this is a base model (general.type = {general_type:?}, architecture {architecture:?}), not a LoRA adapter")]
    BaseModelNotAdapter {
        /// `general.type` as found (`None` when absent).
        general_type: Option<String>,
        /// `general.architecture` as found.
        architecture: Option<String>,
    },

    /// The adapter is not a LoRA adapter (`adapter.type` is not `"lora"`).
    #[error("adapter.type is {found:?}, expected \"lora\"")]
    NotLora {
        /// `adapter.type` as found (`None` when absent).
        found: Option<String>,
    },

    /// A required metadata key is missing or has the wrong type.
    #[error("metadata key {key:?}: {reason}")]
    BadMetadata {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },

    /// A tensor's name ends neither in `.lora_a`, `.lora_b` nor `_norm.weight`.
    #[error(
        "tensor {tensor:?} is not a LoRA tensor (expected a name ending in .lora_a or .lora_b)"
    )]
    UnexpectedTensor {
        /// The tensor name.
        tensor: String,
    },

    /// One half of an A/B pair is missing.
    #[error("LoRA pair for {target:?} is missing its {missing} tensor")]
    MissingPair {
        /// The base tensor name.
        target: String,
        /// `"lora_a"` or `"lora_b"`.
        missing: &'static str,
    },

    /// A LoRA tensor is not two-dimensional.
    #[error("LoRA tensor {tensor:?} has shape {dims:?}, expected two dimensions")]
    NotMatrix {
        /// The tensor name.
        tensor: String,
        /// Its dimensions.
        dims: Vec<u64>,
    },

    /// A and B of one pair disagree on the rank.
    #[error("LoRA pair for {target:?}: lora_a has rank {rank_a}, lora_b has rank {rank_b}")]
    RankMismatch {
        /// The base tensor name.
        target: String,
        /// Rank according to A.
        rank_a: u64,
        /// Rank according to B.
        rank_b: u64,
    },

    /// Adapter and base model are for different architectures.
    #[error("adapter is for architecture {adapter:?}, base model is {:?}", base.as_deref().unwrap_or("(none)"))]
    ArchitectureMismatch {
        /// The adapter's `general.architecture`.
        adapter: String,
        /// The base model's `general.architecture`.
        base: Option<String>,
    },

    /// A target tensor does not exist in the base model.
    #[error("LoRA target {target:?} does not exist in the base model")]
    MissingBaseTensor {
        /// The base tensor name.
        target: String,
    },

    /// A LoRA tensor's shape does not fit the base model's weight.
    #[error("LoRA tensor {tensor:?} has shape {found:?}, expected {expected:?} for base weight {target:?} of shape {base_dims:?}")]
    ShapeMismatch {
        /// The LoRA tensor (`<target>.lora_a` / `.lora_b`, or the PEFT name during conversion).
        tensor: String,
        /// The base tensor.
        target: String,
        /// The base tensor's dimensions (ggml order).
        base_dims: Vec<u64>,
        /// Expected dimensions (ggml order).
        expected: Vec<u64>,
        /// Dimensions found (ggml order).
        found: Vec<u64>,
    },

    /// The adapter targets `token_embd.weight` but the base model ties its output projection
    /// to the embedding (no `output.weight`). llama.cpp would then apply the embedding's
    /// flipped A/B to the output projection as well and abort the process on the shape
    /// mismatch (measured with Gemma 3 270M), so such adapters are refused.
    #[error("LoRA target {target:?}: the base model ties its output projection to the token embedding (no output.weight); llama.cpp cannot apply an embedding LoRA to it")]
    TiedEmbedding {
        /// The embedding tensor name.
        target: String,
    },

    /// No base tensor matched the requested target patterns.
    #[error("no 2-D tensor of the base model matches the target patterns {patterns:?}")]
    NoTargets {
        /// The patterns.
        patterns: Vec<String>,
    },

    /// A parameter is out of range (rank 0, non-finite alpha, ...).
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The PEFT `adapter_config.json` is malformed or describes something unsupported.
    #[error("PEFT config {path}: {reason}")]
    PeftConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// The safetensors file could not be parsed.
    #[error("safetensors file {path}: {reason}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },

    /// A PEFT tensor cannot be mapped to a GGUF tensor name or has an unsupported layout.
    #[error("PEFT tensor {tensor:?}: {reason}")]
    UnsupportedPeftTensor {
        /// The safetensors tensor name.
        tensor: String,
        /// Why it cannot be converted.
        reason: String,
    },
}
