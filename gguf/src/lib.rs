//! Read, validate and write [GGUF] files, the model format of llama.cpp.
//!
//! [`GgufFile`] parses a file's header — version, metadata key/values (all thirteen value
//! types, nested arrays, file order kept), tensor infos and data layout — and checks that
//! every tensor's data lies inside the file. Parsing is defensive: every count and length
//! is checked against the file size before anything is allocated, and damaged input yields
//! a typed [`GgufError`], never a panic. [`GgufWriter`] builds GGUF v3 files.
//!
//! ```
//! use trellis_gguf::{GgufError, GgufFile, GgufWriter};
//!
//! let mut w = GgufWriter::new();
//! w.set_metadata("general.architecture", "demo")?;
//! w.add_tensor_f16("t", &[4], &[0.5, 1.0, 1.5, 2.0])?;
//! let mut bytes = w.to_bytes()?;
//! let gguf = GgufFile::read(&bytes[..], bytes.len() as u64)?;
//! assert_eq!(gguf.tensors()[0].size, 8);
//!
//! bytes.truncate(bytes.len() - 1);
//! let err = GgufFile::read(&bytes[..], bytes.len() as u64).unwrap_err();
//! assert!(matches!(err, GgufError::Truncated { .. }));
//! # Ok::<(), GgufError>(())
//! ```
//!
//! [GGUF]: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
#![warn(missing_docs)]

mod error;
pub mod half;
mod reader;
mod tokenizer;
mod types;
mod writer;

pub use error::GgufError;
pub use reader::{GgufFile, DEFAULT_ALIGNMENT, MAX_ARRAY_DEPTH, MAX_DIMS};
pub use tokenizer::{TokenizerInfo, TOKEN_TYPE_CONTROL};
pub use types::{GgmlType, MetadataArray, MetadataValue, TensorInfo, ValueType};
pub use writer::GgufWriter;
