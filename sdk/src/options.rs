//! Options for loading models and generating text.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a model is loaded and how its inference contexts are sized.
///
/// ```
/// let options = trellis::ModelOptions {
///     context_size: 2048,
///     ..Default::default()
/// };
/// assert!(options.threads >= 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOptions {
    /// Context window of each session, in tokens (default 4096).
    pub context_size: u32,
    /// Threads llama.cpp uses for evaluation (default: the number of physical CPU cores).
    ///
    /// llama.cpp is built with OpenMP, whose threads busy-wait between steps. On a machine
    /// where other processes compete for the cores this can slow generation down tenfold;
    /// start the process with `OMP_WAIT_POLICY=PASSIVE` there (it must be set before the
    /// process starts, so Trellis cannot set it itself).
    pub threads: usize,
    /// Largest number of prompt tokens evaluated in one batch (default 512).
    pub batch_size: u32,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            context_size: 4096,
            threads: crate::cpu::physical_cores(),
            batch_size: 512,
        }
    }
}

impl ModelOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.context_size < 16 {
            return Err(Error::invalid(
                "context_size",
                format!("must be at least 16 tokens, got {}", self.context_size),
            ));
        }
        if self.threads == 0 || self.threads > 1024 {
            return Err(Error::invalid(
                "threads",
                format!("must be between 1 and 1024, got {}", self.threads),
            ));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        Ok(())
    }
}

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sampling {
    /// Always the most likely token: deterministic.
    Greedy,
    /// Sample from the distribution after temperature, top-k and top-p.
    ///
    /// With the same `seed` and options the output is the same. `seed: None` takes a fresh
    /// seed for every request.
    Random {
        /// Divides the logits; must be > 0. 1.0 keeps the model's distribution.
        temperature: f32,
        /// Keep only the `top_k` most likely tokens; 0 keeps all.
        top_k: u32,
        /// Keep the smallest set of tokens whose probability reaches `top_p` (0 < top_p <= 1).
        top_p: f32,
        /// Seed of the random number generator.
        seed: Option<u64>,
    },
}

impl Sampling {
    /// Random sampling with common defaults (temperature 0.8, top-k 40, top-p 0.95) and the
    /// given seed.
    ///
    /// ```
    /// let s = trellis::Sampling::random(7);
    /// assert!(matches!(s, trellis::Sampling::Random { seed: Some(7), .. }));
    /// ```
    pub fn random(seed: u64) -> Self {
        Sampling::Random {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            seed: Some(seed),
        }
    }
}

/// Options of one request.
///
/// ```
/// let options = trellis::GenerationOptions {
///     max_tokens: 32,
///     ..Default::default()
/// };
/// assert_eq!(options.sampling, trellis::Sampling::Greedy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GenerationOptions {
    /// How tokens are chosen (default [`Sampling::Greedy`]).
    pub sampling: Sampling,
    /// Most tokens generated for one response (default 256).
    pub max_tokens: u32,
}

impl Default for GenerationOptions {
    fn default() -> Self {
        GenerationOptions {
            sampling: Sampling::Greedy,
            max_tokens: 256,
        }
    }
}

impl GenerationOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_tokens == 0 {
            return Err(Error::invalid("max_tokens", "must be at least 1"));
        }
        if let Sampling::Random {
            temperature, top_p, ..
        } = self.sampling
        {
            if !(temperature.is_finite() && temperature > 0.0) {
                return Err(Error::invalid(
                    "temperature",
                    format!("must be a finite number > 0, got {temperature}"),
                ));
            }
            if !(top_p > 0.0 && top_p <= 1.0) {
                return Err(Error::invalid(
                    "top_p",
                    format!("must be in (0, 1], got {top_p}"),
                ));
            }
        }
        Ok(())
    }
}
