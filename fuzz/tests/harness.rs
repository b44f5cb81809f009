//! The fuzz harness itself: it must detect panics and slow compiles (checked with a fake
//! target that misbehaves on purpose), be deterministic, and run the real compiler cleanly.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use trellis_fuzz::{gen, run, Config, GrammarTarget, Report, Target};

fn out_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("trellis-fuzz-test-{}-{name}", std::process::id()))
}

fn config(name: &str, max: u64) -> Config {
    Config {
        duration: Duration::from_secs(60),
        max_schemas: Some(max),
        seed: 7,
        slow_bound: Duration::from_secs(2),
        out_dir: out_dir(name),
        suite_dir: Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/json-schema-test-suite/tests/draft2020-12"
        ))),
        hang_timeout: Duration::from_secs(60),
        max_rss_bytes: 2 << 30,
    }
}

/// Panics on any schema with a `pattern`, sleeps on `multipleOf`, otherwise "compiles"
/// objects and refuses the rest; `accepts` panics on inputs starting with `[`.
struct Misbehaving;

impl Target for Misbehaving {
    type Compiled = ();
    fn compile(&self, schema: &Value, _lenient: bool) -> Result<(), String> {
        let text = schema.to_string();
        if text.contains("\"pattern\"") {
            panic!("fake compiler bug");
        }
        if text.contains("\"multipleOf\":0.1") {
            std::thread::sleep(Duration::from_millis(30));
        }
        if schema.is_object() {
            Ok(())
        } else {
            Err("NotAnObject".into())
        }
    }
    fn accepts(&self, _: &(), input: &[u8]) -> bool {
        if input.first() == Some(&b'[') {
            panic!("fake matcher bug");
        }
        true
    }
}

#[test]
fn harness_reports_panics_and_slow_compiles_and_saves_them() {
    let mut cfg = config("fake", 400);
    cfg.slow_bound = Duration::from_millis(20);
    let mut log = Vec::new();
    let report = run(&Misbehaving, &cfg, &mut log);
    let log = String::from_utf8(log).unwrap();
    assert_eq!(report.schemas, 400);
    assert!(report.panicked());
    let compile_panics: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.kind == "panic in compile")
        .collect();
    assert!(!compile_panics.is_empty(), "{log}");
    assert!(
        compile_panics[0].message.contains("fake compiler bug"),
        "{:?}",
        compile_panics[0]
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&compile_panics[0].file).unwrap()).unwrap();
    assert!(saved["schema"].to_string().contains("\"pattern\""));
    assert!(
        report.failures.iter().any(|f| f.kind == "panic in accepts"),
        "{log}"
    );
    assert!(report.errors.get("NotAnObject").copied().unwrap_or(0) > 0);
    assert!(log.contains("PANIC in compile"));
    // Panic messages were captured by the harness, not printed by the default hook.
    assert!(report.compiled > 0);
}

fn summary(r: &Report) -> String {
    format!(
        "{} {} {:?} {:?}",
        r.schemas, r.compiled, r.errors, r.sources
    )
}

#[test]
fn same_seed_same_run() {
    let a = run(&GrammarTarget, &config("det-a", 300), &mut Vec::new());
    let b = run(&GrammarTarget, &config("det-b", 300), &mut Vec::new());
    assert_eq!(summary(&a), summary(&b));
    let mut other = config("det-c", 300);
    other.seed = 8;
    let c = run(&GrammarTarget, &other, &mut Vec::new());
    assert_ne!(summary(&a), summary(&c));
    // The generator mixes sources and reaches the compiler's success and error paths.
    assert!(a.sources.len() >= 4, "{:?}", a.sources);
    assert!(a.compiled > 0 && !a.errors.is_empty(), "{a:?}");
    assert!(a.suite_schemas > 100, "suite loaded: {}", a.suite_schemas);
}

#[test]
fn generated_schemas_are_varied() {
    let mut rng = gen::Rng::new(1);
    let schemas: Vec<String> = (0..200)
        .map(|_| gen::schema(&mut rng, 4, &[]).to_string())
        .collect();
    let distinct: std::collections::BTreeSet<_> = schemas.iter().collect();
    assert!(distinct.len() > 150);
    for kw in [
        "\"properties\"",
        "\"items\"",
        "\"pattern\"",
        "\"anyOf\"",
        "\"$ref\"",
        "\"enum\"",
    ] {
        assert!(
            schemas.iter().any(|s| s.contains(kw)),
            "{kw} never generated"
        );
    }
    let deep = gen::deep(&mut rng, 50).to_string();
    assert!(deep.len() > 50 * 10);
}

/// The short run that belongs to the test suite: 20 s of the real compiler, seed 1.
#[test]
fn short_fuzz_run_of_the_real_compiler_is_clean() {
    let out = out_dir("short");
    let output = Command::new(env!("CARGO_BIN_EXE_fuzz-compile"))
        // The slow bound is a hang detector here (CI machines may be loaded), not a speed claim.
        .args([
            "--seconds",
            "20",
            "--seed",
            "1",
            "--slow-ms",
            "30000",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "fuzz run failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("schemas/s"), "{stdout}");
    assert!(stdout.contains("failures: 0"), "{stdout}");
}
