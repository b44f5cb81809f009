//! Writing LoRA adapters with deterministic pseudo-random weights.

use std::path::Path;

use trellis_gguf::{GgufFile, GgufWriter, MetadataValue};

use crate::adapter::{expected_dims, AdapterInfo};
use crate::error::LoraError;

/// Builds a GGUF LoRA adapter for a given base model, with F32 weights drawn from a seeded
/// pseudo-random generator — for tests, fixtures and experiments.
///
/// Targets are chosen by name pattern among the base model's 2-D tensors; `*` matches any
/// run of characters (`blk.*.attn_q.weight`), a pattern without `*` must match exactly.
///
/// ```no_run
/// use trellis_gguf::GgufFile;
/// use trellis_lora::AdapterWriter;
/// let base = GgufFile::open("gemma-3-270m-q4_k_m.gguf")?;
/// let info = AdapterWriter::new(&base)
///     .target("blk.*.attn_q.weight")
///     .target("blk.*.ffn_up.weight")
///     .rank(4)
///     .alpha(8.0)
///     .seed(7)
///     .write("q-up-r4.gguf")?;
/// assert_eq!(info.rank(), Some(4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdapterWriter<'a> {
    base: &'a GgufFile,
    patterns: Vec<String>,
    rank: u64,
    alpha: Option<f32>,
    seed: u64,
    amplitude: f32,
    name: Option<String>,
    extra: Vec<(String, MetadataValue)>,
}

/// Matches `name` against a pattern where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// SplitMix64: small, seedable, good enough for test weights.
pub(crate) struct SplitMix(pub u64);
impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub(crate) fn next_f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

impl<'a> AdapterWriter<'a> {
    /// A writer for adapters of `base`: rank 8, no alpha, seed 0, weights in ±0.05.
    pub fn new(base: &'a GgufFile) -> AdapterWriter<'a> {
        AdapterWriter {
            base,
            patterns: Vec::new(),
            rank: 8,
            alpha: None,
            seed: 0,
            amplitude: 0.05,
            name: None,
            extra: Vec::new(),
        }
    }

    /// Adds a target pattern (see the type docs).
    pub fn target(mut self, pattern: &str) -> Self {
        self.patterns.push(pattern.to_owned());
        self
    }

    /// Sets the rank (≥ 1).
    pub fn rank(mut self, rank: u64) -> Self {
        self.rank = rank;
        self
    }

    /// Sets `adapter.lora.alpha`.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = Some(alpha);
        self
    }

    /// Sets the seed of the weights.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Weights are uniform in `[-amplitude, amplitude)`.
    pub fn amplitude(mut self, amplitude: f32) -> Self {
        self.amplitude = amplitude;
        self
    }

    /// Sets `general.name`.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Adds an extra metadata key/value (e.g. creator information).
    pub fn metadata(mut self, key: &str, value: impl Into<MetadataValue>) -> Self {
        self.extra.push((key.to_owned(), value.into()));
        self
    }

    /// Builds the GGUF writer holding the adapter.
    pub fn build(&self) -> Result<GgufWriter, LoraError> {
        if self.rank == 0 {
            return Err(LoraError::InvalidParameter {
                name: "rank",
                reason: "must be at least 1".into(),
            });
        }
        if !self.amplitude.is_finite() {
            return Err(LoraError::InvalidParameter {
                name: "amplitude",
                reason: format!("{} is not finite", self.amplitude),
            });
        }
        if let Some(a) = self.alpha.filter(|a| !a.is_finite()) {
            return Err(LoraError::InvalidParameter {
                name: "alpha",
                reason: format!("{a} is not finite"),
            });
        }
        let architecture = self
            .base
            .architecture()
            .ok_or_else(|| LoraError::BadMetadata {
                key: "general.architecture".into(),
                reason: "the base model has none".into(),
            })?;
        let targets: Vec<_> = self
            .base
            .tensors()
            .iter()
            .filter(|t| t.dims.len() == 2 && self.patterns.iter().any(|p| glob_match(p, &t.name)))
            .collect();
        if let Some(t) = targets.iter().find(|t| {
            t.name.ends_with("token_embd.weight") && self.base.tensor("output.weight").is_none()
        }) {
            return Err(LoraError::TiedEmbedding {
                target: t.name.clone(),
            });
        }
        if targets.is_empty() {
            return Err(LoraError::NoTargets {
                patterns: self.patterns.clone(),
            });
        }
        let mut w = GgufWriter::new();
        w.set_metadata("general.architecture", architecture)?;
        w.set_metadata("general.type", "adapter")?;
        w.set_metadata("adapter.type", "lora")?;
        if let Some(alpha) = self.alpha {
            w.set_metadata("adapter.lora.alpha", alpha)?;
        }
        if let Some(name) = &self.name {
            w.set_metadata("general.name", name.as_str())?;
        }
        for (k, v) in &self.extra {
            w.set_metadata(k, v.clone())?;
        }
        let mut rng = SplitMix(self.seed);
        for t in targets {
            let (da, db) = expected_dims(&t.name, &t.dims, self.rank).ok_or_else(|| {
                LoraError::InvalidParameter {
                    name: "target",
                    reason: format!("{} is not a matrix", t.name),
                }
            })?;
            for (suffix, dims) in [("lora_a", da), ("lora_b", db)] {
                let n: u64 = dims.iter().product();
                let values: Vec<f32> = (0..n).map(|_| rng.next_f32() * self.amplitude).collect();
                w.add_tensor_f32(&format!("{}.{suffix}", t.name), &dims, &values)?;
            }
        }
        Ok(w)
    }

    /// Writes the adapter to `path` and returns what was written.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<AdapterInfo, LoraError> {
        let w = self.build()?;
        w.write_file(path.as_ref())?;
        AdapterInfo::inspect(path)
    }
}
