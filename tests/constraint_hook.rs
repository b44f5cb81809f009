//! The decode loop's constraint hook, exercised with small test constraints on the real model.

use std::sync::{Arc, Mutex, OnceLock};

use trellis::{
    Error, FinishReason, GenerationOptions, Model, ModelOptions, Sampling, Session, TokenConstraint,
};

fn model() -> Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Model::bundled_with(ModelOptions {
                context_size: 512,
                threads: 2,
                ..Default::default()
            })
            .expect("bundled model (run `bash scripts/install-model.sh`)")
        })
        .clone()
}

/// Token ids whose text is made only of ASCII digits.
fn digit_tokens(model: &Model) -> Vec<u32> {
    model
        .token_bytes()
        .iter()
        .enumerate()
        .filter(|(_, b)| matches!(b, Some(b) if b.iter().all(u8::is_ascii_digit)))
        .map(|(t, _)| t as u32)
        .collect()
}

/// Allows only digit tokens, exactly `len` of them, then requires end of generation.
struct Digits {
    allowed: Arc<Vec<u32>>,
    accepted: Arc<Mutex<Vec<u32>>>,
    len: usize,
}

impl TokenConstraint for Digits {
    fn mask(&mut self, mask: &mut [u32]) {
        mask.iter_mut().for_each(|w| *w = 0);
        if self.accepted.lock().unwrap().len() < self.len {
            for &t in self.allowed.iter() {
                mask[t as usize / 32] |= 1 << (t % 32);
            }
        }
    }
    fn accept(&mut self, token: u32) -> Result<(), String> {
        if !self.allowed.contains(&token) {
            return Err(format!("token {token} is not a digit token"));
        }
        self.accepted.lock().unwrap().push(token);
        Ok(())
    }
    fn is_complete(&self) -> bool {
        self.accepted.lock().unwrap().len() >= self.len
    }
    fn forced_tokens(&mut self) -> Vec<u32> {
        Vec::new()
    }
}

fn digits(len: usize) -> (Digits, Arc<Mutex<Vec<u32>>>) {
    static ALLOWED: OnceLock<Arc<Vec<u32>>> = OnceLock::new();
    let allowed = ALLOWED
        .get_or_init(|| Arc::new(digit_tokens(&model())))
        .clone();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    (
        Digits {
            allowed,
            accepted: accepted.clone(),
            len,
        },
        accepted,
    )
}

fn options(sampling: Sampling) -> GenerationOptions {
    GenerationOptions {
        sampling,
        max_tokens: 32,
    }
}

#[tokio::test]
async fn greedy_output_obeys_the_mask_and_stops_when_complete() {
    let (c, accepted) = digits(5);
    let s = Session::new(&model());
    let r = s
        .respond_constrained(
            "Tell me a story about a cat.",
            options(Sampling::Greedy),
            Box::new(c),
        )
        .await
        .unwrap();
    assert!(!r.content.is_empty());
    assert!(
        r.content.bytes().all(|b| b.is_ascii_digit()),
        "{:?}",
        r.content
    );
    assert_eq!(r.usage.completion_tokens, 5);
    assert_eq!(accepted.lock().unwrap().len(), 5);
    assert_eq!(r.finish_reason, FinishReason::Stop);
}

#[tokio::test]
async fn temperature_sampling_never_leaves_the_mask() {
    for seed in 0..4 {
        let (c, _) = digits(6);
        let sampling = Sampling::Random {
            temperature: 3.0,
            top_k: 0,
            top_p: 1.0,
            seed: Some(seed),
        };
        let r = Session::new(&model())
            .respond_constrained(
                "Write a poem about the sea.",
                options(sampling),
                Box::new(c),
            )
            .await
            .unwrap();
        assert!(
            r.content.bytes().all(|b| b.is_ascii_digit()),
            "{:?}",
            r.content
        );
        assert_eq!(r.usage.completion_tokens, 6);
    }
}

/// Forces a fixed token sequence, then is complete.
struct Forced {
    tokens: Vec<u32>,
    next: usize,
}

impl TokenConstraint for Forced {
    fn mask(&mut self, mask: &mut [u32]) {
        mask.iter_mut().for_each(|w| *w = 0);
    }
    fn accept(&mut self, token: u32) -> Result<(), String> {
        if self.tokens.get(self.next) == Some(&token) {
            self.next += 1;
            Ok(())
        } else {
            Err(format!("unexpected token {token}"))
        }
    }
    fn is_complete(&self) -> bool {
        self.next == self.tokens.len()
    }
    fn forced_tokens(&mut self) -> Vec<u32> {
        self.tokens[self.next..].to_vec()
    }
}

