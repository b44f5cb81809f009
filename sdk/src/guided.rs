//! Guided generation: answers constrained by a JSON Schema, decoded into typed values.
//!
//! The schema (from a [`Generable`] type or given at run time) is compiled by
//! `trellis-grammar` once per model and schema and cached; every request gets its own
//! [`Matcher`], which the decode loop consults at every token through the
//! [`TokenConstraint`] hook. Tokens that would leave the grammar are masked before sampling,
//! so the output always parses: no retries.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use trellis_grammar::{CompileOptions, Grammar, Matcher, TokenMask, TokenizedGrammar, Vocabulary};
use trellis_schema::{Generable, GeneratedContent, GenerationSchema, PartialJsonParser};

use crate::constraint::TokenConstraint;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::session::{Response, ResponseStream, Session};

/// How many compiled schemas a model keeps (least recently compiled dropped first).
const GRAMMAR_CACHE_CAPACITY: usize = 64;

/// Per-model state for guided generation: the grammar vocabulary and compiled schemas.
#[derive(Default)]
pub(crate) struct GuidedCache {
    vocabulary: OnceLock<Arc<Vocabulary>>,
    grammars: Mutex<GrammarCache>,
}

#[derive(Default)]
struct GrammarCache {
    by_schema: HashMap<String, Arc<TokenizedGrammar>>,
    order: Vec<String>,
}

impl GuidedCache {
    fn vocabulary(&self, model: &Model) -> Result<Arc<Vocabulary>> {
        if let Some(v) = self.vocabulary.get() {
            return Ok(v.clone());
        }
        let vocab = Vocabulary::from_token_bytes(model.token_bytes(), &model.eog_tokens())
            .map_err(|e| Error::Vocabulary(e.to_string()))?;
        Ok(self.vocabulary.get_or_init(|| Arc::new(vocab)).clone())
    }

