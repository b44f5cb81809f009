//! LoRA adapter files against the real bundled model (Gemma 3 270M).

use std::path::PathBuf;

use trellis_gguf::{GgufFile, GgufWriter};
use trellis_lora::{AdapterInfo, AdapterWriter, LoraError};

fn model_path() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/trellis/models/gemma-3-270m-q4_k_m.gguf")
}

fn base() -> GgufFile {
    GgufFile::open(model_path()).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trellis-lora-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn written_adapter_inspects_and_validates() {
    let base = base();
    let path = tmp("q-v-up.gguf");
    let info = AdapterWriter::new(&base)
        .target("blk.*.attn_q.weight")
        .target("blk.*.attn_v.weight")
        .target("blk.*.ffn_up.weight")
        .rank(4)
        .alpha(8.0)
        .seed(1)
        .name("test-adapter")
        .metadata("general.author", "trellis tests")
        .write(&path)
        .unwrap();
    assert_eq!(info.targets.len(), 3 * 18);
    assert_eq!(info.rank(), Some(4));
    assert_eq!(info.alpha, Some(8.0));
    assert_eq!(info.architecture, "gemma3");
    assert_eq!(info.name.as_deref(), Some("test-adapter"));
    assert_eq!(
        info.get("general.author").and_then(|v| v.as_str()),
        Some("trellis tests")
    );
    let q0 = info
        .targets
        .iter()
        .find(|t| t.base == "blk.0.attn_q.weight")
        .unwrap();
    assert_eq!(q0.a.dims, vec![640, 4]);
    assert_eq!(q0.b.dims, vec![4, 1024]);
    info.validate_against(&base).unwrap();

    // Deterministic by seed.
    let again = tmp("q-v-up-again.gguf");
    let other = tmp("q-v-up-other.gguf");
    let w = |seed, p: &PathBuf| {
        AdapterWriter::new(&base)
            .target("blk.*.attn_q.weight")
            .target("blk.*.attn_v.weight")
            .target("blk.*.ffn_up.weight")
            .rank(4)
            .alpha(8.0)
            .seed(seed)
            .name("test-adapter")
            .metadata("general.author", "trellis tests")
            .write(p)
            .unwrap()
    };
    w(1, &again);
    w(2, &other);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes, std::fs::read(&again).unwrap());
    assert_ne!(bytes, std::fs::read(&other).unwrap());
}

/// A small synthetic base model with an untied output projection (a fake base is enough
/// for checking shapes; the real model ties its embeddings).
fn untied_base() -> GgufFile {
    let mut w = GgufWriter::new();
    w.set_metadata("general.architecture", "llama").unwrap();
    w.add_tensor_f32("token_embd.weight", &[64, 1000], &vec![0.0; 64_000])
        .unwrap();
    w.add_tensor_f32("output.weight", &[64, 1000], &vec![0.0; 64_000])
        .unwrap();
    w.add_tensor_f32("blk.0.attn_q.weight", &[64, 64], &vec![0.0; 4096])
        .unwrap();
    let path = tmp("untied-base.gguf");
    w.write_file(&path).unwrap();
    GgufFile::open(&path).unwrap()
}

#[test]
fn token_embedding_adapter_uses_flipped_shapes() {
    let base = untied_base();
    let path = tmp("embd.gguf");
    let info = AdapterWriter::new(&base)
        .target("token_embd.weight")
        .target("output.weight")
        .rank(2)
        .write(&path)
        .unwrap();
    let t = info.targets.iter().find(|t| t.is_token_embd()).unwrap();
    assert_eq!(t.a.dims, vec![2, 1000]);
    assert_eq!(t.b.dims, vec![2, 64]);
    let o = info
        .targets
        .iter()
        .find(|t| t.base == "output.weight")
        .unwrap();
    assert_eq!(
        (o.a.dims.clone(), o.b.dims.clone()),
        (vec![64, 2], vec![2, 1000])
    );
    info.validate_against(&base).unwrap();
}

