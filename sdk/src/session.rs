//! Conversations with a model.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::constraint::TokenConstraint;
use crate::engine::{spawn_worker, Event, Job, SharedState};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::options::GenerationOptions;
use crate::transcript::Transcript;

/// Token counts and timings of one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the whole formatted conversation given to the model.
    pub prompt_tokens: usize,
    /// Of those, tokens already in the KV cache from earlier turns (not evaluated again).
    pub cached_tokens: usize,
    /// Tokens generated (end-of-generation not counted).
    pub completion_tokens: usize,
    /// Time to format, tokenize and evaluate the prompt (time to first token, less sampling).
    pub prompt_duration: Duration,
    /// Time spent generating.
    pub generation_duration: Duration,
}

impl Usage {
    /// Prompt tokens that had to be evaluated: `prompt_tokens - cached_tokens`.
    pub fn evaluated_tokens(&self) -> usize {
        self.prompt_tokens.saturating_sub(self.cached_tokens)
    }

    /// Generated tokens per second.
    pub fn generation_tokens_per_second(&self) -> f64 {
        let s = self.generation_duration.as_secs_f64();
        if s > 0.0 {
            self.completion_tokens as f64 / s
        } else {
            0.0
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FinishReason {
    /// The model ended its turn (end-of-generation token).
    Stop,
    /// `max_tokens` was reached (or the receiver of a stream went away).
    MaxTokens,
}

/// The future of a response: `Send + 'static`, so it can be spawned.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<String>>> + Send + 'static>>;

/// The text deltas of a streamed response (see [`Session::stream`]).
///
/// Each item is a non-empty piece of text made of whole characters; an error ends the stream.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct ResponseStream {
    events: UnboundedReceiver<Event>,
    done: bool,
}

impl Stream for ResponseStream {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.events.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Event::Delta(text))) => Poll::Ready(Some(Ok(text))),
            Poll::Ready(Some(Event::Done(result))) => {
                self.done = true;
                Poll::Ready(result.err().map(Err))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(Some(Err(Error::EngineStopped)))
            }
        }
    }
}

/// A model answer with its usage figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    /// The answer.
    pub content: T,
    /// Token counts and timings.
    pub usage: Usage,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
}

struct SessionInner {
    model: Model,
    state: Arc<SharedState>,
    options: Mutex<GenerationOptions>,
    worker: Option<std::sync::mpsc::Sender<Job>>,
    tools: Mutex<crate::tools::ToolState>,
    adapter: Mutex<crate::adapter::Attached>,
}

