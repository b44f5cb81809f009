//! LoRA adapters attached to sessions, on the real bundled model (llama.cpp, Gemma 3 270M).
//! The adapters are written by `trellis_lora::AdapterWriter` into a temporary directory.

use std::path::PathBuf;
use std::sync::OnceLock;

use trellis::lora::{AdapterWriter, LoraError};
use trellis::{Adapter, Error, GenerationOptions, Model, ModelOptions, Sampling, Session};
use trellis_gguf::{GgufFile, GgufWriter};

const PROMPT: &str = "Write a short sentence about the sea.";

fn model_options() -> ModelOptions {
    ModelOptions {
        context_size: 1024,
        threads: 2,
        ..Default::default()
    }
}

fn model() -> Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Model::bundled_with(model_options())
                .expect("bundled model (run `bash scripts/install-model.sh`)")
        })
        .clone()
}

fn base_gguf() -> GgufFile {
    GgufFile::open(model().path()).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trellis-adapters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A rank-4 adapter on the given targets with weights from `seed`.
fn write_adapter(name: &str, seed: u64, targets: &[&str]) -> PathBuf {
    let base = base_gguf();
    let path = tmp(name);
    let mut w = AdapterWriter::new(&base)
        .rank(4)
        .alpha(4.0)
        .amplitude(0.08)
        .seed(seed)
        .name(name)
        .metadata("training.creator", "adapters_model test");
    for t in targets {
        w = w.target(t);
    }
    w.write(&path).unwrap();
    path
}

fn adapter_a() -> Adapter {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        write_adapter(
            "a.gguf",
            11,
            &[
                "blk.*.attn_q.weight",
                "blk.*.attn_v.weight",
                "blk.*.ffn_up.weight",
            ],
        )
    });
    Adapter::load(&model(), path).unwrap()
}

fn adapter_b() -> Adapter {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        write_adapter(
            "b.gguf",
            22,
            &[
                "blk.*.attn_k.weight",
                "blk.*.attn_output.weight",
                "blk.*.ffn_down.weight",
            ],
        )
    });
    Adapter::load(&model(), path).unwrap()
}

fn session() -> Session {
    Session::new(&model())
        .instructions("Answer briefly.")
        .options(GenerationOptions {
            sampling: Sampling::Greedy,
            max_tokens: 20,
        })
}

async fn answer(session: &Session, prompt: &str) -> String {
    session.respond(prompt).await.unwrap().content
}

#[tokio::test]
async fn metadata_comes_from_the_file() {
    let a = adapter_a();
    assert_eq!(a.name(), Some("a.gguf"));
    assert_eq!(a.rank(), Some(4));
    assert_eq!(a.alpha(), Some(4.0));
    assert_eq!(a.targets().len(), 3 * 18, "q, v and up of 18 blocks");
    assert!(a.targets().contains(&"blk.17.ffn_up.weight"));
    assert_eq!(
        a.metadata_value("training.creator")
            .and_then(|v| v.as_str()),
        Some("adapters_model test")
    );
    assert!(a.metadata().iter().any(|(k, _)| k == "adapter.type"));
    assert!(a.belongs_to(&model()));
    assert_eq!(a, a.clone());
    assert_ne!(a, adapter_a(), "two loads are two adapters");
}

