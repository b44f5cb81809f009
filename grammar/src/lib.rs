//! JSON Schema → compiled grammar → per-request token-mask matcher.
//!
//! # Design
//! * The schema compiles to *rules*: the root, each recursive `$ref` target, and lexemes
//!   that need an intersection (e.g. `pattern` ∩ `maxLength`, numeric ranges, extra-key
//!   sets). Each rule is a byte-level DFA built with `regex-automata` (trimmed to
//!   co-accessible states, so every live state can still finish); a rule calls another
//!   through a marker edge. Free strings and plain numbers are shared lexeme rules, long
//!   length-bounded strings are a counted rule (the character count lives in the state
//!   number, nothing is unrolled), and large repeated array items get their own rule.
//!   Other lexemes (`format`, `pattern`, large enums built as a literal trie, short length
//!   ranges, `oneOf` unions) are compiled once per distinct lexeme and, when prefix-free,
//!   spliced into their callers' DFAs; lexeme DFAs are also memoized process-wide. Compact
//!   objects without extra members are built directly (the trie of the keys that may come
//!   next after each member, values as rules that are spliced back when prefix-free)
//!   instead of determinizing the alternation of all member sequences.
//! * A [`Matcher`] state is a small set of rule-call stacks. Masks walk a token trie once,
//!   pruning on the first rejected byte; results are cached per top frame (tokens decided
//!   without looking below it, plus the few that need the real stack) and per whole
//!   configuration, so a repeated state costs a copy. Token classes ("slices": plain
//!   JSON-string text, ASCII letters and digits, lowercase letters and digits) are added as
//!   precomputed bitsets (all members, or those of at most `r` characters) when the state
//!   provably treats every class string alike, and only the remaining tokens are walked.
//!
//! # Output shape (deliberately stricter than JSON Schema where noted)
//! * Compact JSON by default ([`Whitespace::Bounded`] allows capped runs).
//! * Declared properties appear in schema order; optional ones may be left out; extra
//!   properties (`additionalProperties`/`patternProperties`) come after them.
//! * Integers are written without fraction or exponent (`1`, not `1.0`); numbers with a
//!   bound are written without exponent. Bounds are exact for any decimal value.
//! * Strings accept every valid JSON escape, except where a regex applies (`pattern`,
//!   `format`, object keys, `enum`/`const`): there each character has its one minimal
//!   (serde_json-style) spelling.
//! * `format`: `date`, `time`, `date-time`, `duration`, `email`, `hostname`, `ipv4`,
//!   `ipv6`, `uuid`, `uri` are asserted (strict subsets where noted in the docs of the
//!   formats module: no leap seconds, no quoted e-mail local parts, no IP-literal URI
//!   hosts, hostnames of at most 8 labels of at most 30 characters).
//! * Refused (error, or skipped with `lenient`): `not`, `if`/`then`/`else`, `contains`,
//!   `uniqueItems: true`, `multipleOf`, `propertyNames`, `dependent*`, `unevaluated*`,
//!   `$dynamicRef`, non-local `$ref`, nested `$id` with `$ref`, `oneOf` whose branches are
//!   not provably disjoint, overlapping `patternProperties`, `minProperties` > 1 with
//!   extra properties (duplicate extra keys are not detected), `maxProperties` together
//!   with declared properties.
//!
//! `trellis-grammar` compiles a JSON Schema into a [`Grammar`] (a set of byte-level
//! DFAs, one per rule, linked by rule calls so recursive schemas work), pairs it with a
//! model [`Vocabulary`] in a [`TokenizedGrammar`], and hands out one [`Matcher`] per
//! request. The matcher computes the set of tokens that may come next ([`TokenMask`]) so
//! that every finished output is valid against the schema.
//!
//! ```
//! use std::sync::Arc;
//! use trellis_grammar::{CompileOptions, Grammar, TokenMask, TokenizedGrammar, Vocabulary};
//!
//! let schema = serde_json::json!({
//!     "type": "object",
//!     "properties": { "ok": { "type": "boolean" } },
//!     "required": ["ok"],
//!     "additionalProperties": false
//! });
//! let grammar = Grammar::from_json_schema(&schema, &CompileOptions::default()).unwrap();
//! assert!(grammar.accepts(br#"{"ok":true}"#).is_ok());
//! assert_eq!(grammar.accepts(br#"{"ok":1}"#).unwrap_err().offset, 6);
//!
//! // A toy vocabulary: token 0 is end-of-generation.
//! let pieces: Vec<Option<Vec<u8>>> = vec![None, Some(b"{\"ok\":".to_vec()), Some(b"true".to_vec()),
//!     Some(b"}".to_vec()), Some(b"1".to_vec())];
//! let vocab = Vocabulary::from_token_bytes(pieces, &[0]).unwrap();
//! let tg = Arc::new(TokenizedGrammar::new(Arc::new(grammar), Arc::new(vocab)));
//! let mut m = tg.matcher();
//! let mut mask = TokenMask::new(5);
//! m.compute_mask(&mut mask);
//! assert!(mask.is_allowed(1) && !mask.is_allowed(4) && !mask.is_allowed(0));
//! m.consume(1).unwrap();
//! m.consume(2).unwrap();
//! m.consume(3).unwrap();
//! assert!(m.is_accepting());
//! m.consume(0).unwrap(); // end of generation
//! assert!(m.is_finished());
//! ```

