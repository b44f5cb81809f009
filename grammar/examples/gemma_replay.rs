//! Replays the peer-benchmark token sequences (`../shared/peers/schemas/*.tokens.json`) with
//! the real Gemma 3 vocabulary read from the GGUF file: every document token must be allowed,
//! EOS must be allowed at the end. Prints mask timings like the peers' table.
//!
//! `cargo run --release -p trellis-grammar --example gemma_replay [model.gguf] [schemas-dir]`
//! (a tiny GGUF metadata reader is inlined so this crate keeps no dependency on ours).
use std::io::{Read, Seek};
use std::sync::Arc;
use std::time::Instant;
use trellis_grammar::*;

enum V {
    Str(String),
    U(u64),
    I(i64),
    Arr(Vec<V>),
    Other,
}

fn rd<const N: usize>(r: &mut impl Read) -> [u8; N] {
    let mut b = [0u8; N];
    r.read_exact(&mut b).unwrap();
    b
}
fn rstr(r: &mut impl Read) -> String {
    let n = u64::from_le_bytes(rd(r)) as usize;
    let mut b = vec![0u8; n];
    r.read_exact(&mut b).unwrap();
    String::from_utf8_lossy(&b).into_owned()
}
fn rval(r: &mut impl Read, t: u32) -> V {
    match t {
        0 => V::U(rd::<1>(r)[0] as u64),
        1 => V::I(rd::<1>(r)[0] as i8 as i64),
        2 => V::U(u16::from_le_bytes(rd(r)) as u64),
        3 => V::I(i16::from_le_bytes(rd(r)) as i64),
        4 => V::U(u32::from_le_bytes(rd(r)) as u64),
        5 => V::I(i32::from_le_bytes(rd(r)) as i64),
        6 => {
            rd::<4>(r);
            V::Other
        }
        7 => V::U(rd::<1>(r)[0] as u64),
        8 => V::Str(rstr(r)),
        9 => {
            let et = u32::from_le_bytes(rd(r));
            let n = u64::from_le_bytes(rd(r));
            V::Arr((0..n).map(|_| rval(r, et)).collect())
        }
        10 => V::U(u64::from_le_bytes(rd(r))),
        11 => V::I(i64::from_le_bytes(rd(r))),
        12 => {
            rd::<8>(r);
            V::Other
        }
        _ => panic!("bad gguf type {t}"),
    }
}

