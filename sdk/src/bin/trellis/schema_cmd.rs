//! `trellis schema compile` and `trellis schema check`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trellis_grammar::{CompileError, CompileOptions, Grammar};

use crate::canonical::canonicalize;

/// Exit code: success.
pub const OK: u8 = 0;
/// Exit code: a compile error, a rejected instance or an unreadable input.
pub const FAILED: u8 = 1;
/// Exit code (`check`): the schema itself was refused.
pub const SCHEMA_REFUSED: u8 = 2;

fn options(lenient: bool) -> CompileOptions {
    CompileOptions {
        lenient,
        ..CompileOptions::default()
    }
}

/// Reads and parses a JSON file; the error is a one-line message.
pub fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
}

/// JSON description of a compile error: kind, keyword/pointer when known, message.
pub fn error_json(e: &CompileError) -> Value {
    let mut v = match e {
        CompileError::Unsupported { keyword, pointer } => {
            json!({"kind": "unsupported", "keyword": keyword, "pointer": pointer})
        }
        CompileError::Invalid { pointer, reason } => {
            json!({"kind": "invalid", "pointer": pointer, "reason": reason})
        }
        CompileError::UnresolvedRef { reference, pointer } => {
            json!({"kind": "unresolved_ref", "reference": reference, "pointer": pointer})
        }
        CompileError::LimitExceeded { what, limit } => {
            json!({"kind": "limit_exceeded", "what": what, "limit": limit})
        }
    };
    v["message"] = json!(e.to_string());
    v
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Compiles one schema file; prints one result; returns whether it compiled.
fn compile_one(path: &Path, lenient: bool, as_json: bool, out: &mut dyn Write) -> bool {
    let file = path.display().to_string();
    let schema = match read_json(path) {
        Ok(v) => v,
        Err(msg) => {
            let _ = if as_json {
                writeln!(
                    out,
                    "{}",
                    json!({"file": file, "ok": false, "error": {"kind": "io", "message": msg}})
                )
            } else {
                writeln!(out, "error  {msg}")
            };
            return false;
        }
    };
    let start = Instant::now();
    let result = Grammar::from_json_schema(&schema, &options(lenient));
    let elapsed = start.elapsed();
    match result {
        Ok(g) => {
            let s = g.stats();
            let skipped: Vec<Value> = g
                .skipped()
                .iter()
                .map(|k| json!({"keyword": k.keyword, "pointer": k.pointer}))
                .collect();
            if as_json {
                let _ = writeln!(
                    out,
                    "{}",
                    json!({"file": file, "ok": true, "compile_ms": ms(elapsed),
                        "rules": s.rules, "dfa_states": s.dfa_states, "transitions": s.transitions,
                        "max_rule_states": s.max_rule_states, "skipped": skipped})
                );
            } else {
                let _ = writeln!(
                    out,
                    "ok     {file}: {} rules, {} DFA states, {} transitions, compiled in {:.3} ms",
                    s.rules,
                    s.dfa_states,
                    s.transitions,
                    ms(elapsed)
                );
                for k in g.skipped() {
                    let _ = writeln!(out, "       skipped `{}` at `{}`", k.keyword, k.pointer);
                }
            }
            true
        }
        Err(e) => {
            let _ = if as_json {
                writeln!(
                    out,
                    "{}",
                    json!({"file": file, "ok": false, "compile_ms": ms(elapsed), "error": error_json(&e)})
                )
            } else {
                writeln!(out, "error  {file}: {e}")
            };
            false
        }
    }
}

/// The *.json files of a folder, sorted.
fn json_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// `trellis schema compile <path>`.
pub fn compile(path: &Path, lenient: bool, as_json: bool, out: &mut dyn Write) -> u8 {
    if !path.is_dir() {
        return if compile_one(path, lenient, as_json, out) {
            OK
        } else {
            FAILED
        };
    }
    let files = match json_files(path) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(out, "error  cannot list {}: {e}", path.display());
            return FAILED;
        }
    };
    let start = Instant::now();
    let ok = files
        .iter()
        .filter(|f| compile_one(f, lenient, as_json, out))
        .count();
    if !as_json {
        let _ = writeln!(
            out,
            "{ok} of {} schemas compiled, {} failed ({:.1} ms)",
            files.len(),
            files.len() - ok,
            ms(start.elapsed())
        );
    }
    if ok == files.len() {
        OK
    } else {
        FAILED
    }
}

/// Up to `width` bytes either side of `offset`, escaped, and a caret under the offset.
pub fn context(bytes: &[u8], offset: usize, width: usize) -> (String, String) {
    let start = offset.saturating_sub(width);
    let end = (offset + width).min(bytes.len());
    let mut line = String::new();
    let mut caret = 0;
    for (i, &b) in bytes[start..end].iter().enumerate() {
        if start + i == offset {
            caret = line.chars().count();
        }
        match b {
            b'\n' => line.push_str("\\n"),
            b'\t' => line.push_str("\\t"),
            0x20..=0x7e => line.push(b as char),
            _ => line.push_str(&format!("\\x{b:02x}")),
        }
    }
    if offset >= end {
        caret = line.chars().count();
    }
    (line, format!("{}^", " ".repeat(caret)))
}

