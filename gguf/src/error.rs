//! Error type of the GGUF reader and writer.

/// Everything that can go wrong while reading or writing a GGUF file.
///
/// Every variant names what was being read and where, so a message can be shown to a user
/// as is. Hostile or damaged input never panics: it ends up in one of these variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// The file does not start with the four bytes `GGUF`.
    #[error("not a GGUF file: magic bytes are {found_magic:02x?}, expected \"GGUF\"")]
    NotGguf {
        /// The first bytes of the file (up to four).
        found_magic: Vec<u8>,
    },

    /// The GGUF version is not 2 or 3 (or the file is big-endian).
    #[error("unsupported GGUF version {version} (supported: 2 and 3)")]
    UnsupportedVersion {
        /// The version field as read (little-endian).
        version: u32,
    },

    /// The file ends before the structure being read.
    #[error("truncated GGUF file: {what} at byte {offset} runs past the end of the file ({file_len} bytes)")]
    Truncated {
        /// What was being read, e.g. `metadata key #3` or `tensor data of "blk.0.attn_q.weight"`.
        what: String,
        /// Byte offset where the cut structure starts.
        offset: u64,
        /// Length of the file.
        file_len: u64,
    },

    /// A metadata value type tag is not one of the thirteen GGUF value types.
    #[error("invalid metadata value type {value_type} for key {key:?} at byte {offset}")]
    InvalidValueType {
        /// The key whose value has the bad tag.
        key: String,
        /// The tag as read.
        value_type: u32,
        /// Byte offset of the tag.
        offset: u64,
    },

    /// A string (key, value or tensor name) is not valid UTF-8.
    #[error("invalid UTF-8 in {key} at byte {offset}")]
    InvalidUtf8 {
        /// The metadata key (or a description such as `tensor name #4`) holding the bad string.
        key: String,
        /// Byte offset of the string's bytes.
        offset: u64,
    },

    /// A boolean metadata value is neither 0 nor 1.
    #[error("invalid boolean value {value} for key {key:?} at byte {offset}")]
    InvalidBool {
        /// The key holding the value.
        key: String,
        /// The byte as read.
        value: u8,
        /// Byte offset of the value.
        offset: u64,
    },

    /// A tensor uses a ggml type this crate does not know.
    #[error("tensor {tensor:?} has unknown ggml type {type_id}")]
    UnknownTensorType {
        /// Tensor name.
        tensor: String,
        /// The type id as read.
        type_id: u32,
    },

    /// A tensor's dimensions are unusable (zero or more than four dimensions, a first
    /// dimension that is not a multiple of the type's block size, ...).
    #[error("tensor {tensor:?} has invalid shape {dims:?}: {reason}")]
    InvalidTensorShape {
        /// Tensor name.
        tensor: String,
        /// Dimensions as read (ggml order, fastest-varying first).
        dims: Vec<u64>,
        /// Why the shape is refused.
        reason: String,
    },

    /// Two tensors share a name.
    #[error("duplicate tensor name {tensor:?}")]
    DuplicateTensor {
        /// The repeated name.
        tensor: String,
    },

    /// A tensor's offset is not a multiple of the file's alignment.
    #[error("tensor {tensor:?} has offset {offset}, not a multiple of the alignment {alignment}")]
    MisalignedTensor {
        /// Tensor name.
        tensor: String,
        /// Offset relative to the start of the data section.
        offset: u64,
        /// The file's alignment.
        alignment: u64,
    },

    /// `general.alignment` is zero, not a power of two, or not an integer.
    #[error("invalid general.alignment: {reason}")]
    InvalidAlignment {
        /// Why the value is refused.
        reason: String,
    },

    /// A tensor's data extends past the end of the file.
    #[error(
        "tensor {tensor:?} data ends at byte {end}, past the end of the file ({file_len} bytes)"
    )]
    TensorOutOfBounds {
        /// Tensor name.
        tensor: String,
        /// Absolute end offset of the tensor's data.
        end: u64,
        /// Length of the file.
        file_len: u64,
    },

    /// A structure exceeds a fixed safety limit (e.g. arrays nested deeper than
    /// [`MAX_ARRAY_DEPTH`](crate::MAX_ARRAY_DEPTH)). Counts larger than the rest of the file
    /// could hold are reported as [`GgufError::Truncated`].
    #[error("{what} is too large: {value} (limit {limit})")]
    TooLarge {
        /// What was counted, e.g. `array length of "tokenizer.ggml.tokens"`.
        what: String,
        /// The value as read.
        value: u64,
        /// The largest value accepted here.
        limit: u64,
    },

    /// The writer was given inconsistent input (mixed array element types, data of the
    /// wrong length, duplicate names, ...).
    #[error("invalid input for the GGUF writer: {reason}")]
    InvalidInput {
        /// What is wrong.
        reason: String,
    },

    /// A tensor's data cannot be decoded to `f32` by this crate (only F32, F16 and BF16 can).
    #[error("tensor {tensor:?} has type {ggml_type}, which cannot be decoded to f32")]
    UnsupportedConversion {
        /// Tensor name.
        tensor: String,
        /// The tensor's type name.
        ggml_type: String,
    },
}