fn main() {
    let home = std::env::var("HOME").unwrap_or_default();
    let model = std::env::args().nth(1).unwrap_or(format!(
        "{home}/.cache/trellis/models/gemma-3-270m-q4_k_m.gguf"
    ));
    let dir = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "../shared/peers/schemas".into());
    let t0 = Instant::now();
    let mut f = std::io::BufReader::new(std::fs::File::open(&model).unwrap());
    assert_eq!(&rd::<4>(&mut f), b"GGUF");
    let _version = u32::from_le_bytes(rd(&mut f));
    let _tensors = u64::from_le_bytes(rd(&mut f));
    let nkv = u64::from_le_bytes(rd(&mut f));
    let (mut pieces, mut types, mut eos) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..nkv {
        let key = rstr(&mut f);
        let t = u32::from_le_bytes(rd(&mut f));
        let v = rval(&mut f, t);
        match (key.as_str(), v) {
            ("tokenizer.ggml.tokens", V::Arr(a)) => {
                pieces = a
                    .into_iter()
                    .map(|x| if let V::Str(s) = x { s } else { String::new() })
                    .collect()
            }
            ("tokenizer.ggml.token_type", V::Arr(a)) => {
                types = a
                    .into_iter()
                    .map(|x| match x {
                        V::I(i) => TokenType::from_gguf(i as i32).unwrap_or(TokenType::Normal),
                        V::U(u) => TokenType::from_gguf(u as i32).unwrap_or(TokenType::Normal),
                        _ => TokenType::Normal,
                    })
                    .collect()
            }
            ("tokenizer.ggml.eos_token_id", V::U(u)) => eos.push(u as u32),
            _ => {}
        }
    }
    let _ = f.stream_position();
    let vocab = Arc::new(Vocabulary::from_sentencepiece(&pieces, &types, &eos).unwrap());
    println!(
        "GGUF vocabulary: {} tokens, eos {:?}, read in {:.0} ms",
        vocab.len(),
        vocab.eos_tokens(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let g0 = Arc::new(
        Grammar::from_json_schema(&serde_json::json!(true), &CompileOptions::default()).unwrap(),
    );
    drop(TokenizedGrammar::new(g0, vocab.clone()));
    println!(
        "vocabulary index (once per vocabulary): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".tokens.json"))
        .collect();
    names.sort();
    let mut mask = TokenMask::new(vocab.len());
    println!(
        "| schema | compile ms | steps | mask mean µs | p50 | max | warm mean µs | warm max | ok |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for p in names {
        let tj: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let schema_path = p.with_file_name(tj["schema"].as_str().unwrap());
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
        let tokens: Vec<u32> = tj["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let eos_id = tj["eos"].as_u64().unwrap() as u32;
        // the decoded tokens must spell the document
        let spelled: Vec<u8> = tokens
            .iter()
            .flat_map(|&t| vocab.token_bytes(t).unwrap().to_vec())
            .collect();
        assert_eq!(
            spelled,
            tj["doc"].as_str().unwrap().as_bytes(),
            "{}",
            p.display()
        );
        let t = Instant::now();
        let g = Arc::new(Grammar::from_json_schema(&schema, &CompileOptions::default()).unwrap());
        let tg = Arc::new(TokenizedGrammar::new(g, vocab.clone()));
        let compile_ms = t.elapsed().as_secs_f64() * 1e3;
        let run = |mask: &mut TokenMask| -> (Vec<f64>, bool) {
            let mut m = tg.matcher();
            let mut times = Vec::new();
            let mut ok = true;
            for &tok in &tokens {
                let s = Instant::now();
                m.compute_mask(mask);
                times.push(s.elapsed().as_secs_f64() * 1e6);
                ok &= mask.is_allowed(tok) && m.consume(tok).is_ok();
            }
            let s = Instant::now();
            m.compute_mask(mask);
            times.push(s.elapsed().as_secs_f64() * 1e6);
            ok &= mask.is_allowed(eos_id) && m.consume(eos_id).is_ok() && m.is_finished();
            (times, ok)
        };
        let (mut cold, ok1) = run(&mut mask);
        // Exactness spot check on the real vocabulary: at every step, 3000 pseudo-random
        // tokens must be allowed exactly when consuming them succeeds.
        let mut exact = true;
        {
            let mut m = tg.matcher();
            let mut seed = 0x2545F4914F6CDD1Du64;
            for &tok in &tokens {
                m.compute_mask(&mut mask);
                for _ in 0..3000 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let t = (seed % vocab.len() as u64) as u32;
                    let ok = m.consume(t).is_ok();
                    if ok {
                        m.rollback(1).unwrap();
                    }
                    if ok != mask.is_allowed(t) {
                        exact = false;
                        eprintln!(
                            "mismatch: token {t} {:?} allowed={} consumable={ok}",
                            vocab.token_bytes(t),
                            mask.is_allowed(t)
                        );
                    }
                }
                m.consume(tok).unwrap();
            }
        }
        let ok1 = ok1 && exact;
        let (warm, ok2) = run(&mut mask);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let maxf = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
        let (cm, cx, wm, wx) = (mean(&cold), maxf(&cold), mean(&warm), maxf(&warm));
        cold.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "| {} | {compile_ms:.1} | {} | {cm:.0} | {:.0} | {cx:.0} | {wm:.1} | {wx:.0} | {} |",
            tj["schema"].as_str().unwrap(),
            tokens.len(),
            cold[cold.len() / 2],
            if ok1 && ok2 { "ok" } else { "FAIL" }
        );
    }
}
