//! The 12 peer-benchmark schemas (`../../shared/peers/schemas`): each compiles, its compact
//! instance is accepted, and byte mutations of it are never accepted when serde_json says
//! the mutated text is not even JSON.

use std::path::Path;
use std::time::Instant;
use trellis_grammar::{CompileOptions, Grammar};

#[test]
fn peer_schemas_compile_and_accept_their_instances() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/schemas");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.ends_with(".json") && !n.contains(".instance.") && !n.contains(".tokens.")
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 12);
    for p in names {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let tokens_path = p.with_extension("tokens.json");
        let tokens: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&tokens_path).unwrap()).unwrap();
        let doc = tokens["doc"].as_str().unwrap();
        let t = Instant::now();
        let g = Grammar::from_json_schema(&schema, &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let st = g.stats();
        println!(
            "{}: compile {ms:.1} ms, {} rules, {} states",
            p.file_name().unwrap().to_string_lossy(),
            st.rules,
            st.dfa_states
        );
        assert_eq!(g.accepts(doc.as_bytes()), Ok(()), "{}", p.display());
        // Truncations are incomplete, never accepted.
        for cut in [1, doc.len() / 2, doc.len() - 1] {
            assert!(g.accepts(&doc.as_bytes()[..cut]).is_err());
        }
        // Mutations that break JSON syntax are rejected.
        let bytes = doc.as_bytes();
        for i in (0..bytes.len()).step_by(7) {
            for b in [b'}', b'"', b',', b'x', b'\\'] {
                let mut m = bytes.to_vec();
                m[i] = b;
                if serde_json::from_slice::<serde_json::Value>(&m).is_err() {
                    assert!(
                        g.accepts(&m).is_err(),
                        "{}: accepted invalid JSON {}",
                        p.display(),
                        String::from_utf8_lossy(&m)
                    );
                }
            }
        }
    }
}
