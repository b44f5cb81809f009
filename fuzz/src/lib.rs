//! Structure-aware fuzzing of the JSON Schema compiler on the stable toolchain.
//!
//! [`run`] generates schemas — random ones mixing real keywords (with valid and invalid
//! keyword values), mutations of the JSON-Schema-Test-Suite schemas, deeply nested ones,
//! and arbitrary JSON values — and feeds them to a [`Target`] (normally [`GrammarTarget`],
//! i.e. `Grammar::from_json_schema`) under `catch_unwind`, then runs `accepts` on a few
//! byte strings. Panics and slow compiles are saved to files and reported.
//! The sequence of inputs depends only on the seed.
#![warn(missing_docs)]

pub mod gen;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trellis_grammar::{CompileError, CompileOptions, Grammar};

use gen::Rng;

/// What is fuzzed: a compiler and its matcher.
pub trait Target {
    /// A compiled schema.
    type Compiled;
    /// Compiles `schema`; an error is reported by its kind name (e.g. `"Unsupported"`).
    fn compile(&self, schema: &Value, lenient: bool) -> Result<Self::Compiled, String>;
    /// Runs the compiled grammar over `input`.
    fn accepts(&self, compiled: &Self::Compiled, input: &[u8]) -> bool;
}

/// The real target: `trellis_grammar::Grammar`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrammarTarget;

impl Target for GrammarTarget {
    type Compiled = Grammar;
    fn compile(&self, schema: &Value, lenient: bool) -> Result<Grammar, String> {
        let options = CompileOptions {
            lenient,
            ..CompileOptions::default()
        };
        Grammar::from_json_schema(schema, &options).map_err(|e| {
            match e {
                CompileError::Unsupported { .. } => "Unsupported",
                CompileError::Invalid { .. } => "Invalid",
                CompileError::UnresolvedRef { .. } => "UnresolvedRef",
                CompileError::LimitExceeded { .. } => "LimitExceeded",
                #[allow(unreachable_patterns)]
                _ => "Other",
            }
            .to_string()
        })
    }
    fn accepts(&self, g: &Grammar, input: &[u8]) -> bool {
        g.accepts(input).is_ok()
    }
}

/// Fuzzing parameters.
#[derive(Debug, Clone)]
pub struct Config {
    /// Stop after this long.
    pub duration: Duration,
    /// Stop after this many schemas (whichever comes first); makes runs exactly reproducible.
    pub max_schemas: Option<u64>,
    /// Seed of the input sequence.
    pub seed: u64,
    /// A compile (or accept) slower than this is a failure.
    pub slow_bound: Duration,
    /// Where failing inputs are saved.
    pub out_dir: PathBuf,
    /// Folder of JSON-Schema-Test-Suite files (`*.json`: arrays of `{schema, tests}`).
    pub suite_dir: Option<PathBuf>,
    /// If a single compile runs longer than this, the watchdog saves it and exits(3).
    pub hang_timeout: Duration,
    /// If the process's resident memory exceeds this many bytes, the watchdog saves the
    /// current schema and exits(4) — before the machine's OOM killer steps in.
    pub max_rss_bytes: u64,
}

/// Resident set size of this process in bytes (Linux `/proc/self/statm`), if known.
pub fn current_rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// One failure found.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `"panic in compile"`, `"panic in accepts"`, `"slow compile"`, `"slow accepts"`.
    pub kind: String,
    /// Panic message or timing.
    pub message: String,
    /// The saved input.
    pub file: PathBuf,
}

/// Result of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Schemas fed to the compiler.
    pub schemas: u64,
    /// Schemas that compiled.
    pub compiled: u64,
    /// Compile errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Schemas by source (`random`, `suite-mutated`, `suite`, `garbage`, `deep`).
    pub sources: BTreeMap<&'static str, u64>,
    /// `accepts` calls made.
    pub accept_calls: u64,
    /// Failures (panics, slow compiles).
    pub failures: Vec<Failure>,
    /// Slowest compile and its schema.
    pub slowest: Option<(Duration, Value)>,
    /// Wall time.
    pub elapsed: Duration,
    /// Number of suite schemas loaded.
    pub suite_schemas: usize,
}

