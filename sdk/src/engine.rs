//! The per-session worker thread that owns a llama.cpp context and runs the decode loop.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::channel::mpsc::UnboundedSender;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use crate::backend::{llama_backend, CONTEXT_CREATION};
use crate::constraint::TokenConstraint;
use crate::error::{Error, Result};
use crate::model::ModelInner;
use crate::options::GenerationOptions;
use crate::sampler::{mask_words, set_bit, Sampler};
use crate::session::{FinishReason, Response, Usage};
use crate::transcript::{Entry, Transcript};
use crate::utf8::Utf8Stream;

/// What the worker reports back for one request.
#[derive(Debug)]
pub(crate) enum Event {
    /// A piece of response text (only when deltas were asked for).
    Delta(String),
    /// The request is finished.
    Done(Result<Response<String>>),
}

/// One request for the worker.
pub(crate) struct Job {
    pub(crate) prompt: String,
    pub(crate) options: GenerationOptions,
    pub(crate) constraint: Option<Box<dyn TokenConstraint>>,
    pub(crate) events: UnboundedSender<Event>,
    pub(crate) want_deltas: bool,
    /// The session's LoRA adapters and scales for this request.
    pub(crate) adapters: crate::adapter::Attached,
}

/// State shared between a session's handles and its worker.
#[derive(Default)]
pub(crate) struct SharedState {
    pub(crate) transcript: Mutex<Transcript>,
    pub(crate) busy: AtomicBool,
    pub(crate) last_usage: Mutex<Option<Usage>>,
}

/// Clears the busy flag when a request ends, however it ends (also on panic).
struct BusyGuard<'a>(&'a AtomicBool);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Starts the worker thread of a session. `None` if the OS refused to create a thread.
pub(crate) fn spawn_worker(
    model: Arc<ModelInner>,
    state: Arc<SharedState>,
) -> Option<std::sync::mpsc::Sender<Job>> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("trellis-session".into())
        .spawn(move || worker_main(&model, &state, rx))
        .ok()?;
    Some(tx)
}

fn context_params(model: &ModelInner) -> LlamaContextParams {
    let o = &model.options;
    let threads = i32::try_from(o.threads).unwrap_or(1);
    let batch = o.batch_size.min(o.context_size);
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(o.context_size))
        .with_n_batch(batch)
        .with_n_ubatch(batch)
        .with_n_seq_max(1)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        // Gemma 3 uses sliding-window attention: without the full cache, removing the tail
        // of the sequence (prefix reuse) silently empties it.
        .with_swa_full(true)
}

fn worker_main(model: &Arc<ModelInner>, state: &SharedState, rx: std::sync::mpsc::Receiver<Job>) {
    let created = llama_backend().and_then(|backend| {
        let _serial = CONTEXT_CREATION.lock().unwrap_or_else(|p| p.into_inner());
        model
            .llama
            .new_context(backend, context_params(model))
            .map_err(|e| Error::ContextCreation(e.to_string()))
    });
    let mut engine = match created {
        Ok(ctx) => Some(Engine::new(model, ctx)),
        Err(e) => {
            tracing::error!(error = %e, "session context creation failed");
            let message = e.to_string();
            for job in rx {
                let _busy = BusyGuard(&state.busy);
                let _ = job
                    .events
                    .unbounded_send(Event::Done(Err(Error::ContextCreation(message.clone()))));
            }
            return;
        }
    };
    for job in rx {
        let Some(engine) = engine.as_mut() else { break };
        let busy = BusyGuard(&state.busy);
        let Job {
            prompt,
            options,
            mut constraint,
            events,
            want_deltas,
            adapters,
        } = job;
        if let Err(e) = engine.apply_adapters(adapters) {
            drop(busy);
            let _ = events.unbounded_send(Event::Done(Err(e)));
            continue;
        }
        let transcript = state
            .transcript
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let result = engine.generate(
            &transcript,
            &prompt,
            &options,
            &mut constraint,
            &events,
            want_deltas,
        );
        // A request whose receiver went away was cancelled: it leaves no trace.
        let cancelled = events.is_closed();
        if let (Ok(response), false) = (&result, cancelled) {
            let mut t = state.transcript.lock().unwrap_or_else(|p| p.into_inner());
            t.push(Entry::Prompt { text: prompt });
            t.push(Entry::Response {
                text: response.content.clone(),
            });
            *state.last_usage.lock().unwrap_or_else(|p| p.into_inner()) = Some(response.usage);
        }
        drop(busy);
        let _ = events.unbounded_send(Event::Done(result));
    }
}

