//! Plain-text sessions on the real bundled model (llama.cpp, Gemma 3 270M).

use std::sync::OnceLock;

use futures::StreamExt;
use trellis::{
    Entry, Error, FinishReason, GenerationOptions, Model, ModelOptions, Sampling, Session,
    Transcript,
};

fn model() -> Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Model::bundled_with(ModelOptions {
                context_size: 1024,
                threads: 2,
                ..Default::default()
            })
            .expect("bundled model (run `bash scripts/install-model.sh`)")
        })
        .clone()
}

fn greedy(max_tokens: u32) -> GenerationOptions {
    GenerationOptions {
        sampling: Sampling::Greedy,
        max_tokens,
    }
}

fn session(max_tokens: u32) -> Session {
    Session::new(&model())
        .instructions("Answer briefly.")
        .options(greedy(max_tokens))
}

#[tokio::test]
async fn greedy_is_deterministic_and_answers() {
    let a = session(24)
        .respond("What is the capital of France?")
        .await
        .unwrap();
    let b = session(24)
        .respond("What is the capital of France?")
        .await
        .unwrap();
    assert_eq!(a.content, b.content);
    assert!(!a.content.trim().is_empty());
    assert!(a.usage.completion_tokens > 0 && a.usage.completion_tokens <= 24);
    assert!(a.usage.prompt_tokens > 10);
    assert_eq!(
        a.usage.cached_tokens, 0,
        "a fresh session has nothing cached"
    );
    assert!(
        a.content.contains("Paris"),
        "unexpected answer: {:?}",
        a.content
    );
}

#[tokio::test]
async fn seeded_sampling_is_reproducible_and_seeds_matter() {
    let run = |prompt: &'static str, seed: u64| async move {
        Session::new(&model())
            .options(GenerationOptions {
                sampling: Sampling::Random {
                    temperature: 1.2,
                    top_k: 0,
                    top_p: 1.0,
                    seed: Some(seed),
                },
                max_tokens: 16,
            })
            .respond(prompt)
            .await
            .unwrap()
            .content
    };
    let prompts = ["Write a short poem.", "Tell me a fact.", "Say something."];
    let mut differs = false;
    for p in prompts {
        let first = run(p, 11).await;
        assert_eq!(first, run(p, 11).await, "same seed must give the same text");
        differs |= first != run(p, 12).await;
    }
    assert!(differs, "different seeds never changed the output");
}

#[tokio::test]
async fn stream_deltas_concatenate_to_the_response() {
    let s = session(32);
    let mut stream = s.stream("Name three animals.");
    let mut deltas = Vec::new();
    while let Some(delta) = stream.next().await {
        deltas.push(delta.unwrap());
    }
    assert!(deltas.len() > 1, "expected several deltas, got {deltas:?}");
    assert!(deltas.iter().all(|d| !d.is_empty()));
    let streamed: String = deltas.concat();
    let t = s.transcript();
    assert!(
        matches!(t.entries().last(), Some(Entry::Response { text }) if *text == streamed),
        "transcript must end with the streamed response"
    );
    let whole = session(32).respond("Name three animals.").await.unwrap();
    assert_eq!(whole.content, streamed);
}

#[tokio::test]
async fn transcript_round_trip_continues_identically() {
    let original = session(20);
    original
        .respond("My name is Ada. Say hello to me.")
        .await
        .unwrap();
    let json = serde_json::to_string(&original.transcript()).unwrap();
    let restored: Transcript = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, original.transcript());
    assert_eq!(restored.len(), 3, "instructions, prompt, response");
    assert_eq!(restored.instructions(), Some("Answer briefly."));

    let copy = Session::from_transcript(&model(), restored).options(greedy(20));
    let next_original = original.respond("What is my name?").await.unwrap();
    let next_copy = copy.respond("What is my name?").await.unwrap();
    assert_eq!(next_original.content, next_copy.content);
    // The copy evaluated everything; the original reused its cache.
    assert_eq!(next_copy.usage.cached_tokens, 0);
    assert!(next_original.usage.cached_tokens > 0);
    assert_eq!(original.transcript(), copy.transcript());
    assert_eq!(copy.transcript().len(), 5);
}

#[tokio::test]
async fn second_turn_evaluates_only_new_tokens() {
    let s = session(16);
    let first = s.respond("Tell me about the sun.").await.unwrap();
    let second = s.respond("And the moon?").await.unwrap();
    let u = second.usage;
    // Everything of the first turn is reused: its prompt and its response tokens except
    // possibly the last few.
    // (The token that completed the stop text was never evaluated, and the response text
    // may tokenize differently where it was cut.)
    assert!(
        u.cached_tokens >= first.usage.prompt_tokens + first.usage.completion_tokens - 3,
        "cached {} < first prompt {} + completion {} - 3",
        u.cached_tokens,
        first.usage.prompt_tokens,
        first.usage.completion_tokens
    );
    let new_prompt_tokens = model().tokenize("And the moon?", false).unwrap().len();
    // New tokens: end of the previous turn, the new user turn with its markers, model turn.
    assert!(
        u.evaluated_tokens() <= new_prompt_tokens + 12,
        "evaluated {} tokens for a {new_prompt_tokens}-token prompt",
        u.evaluated_tokens()
    );
    assert_eq!(u.prompt_tokens, u.cached_tokens + u.evaluated_tokens());
}

