//! Converting Hugging Face PEFT LoRA adapters to GGUF.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use trellis_gguf::{half::f16_to_f32, GgufFile, GgufWriter};

use crate::adapter::AdapterInfo;
use crate::error::LoraError;

/// The parts of a PEFT `adapter_config.json` the conversion uses.
#[derive(Debug, Clone, PartialEq)]
pub struct PeftConfig {
    /// `r`: the default rank.
    pub r: u64,
    /// `lora_alpha`.
    pub lora_alpha: f32,
    /// `use_rslora`: scale by `alpha / sqrt(r)` instead of `alpha / r`.
    pub use_rslora: bool,
    /// `target_modules` (a single string is turned into a one-element list).
    pub target_modules: Vec<String>,
    /// `base_model_name_or_path`, if given.
    pub base_model: Option<String>,
    /// `rank_pattern`: per-module ranks overriding `r`.
    pub rank_pattern: BTreeMap<String, u64>,
}

impl PeftConfig {
    /// Parses `adapter_config.json` text. `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<PeftConfig, LoraError> {
        let err = |reason: String| LoraError::PeftConfig {
            path: path.to_owned(),
            reason,
        };
        let v: Value = serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| err("not a JSON object".into()))?;
        if let Some(t) = obj.get("peft_type") {
            if t.as_str() != Some("LORA") {
                return Err(err(format!("peft_type is {t}, only \"LORA\" is supported")));
            }
        }
        if obj.get("use_dora").and_then(Value::as_bool) == Some(true) {
            return Err(err(
                "DoRA adapters (use_dora = true) are not supported".into()
            ));
        }
        let r = obj
            .get("r")
            .and_then(Value::as_u64)
            .filter(|r| *r > 0)
            .ok_or_else(|| err("\"r\" must be a positive integer".into()))?;
        let lora_alpha =
            obj.get("lora_alpha")
                .and_then(Value::as_f64)
                .filter(|a| a.is_finite())
                .ok_or_else(|| err("\"lora_alpha\" must be a number".into()))? as f32;
        if let Some(ap) = obj.get("alpha_pattern").and_then(Value::as_object) {
            if ap
                .values()
                .any(|a| a.as_f64() != Some(f64::from(lora_alpha)))
            {
                return Err(err(
                    "alpha_pattern with per-module alphas is not supported (GGUF adapters have one alpha)"
                        .into(),
                ));
            }
        }
        let mut rank_pattern = BTreeMap::new();
        if let Some(rp) = obj.get("rank_pattern").and_then(Value::as_object) {
            for (k, v) in rp {
                let rank = v.as_u64().filter(|r| *r > 0).ok_or_else(|| {
                    err(format!("rank_pattern[{k:?}] must be a positive integer"))
                })?;
                rank_pattern.insert(k.clone(), rank);
            }
        }
        let target_modules = match obj.get("target_modules") {
            None | Some(Value::Null) => vec![],
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|m| m.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| err("target_modules must hold strings".into()))?,
            Some(other) => return Err(err(format!("target_modules is {other}"))),
        };
        Ok(PeftConfig {
            r,
            lora_alpha,
            use_rslora: obj.get("use_rslora").and_then(Value::as_bool) == Some(true),
            target_modules,
            base_model: obj
                .get("base_model_name_or_path")
                .and_then(Value::as_str)
                .map(str::to_owned),
            rank_pattern,
        })
    }
}

/// Which half of a PEFT pair a tensor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    A,
    B,
    EmbeddingA,
    EmbeddingB,
}