/// A context plus the tokens currently in its KV cache (sequence 0).
pub(crate) struct Engine<'m> {
    model: &'m ModelInner,
    ctx: LlamaContext<'m>,
    cached: Vec<LlamaToken>,
    batch: LlamaBatch<'static>,
    n_batch: usize,
    mask: Vec<u32>,
    piece: Vec<u8>,
    /// The adapters attached to `ctx` (kept alive while attached; dropped after `ctx`).
    adapters: crate::adapter::Attached,
    /// llama.cpp's pointer of `ctx`, for stacking adapters (`None`: not identifiable, see
    /// [`crate::adapter::context_ptr`]).
    raw_ctx: Option<std::ptr::NonNull<llama_cpp_sys_2::llama_context>>,
    /// The adapters changed: the next decode rebuilds the graph (see `crate::adapter`).
    reserve_pending: bool,
}

impl<'m> Engine<'m> {
    pub(crate) fn new(model: &'m ModelInner, ctx: LlamaContext<'m>) -> Self {
        let n_batch = (ctx.n_batch() as usize).max(1);
        let raw_ctx = crate::adapter::context_ptr(&ctx, &model.llama);
        if raw_ctx.is_none() {
            tracing::warn!("llama.cpp context pointer not identified: adapter stacking disabled");
        }
        Engine {
            model,
            ctx,
            cached: Vec::new(),
            batch: LlamaBatch::new(n_batch, 1),
            n_batch,
            mask: Vec::new(),
            piece: Vec::new(),
            adapters: Vec::new(),
            raw_ctx,
            reserve_pending: false,
        }
    }

    /// Attaches `adapters` to the context unless they are attached already. A change
    /// discards the KV cache: tokens evaluated with other weights are not valid any more.
    pub(crate) fn apply_adapters(&mut self, adapters: crate::adapter::Attached) -> Result<()> {
        if crate::adapter::same_attachment(&self.adapters, &adapters) {
            self.adapters = adapters;
            return Ok(());
        }
        let nonzero: Vec<&(crate::Adapter, f32)> =
            adapters.iter().filter(|(_, s)| *s != 0.0).collect();
        let set = match (self.raw_ctx, nonzero.as_slice()) {
            (Some(ctx), _) => {
                crate::adapter::set_context_adapters(ctx, &adapters).map_err(|code| {
                    Error::AdapterLoad {
                        path: nonzero
                            .first()
                            .map(|(a, _)| a.path().to_path_buf())
                            .unwrap_or_default(),
                        reason: format!("llama_set_adapters_lora returned {code}"),
                    }
                })
            }
            // Without the raw pointer: llama-cpp-2's single-adapter calls.
            (None, []) => match self.adapters.first() {
                Some((old, _)) => self
                    .ctx
                    .lora_adapter_remove(&mut old.llama_handle())
                    .map_err(|e| Error::AdapterLoad {
                        path: old.path().to_path_buf(),
                        reason: e.to_string(),
                    }),
                None => Ok(()),
            },
            (None, [(a, scale)]) => self
                .ctx
                .lora_adapter_set(&mut a.llama_handle(), *scale)
                .map_err(|e| Error::AdapterLoad {
                    path: a.path().to_path_buf(),
                    reason: e.to_string(),
                }),
            (None, several) => Err(Error::AdapterStackingUnavailable {
                count: several.len(),
            }),
        };
        // On failure the previous adapters stay attached and referenced; the next request
        // tries again.
        set?;
        self.ctx.clear_kv_cache();
        self.cached.clear();
        self.reserve_pending = true;
        self.adapters = adapters;
        Ok(())
    }

    /// The context window: the configured size (llama.cpp may allocate a little more).
    fn n_ctx(&self) -> usize {
        (self.ctx.n_ctx() as usize).min(self.model.options.context_size as usize)
    }

    /// Evaluates `tokens` after the cached ones; logits are kept for the last token only.
    fn feed(&mut self, tokens: &[LlamaToken]) -> Result<()> {
        let limit = self.n_ctx();
        let used = self.cached.len() + tokens.len();
        if used > limit {
            return Err(Error::ExceededContextWindow { used, limit });
        }
        for (ci, chunk) in tokens.chunks(self.n_batch).enumerate() {
            let last_chunk = (ci + 1) * self.n_batch >= tokens.len();
            self.batch.clear();
            for (i, &t) in chunk.iter().enumerate() {
                let pos = (self.cached.len() + i) as i32;
                let logits = last_chunk && i + 1 == chunk.len();
                self.batch
                    .add(t, pos, &[0], logits)
                    .map_err(|e| Error::Decode(e.to_string()))?;
            }
            let decoded = {
                // After an adapter change llama.cpp rebuilds the graph in this decode,
                // reading the model's adapter list (see `crate::adapter`).
                let _serial = self
                    .reserve_pending
                    .then(|| CONTEXT_CREATION.lock().unwrap_or_else(|p| p.into_inner()));
                self.ctx.decode(&mut self.batch)
            };
            self.reserve_pending = false;
            if let Err(e) = decoded {
                // The cache state is unknown now: start from scratch next time.
                self.ctx.clear_kv_cache();
                self.cached.clear();
                return Err(Error::Decode(e.to_string()));
            }
            self.cached.extend_from_slice(chunk);
        }
        Ok(())
    }

