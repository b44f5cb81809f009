//! LoRA adapters loaded for a model and attached to sessions.
//!
//! An [`Adapter`] is a LoRA adapter file (GGUF, `general.type = "adapter"`) checked against
//! the model with [`trellis_lora`] and then loaded by llama.cpp. Sessions attach it with a
//! scale ([`Session::adapter`](crate::Session::adapter),
//! [`Session::set_adapter`](crate::Session::set_adapter)); sessions of one model can use
//! different adapters, or none, at the same time.
//!
//! # The unsafe boundary
//! llama-cpp-2 only loads adapters through `&mut LlamaModel`, but a [`Model`] is shared.
//! llama.cpp itself only needs the model pointer (it adds the adapter to the model's adapter
//! list), so this module calls `llama_adapter_lora_init` directly:
//!
//! - the model pointer is read out of `LlamaModel`, which (in the pinned llama-cpp-2 version)
//!   is `#[repr(transparent)]` over a non-null `llama_model` pointer — checked at compile time
//!   by a size assertion;
//! - the adapter keeps an `Arc` of the model, so it is freed (`llama_adapter_lora_free`)
//!   before the model;
//! - loading and freeing adapters change the model's adapter list, which llama.cpp also reads
//!   while (re)building a context's compute graph; all of these run under the one lock that
//!   already serialises context creation ([`CONTEXT_CREATION`]), and the engine holds it for
//!   the first evaluation after it changed a context's adapters (when the graph is rebuilt);
//! - a session's worker keeps a clone of every adapter attached to its context, so an
//!   adapter is never freed while a context uses it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};
use llama_cpp_sys_2::{llama_adapter_lora, llama_model};
use trellis_gguf::MetadataValue;
use trellis_lora::{AdapterInfo, LoraError, LoraTarget};

use crate::backend::CONTEXT_CREATION;
use crate::error::{Error, Result};
use crate::model::{Model, ModelInner};

// `LlamaModel` must be exactly one pointer (it is `#[repr(transparent)]` in llama-cpp-2
// 0.1.160, pinned in the workspace); `model_ptr` relies on it.
const _: () = assert!(std::mem::size_of::<LlamaModel>() == std::mem::size_of::<*mut llama_model>());

// An adapter is a handle like `Model` and `Session`.
const _: fn() = || {
    fn handle<T: Clone + Send + Sync + 'static>() {}
    handle::<Adapter>();
};

/// The raw llama.cpp model pointer of `llama`.
fn model_ptr(llama: &LlamaModel) -> *mut llama_model {
    // SAFETY: `LlamaModel` is `#[repr(transparent)]` over `Ptr<llama_model>`, itself
    // `#[repr(transparent)]` over `NonNull<llama_model>` (llama-cpp-2 0.1.160, pinned exactly;
    // the size is asserted above), so its bytes are the pointer.
    unsafe { *(llama as *const LlamaModel).cast::<*mut llama_model>() }
}

/// A LoRA adapter loaded for one [`Model`]: a cheap, thread-safe handle (clones share the
/// loaded weights).
///
/// ```no_run
/// # async fn demo() -> trellis::Result<()> {
/// use trellis::{Adapter, Model, Session};
///
/// let model = Model::bundled()?;
/// let adapter = Adapter::load(&model, "my-adapter.gguf")?;
/// println!("{:?}: rank {:?}, alpha {:?}", adapter.name(), adapter.rank(), adapter.alpha());
/// let session = Session::new(&model).adapter(&adapter, 1.0);
/// let answer = session.respond("Hello!").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Adapter {
    pub(crate) inner: Arc<AdapterInner>,
}

pub(crate) struct AdapterInner {
    ptr: NonNull<llama_adapter_lora>,
    path: PathBuf,
    info: AdapterInfo,
    /// Keeps the model alive while the adapter exists (dropped after `drop` frees the adapter).
    pub(crate) model: Arc<ModelInner>,
}

