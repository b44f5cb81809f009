//! Choosing the next token straight from the logits, honouring an optional allowed-token mask.
//!
//! Sampling runs on the raw logits slice of llama.cpp and a bitset (one bit per vocabulary
//! entry, set = allowed): no per-token candidate array for the whole vocabulary is built.

use crate::options::Sampling;

/// Relative log-probability below which a token is treated as impossible when sampling:
/// tokens with `(max_logit - logit) / temperature > CUTOFF` have a probability below
/// `e^-40` (≈ 4e-18) of the most likely token's and are dropped before top-k/top-p.
const CUTOFF: f32 = 40.0;

/// A small deterministic random number generator (SplitMix64).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A seed from the process's hash randomness and the clock.
    pub(crate) fn fresh_seed() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(t.as_nanos());
        }
        hasher.finish()
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Number of `u32` words of a mask over `vocab` tokens.
pub(crate) fn mask_words(vocab: usize) -> usize {
    vocab.div_ceil(32)
}

#[inline]
pub(crate) fn set_bit(mask: &mut [u32], token: usize, on: bool) {
    if let Some(w) = mask.get_mut(token / 32) {
        if on {
            *w |= 1 << (token % 32);
        } else {
            *w &= !(1 << (token % 32));
        }
    }
}

/// Calls `f(token)` for every allowed token below `len`.
#[inline]
fn for_each_allowed(len: usize, mask: Option<&[u32]>, mut f: impl FnMut(usize)) {
    match mask {
        None => (0..len).for_each(f),
        Some(mask) => {
            for (wi, &word) in mask.iter().enumerate() {
                let mut w = word;
                while w != 0 {
                    let t = wi * 32 + w.trailing_zeros() as usize;
                    if t >= len {
                        return;
                    }
                    f(t);
                    w &= w - 1;
                }
            }
        }
    }
}

/// Chooses tokens according to a [`Sampling`] configuration.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    sampling: Sampling,
    rng: Rng,
}

impl Sampler {
    pub(crate) fn new(sampling: Sampling) -> Self {
        let seed = match sampling {
            Sampling::Random { seed: Some(s), .. } => s,
            Sampling::Random { seed: None, .. } => Rng::fresh_seed(),
            Sampling::Greedy => 0,
        };
        Sampler {
            sampling,
            rng: Rng::new(seed),
        }
    }

    /// The next token, or `None` when the mask allows no token (or all allowed logits are NaN).
    pub(crate) fn sample(&mut self, logits: &[f32], mask: Option<&[u32]>) -> Option<u32> {
        match self.sampling {
            Sampling::Greedy => argmax(logits, mask),
            Sampling::Random {
                temperature,
                top_k,
                top_p,
                ..
            } => {
                let candidates = distribution(logits, mask, temperature, top_k, top_p);
                let mut r = self.rng.next_f64() as f32;
                for &(token, p) in &candidates {
                    if r < p {
                        return Some(token);
                    }
                    r -= p;
                }
                // Rounding: fall back to the least likely kept token.
                candidates.last().map(|&(t, _)| t)
            }
        }
    }
}

/// Most likely allowed token (lowest id on ties).
pub(crate) fn argmax(logits: &[f32], mask: Option<&[u32]>) -> Option<u32> {
    let mut best: Option<(usize, f32)> = None;
    for_each_allowed(logits.len(), mask, |t| {
        let l = logits[t];
        if !l.is_nan() && best.is_none_or(|(_, b)| l > b) {
            best = Some((t, l));
        }
    });
    best.map(|(t, _)| t as u32)
}