impl Report {
    /// Schemas per second.
    pub fn rate(&self) -> f64 {
        self.schemas as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// Whether any panic occurred.
    pub fn panicked(&self) -> bool {
        self.failures.iter().any(|f| f.kind.starts_with("panic"))
    }
}

/// A test-suite schema with its test instances.
#[derive(Debug, Clone)]
pub struct SuiteCase {
    /// The schema.
    pub schema: Value,
    /// Compact serializations of its test instances.
    pub instances: Vec<Vec<u8>>,
}

/// Loads every `*.json` of a JSON-Schema-Test-Suite folder (unreadable files are skipped).
pub fn load_suite(dir: &Path) -> Vec<SuiteCase> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let Ok(Value::Array(groups)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for g in groups {
            let Some(schema) = g.get("schema") else {
                continue;
            };
            let instances = g
                .get("tests")
                .and_then(Value::as_array)
                .map(|ts| {
                    ts.iter()
                        .filter_map(|t| t.get("data"))
                        .filter_map(|d| serde_json::to_vec(d).ok())
                        .collect()
                })
                .unwrap_or_default();
            cases.push(SuiteCase {
                schema: schema.clone(),
                instances,
            });
        }
    }
    cases
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_quiet_hook() -> Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{loc}")));
    }));
    previous
}

fn take_panic_message() -> String {
    LAST_PANIC
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| "panic (message not captured)".into())
}

fn save(dir: &Path, name: &str, content: &Value) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let path = dir.join(name);
    let _ = std::fs::write(
        &path,
        serde_json::to_string_pretty(content).unwrap_or_default(),
    );
    path
}

/// Stack size of the fuzzing thread: that of a typical main thread, whatever thread calls
/// [`run`], so that results do not depend on the caller (test threads have 2 MiB).
pub const STACK_SIZE: usize = 8 << 20;

/// Runs the fuzzer against `target`, logging progress and failures to `log`.
///
/// The work runs on a thread with a [`STACK_SIZE`] stack.
pub fn run<T: Target + Sync>(target: &T, config: &Config, log: &mut (dyn Write + Send)) -> Report {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("fuzz".into())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, || run_here(target, config, log))
            .expect("spawn the fuzzing thread")
            .join()
            .unwrap_or_default()
    })
}