    /// The tokenized grammar of `schema`, compiled on first use.
    pub(crate) fn grammar(
        &self,
        model: &Model,
        schema: &serde_json::Value,
    ) -> Result<Arc<TokenizedGrammar>> {
        let key = schema.to_string();
        if let Some(g) = self.lock().by_schema.get(&key) {
            return Ok(g.clone());
        }
        let grammar = Grammar::from_json_schema(schema, &CompileOptions::default())?;
        let tokenized = Arc::new(TokenizedGrammar::new(
            Arc::new(grammar),
            self.vocabulary(model)?,
        ));
        let mut cache = self.lock();
        if !cache.by_schema.contains_key(&key) {
            if cache.order.len() >= GRAMMAR_CACHE_CAPACITY {
                let oldest = cache.order.remove(0);
                cache.by_schema.remove(&oldest);
            }
            cache.order.push(key.clone());
            cache.by_schema.insert(key, tokenized.clone());
        }
        Ok(tokenized)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GrammarCache> {
        // The cache holds no invariant a panicking thread could break halfway.
        self.grammars.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where the grammar's time went during one guided request (for benchmarks; see
/// [`Session::respond_with_schema_profiled`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuidedProfile {
    /// Tokens fed by fast-forward (returned by `forced_tokens`), not sampled.
    pub forced_tokens: usize,
    /// Runs of forced tokens (each is fed to the model as one batch).
    pub forced_runs: usize,
    /// Number of mask computations (one per sampled token, plus one for a final stop).
    pub mask_calls: usize,
    /// Time spent computing token masks (`TokenConstraint::mask`).
    pub mask_duration: Duration,
    /// Time spent working out forced tokens (forced bytes, tokenization, matcher probe).
    pub forced_duration: Duration,
    /// Time spent advancing the matcher with chosen tokens (`TokenConstraint::accept`).
    pub accept_duration: Duration,
}

/// The grammar as a decoding constraint for one request.
pub(crate) struct GrammarConstraint {
    matcher: Matcher,
    mask: TokenMask,
    model: Model,
    fast_forward: bool,
    profile: Option<Arc<Mutex<GuidedProfile>>>,
}

impl GrammarConstraint {
    pub(crate) fn new(grammar: &Arc<TokenizedGrammar>, model: &Model, fast_forward: bool) -> Self {
        GrammarConstraint {
            matcher: grammar.matcher(),
            mask: TokenMask::new(grammar.vocabulary().len()),
            model: model.clone(),
            fast_forward,
            profile: None,
        }
    }

    /// Adds the time since `start` to the profile, if one is kept.
    fn record(&self, start: Option<Instant>, what: fn(&mut GuidedProfile, Duration)) {
        if let (Some(start), Some(p)) = (start, &self.profile) {
            let elapsed = start.elapsed();
            what(&mut p.lock().unwrap_or_else(|e| e.into_inner()), elapsed);
        }
    }

    fn clock(&self) -> Option<Instant> {
        self.profile.as_ref().map(|_| Instant::now())
    }
}

impl TokenConstraint for GrammarConstraint {
    fn mask(&mut self, allowed: &mut [u32]) {
        let start = self.clock();
        self.mask_inner(allowed);
        self.record(start, |p, d| {
            p.mask_calls += 1;
            p.mask_duration += d;
        });
    }

    fn accept(&mut self, token: u32) -> std::result::Result<(), String> {
        let start = self.clock();
        let r = self.matcher.consume(token).map_err(|e| e.to_string());
        self.record(start, |p, d| p.accept_duration += d);
        r
    }

    fn is_complete(&self) -> bool {
        self.matcher.is_accepting()
    }

    fn is_finished(&self) -> bool {
        self.matcher.is_finished()
    }

    fn forced_tokens(&mut self) -> Vec<u32> {
        let start = self.clock();
        let tokens = self.forced_inner();
        if let Some(p) = &self.profile {
            let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
            p.forced_tokens += tokens.len();
            p.forced_runs += usize::from(!tokens.is_empty());
        }
        self.record(start, |p, d| p.forced_duration += d);
        tokens
    }
}

impl GrammarConstraint {
    fn mask_inner(&mut self, allowed: &mut [u32]) {
        self.matcher.compute_mask(&mut self.mask);
        for (a, m) in allowed.iter_mut().zip(self.mask.words()) {
            *a &= *m;
        }
        // Tokens beyond the grammar's vocabulary (none for a consistent model) are refused.
        let n = self.mask.words().len();
        for a in allowed.iter_mut().skip(n) {
            *a = 0;
        }
    }

    /// The only possible continuation, tokenized the way the model would tokenize it.
    ///
    /// The last token of that tokenization is held back (the model may merge it with what
    /// follows, e.g. `"order` + `Id"` → `"orderId"`), unless nothing can follow. Every token
    /// is checked against the matcher; the first one it refuses ends the run.
    fn forced_inner(&mut self) -> Vec<u32> {
        if !self.fast_forward {
            return Vec::new();
        }
        let forced = self.matcher.forced_bytes();
        if forced.is_empty() {
            return Vec::new();
        }
        let text = match std::str::from_utf8(&forced) {
            Ok(t) => t,
            Err(e) => match std::str::from_utf8(&forced[..e.valid_up_to()]) {
                Ok(t) => t,
                Err(_) => return Vec::new(),
            },
        };
        if text.is_empty() {
            return Vec::new();
        }
        let Ok(mut tokens) = self.model.tokenize(text, false) else {
            return Vec::new();
        };
        // Probe the tokenization on the matcher itself, then undo: keep only a prefix it
        // accepts token by token (this also guards against a tokenizer that does not
        // reproduce the text exactly).
        let mut consumed = 0;
        for &t in &tokens {
            if self.matcher.consume(t).is_err() {
                break;
            }
            consumed += 1;
        }
        let ends_document =
            consumed == tokens.len() && text.len() == forced.len() && self.matcher.is_finished();
        if self.matcher.rollback(consumed).is_err() {
            // Cannot happen (we roll back exactly what we consumed). The next `accept` then
            // fails and the request ends with an error rather than an invalid answer.
            tracing::error!("grammar matcher could not roll back a fast-forward probe");
            return Vec::new();
        }
        let keep = if ends_document {
            consumed
        } else {
            consumed.saturating_sub(1)
        };
        tokens.truncate(keep);
        tokens
    }
}

/// Options of guided generation (see [`Session::respond_as`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuidedOptions {
    /// Put the schema, in compact JSON, into the prompt so the model knows what to write
    /// (default: on). Decoding is constrained either way.
    pub include_schema_in_prompt: bool,
    /// Emit tokens the grammar forces (property names, punctuation) without sampling
    /// (default: on).
    pub fast_forward: bool,
}

impl Default for GuidedOptions {
    fn default() -> Self {
        GuidedOptions {
            include_schema_in_prompt: true,
            fast_forward: true,
        }
    }
}

fn guided_prompt(prompt: String, schema: &serde_json::Value, options: GuidedOptions) -> String {
    if options.include_schema_in_prompt {
        format!("{prompt}\nAnswer with JSON that follows this JSON Schema: {schema}")
    } else {
        prompt
    }
}

fn decode<T: Generable>(text: &str) -> Result<T> {
    let content = GeneratedContent::from_json_str(text).map_err(|e| Error::InvalidOutput {
        output: text.to_owned(),
        reason: e.to_string(),
    })?;
    T::from_content(&content).map_err(|e| Error::InvalidOutput {
        output: text.to_owned(),
        reason: e.to_string(),
    })
}

impl Session {
    /// Answers `prompt` with a value of type `T`, generated under `T`'s schema.
    ///
    /// Decoding is constrained by the grammar of `T`'s JSON Schema, so the answer always
    /// parses into `T` and respects every `#[guide]`.
    ///
    /// ```no_run
    /// # async fn demo() -> trellis::Result<()> {
    /// use trellis::{Generable, Model, Session};
    ///
    /// #[derive(Generable, Debug)]
    /// struct City {
    ///     name: String,
    ///     #[guide(range = 0..=40_000_000)]
    ///     population: u32,
    /// }
    ///
    /// let model = Model::bundled()?;
    /// let session = Session::new(&model);
    /// let city: City = session.respond_as("The largest city of France.").await?.content;
    /// println!("{city:?}");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Schema`] when the schema cannot be compiled; [`Error::IncompleteOutput`]
    /// when `max_tokens` ends generation before the value is complete; and the errors of
    /// [`Session::respond`].
    pub async fn respond_as<T: Generable>(&self, prompt: impl Into<String>) -> Result<Response<T>> {
        self.respond_as_with(prompt, GuidedOptions::default()).await
    }

