//! Inspecting and validating GGUF LoRA adapters.

use std::collections::BTreeMap;
use std::path::Path;

use trellis_gguf::{GgufError, GgufFile, MetadataValue, TensorInfo};

use crate::error::LoraError;

/// One adapted base weight: its A/B pair and rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoraTarget {
    /// Name of the base model tensor this pair adapts, e.g. `blk.0.attn_q.weight`.
    pub base: String,
    /// Rank of the pair.
    pub rank: u64,
    /// The `<base>.lora_a` tensor.
    pub a: TensorInfo,
    /// The `<base>.lora_b` tensor.
    pub b: TensorInfo,
}

impl LoraTarget {
    /// Whether this pair adapts the token embedding, whose A and B are flipped.
    pub fn is_token_embd(&self) -> bool {
        self.base.ends_with("token_embd.weight")
    }

    /// Expected `(lora_a, lora_b)` ggml dims for base dims `[d0, d1]` and this rank.
    ///
    /// A weight `[n_in, n_out]` takes `lora_a = [n_in, r]` and `lora_b = [r, n_out]`; the
    /// token embedding `[n_embd, n_vocab]` takes `lora_a = [r, n_vocab]`, `lora_b = [r, n_embd]`
    /// (llama.cpp looks rows up in A and multiplies by B).
    pub fn expected_dims(&self, base_dims: &[u64]) -> Option<(Vec<u64>, Vec<u64>)> {
        expected_dims(&self.base, base_dims, self.rank)
    }
}

pub(crate) fn expected_dims(
    base: &str,
    base_dims: &[u64],
    rank: u64,
) -> Option<(Vec<u64>, Vec<u64>)> {
    let (d0, d1) = match base_dims {
        [d0, d1] => (*d0, *d1),
        [d0] => (*d0, 1),
        _ => return None,
    };
    if base.ends_with("token_embd.weight") {
        Some((vec![rank, d1], vec![rank, d0]))
    } else {
        Some((vec![d0, rank], vec![rank, d1]))
    }
}

/// What a GGUF LoRA adapter file contains.
#[derive(Debug, Clone)]
pub struct AdapterInfo {
    /// `general.name`, if any.
    pub name: Option<String>,
    /// `general.architecture` (the base model's architecture).
    pub architecture: String,
    /// `adapter.lora.alpha`, if present (effective scale = scale × alpha / rank).
    pub alpha: Option<f32>,
    /// The adapted base tensors, sorted by name.
    pub targets: Vec<LoraTarget>,
    /// Tensors present but ignored by llama.cpp (`*_norm.weight`).
    pub ignored_tensors: Vec<String>,
    /// All metadata key/values in file order (creator, base model name, ...).
    pub metadata: Vec<(String, MetadataValue)>,
}

impl AdapterInfo {
    /// Reads and checks the adapter file at `path`: it must be a GGUF file with
    /// `general.type = "adapter"`, `adapter.type = "lora"` and complete A/B pairs of equal rank.
    ///
    /// ```no_run
    /// let info = trellis_lora::AdapterInfo::inspect("my-adapter.gguf")?;
    /// println!("rank {:?}, alpha {:?}, {} targets", info.rank(), info.alpha, info.targets.len());
    /// # Ok::<(), trellis_lora::LoraError>(())
    /// ```
    pub fn inspect(path: impl AsRef<Path>) -> Result<AdapterInfo, LoraError> {
        let path = path.as_ref();
        let gguf = open_gguf(path)?;
        AdapterInfo::from_gguf(&gguf)
    }

