//! The adapters this crate writes and converts are loaded by the real llama.cpp and change
//! the real model's logits; a shape llama.cpp refuses is also refused by `validate_against`.

use std::num::NonZeroU32;
use std::path::PathBuf;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use trellis_gguf::{GgufFile, GgufWriter};
use trellis_lora::{AdapterInfo, AdapterWriter};

fn model_path() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/trellis/models/gemma-3-270m-q4_k_m.gguf")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trellis-lora-llama-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

const PROMPT: [i32; 6] = [2, 818, 5279, 529, 7001, 563];

fn last_logits(ctx: &mut LlamaContext) -> Vec<f32> {
    ctx.clear_kv_cache();
    let mut batch = LlamaBatch::new(16, 1);
    for (i, t) in PROMPT.iter().enumerate() {
        batch
            .add(LlamaToken(*t), i as i32, &[0], i + 1 == PROMPT.len())
            .unwrap();
    }
    ctx.decode(&mut batch).unwrap();
    ctx.get_logits_ith(PROMPT.len() as i32 - 1).to_vec()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn llama_cpp_loads_written_adapters_and_rejects_bad_shapes() {
    let base = GgufFile::open(model_path()).unwrap();
    let qvu = tmp("qvu.gguf");
    AdapterWriter::new(&base)
        .target("blk.*.attn_q.weight")
        .target("blk.*.attn_v.weight")
        .target("blk.*.ffn_up.weight")
        .rank(4)
        .alpha(4.0)
        .seed(3)
        .write(&qvu)
        .unwrap();
    let others = tmp("others.gguf");
    AdapterWriter::new(&base)
        .target("blk.*.attn_k.weight")
        .target("blk.*.attn_output.weight")
        .target("blk.*.ffn_gate.weight")
        .target("blk.*.ffn_down.weight")
        .rank(2)
        .amplitude(0.2)
        .seed(4)
        .write(&others)
        .unwrap();
    let peft = peft_adapter(&base);
    // Transposed lora_a for attn_q: our validation refuses it ...
    let bad = tmp("bad.gguf");
    let mut w = GgufWriter::new();
    w.set_metadata("general.architecture", "gemma3").unwrap();
    w.set_metadata("general.type", "adapter").unwrap();
    w.set_metadata("adapter.type", "lora").unwrap();
    w.add_tensor_f32("blk.0.attn_q.weight.lora_a", &[1024, 4], &vec![0.01; 4096])
        .unwrap();
    w.add_tensor_f32("blk.0.attn_q.weight.lora_b", &[4, 1024], &vec![0.01; 4096])
        .unwrap();
    w.write_file(&bad).unwrap();
    assert!(AdapterInfo::inspect(&bad)
        .unwrap()
        .validate_against(&base)
        .is_err());

    let mut backend = LlamaBackend::init().unwrap();
    backend.void_logs();
    let mut model =
        LlamaModel::load_from_file(&backend, model_path(), &LlamaModelParams::default()).unwrap();
    // ... and so does llama.cpp.
    assert!(model.lora_adapter_init(&bad).is_err());
    let mut a_qvu = model.lora_adapter_init(&qvu).unwrap();
    let mut a_others = model.lora_adapter_init(&others).unwrap();
    let mut a_peft = model.lora_adapter_init(&peft).unwrap();

    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(64))
        .with_n_batch(64)
        .with_n_threads(2)
        .with_n_threads_batch(2);
    let mut ctx = model.new_context(&backend, params).unwrap();
    let plain = last_logits(&mut ctx);
    assert_eq!(
        max_diff(&plain, &last_logits(&mut ctx)),
        0.0,
        "decoding is repeatable"
    );

    eprintln!("step: q/v/up");
    ctx.lora_adapter_set(&mut a_qvu, 1.0).unwrap();
    let with_qvu = last_logits(&mut ctx);
    let d_qvu = max_diff(&plain, &with_qvu);
    ctx.lora_adapter_set(&mut a_qvu, 0.0).unwrap();
    let d_zero = max_diff(&plain, &last_logits(&mut ctx));
    ctx.lora_adapter_set(&mut a_others, 1.0).unwrap();
    let d_others = max_diff(&plain, &last_logits(&mut ctx));
    ctx.lora_adapter_set(&mut a_peft, 1.0).unwrap();
    let d_peft = max_diff(&plain, &last_logits(&mut ctx));
    ctx.lora_adapter_remove(&mut a_peft).unwrap();
    let d_removed = max_diff(&plain, &last_logits(&mut ctx));
    eprintln!(
        "max logit change: q/v/up {d_qvu}, scale 0 {d_zero}, k/o/gate/down {d_others}, \
         PEFT-converted {d_peft}, removed {d_removed}"
    );
    assert!(
        d_qvu > 0.05,
        "q/v/up adapter changed logits by only {d_qvu}"
    );
    assert!(
        d_others > 0.05,
        "k/o/gate/down adapter changed logits by only {d_others}"
    );
    assert!(
        d_peft > 0.05,
        "PEFT-converted adapter changed logits by only {d_peft}"
    );
    assert!(d_zero < 1e-3 && d_removed < 1e-3, "{d_zero} {d_removed}");
}

/// A PEFT-layout adapter (q_proj and down_proj of block 3) converted with `convert_peft`.
fn peft_adapter(base: &GgufFile) -> PathBuf {
    use safetensors::tensor::TensorView;
    use safetensors::Dtype;
    let shapes: [(&str, [usize; 2]); 4] = [
        (
            "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight",
            [8, 640],
        ),
        (
            "base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight",
            [1024, 8],
        ),
        (
            "base_model.model.model.layers.3.mlp.down_proj.lora_A.weight",
            [8, 2048],
        ),
        (
            "base_model.model.model.layers.3.mlp.down_proj.lora_B.weight",
            [640, 8],
        ),
    ];
    let data: Vec<Vec<u8>> = shapes
        .iter()
        .enumerate()
        .map(|(t, (_, s))| {
            (0..s[0] * s[1])
                .flat_map(|i| ((((i * 31 + t * 17) % 200) as f32 - 100.0) / 400.0).to_le_bytes())
                .collect()
        })
        .collect();
    let views: Vec<(&str, TensorView)> = shapes
        .iter()
        .zip(&data)
        .map(|((n, s), d)| (*n, TensorView::new(Dtype::F32, s.to_vec(), d).unwrap()))
        .collect();
    let st = tmp("adapter_model.safetensors");
    std::fs::write(&st, safetensors::serialize(views, None).unwrap()).unwrap();
    let cfg = tmp("adapter_config.json");
    std::fs::write(&cfg, r#"{"peft_type": "LORA", "r": 8, "lora_alpha": 16}"#).unwrap();
    let out = tmp("peft.gguf");
    trellis_lora::convert_peft(&cfg, &st, base, &out).unwrap();
    out
}
