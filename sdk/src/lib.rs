//! Trellis: typed answers from on-device language models.
//!
//! This crate loads a GGUF model with llama.cpp ([`Model`]) and holds conversations with it
//! ([`Session`]): plain-text answers, streamed or whole, multi-turn with KV-cache reuse,
//! greedy or seeded random sampling done on Trellis's side so that decoding can be
//! constrained token by token.
//!
//! ```no_run
//! # async fn demo() -> trellis::Result<()> {
//! use trellis::{Model, Session};
//!
//! let model = Model::bundled()?; // run `bash scripts/install-model.sh` first
//! let session = Session::new(&model).instructions("You are a helpful assistant.");
//! let response = session.respond("Name three colours.").await?;
//! println!("{}", response.content);
//! # Ok(()) }
//! ```
//!
//! llama.cpp's own logging is routed to [`tracing`] (target `llama-cpp-2`); nothing is
//! printed to stderr.

#![warn(missing_docs)]

// Lets `#[derive(Generable)]` (which emits `::trellis::...` paths) work inside this crate.
extern crate self as trellis;

mod adapter;
mod backend;
mod constraint;
mod cpu;
mod engine;
mod error;
mod guided;
mod model;
mod options;
mod prompt;
mod sampler;
mod session;
pub mod tools;
mod transcript;
mod utf8;

pub use adapter::Adapter;
/// The attribute to put on `impl Tool for ...` blocks (re-exported from `async-trait`).
pub use async_trait::async_trait;
#[doc(hidden)]
pub use backend::llama_backend;
#[doc(hidden)]
pub use constraint::TokenConstraint;
pub use error::{Error, Result};
pub use guided::{GuidedOptions, Snapshot, SnapshotStream};
pub use model::{cache_dir, Model, BUNDLED_MODEL_FILE, INSTALL_COMMAND};
pub use options::{GenerationOptions, ModelOptions, Sampling};
pub use session::{FinishReason, Response, ResponseFuture, ResponseStream, Session, Usage};
pub use tools::{
    run_tool_calls, BoxError, DynamicTool, ErasedTool, Tool, ToolCall, ToolChoice, ToolDefinition,
    ToolErrorPolicy, ToolEvent, ToolEventStream, ToolOptions,
};
pub use transcript::{Entry, Transcript};
pub use trellis_macros::Generable;
#[doc(hidden)]
pub use trellis_schema::__private;
pub use trellis_schema::Json;
pub use trellis_schema::{
    root_schema, ContentError, ContentKind, DecodeError, DynamicProperty, DynamicSchema, Generable,
    GeneratedContent, GenerationSchema, PartialJsonError, PartialJsonParser, SchemaError,
    SchemaGenerator,
};

/// LoRA adapter files: inspect, validate, write, convert (the `trellis-lora` crate).
pub use trellis_lora as lora;

/// JSON Schema to token-mask matching (the `trellis-grammar` crate).
pub use trellis_grammar as grammar;

/// The llama-cpp-2 crate Trellis is built on (for benchmarks and advanced use).
#[doc(hidden)]
pub use llama_cpp_2;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_handle<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn handles_are_clone_send_sync_static() {
        assert_handle::<Model>();
        assert_handle::<Session>();
        assert_handle::<Transcript>();
    }
}
