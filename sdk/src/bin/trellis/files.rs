//! `trellis gguf inspect`, `trellis lora inspect` and `trellis lora convert`.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};
use trellis_gguf::{GgufFile, MetadataValue};
use trellis_lora::{convert_peft, AdapterInfo};

use crate::schema_cmd::{FAILED, OK};

/// A short rendering of a metadata value (long arrays are summarised).
fn show(v: &MetadataValue) -> String {
    match v {
        MetadataValue::String(s) if s.chars().count() > 80 => {
            format!(
                "{:?}… ({} chars)",
                s.chars().take(77).collect::<String>(),
                s.chars().count()
            )
        }
        MetadataValue::String(s) => format!("{s:?}"),
        MetadataValue::Array(a) if a.items.len() > 8 => {
            format!("[{:?} × {}]", a.item_type, a.items.len())
        }
        MetadataValue::Array(a) => {
            let items: Vec<String> = a.items.iter().map(show).collect();
            format!("[{}]", items.join(", "))
        }
        other => format!("{other:?}")
            .split_once('(')
            .map(|(_, r)| r.trim_end_matches(')').to_string())
            .unwrap_or_default(),
    }
}

fn fail(out: &mut dyn Write, as_json: bool, file: &Path, msg: String) -> u8 {
    let _ = if as_json {
        writeln!(
            out,
            "{}",
            json!({"file": file.display().to_string(), "ok": false, "error": msg})
        )
    } else {
        writeln!(out, "error  {}: {msg}", file.display())
    };
    FAILED
}

/// `trellis gguf inspect <file>`.
pub fn gguf_inspect(path: &Path, as_json: bool, out: &mut dyn Write) -> u8 {
    let g = match GgufFile::open(path) {
        Ok(g) => g,
        Err(e) => return fail(out, as_json, path, e.to_string()),
    };
    let tok = g.tokenizer();
    if as_json {
        let meta: serde_json::Map<String, Value> = g
            .metadata()
            .iter()
            .map(|(k, v)| (k.clone(), json!(show(v))))
            .collect();
        let tensors: Vec<Value> = g
            .tensors()
            .iter()
            .map(|t| json!({"name": t.name, "dims": t.dims, "type": t.ggml_type.name(), "offset": t.offset, "bytes": t.size}))
            .collect();
        let _ = writeln!(
            out,
            "{}",
            json!({"file": path.display().to_string(), "ok": true, "version": g.version(),
                "architecture": g.architecture(), "alignment": g.alignment(), "data_offset": g.data_offset(),
                "file_len": g.file_len(), "vocab_size": tok.as_ref().map(|t| t.tokens.len()),
                "metadata": meta, "tensors": tensors})
        );
        return OK;
    }
    let _ = writeln!(
        out,
        "{}: GGUF v{}, architecture {}, {} metadata keys, {} tensors, data at byte {} (alignment {})",
        path.display(),
        g.version(),
        g.architecture().unwrap_or("?"),
        g.metadata().len(),
        g.tensors().len(),
        g.data_offset(),
        g.alignment()
    );
    if let Some(t) = &tok {
        let _ = writeln!(
            out,
            "tokenizer: {} model, {} tokens, bos {:?}, eos {:?}, end-of-generation {:?}",
            t.model,
            t.tokens.len(),
            t.bos,
            t.eos,
            t.eog
        );
    }
    for (k, v) in g.metadata() {
        let _ = writeln!(out, "  {k} = {}", show(v));
    }
    let mut by_type = std::collections::BTreeMap::new();
    for t in g.tensors() {
        let e = by_type.entry(t.ggml_type.name()).or_insert((0usize, 0u64));
        e.0 += 1;
        e.1 += t.size;
    }
    for (ty, (n, bytes)) in by_type {
        let _ = writeln!(
            out,
            "  tensors {ty}: {n} ({:.1} MiB)",
            bytes as f64 / (1 << 20) as f64
        );
    }
    OK
}

fn adapter_json(info: &AdapterInfo) -> Value {
    let targets: Vec<Value> = info
        .targets
        .iter()
        .map(|t| json!({"base": t.base, "rank": t.rank, "a": t.a.dims, "b": t.b.dims}))
        .collect();
    json!({"name": info.name, "architecture": info.architecture, "alpha": info.alpha,
        "rank": info.rank(), "targets": targets, "ignored_tensors": info.ignored_tensors})
}

/// `trellis lora inspect <adapter> [--base <model>]`.
pub fn lora_inspect(path: &Path, base: Option<&Path>, as_json: bool, out: &mut dyn Write) -> u8 {
    let info = match AdapterInfo::inspect(path) {
        Ok(i) => i,
        Err(e) => return fail(out, as_json, path, e.to_string()),
    };
    let validation = base.map(|b| {
        GgufFile::open(b)
            .map_err(|e| format!("base model {}: {e}", b.display()))
            .and_then(|g| info.validate_against(&g).map_err(|e| e.to_string()))
    });
    if as_json {
        let mut v = adapter_json(&info);
        v["file"] = json!(path.display().to_string());
        v["ok"] = json!(!matches!(validation, Some(Err(_))));
        if let Some(r) = &validation {
            v["valid_for_base"] = json!(r.is_ok());
            if let Err(e) = r {
                v["error"] = json!(e);
            }
        }
        let _ = writeln!(out, "{v}");
    } else {
        let _ = writeln!(
            out,
            "{}: LoRA adapter {:?} for {}, rank {}, alpha {}, {} targets",
            path.display(),
            info.name.as_deref().unwrap_or("(unnamed)"),
            info.architecture,
            info.rank().map_or("mixed".to_string(), |r| r.to_string()),
            info.alpha.map_or("none".to_string(), |a| a.to_string()),
            info.targets.len()
        );
        for t in &info.targets {
            let _ = writeln!(
                out,
                "  {} (rank {}): a {:?}, b {:?}",
                t.base, t.rank, t.a.dims, t.b.dims
            );
        }
        match &validation {
            Some(Ok(())) => {
                let _ = writeln!(out, "valid for the base model");
            }
            Some(Err(e)) => {
                let _ = writeln!(out, "NOT valid for the base model: {e}");
            }
            None => {}
        }
    }
    if matches!(validation, Some(Err(_))) {
        FAILED
    } else {
        OK
    }
}

/// `trellis lora convert <config> <safetensors> --base <model> -o <out>`.
pub fn lora_convert(config: &Path, st: &Path, base: &Path, dest: &Path, out: &mut dyn Write) -> u8 {
    let g = match GgufFile::open(base) {
        Ok(g) => g,
        Err(e) => return fail(out, false, base, e.to_string()),
    };
    match convert_peft(config, st, &g, dest) {
        Ok(info) => {
            let _ = writeln!(
                out,
                "wrote {}: {} targets, rank {}, alpha {}",
                dest.display(),
                info.targets.len(),
                info.rank().map_or("mixed".to_string(), |r| r.to_string()),
                info.alpha.map_or("none".to_string(), |a| a.to_string())
            );
            OK
        }
        Err(e) => fail(out, false, config, e.to_string()),
    }
}
