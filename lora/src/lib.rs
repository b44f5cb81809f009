//! LoRA adapters for Trellis, at the file level.
//!
//! - [`AdapterInfo::inspect`] reads a GGUF LoRA adapter (the format llama.cpp loads:
//!   `general.type = "adapter"`, `adapter.type = "lora"`, optional `adapter.lora.alpha`,
//!   tensor pairs `<base>.lora_a` / `<base>.lora_b`) and
//!   [`AdapterInfo::validate_against`] checks it against a base model before llama.cpp sees it.
//! - [`AdapterWriter`] writes adapters with deterministic pseudo-random weights.
//! - [`convert_peft`] converts a Hugging Face PEFT LoRA (`adapter_config.json` +
//!   `adapter_model.safetensors`) to a GGUF adapter.
//!
//! Shapes use ggml order (first dimension varies fastest): a base weight `[n_in, n_out]`
//! takes `lora_a = [n_in, r]` and `lora_b = [r, n_out]`; for the token embedding
//! `[n_embd, n_vocab]` A and B are flipped: `lora_a = [r, n_vocab]`, `lora_b = [r, n_embd]`.
#![warn(missing_docs)]

mod adapter;
mod error;
mod peft;
mod writer;

pub use adapter::{AdapterInfo, LoraTarget};
pub use error::LoraError;
pub use peft::{convert_peft, peft_to_gguf_name, PeftConfig};
pub use writer::{glob_match, AdapterWriter};