#[test]
fn token_embedding_adapter_is_refused_for_tied_embeddings() {
    // Gemma 3 has no output.weight: llama.cpp would apply the embedding LoRA to the output
    // projection too and abort on the shape mismatch (observed), so it is refused up front.
    let gemma = base();
    assert!(gemma.tensor("output.weight").is_none());
    assert!(matches!(
        AdapterWriter::new(&gemma).target("token_embd.weight").build(),
        Err(LoraError::TiedEmbedding { ref target }) if target == "token_embd.weight"
    ));
    // The same adapter written for an untied base is refused by validation against Gemma.
    let path = tmp("embd-for-untied.gguf");
    let info = AdapterWriter::new(&untied_base())
        .target("token_embd.weight")
        .rank(2)
        .write(&path)
        .unwrap();
    let mut info = info;
    info.architecture = "gemma3".into(); // get past the architecture check
    assert!(matches!(
        info.validate_against(&gemma),
        Err(LoraError::TiedEmbedding { .. })
    ));
}

#[test]
fn writer_parameter_errors() {
    let base = base();
    assert!(matches!(
        AdapterWriter::new(&base).target("blk.*.nothing").build(),
        Err(LoraError::NoTargets { .. })
    ));
    assert!(matches!(
        AdapterWriter::new(&base)
            .target("blk.0.attn_q.weight")
            .rank(0)
            .build(),
        Err(LoraError::InvalidParameter { name: "rank", .. })
    ));
    assert!(matches!(
        AdapterWriter::new(&base)
            .target("blk.0.attn_q.weight")
            .alpha(f32::NAN)
            .build(),
        Err(LoraError::InvalidParameter { name: "alpha", .. })
    ));
}

