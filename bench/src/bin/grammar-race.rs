//! Drives `trellis-grammar` along the same cases, tokenizer and token ids as the peers'
//! harness in `../shared/peers` and prints (and optionally writes as JSON) the same table:
//! compile time, per-mask time (mean / p50 / p99 / max), advance time, forced-token share and
//! peak RSS.
//!
//! ```text
//! cargo run --release -p trellis-bench --bin grammar-race -- [--schemas DIR] [--model GGUF] [--json OUT]
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use serde_json::{json, Value};
use trellis_bench::{peak_rss_mb, Summary};
use trellis_grammar::{CompileOptions, Grammar, TokenMask, TokenizedGrammar, Vocabulary};

#[derive(Parser)]
#[command(about = "Race trellis-grammar over the peers' cases")]
struct Args {
    /// Folder with NAME.json + NAME.tokens.json cases.
    #[arg(long, default_value_os_t = default_schemas())]
    schemas: PathBuf,
    /// The GGUF whose tokenizer the cases were tokenized with.
    #[arg(long, default_value_os_t = trellis_bench::default_model())]
    model: PathBuf,
    /// Only cases whose name contains one of these (comma-separated).
    #[arg(long)]
    only: Option<String>,
    /// Write the results as JSON (same fields as the peers' harness).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Timed passes per case (pass 1 = fresh grammar, later passes = warm caches).
    #[arg(long, default_value_t = 2)]
    passes: usize,
    /// Print every pass-1 mask time (µs), allowed-token count and token text to stderr.
    #[arg(long)]
    trace: bool,
    /// Profiling aid: race every case this many extra times first (fresh grammar each time;
    /// results of the extra rounds are discarded).
    #[arg(long, default_value_t = 0)]
    warmup_rounds: usize,
}

fn default_schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/schemas")
}

