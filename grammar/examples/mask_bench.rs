//! Mask timing on a synthetic 262,144-token vocabulary along the peer-benchmark documents.
//! `cargo run --release -p trellis-grammar --example mask_bench [schemas-dir]`
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use trellis_grammar::*;

fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn synthetic_vocab(n: usize) -> Vec<Option<Vec<u8>>> {
    let mut s = 0x9E3779B97F4A7C15u64;
    let mut v: Vec<Option<Vec<u8>>> = vec![None, None, None]; // pad, eos, bos
    for b in 0u16..256 {
        v.push(Some(vec![b as u8]));
    }
    let punct = b"{}[]\":,. -_0123456789";
    while v.len() < n {
        let kind = rng(&mut s) % 100;
        let mut t = Vec::new();
        if kind < 55 {
            if rng(&mut s) % 2 == 0 {
                t.push(b' ');
            }
            let len = 2 + rng(&mut s) % 9;
            for i in 0..len {
                let c = b'a' + (rng(&mut s) % 26) as u8;
                t.push(if i == 0 && rng(&mut s) % 5 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                });
            }
        } else if kind < 70 {
            let len = 1 + rng(&mut s) % 4;
            for _ in 0..len {
                t.push(punct[(rng(&mut s) % punct.len() as u64) as usize]);
            }
        } else if kind < 90 {
            let len = 1 + rng(&mut s) % 3;
            for _ in 0..len {
                let c = char::from_u32(0x4E00 + (rng(&mut s) % 20000) as u32).unwrap();
                t.extend_from_slice(c.to_string().as_bytes());
            }
        } else {
            let len = 1 + rng(&mut s) % 6;
            for _ in 0..len {
                t.push(0x20 + (rng(&mut s) % 95) as u8);
            }
        }
        v.push(Some(t));
    }
    v
}

fn tokenize(doc: &[u8], index: &HashMap<&[u8], u32>) -> Vec<u32> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < doc.len() {
        let mut best = None;
        for l in (1..=16.min(doc.len() - i)).rev() {
            if let Some(&t) = index.get(&doc[i..i + l]) {
                best = Some((t, l));
                break;
            }
        }
        let (t, l) = best.unwrap();
        out.push(t);
        i += l;
    }
    out
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/peers/schemas".into());
    let toks = synthetic_vocab(262_144);
    let vocab = Arc::new(Vocabulary::from_token_bytes(toks, &[1]).unwrap());
    let mut index: HashMap<&[u8], u32> = HashMap::new();
    for t in 0..vocab.len() as u32 {
        if let Some(b) = vocab.token_bytes(t) {
            index.entry(b).or_insert(t);
        }
    }
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".json") && !n.contains(".instance.") && !n.contains(".tokens.")
        })
        .collect();
    names.sort();
    let t = Instant::now();
    let g0 = Arc::new(
        Grammar::from_json_schema(&serde_json::json!(true), &CompileOptions::default()).unwrap(),
    );
    drop(TokenizedGrammar::new(g0, vocab.clone()));
    println!(
        "vocabulary index (trie + string slice, once per vocabulary): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut mask = TokenMask::new(vocab.len());
    println!("| schema | compile ms | tokens | setup ms | cold mean µs | cold max µs | warm mean µs | warm p50 µs | warm max µs |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for p in names {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let doc = std::fs::read_to_string(p.with_extension("tokens.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let doc = doc["doc"].as_str().unwrap().as_bytes().to_vec();
        let t0 = Instant::now();
        let g = Arc::new(Grammar::from_json_schema(&schema, &CompileOptions::default()).unwrap());
        let compile_ms = t0.elapsed().as_secs_f64() * 1e3;
        let t1 = Instant::now();
        let tg = Arc::new(TokenizedGrammar::new(g, vocab.clone()));
        let setup_ms = t1.elapsed().as_secs_f64() * 1e3;
        let tokens = tokenize(&doc, &index);
        let mut run = || {
            let mut m = tg.matcher();
            let mut times = Vec::new();
            let mut pos = 0usize;
            for &t in &tokens {
                let s = Instant::now();
                m.compute_mask(&mut mask);
                let us = s.elapsed().as_secs_f64() * 1e6;
                times.push(us);
                if us > 1000.0 && std::env::var("SLOW").is_ok() {
                    eprintln!(
                        "  slow {us:.0}µs after {:?} (allowed {})",
                        String::from_utf8_lossy(&doc[pos.saturating_sub(30)..pos]),
                        mask.count()
                    );
                }
                pos += vocab.token_bytes(t).unwrap().len();
                assert!(mask.is_allowed(t), "{}: token {t} not allowed", p.display());
                m.consume(t).unwrap();
            }
            let s = Instant::now();
            m.compute_mask(&mut mask);
            times.push(s.elapsed().as_secs_f64() * 1e6);
            assert!(mask.is_allowed(1));
            times
        };
        let cold = run();
        let mut warm = run();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let maxf = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
        let (cm, cx) = (mean(&cold), maxf(&cold));
        let (wm, wx) = (mean(&warm), maxf(&warm));
        warm.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("| {} | {compile_ms:.1} | {} | {setup_ms:.0} | {cm:.0} | {cx:.0} | {wm:.1} | {:.1} | {wx:.0} |",
            p.file_name().unwrap().to_string_lossy(), tokens.len(), warm[warm.len() / 2]);
    }
}
