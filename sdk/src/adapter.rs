//! LoRA adapters loaded for a model and attached to sessions.
//!
//! An [`Adapter`] is a LoRA adapter file (GGUF, `general.type = "adapter"`) checked against
//! the model with [`trellis_lora`] and then loaded by llama.cpp. Sessions attach it with a
//! scale ([`Session::adapter`](crate::Session::adapter),
//! [`Session::set_adapter`](crate::Session::set_adapter)); sessions of one model can use
//! different adapters, or none, at the same time.
//!
//! # The unsafe boundary
//! llama-cpp-2 only loads adapters through `&mut LlamaModel`, but a [`Model`] is shared, and
//! it only attaches one adapter per context. llama.cpp itself needs just the model pointer to
//! load an adapter (it adds the adapter to the model's adapter list) and the context pointer
//! to attach several (`llama_set_adapters_lora`), so this module calls both directly:
//!
//! - the model pointer is read out of `LlamaModel`, which (in the pinned llama-cpp-2 version)
//!   is `#[repr(transparent)]` over a non-null `llama_model` pointer — checked at compile time
//!   by a size assertion;
//! - the context pointer is private in a plain (not `repr(transparent)`) struct of four words:
//!   [`context_ptr`] finds it at run time and verifies it (see there); if it cannot, one
//!   adapter still works through llama-cpp-2's own call and a stack gives
//!   [`Error::AdapterStackingUnavailable`];
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

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};
use llama_cpp_sys_2::{llama_adapter_lora, llama_context, llama_model};
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

    /// A llama-cpp-2 handle of the loaded adapter, for `LlamaContext::lora_adapter_set`
    /// (the single-adapter path used when [`context_ptr`] finds no pointer).
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

/// The adapters attached to a session, each with its scale, in attachment order.
pub(crate) type Attached = Vec<(Adapter, f32)>;

/// The attachments that change the computation: zero scales dropped (llama.cpp ignores
/// them too).
fn effective(attached: &Attached) -> impl Iterator<Item = &(Adapter, f32)> {
    attached.iter().filter(|(_, scale)| *scale != 0.0)
}

/// Whether two attachments give the same computation: the same loaded adapters with the same
/// scales, in any order (llama.cpp sums the adapters' contributions), zero scales ignored.
pub(crate) fn same_attachment(a: &Attached, b: &Attached) -> bool {
    let key = |x: &Attached| {
        let mut v: Vec<(usize, u32)> = effective(x)
            .map(|(adapter, scale)| (Arc::as_ptr(&adapter.inner) as usize, scale.to_bits()))
            .collect();
        v.sort_unstable();
        v
    };
    key(a) == key(b)
}

/// Checks the adapters attached to a session of `model`: every adapter loaded for `model`,
/// every scale finite, no adapter twice.
pub(crate) fn check_attachment(model: &Model, attached: &Attached) -> Result<()> {
    for (i, (adapter, scale)) in attached.iter().enumerate() {
        if !scale.is_finite() {
            return Err(Error::invalid(
                "adapter scale",
                format!(
                    "must be finite, got {scale} for {}",
                    adapter.path().display()
                ),
            ));
        }
        if !adapter.belongs_to(model) {
            return Err(Error::AdapterModelMismatch {
                adapter: adapter.path().to_path_buf(),
                model: model.path().to_path_buf(),
            });
        }
        if attached[..i].iter().any(|(earlier, _)| earlier == adapter) {
            return Err(Error::invalid(
                "adapters",
                format!(
                    "{} is attached twice; attach it once with the sum of the scales",
                    adapter.path().display()
                ),
            ));
        }
    }
    Ok(())
}

/// Sets the adapters of a llama.cpp context, replacing the ones it had (an empty list
/// detaches all).
///
/// `ctx` must be the context pointer found by [`context_ptr`] for a live context of the
/// model the adapters were loaded for, and the caller must keep every adapter alive while
/// the context uses it.
pub(crate) fn set_context_adapters(
    ctx: NonNull<llama_context>,
    attached: &Attached,
) -> std::result::Result<(), i32> {
    let (mut adapters, mut scales): (Vec<*mut llama_adapter_lora>, Vec<f32>) = effective(attached)
        .map(|(adapter, scale)| (adapter.inner.ptr.as_ptr(), *scale))
        .unzip();
    let (adapters_ptr, scales_ptr) = if adapters.is_empty() {
        (std::ptr::null_mut(), std::ptr::null_mut())
    } else {
        (adapters.as_mut_ptr(), scales.as_mut_ptr())
    };
    // SAFETY: `ctx` is a live context (caller contract); the arrays hold `adapters.len()`
    // valid adapter pointers of the context's model and as many scales (or are null with a
    // count of 0); llama.cpp copies them into its own map before returning.
    let code = unsafe {
        llama_cpp_sys_2::llama_set_adapters_lora(
            ctx.as_ptr(),
            adapters_ptr,
            adapters.len(),
            scales_ptr,
        )
    };
    if code == 0 {
        Ok(())
    } else {
        Err(code)
    }
}

// `LlamaContext` is four words in the pinned llama-cpp-2 (0.1.160): the context pointer and
// an (always empty, we configure no backend samplers) `Vec` of backend samplers; its
// zero-sized markers take no space. `context_ptr` relies on it.
const _: () =
    assert!(std::mem::size_of::<LlamaContext<'static>>() == 4 * std::mem::size_of::<usize>());

/// The raw llama.cpp pointer of `ctx`, or `None` if it cannot be identified.
///
/// llama-cpp-2 keeps the pointer private and its only adapter call sets exactly one
/// adapter; stacking several needs `llama_set_adapters_lora` with the raw pointer. The
/// struct is the pointer plus an empty `Vec` (checked by the size assertion above). Its
/// field order is up to the compiler, so the pointer is found at run time: of the four
/// words, three must be exactly an empty `Vec`'s (two zeros and the element type's
/// alignment as the dangling pointer) and the fourth is the candidate, which must then
/// belong to `model` and report the context's size. Anything else gives `None`, and
/// stacking reports [`Error::AdapterStackingUnavailable`] instead of guessing.
pub(crate) fn context_ptr(
    ctx: &LlamaContext<'_>,
    model: &LlamaModel,
) -> Option<NonNull<llama_context>> {
    // SAFETY: `LlamaContext` is exactly four words (asserted above) and plain data; reading
    // its bytes as integers does not create aliases or run destructors.
    let words: [usize; 4] = unsafe { std::mem::transmute_copy(ctx) };
    let dangling = std::mem::align_of::<(i32, llama_cpp_2::sampling::LlamaSampler)>();
    let mut rest: Vec<usize> = Vec::with_capacity(3);
    let mut candidate = None;
    for w in words {
        if w == 0 || w == dangling {
            rest.push(w);
        } else if candidate.replace(w).is_some() {
            return None;
        }
    }
    rest.sort_unstable();
    if rest != [0, 0, dangling] {
        return None;
    }
    let ptr = NonNull::new(candidate? as *mut llama_context)?;
    // SAFETY: by the structure check above the candidate is the context's own pointer (the
    // only non-trivial word of the struct); these calls only read the context.
    let (ctx_model, n_ctx) = unsafe {
        (
            llama_cpp_sys_2::llama_get_model(ptr.as_ptr()),
            llama_cpp_sys_2::llama_n_ctx(ptr.as_ptr()),
        )
    };
    (std::ptr::eq(ctx_model, model_ptr(model)) && n_ctx == ctx.n_ctx()).then_some(ptr)
}
