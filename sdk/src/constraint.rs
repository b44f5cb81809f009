//! The hook through which constrained decoding (grammars) plugs into the generation loop.

/// Restricts which tokens the generation loop may produce.
///
/// This is an internal extension point for the grammar engine; it is public so other crates
/// of the workspace can implement it, but it is not part of the stable API.
///
/// The loop, for every position:
/// 1. calls [`forced_tokens`](Self::forced_tokens); if it returns tokens, they are accepted
///    (via [`accept`](Self::accept)) and fed to the model without sampling;
/// 2. otherwise it fills a bitset with every token allowed, calls [`mask`](Self::mask) to
///    clear the bits of the tokens the constraint forbids, allows end-of-generation tokens
///    only when [`is_complete`](Self::is_complete) is true (and forbids them otherwise),
///    samples among the remaining tokens, and calls [`accept`](Self::accept) with the token.
///
/// Generation ends when an end-of-generation token is sampled, or when the constraint is
/// complete and allows no token other than end of generation.
#[doc(hidden)]
pub trait TokenConstraint: Send {
    /// Clears the bits of forbidden tokens. `allowed` has one bit per vocabulary entry
    /// (token `t` is bit `t % 32` of word `t / 32`); bit set = allowed.
    fn mask(&mut self, allowed: &mut [u32]);
    /// Advances the constraint's state with the chosen token. An `Err` aborts the request.
    fn accept(&mut self, token: u32) -> Result<(), String>;
    /// Whether the output so far is a complete match (end of generation is allowed).
    fn is_complete(&self) -> bool;
    /// Tokens that are the only possible continuation; fed without sampling. May be empty.
    fn forced_tokens(&mut self) -> Vec<u32>;
    /// Whether nothing but end of generation can follow: the loop then stops without
    /// evaluating the last token (saving one forward pass). Defaults to `false`.
    fn is_finished(&self) -> bool {
        false
    }
}