    /// [`Session::respond_as`] with explicit [`GuidedOptions`].
    ///
    /// # Errors
    /// As [`Session::respond_as`].
    pub async fn respond_as_with<T: Generable>(
        &self,
        prompt: impl Into<String>,
        options: GuidedOptions,
    ) -> Result<Response<T>> {
        if self.has_tools() {
            // With tools, the answer comes out of the tool loop (which may call tools first).
            return self.respond_as_with_tools::<T>(prompt).await;
        }
        let schema = GenerationSchema::of::<T>();
        let response = self
            .respond_guided(prompt.into(), schema.as_json(), options, None)
            .await?;
        let content = decode::<T>(&response.content)?;
        Ok(Response {
            content,
            usage: response.usage,
            finish_reason: response.finish_reason,
        })
    }

    /// Answers `prompt` with JSON valid for `schema` (built at run time with
    /// [`DynamicSchema`](crate::DynamicSchema) or given as raw JSON Schema).
    ///
    /// # Errors
    /// As [`Session::respond_as`].
    pub async fn respond_with_schema(
        &self,
        prompt: impl Into<String>,
        schema: &GenerationSchema,
    ) -> Result<Response<GeneratedContent>> {
        self.respond_with_schema_profiled(prompt, schema, GuidedOptions::default(), false)
            .await
            .map(|(response, _)| response)
    }

