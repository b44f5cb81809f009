//! The process-wide llama.cpp backend.

use std::sync::{Mutex, OnceLock};

use llama_cpp_2::llama_backend::LlamaBackend;

use crate::error::{Error, Result};

static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();

/// Serialises context creation: llama-cpp-2 documents creating contexts from one model in
/// parallel as unsound.
pub(crate) static CONTEXT_CREATION: Mutex<()> = Mutex::new(());

/// The process's llama.cpp backend, initialised on first use with llama.cpp's logging routed
/// to `tracing` (nothing is printed to stderr).
///
/// Trellis initialises the backend exactly once per process. Code that also uses
/// `llama-cpp-2` directly in the same process (benchmarks, comparisons) must use this backend,
/// since a second `LlamaBackend::init()` fails.
#[doc(hidden)]
pub fn llama_backend() -> Result<&'static LlamaBackend> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Backend(e.clone()))
}