#[tokio::test]
async fn adapter_changes_output_and_scale_zero_or_detaching_restores_the_base_model() {
    let a = adapter_a();
    let base = answer(&session(), PROMPT).await;
    let adapted = answer(&session().adapter(&a, 1.0), PROMPT).await;
    eprintln!("base:    {base:?}\nadapted: {adapted:?}");
    assert_ne!(
        base, adapted,
        "the adapter has no effect on the greedy answer"
    );
    assert_eq!(
        answer(&session().adapter(&a, 1.0), PROMPT).await,
        adapted,
        "adapted greedy answers are repeatable"
    );
    assert_eq!(answer(&session().adapter(&a, 0.0), PROMPT).await, base);

    // Attach and detach on one session: results equal fresh sessions with the same
    // conversation, and every change evaluates the whole conversation again.
    let s = session().adapter(&a, 1.0);
    assert_eq!(answer(&s, PROMPT).await, adapted);
    let t1 = s.transcript();
    s.set_adapter(None).unwrap();
    assert!(s.attached_adapter().is_none());
    let r2 = s.respond("And about the sky?").await.unwrap();
    assert_eq!(
        r2.usage.cached_tokens, 0,
        "stale KV cache reused after detaching"
    );
    let expect2 = Session::from_transcript(&model(), t1)
        .options(s.generation_options())
        .respond("And about the sky?")
        .await
        .unwrap();
    assert_eq!(r2.content, expect2.content);

    let t2 = s.transcript();
    s.set_adapter(Some((a.clone(), 1.0))).unwrap();
    let r3 = s.respond("And about trees?").await.unwrap();
    assert_eq!(
        r3.usage.cached_tokens, 0,
        "stale KV cache reused after attaching"
    );
    let expect3 = Session::from_transcript(&model(), t2)
        .options(s.generation_options())
        .adapter(&a, 1.0)
        .respond("And about trees?")
        .await
        .unwrap();
    assert_eq!(r3.content, expect3.content);

    // Without a change the conversation's prefix is reused as usual.
    let r4 = s.respond("Thanks.").await.unwrap();
    assert!(
        r4.usage.cached_tokens > 0,
        "prefix reuse lost: {:?}",
        r4.usage
    );
    // Setting the same adapter and scale again is not a change.
    s.set_adapter(Some((a.clone(), 1.0))).unwrap();
    let r5 = s.respond("Bye.").await.unwrap();
    assert!(
        r5.usage.cached_tokens > 0,
        "prefix reuse lost: {:?}",
        r5.usage
    );
    // A different scale is a change.
    s.set_adapter(Some((a, 0.5))).unwrap();
    let r6 = s.respond("Really?").await.unwrap();
    assert_eq!(r6.usage.cached_tokens, 0);
}

#[tokio::test]
async fn concurrent_sessions_with_different_adapters_do_not_affect_each_other() {
    let (a, b) = (adapter_a(), adapter_b());
    let alone_base = answer(&session(), PROMPT).await;
    let alone_a = answer(&session().adapter(&a, 1.0), PROMPT).await;
    let alone_b = answer(&session().adapter(&b, 1.0), PROMPT).await;
    eprintln!("base {alone_base:?}\na    {alone_a:?}\nb    {alone_b:?}");
    assert_ne!(
        alone_a, alone_b,
        "the two adapters must differ for this test"
    );
    assert_ne!(alone_b, alone_base);

    for round in 0..2 {
        let (sa, sb, sn) = (
            session().adapter(&a, 1.0),
            session().adapter(&b, 1.0),
            session(),
        );
        let (ra, rb, rn) =
            futures::join!(sa.respond(PROMPT), sb.respond(PROMPT), sn.respond(PROMPT));
        assert_eq!(
            ra.unwrap().content,
            alone_a,
            "round {round}: session with adapter a"
        );
        assert_eq!(
            rb.unwrap().content,
            alone_b,
            "round {round}: session with adapter b"
        );
        assert_eq!(
            rn.unwrap().content,
            alone_base,
            "round {round}: session without adapter"
        );
    }
}