/// A hand-made adapter: `tensors` are (name, ggml dims).
fn custom(
    arch: &str,
    general_type: &str,
    adapter_type: &str,
    tensors: &[(&str, Vec<u64>)],
) -> PathBuf {
    let mut w = GgufWriter::new();
    w.set_metadata("general.architecture", arch).unwrap();
    w.set_metadata("general.type", general_type).unwrap();
    w.set_metadata("adapter.type", adapter_type).unwrap();
    for (name, dims) in tensors {
        let n: u64 = dims.iter().product();
        w.add_tensor_f32(name, dims, &vec![0.01; n as usize])
            .unwrap();
    }
    let path = tmp(&format!("custom-{}.gguf", rand_suffix()));
    w.write_file(&path).unwrap();
    path
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn q_pair(a: Vec<u64>, b: Vec<u64>) -> Vec<(&'static str, Vec<u64>)> {
    vec![
        ("blk.0.attn_q.weight.lora_a", a),
        ("blk.0.attn_q.weight.lora_b", b),
    ]
}

#[test]
fn inspect_rejects_non_adapters() {
    // The base model itself.
    match AdapterInfo::inspect(model_path()).unwrap_err() {
        LoraError::BaseModelNotAdapter { architecture, .. } => {
            assert_eq!(architecture.as_deref(), Some("gemma3"))
        }
        other => panic!("{other:?}"),
    }
    // Not a GGUF file.
    let text = tmp("adapter_config.json");
    std::fs::write(&text, "{\"r\": 8}").unwrap();
    assert!(matches!(
        AdapterInfo::inspect(&text).unwrap_err(),
        LoraError::NotGguf { .. }
    ));
    // Another adapter type.
    let p = custom(
        "gemma3",
        "adapter",
        "ia3",
        &q_pair(vec![640, 4], vec![4, 1024]),
    );
    assert!(matches!(
        AdapterInfo::inspect(&p).unwrap_err(),
        LoraError::NotLora { found: Some(ref f) } if f == "ia3"
    ));
}

#[test]
fn inspect_rejects_broken_pairs() {
    let p = custom(
        "gemma3",
        "adapter",
        "lora",
        &[("blk.0.attn_q.weight.lora_a", vec![640, 4])],
    );
    assert!(matches!(
        AdapterInfo::inspect(&p).unwrap_err(),
        LoraError::MissingPair { ref target, missing: "lora_b" } if target == "blk.0.attn_q.weight"
    ));
    let p = custom(
        "gemma3",
        "adapter",
        "lora",
        &q_pair(vec![640, 4], vec![8, 1024]),
    );
    assert!(matches!(
        AdapterInfo::inspect(&p).unwrap_err(),
        LoraError::RankMismatch {
            rank_a: 4,
            rank_b: 8,
            ..
        }
    ));
    let p = custom(
        "gemma3",
        "adapter",
        "lora",
        &[("blk.0.attn_q.weight", vec![640, 4])],
    );
    assert!(matches!(
        AdapterInfo::inspect(&p).unwrap_err(),
        LoraError::UnexpectedTensor { .. }
    ));
    let p = custom(
        "gemma3",
        "adapter",
        "lora",
        &q_pair(vec![640, 4, 1], vec![4, 1024]),
    );
    assert!(matches!(
        AdapterInfo::inspect(&p).unwrap_err(),
        LoraError::NotMatrix { .. }
    ));
}

#[test]
fn validation_against_the_base_model() {
    let base = base();
    let check = |arch, tensors: &[(&str, Vec<u64>)]| {
        AdapterInfo::inspect(custom(arch, "adapter", "lora", tensors))
            .unwrap()
            .validate_against(&base)
    };
    check("gemma3", &q_pair(vec![640, 4], vec![4, 1024])).unwrap();
    match check("llama", &q_pair(vec![640, 4], vec![4, 1024])).unwrap_err() {
        LoraError::ArchitectureMismatch { adapter, base } => {
            assert_eq!(
                (adapter.as_str(), base.as_deref()),
                ("llama", Some("gemma3"))
            )
        }
        other => panic!("{other:?}"),
    }
    // Transposed A (a common conversion mistake): names the tensor and both shapes.
    match check("gemma3", &q_pair(vec![1024, 4], vec![4, 1024])).unwrap_err() {
        LoraError::ShapeMismatch {
            tensor,
            target,
            base_dims,
            expected,
            found,
        } => {
            assert_eq!(tensor, "blk.0.attn_q.weight.lora_a");
            assert_eq!(target, "blk.0.attn_q.weight");
            assert_eq!(base_dims, vec![640, 1024]);
            assert_eq!(expected, vec![640, 4]);
            assert_eq!(found, vec![1024, 4]);
        }
        other => panic!("{other:?}"),
    }
    match check("gemma3", &q_pair(vec![640, 4], vec![4, 256])).unwrap_err() {
        LoraError::ShapeMismatch {
            tensor, expected, ..
        } => {
            assert_eq!(tensor, "blk.0.attn_q.weight.lora_b");
            assert_eq!(expected, vec![4, 1024]);
        }
        other => panic!("{other:?}"),
    }
    let missing = [
        ("blk.99.attn_q.weight.lora_a", vec![640, 4]),
        ("blk.99.attn_q.weight.lora_b", vec![4, 1024]),
    ];
    assert!(matches!(
        check("gemma3", &missing).unwrap_err(),
        LoraError::MissingBaseTensor { ref target } if target == "blk.99.attn_q.weight"
    ));
    // Token embedding with non-flipped (linear-layer) shapes is refused.
    let embd = [
        ("token_embd.weight.lora_a", vec![640, 2]),
        ("token_embd.weight.lora_b", vec![2, 262_144]),
    ];
    let err = AdapterInfo::inspect(custom("gemma3", "adapter", "lora", &embd)).unwrap_err();
    assert!(matches!(err, LoraError::RankMismatch { .. }), "{err:?}");
}
