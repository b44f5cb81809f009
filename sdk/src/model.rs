//! Loading models.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token_type::LlamaTokenAttr;

use crate::backend::llama_backend;
use crate::error::{Error, Result};
use crate::options::ModelOptions;

/// File name of the bundled model inside `<cache dir>/models/`.
pub const BUNDLED_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// The command that installs the bundled model (run from the repository root).
pub const INSTALL_COMMAND: &str = "bash scripts/install-model.sh";

/// Longest text [`Model::tokenize`] accepts, in bytes.
const MAX_TOKENIZE_BYTES: usize = 64 << 20;

/// A loaded language model: a cheap, thread-safe handle.
///
/// Cloning shares the loaded weights; any number of [`Session`](crate::Session)s can use one
/// model at the same time.
///
/// ```no_run
/// # fn main() -> trellis::Result<()> {
/// let model = trellis::Model::bundled()?;
/// println!("vocabulary: {} tokens", model.vocab_size());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Model {
    pub(crate) inner: Arc<ModelInner>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("path", &self.inner.path)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

pub(crate) struct ModelInner {
    pub(crate) llama: LlamaModel,
    pub(crate) path: PathBuf,
    pub(crate) options: ModelOptions,
    pub(crate) template: Option<LlamaChatTemplate>,
    pub(crate) add_bos: bool,
    pub(crate) eog: Vec<u32>,
    vocab_size: usize,
    token_bytes: OnceLock<Arc<Vec<Option<Vec<u8>>>>>,
    pub(crate) guided: crate::guided::GuidedCache,
}