#[tokio::test]
async fn stacked_adapters_add_up_with_their_own_scales() {
    let (a, b) = (adapter_a(), adapter_b());
    // A second load of the same file: another adapter with the same weights.
    let a_again = adapter_a();
    let base = answer(&session(), PROMPT).await;
    let full_a = answer(&session().adapter(&a, 1.0), PROMPT).await;
    let half_a = answer(&session().adapter(&a, 0.5), PROMPT).await;
    let alone_b = answer(&session().adapter(&b, 1.0), PROMPT).await;
    let a_then_b = answer(&session().adapter(&a, 1.0).adapter(&b, 1.0), PROMPT).await;
    eprintln!(
        "base {base:?}
a    {full_a:?}
a/2  {half_a:?}
b    {alone_b:?}
a+b  {a_then_b:?}"
    );
    assert_ne!(
        half_a, full_a,
        "scale 0.5 must differ from 1.0 for this test"
    );

    // Two halves of the same weights, stacked, act as the whole adapter: both are applied.
    // (Not bit-identical: llama.cpp adds the two half contributions one after the other, so
    // rounding differs and a long greedy answer may drift late. It must follow the whole
    // adapter's answer well past the point where one half alone, or no adapter, leaves it.)
    let halves = session().adapter(&a, 0.5).adapter(&a_again, 0.5);
    assert_eq!(halves.attached_adapters().len(), 2);
    let halves = answer(&halves, PROMPT).await;
    eprintln!("a/2+a/2 {halves:?}");
    let agree = |x: &str| {
        x.bytes()
            .zip(full_a.bytes())
            .take_while(|(p, q)| p == q)
            .count()
    };
    assert!(
        agree(&halves) >= agree(&half_a) + 10 && agree(&halves) >= agree(&base) + 10,
        "a/2 + a/2 agrees with a for {} bytes, a/2 alone for {}, the base model for {}",
        agree(&halves),
        agree(&half_a),
        agree(&base)
    );

    // a + b is neither a nor b alone, and the order of attachment does not matter.
    assert_ne!(a_then_b, full_a);
    assert_ne!(a_then_b, alone_b);
    let b_then_a = answer(&session().adapter(&b, 1.0).adapter(&a, 1.0), PROMPT).await;
    assert_eq!(b_then_a, a_then_b);

    // A stacked adapter at scale 0 contributes nothing.
    let zero_b = answer(&session().adapter(&a, 1.0).adapter(&b, 0.0), PROMPT).await;
    assert_eq!(zero_b, full_a);

    // Changing the stack between requests on one session; an empty stack is the base model.
    let s = session();
    s.set_adapters(vec![(a.clone(), 1.0), (b.clone(), 1.0)])
        .unwrap();
    assert_eq!(answer(&s, PROMPT).await, a_then_b);
    let s3 = session();
    s3.set_adapters(vec![(b.clone(), 1.0), (a.clone(), 1.0)])
        .unwrap();
    s3.set_adapters(Vec::new()).unwrap();
    assert_eq!(answer(&s3, PROMPT).await, base);

    // The builder changes the scale of an adapter that is already attached.
    let rescaled = session().adapter(&a, 1.0).adapter(&a, 0.5);
    assert_eq!(rescaled.attached_adapters().len(), 1);
    assert_eq!(answer(&rescaled, PROMPT).await, half_a);

    // Stacked and single-adapter sessions side by side do not affect each other.
    let (stacked, single) = (
        session().adapter(&a, 1.0).adapter(&b, 1.0),
        session().adapter(&b, 1.0),
    );
    let (rs, rb) = futures::join!(stacked.respond(PROMPT), single.respond(PROMPT));
    assert_eq!(rs.unwrap().content, a_then_b);
    assert_eq!(rb.unwrap().content, alone_b);
}

#[tokio::test]
async fn an_adapter_attached_twice_is_refused() {
    let a = adapter_a();
    let s = session();
    let err = s
        .set_adapters(vec![(a.clone(), 0.5), (a.clone(), 0.5)])
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidOptions { .. }) && err.to_string().contains("twice"),
        "{err}"
    );
    assert!(
        s.attached_adapters().is_empty(),
        "the attachment is unchanged"
    );
    let err = s
        .set_adapters(vec![(a.clone(), 1.0), (adapter_b(), f32::NAN)])
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOptions { .. }), "{err}");
}

/// A GGUF adapter written by hand: `tensors` are (name, dims).
fn hand_written(name: &str, architecture: &str, tensors: &[(&str, &[u64])]) -> PathBuf {
    let path = tmp(name);
    let mut w = GgufWriter::new();
    w.set_metadata("general.architecture", architecture)
        .unwrap();
    w.set_metadata("general.type", "adapter").unwrap();
    w.set_metadata("adapter.type", "lora").unwrap();
    for (tensor, dims) in tensors {
        let n: u64 = dims.iter().product();
        w.add_tensor_f32(tensor, dims, &vec![0.01; n as usize])
            .unwrap();
    }
    w.write_file(&path).unwrap();
    path
}