/// Maps a PEFT tensor name to `(gguf base tensor, part)`.
fn map_name(peft: &str) -> Option<(String, Part)> {
    let mut rest = peft.strip_prefix("base_model.model.").unwrap_or(peft);
    // Split off the LoRA part: `.lora_A.weight`, `.lora_A.<adapter>.weight`,
    // `.lora_embedding_A`, `.lora_embedding_A.<adapter>`.
    let (module, part) = [
        (".lora_A.", Part::A),
        (".lora_B.", Part::B),
        (".lora_embedding_A", Part::EmbeddingA),
        (".lora_embedding_B", Part::EmbeddingB),
    ]
    .into_iter()
    .find_map(|(marker, part)| {
        let i = rest.find(marker)?;
        let tail = &rest[i + marker.len()..];
        let ok = match part {
            Part::A | Part::B => {
                tail == "weight"
                    || (tail.ends_with(".weight") && !tail[..tail.len() - 7].contains('.'))
            }
            _ => tail.is_empty() || (tail.starts_with('.') && !tail[1..].contains('.')),
        };
        ok.then(|| (&rest[..i], part))
    })?;
    rest = module;
    for prefix in ["model.", "language_model.", "text_model.", "model."] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let base = match rest {
        "embed_tokens" => "token_embd".to_owned(),
        "lm_head" => "output".to_owned(),
        _ => {
            let after = rest.strip_prefix("layers.")?;
            let (n, sub) = after.split_once('.')?;
            let n: u32 = n.parse().ok()?;
            let gguf = match sub {
                "self_attn.q_proj" => "attn_q",
                "self_attn.k_proj" => "attn_k",
                "self_attn.v_proj" => "attn_v",
                "self_attn.o_proj" => "attn_output",
                "mlp.gate_proj" => "ffn_gate",
                "mlp.up_proj" => "ffn_up",
                "mlp.down_proj" => "ffn_down",
                _ => return None,
            };
            format!("blk.{n}.{gguf}")
        }
    };
    match (base.as_str(), part) {
        ("token_embd", Part::EmbeddingA | Part::EmbeddingB) => {}
        ("token_embd", _) | (_, Part::EmbeddingA | Part::EmbeddingB) => return None,
        _ => {}
    }
    Some((format!("{base}.weight"), part))
}

