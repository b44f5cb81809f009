//! `fuzz-compile`: fuzz `Grammar::from_json_schema` for a number of seconds.
//!
//! ```text
//! fuzz-compile [--seconds 20] [--seed N] [--max-schemas N] [--slow-ms 2000]
//!              [--suite DIR | --no-suite] [--out DIR] [--hang-seconds 20] [--max-rss-mb 2048]
//! ```
//! Exit codes: 0 clean; 1 a panic or a compile/accepts slower than the bound; 2 usage;
//! 3 a compile hung, 4 memory use passed the cap (both saved by the watchdog).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use trellis_fuzz::{run, Config, GrammarTarget};

/// The JSON-Schema-Test-Suite in `../shared/` beside the repository.
const DEFAULT_SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/json-schema-test-suite/tests/draft2020-12"
);

fn usage(msg: &str) -> ExitCode {
    eprintln!("fuzz-compile: {msg}");
    eprintln!(
        "usage: fuzz-compile [--seconds S] [--seed N] [--max-schemas N] [--slow-ms MS] \
         [--suite DIR | --no-suite] [--out DIR] [--hang-seconds S] [--max-rss-mb MB]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut config = Config {
        duration: Duration::from_secs(20),
        max_schemas: None,
        seed: 1,
        slow_bound: Duration::from_secs(2),
        out_dir: PathBuf::from("fuzz-failures"),
        suite_dir: Some(PathBuf::from(DEFAULT_SUITE)),
        hang_timeout: Duration::from_secs(20),
        max_rss_bytes: 2 << 30,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--no-suite" {
            config.suite_dir = None;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            usage("fuzzes the JSON Schema compiler");
            return ExitCode::SUCCESS;
        }
        let Some(value) = args.next() else {
            return usage(&format!("{flag} needs a value"));
        };
        let num = |v: &str| v.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0);
        match flag.as_str() {
            "--seconds" => match num(&value) {
                Some(s) => config.duration = Duration::from_secs_f64(s),
                None => return usage("--seconds takes a non-negative number"),
            },
            "--seed" => match value.parse() {
                Ok(s) => config.seed = s,
                Err(_) => return usage("--seed takes an unsigned integer"),
            },
            "--max-schemas" => match value.parse() {
                Ok(n) => config.max_schemas = Some(n),
                Err(_) => return usage("--max-schemas takes an unsigned integer"),
            },
            "--slow-ms" => match num(&value) {
                Some(ms) => config.slow_bound = Duration::from_secs_f64(ms / 1e3),
                None => return usage("--slow-ms takes a non-negative number"),
            },
            "--hang-seconds" => match num(&value) {
                Some(s) => config.hang_timeout = Duration::from_secs_f64(s),
                None => return usage("--hang-seconds takes a non-negative number"),
            },
            "--max-rss-mb" => match value.parse::<u64>() {
                Ok(mb) => config.max_rss_bytes = mb << 20,
                Err(_) => return usage("--max-rss-mb takes an unsigned integer"),
            },
            "--suite" => config.suite_dir = Some(PathBuf::from(value)),
            "--out" => config.out_dir = PathBuf::from(value),
            other => return usage(&format!("unknown option {other}")),
        }
    }
    let report = run(&GrammarTarget, &config, &mut std::io::stderr());
    println!(
        "fuzz-compile: seed {}, {} schemas in {:.1} s ({:.0} schemas/s); {} compiled, {} accepts calls",
        config.seed,
        report.schemas,
        report.elapsed.as_secs_f64(),
        report.rate(),
        report.compiled,
        report.accept_calls
    );
    println!("  suite schemas loaded: {}", report.suite_schemas);
    println!("  sources: {:?}", report.sources);
    println!("  compile errors by kind: {:?}", report.errors);
    if let Some((d, schema)) = &report.slowest {
        let text = schema.to_string();
        let shown: String = text.chars().take(200).collect();
        println!(
            "  slowest compile: {:.2} ms ({} bytes of schema): {}{}",
            d.as_secs_f64() * 1e3,
            text.len(),
            shown,
            if text.len() > shown.len() { "…" } else { "" }
        );
    }
    println!("  failures: {}", report.failures.len());
    for f in &report.failures {
        println!("    {}: {} -> {}", f.kind, f.message, f.file.display());
    }
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