fn lora_error(path: &PathBuf) -> LoraError {
    match Adapter::load(&model(), path) {
        Err(Error::Adapter { path: p, source }) => {
            assert_eq!(&p, path);
            *source
        }
        other => panic!("expected Error::Adapter for {path:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_adapters_get_typed_errors() {
    // Another architecture: a valid gemma3 adapter with its architecture rewritten.
    let base = base_gguf();
    let mut w = AdapterWriter::new(&base)
        .target("blk.0.attn_q.weight")
        .rank(2)
        .build()
        .unwrap();
    w.set_metadata("general.architecture", "llama").unwrap();
    let other_arch = tmp("other-arch.gguf");
    w.write_file(&other_arch).unwrap();
    match lora_error(&other_arch) {
        LoraError::ArchitectureMismatch { adapter, base } => {
            assert_eq!(adapter, "llama");
            assert_eq!(base.as_deref(), Some("gemma3"));
        }
        e => panic!("wrong error {e:?}"),
    }

    // A target the model does not have.
    let missing = hand_written(
        "missing.gguf",
        "gemma3",
        &[
            ("blk.99.attn_q.weight.lora_a", &[640, 4]),
            ("blk.99.attn_q.weight.lora_b", &[4, 1024]),
        ],
    );
    match lora_error(&missing) {
        LoraError::MissingBaseTensor { target } => assert_eq!(target, "blk.99.attn_q.weight"),
        e => panic!("wrong error {e:?}"),
    }

    // A wrong shape: attn_q maps 640 -> 1024, B claims 999 outputs.
    let shape = hand_written(
        "shape.gguf",
        "gemma3",
        &[
            ("blk.0.attn_q.weight.lora_a", &[640, 4]),
            ("blk.0.attn_q.weight.lora_b", &[4, 999]),
        ],
    );
    match lora_error(&shape) {
        LoraError::ShapeMismatch {
            tensor,
            expected,
            found,
            ..
        } => {
            assert_eq!(tensor, "blk.0.attn_q.weight.lora_b");
            assert_eq!(expected, vec![4, 1024]);
            assert_eq!(found, vec![4, 999]);
        }
        e => panic!("wrong error {e:?}"),
    }

    // An embedding LoRA on a model with tied output embeddings (llama.cpp would abort).
    let tied = hand_written(
        "tied.gguf",
        "gemma3",
        &[
            ("token_embd.weight.lora_a", &[4, 262144]),
            ("token_embd.weight.lora_b", &[4, 640]),
        ],
    );
    assert!(matches!(lora_error(&tied), LoraError::TiedEmbedding { .. }));

    // Not a GGUF file.
    let text = tmp("notes.txt");
    std::fs::write(&text, "just some text, not an adapter").unwrap();
    assert!(matches!(lora_error(&text), LoraError::NotGguf { .. }));

    // The base model itself instead of an adapter.
    let model_path = model().path().to_path_buf();
    match lora_error(&model_path) {
        LoraError::BaseModelNotAdapter { architecture, .. } => {
            assert_eq!(architecture.as_deref(), Some("gemma3"))
        }
        e => panic!("wrong error {e:?}"),
    }

    // Missing files and directories.
    assert!(matches!(
        Adapter::load(&model(), tmp("no-such-adapter.gguf")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        Adapter::load(&model(), std::env::temp_dir()),
        Err(Error::Io { .. })
    ));
}

#[tokio::test]
async fn adapters_of_another_model_and_bad_scales_are_refused() {
    let a = adapter_a();
    let other = Model::bundled_with(model_options()).unwrap();
    assert!(!a.belongs_to(&other));
    let s = Session::new(&other);
    assert!(matches!(
        s.set_adapter(Some((a.clone(), 1.0))),
        Err(Error::AdapterModelMismatch { .. })
    ));
    assert!(
        s.attached_adapter().is_none(),
        "a refused adapter is not attached"
    );
    let err = Session::new(&other)
        .adapter(&a, 1.0)
        .respond("Hi")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AdapterModelMismatch { .. }), "{err:?}");

    // An adapter keeps its model alive: after the user's model handle, the session and
    // then the adapter are dropped, the adapter is freed before the model (no crash).
    let own = Adapter::load(&other, a.path()).unwrap();
    let s = Session::new(&other).adapter(&own, 1.0);
    drop(other);
    assert!(!answer(&s, "Hi").await.is_empty());
    drop(s);
    drop(own);

    let s = session();
    assert!(matches!(
        s.set_adapter(Some((a.clone(), f32::NAN))),
        Err(Error::InvalidOptions { .. })
    ));
    let err = session()
        .adapter(&a, f32::INFINITY)
        .respond("Hi")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOptions { .. }), "{err:?}");
}

#[tokio::test]
async fn adapters_outlive_dropped_handles_while_a_session_uses_them() {
    let s = session().adapter(&adapter_a(), 1.0); // the only handle lives in the session
    let first = answer(&s, PROMPT).await;
    let expected = answer(&session().adapter(&adapter_a(), 1.0), PROMPT).await;
    assert_eq!(first, expected);
    s.set_adapter(None).unwrap(); // the worker still holds the adapter until the next request
    let base_again = answer(&s, "Another one?").await;
    assert!(!base_again.is_empty());
    drop(s);
    // Loading after all those drops still works.
    let _ = adapter_a();
}
