//! Guided generation end to end: schema-constrained generation vs unconstrained generation of
//! the same length, on the bundled model, same process, runs alternated, medians.
//!
//! `cargo bench -p trellis --bench guided` (`TRELLIS_BENCH_REPS` sets the repetitions,
//! default 3). Run it with `OMP_WAIT_POLICY=PASSIVE` on a shared machine.
//!
//! For every schema:
//! - *constrained*: a fresh session answers under the schema, greedy, with fast-forward of
//!   forced tokens (the default). The grammar's time is measured inside the constraint
//!   (`respond_with_schema_profiled`): mask computation, fast-forward, matcher advance.
//! - *unconstrained, same prompt*: a fresh session generates exactly as many tokens from the
//!   same prompt text, greedy, through a constraint that allows every token and is never
//!   complete (so neither end-of-generation nor the plain-format stop strings end it early).
//! - *plain*: `respond_with` greedy on an essay prompt with `max_tokens` = the same count (the
//!   ordinary unconstrained path: no mask at all); the base model's plain-format stop rules
//!   may end it earlier, which the table then says.
//!
//! Token rates are completion tokens (sampled + forced) / generation time. "decodes" counts
//! model evaluations during generation: constrained = runs of forced tokens + sampled tokens
//! fed (a constrained answer ends with one more evaluation, whose logits only let
//! end-of-generation through); unconstrained = tokens - 1 (the last token is never fed).

use std::time::Duration;

use trellis::{
    FinishReason, Generable, GeneratedContent, GenerationOptions, GenerationSchema, GuidedOptions,
    Model, ModelOptions, Sampling, Session, TokenConstraint,
};

const THREADS: usize = 2;
const CONTEXT: u32 = 2048;
const MAX_TOKENS: u32 = 400;

/// A recipe with bounded strings and arrays.
#[derive(Debug, Generable)]
#[allow(dead_code)]
struct Recipe {
    /// A short dish name.
    #[guide(length = 3..=40)]
    name: String,
    #[guide(range = 1..=12)]
    servings: u8,
    #[guide(count = 2..=5, element(length = 2..=30))]
    ingredients: Vec<String>,
    #[guide(count = 2..=4, element(length = 5..=80))]
    steps: Vec<String>,
    difficulty: Difficulty,
}

#[derive(Debug, Generable)]
#[serde(rename_all = "lowercase")]
enum Difficulty {
    Easy,
    Medium,
    Hard,
}

/// A support ticket classification (enum answer).
#[derive(Debug, Generable)]
#[serde(rename_all = "snake_case")]
enum Category {
    Billing,
    Shipping,
    TechnicalProblem,
    AccountAccess,
    Other,
}

/// A tool call: enum tool name and an arguments object.
fn tool_call_schema() -> GenerationSchema {
    GenerationSchema::from_json(serde_json::json!({
        "type": "object",
        "properties": {
            "name": {"enum": ["get_weather", "search_web", "send_email", "create_event"]},
            "arguments": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "maxLength": 60},
                    "city": {"type": "string", "maxLength": 30},
                    "days": {"type": "integer", "minimum": 1, "maximum": 14}
                },
                "required": ["query", "city", "days"],
                "additionalProperties": false
            }
        },
        "required": ["name", "arguments"],
        "additionalProperties": false
    }))
    .expect("tool-call schema")
}

