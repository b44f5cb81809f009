//! Tests against the real bundled model (Gemma 3 270M, Q4_K_M).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::PathBuf;

use trellis_gguf::{GgmlType, GgufError, GgufFile};

fn model_path() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/trellis/models/gemma-3-270m-q4_k_m.gguf")
}

fn tmp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trellis-gguf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn real_model_parses_with_expected_layout() {
    let path = model_path();
    let g = GgufFile::open(&path).unwrap();
    assert_eq!(g.version(), 3);
    assert_eq!(g.architecture(), Some("gemma3"));
    assert_eq!(g.alignment(), 32);
    assert_eq!(g.data_offset() % 32, 0);
    assert_eq!(g.file_len(), std::fs::metadata(&path).unwrap().len());

    let blocks = g.get_u32("gemma3.block_count").unwrap();
    assert_eq!(blocks, 18);
    assert_eq!(g.get_u32("gemma3.embedding_length"), Some(640));

    // Every block has the projections with the dimensions measured with llama.cpp.
    for b in 0..blocks {
        let dims = |n: &str| {
            g.tensor(&format!("blk.{b}.{n}.weight"))
                .unwrap()
                .dims
                .clone()
        };
        assert_eq!(dims("attn_q"), vec![640, 1024]);
        assert_eq!(dims("attn_k"), vec![640, 256]);
        assert_eq!(dims("attn_v"), vec![640, 256]);
        assert_eq!(dims("attn_output"), vec![1024, 640]);
        assert_eq!(dims("ffn_gate"), vec![640, 2048]);
        assert_eq!(dims("ffn_up"), vec![640, 2048]);
        assert_eq!(dims("ffn_down"), vec![2048, 640]);
    }
    let embd = g.tensor("token_embd.weight").unwrap();
    assert_eq!(embd.dims, vec![640, 262_144]);
    // No tensor outside the blocks besides the embedding and the output norm.
    let non_block: Vec<&str> = g
        .tensors()
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| !n.starts_with("blk."))
        .collect();
    assert!(non_block.contains(&"output_norm.weight"), "{non_block:?}");
    let per_block = (g.tensors().len() - non_block.len()) as u32 / blocks;
    assert_eq!(
        per_block * blocks + non_block.len() as u32,
        g.tensors().len() as u32
    );

    // Tensors are in bounds, aligned and do not overlap.
    let mut spans: Vec<(u64, u64)> = g
        .tensors()
        .iter()
        .map(|t| {
            (
                g.data_offset() + t.offset,
                g.data_offset() + t.offset + t.size,
            )
        })
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlap {w:?}");
    }
    assert!(spans.last().unwrap().1 <= g.file_len());
    // The tensor data covers the file up to the last (aligned) tensor: nothing is missed.
    let total: u64 = g.tensors().iter().map(|t| t.size).sum();
    assert!(total > g.file_len() * 9 / 10, "{total} of {}", g.file_len());

    // A quantised model mixes types; sizes follow the block layout.
    let q = g
        .tensors()
        .iter()
        .find(|t| t.ggml_type == GgmlType::Q4K)
        .unwrap();
    assert_eq!(q.size, q.n_elements() / 256 * 144);
}

#[test]
fn real_model_tokenizer() {
    let g = GgufFile::open(model_path()).unwrap();
    let tok = g.tokenizer().unwrap();
    assert_eq!(tok.model, "llama");
    assert_eq!(tok.tokens.len(), 262_144);
    assert_eq!(tok.token_types.len(), 262_144);
    assert_eq!(tok.bos, Some(2));
    assert_eq!(tok.eos, Some(1));
    assert_eq!(tok.tokens[105], "<start_of_turn>");
    assert_eq!(tok.tokens[106], "<end_of_turn>");
    assert_eq!(tok.tokens[238], "<0x00>");
    assert_eq!(tok.token_types[238], 6); // byte token
    assert!(
        tok.eog.contains(&1) && tok.eog.contains(&106),
        "{:?}",
        tok.eog
    );
}