/// The Trellis cache directory: `$TRELLIS_CACHE_DIR`, else `$XDG_CACHE_HOME/trellis`, else
/// `$HOME/.cache/trellis`.
pub fn cache_dir() -> PathBuf {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("TRELLIS_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("trellis");
    }
    let home = non_empty("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".cache").join("trellis")
}

impl Model {
    /// Where the bundled model is expected: `<cache dir>/models/gemma-3-270m-q4_k_m.gguf`
    /// (see [`cache_dir`]).
    pub fn bundled_path() -> PathBuf {
        cache_dir().join("models").join(BUNDLED_MODEL_FILE)
    }

    /// Loads the bundled model (Gemma 3 270M, Q4_K_M) with default options.
    ///
    /// # Errors
    /// [`Error::ModelNotInstalled`] when the file is missing (the message says to run
    /// `bash scripts/install-model.sh`), and the errors of [`Model::load`].
    pub fn bundled() -> Result<Model> {
        Self::bundled_with(ModelOptions::default())
    }

    /// Loads the bundled model with the given options.
    ///
    /// # Errors
    /// As [`Model::bundled`].
    pub fn bundled_with(options: ModelOptions) -> Result<Model> {
        let path = Self::bundled_path();
        if !path.exists() {
            return Err(Error::ModelNotInstalled {
                path,
                install_command: INSTALL_COMMAND.to_owned(),
            });
        }
        Self::load(path, options)
    }

    /// Loads any GGUF model.
    ///
    /// The file is validated before llama.cpp sees it: magic bytes, header, metadata, tensor
    /// table and that all tensor data lies inside the file.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`], [`Error::ModelNotFound`], [`Error::Io`], [`Error::NotGguf`],
    /// [`Error::TruncatedGguf`], [`Error::InvalidGguf`], [`Error::Backend`] and
    /// [`Error::ModelLoad`].
    ///
    /// ```
    /// let err = trellis::Model::load("/no/such/model.gguf", Default::default()).unwrap_err();
    /// assert!(matches!(err, trellis::Error::ModelNotFound { .. }));
    /// ```
    pub fn load(path: impl AsRef<Path>, options: ModelOptions) -> Result<Model> {
        let path = path.as_ref().to_path_buf();
        options.validate()?;
        validate_gguf(&path)?;
        let backend = llama_backend()?;
        let params = LlamaModelParams::default();
        let llama =
            LlamaModel::load_from_file(backend, &path, &params).map_err(|e| Error::ModelLoad {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let vocab = llama.vocab();
        let n_vocab = vocab.n_tokens();
        if n_vocab <= 0 {
            return Err(Error::ModelLoad {
                path,
                reason: "the model has an empty vocabulary".into(),
            });
        }
        let vocab_size = n_vocab as usize;
        let mut eog: Vec<u32> = (0..n_vocab)
            .filter(|&t| vocab.is_eog(LlamaToken(t)))
            .map(|t| t as u32)
            .collect();
        // Gemma base models do not list <end_of_turn> as end of generation; the turn format
        // used for models without a chat template ends turns with it.
        let eot = vocab.tokenize(b"<end_of_turn>", false, true);
        if let [t] = eot.as_slice() {
            let t = t.0 as u32;
            if vocab.is_control(LlamaToken(t as i32)) && !eog.contains(&t) {
                eog.push(t);
            }
        }
        let add_bos = vocab.should_add_bos();
        let template = llama.chat_template(None).ok();
        tracing::debug!(?path, vocab_size, eog = ?eog, has_template = template.is_some(), "model loaded");
        Ok(Model {
            inner: Arc::new(ModelInner {
                llama,
                path,
                options,
                template,
                add_bos,
                eog,
                vocab_size,
                token_bytes: OnceLock::new(),
                guided: Default::default(),
            }),
        })
    }

    /// Grammar vocabulary and compiled schemas of this model (guided generation).
    pub(crate) fn guided(&self) -> &crate::guided::GuidedCache {
        &self.inner.guided
    }

    /// The file the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The options the model was loaded with.
    pub fn options(&self) -> &ModelOptions {
        &self.inner.options
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.inner.vocab_size
    }

    /// Tokens that end generation: the model's end-of-generation set, plus `<end_of_turn>`
    /// when the vocabulary has it as a control token.
    pub fn eog_tokens(&self) -> Vec<u32> {
        self.inner.eog.clone()
    }

    /// Whether the GGUF has a chat template (otherwise the plain turn format documented on
    /// [`Session`](crate::Session) is used).
    pub fn has_chat_template(&self) -> bool {
        self.inner.template.is_some()
    }

    /// Tokenizes text. Special-token markup in `text` is treated as plain text.
    ///
    /// # Errors
    /// [`Error::Tokenize`] for texts over 64 MiB.
    pub fn tokenize(&self, text: &str, add_bos: bool) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .tokenize(text, add_bos, false)?
            .into_iter()
            .map(|t| t.0 as u32)
            .collect())
    }

    /// The bytes each token stands for, indexed by token id; `None` for control, unused and
    /// unknown tokens and for tokens that render as nothing. Byte-fallback tokens give their
    /// single raw byte. Computed once per model (a few milliseconds) and then cached.
    pub fn token_bytes(&self) -> Vec<Option<Vec<u8>>> {
        self.inner.token_bytes().as_ref().clone()
    }

    /// Like [`Model::token_bytes`] but shared, without copying.
    #[doc(hidden)]
    pub fn token_bytes_shared(&self) -> Arc<Vec<Option<Vec<u8>>>> {
        self.inner.token_bytes()
    }

    /// The tokens a session gives the model for `prompt` after `transcript` (formatted with
    /// the chat template or the plain turn format, ending with the opening of the model's turn).
    ///
    /// # Errors
    /// [`Error::Tokenize`], [`Error::PromptFormat`].
    #[doc(hidden)]
    pub fn prompt_tokens(&self, transcript: &crate::Transcript, prompt: &str) -> Result<Vec<u32>> {
        Ok(crate::prompt::render(&self.inner, transcript, prompt)?
            .into_iter()
            .map(|t| t.0 as u32)
            .collect())
    }

    /// The underlying llama-cpp-2 model (for benchmarks and advanced use).
    #[doc(hidden)]
    pub fn llama_model(&self) -> &LlamaModel {
        &self.inner.llama
    }
}

impl ModelInner {
    pub(crate) fn tokenize(
        &self,
        text: &str,
        add_bos: bool,
        parse_special: bool,
    ) -> Result<Vec<LlamaToken>> {
        if text.len() > MAX_TOKENIZE_BYTES {
            return Err(Error::Tokenize(format!(
                "text of {} bytes is longer than the limit of {MAX_TOKENIZE_BYTES} bytes",
                text.len()
            )));
        }
        Ok(self
            .llama
            .vocab()
            .tokenize(text.as_bytes(), add_bos, parse_special))
    }

    pub(crate) fn piece(&self, token: u32, buf: &mut Vec<u8>) {
        buf.clear();
        self.llama
            .vocab()
            .token_to_piece_into(LlamaToken(token as i32), buf, false, None);
    }

    fn token_bytes(&self) -> Arc<Vec<Option<Vec<u8>>>> {
        self.token_bytes
            .get_or_init(|| {
                let vocab = self.llama.vocab();
                let mut out = Vec::with_capacity(self.vocab_size);
                for t in 0..self.vocab_size as i32 {
                    let tok = LlamaToken(t);
                    // `attr` panics on attribute bits it does not know; treat those as unusable.
                    let attr =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| vocab.attr(tok)))
                            .ok();
                    let usable = !vocab.is_control(tok)
                        && attr.is_some_and(|a| {
                            !a.contains(LlamaTokenAttr::Unused)
                                && !a.contains(LlamaTokenAttr::Unknown)
                                && !a.contains(LlamaTokenAttr::Control)
                        });
                    if !usable {
                        out.push(None);
                        continue;
                    }
                    let bytes = vocab.token_to_piece(tok, false, None);
                    out.push((!bytes.is_empty()).then_some(bytes));
                }
                Arc::new(out)
            })
            .clone()
    }
}

/// Checks that `path` is a complete GGUF file before llama.cpp opens it.
fn validate_gguf(path: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::ModelNotFound {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(io(e)),
    };
    if file.metadata().map_err(io)?.is_dir() {
        return Err(Error::NotGguf {
            path: path.to_path_buf(),
        });
    }
    let mut magic = [0u8; 4];
    let mut read = 0;
    while read < 4 {
        match file.read(&mut magic[read..]).map_err(io)? {
            0 => break,
            n => read += n,
        }
    }
    if read < 4 || &magic != b"GGUF" {
        return Err(Error::NotGguf {
            path: path.to_path_buf(),
        });
    }
    drop(file);
    check_gguf_structure(path)
}

fn check_gguf_structure(path: &Path) -> Result<()> {
    use trellis_gguf::GgufError;
    match trellis_gguf::GgufFile::open(path) {
        Ok(_) => Ok(()),
        Err(GgufError::NotGguf { .. }) => Err(Error::NotGguf {
            path: path.to_path_buf(),
        }),
        Err(GgufError::Io(source)) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
        Err(source @ (GgufError::Truncated { .. } | GgufError::TensorOutOfBounds { .. })) => {
            Err(Error::TruncatedGguf {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(source) => Err(Error::InvalidGguf {
            path: path.to_path_buf(),
            source,
        }),
    }
}