/// A form with many fixed property names and short values.
fn form_schema() -> GenerationSchema {
    let fields = [
        ("has_parking", serde_json::json!({"type": "boolean"})),
        ("has_garden", serde_json::json!({"type": "boolean"})),
        ("has_balcony", serde_json::json!({"type": "boolean"})),
        ("has_elevator", serde_json::json!({"type": "boolean"})),
        ("pets_allowed", serde_json::json!({"type": "boolean"})),
        ("smoking_allowed", serde_json::json!({"type": "boolean"})),
        ("furnished", serde_json::json!({"type": "boolean"})),
        (
            "bedrooms",
            serde_json::json!({"type": "integer", "minimum": 0, "maximum": 9}),
        ),
        (
            "bathrooms",
            serde_json::json!({"type": "integer", "minimum": 0, "maximum": 9}),
        ),
        (
            "floor",
            serde_json::json!({"type": "integer", "minimum": 0, "maximum": 99}),
        ),
        (
            "energy_class",
            serde_json::json!({"enum": ["A", "B", "C", "D", "E", "F", "G"]}),
        ),
        (
            "heating",
            serde_json::json!({"enum": ["gas", "electric", "heat_pump", "none"]}),
        ),
    ];
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for (name, schema) in fields {
        properties.insert(name.to_string(), schema);
        required.push(serde_json::Value::from(name));
    }
    GenerationSchema::from_json(serde_json::json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false
    }))
    .expect("form schema")
}

struct Case {
    label: &'static str,
    schema: GenerationSchema,
    /// Decodes the answer into the Rust type, when there is one (checks the output).
    check: fn(&GeneratedContent) -> Result<(), String>,
    task: &'static str,
}

fn no_check(_: &GeneratedContent) -> Result<(), String> {
    Ok(())
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            label: "Recipe (derived, bounded strings/arrays)",
            schema: GenerationSchema::of::<Recipe>(),
            check: |c| {
                Recipe::from_content(c)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            task: "Write a simple dinner recipe with lentils.",
        },
        Case {
            label: "tool call (enum name + arguments)",
            schema: tool_call_schema(),
            check: no_check,
            task: "Call a tool for: what will the weather be in Lyon for the next 3 days?",
        },
        Case {
            label: "form (12 fixed property names)",
            schema: form_schema(),
            check: no_check,
            task: "Describe this flat: 2 bedrooms, 1 bathroom, 3rd floor, gas heating, \
                   a balcony and an elevator, no pets, energy class C.",
        },
        Case {
            label: "enum classification (derived)",
            schema: GenerationSchema::of::<Category>(),
            check: |c| {
                Category::from_content(c)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            task: "Classify this support ticket: \"I was charged twice for my order.\"",
        },
    ]
}

/// Allows every token and is never complete: generation runs to `max_tokens` exactly.
struct AllowAll;