#[test]
fn real_model_tensor_data_reads_and_decodes() {
    let path = model_path();
    let g = GgufFile::open(&path).unwrap();
    let norm = g.tensor("output_norm.weight").unwrap();
    assert_eq!(norm.ggml_type, GgmlType::F32);
    let mut f = File::open(&path).unwrap();
    let values = g.tensor_f32(&mut f, norm).unwrap();
    assert_eq!(values.len() as u64, norm.n_elements());
    assert!(values.iter().all(|v| v.is_finite()));
    assert!(values.iter().any(|v| *v != 0.0));
    let q = g
        .tensors()
        .iter()
        .find(|t| t.ggml_type == GgmlType::Q4K)
        .unwrap();
    assert_eq!(g.tensor_data(&mut f, q).unwrap().len() as u64, q.size);
    assert!(matches!(
        g.tensor_f32(&mut f, q),
        Err(GgufError::UnsupportedConversion { .. })
    ));
}

#[test]
fn truncated_copies_are_rejected_as_truncated() {
    let path = model_path();
    let full = GgufFile::open(&path).unwrap();
    let len = full.file_len();

    // Cut inside the tensor data: reported as truncated tensor data.
    for cut in [len - 1, len - 100_000, full.data_offset() + 10] {
        let err = GgufFile::read(BufReader::new(File::open(&path).unwrap()), cut).unwrap_err();
        match err {
            GgufError::Truncated { what, file_len, .. } => {
                assert!(what.starts_with("tensor data of"), "{what}");
                assert_eq!(file_len, cut);
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }

    // A real truncated copy on disk, cut inside the token list.
    let mut head = vec![0u8; 1_000_000];
    File::open(&path).unwrap().read_exact(&mut head).unwrap();
    let copy = tmp_path("truncated.gguf");
    File::create(&copy).unwrap().write_all(&head).unwrap();
    match GgufFile::open(&copy).unwrap_err() {
        GgufError::Truncated {
            what,
            offset,
            file_len,
        } => {
            assert!(what.contains("tokenizer.ggml.tokens"), "{what}");
            assert_eq!(file_len, 1_000_000);
            assert!(offset < file_len);
        }
        other => panic!("{other:?}"),
    }
    // Cut in the middle of the fixed header.
    let copy2 = tmp_path("tiny.gguf");
    File::create(&copy2)
        .unwrap()
        .write_all(&head[..10])
        .unwrap();
    assert!(matches!(
        GgufFile::open(&copy2).unwrap_err(),
        GgufError::Truncated { ref what, .. } if what == "tensor count"
    ));
}

#[test]
fn text_and_random_files_are_not_gguf() {
    let text = tmp_path("notes.txt");
    std::fs::write(&text, "hello, this is not a model\n").unwrap();
    match GgufFile::open(&text).unwrap_err() {
        GgufError::NotGguf { found_magic } => assert_eq!(found_magic, b"hell"),
        other => panic!("{other:?}"),
    }
    let mut state = 0x1234_5678_9abc_def0u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let err = GgufFile::read(&random[..], random.len() as u64).unwrap_err();
    assert!(matches!(err, GgufError::NotGguf { .. }), "{err:?}");
    // Empty and short inputs too.
    let err = GgufFile::read(&b"GG"[..], 2).unwrap_err();
    assert!(matches!(err, GgufError::NotGguf { ref found_magic } if found_magic == b"GG"));
    let err = GgufFile::read(&b""[..], 0).unwrap_err();
    assert!(matches!(err, GgufError::NotGguf { .. }));
}

#[test]
fn bit_flips_in_the_real_header_never_panic() {
    // A handful of mutations of the real model's first 2 MB (header and token list).
    let path = model_path();
    let mut head = vec![0u8; 2_000_000];
    File::open(&path).unwrap().read_exact(&mut head).unwrap();
    let mut state = 42u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut outcomes = std::collections::BTreeMap::new();
    for _ in 0..24 {
        let mut m = head.clone();
        // Mostly hit the fixed header and the first keys, sometimes anywhere.
        let pos = if next() % 2 == 0 {
            next() % 200
        } else {
            next() % m.len() as u64
        } as usize;
        m[pos] ^= 1 << (next() % 8);
        let r = std::panic::catch_unwind(|| GgufFile::read(&m[..], m.len() as u64));
        let r = r.expect("parser panicked");
        let kind = match r {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("{e:?}")
                .split([' ', '{', '('])
                .next()
                .unwrap()
                .to_string(),
        };
        *outcomes.entry(kind).or_insert(0) += 1;
    }
    // The file is cut at 2 MB, so a parse that survives the flip must still end in an error.
    assert!(!outcomes.contains_key("ok"), "{outcomes:?}");
}
