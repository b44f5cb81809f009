//! PEFT → GGUF conversion with generated PEFT-layout fixtures, validated against the real model.

use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::Dtype;
use trellis_gguf::GgufFile;
use trellis_lora::{convert_peft, peft_to_gguf_name, AdapterInfo, LoraError};

fn model_path() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/trellis/models/gemma-3-270m-q4_k_m.gguf")
}

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("trellis-peft-test-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Deterministic values that differ per tensor and position.
fn values(seed: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

enum Enc {
    F32,
    Bf16,
}

/// Writes `adapter_model.safetensors` with (name, numpy shape, encoding) tensors and the config.
fn write_fixture(
    dir: &Path,
    config: &str,
    tensors: &[(&str, [usize; 2], Enc)],
) -> (PathBuf, PathBuf) {
    let mut raw: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::new();
    for (i, (name, shape, enc)) in tensors.iter().enumerate() {
        let v = values(i as u32 * 7 + 1, shape[0] * shape[1]);
        let (dtype, bytes) = match enc {
            Enc::F32 => (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            // Values in the fixture are multiples of 1/1000; truncating to bf16 is the encoding.
            Enc::Bf16 => (
                Dtype::BF16,
                v.iter()
                    .flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes())
                    .collect(),
            ),
        };
        raw.push((name.to_string(), shape.to_vec(), dtype, bytes));
    }
    let views: Vec<(String, TensorView)> = raw
        .iter()
        .map(|(n, s, d, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let st = safetensors::serialize(views, None::<HashMap<String, String>>).unwrap();
    let st_path = dir.join("adapter_model.safetensors");
    std::fs::write(&st_path, st).unwrap();
    let cfg_path = dir.join("adapter_config.json");
    std::fs::write(&cfg_path, config).unwrap();
    (cfg_path, st_path)
}

const GEMMA_CONFIG: &str = r#"{
  "base_model_name_or_path": "google/gemma-3-270m",
  "peft_type": "LORA",
  "r": 4,
  "lora_alpha": 16,
  "target_modules": ["q_proj", "v_proj", "o_proj", "down_proj"],
  "use_rslora": false
}"#;

fn gemma_tensors() -> Vec<(&'static str, [usize; 2], Enc)> {
    let p = "base_model.model.model";
    vec![
        (
            leak(format!("{p}.layers.0.self_attn.q_proj.lora_A.weight")),
            [4, 640],
            Enc::F32,
        ),
        (
            leak(format!("{p}.layers.0.self_attn.q_proj.lora_B.weight")),
            [1024, 4],
            Enc::F32,
        ),
        (
            leak(format!("{p}.layers.0.self_attn.v_proj.lora_A.weight")),
            [4, 640],
            Enc::Bf16,
        ),
        (
            leak(format!("{p}.layers.0.self_attn.v_proj.lora_B.weight")),
            [256, 4],
            Enc::Bf16,
        ),
        (
            leak(format!("{p}.layers.17.self_attn.o_proj.lora_A.weight")),
            [4, 1024],
            Enc::F32,
        ),
        (
            leak(format!("{p}.layers.17.self_attn.o_proj.lora_B.weight")),
            [640, 4],
            Enc::F32,
        ),
        (
            leak(format!("{p}.layers.5.mlp.down_proj.lora_A.weight")),
            [4, 2048],
            Enc::F32,
        ),
        (
            leak(format!("{p}.layers.5.mlp.down_proj.lora_B.weight")),
            [640, 4],
            Enc::F32,
        ),
    ]
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn gemma_peft_adapter_converts_and_validates() {
    let base = GgufFile::open(model_path()).unwrap();
    let dir = tmp_dir("gemma");
    let tensors = gemma_tensors();
    let (cfg, st) = write_fixture(&dir, GEMMA_CONFIG, &tensors);
    let out = dir.join("gemma-lora.gguf");
    let info = convert_peft(&cfg, &st, &base, &out).unwrap();
    assert_eq!(info.targets.len(), 4);
    assert_eq!(info.rank(), Some(4));
    assert_eq!(info.alpha, Some(16.0));

    // Re-read from disk: a valid adapter for the real model.
    let reread = AdapterInfo::inspect(&out).unwrap();
    reread.validate_against(&base).unwrap();
    assert_eq!(
        reread
            .get("trellis.peft.base_model_name_or_path")
            .and_then(|v| v.as_str()),
        Some("google/gemma-3-270m")
    );
    let bases: Vec<&str> = reread.targets.iter().map(|t| t.base.as_str()).collect();
    assert_eq!(
        bases,
        [
            "blk.0.attn_q.weight",
            "blk.0.attn_v.weight",
            "blk.17.attn_output.weight",
            "blk.5.ffn_down.weight",
        ]
    );

    // Values: linear layers keep PEFT's layout; the embedding's A is transposed.
    let g = GgufFile::open(&out).unwrap();
    let mut f = BufReader::new(std::fs::File::open(&out).unwrap());
    let read = |f: &mut BufReader<std::fs::File>, name: &str| {
        g.tensor_f32(f, g.tensor(name).unwrap()).unwrap()
    };
    let qa = read(&mut f, "blk.0.attn_q.weight.lora_a");
    assert_eq!(qa, values(1, 4 * 640));
    let vb = read(&mut f, "blk.0.attn_v.weight.lora_b");
    let expected_bf16: Vec<f32> = values(3 * 7 + 1, 256 * 4)
        .iter()
        .map(|x| f32::from_bits(x.to_bits() & 0xffff_0000))
        .collect();
    assert_eq!(vb, expected_bf16);
    let ob = read(&mut f, "blk.17.attn_output.weight.lora_b");
    assert_eq!(ob, values(5 * 7 + 1, 640 * 4));
}

/// A small synthetic base with an untied output projection (embedding LoRA needs one).
fn untied_base(dir: &Path) -> GgufFile {
    let mut w = trellis_gguf::GgufWriter::new();
    w.set_metadata("general.architecture", "llama").unwrap();
    w.add_tensor_f32("token_embd.weight", &[64, 1000], &vec![0.0; 64_000])
        .unwrap();
    w.add_tensor_f32("output.weight", &[64, 1000], &vec![0.0; 64_000])
        .unwrap();
    let path = dir.join("untied-base.gguf");
    w.write_file(&path).unwrap();
    GgufFile::open(&path).unwrap()
}

#[test]
fn embedding_and_lm_head_convert_with_the_right_transposition() {
    let dir = tmp_dir("embedding");
    let base = untied_base(&dir);
    let p = "base_model.model";
    let tensors = vec![
        (
            leak(format!("{p}.model.embed_tokens.lora_embedding_A")),
            [4, 1000],
            Enc::F32,
        ),
        (
            leak(format!("{p}.model.embed_tokens.lora_embedding_B")),
            [64, 4],
            Enc::F32,
        ),
        (
            leak(format!("{p}.lm_head.lora_A.weight")),
            [4, 64],
            Enc::F32,
        ),
        (
            leak(format!("{p}.lm_head.lora_B.weight")),
            [1000, 4],
            Enc::F32,
        ),
    ];
    let cfg = r#"{"peft_type": "LORA", "r": 4, "lora_alpha": 4, "target_modules": ["embed_tokens", "lm_head"]}"#;
    let (cfg, st) = write_fixture(&dir, cfg, &tensors);
    let out = dir.join("embd.gguf");
    let info = convert_peft(&cfg, &st, &base, &out).unwrap();
    info.validate_against(&base).unwrap();
    let g = GgufFile::open(&out).unwrap();
    let a = g.tensor("token_embd.weight.lora_a").unwrap();
    assert_eq!(a.dims, vec![4, 1000]);
    assert_eq!(
        g.tensor("token_embd.weight.lora_b").unwrap().dims,
        vec![4, 64]
    );
    assert_eq!(g.tensor("output.weight.lora_a").unwrap().dims, vec![64, 4]);
    let mut f = BufReader::new(std::fs::File::open(&out).unwrap());
    let ea = g.tensor_f32(&mut f, a).unwrap();
    let src = values(1, 4 * 1000);
    // numpy A[i][j] (rank i, token j) becomes ggml a[token j][rank i] = flat[j * 4 + i].
    for (i, j) in [(0usize, 0usize), (1, 7), (3, 999), (2, 500)] {
        assert_eq!(ea[j * 4 + i], src[i * 1000 + j], "A[{i}][{j}]");
    }
    let eb = g
        .tensor_f32(&mut f, g.tensor("token_embd.weight.lora_b").unwrap())
        .unwrap();
    assert_eq!(eb, values(8, 64 * 4));

    // The same embedding LoRA for Gemma 3 (tied embeddings) is refused.
    let gemma = GgufFile::open(model_path()).unwrap();
    let dir = tmp_dir("embedding-gemma");
    let tensors = vec![
        (
            leak(format!("{p}.model.embed_tokens.lora_embedding_A")),
            [4, 262_144],
            Enc::F32,
        ),
        (
            leak(format!("{p}.model.embed_tokens.lora_embedding_B")),
            [640, 4],
            Enc::F32,
        ),
    ];
    let cfg = r#"{"r": 4, "lora_alpha": 4}"#;
    let (cfg, st) = write_fixture(&dir, cfg, &tensors);
    assert!(matches!(
        convert_peft(&cfg, &st, &gemma, dir.join("o.gguf")).unwrap_err(),
        LoraError::TiedEmbedding { .. }
    ));
}

#[test]
fn wrong_base_model_shapes_are_refused_without_output() {
    let base = GgufFile::open(model_path()).unwrap();
    let dir = tmp_dir("llama-sized");
    // Llama-style names with Llama-3.2-1B-sized projections (2048 hidden) on a Gemma base.
    let tensors = vec![
        (
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight",
            [4, 2048],
            Enc::F32,
        ),
        (
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight",
            [2048, 4],
            Enc::F32,
        ),
    ];
    let cfg = r#"{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": "q_proj"}"#;
    let (cfg, st) = write_fixture(&dir, cfg, &tensors);
    let out = dir.join("out.gguf");
    match convert_peft(&cfg, &st, &base, &out).unwrap_err() {
        LoraError::ShapeMismatch {
            tensor,
            expected,
            found,
            ..
        } => {
            assert!(tensor.contains("blk.0.attn_q.weight.lora_a"), "{tensor}");
            assert!(tensor.contains("q_proj.lora_A.default.weight"), "{tensor}");
            assert_eq!(expected, vec![640, 4]);
            assert_eq!(found, vec![2048, 4]);
        }
        other => panic!("{other:?}"),
    }
    assert!(!out.exists());
}

#[test]
fn conversion_errors_are_typed() {
    let base = GgufFile::open(model_path()).unwrap();
    let q = |extra: &'static str| {
        vec![
            (
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                [4, 640],
                Enc::F32,
            ),
            (
                "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                [1024, 4],
                Enc::F32,
            ),
            (extra, [640, 1], Enc::F32),
        ]
    };
    let cfg = r#"{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}"#;

    let dir = tmp_dir("unknown");
    let (c, s) = write_fixture(
        &dir,
        cfg,
        &q("base_model.model.model.layers.0.self_attn.q_norm.weight"),
    );
    assert!(matches!(
        convert_peft(&c, &s, &base, dir.join("o.gguf")).unwrap_err(),
        LoraError::UnsupportedPeftTensor { ref tensor, .. } if tensor.ends_with("q_norm.weight")
    ));

    let dir = tmp_dir("rank");
    let two = &gemma_tensors()[..2];
    let two: Vec<_> = two.iter().map(|(n, s, _)| (*n, *s, Enc::F32)).collect();
    let (c, s) = write_fixture(&dir, r#"{"r": 8, "lora_alpha": 8}"#, &two);
    assert!(matches!(
        convert_peft(&c, &s, &base, dir.join("o.gguf")).unwrap_err(),
        LoraError::PeftConfig { ref reason, .. } if reason.contains("rank 4")
    ));

    for bad in [
        "not json",
        r#"{"r": 0, "lora_alpha": 8}"#,
        r#"{"r": 4}"#,
        r#"{"r": 4, "lora_alpha": 8, "peft_type": "IA3"}"#,
        r#"{"r": 4, "lora_alpha": 8, "use_dora": true}"#,
        r#"{"r": 4, "lora_alpha": 8, "alpha_pattern": {"q_proj": 32}}"#,
    ] {
        let dir = tmp_dir("config");
        let (c, s) = write_fixture(&dir, bad, &two);
        let err = convert_peft(&c, &s, &base, dir.join("o.gguf")).unwrap_err();
        assert!(
            matches!(err, LoraError::PeftConfig { .. }),
            "{bad}: {err:?}"
        );
    }

    let dir = tmp_dir("garbage");
    let (c, _) = write_fixture(&dir, cfg, &two);
    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"\xff\xff\xff\xff\xff\xff\xff\x7f{").unwrap();
    assert!(matches!(
        convert_peft(&c, &garbage, &base, dir.join("o.gguf")).unwrap_err(),
        LoraError::Safetensors { .. }
    ));
    assert!(matches!(
        convert_peft(
            dir.join("missing.json"),
            &garbage,
            &base,
            dir.join("o.gguf")
        )
        .unwrap_err(),
        LoraError::Io { .. }
    ));
}

#[test]
fn rslora_alpha_is_rescaled() {
    let base = GgufFile::open(model_path()).unwrap();
    let dir = tmp_dir("rslora");
    let two: Vec<_> = gemma_tensors()[..2]
        .iter()
        .map(|(n, s, _)| (*n, *s, Enc::F32))
        .collect();
    let (c, s) = write_fixture(
        &dir,
        r#"{"r": 4, "lora_alpha": 8, "use_rslora": true}"#,
        &two,
    );
    let info = convert_peft(&c, &s, &base, dir.join("o.gguf")).unwrap();
    // rsLoRA scale alpha/sqrt(r) = 4 must equal llama.cpp's alpha'/r.
    assert_eq!(info.alpha.unwrap() / 4.0, 8.0 / 2.0);
}

#[test]
fn name_mapping_covers_gemma_and_llama_layouts() {
    let cases = [
        (
            "base_model.model.model.layers.12.self_attn.k_proj.lora_A.weight",
            Some("blk.12.attn_k.weight.lora_a"),
        ),
        (
            "base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight",
            Some("blk.1.attn_output.weight.lora_b"),
        ),
        (
            "base_model.model.model.layers.2.mlp.gate_proj.lora_A.weight",
            Some("blk.2.ffn_gate.weight.lora_a"),
        ),
        (
            "base_model.model.model.layers.2.mlp.up_proj.lora_B.default.weight",
            Some("blk.2.ffn_up.weight.lora_b"),
        ),
        (
            "base_model.model.lm_head.lora_A.weight",
            Some("output.weight.lora_a"),
        ),
        // Gemma 3 multimodal checkpoints nest the text model.
        (
            "base_model.model.model.language_model.layers.4.self_attn.v_proj.lora_A.weight",
            Some("blk.4.attn_v.weight.lora_a"),
        ),
        (
            "base_model.model.language_model.model.layers.4.mlp.down_proj.lora_B.weight",
            Some("blk.4.ffn_down.weight.lora_b"),
        ),
        (
            "base_model.model.model.embed_tokens.lora_embedding_B.default",
            Some("token_embd.weight.lora_b"),
        ),
        (
            "base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight",
            None,
        ),
        (
            "base_model.model.model.layers.x.self_attn.q_proj.lora_A.weight",
            None,
        ),
        (
            "base_model.model.model.layers.0.self_attn.rotary.lora_A.weight",
            None,
        ),
        ("base_model.model.model.embed_tokens.lora_A.weight", None),
    ];
    for (peft, gguf) in cases {
        assert_eq!(peft_to_gguf_name(peft).as_deref(), gguf, "{peft}");
    }
}