impl TokenConstraint for AllowAll {
    fn mask(&mut self, _allowed: &mut [u32]) {}
    fn accept(&mut self, _token: u32) -> Result<(), String> {
        Ok(())
    }
    fn is_complete(&self) -> bool {
        false
    }
    fn forced_tokens(&mut self) -> Vec<u32> {
        Vec::new()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn greedy(max_tokens: u32) -> GenerationOptions {
    GenerationOptions {
        sampling: Sampling::Greedy,
        max_tokens,
    }
}

fn prompt_of(case: &Case) -> String {
    format!(
        "{}\nAnswer with JSON that follows this JSON Schema: {}\n",
        case.task,
        case.schema.as_json()
    )
}

struct Constrained {
    tokens: usize,
    forced: usize,
    /// Model evaluations during generation (one per fed token or run of forced tokens).
    decodes: usize,
    gen: Duration,
    mask: Duration,
    mask_calls: usize,
    other_grammar: Duration,
    text: String,
}

/// One constrained request. With `cold = Some(tag)` the schema gets a unique `description`
/// (an annotation: same grammar, same prompt), so it is compiled afresh and starts with an
/// empty mask cache, as the first request with a new schema does; otherwise the grammar and
/// the masks it has cached come from earlier requests.
fn constrained_run(
    rt: &tokio::runtime::Runtime,
    model: &Model,
    case: &Case,
    cold: Option<String>,
) -> Constrained {
    let fresh;
    let schema = match cold {
        None => &case.schema,
        Some(tag) => {
            let mut json = case.schema.as_json().clone();
            json.as_object_mut()
                .expect("schemas here are JSON objects")
                .insert("description".into(), tag.into());
            fresh = GenerationSchema::from_json(json).expect("schema with description");
            &fresh
        }
    };
    let session = Session::new(model).options(greedy(MAX_TOKENS));
    let options = GuidedOptions {
        include_schema_in_prompt: false,
        fast_forward: true,
    };
    let (response, profile) = rt
        .block_on(session.respond_with_schema_profiled(prompt_of(case), schema, options, true))
        .unwrap_or_else(|e| panic!("{}: constrained run failed: {e}", case.label));
    assert_eq!(response.finish_reason, FinishReason::Stop, "{}", case.label);
    if let Err(e) = (case.check)(&response.content) {
        panic!("{}: answer does not decode: {e}", case.label);
    }
    let u = response.usage;
    assert!(profile.forced_tokens <= u.completion_tokens);
    assert!(profile.mask_calls >= u.completion_tokens - profile.forced_tokens);
    Constrained {
        tokens: u.completion_tokens,
        forced: profile.forced_tokens,
        // Every sampled token is fed to the model, every run of forced tokens is one batch;
        // the last mask call only lets end-of-generation through.
        decodes: profile.forced_runs + profile.mask_calls.saturating_sub(1),
        gen: u.generation_duration,
        mask: profile.mask_duration,
        mask_calls: profile.mask_calls,
        other_grammar: profile.forced_duration + profile.accept_duration,
        text: response.content.to_json_string(),
    }
}

/// Exactly `n` unconstrained tokens from the same prompt; returns tokens/s.
fn same_prompt_run(rt: &tokio::runtime::Runtime, model: &Model, case: &Case, n: usize) -> f64 {
    let session = Session::new(model);
    let r = rt
        .block_on(session.respond_constrained(
            prompt_of(case),
            greedy(n as u32),
            Box::new(AllowAll),
        ))
        .expect("unconstrained run");
    assert_eq!(r.usage.completion_tokens, n, "{}", case.label);
    r.usage.generation_tokens_per_second()
}

const ESSAY: &str = "Write a long, detailed essay about the history of bread, covering ancient \
                     Egypt, Rome, medieval Europe and modern industrial baking.";

/// Plain `respond_with` (no constraint at all) for at most `n` tokens: (tokens, tokens/s).
fn plain_run(rt: &tokio::runtime::Runtime, model: &Model, n: usize) -> (usize, f64) {
    let session = Session::new(model);
    let r = rt
        .block_on(session.respond_with(ESSAY, greedy(n as u32)))
        .expect("plain run");
    (
        r.usage.completion_tokens,
        r.usage.generation_tokens_per_second(),
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let reps: usize = std::env::var("TRELLIS_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let load_before = load_average();
    let model = Model::bundled_with(ModelOptions {
        context_size: CONTEXT,
        threads: THREADS,
        batch_size: 512,
    })
    .expect("bundled model (run `bash scripts/install-model.sh`)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cases = cases();

    // Warm-up: page in the weights and compile every grammar (compilation is cached per
    // model and schema, and is not part of generation time anyway).
    for case in &cases {
        let _ = constrained_run(&rt, &model, case, None);
    }

    let mut rows = Vec::new();
    let mut cold_rows = Vec::new();
    for case in &cases {
        let (mut c_tps, mut u_tps, mut p_tps) = (vec![], vec![], vec![]);
        let (mut mask_ms, mut mask_share, mut other_share) = (vec![], vec![], vec![]);
        let mut first: Option<Constrained> = None;
        let mut p_min = usize::MAX;
        let (mut k_tps, mut k_mask_ms, mut k_mask_share, mut k_other_share) =
            (vec![], vec![], vec![], vec![]);
        for rep in 0..reps {
            let n = first.as_ref().map(|c| c.tokens);
            // Alternate which kind goes first; the first repetition needs the count first.
            let constrained_first = n.is_none() || rep % 2 == 0;
            let mut do_unconstrained = |n: usize| {
                u_tps.push(same_prompt_run(&rt, &model, case, n));
                let (got, t) = plain_run(&rt, &model, n);
                p_tps.push(t);
                p_min = p_min.min(got);
            };
            if !constrained_first {
                do_unconstrained(n.unwrap());
            }
            let k = constrained_run(&rt, &model, case, Some(format!("cold run {rep}")));
            let gen = k.gen.as_secs_f64();
            k_tps.push(k.tokens as f64 / gen);
            k_mask_ms.push(k.mask.as_secs_f64() * 1000.0 / k.mask_calls.max(1) as f64);
            k_mask_share.push(100.0 * k.mask.as_secs_f64() / gen);
            k_other_share.push(100.0 * k.other_grammar.as_secs_f64() / gen);
            let c = constrained_run(&rt, &model, case, None);
            assert_eq!(
                k.text, c.text,
                "{}: cold and warm answers differ",
                case.label
            );
            let gen = c.gen.as_secs_f64();
            c_tps.push(c.tokens as f64 / gen);
            mask_ms.push(c.mask.as_secs_f64() * 1000.0 / c.mask_calls.max(1) as f64);
            mask_share.push(100.0 * c.mask.as_secs_f64() / gen);
            other_share.push(100.0 * c.other_grammar.as_secs_f64() / gen);
            if constrained_first {
                do_unconstrained(c.tokens);
            }
            match &first {
                None => first = Some(c),
                Some(f) => {
                    // Greedy decoding is deterministic: same answer, same count every time.
                    assert_eq!(f.text, c.text, "{}: greedy answer changed", case.label);
                    assert_eq!(f.tokens, c.tokens);
                }
            }
        }
        let f = first.unwrap();
        let u_median = median(u_tps.clone());
        let k_median = median(k_tps);
        cold_rows.push((
            case.label,
            k_median,
            k_median / u_median,
            median(k_mask_ms),
            median(k_mask_share),
            median(k_other_share),
        ));
        eprintln!("{}: {}", case.label, f.text);
        rows.push((
            case.label,
            f.tokens,
            100.0 * f.forced as f64 / f.tokens as f64,
            f.decodes,
            median(c_tps),
            median(u_tps),
            p_min,
            median(p_tps),
            median(mask_ms),
            median(mask_share),
            median(other_share),
        ));
    }
    let load_after = load_average();

    println!(
        "Gemma 3 270M Q4_K_M, {THREADS} threads, context {CONTEXT}, greedy, OMP_WAIT_POLICY={}, \
         {reps} alternating repetitions, medians; 1-min load average {load_before} before, \
         {load_after} after.\n",
        std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "(unset)".into())
    );
    println!(
        "| schema | tokens | forced % | decodes c / u | constrained tok/s | unconstrained tok/s (same prompt) \
         | ratio | plain tok/s | mask ms/mask | mask share % | other grammar % |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (label, tokens, forced, decodes, c, u, pn, p, mms, ms, os) in rows {
        let plain = if pn >= tokens {
            format!("{p:.1}")
        } else {
            format!("{p:.1} (stopped at {pn})")
        };
        println!(
            "| {label} | {tokens} | {forced:.0} | {decodes} / {} | {c:.1} | {u:.1} | {:.2} | {plain} | {mms:.3} \
             | {ms:.2} | {os:.2} |",
            tokens - 1,
            c / u
        );
    }
    println!(
        "\nFirst request with a schema (fresh grammar, empty mask cache; the rows above reuse \
         the grammar compiled and the masks cached by earlier requests):\n"
    );
    println!(
        "| schema | constrained tok/s (cold) | ratio to unconstrained | mask ms/mask | \
         mask share % | other grammar % |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (label, k, ratio, mms, ms, os) in cold_rows {
        println!("| {label} | {k:.1} | {ratio:.2} | {mms:.3} | {ms:.2} | {os:.2} |");
    }
}