#[tokio::test]
async fn concurrent_request_on_one_session_is_refused() {
    let s = session(48);
    let first = s.respond("Write a long story about a dragon.");
    assert!(s.is_responding());
    let second = s.respond("Hello?").await;
    assert!(
        matches!(second, Err(Error::ConcurrentRequests)),
        "{second:?}"
    );
    let mut stream = s.stream("Hello?");
    assert!(matches!(
        stream.next().await,
        Some(Err(Error::ConcurrentRequests))
    ));
    assert!(stream.next().await.is_none());
    let first = first.await.unwrap();
    assert!(first.usage.completion_tokens > 0);
    assert!(!s.is_responding());
    // After the first one finished, the session accepts requests again.
    s.respond("Hello?").await.unwrap();
    assert_eq!(s.transcript().len(), 5);
}

#[tokio::test]
async fn two_sessions_share_one_model_concurrently() {
    let a = session(16);
    let b = session(16);
    let (ra, rb) = tokio::join!(
        tokio::spawn(a.respond("What colour is the sky?")),
        tokio::spawn(b.respond("What is two plus two?"))
    );
    let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
    let sa = session(16)
        .respond("What colour is the sky?")
        .await
        .unwrap();
    let sb = session(16).respond("What is two plus two?").await.unwrap();
    assert_eq!(ra.content, sa.content);
    assert_eq!(rb.content, sb.content);
    assert_ne!(ra.content, rb.content);
}

#[tokio::test]
async fn max_tokens_limits_the_answer() {
    let r = session(3)
        .respond("Write a long story about a dragon.")
        .await
        .unwrap();
    assert_eq!(r.usage.completion_tokens, 3);
    assert_eq!(r.finish_reason, FinishReason::MaxTokens);
}

#[tokio::test]
async fn invalid_generation_options_are_rejected() {
    let s = Session::new(&model());
    let err = s.respond_with("Hi", greedy(0)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidOptions {
                option: "max_tokens",
                ..
            }
        ),
        "{err}"
    );
    let bad = GenerationOptions {
        sampling: Sampling::Random {
            temperature: -1.0,
            top_k: 0,
            top_p: 1.0,
            seed: None,
        },
        max_tokens: 4,
    };
    let err = s.respond_with("Hi", bad).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidOptions {
                option: "temperature",
                ..
            }
        ),
        "{err}"
    );
    assert!(s.transcript().is_empty());
}

#[tokio::test]
async fn context_window_overflow_is_a_typed_error() {
    let small = Model::load(
        model().path(),
        ModelOptions {
            context_size: 64,
            threads: 2,
            batch_size: 64,
        },
    )
    .unwrap();
    let s = Session::new(&small).options(greedy(8));
    // A prompt longer than the whole window: refused before decoding.
    let long = "The quick brown fox jumps over the lazy dog. ".repeat(20);
    match s.respond(long).await {
        Err(Error::ExceededContextWindow { used, limit }) => {
            assert_eq!(limit, 64);
            assert!(used > 64);
        }
        other => panic!("expected ExceededContextWindow, got {other:?}"),
    }
    assert!(s.transcript().is_empty());
    // A prompt that fits but whose answer does not: stopped during generation.
    let s = Session::new(&small).options(greedy(200));
    match s.respond("Write a long story about a dragon.").await {
        Err(Error::ExceededContextWindow { used, limit }) => {
            assert_eq!(limit, 64);
            assert_eq!(used, 65);
        }
        other => panic!("expected ExceededContextWindow during generation, got {other:?}"),
    }
    // The session is still usable afterwards.
    let ok = s.respond_with("Hi", greedy(2)).await.unwrap();
    assert_eq!(ok.usage.completion_tokens, 2);
}

#[test]
fn vocabulary_queries() {
    let m = model();
    assert_eq!(m.vocab_size(), 262_144);
    let bytes = m.token_bytes();
    assert_eq!(bytes.len(), m.vocab_size());
    let eog = m.eog_tokens();
    assert!(!eog.is_empty());
    for t in &eog {
        assert_eq!(
            bytes[*t as usize], None,
            "EOG token {t} must not have bytes"
        );
    }
    let text = "Hello, wörld! 123\nnext line";
    let tokens = m.tokenize(text, false).unwrap();
    let joined: Vec<u8> = tokens
        .iter()
        .flat_map(|&t| bytes[t as usize].clone().expect("text tokens have bytes"))
        .collect();
    assert_eq!(String::from_utf8(joined).unwrap(), text);
    let with_bos = m.tokenize(text, true).unwrap();
    assert_eq!(with_bos.len(), tokens.len() + 1);
    assert_eq!(bytes[with_bos[0] as usize], None, "BOS is a control token");
    // Byte-fallback tokens carry one raw byte.
    let single_bytes = bytes
        .iter()
        .filter(|b| matches!(b, Some(v) if v.len() == 1 && v[0] >= 0x80))
        .count();
    assert!(single_bytes >= 128, "{single_bytes} raw high bytes");
    let none = bytes.iter().filter(|b| b.is_none()).count();
    assert!(none > 6000, "unused/control tokens: {none}");
}

#[tokio::test]
async fn dropping_a_stream_cancels_the_request() {
    let s = session(200);
    let mut stream = s.stream("Write a long story about a dragon.");
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(stream);
    for _ in 0..500 {
        if !s.is_responding() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        !s.is_responding(),
        "generation should stop soon after the stream is dropped"
    );
    assert_eq!(
        s.transcript().len(),
        1,
        "only the instructions: a cancelled request leaves no trace"
    );
    let r = s.respond_with("Hi", greedy(2)).await.unwrap();
    assert_eq!(r.usage.completion_tokens, 2);
}