fn main() {
    if let Err(e) = run() {
        eprintln!("grammar-race: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let t0 = Instant::now();
    let vocab = Arc::new(trellis_bench::vocabulary_from_gguf(&args.model)?);
    // The token trie and slices are built once per vocabulary (on the first TokenizedGrammar):
    // count that as tokenizer setup, as the peers do, not as the first schema's compile time.
    let warm = Grammar::from_json_schema(&json!({"type": "boolean"}), &CompileOptions::default())?;
    drop(TokenizedGrammar::new(Arc::new(warm), vocab.clone()));
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3;
    eprintln!(
        "vocabulary: {} tokens, setup {setup_ms:.1} ms (GGUF read + decode + token trie)",
        vocab.len()
    );

    let mut cases: Vec<PathBuf> = std::fs::read_dir(&args.schemas)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".tokens.json"))
        .collect();
    cases.sort();
    let only: Vec<String> = args
        .only
        .as_deref()
        .map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_default();

    println!("| schema | steps | compile ms | mask mean | p50 | p99 | max | first | warm mean | warm p99 | adv mean | forced | peak RSS MiB | status |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for case_path in cases {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&case_path)?)?;
        let name = case_path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .trim_end_matches(".tokens.json")
            .to_owned();
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let schema_file = case["schema"].as_str().ok_or("case without schema")?;
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(args.schemas.join(schema_file))?)?;
        let tokens: Vec<u32> = case["tokens"]
            .as_array()
            .ok_or("case without tokens")?
            .iter()
            .map(|t| t.as_u64().unwrap_or(u64::MAX) as u32)
            .collect();
        let eos = case["eos"].as_u64().unwrap_or(1) as u32;
        for _ in 0..args.warmup_rounds {
            race_case(&name, &schema, &tokens, eos, &vocab, args.passes, false);
        }
        let result = race_case(
            &name,
            &schema,
            &tokens,
            eos,
            &vocab,
            args.passes,
            args.trace,
        );
        print_row(&name, &result);
        results.push(result);
    }
    if let Some(path) = args.json {
        let doc = json!({
            "meta": {
                "peer": "trellis",
                "version": env!("CARGO_PKG_VERSION"),
                "tokenizer_setup_ms": setup_ms,
                "vocab": vocab.len(),
            },
            "results": results,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn race_case(
    name: &str,
    schema: &Value,
    tokens: &[u32],
    eos: u32,
    vocab: &Arc<Vocabulary>,
    passes: usize,
    trace: bool,
) -> Value {
    // Every schema compiles from scratch, as in the peers' fresh process per schema: without
    // this, lexeme DFAs built for earlier schemas (strings, numbers, formats) would be reused.
    trellis_grammar::clear_dfa_cache();
    let t = Instant::now();
    let grammar = match Grammar::from_json_schema(schema, &CompileOptions::default()) {
        Ok(g) => g,
        Err(e) => {
            return json!({"peer": "trellis", "schema": name, "ok": false, "status": format!("FAIL: {e}")})
        }
    };
    let tg = Arc::new(TokenizedGrammar::new(Arc::new(grammar), vocab.clone()));
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;

    let mut mask = TokenMask::new(vocab.len());
    let mut pass_results = Vec::new();
    let mut violation: Option<String> = None;
    let mut forced = 0usize;
    for pass in 0..passes.max(1) {
        let mut matcher = tg.matcher();
        let mut mask_us = Vec::with_capacity(tokens.len() + 1);
        let mut adv_us = Vec::with_capacity(tokens.len());
        for (i, &tok) in tokens.iter().enumerate() {
            let t = Instant::now();
            matcher.compute_mask(&mut mask);
            mask_us.push(t.elapsed().as_secs_f64() * 1e6);
            if trace && pass == 0 {
                eprintln!(
                    "{name} step {i}: {:.1} µs, {} allowed, next {:?}",
                    mask_us[mask_us.len() - 1],
                    mask.count(),
                    vocab.token_bytes(tok).map(String::from_utf8_lossy)
                );
            }
            if !mask.is_allowed(tok) {
                violation.get_or_insert(format!("step {i} tok {tok}: mask rejects next token"));
                break;
            }
            if pass == 0 {
                let fb = matcher.forced_bytes();
                if let Some(tb) = vocab.token_bytes(tok) {
                    if !tb.is_empty() && fb.starts_with(tb) {
                        forced += 1;
                    }
                }
            }
            let t = Instant::now();
            let r = matcher.consume(tok);
            adv_us.push(t.elapsed().as_secs_f64() * 1e6);
            if let Err(e) = r {
                violation.get_or_insert(format!("step {i} tok {tok}: consume failed: {e}"));
                break;
            }
        }
        let mut eos_ok = false;
        let mut accepts_end = false;
        if violation.is_none() {
            let t = Instant::now();
            matcher.compute_mask(&mut mask);
            mask_us.push(t.elapsed().as_secs_f64() * 1e6);
            eos_ok = mask.is_allowed(eos);
            accepts_end = matcher.is_accepting() && matcher.consume(eos).is_ok();
            if !eos_ok || !accepts_end {
                violation.get_or_insert("end: EOS not allowed / not accepted".to_owned());
            }
        }
        let first = mask_us.first().copied().unwrap_or(0.0);
        pass_results.push(json!({
            "mask_us": Summary::of(&mask_us).to_json(),
            "first_mask_us": first,
            "advance_us": Summary::of(&adv_us).to_json(),
            "violation": violation,
            "eos_in_final_mask": eos_ok,
            "accepts_end": accepts_end,
        }));
    }
    json!({
        "peer": "trellis",
        "schema": name,
        "compile_ms": compile_ms,
        "steps": tokens.len(),
        "passes": pass_results,
        "forced_tokens": forced,
        "forced_share": if tokens.is_empty() { 0.0 } else { forced as f64 / tokens.len() as f64 },
        "ok": violation.is_none(),
        "status": violation.clone().unwrap_or_else(|| "ok".to_owned()),
        "peak_rss_mb": peak_rss_mb(),
    })
}

fn print_row(name: &str, r: &Value) {
    let p = |pass: usize, k: &str, s: &str| -> String {
        r["passes"][pass][k][s]
            .as_f64()
            .map(|v| format!("{v:.1}"))
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0}% | {:.0} | {} |",
        r["steps"],
        r["compile_ms"]
            .as_f64()
            .map(|v| format!("{v:.2}"))
            .unwrap_or("-".into()),
        p(0, "mask_us", "mean"),
        p(0, "mask_us", "p50"),
        p(0, "mask_us", "p99"),
        p(0, "mask_us", "max"),
        r["passes"][0]["first_mask_us"]
            .as_f64()
            .map(|v| format!("{v:.1}"))
            .unwrap_or("-".into()),
        p(1, "mask_us", "mean"),
        p(1, "mask_us", "p99"),
        p(0, "advance_us", "mean"),
        r["forced_share"].as_f64().unwrap_or(0.0) * 100.0,
        r["peak_rss_mb"].as_f64().unwrap_or(0.0),
        r["status"].as_str().unwrap_or("-"),
    );
}
