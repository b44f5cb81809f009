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

/// The grammar as a decoding constraint for one request.
pub(crate) struct GrammarConstraint {
    matcher: Matcher,
    mask: TokenMask,
    model: Model,
    fast_forward: bool,
}

impl GrammarConstraint {
    pub(crate) fn new(grammar: &Arc<TokenizedGrammar>, model: &Model, fast_forward: bool) -> Self {
        GrammarConstraint {
            matcher: grammar.matcher(),
            mask: TokenMask::new(grammar.vocabulary().len()),
            model: model.clone(),
            fast_forward,
        }
    }
}

impl TokenConstraint for GrammarConstraint {
    fn mask(&mut self, allowed: &mut [u32]) {
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

    fn accept(&mut self, token: u32) -> std::result::Result<(), String> {
        self.matcher.consume(token).map_err(|e| e.to_string())
    }

    fn is_complete(&self) -> bool {
        self.matcher.is_accepting()
    }

    /// The only possible continuation, tokenized the way the model would tokenize it.
    ///
    /// The last token of that tokenization is held back (the model may merge it with what
    /// follows, e.g. `"order` + `Id"` → `"orderId"`), unless nothing can follow. Every token
    /// is checked against the matcher; the first one it refuses ends the run.
    fn forced_tokens(&mut self) -> Vec<u32> {
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
        let schema = GenerationSchema::of::<T>();
        let response = self
            .respond_guided(prompt.into(), schema.as_json(), options)
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
        let response = self
            .respond_guided(prompt.into(), schema.as_json(), GuidedOptions::default())
            .await?;
        let content = GeneratedContent::from_json_str(&response.content).map_err(|e| {
            Error::InvalidOutput {
                output: response.content.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(Response {
            content,
            usage: response.usage,
            finish_reason: response.finish_reason,
        })
    }

    async fn respond_guided(
        &self,
        prompt: String,
        schema: &serde_json::Value,
        options: GuidedOptions,
    ) -> Result<Response<String>> {
        let model = self.model().clone();
        let grammar = model.guided().grammar(&model, schema)?;
        let constraint = GrammarConstraint::new(&grammar, &model, options.fast_forward);
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
