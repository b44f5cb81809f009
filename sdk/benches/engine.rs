//! Engine benchmark: Trellis vs llama.cpp used directly (llama-cpp-2), same process, same
//! model, same context parameters, same threads, runs alternated; plus KV-cache reuse.
//!
//! `cargo bench -p trellis --bench engine` (set `TRELLIS_BENCH_REPS` to change the repetitions;
//! `DIRECT_IN_THREAD=1` runs each direct run on a fresh thread, as a Trellis session does).

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use trellis::llama_cpp_2::context::params::LlamaContextParams;
use trellis::llama_cpp_2::llama_batch::LlamaBatch;
use trellis::llama_cpp_2::sampling::LlamaSampler;
use trellis::llama_cpp_2::token::LlamaToken;
use trellis::{GenerationOptions, Model, ModelOptions, Sampling, Session, Transcript};

const THREADS: usize = 2;
const CONTEXT: u32 = 2048;
const BATCH: u32 = 512;
const MAX_TOKENS: u32 = 64;

struct Run {
    prompt_tokens: usize,
    prompt_time: Duration,
    gen_tokens: usize,
    gen_time: Duration,
}

impl Run {
    fn pp(&self) -> f64 {
        self.prompt_tokens as f64 / self.prompt_time.as_secs_f64()
    }
    fn tg(&self) -> f64 {
        self.gen_tokens as f64 / self.gen_time.as_secs_f64()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn instructions() -> String {
    "You are a knowledgeable assistant. ".to_string()
        + &"Background: the history of astronomy spans many cultures, from Babylonian \
            star catalogues to Greek geometry, Islamic observatories and the telescopes of \
            the scientific revolution. "
            .repeat(8)
}

const PROMPT: &str = "Write a detailed essay about the planets of the solar system.";

/// One cold Trellis request: a fresh session, greedy, `MAX_TOKENS` at most.
fn trellis_run(rt: &tokio::runtime::Runtime, model: &Model) -> (Run, String) {
    let session = Session::new(model)
        .instructions(instructions())
        .options(GenerationOptions {
            sampling: Sampling::Greedy,
            max_tokens: MAX_TOKENS,
        });
    let r = rt.block_on(session.respond(PROMPT)).expect("trellis run");
    assert_eq!(r.usage.cached_tokens, 0);
    (
        Run {
            prompt_tokens: r.usage.prompt_tokens,
            prompt_time: r.usage.prompt_duration,
            gen_tokens: r.usage.completion_tokens,
            gen_time: r.usage.generation_duration,
        },
        r.content,
    )
}

/// The same work with llama-cpp-2 directly: decode the same tokens, then greedy-generate the
/// same number of tokens with llama.cpp's own greedy sampler.
fn direct_run(model: &Model, tokens: &[LlamaToken], gen_tokens: usize) -> Run {
    let backend = trellis::llama_backend().unwrap();
    let llama = model.llama_model();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(CONTEXT))
        .with_n_batch(BATCH)
        .with_n_ubatch(BATCH)
        .with_n_seq_max(1)
        .with_n_threads(THREADS as i32)
        .with_n_threads_batch(THREADS as i32)
        .with_swa_full(true);
    let mut ctx = llama.new_context(backend, params).expect("context");
    let mut batch = LlamaBatch::new(BATCH as usize, 1);
    let start = Instant::now();
    let mut pos = 0i32;
    for (ci, chunk) in tokens.chunks(BATCH as usize).enumerate() {
        batch.clear();
        let last_chunk = (ci + 1) * BATCH as usize >= tokens.len();
        for (i, &t) in chunk.iter().enumerate() {
            batch
                .add(t, pos, &[0], last_chunk && i + 1 == chunk.len())
                .unwrap();
            pos += 1;
        }
        ctx.decode(&mut batch).expect("decode");
    }
    let prompt_time = start.elapsed();
    let start = Instant::now();
    let mut sampler = LlamaSampler::greedy();
    for n in 0..gen_tokens {
        let t = sampler.sample(&ctx, batch.n_tokens() - 1);
        if n + 1 == gen_tokens {
            break;
        }
        batch.clear();
        batch.add(t, pos, &[0], true).unwrap();
        pos += 1;
        ctx.decode(&mut batch).expect("decode");
    }
    Run {
        prompt_tokens: tokens.len(),
        prompt_time,
        gen_tokens,
        gen_time: start.elapsed(),
    }
}

fn main() {
    let reps: usize = std::env::var("TRELLIS_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let model = Model::bundled_with(ModelOptions {
        context_size: CONTEXT,
        threads: THREADS,
        batch_size: BATCH,
    })
    .expect("bundled model (run `bash scripts/install-model.sh`)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut transcript = Transcript::new();
    transcript.push(trellis::Entry::Instructions {
        text: instructions(),
    });
    let tokens: Vec<LlamaToken> = model
        .prompt_tokens(&transcript, PROMPT)
        .unwrap()
        .into_iter()
        .map(|t| LlamaToken(t as i32))
        .collect();

    // Warm-up (page in the weights).
    let (_, _) = trellis_run(&rt, &model);
    let _ = direct_run(&model, &tokens, 8);

    let (mut t_pp, mut t_tg, mut d_pp, mut d_tg) = (vec![], vec![], vec![], vec![]);
    let mut gen_tokens = 0;
    for rep in 0..reps {
        // Alternate which goes first.
        let order = if rep % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for trellis_first in order {
            if trellis_first {
                let (run, _) = trellis_run(&rt, &model);
                assert_eq!(run.prompt_tokens, tokens.len());
                gen_tokens = run.gen_tokens;
                t_pp.push(run.pp());
                t_tg.push(run.tg());
            } else {
                let n = if gen_tokens == 0 {
                    MAX_TOKENS as usize
                } else {
                    gen_tokens
                };
                let run = if std::env::var_os("DIRECT_IN_THREAD").is_some() {
                    std::thread::scope(|sc| {
                        sc.spawn(|| direct_run(&model, &tokens, n)).join().unwrap()
                    })
                } else {
                    direct_run(&model, &tokens, n)
                };
                d_pp.push(run.pp());
                d_tg.push(run.tg());
            }
        }
    }

    // KV reuse: second-turn time to first token, warm session vs a cold one on the same
    // transcript.
    let (mut warm, mut cold) = (vec![], vec![]);
    let (mut warm_eval, mut cold_eval) = (0, 0);
    let mut mismatches = 0;
    for _ in 0..reps {
        let session =
            Session::new(&model)
                .instructions(instructions())
                .options(GenerationOptions {
                    sampling: Sampling::Greedy,
                    max_tokens: 24,
                });
        rt.block_on(session.respond(PROMPT)).unwrap();
        let before = session.transcript();
        let second = rt
            .block_on(session.respond("Now summarise it in one line."))
            .unwrap();
        warm.push(second.usage.prompt_duration.as_secs_f64() * 1000.0);
        warm_eval = second.usage.evaluated_tokens();
        let fresh = Session::from_transcript(&model, before).options(GenerationOptions {
            sampling: Sampling::Greedy,
            max_tokens: 24,
        });
        let again = rt
            .block_on(fresh.respond("Now summarise it in one line."))
            .unwrap();
        cold.push(again.usage.prompt_duration.as_secs_f64() * 1000.0);
        cold_eval = again.usage.evaluated_tokens();
        if second.content != again.content {
            mismatches += 1;
        }
    }

    let (tpp, ttg, dpp, dtg) = (median(t_pp), median(t_tg), median(d_pp), median(d_tg));
    let (w, c) = (median(warm), median(cold));
    println!("Gemma 3 270M Q4_K_M, {THREADS} threads, context {CONTEXT}, batch {BATCH}, {reps} alternating repetitions, medians.\n");
    println!("| measure | Trellis | llama.cpp direct | Trellis / direct |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| prompt processing ({} tokens), tok/s | {tpp:.0} | {dpp:.0} | {:.1}% |",
        tokens.len(),
        100.0 * tpp / dpp
    );
    println!(
        "| generation ({gen_tokens} tokens, greedy), tok/s | {ttg:.1} | {dtg:.1} | {:.1}% |",
        100.0 * ttg / dtg
    );
    println!();
    println!("| second turn | time to first token (ms) | prompt tokens evaluated |");
    println!("| --- | ---: | ---: |");
    println!("| warm session (KV cache reused) | {w:.1} | {warm_eval} |");
    println!("| cold session, same transcript | {c:.1} | {cold_eval} |");
    println!("| speed-up | {:.1}x | |", c / w);
    println!("\nWarm and cold second answers differed in {mismatches} of {reps} runs (greedy).");
}