/// A conversation with a model: a cheap, thread-safe handle (clones share the conversation).
///
/// Each session owns a llama.cpp context on a dedicated worker thread; generation never runs
/// on the async runtime. The KV cache is kept between turns: a new turn evaluates only the
/// tokens that were not already evaluated (see [`Usage::cached_tokens`]). One request at a
/// time: a second request while one is running fails with [`Error::ConcurrentRequests`].
///
/// # Prompt format
/// When the GGUF has a chat template it is applied (instructions as the `system` message) and
/// generation ends at the model's end-of-generation tokens.
///
/// Otherwise — the bundled Gemma 3 base model has none, and does not follow Gemma's turn
/// markers — a plain question-and-answer transcript is used, which base models continue
/// sensibly:
///
/// ```text
/// {instructions}
///
/// Q: {prompt}
/// A: {response}
///
/// Q: {prompt}
/// A:
/// ```
///
/// A response then ends at an end-of-generation token (including `<end_of_turn>`), at a
/// blank line (`"\n\n"`) or at a new question (`"\nQ:"`); neither stop text is part of the
/// response, and leading whitespace is removed. (With a decoding constraint, only the
/// constraint and end-of-generation tokens end a response.)
///
/// # Example
/// ```no_run
/// # async fn demo() -> trellis::Result<()> {
/// let model = trellis::Model::bundled()?;
/// let session = trellis::Session::new(&model).instructions("Answer in one sentence.");
/// let answer = session.respond("What is the capital of France?").await?;
/// println!("{} ({} tokens)", answer.content, answer.usage.completion_tokens);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("model", &self.inner.model)
            .field("transcript", &self.transcript())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new, empty conversation with `model`.
    pub fn new(model: &Model) -> Session {
        Self::from_transcript(model, Transcript::new())
    }

    /// Continues a saved conversation.
    ///
    /// ```no_run
    /// # async fn demo(model: trellis::Model, saved: &str) -> trellis::Result<()> {
    /// let transcript: trellis::Transcript = serde_json::from_str(saved).unwrap();
    /// let session = trellis::Session::from_transcript(&model, transcript);
    /// let next = session.respond("And then?").await?;
    /// # Ok(()) }
    /// ```
    pub fn from_transcript(model: &Model, transcript: Transcript) -> Session {
        let state = Arc::new(SharedState {
            transcript: Mutex::new(transcript),
            ..Default::default()
        });
        let worker = spawn_worker(model.inner.clone(), state.clone());
        Session {
            inner: Arc::new(SessionInner {
                model: model.clone(),
                state,
                options: Mutex::new(GenerationOptions::default()),
                worker,
                tools: Mutex::default(),
                adapter: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sets the instructions (system prompt), replacing earlier ones.
    pub fn instructions(self, text: impl Into<String>) -> Self {
        self.inner
            .state
            .transcript
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_instructions(text.into());
        self
    }

    /// Sets the default generation options of this session.
    pub fn options(self, options: GenerationOptions) -> Self {
        *self.inner.options.lock().unwrap_or_else(|p| p.into_inner()) = options;
        self
    }

    /// Attaches a LoRA adapter with `scale` (`1.0` applies it as trained; the effective
    /// factor is `scale × alpha / rank`). Sessions of one model can use different adapters,
    /// or none, at the same time. Calling it again with another adapter stacks the adapters
    /// (their contributions add up, each with its own scale); with an adapter already
    /// attached it changes that adapter's scale.
    ///
    /// An adapter of another model or a non-finite scale makes requests fail with
    /// [`Error::AdapterModelMismatch`] or [`Error::InvalidOptions`].
    ///
    /// ```no_run
    /// # fn main() -> trellis::Result<()> {
    /// let model = trellis::Model::bundled()?;
    /// let style = trellis::Adapter::load(&model, "style.gguf")?;
    /// let domain = trellis::Adapter::load(&model, "domain.gguf")?;
    /// let session = trellis::Session::new(&model)
    ///     .adapter(&style, 0.5)
    ///     .adapter(&domain, 1.0);
    /// assert_eq!(session.attached_adapters().len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn adapter(self, adapter: &crate::Adapter, scale: f32) -> Self {
        {
            let mut attached = self.inner.adapter.lock().unwrap_or_else(|p| p.into_inner());
            match attached.iter_mut().find(|(a, _)| a == adapter) {
                Some(entry) => entry.1 = scale,
                None => attached.push((adapter.clone(), scale)),
            }
        }
        self
    }

    /// Replaces the session's adapters by one adapter (`Some((adapter, scale))`) or detaches
    /// all (`None`), from the next request on; a running request is not affected. The
    /// conversation is kept, but its cached tokens were computed with other weights: the
    /// next request evaluates the whole conversation again.
    ///
    /// # Errors
    /// [`Error::AdapterModelMismatch`] for an adapter loaded for another model,
    /// [`Error::InvalidOptions`] for a non-finite scale; the attachment is then unchanged.
    pub fn set_adapter(&self, adapter: Option<(crate::Adapter, f32)>) -> Result<()> {
        self.set_adapters(adapter.into_iter().collect())
    }

    /// Replaces the session's adapters by `adapters` (stacked: their contributions add up,
    /// each with its scale; an empty list detaches all), from the next request on; a running
    /// request is not affected. Setting the same adapters and scales again (in any order)
    /// keeps the cached conversation; any other change makes the next request evaluate the
    /// whole conversation again.
    ///
    /// # Errors
    /// [`Error::AdapterModelMismatch`] for an adapter loaded for another model,
    /// [`Error::InvalidOptions`] for a non-finite scale or an adapter listed twice; the
    /// attachment is then unchanged.
    ///
    /// ```no_run
    /// # fn main() -> trellis::Result<()> {
    /// let model = trellis::Model::bundled()?;
    /// let style = trellis::Adapter::load(&model, "style.gguf")?;
    /// let domain = trellis::Adapter::load(&model, "domain.gguf")?;
    /// let session = trellis::Session::new(&model);
    /// session.set_adapters(vec![(style, 0.5), (domain, 1.0)])?;
    /// session.set_adapters(Vec::new())?; // back to the base model
    /// # Ok(()) }
    /// ```
    pub fn set_adapters(&self, adapters: Vec<(crate::Adapter, f32)>) -> Result<()> {
        crate::adapter::check_attachment(&self.inner.model, &adapters)?;
        *self.inner.adapter.lock().unwrap_or_else(|p| p.into_inner()) = adapters;
        Ok(())
    }

    /// The first attached LoRA adapter and its scale (see [`Session::attached_adapters`]
    /// for all of them).
    pub fn attached_adapter(&self) -> Option<(crate::Adapter, f32)> {
        self.attached_adapters().into_iter().next()
    }

    /// The attached LoRA adapters and their scales, in attachment order.
    pub fn attached_adapters(&self) -> Vec<(crate::Adapter, f32)> {
        self.inner
            .adapter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The session's default generation options.
    pub fn generation_options(&self) -> GenerationOptions {
        *self.inner.options.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The model of this session.
    pub fn model(&self) -> &Model {
        &self.inner.model
    }

    /// A copy of the conversation so far (a request's prompt and response are added when the
    /// response is complete).
    pub fn transcript(&self) -> Transcript {
        self.inner
            .state
            .transcript
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Usage of the last completed response.
    pub fn last_usage(&self) -> Option<Usage> {
        *self
            .inner
            .state
            .last_usage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a request is running.
    pub fn is_responding(&self) -> bool {
        self.inner.state.busy.load(Ordering::Acquire)
    }

    /// Answers `prompt` with the session's options.
    ///
    /// The request is started when this is called (so a second call while one runs fails at
    /// once with [`Error::ConcurrentRequests`]); the returned future is `Send + 'static`.
    ///
    /// # Errors
    /// [`Error::ConcurrentRequests`], [`Error::ExceededContextWindow`],
    /// [`Error::InvalidOptions`], [`Error::Decode`], [`Error::EngineStopped`], ...
    pub fn respond(&self, prompt: impl Into<String>) -> ResponseFuture {
        self.respond_with(prompt, self.generation_options())
    }

    /// Answers `prompt` with the given options instead of the session's.
    ///
    /// # Errors
    /// As [`Session::respond`].
    pub fn respond_with(
        &self,
        prompt: impl Into<String>,
        options: GenerationOptions,
    ) -> ResponseFuture {
        if self.has_tools() {
            // With tools registered, answers go through the tool loop (see `Session::tools`).
            let session = self.clone();
            let prompt = prompt.into();
            return Box::pin(
                async move { session.respond_with_tools_using(prompt, options).await },
            );
        }
        let started = self.start(prompt.into(), options, None, false);
        Box::pin(async move { finish(started?).await })
    }

    /// The session's tools and the shared transcript (for the tool loop).
    pub(crate) fn tool_parts(&self) -> (&Mutex<crate::tools::ToolState>, &Mutex<Transcript>) {
        (&self.inner.tools, &self.inner.state.transcript)
    }

    /// Answers `prompt` with decoding restricted by `constraint` (the grammar hook).
    #[doc(hidden)]
    pub fn respond_constrained(
        &self,
        prompt: impl Into<String>,
        options: GenerationOptions,
        constraint: Box<dyn TokenConstraint>,
    ) -> ResponseFuture {
        let started = self.start(prompt.into(), options, Some(constraint), false);
        Box::pin(async move { finish(started?).await })
    }

    /// Streams the answer to `prompt` with decoding restricted by `constraint`.
    pub(crate) fn stream_constrained(
        &self,
        prompt: String,
        options: GenerationOptions,
        constraint: Box<dyn TokenConstraint>,
    ) -> ResponseStream {
        let events = match self.start(prompt, options, Some(constraint), true) {
            Ok(rx) => rx,
            Err(e) => {
                let (tx, rx) = unbounded();
                let _ = tx.unbounded_send(Event::Done(Err(e)));
                rx
            }
        };
        ResponseStream {
            events,
            done: false,
        }
    }

    /// Streams the answer to `prompt` as text deltas (each a whole number of characters).
    ///
    /// Dropping the stream stops generation; the prompt is then not added to the transcript.
    ///
    /// ```no_run
    /// # async fn demo(session: trellis::Session) -> trellis::Result<()> {
    /// use futures::StreamExt;
    /// let mut stream = session.stream("Tell me a joke.");
    /// while let Some(delta) = stream.next().await {
    ///     print!("{}", delta?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(&self, prompt: impl Into<String>) -> ResponseStream {
        let events = match self.start(prompt.into(), self.generation_options(), None, true) {
            Ok(rx) => rx,
            Err(e) => {
                let (tx, rx) = unbounded();
                let _ = tx.unbounded_send(Event::Done(Err(e)));
                rx
            }
        };
        ResponseStream {
            events,
            done: false,
        }
    }

    fn start(
        &self,
        prompt: String,
        options: GenerationOptions,
        constraint: Option<Box<dyn TokenConstraint>>,
        want_deltas: bool,
    ) -> Result<UnboundedReceiver<Event>> {
        options.validate()?;
        let adapters = self.attached_adapters();
        crate::adapter::check_attachment(&self.inner.model, &adapters)?;
        let Some(worker) = &self.inner.worker else {
            return Err(Error::EngineStopped);
        };
        let state = &self.inner.state;
        if state
            .busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::ConcurrentRequests);
        }
        let (events, rx) = unbounded();
        let job = Job {
            prompt,
            options,
            constraint,
            events,
            want_deltas,
            adapters,
        };
        if worker.send(job).is_err() {
            state.busy.store(false, Ordering::Release);
            return Err(Error::EngineStopped);
        }
        Ok(rx)
    }
}

async fn finish(mut rx: UnboundedReceiver<Event>) -> Result<Response<String>> {
    while let Some(event) = rx.next().await {
        if let Event::Done(result) = event {
            return result;
        }
    }
    Err(Error::EngineStopped)
}