/// Checks one instance; prints one result (prefixed with `label`); returns acceptance.
fn check_one(
    grammar: &Grammar,
    schema: &Value,
    instance: Result<Value, String>,
    canonical: bool,
    label: &str,
    as_json: bool,
    out: &mut dyn Write,
) -> bool {
    let value = match instance {
        Ok(v) => v,
        Err(msg) => {
            let _ = if as_json {
                writeln!(
                    out,
                    "{}",
                    json!({"instance": label, "accepted": false, "error": msg})
                )
            } else {
                writeln!(out, "error     {label}: {msg}")
            };
            return false;
        }
    };
    let value = if canonical {
        canonicalize(&value, schema)
    } else {
        value
    };
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    match grammar.accepts(&bytes) {
        Ok(()) => {
            let _ = if as_json {
                writeln!(
                    out,
                    "{}",
                    json!({"instance": label, "accepted": true, "bytes": bytes.len()})
                )
            } else {
                writeln!(out, "accepted  {label} ({} bytes)", bytes.len())
            };
            true
        }
        Err(rej) => {
            let (line, caret) = context(&bytes, rej.offset, 40);
            let incomplete = rej.offset >= bytes.len();
            if as_json {
                let _ = writeln!(
                    out,
                    "{}",
                    json!({"instance": label, "accepted": false, "offset": rej.offset,
                        "incomplete": incomplete, "context": line, "serialized": String::from_utf8_lossy(&bytes)})
                );
            } else {
                let why = if incomplete {
                    "valid prefix, but the document is incomplete".to_string()
                } else {
                    format!("rejected at byte {}", rej.offset)
                };
                let _ = writeln!(out, "rejected  {label}: {why}\n    {line}\n    {caret}");
            }
            false
        }
    }
}

/// `trellis schema check <schema> <instance | file.jsonl>`.
pub fn check(
    schema_path: &Path,
    instance_path: &Path,
    canonical: bool,
    lenient: bool,
    as_json: bool,
    out: &mut dyn Write,
) -> u8 {
    let refuse = |out: &mut dyn Write, err: Value, msg: String| {
        let _ = if as_json {
            writeln!(
                out,
                "{}",
                json!({"schema": schema_path.display().to_string(), "refused": true, "error": err})
            )
        } else {
            writeln!(out, "schema refused: {msg}")
        };
        SCHEMA_REFUSED
    };
    let schema = match read_json(schema_path) {
        Ok(s) => s,
        Err(msg) => return refuse(out, json!({"kind": "io", "message": msg}), msg),
    };
    let grammar = match Grammar::from_json_schema(&schema, &options(lenient)) {
        Ok(g) => g,
        Err(e) => {
            let msg = format!("{}: {e}", schema_path.display());
            return refuse(out, error_json(&e), msg);
        }
    };
    let is_jsonl = instance_path.extension().is_some_and(|e| e == "jsonl");
    if !is_jsonl {
        let label = instance_path.display().to_string();
        let ok = check_one(
            &grammar,
            &schema,
            read_json(instance_path),
            canonical,
            &label,
            as_json,
            out,
        );
        return if ok { OK } else { FAILED };
    }
    let text = match std::fs::read_to_string(instance_path) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(
                out,
                "error     cannot read {}: {e}",
                instance_path.display()
            );
            return FAILED;
        }
    };
    let (mut total, mut accepted) = (0, 0);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        total += 1;
        let parsed = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"));
        let label = format!("line {}", i + 1);
        if check_one(&grammar, &schema, parsed, canonical, &label, as_json, out) {
            accepted += 1;
        }
    }
    if !as_json {
        let _ = writeln!(out, "{accepted} of {total} instances accepted");
    }
    if accepted == total {
        OK
    } else {
        FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, content: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("trellis-cli-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    const SCHEMA: &str = r#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a","b"],"additionalProperties":false}"#;

    fn run_check(instance: &str, canonical: bool) -> (u8, String) {
        let s = tmp("s.json", SCHEMA);
        let i = tmp("i.json", instance);
        let mut out = Vec::new();
        let code = check(&s, &i, canonical, false, false, &mut out);
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn check_accepts_and_rejects_with_offset() {
        let (code, out) = run_check(r#"{ "a": 1, "b": "x" }"#, false);
        assert_eq!(code, OK, "{out}");
        let (code, out) = run_check(r#"{"a": "no", "b": "x"}"#, false);
        assert_eq!(code, FAILED);
        assert!(out.contains("rejected at byte 5"), "{out}");
        // Keys in the wrong order: the grammar follows schema order, --canonical fixes it.
        let (code, out) = run_check(r#"{"b": "x", "a": 1}"#, false);
        assert_eq!(code, FAILED, "{out}");
        let (code, out) = run_check(r#"{"b": "x", "a": 1}"#, true);
        assert_eq!(code, OK, "{out}");
    }

    #[test]
    fn context_marks_the_offset() {
        let (line, caret) = context(b"{\"a\":\"no\"}", 5, 3);
        assert_eq!(line, "a\":\"no");
        assert_eq!(caret, "   ^");
        let (line, caret) = context(b"{\"a\"", 4, 10);
        assert_eq!((line.as_str(), caret.as_str()), ("{\"a\"", "    ^"));
    }
}