    /// [`Session::respond_with_schema`] with explicit [`GuidedOptions`], optionally
    /// measuring where the grammar's time went (`profile`; the profile is all zeros when
    /// `profile` is false). For benchmarks; not a stable API.
    ///
    /// # Errors
    /// As [`Session::respond_as`].
    #[doc(hidden)]
    pub async fn respond_with_schema_profiled(
        &self,
        prompt: impl Into<String>,
        schema: &GenerationSchema,
        options: GuidedOptions,
        profile: bool,
    ) -> Result<(Response<GeneratedContent>, GuidedProfile)> {
        let kept = profile.then(|| Arc::new(Mutex::new(GuidedProfile::default())));
        let response = self
            .respond_guided(prompt.into(), schema.as_json(), options, kept.clone())
            .await?;
        let content = GeneratedContent::from_json_str(&response.content).map_err(|e| {
            Error::InvalidOutput {
                output: response.content.clone(),
                reason: e.to_string(),
            }
        })?;
        let profile = kept
            .map(|p| *p.lock().unwrap_or_else(|e| e.into_inner()))
            .unwrap_or_default();
        Ok((
            Response {
                content,
                usage: response.usage,
                finish_reason: response.finish_reason,
            },
            profile,
        ))
    }

    async fn respond_guided(
        &self,
        prompt: String,
        schema: &serde_json::Value,
        options: GuidedOptions,
        profile: Option<Arc<Mutex<GuidedProfile>>>,
    ) -> Result<Response<String>> {
        let model = self.model().clone();
        let grammar = model.guided().grammar(&model, schema)?;
        let mut constraint = GrammarConstraint::new(&grammar, &model, options.fast_forward);
        constraint.profile = profile;
        let prompt = guided_prompt(prompt, schema, options);
        let response = self
            .respond_constrained(prompt, self.generation_options(), Box::new(constraint))
            .await?;
        if grammar
            .grammar()
            .accepts(response.content.as_bytes())
            .is_err()
        {
            return Err(Error::IncompleteOutput {
                output: response.content,
                max_tokens: Some(self.generation_options().max_tokens),
            });
        }
        Ok(response)
    }

    /// Streams the answer to `prompt` as snapshots of a `T` being filled in.
    ///
    /// Each [`Snapshot`] holds the partial value (`T::Partial`: every field optional) and the
    /// raw partial JSON; a snapshot is yielded whenever the partial value progresses.
    /// [`SnapshotStream::collect`] waits for the end and returns the final `Response<T>`.
    pub fn stream_as<T: Generable>(&self, prompt: impl Into<String>) -> SnapshotStream<T> {
        let prompt = prompt.into();
        let schema = GenerationSchema::of::<T>();
        let model = self.model().clone();
        let options = GuidedOptions::default();
        let inner =
            match model.guided().grammar(&model, schema.as_json()) {
                Ok(grammar) => {
                    let constraint = GrammarConstraint::new(&grammar, &model, options.fast_forward);
                    let prompt = guided_prompt(prompt, schema.as_json(), options);
                    Ok(self.stream_constrained(
                        prompt,
                        self.generation_options(),
                        Box::new(constraint),
                    ))
                }
                Err(e) => Err(Some(e)),
            };
        SnapshotStream {
            inner,
            parser: PartialJsonParser::new(),
            text: String::new(),
            last: None,
            finished: false,
            _type: PhantomData,
        }
    }
}

/// One step of a streamed typed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<T: Generable> {
    /// The value so far: every field present once it has started (strings grow, numbers and
    /// booleans appear when complete).
    pub partial: T::Partial,
    /// The partial JSON tree it was decoded from.
    pub raw: GeneratedContent,
}

/// The snapshots of a streamed typed answer (see [`Session::stream_as`]).
#[must_use = "streams do nothing unless polled"]
pub struct SnapshotStream<T: Generable> {
    inner: std::result::Result<ResponseStream, Option<Error>>,
    parser: PartialJsonParser,
    text: String,
    last: Option<T::Partial>,
    finished: bool,
    _type: PhantomData<fn() -> T>,
}

// No field is structurally pinned: the stream is moved freely.
impl<T: Generable> Unpin for SnapshotStream<T> {}

