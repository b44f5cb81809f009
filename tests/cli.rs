//! Integration tests of the `trellis` binary (run as a separate process).
//!
//! Registered in sdk/Cargo.toml as:
//! ```toml
//! [[test]]
//! name = "cli"
//! path = "../tests/cli.rs"
//! ```
//! Uses only std so it builds with the sdk's dev-dependencies whatever they are.

use std::path::{Path, PathBuf};
use std::process::Command;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("trellis-cli-it-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(name: &str, content: &str) -> PathBuf {
    let p = dir().join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, content).unwrap();
    p
}

/// Runs `trellis args...`, returning (exit code, stdout).
fn trellis(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run trellis");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

const PERSON: &str = r#"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false}"#;

fn model_path() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap())
        .join(".cache/trellis/models/gemma-3-270m-q4_k_m.gguf")
}

#[test]
fn compile_prints_size_and_time_or_the_error_pointer() {
    let ok = write("compile/person.json", PERSON);
    let (code, out) = trellis(&[&"schema", &"compile", &ok]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("rules") && out.contains("DFA states") && out.contains(" ms"),
        "{out}"
    );

    let bad = write(
        "compile-bad/bad.json",
        r#"{"type":"object","properties":{"a":{"type":"string","x-weird":1}}}"#,
    );
    let (code, out) = trellis(&[&"schema", &"compile", &bad]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("x-weird") && out.contains("#/properties/a"),
        "{out}"
    );
    // --lenient skips the keyword and says so.
    let (code, out) = trellis(&[&"schema", &"compile", &bad, &"--lenient"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("skipped `x-weird`"), "{out}");

    let (code, out) = trellis(&[&"schema", &"compile", &bad, &"--json"]);
    assert_eq!(code, 1);
    assert!(
        out.contains(r#""ok":false"#) && out.contains(r##""pointer":"#/properties/a""##),
        "{out}"
    );
    assert!(out.contains(r#""keyword":"x-weird""#), "{out}");
}

#[test]
fn compile_folder_reports_each_file() {
    let d = dir().join("folder");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("a.json"), PERSON).unwrap();
    std::fs::write(d.join("b.json"), r##"{"$ref":"#/$defs/missing"}"##).unwrap();
    std::fs::write(d.join("c.json"), "not json").unwrap();
    std::fs::write(d.join("ignored.txt"), "{}").unwrap();
    let (code, out) = trellis(&[&"schema", &"compile", &d]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("1 of 3 schemas compiled, 2 failed"), "{out}");
    assert!(out.contains("#/$defs/missing"), "{out}");
    let (code, out) = trellis(&[&"schema", &"compile", &d, &"--json"]);
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.lines().all(|l| l.starts_with('{') && l.ends_with('}')),
        "{out}"
    );
    std::fs::remove_file(d.join("b.json")).unwrap();
    std::fs::remove_file(d.join("c.json")).unwrap();
    let (code, out) = trellis(&[&"schema", &"compile", &d]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn check_exit_codes_offsets_and_canonical_order() {
    let schema = write("check/person.json", PERSON);
    let good = write("check/good.json", r#"{ "name": "Ada", "age": 36 }"#);
    let (code, out) = trellis(&[&"schema", &"check", &schema, &good]);
    assert_eq!(code, 0, "{out}");

    let bad = write("check/bad.json", r#"{"name": "Ada", "age": "old"}"#);
    let (code, out) = trellis(&[&"schema", &"check", &schema, &bad]);
    assert_eq!(code, 1, "{out}");
    // {"name":"Ada","age":"old"} — the quote at byte 20 is where an integer was required.
    assert!(out.contains("rejected at byte 20"), "{out}");
    assert!(
        out.contains("{\"name\":\"Ada\",\"age\":\"old\"}"),
        "context shown: {out}"
    );

    let swapped = write("check/swapped.json", r#"{"age": 36, "name": "Ada"}"#);
    let (code, out) = trellis(&[&"schema", &"check", &schema, &swapped]);
    assert_eq!(
        code, 1,
        "keys out of schema order are rejected as-is: {out}"
    );
    let (code, out) = trellis(&[&"schema", &"check", &schema, &swapped, &"--canonical"]);
    assert_eq!(code, 0, "{out}");

    let refused = write("check/refused.json", r#"{"type":"string","x-weird":true}"#);
    let (code, out) = trellis(&[&"schema", &"check", &refused, &good]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("x-weird"), "{out}");
    let (code, _) = trellis(&[
        &"schema",
        &"check",
        &Path::new("/nonexistent/schema.json"),
        &good,
    ]);
    assert_eq!(code, 2);
}

#[test]
fn check_jsonl_batches_line_by_line() {
    let schema = write("jsonl/person.json", PERSON);
    let lines = write(
        "jsonl/people.jsonl",
        "{\"name\":\"a\",\"age\":1}\n{\"name\":\"b\",\"age\":2.5}\n\nnot json\n{\"name\":\"c\",\"age\":3}\n",
    );
    let (code, out) = trellis(&[&"schema", &"check", &schema, &lines]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("2 of 4 instances accepted"), "{out}");
    assert!(out.contains("line 2"), "{out}");
    assert!(out.contains("line 4"), "{out}");
    let (_, out) = trellis(&[&"schema", &"check", &schema, &lines, &"--json"]);
    let accepted = out
        .lines()
        .filter(|l| l.contains(r#""accepted":true"#))
        .count();
    assert_eq!(accepted, 2, "{out}");
    let all_ok = write(
        "jsonl/ok.jsonl",
        "{\"name\":\"a\",\"age\":1}\n{\"name\":\"c\",\"age\":3}\n",
    );
    assert_eq!(trellis(&[&"schema", &"check", &schema, &all_ok]).0, 0);
}

#[test]
fn gguf_and_lora_inspection_on_the_real_model() {
    let (code, out) = trellis(&[&"gguf", &"inspect", &model_path()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("architecture gemma3"), "{out}");
    assert!(out.contains("262144 tokens"), "{out}");

    // The base model is not an adapter.
    let (code, out) = trellis(&[&"lora", &"inspect", &model_path()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("base model"), "{out}");

    let text = write("lora/not.gguf", "hello");
    let (code, out) = trellis(&[&"gguf", &"inspect", &text]);
    assert_eq!(code, 1);
    assert!(out.contains("not a GGUF file"), "{out}");
}