    /// Brings the KV cache to `tokens` (all but possibly the last must be evaluated anew)
    /// reusing the longest common prefix. Returns how many tokens were reused.
    fn prefill(&mut self, tokens: &[LlamaToken]) -> Result<usize> {
        let common = self
            .cached
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count();
        // At least one token must be evaluated to get logits.
        let mut keep = common.min(tokens.len().saturating_sub(1));
        if keep < self.cached.len() {
            let removed = self.ctx.kv_cache_seq_rm(0, Some(keep as u32), None).is_ok();
            if !removed {
                self.ctx.clear_kv_cache();
                keep = 0;
            }
            self.cached.truncate(keep);
        }
        self.feed(&tokens[keep..])?;
        Ok(keep)
    }

    /// Answers `prompt` after `transcript`.
    pub(crate) fn generate(
        &mut self,
        transcript: &Transcript,
        prompt: &str,
        options: &GenerationOptions,
        constraint: &mut Option<Box<dyn TokenConstraint>>,
        events: &UnboundedSender<Event>,
        want_deltas: bool,
    ) -> Result<Response<String>> {
        options.validate()?;
        let start = Instant::now();
        let tokens = crate::prompt::render(self.model, transcript, prompt)?;
        if tokens.is_empty() {
            return Err(Error::Tokenize("the formatted prompt has no tokens".into()));
        }
        let limit = self.n_ctx();
        if tokens.len() >= limit {
            return Err(Error::ExceededContextWindow {
                used: tokens.len() + 1,
                limit,
            });
        }
        let cached_tokens = self.prefill(&tokens)?;
        let prompt_duration = start.elapsed();
        let gen_start = Instant::now();

        let vocab = self.model.llama.vocab().n_tokens().max(0) as usize;
        let mut sampler = Sampler::new(options.sampling);
        let plain = constraint.is_none() && crate::prompt::is_plain(self.model);
        let mut out = TextOut {
            text: String::new(),
            emitted: 0,
            utf8: Utf8Stream::default(),
            trim_start: plain,
            stops: if plain {
                crate::prompt::PLAIN_STOPS
            } else {
                &[]
            },
            events,
            want_deltas,
        };
        let mut completion = 0usize;
        let mut finish = FinishReason::MaxTokens;
        let max = options.max_tokens as usize;
        let model = self.model;
        let eog = &model.eog;

        'generation: while completion < max {
            if events.is_closed() {
                // Nobody is listening any more: stop early.
                break;
            }
            if let Some(c) = constraint.as_deref_mut() {
                let forced = c.forced_tokens();
                if !forced.is_empty() {
                    let mut feed = Vec::with_capacity(forced.len());
                    for t in forced {
                        if t as usize >= vocab {
                            return Err(Error::Constraint(format!(
                                "forced token {t} is outside the vocabulary"
                            )));
                        }
                        c.accept(t).map_err(Error::Constraint)?;
                        model.piece(t, &mut self.piece);
                        out.push(&self.piece);
                        feed.push(LlamaToken(t as i32));
                        completion += 1;
                        if completion >= max {
                            break 'generation;
                        }
                    }
                    if c.is_finished() {
                        // Nothing can follow: no need to evaluate the forced tokens.
                        finish = FinishReason::Stop;
                        break 'generation;
                    }
                    self.feed(&feed)?;
                    continue;
                }
            }
            let logits_index = self.batch.n_tokens() - 1;
            let logits = self.ctx.get_logits_ith(logits_index);
            let logits = &logits[..vocab.min(logits.len())];
            let token = match constraint.as_deref_mut() {
                None => sampler.sample(logits, None),
                Some(c) => {
                    self.mask.clear();
                    self.mask.resize(mask_words(vocab), u32::MAX);
                    if vocab % 32 != 0 {
                        if let Some(last) = self.mask.last_mut() {
                            *last = (1u32 << (vocab % 32)) - 1;
                        }
                    }
                    c.mask(&mut self.mask);
                    let complete = c.is_complete();
                    for &t in eog {
                        set_bit(&mut self.mask, t as usize, complete);
                    }
                    match sampler.sample(logits, Some(&self.mask)) {
                        Some(t) => Some(t),
                        None if complete => None,
                        None => {
                            return Err(Error::Constraint(
                                "the constraint allows no token but is not complete".into(),
                            ))
                        }
                    }
                }
            };
            let Some(token) = token else {
                finish = FinishReason::Stop;
                break;
            };
            if eog.contains(&token) {
                finish = FinishReason::Stop;
                break;
            }
            if let Some(c) = constraint.as_deref_mut() {
                c.accept(token).map_err(Error::Constraint)?;
            }
            model.piece(token, &mut self.piece);
            completion += 1;
            if out.push(&self.piece) {
                finish = FinishReason::Stop;
                break;
            }
            if constraint.as_deref().is_some_and(|c| c.is_finished()) {
                // The answer is complete and nothing can follow: stop without evaluating
                // the last token only to sample end of generation.
                finish = FinishReason::Stop;
                break;
            }
            if completion >= max {
                break;
            }
            self.feed(&[LlamaToken(token as i32)])?;
        }
        let text = out.finish();
        Ok(Response {
            content: text,
            usage: Usage {
                prompt_tokens: tokens.len(),
                cached_tokens,
                completion_tokens: completion,
                prompt_duration,
                generation_duration: gen_start.elapsed(),
            },
            finish_reason: finish,
        })
    }
}