#[tokio::test]
async fn forced_tokens_are_fed_without_sampling() {
    // With a leading space, as the model would continue "A:" in the plain format.
    let text = " The answer is 42, naturally.";
    let tokens = model().tokenize(text, false).unwrap();
    let n = tokens.len();
    let s = Session::new(&model());
    let r = s
        .respond_constrained(
            "What is the answer?",
            options(Sampling::Greedy),
            Box::new(Forced { tokens, next: 0 }),
        )
        .await
        .unwrap();
    assert_eq!(r.content, text);
    assert_eq!(r.usage.completion_tokens, n);
    assert_eq!(r.finish_reason, FinishReason::Stop);
    // The forced answer is in the transcript and the next turn reuses it from the cache.
    let next = s
        .respond_with(
            "Why?",
            GenerationOptions {
                sampling: Sampling::Greedy,
                max_tokens: 4,
            },
        )
        .await
        .unwrap();
    assert!(next.usage.cached_tokens >= r.usage.prompt_tokens + n - 1);
}

/// Accepts nothing: every sampled token is rejected.
struct Rejecting;

impl TokenConstraint for Rejecting {
    fn mask(&mut self, _mask: &mut [u32]) {}
    fn accept(&mut self, token: u32) -> Result<(), String> {
        Err(format!("rejected {token}"))
    }
    fn is_complete(&self) -> bool {
        false
    }
    fn forced_tokens(&mut self) -> Vec<u32> {
        Vec::new()
    }
}

/// Allows nothing and is never complete.
struct Empty;

impl TokenConstraint for Empty {
    fn mask(&mut self, mask: &mut [u32]) {
        mask.iter_mut().for_each(|w| *w = 0);
    }
    fn accept(&mut self, _token: u32) -> Result<(), String> {
        Ok(())
    }
    fn is_complete(&self) -> bool {
        false
    }
    fn forced_tokens(&mut self) -> Vec<u32> {
        Vec::new()
    }
}

#[tokio::test]
async fn constraint_failures_are_typed_errors() {
    let s = Session::new(&model());
    let err = s
        .respond_constrained("Hi", options(Sampling::Greedy), Box::new(Rejecting))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Constraint(m) if m.starts_with("rejected")),
        "{err}"
    );
    let err = s
        .respond_constrained("Hi", options(Sampling::Greedy), Box::new(Empty))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Constraint(_)), "{err}");
    assert!(s.transcript().is_empty(), "failed requests leave no trace");
}

/// Digits without a length limit in the mask, but which reports itself finished after
/// `after` tokens: the loop must stop right there (finish reason `Stop`, exactly `after`
/// tokens) instead of generating up to `max_tokens`, and the session stays usable.
struct FinishingDigits(Digits, usize);

impl TokenConstraint for FinishingDigits {
    fn mask(&mut self, mask: &mut [u32]) {
        self.0.mask(mask)
    }
    fn accept(&mut self, token: u32) -> Result<(), String> {
        self.0.accept(token)
    }
    fn is_complete(&self) -> bool {
        self.0.is_complete()
    }
    fn forced_tokens(&mut self) -> Vec<u32> {
        Vec::new()
    }
    fn is_finished(&self) -> bool {
        self.0.accepted.lock().unwrap().len() >= self.1
    }
}

#[tokio::test]
async fn a_finished_constraint_ends_generation_without_another_step() {
    let session = Session::new(&model());
    let (constraint, accepted) = digits(usize::MAX);
    let options = GenerationOptions {
        max_tokens: 20,
        ..Default::default()
    };
    let response = session
        .respond_constrained(
            "Pick a number:",
            options,
            Box::new(FinishingDigits(constraint, 3)),
        )
        .await
        .expect("response");
    assert_eq!(response.finish_reason, FinishReason::Stop);
    assert_eq!(response.usage.completion_tokens, 3);
    assert_eq!(accepted.lock().unwrap().len(), 3);
    assert!(
        response.content.chars().all(|c| c.is_ascii_digit()),
        "{:?}",
        response.content
    );
    // The next turn reuses the cache (the unevaluated last token is simply evaluated then).
    let next = session
        .respond_with("And another?", options)
        .await
        .expect("next turn");
    assert!(next.usage.cached_tokens > 0);
}