    /// Checks an already parsed GGUF file, as [`AdapterInfo::inspect`] does.
    pub fn from_gguf(gguf: &GgufFile) -> Result<AdapterInfo, LoraError> {
        let general_type = gguf.get_str("general.type");
        if general_type != Some("adapter") {
            return Err(LoraError::BaseModelNotAdapter {
                general_type: general_type.map(str::to_owned),
                architecture: gguf.architecture().map(str::to_owned),
            });
        }
        let adapter_type = gguf.get_str("adapter.type");
        if adapter_type != Some("lora") {
            return Err(LoraError::NotLora {
                found: adapter_type.map(str::to_owned),
            });
        }
        let architecture = gguf
            .architecture()
            .ok_or_else(|| LoraError::BadMetadata {
                key: "general.architecture".into(),
                reason: "missing or not a string".into(),
            })?
            .to_owned();
        let alpha = match gguf.get("adapter.lora.alpha") {
            None => None,
            Some(v) => Some(v.as_f32().filter(|a| a.is_finite()).ok_or_else(|| {
                LoraError::BadMetadata {
                    key: "adapter.lora.alpha".into(),
                    reason: format!("expected a finite float, found {v:?}"),
                }
            })?),
        };

        let mut pairs: BTreeMap<&str, (Option<&TensorInfo>, Option<&TensorInfo>)> = BTreeMap::new();
        let mut ignored_tensors = Vec::new();
        for t in gguf.tensors() {
            if let Some(base) = t.name.strip_suffix(".lora_a") {
                pairs.entry(base).or_default().0 = Some(t);
            } else if let Some(base) = t.name.strip_suffix(".lora_b") {
                pairs.entry(base).or_default().1 = Some(t);
            } else if t.name.ends_with("_norm.weight") {
                ignored_tensors.push(t.name.clone());
            } else {
                return Err(LoraError::UnexpectedTensor {
                    tensor: t.name.clone(),
                });
            }
        }
        let mut targets = Vec::with_capacity(pairs.len());
        for (base, (a, b)) in pairs {
            let a = a.ok_or_else(|| LoraError::MissingPair {
                target: base.to_owned(),
                missing: "lora_a",
            })?;
            let b = b.ok_or_else(|| LoraError::MissingPair {
                target: base.to_owned(),
                missing: "lora_b",
            })?;
            for t in [a, b] {
                if t.dims.len() != 2 {
                    return Err(LoraError::NotMatrix {
                        tensor: t.name.clone(),
                        dims: t.dims.clone(),
                    });
                }
            }
            let is_embd = base.ends_with("token_embd.weight");
            let (rank_a, rank_b) = if is_embd {
                (a.dims[0], b.dims[0])
            } else {
                (a.dims[1], b.dims[0])
            };
            if rank_a != rank_b || rank_a == 0 {
                return Err(LoraError::RankMismatch {
                    target: base.to_owned(),
                    rank_a,
                    rank_b,
                });
            }
            targets.push(LoraTarget {
                base: base.to_owned(),
                rank: rank_a,
                a: a.clone(),
                b: b.clone(),
            });
        }
        Ok(AdapterInfo {
            name: gguf.get_str("general.name").map(str::to_owned),
            architecture,
            alpha,
            targets,
            ignored_tensors,
            metadata: gguf.metadata().to_vec(),
        })
    }

    /// The rank shared by all pairs, or `None` if the pairs have different ranks (or there
    /// are none).
    pub fn rank(&self) -> Option<u64> {
        let first = self.targets.first()?.rank;
        self.targets
            .iter()
            .all(|t| t.rank == first)
            .then_some(first)
    }

    /// The metadata value of `key`.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Checks the adapter against a base model: same architecture, every target exists in
    /// the base model, every A/B shape fits the base weight's shape, and no embedding LoRA
    /// for a model with tied output embeddings (which makes llama.cpp abort).
    ///
    /// ```no_run
    /// use trellis_gguf::GgufFile;
    /// let base = GgufFile::open("gemma-3-270m-q4_k_m.gguf")?;
    /// trellis_lora::AdapterInfo::inspect("my-adapter.gguf")?.validate_against(&base)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validate_against(&self, base: &GgufFile) -> Result<(), LoraError> {
        if base.architecture() != Some(self.architecture.as_str()) {
            return Err(LoraError::ArchitectureMismatch {
                adapter: self.architecture.clone(),
                base: base.architecture().map(str::to_owned),
            });
        }
        for t in &self.targets {
            let bt = base
                .tensor(&t.base)
                .ok_or_else(|| LoraError::MissingBaseTensor {
                    target: t.base.clone(),
                })?;
            if t.is_token_embd() && base.tensor("output.weight").is_none() {
                return Err(LoraError::TiedEmbedding {
                    target: t.base.clone(),
                });
            }
            let (ea, eb) = t
                .expected_dims(&bt.dims)
                .ok_or_else(|| LoraError::ShapeMismatch {
                    tensor: t.a.name.clone(),
                    target: t.base.clone(),
                    base_dims: bt.dims.clone(),
                    expected: vec![],
                    found: t.a.dims.clone(),
                })?;
            for (lt, expected) in [(&t.a, ea), (&t.b, eb)] {
                if lt.dims != expected {
                    return Err(LoraError::ShapeMismatch {
                        tensor: lt.name.clone(),
                        target: t.base.clone(),
                        base_dims: bt.dims.clone(),
                        expected,
                        found: lt.dims.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Opens a GGUF file, mapping "not a GGUF file" to [`LoraError::NotGguf`] with the path.
pub(crate) fn open_gguf(path: &Path) -> Result<GgufFile, LoraError> {
    GgufFile::open(path).map_err(|e| match e {
        GgufError::NotGguf { found_magic } => LoraError::NotGguf {
            path: path.to_owned(),
            found_magic,
        },
        other => LoraError::Gguf(other),
    })
}