/// Collects the response text, sends deltas, and watches for stop strings.
struct TextOut<'e> {
    text: String,
    /// Bytes of `text` already sent as deltas.
    emitted: usize,
    utf8: Utf8Stream,
    /// Drop whitespace before the first visible character.
    trim_start: bool,
    stops: &'static [&'static str],
    events: &'e UnboundedSender<Event>,
    want_deltas: bool,
}

impl TextOut<'_> {
    /// Adds a token's bytes; `true` when a stop string appeared (the text then ends before it).
    fn push(&mut self, bytes: &[u8]) -> bool {
        let mut delta = self.utf8.push(bytes);
        if self.trim_start {
            let trimmed = delta.trim_start();
            if trimmed.is_empty() {
                return false;
            }
            delta = trimmed.to_owned();
            self.trim_start = false;
        }
        self.text.push_str(&delta);
        // A stop string never starts inside text already sent: text that could begin one is
        // held back below.
        let found = self
            .stops
            .iter()
            .filter_map(|stop| self.text[self.emitted..].find(stop))
            .min();
        if let Some(at) = found {
            self.text.truncate(self.emitted + at);
            self.flush(self.text.len());
            return true;
        }
        let pending = &self.text[self.emitted..];
        let hold = self
            .stops
            .iter()
            .flat_map(|stop| (1..stop.len()).filter(move |&n| pending.ends_with(&stop[..n])))
            .max()
            .unwrap_or(0);
        self.flush(self.text.len() - hold);
        false
    }

    fn flush(&mut self, end: usize) {
        if end > self.emitted {
            if self.want_deltas {
                let delta = self.text[self.emitted..end].to_owned();
                let _ = self.events.unbounded_send(Event::Delta(delta));
            }
            self.emitted = end;
        }
    }

    fn finish(mut self) -> String {
        let tail = self.utf8.finish();
        self.text.push_str(&tail);
        self.flush(self.text.len());
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(
        stops: &'static [&'static str],
        trim: bool,
        pieces: &[&str],
    ) -> (Vec<String>, String, bool) {
        let (tx, mut rx) = futures::channel::mpsc::unbounded();
        let mut out = TextOut {
            text: String::new(),
            emitted: 0,
            utf8: Utf8Stream::default(),
            trim_start: trim,
            stops,
            events: &tx,
            want_deltas: true,
        };
        let mut stopped = false;
        for p in pieces {
            if out.push(p.as_bytes()) {
                stopped = true;
                break;
            }
        }
        let text = out.finish();
        drop(tx);
        let mut deltas = Vec::new();
        while let Ok(Event::Delta(d)) = rx.try_recv() {
            deltas.push(d);
        }
        (deltas, text, stopped)
    }

    #[test]
    fn stop_string_split_across_tokens_is_never_emitted() {
        let (deltas, text, stopped) = collect(
            &["\n\n", "\nQ:"],
            true,
            &[" Paris", " is", " nice", ".\n", "\nQ", ": next"],
        );
        assert!(stopped);
        assert_eq!(text, "Paris is nice.");
        assert_eq!(deltas.concat(), text);
    }

    #[test]
    fn held_back_text_is_released_when_no_stop_follows() {
        let (deltas, text, stopped) = collect(&["\n\n", "\nQ:"], false, &["a\n", "b\n", "Qx"]);
        assert!(!stopped);
        assert_eq!(text, "a\nb\nQx");
        assert_eq!(deltas.concat(), text);
        assert_eq!(deltas[0], "a", "the newline waits for the next token");
    }

    #[test]
    fn leading_whitespace_is_trimmed_only_when_asked() {
        assert_eq!(collect(&[], true, &[" ", "\n", " Hi"]).1, "Hi");
        assert_eq!(collect(&[], false, &[" ", "Hi"]).1, " Hi");
    }
}