// SAFETY: llama.cpp never mutates an adapter after loading; the only shared mutable state
// (the model's adapter list) is touched under `CONTEXT_CREATION` (see the module docs).
unsafe impl Send for AdapterInner {}
// SAFETY: as above.
unsafe impl Sync for AdapterInner {}

impl Drop for AdapterInner {
    fn drop(&mut self) {
        let _serial = CONTEXT_CREATION.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: the pointer came from `llama_adapter_lora_init` for `self.model`, which is
        // still alive (this struct holds an `Arc` of it), and is freed exactly once. No
        // context uses it any more: every engine keeps a clone while it is attached.
        unsafe { llama_cpp_sys_2::llama_adapter_lora_free(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adapter")
            .field("path", &self.inner.path)
            .field("name", &self.inner.info.name)
            .field("rank", &self.rank())
            .field("alpha", &self.inner.info.alpha)
            .field("targets", &self.inner.info.targets.len())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Adapter {
    /// Two handles are equal when they share the same loaded adapter.
    fn eq(&self, other: &Adapter) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Adapter {
    /// Loads the LoRA adapter at `path` for `model`.
    ///
    /// The file is checked before llama.cpp sees it: it must be a GGUF LoRA adapter for the
    /// model's architecture whose every target tensor exists in the model with a fitting
    /// shape (see [`trellis_lora::AdapterInfo::validate_against`]).
    ///
    /// # Errors
    /// [`Error::Adapter`] with the [`LoraError`] that names the problem — among others
    /// [`LoraError::NotGguf`], [`LoraError::BaseModelNotAdapter`] (a model file instead of an
    /// adapter), [`LoraError::ArchitectureMismatch`], [`LoraError::MissingBaseTensor`],
    /// [`LoraError::ShapeMismatch`], [`LoraError::TiedEmbedding`]; [`Error::AdapterLoad`]
    /// when llama.cpp still refuses the file.
    ///
    /// ```no_run
    /// # fn main() -> trellis::Result<()> {
    /// let model = trellis::Model::bundled()?;
    /// let err = trellis::Adapter::load(&model, model.path()).unwrap_err();
    /// let trellis::Error::Adapter { source, .. } = err else { panic!("{err}") };
    /// assert!(matches!(*source, trellis::lora::LoraError::BaseModelNotAdapter { .. }));
    /// # Ok(()) }
    /// ```
    pub fn load(model: &Model, path: impl AsRef<Path>) -> Result<Adapter> {
        let path = path.as_ref().to_path_buf();
        let adapter_error = |source| Error::Adapter {
            path: path.clone(),
            source: Box::new(source),
        };
        if !path.is_file() {
            // A missing file or a directory: report it as an I/O error on the adapter.
            let source = if path.exists() {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a directory")
            } else {
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")
            };
            return Err(Error::Io { path, source });
        }
        let info = AdapterInfo::inspect(&path).map_err(adapter_error)?;
        let base = trellis_gguf::GgufFile::open(model.path())
            .map_err(|e| adapter_error(LoraError::Gguf(e)))?;
        info.validate_against(&base).map_err(adapter_error)?;
        drop(base);

        let c_path = path
            .to_str()
            .and_then(|s| std::ffi::CString::new(s).ok())
            .ok_or_else(|| Error::AdapterLoad {
                path: path.clone(),
                reason: "the path is not valid UTF-8 or contains a NUL byte".into(),
            })?;
        let raw = {
            let _serial = CONTEXT_CREATION.lock().unwrap_or_else(|p| p.into_inner());
            // SAFETY: the model pointer is valid while `model` is borrowed; llama.cpp reads
            // the file and registers the adapter with the model, under the lock that
            // serialises all access to the model's adapter list (see the module docs).
            unsafe {
                llama_cpp_sys_2::llama_adapter_lora_init(
                    model_ptr(&model.inner.llama),
                    c_path.as_ptr(),
                )
            }
        };
        let ptr = NonNull::new(raw).ok_or_else(|| Error::AdapterLoad {
            path: path.clone(),
            reason: "llama.cpp refused the adapter (see the llama-cpp-2 tracing logs)".into(),
        })?;
        tracing::debug!(?path, targets = info.targets.len(), "LoRA adapter loaded");
        Ok(Adapter {
            inner: Arc::new(AdapterInner {
                ptr,
                path,
                info,
                model: model.inner.clone(),
            }),
        })
    }

    /// The file the adapter was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// `general.name`, if the file has one.
    pub fn name(&self) -> Option<&str> {
        self.inner.info.name.as_deref()
    }

    /// The rank shared by all A/B pairs (`None` if the pairs have different ranks).
    pub fn rank(&self) -> Option<u64> {
        self.inner.info.rank()
    }

    /// `adapter.lora.alpha`, if present: the effective scale is `scale × alpha / rank`.
    pub fn alpha(&self) -> Option<f32> {
        self.inner.info.alpha
    }

    /// Names of the adapted base tensors (e.g. `blk.0.attn_q.weight`), sorted.
    pub fn targets(&self) -> Vec<&str> {
        self.inner
            .info
            .targets
            .iter()
            .map(|t| t.base.as_str())
            .collect()
    }

    /// The adapted base tensors with their A/B tensors and ranks.
    pub fn target_details(&self) -> &[LoraTarget] {
        &self.inner.info.targets
    }

    /// All metadata key/values of the adapter file, in file order (creator, base model, ...).
    pub fn metadata(&self) -> &[(String, MetadataValue)] {
        &self.inner.info.metadata
    }

    /// The metadata value of `key`.
    pub fn metadata_value(&self, key: &str) -> Option<&MetadataValue> {
        self.inner.info.get(key)
    }

    /// Everything [`trellis_lora::AdapterInfo::inspect`] found in the file.
    pub fn info(&self) -> &AdapterInfo {
        &self.inner.info
    }

    /// Whether the adapter was loaded for `model` (the same loaded model, not just the same
    /// file).
    pub fn belongs_to(&self, model: &Model) -> bool {
        Arc::ptr_eq(&self.inner.model, &model.inner)
    }

    /// A llama-cpp-2 handle of the loaded adapter, for `LlamaContext::lora_adapter_set`.
    /// The handle has no destructor; it must not outlive `self`.
    pub(crate) fn llama_handle(&self) -> LlamaLoraAdapter {
        // SAFETY: `LlamaLoraAdapter` is `#[repr(transparent)]` over `Ptr<llama_adapter_lora>`,
        // itself `#[repr(transparent)]` over `NonNull<llama_adapter_lora>` (llama-cpp-2
        // 0.1.160, pinned; `transmute` checks the size), and has no `Drop`.
        unsafe {
            std::mem::transmute::<NonNull<llama_adapter_lora>, LlamaLoraAdapter>(self.inner.ptr)
        }
    }
}

/// The adapter attached to a session: the adapter and its scale.
pub(crate) type Attached = Option<(Adapter, f32)>;

/// Whether two attachments give the same computation (same loaded adapter, same scale; a
/// zero scale counts as no adapter, as in llama.cpp).
pub(crate) fn same_attachment(a: &Attached, b: &Attached) -> bool {
    let norm = |x: &Attached| x.as_ref().filter(|(_, s)| *s != 0.0).cloned();
    match (norm(a), norm(b)) {
        (None, None) => true,
        (Some((a, sa)), Some((b, sb))) => a == b && sa.to_bits() == sb.to_bits(),
        _ => false,
    }
}

/// Checks an attachment for a session of `model`.
pub(crate) fn check_attachment(model: &Model, attached: &Attached) -> Result<()> {
    if let Some((adapter, scale)) = attached {
        if !scale.is_finite() {
            return Err(Error::invalid(
                "adapter scale",
                format!("must be finite, got {scale}"),
            ));
        }
        if !adapter.belongs_to(model) {
            return Err(Error::AdapterModelMismatch {
                adapter: adapter.path().to_path_buf(),
                model: model.path().to_path_buf(),
            });
        }
    }
    Ok(())
}