/// The sampling distribution after mask, temperature, top-k and top-p: `(token, probability)`
/// sorted by decreasing probability, probabilities summing to 1. Empty when nothing is allowed.
pub(crate) fn distribution(
    logits: &[f32],
    mask: Option<&[u32]>,
    temperature: f32,
    top_k: u32,
    top_p: f32,
) -> Vec<(u32, f32)> {
    let Some(best) = argmax(logits, mask) else {
        return Vec::new();
    };
    let max = logits[best as usize];
    let floor = max - CUTOFF * temperature;
    let mut cands: Vec<(u32, f32)> = Vec::new();
    for_each_allowed(logits.len(), mask, |t| {
        let l = logits[t];
        if l >= floor {
            cands.push((t as u32, (l - max) / temperature));
        }
    });
    let by_logit_desc = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    let k = top_k as usize;
    if k > 0 && cands.len() > k {
        cands.select_nth_unstable_by(k - 1, by_logit_desc);
        cands.truncate(k);
    }
    cands.sort_unstable_by(by_logit_desc);
    // Softmax (scaled logits are <= 0, the first is 0).
    let mut sum = 0.0f32;
    for c in cands.iter_mut() {
        c.1 = c.1.exp();
        sum += c.1;
    }
    for c in cands.iter_mut() {
        c.1 /= sum;
    }
    if top_p < 1.0 {
        let mut cumulative = 0.0f32;
        let mut keep = cands.len();
        for (i, c) in cands.iter().enumerate() {
            cumulative += c.1;
            if cumulative >= top_p {
                keep = i + 1;
                break;
            }
        }
        cands.truncate(keep);
        let total: f32 = cands.iter().map(|c| c.1).sum();
        for c in cands.iter_mut() {
            c.1 /= total;
        }
    }
    cands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_of(vocab: usize, allowed: &[usize]) -> Vec<u32> {
        let mut m = vec![0; mask_words(vocab)];
        for &t in allowed {
            set_bit(&mut m, t, true);
        }
        m
    }

    fn random(temperature: f32, top_k: u32, top_p: f32, seed: u64) -> Sampling {
        Sampling::Random {
            temperature,
            top_k,
            top_p,
            seed: Some(seed),
        }
    }

    #[test]
    fn greedy_picks_the_largest_logit() {
        let logits = [0.1, 3.0, -2.0, 2.9];
        assert_eq!(
            Sampler::new(Sampling::Greedy).sample(&logits, None),
            Some(1)
        );
    }

    #[test]
    fn greedy_respects_the_mask() {
        let logits = [0.1, 3.0, -2.0, 2.9, 5.0];
        let mask = mask_of(5, &[0, 2, 3]);
        assert_eq!(
            Sampler::new(Sampling::Greedy).sample(&logits, Some(&mask)),
            Some(3)
        );
    }

    #[test]
    fn empty_mask_gives_none() {
        let logits = [1.0; 40];
        let mask = mask_of(40, &[]);
        assert_eq!(
            Sampler::new(Sampling::Greedy).sample(&logits, Some(&mask)),
            None
        );
        assert_eq!(
            Sampler::new(random(1.0, 0, 1.0, 1)).sample(&logits, Some(&mask)),
            None
        );
    }

    #[test]
    fn mask_bits_beyond_the_vocabulary_are_ignored() {
        let logits = [0.0, 1.0, 2.0];
        let mask = vec![u32::MAX];
        assert_eq!(argmax(&logits, Some(&mask)), Some(2));
    }

    #[test]
    fn random_sampling_never_picks_masked_tokens() {
        // Masked-out tokens have by far the largest logits.
        let vocab = 100;
        let logits: Vec<f32> = (0..vocab)
            .map(|t| if t % 7 == 0 { 1.0 } else { 20.0 })
            .collect();
        let allowed: Vec<usize> = (0..vocab).filter(|t| t % 7 == 0).collect();
        let mask = mask_of(vocab, &allowed);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..50 {
            let mut s = Sampler::new(random(2.0, 0, 1.0, seed));
            for _ in 0..20 {
                let t = s.sample(&logits, Some(&mask)).unwrap() as usize;
                assert_eq!(t % 7, 0, "sampled masked token {t}");
                seen.insert(t);
            }
        }
        // Equal logits among allowed tokens: many of them get sampled.
        assert!(seen.len() > 5, "only {seen:?}");
    }

    #[test]
    fn softmax_with_temperature() {
        let logits = [0.0f32, (2.0f32).ln(), (4.0f32).ln()];
        let d = distribution(&logits, None, 1.0, 0, 1.0);
        let p: Vec<(u32, f32)> = d;
        assert_eq!(p.iter().map(|c| c.0).collect::<Vec<_>>(), vec![2, 1, 0]);
        for (got, want) in p.iter().map(|c| c.1).zip([4.0 / 7.0, 2.0 / 7.0, 1.0 / 7.0]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // Temperature 2 takes square roots of the odds: 2 : sqrt 2 : 1.
        let d = distribution(&logits, None, 2.0, 0, 1.0);
        let s = 2.0 + 2f32.sqrt() + 1.0;
        for (got, want) in d
            .iter()
            .map(|c| c.1)
            .zip([2.0 / s, 2f32.sqrt() / s, 1.0 / s])
        {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn top_k_keeps_the_k_most_likely() {
        let logits = [1.0, 5.0, 3.0, 4.0, 2.0];
        let d = distribution(&logits, None, 1.0, 2, 1.0);
        assert_eq!(d.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 3]);
        let sum: f32 = d.iter().map(|c| c.1).sum();
        assert!((sum - 1.0).abs() < 1e-6);
        let mut s = Sampler::new(random(1.0, 2, 1.0, 3));
        for _ in 0..200 {
            assert!(matches!(s.sample(&logits, None), Some(1 | 3)));
        }
    }

    #[test]
    fn top_p_keeps_the_smallest_sufficient_prefix() {
        // Probabilities 0.5, 0.3, 0.2.
        let logits = [0.5f32.ln(), 0.3f32.ln(), 0.2f32.ln()];
        let d = distribution(&logits, None, 1.0, 0, 0.6);
        assert_eq!(d.len(), 2);
        assert!((d[0].1 - 0.625).abs() < 1e-5 && (d[1].1 - 0.375).abs() < 1e-5);
        let d = distribution(&logits, None, 1.0, 0, 0.5);
        assert_eq!(d.iter().map(|c| c.0).collect::<Vec<_>>(), vec![0]);
        let d = distribution(&logits, None, 1.0, 0, 1.0);
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn sampling_frequencies_follow_the_distribution() {
        let logits = [0.75f32.ln(), 0.25f32.ln()];
        let mut s = Sampler::new(random(1.0, 0, 1.0, 42));
        let n = 20_000;
        let zeros = (0..n)
            .filter(|_| s.sample(&logits, None) == Some(0))
            .count();
        let freq = zeros as f64 / n as f64;
        assert!((freq - 0.75).abs() < 0.02, "frequency {freq}");
    }

    #[test]
    fn same_seed_same_sequence_different_seed_differs() {
        let logits: Vec<f32> = (0..1000).map(|t| ((t * 37) % 101) as f32 / 10.0).collect();
        let run = |seed| {
            let mut s = Sampler::new(random(1.5, 50, 0.9, seed));
            (0..64)
                .map(|_| s.sample(&logits, None).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn nan_logits_are_skipped() {
        let logits = [f32::NAN, 1.0, f32::NAN];
        assert_eq!(argmax(&logits, None), Some(1));
    }

    #[test]
    fn rng_is_uniform_enough() {
        let mut r = Rng::new(1);
        let mean: f64 = (0..10_000).map(|_| r.next_f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02);
    }
}