impl<T: Generable> SnapshotStream<T> {
    /// Consumes the rest of the stream and returns the final typed answer.
    ///
    /// # Errors
    /// The first error of the stream, or [`Error::IncompleteOutput`] / [`Error::InvalidOutput`]
    /// when the generated JSON does not decode into `T`.
    pub async fn collect(mut self) -> Result<T> {
        use futures::StreamExt;
        while let Some(item) = self.next().await {
            item?;
        }
        self.final_value()
    }

    /// The text generated so far (the raw JSON).
    pub fn text(&self) -> &str {
        &self.text
    }

    fn final_value(&mut self) -> Result<T> {
        let content = self.parser.finish().map_err(|e| Error::IncompleteOutput {
            output: format!("{} ({e})", self.text),
            max_tokens: None,
        })?;
        T::from_content(&content).map_err(|e| Error::InvalidOutput {
            output: self.text.clone(),
            reason: e.to_string(),
        })
    }
}

impl<T: Generable> Stream for SnapshotStream<T> {
    type Item = Result<Snapshot<T>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        let stream = match &mut this.inner {
            Ok(s) => s,
            Err(e) => {
                this.finished = true;
                return Poll::Ready(e.take().map(Err));
            }
        };
        loop {
            match Pin::new(&mut *stream).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(delta))) => {
                    this.text.push_str(&delta);
                    if let Err(e) = this.parser.push(&delta) {
                        this.finished = true;
                        return Poll::Ready(Some(Err(Error::InvalidOutput {
                            output: this.text.clone(),
                            reason: e.to_string(),
                        })));
                    }
                    let raw = this.parser.snapshot();
                    let partial = T::partial_from_content(&raw);
                    if this.last.as_ref() != Some(&partial) {
                        this.last = Some(partial.clone());
                        return Poll::Ready(Some(Ok(Snapshot { partial, raw })));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GenerationOptions, ModelOptions, Sampling};

    fn model() -> Model {
        Model::bundled_with(ModelOptions {
            context_size: 1024,
            threads: 2,
            ..Default::default()
        })
        .expect("bundled model (run `bash scripts/install-model.sh`)")
    }

    #[tokio::test]
    async fn profile_counts_forced_tokens_and_mask_time() {
        let model = model();
        let schema = GenerationSchema::from_json(serde_json::json!({
            "type": "object",
            "properties": {
                "first_property_name": {"type": "boolean"},
                "second_property_name": {"type": "boolean"}
            },
            "required": ["first_property_name", "second_property_name"],
            "additionalProperties": false
        }))
        .unwrap();
        let session = Session::new(&model).options(GenerationOptions {
            sampling: Sampling::Greedy,
            max_tokens: 64,
        });
        let (profiled, profile) = session
            .respond_with_schema_profiled("Two flags.", &schema, GuidedOptions::default(), true)
            .await
            .unwrap();
        let usage = profiled.usage;
        // The property names and punctuation are forced; the booleans are sampled.
        assert!(profile.forced_tokens > 0, "{profile:?}");
        assert!(
            profile.forced_tokens < usage.completion_tokens,
            "{profile:?}"
        );
        assert!(profile.forced_runs >= 1, "{profile:?}");
        assert!(profile.forced_runs <= profile.forced_tokens, "{profile:?}");
        // One mask per sampled token, plus the one that lets end-of-generation through.
        let sampled = usage.completion_tokens - profile.forced_tokens;
        assert!(profile.mask_calls >= sampled, "{profile:?} {usage:?}");
        assert!(profile.mask_calls <= sampled + 1, "{profile:?} {usage:?}");
        assert!(profile.mask_duration > Duration::ZERO);
        assert!(profile.mask_duration < usage.generation_duration);

        // Without profiling the answer is the same and the profile stays empty.
        let session = Session::new(&model).options(session.generation_options());
        let (plain, empty) = session
            .respond_with_schema_profiled("Two flags.", &schema, GuidedOptions::default(), false)
            .await
            .unwrap();
        assert_eq!(empty, GuidedProfile::default());
        assert_eq!(plain.content, profiled.content);
        assert_eq!(plain.usage.completion_tokens, usage.completion_tokens);
    }
}