fn run_here<T: Target>(target: &T, config: &Config, log: &mut dyn Write) -> Report {
    let suite = config
        .suite_dir
        .as_deref()
        .map(load_suite)
        .unwrap_or_default();
    let mut report = Report {
        suite_schemas: suite.len(),
        ..Report::default()
    };
    let mut rng = Rng::new(config.seed);
    let start = Instant::now();

    // Watchdog: a compile that never returns cannot be caught; save it and exit.
    let current: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    let started_ms = Arc::new(AtomicU64::new(u64::MAX));
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (current, started_ms, done) = (current.clone(), started_ms.clone(), done.clone());
        let (dir, timeout, seed) = (config.out_dir.clone(), config.hang_timeout, config.seed);
        let max_rss = config.max_rss_bytes;
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
                let s = started_ms.load(Ordering::Relaxed);
                let now = start.elapsed().as_millis() as u64;
                let hung = s != u64::MAX && now.saturating_sub(s) > timeout.as_millis() as u64;
                let rss = current_rss().unwrap_or(0);
                if hung || rss > max_rss {
                    let schema = current.lock().map(|c| c.clone()).unwrap_or(None);
                    let (what, code) = if hung {
                        (format!("a compile ran for more than {timeout:?}"), 3)
                    } else {
                        (format!("memory use reached {} MiB", rss >> 20), 4)
                    };
                    let name = if hung { "hang" } else { "memory" };
                    let path = save(
                        &dir,
                        &format!("{name}-seed{seed}.json"),
                        &schema.unwrap_or(Value::Null),
                    );
                    eprintln!("fuzz-compile: {what}; schema saved to {}", path.display());
                    println!(
                        "fuzz-compile: FAILED: {what}; schema saved to {}",
                        path.display()
                    );
                    std::process::exit(code);
                }
            }
        })
    };

    let previous_hook = install_quiet_hook();
    let mut iteration: u64 = 0;
    while start.elapsed() < config.duration && config.max_schemas.is_none_or(|m| iteration < m) {
        iteration += 1;
        let (source, schema, instances): (&'static str, Value, Vec<Vec<u8>>) = match rng.below(20) {
            0..=7 => ("random", gen::schema(&mut rng, 4, &[]), vec![]),
            8..=13 if !suite.is_empty() => {
                let case = &suite[rng.below(suite.len())];
                (
                    "suite-mutated",
                    gen::mutate(&mut rng, &case.schema),
                    case.instances.clone(),
                )
            }
            14 if !suite.is_empty() => {
                let case = &suite[rng.below(suite.len())];
                ("suite", case.schema.clone(), case.instances.clone())
            }
            15..=17 => ("garbage", gen::value(&mut rng, 4), vec![]),
            18 => {
                let levels = [10, 50, 100, 300, 1000][rng.below(5)];
                ("deep", gen::deep(&mut rng, levels), vec![])
            }
            _ => ("random", gen::schema(&mut rng, 6, &[]), vec![]),
        };
        let lenient = rng.one_in(3);
        *report.sources.entry(source).or_default() += 1;
        report.schemas += 1;
        if let Ok(mut c) = current.lock() {
            *c = Some(schema.clone());
        }
        started_ms.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
        // A stack overflow aborts the process and cannot be caught: leave every input
        // behind while it is being compiled, so an abort always names its schema.
        let in_progress = config
            .out_dir
            .join(format!("in-progress-seed{}.json", config.seed));
        save(
            &config.out_dir,
            &format!("in-progress-seed{}.json", config.seed),
            &json!({"lenient": lenient, "schema": schema}),
        );
        let t0 = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| target.compile(&schema, lenient)));
        let took = t0.elapsed();
        let _ = std::fs::remove_file(&in_progress);
        started_ms.store(u64::MAX, Ordering::Relaxed);
        if report.slowest.as_ref().is_none_or(|(d, _)| took > *d) {
            report.slowest = Some((took, schema.clone()));
        }
        let tag = format!("seed{}-n{iteration}", config.seed);
        if took > config.slow_bound {
            let file = save(
                &config.out_dir,
                &format!("slow-{tag}.json"),
                &json!({"lenient": lenient, "schema": schema}),
            );
            let f = Failure {
                kind: "slow compile".into(),
                message: format!("{:.1} ms", took.as_secs_f64() * 1e3),
                file,
            };
            let _ = writeln!(
                log,
                "SLOW  {} ({}) -> {}",
                f.message,
                source,
                f.file.display()
            );
            report.failures.push(f);
        }
        let compiled = match result {
            Err(_) => {
                let message = take_panic_message();
                let file = save(
                    &config.out_dir,
                    &format!("panic-{tag}.json"),
                    &json!({"lenient": lenient, "schema": schema}),
                );
                let _ = writeln!(
                    log,
                    "PANIC in compile ({source}): {message} -> {}",
                    file.display()
                );
                report.failures.push(Failure {
                    kind: "panic in compile".into(),
                    message,
                    file,
                });
                continue;
            }
            Ok(Err(kind)) => {
                *report.errors.entry(kind).or_default() += 1;
                continue;
            }
            Ok(Ok(c)) => c,
        };
        report.compiled += 1;
        let mut inputs: Vec<Vec<u8>> = instances;
        for _ in 0..3 {
            inputs.push(gen::bytes(&mut rng));
        }
        for _ in 0..2 {
            inputs.push(serde_json::to_vec(&gen::value(&mut rng, 3)).unwrap_or_default());
        }
        for input in inputs {
            report.accept_calls += 1;
            let t0 = Instant::now();
            let r = catch_unwind(AssertUnwindSafe(|| target.accepts(&compiled, &input)));
            let took = t0.elapsed();
            let failure = match r {
                Err(_) => Some(("panic in accepts", take_panic_message())),
                Ok(_) if took > config.slow_bound => Some((
                    "slow accepts",
                    format!("{:.1} ms", took.as_secs_f64() * 1e3),
                )),
                Ok(_) => None,
            };
            if let Some((kind, message)) = failure {
                let file = save(
                    &config.out_dir,
                    &format!("{}-{tag}.json", kind.replace(' ', "-")),
                    &json!({"lenient": lenient, "schema": schema, "input": String::from_utf8_lossy(&input), "input_bytes": input}),
                );
                let _ = writeln!(
                    log,
                    "{} ({source}): {message} -> {}",
                    kind.to_uppercase(),
                    file.display()
                );
                report.failures.push(Failure {
                    kind: kind.into(),
                    message,
                    file,
                });
            }
        }
    }
    std::panic::set_hook(previous_hook);
    done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    report.elapsed = start.elapsed();
    report
}