mod compile;
mod dfa;
mod formats;
mod matcher;
mod numeric;
mod vocab;

pub use compile::{CompileOptions, Limits, Skipped, Whitespace};

/// Empties the process-wide cache of lexeme DFAs.
///
/// Compiling a schema memoizes the DFAs of its lexemes (JSON strings and numbers, `format`s,
/// patterns, ...) for the whole process, so later schemas that use the same lexemes compile
/// faster; the cache holds at most 4 MiB. Clearing it frees that memory, and lets a
/// benchmark measure every compile from scratch. Compiled grammars are not affected.
///
/// ```
/// use trellis_grammar::{clear_dfa_cache, CompileOptions, Grammar};
///
/// let schema = serde_json::json!({"type": "string", "format": "email"});
/// let first = Grammar::from_json_schema(&schema, &CompileOptions::default()).unwrap();
/// clear_dfa_cache();
/// let again = Grammar::from_json_schema(&schema, &CompileOptions::default()).unwrap();
/// assert!(first.accepts(br#""a@b.example""#).is_ok());
/// assert!(again.accepts(br#""a@b.example""#).is_ok());
/// assert!(again.accepts(br#""not an address""#).is_err());
/// ```
pub fn clear_dfa_cache() {
    dfa::clear_cache();
}
pub use matcher::{MatchError, Matcher, TokenMask, TokenizedGrammar};
pub use vocab::{TokenType, Vocabulary, VocabularyError};

use dfa::Table;

/// Errors from [`Grammar::from_json_schema`]. `Display` always names the keyword and/or the
/// JSON pointer concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A keyword (or keyword value) this engine cannot enforce exactly.
    #[error("unsupported keyword `{keyword}` at `{pointer}`")]
    Unsupported {
        /// The keyword name.
        keyword: String,
        /// JSON pointer of the schema object that holds it.
        pointer: String,
    },
    /// A keyword is present but its value is malformed, or the schema is unusable.
    #[error("invalid schema at `{pointer}`: {reason}")]
    Invalid {
        /// JSON pointer of the offending value.
        pointer: String,
        /// Human-readable explanation.
        reason: String,
    },
    /// A `$ref` that cannot be resolved inside the document.
    #[error("unresolved $ref `{reference}` at `{pointer}`")]
    UnresolvedRef {
        /// The reference string.
        reference: String,
        /// JSON pointer of the schema object that holds the `$ref`.
        pointer: String,
    },
    /// A resource limit from [`Limits`] was exceeded.
    #[error("limit exceeded: {what} (limit {limit})")]
    LimitExceeded {
        /// Which limit.
        what: String,
        /// The configured value.
        limit: usize,
    },
}

