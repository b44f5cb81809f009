//! Shared pieces of the Trellis benchmark binaries: timing summaries and process memory.

use serde_json::{json, Value};

/// Mean, median, 99th percentile and maximum of a set of timings, computed the way the peers'
/// harness (`../shared/peers/common.py`) computes them, so rows line up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (`sorted[n / 2]`, as the peers' harness).
    pub p50: f64,
    /// 99th percentile (`sorted[round(0.99 (n - 1))]`, as the peers' harness).
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarises `samples` (an empty slice gives all zeros).
    ///
    /// ```
    /// let s = trellis_bench::Summary::of(&[1.0, 2.0, 3.0, 10.0]);
    /// assert_eq!(s.max, 10.0);
    /// assert_eq!(s.mean, 4.0);
    /// ```
    pub fn of(samples: &[f64]) -> Summary {
        if samples.is_empty() {
            return Summary {
                n: 0,
                mean: 0.0,
                p50: 0.0,
                p99: 0.0,
                max: 0.0,
            };
        }
        let mut v = samples.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        Summary {
            n: v.len(),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p50: v[n / 2],
            p99: v[(((n - 1) as f64) * 0.99).round() as usize],
            max: v[v.len() - 1],
        }
    }

    /// The summary as the JSON object the peers' harness writes.
    pub fn to_json(&self) -> Value {
        json!({"n": self.n, "mean": self.mean, "p50": self.p50, "p99": self.p99, "max": self.max})
    }
}

/// Peak resident set size of this process in MiB (`VmHWM`), or 0 where unknown.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Maps a GGUF `tokenizer.ggml.token_type` value to the grammar crate's token type (unknown
/// values count as control tokens, i.e. never text).
pub fn token_type(t: i32) -> trellis_grammar::TokenType {
    trellis_grammar::TokenType::from_gguf(t).unwrap_or(trellis_grammar::TokenType::Control)
}

/// Errors of [`vocabulary_from_gguf`].
#[derive(Debug)]
pub enum LoadError {
    /// The GGUF file could not be read.
    Gguf(trellis_gguf::GgufError),
    /// The file has no (SentencePiece) tokenizer metadata.
    NoTokenizer,
    /// The pieces could not be decoded.
    Vocabulary(trellis_grammar::VocabularyError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Gguf(e) => write!(f, "cannot read the GGUF: {e}"),
            LoadError::NoTokenizer => write!(f, "the GGUF has no tokenizer metadata"),
            LoadError::Vocabulary(e) => write!(f, "cannot decode the vocabulary: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads the SentencePiece vocabulary of a GGUF model (e.g. Gemma 3) as a grammar
/// [`Vocabulary`](trellis_grammar::Vocabulary), with the model's EOS as end-of-generation.
pub fn vocabulary_from_gguf(
    path: &std::path::Path,
) -> Result<trellis_grammar::Vocabulary, LoadError> {
    let gguf = trellis_gguf::GgufFile::open(path).map_err(LoadError::Gguf)?;
    let tok = gguf.tokenizer().ok_or(LoadError::NoTokenizer)?;
    let types: Vec<_> = tok.token_types.iter().map(|&t| token_type(t)).collect();
    let eos: Vec<u32> = tok.eos.into_iter().collect();
    trellis_grammar::Vocabulary::from_sentencepiece(&tok.tokens, &types, &eos)
        .map_err(LoadError::Vocabulary)
}

/// The bundled model's path: `$TRELLIS_CACHE_DIR`, `$XDG_CACHE_HOME/trellis` or
/// `~/.cache/trellis`, then `models/gemma-3-270m-q4_k_m.gguf`.
pub fn default_model() -> std::path::PathBuf {
    use std::path::PathBuf;
    let cache = std::env::var_os("TRELLIS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("trellis")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/trellis")))
        .unwrap_or_else(|| PathBuf::from(".cache/trellis"));
    cache.join("models/gemma-3-270m-q4_k_m.gguf")
}