/// The GGUF tensor name for a PEFT LoRA tensor name, for the Gemma 3 and Llama families.
///
/// ```
/// use trellis_lora::peft_to_gguf_name;
/// assert_eq!(
///     peft_to_gguf_name("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight").as_deref(),
///     Some("blk.3.attn_q.weight.lora_a"),
/// );
/// assert_eq!(
///     peft_to_gguf_name("base_model.model.model.layers.0.mlp.down_proj.lora_B.default.weight").as_deref(),
///     Some("blk.0.ffn_down.weight.lora_b"),
/// );
/// assert_eq!(
///     peft_to_gguf_name("base_model.model.model.embed_tokens.lora_embedding_A").as_deref(),
///     Some("token_embd.weight.lora_a"),
/// );
/// assert_eq!(peft_to_gguf_name("base_model.model.model.norm.weight"), None);
/// ```
pub fn peft_to_gguf_name(peft: &str) -> Option<String> {
    let (base, part) = map_name(peft)?;
    let suffix = match part {
        Part::A | Part::EmbeddingA => "lora_a",
        Part::B | Part::EmbeddingB => "lora_b",
    };
    Some(format!("{base}.{suffix}"))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LoraError + '_ {
    move |source| LoraError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Converts a PEFT LoRA adapter to a GGUF LoRA adapter for `base`, written to `out_path`.
///
/// Tensor names are mapped for the Gemma 3 and Llama families (attention q/k/v/o, MLP
/// gate/up/down, token embedding, `lm_head`); F32, F16 and BF16 weights are written as F32.
/// Linear layers keep PEFT's memory layout (`lora_A` `(r, n_in)` is ggml `[n_in, r]`); the
/// embedding's `lora_embedding_A` `(r, n_vocab)` is transposed to ggml `[r, n_vocab]`.
/// The result is validated against `base` before anything is written: a wrong base model
/// gives a typed error and no output file.
///
/// `adapter.lora.alpha` is `lora_alpha` (times `sqrt(r)` for rsLoRA, which llama.cpp does
/// not know, so that `alpha / r` gives rsLoRA's scale).
pub fn convert_peft(
    config_path: impl AsRef<Path>,
    safetensors_path: impl AsRef<Path>,
    base: &GgufFile,
    out_path: impl AsRef<Path>,
) -> Result<AdapterInfo, LoraError> {
    let config_path = config_path.as_ref();
    let st_path = safetensors_path.as_ref();
    let text = std::fs::read_to_string(config_path).map_err(io_err(config_path))?;
    let config = PeftConfig::parse(&text, config_path)?;
    let bytes = std::fs::read(st_path).map_err(io_err(st_path))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| LoraError::Safetensors {
        path: st_path.to_owned(),
        reason: e.to_string(),
    })?;
    let architecture = base.architecture().ok_or_else(|| LoraError::BadMetadata {
        key: "general.architecture".into(),
        reason: "the base model has none".into(),
    })?;

    let mut names: Vec<&str> = st.names();
    names.sort_unstable();
    let mut tensors = Vec::with_capacity(names.len());
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    let mut ranks = Vec::new();
    for name in names {
        let unsupported = |reason: String| LoraError::UnsupportedPeftTensor {
            tensor: name.to_owned(),
            reason,
        };
        let (gguf_base, part) = map_name(name).ok_or_else(|| {
            unsupported("no GGUF equivalent (only LoRA A/B weights of attention, MLP, embedding and lm_head are converted)".into())
        })?;
        let view = st.tensor(name).map_err(|e| unsupported(e.to_string()))?;
        let shape: Vec<u64> = view.shape().iter().map(|&d| d as u64).collect();
        let [rows, cols] = shape[..] else {
            return Err(unsupported(format!("shape {shape:?} is not 2-D")));
        };
        let data = view.data();
        let mut values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
                .collect(),
            other => {
                return Err(unsupported(format!(
                    "dtype {other:?} (F32, F16, BF16 supported)"
                )))
            }
        };
        // numpy (rows, cols) is ggml [cols, rows] with the same bytes.
        let (dims, suffix) = match part {
            Part::A => {
                ranks.push(rows);
                (vec![cols, rows], "lora_a")
            }
            Part::B => (vec![cols, rows], "lora_b"),
            Part::EmbeddingA => {
                // (r, n_vocab) -> ggml [r, n_vocab] = numpy (n_vocab, r): transpose.
                ranks.push(rows);
                let (r, v) = (rows as usize, cols as usize);
                let mut t = vec![0f32; values.len()];
                for i in 0..r {
                    for j in 0..v {
                        t[j * r + i] = values[i * v + j];
                    }
                }
                values = t;
                (vec![rows, cols], "lora_a")
            }
            Part::EmbeddingB => (vec![cols, rows], "lora_b"),
        };
        let gguf_name = format!("{gguf_base}.{suffix}");
        if origin.insert(gguf_name.clone(), name.to_owned()).is_some() {
            return Err(unsupported(format!(
                "maps to {gguf_name}, which another tensor already maps to"
            )));
        }
        tensors.push((gguf_name, dims, values));
    }
    if tensors.is_empty() {
        return Err(LoraError::Safetensors {
            path: st_path.to_owned(),
            reason: "no tensors".into(),
        });
    }
    if config.rank_pattern.is_empty() {
        if let Some(r) = ranks.iter().find(|r| **r != config.r) {
            return Err(LoraError::PeftConfig {
                path: config_path.to_owned(),
                reason: format!("r is {} but the weights have rank {r}", config.r),
            });
        }
    }
    let alpha = if config.use_rslora {
        let first = ranks.first().copied().unwrap_or(config.r);
        if ranks.iter().any(|r| *r != first) {
            return Err(LoraError::PeftConfig {
                path: config_path.to_owned(),
                reason: "rsLoRA with per-module ranks cannot be expressed with one alpha".into(),
            });
        }
        config.lora_alpha * (first as f32).sqrt()
    } else {
        config.lora_alpha
    };

    let mut w = GgufWriter::new();
    w.set_metadata("general.architecture", architecture)?;
    w.set_metadata("general.type", "adapter")?;
    w.set_metadata("adapter.type", "lora")?;
    w.set_metadata("adapter.lora.alpha", alpha)?;
    if let Some(stem) = out_path.as_ref().file_stem().and_then(|s| s.to_str()) {
        w.set_metadata("general.name", stem)?;
    }
    if let Some(b) = &config.base_model {
        w.set_metadata("trellis.peft.base_model_name_or_path", b.as_str())?;
    }
    w.set_metadata("trellis.converted_from", "peft")?;
    for (name, dims, values) in &tensors {
        w.add_tensor_f32(name, dims, values)?;
    }
    let out_bytes = w.to_bytes()?;
    let gguf = GgufFile::read(&out_bytes[..], out_bytes.len() as u64)?;
    let info = AdapterInfo::from_gguf(&gguf)?;
    info.validate_against(base).map_err(|e| match e {
        LoraError::ShapeMismatch {
            tensor,
            target,
            base_dims,
            expected,
            found,
        } => LoraError::ShapeMismatch {
            tensor: match origin.get(&tensor) {
                Some(p) => format!("{tensor} (from {p})"),
                None => tensor,
            },
            target,
            base_dims,
            expected,
            found,
        },
        other => other,
    })?;
    let out: PathBuf = out_path.as_ref().to_owned();
    std::fs::write(&out, &out_bytes).map_err(io_err(&out))?;
    Ok(info)
}