/// The first rejected byte of an input checked with [`Grammar::accepts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rejected at byte offset {offset}")]
pub struct Rejection {
    /// Offset of the first byte that cannot be part of any valid document; equals the
    /// input length when the input is a valid prefix but not a complete document.
    pub offset: usize,
}

/// Size figures of a compiled grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GrammarStats {
    /// Number of rules (root, recursive `$ref` targets, intersected lexemes).
    pub rules: usize,
    /// Total DFA states over all rules.
    pub dfa_states: usize,
    /// Total transition-table entries (states × byte classes).
    pub transitions: usize,
    /// Largest single-rule DFA.
    pub max_rule_states: usize,
}

/// A compiled JSON Schema, independent of any vocabulary. `Send + Sync`; share it via `Arc`.
pub struct Grammar {
    pub(crate) rules: Vec<Table>,
    pub(crate) skipped: Vec<Skipped>,
    pub(crate) max_depth: usize,
    pub(crate) max_stacks: usize,
    /// (rule, state) pairs whose masks [`TokenizedGrammar::new`] computes ahead of time.
    pub(crate) hot: Vec<(u32, u32)>,
}

impl std::fmt::Debug for Grammar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grammar")
            .field("stats", &self.stats())
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl Grammar {
    /// Compiles a JSON Schema (draft 2020-12, draft 7 or draft 4 spellings).
    ///
    /// Unknown or unenforceable keywords are an error ([`CompileError::Unsupported`])
    /// unless `options.lenient` is set, in which case they are skipped and listed in
    /// [`Grammar::skipped`].
    pub fn from_json_schema(
        schema: &serde_json::Value,
        options: &CompileOptions,
    ) -> Result<Grammar, CompileError> {
        let limit = options.limits.max_schema_depth;
        if json_depth_exceeds(schema, limit) {
            return Err(CompileError::LimitExceeded {
                what: "schema nesting depth".to_owned(),
                limit,
            });
        }
        compile::compile(schema, options)
    }

    /// Keywords skipped in lenient mode (keyword and JSON pointer).
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Checks a complete document at the byte level.
    ///
    /// Returns the offset of the first rejected byte, or `offset == bytes.len()` when the
    /// input is a valid but incomplete prefix.
    pub fn accepts(&self, bytes: &[u8]) -> Result<(), Rejection> {
        let mut cfg = matcher::Config::start(self);
        let mut scratch = matcher::Scratch::default();
        for (i, &b) in bytes.iter().enumerate() {
            if !cfg.step(self, b, &mut scratch) {
                return Err(Rejection { offset: i });
            }
        }
        if cfg.is_accepting(self) {
            Ok(())
        } else {
            Err(Rejection {
                offset: bytes.len(),
            })
        }
    }

    /// Size numbers (rules, DFA states, transitions).
    pub fn stats(&self) -> GrammarStats {
        let mut s = GrammarStats {
            rules: self.rules.len(),
            ..Default::default()
        };
        for r in &self.rules {
            s.dfa_states += r.n_states();
            s.transitions += r.n_transitions();
            s.max_rule_states = s.max_rule_states.max(r.n_states());
        }
        s
    }
}

/// Whether `value` nests arrays/objects deeper than `limit` (iterative: no recursion, so a
/// hostile document cannot overflow the stack here).
fn json_depth_exceeds(value: &serde_json::Value, limit: usize) -> bool {
    let mut stack: Vec<(&serde_json::Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match v {
            serde_json::Value::Array(a) => Box::new(a.iter()),
            serde_json::Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        if depth + 1 > limit {
            return true;
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    false
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    #[test]
    fn types_are_send_sync() {
        assert_send_sync::<super::Grammar>();
        assert_send_sync::<super::Vocabulary>();
        assert_send_sync::<super::TokenizedGrammar>();
        assert_send::<super::Matcher>();
    }
}
