//! Byte-level DFA tables: built from regex-syntax `Hir` via regex-automata, products
//! (intersection / difference), trimming to co-accessible states, compression into byte
//! classes. State 0 is always the dead state.

use regex_automata::dfa::{dense, Automaton};
use regex_automata::nfa::thompson;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::Hir;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

/// A small, fast, non-cryptographic hasher for integer keys.
#[derive(Default)]
pub(crate) struct FxHasher(u64);
impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}
pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

use crate::CompileError;

/// First byte of a rule-call marker: `0xFF hi lo` calls rule `hi << 8 | lo`.
pub(crate) const MARKER: u8 = 0xFF;
/// Bytes `>= FIRST_INVALID` never occur in UTF-8 text.
pub(crate) const FIRST_INVALID: usize = 0xF5;

/// DFA under construction, rows over byte classes (`ncls` columns; class ids are dense,
/// bytes `>= FIRST_INVALID` never share a class with valid bytes and always go to the
/// dead state). Call edges are separate.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    /// Byte classes: bytes with equal class have equal transitions in every state.
    pub cls: [u8; 256],
    /// Number of classes (row width).
    pub ncls: usize,
    pub start: u32,
    /// `states × ncls` transitions.
    pub trans: Vec<u32>,
    pub accept: Vec<bool>,
    /// Per state: (callee rule, return state).
    pub calls: Vec<Vec<(u32, u32)>>,
    /// States whose token masks are worth computing ahead of time, when the grammar is
    /// paired with a vocabulary (the first branching state of a large literal set, where
    /// the walk visits thousands of trie nodes). Kept through splicing and trimming.
    pub hot: Vec<u32>,
}

/// Compressed DFA used by the matcher.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub start: u32,
    pub ncls: u32,
    pub cls: [u8; 256],
    pub trans: Vec<u32>,
    pub accept: Vec<bool>,
    pub calls: Vec<Vec<(u32, u32)>>,
    /// When set, this rule is a length-counted JSON string and the fields above are unused.
    pub counted: Option<Box<Counted>>,
}

/// A JSON string of `min..=max` characters, with the character count kept in the state
/// number instead of unrolled DFA states: 1 = before the opening quote, 2 = after the
/// closing quote (accepting), `3 + k * nu + u` = `k` characters done, unit DFA state `u`.
#[derive(Debug, Clone)]
pub(crate) struct Counted {
    pub unit: Table,
    pub nu: u32,
    pub min: u32,
    /// `None` = unbounded (the count then saturates at `min`).
    pub max: Option<u32>,
}

impl Counted {
    fn next(&self, s: u32, b: u8) -> u32 {
        match s {
            0 | 2 => 0,
            1 => {
                if b == b'"' {
                    3 + self.unit.start
                } else {
                    0
                }
            }
            _ => {
                let k = (s - 3) / self.nu;
                let u = (s - 3) % self.nu;
                if u == self.unit.start {
                    if b == b'"' {
                        return if k >= self.min { 2 } else { 0 };
                    }
                    if self.max == Some(k) {
                        return 0;
                    }
                }
                let v = self.unit.next(u, b);
                if v == 0 {
                    return 0;
                }
                if self.unit.accept[v as usize] {
                    let k2 = match self.max {
                        Some(_) => k + 1,
                        None => (k + 1).min(self.min),
                    };
                    3 + k2 * self.nu + self.unit.start
                } else {
                    3 + k * self.nu + v
                }
            }
        }
    }
}

const NO_CALLS: &[(u32, u32)] = &[];

impl Table {
    #[inline]
    pub fn next(&self, s: u32, b: u8) -> u32 {
        match &self.counted {
            None => self.trans[(s * self.ncls + self.cls[b as usize] as u32) as usize],
            Some(c) => c.next(s, b),
        }
    }
    #[inline]
    pub fn is_accept(&self, s: u32) -> bool {
        match &self.counted {
            None => self.accept[s as usize],
            Some(_) => s == 2,
        }
    }
    #[inline]
    pub fn calls(&self, s: u32) -> &[(u32, u32)] {
        match &self.counted {
            None => &self.calls[s as usize],
            Some(_) => NO_CALLS,
        }
    }
    pub fn n_states(&self) -> usize {
        match &self.counted {
            None => self.accept.len(),
            Some(c) => 3 + c.nu as usize,
        }
    }
    pub fn n_transitions(&self) -> usize {
        match &self.counted {
            None => self.trans.len(),
            Some(c) => c.unit.trans.len(),
        }
    }
    /// A counted-string rule over the one-character DFA `unit` (prefix-free).
    pub fn counted(unit: Table, min: u32, max: Option<u32>) -> Table {
        let nu = unit.accept.len() as u32;
        Table {
            start: 1,
            ncls: 0,
            cls: [0; 256],
            trans: Vec::new(),
            accept: Vec::new(),
            calls: Vec::new(),
            counted: Some(Box::new(Counted { unit, nu, min, max })),
        }
    }
}

impl Raw {
    /// Number of states (state 0 is dead).
    pub fn len(&self) -> usize {
        self.accept.len()
    }

    #[inline]
    pub fn next(&self, s: u32, b: u8) -> u32 {
        self.trans[s as usize * self.ncls + self.cls[b as usize] as usize]
    }

    #[inline]
    fn row(&self, s: u32) -> &[u32] {
        &self.trans[s as usize * self.ncls..(s as usize + 1) * self.ncls]
    }

    /// For each representative byte of a finer class map, its column in our rows.
    fn columns(&self, reps: &[u8]) -> Vec<usize> {
        reps.iter()
            .map(|&b| self.cls[b as usize] as usize)
            .collect()
    }

    /// A DFA with only the dead state and the given classes.
    fn empty(cls: [u8; 256], ncls: usize) -> Raw {
        Raw {
            cls,
            ncls,
            start: 0,
            trans: vec![0; ncls],
            accept: vec![false],
            calls: vec![Vec::new()],
            hot: Vec::new(),
        }
    }

    /// Appends a state with all transitions dead; returns its id.
    fn push_state(&mut self) -> u32 {
        let id = self.accept.len() as u32;
        self.trans.resize(self.trans.len() + self.ncls, 0);
        self.accept.push(false);
        self.calls.push(Vec::new());
        id
    }

    pub fn run(&self, bytes: &[u8]) -> bool {
        let mut s = self.start;
        for &b in bytes {
            s = self.next(s, b);
            if s == 0 {
                return false;
            }
        }
        self.accept[s as usize]
    }

    /// True when no accepting state is reachable (ignoring calls).
    pub fn is_empty_language(&self) -> bool {
        let mut seen = vec![false; self.len()];
        let mut stack = vec![self.start];
        while let Some(s) = stack.pop() {
            if s == 0 || seen[s as usize] {
                continue;
            }
            seen[s as usize] = true;
            if self.accept[s as usize] {
                return false;
            }
            for &t in self.row(s) {
                if t != 0 && !seen[t as usize] {
                    stack.push(t);
                }
            }
        }
        true
    }

    pub fn compress(&self) -> Table {
        Table {
            start: self.start,
            ncls: self.ncls as u32,
            cls: self.cls,
            trans: self.trans.clone(),
            accept: self.accept.clone(),
            calls: self.calls.clone(),
            counted: None,
        }
    }

    /// The same DFA over a finer class map `cls` with representatives `reps` (every class
    /// of `cls` lies inside one of ours).
    fn relayout(&mut self, cls: [u8; 256], reps: &[u8]) {
        let n = self.len();
        let cols = self.columns(reps);
        let mut trans = Vec::with_capacity(n * reps.len());
        for row in self.trans.chunks_exact(self.ncls) {
            trans.extend(cols.iter().map(|&c| row[c]));
        }
        self.cls = cls;
        self.ncls = reps.len();
        self.trans = trans;
    }
}

/// Byte classes for a directly built DFA: each `used` byte below [`FIRST_INVALID`] is its
/// own class, the other valid bytes share one, the invalid bytes another (as
/// [`renumber`] returns them).
fn classes_of_used_bytes(used: &[bool; 256]) -> ([u8; 256], Vec<u8>) {
    let mut keys = [0u8; 256];
    for (b, k) in keys.iter_mut().enumerate() {
        *k = if b >= FIRST_INVALID {
            FIRST_INVALID as u8 + 1
        } else if used[b] {
            b as u8
        } else {
            FIRST_INVALID as u8
        };
    }
    renumber(&keys)
}

/// Dense class ids (0..n) in byte order plus one representative byte per class.
fn renumber(keys: &[u8; 256]) -> ([u8; 256], Vec<u8>) {
    let mut map = [u16::MAX; 256];
    let mut cls = [0u8; 256];
    let mut reps = Vec::new();
    for b in 0..256 {
        let k = keys[b] as usize;
        if map[k] == u16::MAX {
            map[k] = reps.len() as u16;
            reps.push(b as u8);
        }
        cls[b] = map[k] as u8;
    }
    (cls, reps)
}

/// Common refinement of several class maps (bytes >= FIRST_INVALID kept apart).
fn refine(maps: &[&[u8; 256]]) -> ([u8; 256], Vec<u8>) {
    let mut ids: FxMap<Vec<u8>, u8> = FxMap::default();
    let mut keys = [0u8; 256];
    for b in 0..256 {
        let mut k: Vec<u8> = maps.iter().map(|m| m[b]).collect();
        k.push((b >= FIRST_INVALID) as u8);
        let n = ids.len();
        keys[b] = *ids.entry(k).or_insert(n as u8);
    }
    renumber(&keys)
}

fn limit_err(what: &str, limit: usize) -> CompileError {
    CompileError::LimitExceeded {
        what: what.to_string(),
        limit,
    }
}

/// Process-wide cache of rule DFAs built by [`from_hir`], keyed by the regex text and the
/// limits. The lexemes every schema uses (JSON strings, numbers, `format`s, the
/// one-character unit of counted strings) are then determinized once per process instead
/// of once per schema. Only call-free DFAs of at most [`CACHE_MAX_RULE_STATES`] states are
/// kept, at most [`CACHE_MAX_BYTES`] of transitions in all; once full, new DFAs are built
/// but not kept.
struct DfaCache {
    map: FxMap<(String, usize, usize), Arc<Raw>>,
    bytes: usize,
}

/// Largest DFA (states) the process-wide cache keeps.
const CACHE_MAX_RULE_STATES: usize = 2048;
/// Transition bytes the process-wide cache holds at most.
const CACHE_MAX_BYTES: usize = 4 << 20;

fn cache() -> &'static Mutex<DfaCache> {
    static CACHE: OnceLock<Mutex<DfaCache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        Mutex::new(DfaCache {
            map: FxMap::default(),
            bytes: 0,
        })
    })
}

/// Empties the process-wide DFA cache (see [`DfaCache`]).
pub(crate) fn clear_cache() {
    if let Ok(mut c) = cache().lock() {
        c.map.clear();
        c.bytes = 0;
    }
}

/// Builds a DFA for `hir` (anchored, full-match semantics). Call markers become call edges.
///
/// Call-free results are memoized process-wide (see [`DfaCache`]); the key is the
/// regex-syntax rendering of `hir`, which denotes the same language.
pub(crate) fn from_hir(
    hir: &Hir,
    max_states: usize,
    max_bytes: usize,
) -> Result<Raw, CompileError> {
    if let Some(lits) = finite_literals(hir, MAX_DIRECT_LITERALS) {
        // A small finite language (`true|false`, a short `enum`, `"[A-Z]{2}"`): its trie,
        // without the fixed cost of building an NFA and a dense DFA.
        return from_literals(&lits, max_states);
    }
    if let Some(sets) = byte_sequence(hir) {
        // A fixed-length sequence of byte sets (`"[A-Z]{3}"`, a uuid, `[0-9]{16}`): a chain.
        return Ok(chain(&sets));
    }
    let key = (hir.to_string(), max_states, max_bytes);
    if let Ok(c) = cache().lock() {
        if let Some(r) = c.map.get(&key) {
            return Ok(Raw::clone(r));
        }
    }
    let raw = build_from_hir(hir, max_states, max_bytes)?;
    let bytes = raw.trans.len() * 4 + key.0.len();
    if raw.len() <= CACHE_MAX_RULE_STATES && raw.calls.iter().all(|c| c.is_empty()) {
        if let Ok(mut c) = cache().lock() {
            if c.bytes + bytes <= CACHE_MAX_BYTES {
                c.bytes += bytes;
                c.map.insert(key, Arc::new(raw.clone()));
            }
        }
    }
    Ok(raw)
}

/// Longest byte-set sequence [`from_hir`] builds as a chain.
const MAX_CHAIN: usize = 128;

/// The byte sets (as 256-bit masks) of `hir` when it matches exactly the strings of one
/// fixed length whose `i`-th byte is any byte of set `i`: literals, classes of bytes or
/// ASCII characters, concatenations and fixed repetitions of these (at most [`MAX_CHAIN`]
/// positions, no invalid UTF-8 bytes, no call markers).
fn byte_sequence(hir: &Hir) -> Option<Vec<[u64; 4]>> {
    use regex_syntax::hir::{Class, HirKind};
    fn set_of(ranges: impl Iterator<Item = (u32, u32)>) -> Option<[u64; 4]> {
        let mut m = [0u64; 4];
        for (lo, hi) in ranges {
            if hi as usize >= 0x80 {
                return None; // non-ASCII: several bytes per character
            }
            for b in lo..=hi {
                m[b as usize / 64] |= 1 << (b % 64);
            }
        }
        Some(m)
    }
    fn go(hir: &Hir, out: &mut Vec<[u64; 4]>) -> Option<()> {
        match hir.kind() {
            HirKind::Empty => {}
            HirKind::Literal(l) => {
                for &b in l.0.iter() {
                    if b as usize >= 0x80 {
                        return None;
                    }
                    let mut m = [0u64; 4];
                    m[b as usize / 64] |= 1 << (b % 64);
                    out.push(m);
                }
            }
            HirKind::Class(Class::Bytes(c)) => out.push(set_of(
                c.ranges()
                    .iter()
                    .map(|r| (r.start() as u32, r.end() as u32)),
            )?),
            HirKind::Class(Class::Unicode(c)) => out.push(set_of(
                c.ranges()
                    .iter()
                    .map(|r| (r.start() as u32, r.end() as u32)),
            )?),
            HirKind::Capture(c) => go(&c.sub, out)?,
            HirKind::Concat(items) => {
                for it in items {
                    go(it, out)?;
                }
            }
            HirKind::Repetition(r) if r.max == Some(r.min) => {
                let mut unit = Vec::new();
                go(&r.sub, &mut unit)?;
                for _ in 0..r.min {
                    out.extend_from_slice(&unit);
                    if out.len() > MAX_CHAIN {
                        return None;
                    }
                }
            }
            _ => return None,
        }
        (out.len() <= MAX_CHAIN).then_some(())
    }
    let mut out = Vec::new();
    go(hir, &mut out)?;
    (!out.is_empty() && out.iter().all(|m| m.iter().any(|&w| w != 0))).then_some(out)
}

/// The DFA of the strings whose `i`-th byte is in `sets[i]` (ASCII sets, see
/// [`byte_sequence`]): one state per position.
fn chain(sets: &[[u64; 4]]) -> Raw {
    // Bytes with the same membership in every set share a class.
    let mut sig: Vec<Vec<bool>> = Vec::with_capacity(256);
    let mut keys = [0u8; 256];
    let other = |b: usize| if b < FIRST_INVALID { 0u8 } else { 1 };
    for (b, k) in keys.iter_mut().enumerate() {
        let row: Vec<bool> = sets
            .iter()
            .map(|m| m[b / 64] >> (b % 64) & 1 == 1)
            .collect();
        *k = if row.iter().any(|&x| x) {
            match sig.iter().position(|r| *r == row) {
                Some(i) => i as u8 + 2,
                None => {
                    sig.push(row);
                    sig.len() as u8 + 1
                }
            }
        } else {
            other(b)
        };
    }
    let (cls, reps) = renumber(&keys);
    let nc = reps.len();
    let mut raw = Raw::empty(cls, nc);
    raw.start = raw.push_state();
    for (i, m) in sets.iter().enumerate() {
        let s = raw.start as usize + i;
        let t = raw.push_state();
        for (c, &b) in reps.iter().enumerate() {
            if m[b as usize / 64] >> (b % 64) & 1 == 1 {
                raw.trans[s * nc + c] = t;
            }
        }
    }
    let last = raw.len() - 1;
    raw.accept[last] = true;
    raw
}

/// Most strings [`from_hir`] builds as a trie instead of determinizing.
const MAX_DIRECT_LITERALS: usize = 256;

/// The strings of `hir` when it is an alternation of at most `limit` non-empty literal
/// strings of valid UTF-8 bytes and rule calls (literals, concatenations and alternations
/// of them; one-character classes, fixed repetitions of one string), else `None` (also for
/// the empty set and look-arounds). The trie of such a set has as many states as its
/// determinized regex would.
fn finite_literals(hir: &Hir, limit: usize) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::{Class, HirKind};
    fn go(hir: &Hir, limit: usize) -> Option<Vec<Vec<u8>>> {
        let concat = |a: Vec<Vec<u8>>, b: &[Vec<u8>]| -> Option<Vec<Vec<u8>>> {
            if a.len().saturating_mul(b.len()) > limit {
                return None;
            }
            Some(
                a.iter()
                    .flat_map(|x| {
                        b.iter().map(move |y| {
                            let mut v = x.clone();
                            v.extend_from_slice(y);
                            v
                        })
                    })
                    .collect(),
            )
        };
        match hir.kind() {
            HirKind::Empty => Some(vec![Vec::new()]),
            HirKind::Literal(l) => Some(vec![l.0.to_vec()]),
            // Classes and repetitions only when they denote one string: a trie of their
            // cross products would have far more states than the determinized regex.
            HirKind::Class(Class::Bytes(c)) => match c.ranges() {
                [r] if r.start() == r.end() => Some(vec![vec![r.start()]]),
                _ => None,
            },
            HirKind::Class(Class::Unicode(c)) => match c.ranges() {
                [r] if r.start() == r.end() => Some(vec![r.start().to_string().into_bytes()]),
                _ => None,
            },
            HirKind::Capture(c) => go(&c.sub, limit),
            HirKind::Concat(items) => {
                let mut acc = vec![Vec::new()];
                for it in items {
                    acc = concat(acc, &go(it, limit)?)?;
                }
                Some(acc)
            }
            HirKind::Alternation(items) => {
                let mut out = Vec::new();
                for it in items {
                    out.extend(go(it, limit)?);
                    if out.len() > limit {
                        return None;
                    }
                }
                Some(out)
            }
            HirKind::Repetition(r) if r.max == Some(r.min) && r.min <= 16 => {
                let unit = go(&r.sub, limit)?;
                if unit.len() != 1 {
                    return None;
                }
                Some(vec![unit[0].repeat(r.min as usize)])
            }
            HirKind::Repetition(_) => None,
            HirKind::Look(_) => None,
        }
    }
    let lits = go(hir, limit)?;
    let ok = |l: &Vec<u8>| !l.is_empty() && pieces(l).is_some();
    (!lits.is_empty() && lits.iter().all(ok)).then_some(lits)
}

/// A DFA accepting exactly the given byte strings, built directly as their trie (no
/// regex determinization: linear in the total length), with one shared final state for
/// the strings that are a prefix of no other. Strings must be non-empty UTF-8 text, where
/// a call marker (`MARKER hi lo`) becomes a call edge; duplicates are fine. Fails when the
/// trie has more than `max_states` states.
pub(crate) fn from_literals(lits: &[Vec<u8>], max_states: usize) -> Result<Raw, CompileError> {
    let not_utf8 = || CompileError::Invalid {
        pointer: "#".into(),
        reason: "internal: a literal is not UTF-8".into(),
    };
    let mut used = [false; 256];
    for l in lits {
        for p in pieces(l).ok_or_else(not_utf8)? {
            if let Piece::Byte(b) = p {
                used[b as usize] = true;
            }
        }
    }
    let (cls, reps) = classes_of_used_bytes(&used);
    let nc = reps.len();
    let mut raw = Raw::empty(cls, nc);
    raw.start = raw.push_state();
    let fin = raw.push_state();
    raw.accept[fin as usize] = true;
    // In byte order, the extensions of a literal come right after it.
    let mut sorted: Vec<&Vec<u8>> = lits.iter().collect();
    sorted.sort();
    sorted.dedup();
    for (i, l) in sorted.iter().enumerate() {
        // A literal that is a prefix of the next one needs its own accepting state.
        let is_prefix = sorted.get(i + 1).is_some_and(|n| n.starts_with(l));
        let mut s = raw.start;
        let ps = pieces(l).ok_or_else(not_utf8)?;
        for (j, p) in ps.iter().enumerate() {
            let last = j + 1 == ps.len() && !is_prefix;
            let t = match *p {
                Piece::Byte(b) => raw.trans[s as usize * nc + raw.cls[b as usize] as usize],
                Piece::Call(k) => raw.calls[s as usize]
                    .iter()
                    .find(|c| c.0 == k)
                    .map_or(0, |c| c.1),
            };
            let t = if t != 0 {
                t
            } else {
                let u = if last {
                    fin
                } else {
                    if raw.len() >= max_states {
                        return Err(limit_err("DFA states per rule", max_states));
                    }
                    raw.push_state()
                };
                match *p {
                    Piece::Byte(b) => raw.trans[s as usize * nc + raw.cls[b as usize] as usize] = u,
                    Piece::Call(k) => raw.calls[s as usize].push((k, u)),
                }
                u
            };
            s = t;
        }
        raw.accept[s as usize] = true;
    }
    Ok(raw)
}

/// One step of a literal: a byte, or a rule call (`MARKER hi lo`).
#[derive(Clone, Copy)]
enum Piece {
    Byte(u8),
    Call(u32),
}

/// The bytes and calls of a literal; `None` when a byte is not valid UTF-8 text or a call
/// marker is cut short.
fn pieces(l: &[u8]) -> Option<Vec<Piece>> {
    let mut out = Vec::with_capacity(l.len());
    let mut i = 0;
    while i < l.len() {
        if l[i] == MARKER {
            let (hi, lo) = (*l.get(i + 1)?, *l.get(i + 2)?);
            out.push(Piece::Call((hi as u32) << 8 | lo as u32));
            i += 3;
        } else if (l[i] as usize) < FIRST_INVALID {
            out.push(Piece::Byte(l[i]));
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// The DFA of the JSON string `"` host `"` (or `"` local `@` host `"` with `local_part`),
/// where host is 1..=`labels` dot-separated labels of 1..=`label_len` ASCII letters,
/// digits or hyphens, neither starting nor ending with a hyphen, and local is a dot-atom
/// (`atext+(\.atext+)*`, RFC 5322 `atext`): the `hostname` and `email` formats. Built
/// directly with the label position in the state (label, characters so far, last was a
/// hyphen) instead of by determinizing the counted repetitions: about `labels × 2 ×
/// label_len` host states. Needs `label_len ≥ 2`.
pub(crate) fn host_raw(local_part: bool, labels: u32, label_len: u32) -> Raw {
    const ATEXT: &[u8] = b"!#$%&'*+/=?^_`{|}~";
    let mut keys = [0u8; 256];
    for (b, k) in keys.iter_mut().enumerate() {
        let c = b as u8;
        *k = match c {
            _ if b >= FIRST_INVALID => 7,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => 1,
            b'-' => 2,
            b'.' => 3,
            b'@' => 4,
            b'"' => 5,
            _ if ATEXT.contains(&c) => 6,
            _ => 0,
        };
    }
    let (cls, reps) = renumber(&keys);
    let nc = reps.len();
    let mut raw = Raw::empty(cls, nc);
    let set = |raw: &mut Raw, s: u32, bytes: &[u8], t: u32| {
        for &b in bytes {
            raw.trans[s as usize * nc + cls[b as usize] as usize] = t;
        }
    };
    let start = raw.push_state();
    raw.start = start;
    let end = raw.push_state();
    raw.accept[end as usize] = true;
    let open = raw.push_state();
    set(&mut raw, start, b"\"", open);
    // Host states: per label, the label start, then after `p` characters (1..=label_len)
    // ending in a letter/digit, then after `p` (2..=label_len-1) ending in a hyphen.
    let per = 2 * label_len;
    let host0 = raw.len() as u32;
    for _ in 0..labels * per {
        raw.push_state();
    }
    let label_start = |k: u32| host0 + k * per;
    let alnum_at = |k: u32, p: u32| host0 + k * per + p;
    let hyphen_at = |k: u32, p: u32| host0 + k * per + label_len + p - 1;
    for k in 0..labels {
        set(&mut raw, label_start(k), b"a", alnum_at(k, 1));
        for p in 1..=label_len {
            let s = alnum_at(k, p);
            set(&mut raw, s, b"\"", end);
            if k + 1 < labels {
                set(&mut raw, s, b".", label_start(k + 1));
            }
            if p < label_len {
                set(&mut raw, s, b"a", alnum_at(k, p + 1));
            }
            if p + 1 < label_len {
                set(&mut raw, s, b"-", hyphen_at(k, p + 1));
            }
        }
        for p in 2..label_len {
            let s = hyphen_at(k, p);
            set(&mut raw, s, b"a", alnum_at(k, p + 1));
            if p + 1 < label_len {
                set(&mut raw, s, b"-", hyphen_at(k, p + 1));
            }
        }
    }
    if local_part {
        let atom = raw.push_state();
        let dot = raw.push_state();
        for s in [open, atom, dot] {
            set(&mut raw, s, b"a-!", atom);
        }
        set(&mut raw, atom, b".", dot);
        set(&mut raw, atom, b"@", label_start(0));
    } else {
        set(&mut raw, open, b"a", alnum_at(0, 1));
    }
    trim(&mut raw, &|_| true);
    raw
}

/// The DFA of a JSON string of `min..=max` characters (`max: None` = unbounded), where
/// `unit` is a trimmed, prefix-free DFA of one character: the same language as
/// `"` unit{min,max} `"`, built directly as (count, unit state) pairs instead of by
/// determinizing the unrolled repetition. Fails above `max_states` states.
pub(crate) fn counted_raw(
    unit: &Raw,
    min: u32,
    max: Option<u32>,
    max_states: usize,
) -> Result<Raw, CompileError> {
    let nu = unit.len();
    let top = max.unwrap_or(min) as usize;
    let n = 3 + (top + 1) * nu;
    if n > max_states {
        return Err(limit_err("DFA states per rule (string length)", max_states));
    }
    let mut quote = [0u8; 256];
    quote[b'"' as usize] = 1;
    let (cls, reps) = refine(&[&unit.cls, &quote]);
    let nc = reps.len();
    let id = |k: usize, u: u32| (3 + k * nu) as u32 + u;
    let mut raw = Raw {
        cls,
        ncls: nc,
        start: 1,
        trans: vec![0; n * nc],
        accept: vec![false; n],
        calls: vec![Vec::new(); n],
        hot: Vec::new(),
    };
    raw.accept[2] = true;
    raw.trans[nc + cls[b'"' as usize] as usize] = id(0, unit.start);
    for k in 0..=top {
        for u in 1..nu as u32 {
            let row = id(k, u) as usize * nc;
            for (c, &b) in reps.iter().enumerate() {
                if b as usize >= FIRST_INVALID {
                    continue;
                }
                raw.trans[row + c] = if u == unit.start && b == b'"' {
                    if k >= min as usize {
                        2
                    } else {
                        0
                    }
                } else if u == unit.start && max == Some(k as u32) {
                    0
                } else {
                    let v = unit.next(u, b);
                    if v == 0 {
                        0
                    } else if unit.accept[v as usize] {
                        let k2 = if max.is_some() {
                            k + 1
                        } else {
                            (k + 1).min(min as usize)
                        };
                        if k2 > top {
                            0 // unreachable: a character is never started at the maximum
                        } else {
                            id(k2, unit.start)
                        }
                    } else {
                        id(k, v)
                    }
                };
            }
        }
    }
    trim(&mut raw, &|_| true);
    Ok(raw)
}

fn build_from_hir(hir: &Hir, max_states: usize, max_bytes: usize) -> Result<Raw, CompileError> {
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .utf8(false)
                .shrink(false)
                .which_captures(thompson::WhichCaptures::None)
                .nfa_size_limit(Some(max_bytes)),
        )
        .build_from_hir(hir)
        .map_err(|_| limit_err("NFA size in bytes", max_bytes))?;
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(regex_automata::dfa::StartKind::Anchored)
                .minimize(false)
                .accelerate(false)
                .specialize_start_states(false)
                .byte_classes(true)
                .dfa_size_limit(Some(max_bytes))
                .determinize_size_limit(Some(max_bytes)),
        )
        .build_from_nfa(&nfa)
        .map_err(|_| limit_err("DFA size in bytes", max_bytes))?;
    let s0 = dfa
        .start_state(&start::Config::new().anchored(Anchored::Yes))
        .map_err(|_| limit_err("DFA start state", 0))?;
    let mut ids: FxMap<regex_automata::util::primitives::StateID, u32> = FxMap::default();
    let mut order = Vec::new();
    let intern = |s, order: &mut Vec<_>, ids: &mut FxMap<_, u32>| -> u32 {
        if dfa.is_dead_state(s) {
            return 0;
        }
        if let Some(&i) = ids.get(&s) {
            return i;
        }
        let i = order.len() as u32 + 1;
        ids.insert(s, i);
        order.push(s);
        i
    };
    let bc = dfa.byte_classes();
    let mut base = [0u8; 256];
    for (b, slot) in base.iter_mut().enumerate() {
        *slot = bc.get(b as u8);
    }
    let (cls, reps) = refine(&[&base]);
    let nc = reps.len();
    let start = intern(s0, &mut order, &mut ids);
    let mut raw = Raw::empty(cls, nc);
    let mut k = 0;
    while k < order.len() {
        if order.len() > max_states {
            return Err(limit_err("DFA states per rule", max_states));
        }
        let s = order[k];
        let id = raw.push_state() as usize;
        for (c, &b) in reps.iter().enumerate() {
            if (b as usize) < FIRST_INVALID {
                raw.trans[id * nc + c] = intern(dfa.next_state(s, b), &mut order, &mut ids);
            }
        }
        let m = dfa.next_state(s, MARKER);
        if !dfa.is_dead_state(m) {
            let mut cl = Vec::new();
            for hi in 0..=255u8 {
                let t = dfa.next_state(m, hi);
                if dfa.is_dead_state(t) {
                    continue;
                }
                for lo in 0..=255u8 {
                    let u = dfa.next_state(t, lo);
                    if !dfa.is_dead_state(u) {
                        let r = intern(u, &mut order, &mut ids);
                        cl.push(((hi as u32) << 8 | lo as u32, r));
                    }
                }
            }
            raw.calls[id] = cl;
        }
        raw.accept[id] = dfa.is_match_state(dfa.next_eoi_state(s));
        k += 1;
    }
    raw.start = start;
    Ok(raw)
}

/// Product of call-free DFAs; `keep` decides acceptance from the component accept bits.
/// `required`: `keep` is false whenever one of the first `required` components rejects
/// (all of them for an intersection, the first for a difference, none for a union), so a
/// tuple with one of those components dead is the dead state and is never explored.
pub(crate) fn product(
    parts: &[&Raw],
    keep: &dyn Fn(&[bool]) -> bool,
    required: usize,
    max_states: usize,
) -> Result<Raw, CompileError> {
    // Tuples of up to four states are keyed as one u128 (no allocation, cheap hashing);
    // tuples with one live component (most of a union of branches that part early) are
    // found through a per-component array instead.
    let packed = parts.len() <= 4;
    let pack = |v: &[u32]| v.iter().fold(0u128, |a, &x| (a << 32) | x as u128);
    let mut small: FxMap<u128, u32> = FxMap::default();
    let mut ids: FxMap<Vec<u32>, u32> = FxMap::default();
    let mut single: Vec<Vec<u32>> = parts.iter().map(|p| vec![0; p.len()]).collect();
    let mut order: Vec<Vec<u32>> = Vec::new();
    let dead: Vec<u32> = vec![0; parts.len()];
    order.push(dead);
    let cls_maps: Vec<&[u8; 256]> = parts.iter().map(|p| &p.cls).collect();
    let (cls, reps) = refine(&cls_maps);
    let nc = reps.len();
    let cols: Vec<Vec<usize>> = parts.iter().map(|p| p.columns(&reps)).collect();
    let mut raw = Raw::empty(cls, nc);
    // The id of tuple `nx`, numbering it next when new.
    let mut intern = |nx: &[u32], order: &mut Vec<Vec<u32>>| -> u32 {
        let next = order.len() as u32;
        let mut live = nx.iter().enumerate().filter(|(_, &x)| x != 0);
        let slot = match (live.next(), live.next()) {
            (Some((i, &q)), None) => &mut single[i][q as usize],
            _ if packed => small.entry(pack(nx)).or_insert(0),
            _ => ids.entry(nx.to_vec()).or_insert(0),
        };
        if *slot == 0 {
            *slot = next;
            order.push(nx.to_vec());
        }
        *slot
    };
    let st: Vec<u32> = parts.iter().map(|p| p.start).collect();
    raw.start = intern(&st, &mut order);
    let mut k = 1;
    let mut bits = vec![false; parts.len()];
    let mut nx: Vec<u32> = vec![0; parts.len()];
    let mut cur: Vec<u32> = vec![0; parts.len()];
    while k < order.len() {
        if order.len() > max_states {
            return Err(limit_err("DFA states per rule (intersection)", max_states));
        }
        cur.copy_from_slice(&order[k]);
        let id = raw.push_state() as usize;
        for (i, p) in parts.iter().enumerate() {
            bits[i] = p.accept[cur[i] as usize];
        }
        raw.accept[id] = keep(&bits);
        let mut live = cur.iter().enumerate().filter(|(_, &x)| x != 0);
        if let (Some((i, &q)), None) = (live.next(), live.next()) {
            // One live component: its successors have at most one too.
            let p = parts[i];
            let row = &p.trans[q as usize * p.ncls..(q as usize + 1) * p.ncls];
            for (c, &col) in cols[i].iter().enumerate() {
                let t = row[col];
                if t == 0 || reps[c] as usize >= FIRST_INVALID {
                    continue;
                }
                nx.fill(0);
                nx[i] = t;
                raw.trans[id * nc + c] = intern(&nx, &mut order);
            }
            k += 1;
            continue;
        }
        for (c, &b) in reps.iter().enumerate() {
            if b as usize >= FIRST_INVALID {
                continue;
            }
            for (i, p) in parts.iter().enumerate() {
                let q = cur[i] as usize;
                nx[i] = if q == 0 {
                    0
                } else {
                    p.trans[q * p.ncls + cols[i][c]]
                };
            }
            if nx[..required].contains(&0) || nx.iter().all(|&x| x == 0) {
                continue;
            }
            raw.trans[id * nc + c] = intern(&nx, &mut order);
        }
        k += 1;
    }
    trim(&mut raw, &|_| true);
    Ok(raw)
}

/// The DFA of a compact JSON object whose members are `members` in this order and no
/// others: member `j` is `(key, value rule, required)` with `key` its encoded name followed
/// by `:`; optional members may be left out. The value is a call of its rule. Built
/// directly: after each member, the trie of the keys that may come next (states shared
/// between positions with the same candidates), instead of determinizing the alternation
/// of all member sequences. Keys must be distinct JSON strings (so no key is a prefix of
/// another). Fails above `max_states` states.
pub(crate) fn object_raw(
    members: &[(Vec<u8>, u32, bool)],
    max_states: usize,
) -> Result<Raw, CompileError> {
    let n = members.len();
    let mut used = [false; 256];
    for b in members.iter().flat_map(|m| m.0.iter()).chain(b"{},") {
        used[*b as usize] = true;
    }
    let (cls, reps) = classes_of_used_bytes(&used);
    let nc = reps.len();
    let mut raw = Raw::empty(cls, nc);
    raw.start = raw.push_state();
    let end = raw.push_state();
    raw.accept[end as usize] = true;
    // after[pos]: the first `pos` members are decided (after `{` when pos = 0).
    let after: Vec<u32> = (0..=n).map(|_| raw.push_state()).collect();
    raw.trans[raw.start as usize * nc + cls[b'{' as usize] as usize] = after[0];
    let mut ids: FxMap<Vec<(u32, u32)>, u32> = FxMap::default();
    let mut queue: Vec<(Vec<(u32, u32)>, u32)> = Vec::new();
    // Moves every (member, offset) of `set` over the next key byte; returns (byte, set).
    let step = |set: &[(u32, u32)]| -> Vec<(u8, Vec<(u32, u32)>)> {
        let mut out: Vec<(u8, Vec<(u32, u32)>)> = Vec::new();
        for &(j, off) in set {
            let key = &members[j as usize].0;
            if let Some(&b) = key.get(off as usize) {
                match out.iter_mut().find(|(c, _)| *c == b) {
                    Some((_, v)) => v.push((j, off + 1)),
                    None => out.push((b, vec![(j, off + 1)])),
                }
            }
        }
        out
    };
    let mut intern = |set: Vec<(u32, u32)>,
                      raw: &mut Raw,
                      queue: &mut Vec<(Vec<(u32, u32)>, u32)>|
     -> Result<u32, CompileError> {
        if let Some(&id) = ids.get(&set) {
            return Ok(id);
        }
        if raw.len() >= max_states {
            return Err(limit_err("DFA states per rule (object)", max_states));
        }
        let id = raw.push_state();
        ids.insert(set.clone(), id);
        queue.push((set, id));
        Ok(id)
    };
    for (pos, &a) in after.iter().enumerate() {
        let first_req = (pos..n).find(|&j| members[j].2);
        let cands: Vec<(u32, u32)> = (pos..first_req.map_or(n, |r| r + 1))
            .map(|j| (j as u32, 0))
            .collect();
        let a = a as usize;
        if first_req.is_none() {
            raw.trans[a * nc + cls[b'}' as usize] as usize] = end;
        }
        if cands.is_empty() {
            continue;
        }
        if pos == 0 {
            for (b, next) in step(&cands) {
                let t = intern(next, &mut raw, &mut queue)?;
                raw.trans[a * nc + cls[b as usize] as usize] = t;
            }
        } else {
            let t = intern(cands, &mut raw, &mut queue)?;
            raw.trans[a * nc + cls[b',' as usize] as usize] = t;
        }
    }
    while let Some((set, s)) = queue.pop() {
        for &(j, off) in &set {
            if off as usize == members[j as usize].0.len() {
                let (_, rule, _) = members[j as usize];
                raw.calls[s as usize].push((rule, after[j as usize + 1]));
            }
        }
        for (b, next) in step(&set) {
            let t = intern(next, &mut raw, &mut queue)?;
            raw.trans[s as usize * nc + cls[b as usize] as usize] = t;
        }
    }
    Ok(raw)
}

/// The first state on the way from the start that has more than one way on: the start
/// itself unless it (and the states after it) accept nothing, call nothing and move on
/// exactly one byte class. A literal set's mask is widest there (e.g. after the opening
/// quote of an `enum` of strings).
pub(crate) fn first_branch(raw: &Raw) -> u32 {
    let mut s = raw.start;
    for _ in 0..raw.len() {
        if s == 0 || raw.accept[s as usize] || !raw.calls[s as usize].is_empty() {
            break;
        }
        let mut live = raw.row(s).iter().filter(|&&t| t != 0);
        match (live.next(), live.next()) {
            (Some(&t), None) => s = t,
            _ => break,
        }
    }
    s
}

/// Whether a rule can be spliced into a caller: live and prefix-free (an accepting state
/// has no way on, neither a byte nor a call, so reaching it means "return").
pub(crate) fn spliceable(raw: &Raw) -> bool {
    raw.start != 0
        && (0..raw.len() as u32).all(|q| {
            !raw.accept[q as usize]
                || (raw.calls[q as usize].is_empty() && raw.row(q).iter().all(|&t| t == 0))
        })
}

/// Splices lexemes into `caller`: a state whose only way on is one call of a rule `k` for
/// which `callee(k)` gives a [`spliceable`] DFA gets a copy of that DFA's states, with the
/// transitions into its accepting states redirected to the return state. The lexeme's
/// tokens then never straddle a rule boundary (no stack-dependent tokens at its end), and
/// no determinization is repeated. Call sites past `max_states` stay calls.
pub(crate) fn splice_calls<'a>(
    caller: &mut Raw,
    callee: &dyn Fn(usize) -> Option<&'a Raw>,
    max_states: usize,
) {
    let mut sites: Vec<(u32, &'a Raw, u32)> = Vec::new();
    let mut total = caller.len();
    for s in 1..caller.len() as u32 {
        let calls = &caller.calls[s as usize];
        if calls.len() != 1 || caller.accept[s as usize] || caller.row(s).iter().any(|&t| t != 0) {
            continue;
        }
        let (k, ret) = calls[0];
        let Some(lexeme) = callee(k as usize) else {
            continue;
        };
        if total + lexeme.len() > max_states {
            continue;
        }
        total += lexeme.len();
        sites.push((s, lexeme, ret));
    }
    if sites.is_empty() {
        return;
    }
    // One class map for the caller and every spliced lexeme.
    let mut maps: Vec<[u8; 256]> = vec![caller.cls];
    for &(_, lexeme, _) in &sites {
        if !maps.contains(&lexeme.cls) {
            maps.push(lexeme.cls);
        }
    }
    let refs: Vec<&[u8; 256]> = maps.iter().collect();
    let (cls, reps) = refine(&refs);
    let nc = reps.len();
    caller.relayout(cls, &reps);
    for &(s, lexeme, ret) in &sites {
        let base = caller.len() as u32;
        // Where each lexeme state goes in the caller (accepting = return).
        let remap: Vec<u32> = (0..lexeme.len() as u32)
            .map(|t| {
                if t == 0 {
                    0
                } else if lexeme.accept[t as usize] {
                    ret
                } else {
                    base + t
                }
            })
            .collect();
        let map = |t: u32| remap[t as usize];
        let cols = lexeme.columns(&reps);
        caller.trans.reserve(lexeme.len() * nc);
        for (q, row) in lexeme.trans.chunks_exact(lexeme.ncls).enumerate() {
            caller
                .trans
                .extend(cols.iter().map(|&c| remap[row[c] as usize]));
            // The lexeme's own calls come along, returning into the copy.
            caller
                .calls
                .push(lexeme.calls[q].iter().map(|&(k, r)| (k, map(r))).collect());
        }
        caller
            .accept
            .resize(caller.accept.len() + lexeme.len(), false);
        let from = (base + lexeme.start) as usize * nc;
        caller.trans.copy_within(from..from + nc, s as usize * nc);
        caller.calls[s as usize] = caller.calls[(base + lexeme.start) as usize].clone();
        // The call site stands for the lexeme's start; its other states are the copy.
        caller.hot.extend(
            lexeme
                .hot
                .iter()
                .map(|&q| if q == lexeme.start { s } else { map(q) })
                .filter(|&q| q != 0),
        );
    }
}

/// The rule `k` when rule 0 accepts exactly what `k` does (its start's only way on is a
/// call of `k` returning to a final state with no way on), `k` is spliceable (`ok`) and no
/// other rule calls it: rule 0 may then simply become `k`.
fn sole_call(raws: &[Raw], ok: &[bool]) -> Option<usize> {
    let root = &raws[0];
    let s = root.start;
    let &[(k, ret)] = root.calls.get(s as usize)?.as_slice() else {
        return None;
    };
    let k = k as usize;
    let idle = |q: u32| root.row(q).iter().all(|&t| t == 0);
    let done =
        ret != 0 && root.accept[ret as usize] && idle(ret) && root.calls[ret as usize].is_empty();
    let called_elsewhere = raws
        .iter()
        .enumerate()
        .any(|(i, r)| i != 0 && r.calls.iter().flatten().any(|&(c, _)| c as usize == k));
    (k != 0 && ok[k] && s != 0 && !root.accept[s as usize] && idle(s) && done && !called_elsewhere)
        .then_some(k)
}

/// Splices the lexeme rules marked in `inlinable` (when [`spliceable`]) into every rule
/// that calls them (see [`splice_calls`]): lexemes first, in creation order (a lexeme only
/// calls lexemes created before it), then the others. Lexeme rules no longer called by a
/// rule reachable from the root are emptied.
pub(crate) fn inline_calls(raws: &mut [Raw], inlinable: &[bool], max_states: usize) {
    let n = raws.len();
    if !inlinable.iter().any(|&x| x) {
        return;
    }
    let mut ok = vec![false; n];
    let order = (0..n)
        .filter(|&r| inlinable[r])
        .chain((0..n).filter(|&r| !inlinable[r]));
    for r in order {
        if r == 0 {
            if let Some(k) = sole_call(raws, &ok) {
                // The root only calls `k`: take `k`'s DFA instead of copying it in.
                raws[0] = std::mem::replace(&mut raws[k], Raw::empty([0; 256], 1));
                continue;
            }
        }
        if raws[r].calls.iter().any(|c| !c.is_empty()) {
            let mut caller = std::mem::replace(&mut raws[r], Raw::empty([0; 256], 1));
            splice_calls(
                &mut caller,
                &|k| (k != r && ok[k]).then(|| &raws[k]),
                max_states,
            );
            raws[r] = caller;
        }
        ok[r] = inlinable[r] && spliceable(&raws[r]);
    }
    // Rules reachable from the root through the remaining calls.
    let mut used = vec![false; n];
    let mut stack = vec![0usize];
    while let Some(r) = stack.pop() {
        if used[r] {
            continue;
        }
        used[r] = true;
        for c in &raws[r].calls {
            for &(k, _) in c {
                if !used[k as usize] {
                    stack.push(k as usize);
                }
            }
        }
    }
    for (k, raw) in raws.iter_mut().enumerate() {
        if !used[k] && ok[k] {
            *raw = Raw::empty([0; 256], 1);
        }
    }
}

/// Whether the start state can reach acceptance (call edges count when `productive`).
pub(crate) fn start_is_live(raw: &Raw, productive: &dyn Fn(u32) -> bool) -> bool {
    let mut seen = vec![false; raw.len()];
    let mut stack = vec![raw.start];
    while let Some(s) = stack.pop() {
        if s == 0 || seen[s as usize] {
            continue;
        }
        seen[s as usize] = true;
        if raw.accept[s as usize] {
            return true;
        }
        for &t in raw.row(s) {
            if t != 0 && !seen[t as usize] {
                stack.push(t);
            }
        }
        for &(k, r) in &raw.calls[s as usize] {
            if productive(k) {
                stack.push(r);
            }
        }
    }
    false
}

/// Redirects every state that cannot reach acceptance to the dead state. Call edges
/// count when `productive(callee)`. Returns whether the start state survives.
pub(crate) fn trim(raw: &mut Raw, productive: &dyn Fn(u32) -> bool) -> bool {
    let n = raw.len();
    let nc = raw.ncls;
    // Co-accessible states: a few backward sweeps first (states are mostly numbered in
    // breadth-first order, so one sweep from the back usually settles all of them, and a
    // row is left at its first live target); reverse edges only when sweeps do not settle.
    let mut live: Vec<bool> = raw.accept.clone();
    live[0] = false;
    let mut settled = false;
    for _ in 0..4 {
        let mut changed = false;
        for s in (1..n).rev() {
            if live[s] {
                continue;
            }
            let row = &raw.trans[s * nc..(s + 1) * nc];
            if row.iter().any(|&t| t != 0 && live[t as usize])
                || raw.calls[s]
                    .iter()
                    .any(|&(k, r)| r != 0 && live[r as usize] && productive(k))
            {
                live[s] = true;
                changed = true;
            }
        }
        if !changed {
            settled = true;
            break;
        }
    }
    if settled {
        return finish_trim(raw, live, productive);
    }
    // Reverse edges in CSR form.
    let mut off = vec![0u32; n + 1];
    for s in 0..n {
        for &t in &raw.trans[s * nc..(s + 1) * nc] {
            if t != 0 {
                off[t as usize + 1] += 1;
            }
        }
        for &(k, r) in &raw.calls[s] {
            if productive(k) && r != 0 {
                off[r as usize + 1] += 1;
            }
        }
    }
    for i in 0..n {
        off[i + 1] += off[i];
    }
    let mut fill = off.clone();
    let mut rev = vec![0u32; off[n] as usize];
    for s in 0..n {
        for &t in &raw.trans[s * nc..(s + 1) * nc] {
            if t != 0 {
                rev[fill[t as usize] as usize] = s as u32;
                fill[t as usize] += 1;
            }
        }
        for &(k, r) in &raw.calls[s] {
            if productive(k) && r != 0 {
                rev[fill[r as usize] as usize] = s as u32;
                fill[r as usize] += 1;
            }
        }
    }
    let mut stack: Vec<u32> = (1..n as u32).filter(|&s| live[s as usize]).collect();
    while let Some(s) = stack.pop() {
        for &p in &rev[off[s as usize] as usize..off[s as usize + 1] as usize] {
            if !live[p as usize] {
                live[p as usize] = true;
                stack.push(p);
            }
        }
    }
    live[0] = false;
    finish_trim(raw, live, productive)
}

/// Redirects the states not in `live` (co-accessible states) to the dead state.
fn finish_trim(raw: &mut Raw, live: Vec<bool>, productive: &dyn Fn(u32) -> bool) -> bool {
    let n = raw.len();
    let nc = raw.ncls;
    raw.hot.retain(|&q| live[q as usize]);
    if live[1..].iter().all(|&l| l) && raw.calls.iter().all(|c| c.is_empty()) {
        return n > 1 && live[raw.start as usize]; // nothing to redirect
    }
    for s in 0..n {
        let row = &mut raw.trans[s * nc..(s + 1) * nc];
        if !live[s] {
            row.fill(0);
            raw.calls[s].clear();
            raw.accept[s] = false;
            continue;
        }
        for t in row.iter_mut() {
            if !live[*t as usize] {
                *t = 0;
            }
        }
        if !raw.calls[s].is_empty() {
            raw.calls[s].retain(|&(k, r)| productive(k) && live[r as usize]);
        }
    }
    live[raw.start as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_syntax::hir::Hir;

    fn lits(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    /// Every string over `alphabet` of at most `n` bytes.
    fn all_strings(alphabet: &[u8], n: usize) -> Vec<Vec<u8>> {
        let mut out = vec![Vec::new()];
        let mut layer = vec![Vec::new()];
        for _ in 0..n {
            let mut next = Vec::new();
            for s in &layer {
                for &b in alphabet {
                    let mut t: Vec<u8> = s.clone();
                    t.push(b);
                    next.push(t);
                }
            }
            out.extend(next.iter().cloned());
            layer = next;
        }
        out
    }

    #[test]
    fn trie_dfa_accepts_exactly_the_literals() {
        let set = lits(&["a", "ab", "abc", "b", "ba", "ca", "abc", "\"x\""]);
        let raw = from_literals(&set, 1000).unwrap();
        for s in all_strings(b"abc\"x", 4) {
            assert_eq!(
                raw.run(&s),
                set.contains(&s),
                "{:?}",
                String::from_utf8_lossy(&s)
            );
        }
        // Shared final state: a, ab, abc are prefixes of others; b..ca end in one state.
        assert!(raw.len() < 1 + 1 + 1 + 8);
    }

    #[test]
    fn trie_dfa_respects_the_state_limit() {
        let set = lits(&["abcdefgh", "ijklmnop"]);
        assert!(matches!(
            from_literals(&set, 6),
            Err(CompileError::LimitExceeded { .. })
        ));
        assert!(from_literals(&set, 100).is_ok());
    }

    #[test]
    fn trie_dfa_equals_the_determinized_alternation() {
        let words: Vec<String> = (0..60).map(|i| format!("\"w{}{}\"", i % 7, i)).collect();
        let set: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let trie = from_literals(&set, 10_000).unwrap();
        let alt = Hir::alternation(set.iter().map(|l| Hir::literal(l.clone())).collect());
        let det = from_hir(&alt, 10_000, 1 << 20).unwrap();
        for s in all_strings(b"\"w0123456", 4)
            .into_iter()
            .chain(set.iter().cloned())
        {
            assert_eq!(trie.run(&s), det.run(&s));
        }
    }

    #[test]
    fn counted_dfa_counts_characters() {
        // One "character": `a`, or the two-byte `\n` escape.
        let unit = from_literals(&lits(&["a", "\\n"]), 100).unwrap();
        for (min, max) in [
            (0, Some(0)),
            (0, Some(3)),
            (2, Some(4)),
            (3, None),
            (0, None),
        ] {
            let raw = counted_raw(&unit, min, max, 10_000).unwrap();
            for s in all_strings(b"a\\n\"", 7) {
                let inner = s.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\""));
                let count = inner.and_then(|i| {
                    let mut n = 0u32;
                    let mut k = 0;
                    while k < i.len() {
                        match &i[k..] {
                            [b'a', ..] => k += 1,
                            [b'\\', b'n', ..] => k += 2,
                            _ => return None,
                        }
                        n += 1;
                    }
                    Some(n)
                });
                let want = count.is_some_and(|n| n >= min && max.is_none_or(|m| n <= m));
                assert_eq!(
                    raw.run(&s),
                    want,
                    "{min} {max:?} {}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
    }

    #[test]
    fn product_respects_required_components() {
        let a = from_literals(&lits(&["ab", "ac", "b"]), 100).unwrap();
        let b = from_literals(&lits(&["ab", "b", "bb"]), 100).unwrap();
        let inter = product(&[&a, &b], &|x| x[0] && x[1], 2, 100).unwrap();
        let diff = product(&[&a, &b], &|x| x[0] && !x[1], 1, 100).unwrap();
        let union = product(&[&a, &b], &|x| x[0] || x[1], 0, 100).unwrap();
        for s in all_strings(b"abc", 3) {
            assert_eq!(inter.run(&s), a.run(&s) && b.run(&s));
            assert_eq!(diff.run(&s), a.run(&s) && !b.run(&s));
            assert_eq!(union.run(&s), a.run(&s) || b.run(&s));
        }
    }

    #[test]
    fn splicing_a_lexeme_keeps_the_language() {
        // Rule 0: `[` call(1) `]`; rule 1: the literals "x" | "yz" (prefix-free).
        let root = Hir::concat(vec![
            Hir::literal(b"[".to_vec()),
            Hir::literal(vec![MARKER, 0, 1]),
            Hir::literal(b"]".to_vec()),
        ]);
        let mut raws = vec![
            from_hir(&root, 1000, 1 << 20).unwrap(),
            from_literals(&lits(&["x", "yz"]), 100).unwrap(),
        ];
        assert!(raws[0].calls.iter().any(|c| !c.is_empty()));
        inline_calls(&mut raws, &[false, true], 1000);
        assert!(raws[0].calls.iter().all(|c| c.is_empty()));
        assert_eq!(raws[1].start, 0, "the lexeme is no longer called");
        for s in all_strings(b"[]xyz", 5) {
            let want = s == b"[x]" || s == b"[yz]";
            assert_eq!(raws[0].run(&s), want, "{}", String::from_utf8_lossy(&s));
        }
    }

    #[test]
    fn object_dfa_accepts_ordered_member_subsets() {
        // Members "a" (required), "ab", "b" (optional), "c" (required), "d" (optional);
        // values are rules 1..=5 spliced in as the literals 1..=5.
        let names = ["a", "ab", "b", "c", "d"];
        let req = [true, false, false, true, false];
        let members: Vec<(Vec<u8>, u32, bool)> = names
            .iter()
            .zip(req)
            .enumerate()
            .map(|(i, (n, r))| (format!("\"{n}\":").into_bytes(), i as u32 + 1, r))
            .collect();
        let mut obj = object_raw(&members, 1000).unwrap();
        let values: Vec<Raw> = (0..=5)
            .map(|i| from_literals(&[i.to_string().into_bytes()], 10).unwrap())
            .collect();
        splice_calls(&mut obj, &|k| values.get(k).filter(|_| k > 0), 1000);
        assert!(obj.calls.iter().all(|c| c.is_empty()));
        for mask in 0u32..32 {
            let picked: Vec<usize> = (0..5).filter(|i| mask & (1 << i) != 0).collect();
            let doc = format!(
                "{{{}}}",
                picked
                    .iter()
                    .map(|&i| format!("\"{}\":{}", names[i], i + 1))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let want = req
                .iter()
                .enumerate()
                .all(|(i, &r)| !r || picked.contains(&i));
            assert_eq!(obj.run(doc.as_bytes()), want, "{doc}");
        }
        for bad in [
            r#"{"c":4,"a":1}"#,
            r#"{"a":1,"c":4,"c":4}"#,
            r#"{"a":2,"c":4}"#,
            r#"{"a":1,,"c":4}"#,
            r#"{,"a":1,"c":4}"#,
            r#"{"a":1,"c":4,}"#,
            r#"{"a":1 ,"c":4}"#,
        ] {
            assert!(!obj.run(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn a_lexeme_that_is_not_prefix_free_stays_a_call() {
        let root = Hir::concat(vec![
            Hir::literal(vec![MARKER, 0, 1]),
            Hir::literal(b";".to_vec()),
        ]);
        let mut raws = vec![
            from_hir(&root, 1000, 1 << 20).unwrap(),
            from_literals(&lits(&["a", "ab"]), 100).unwrap(),
        ];
        inline_calls(&mut raws, &[false, true], 1000);
        assert!(raws[0].calls.iter().any(|c| !c.is_empty()));
        assert_ne!(raws[1].start, 0);
    }

    /// Whether `a` and `b` accept the same language (their symmetric difference is empty).
    fn same_language(a: &Raw, b: &Raw) -> bool {
        product(&[a, b], &|x| x[0] != x[1], 0, 1 << 20)
            .unwrap()
            .is_empty_language()
    }

    fn host_regex(local_part: bool, labels: u32, label_len: u32) -> Raw {
        let label = format!(
            "[A-Za-z0-9](?:[A-Za-z0-9-]{{0,{}}}[A-Za-z0-9])?",
            label_len - 2
        );
        let host = format!("{label}(?:\\.{label}){{0,{}}}", labels - 1);
        let atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
        let re = if local_part {
            format!("\"{atext}(?:\\.{atext})*@{host}\"")
        } else {
            format!("\"{host}\"")
        };
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .build()
            .parse(&re)
            .unwrap();
        from_hir(&hir, 100_000, 1 << 26).unwrap()
    }

    #[test]
    fn host_dfa_equals_the_format_regex() {
        use crate::formats::{format_regex, HOST_LABELS, HOST_LABEL_LEN};
        for local_part in [false, true] {
            let direct = host_raw(local_part, HOST_LABELS, HOST_LABEL_LEN);
            let det = host_regex(local_part, HOST_LABELS, HOST_LABEL_LEN);
            assert!(same_language(&direct, &det), "local part {local_part}");
            // The format module's regex is the one the direct DFA stands in for.
            let name = if local_part { "email" } else { "hostname" };
            let hir = regex_syntax::ParserBuilder::new()
                .unicode(false)
                .build()
                .parse(&format!("\"(?:{})\"", format_regex(name).unwrap()))
                .unwrap();
            let fmt = from_hir(&hir, 100_000, 1 << 26).unwrap();
            assert!(same_language(&direct, &fmt), "{name}");
            assert!(spliceable(&{
                let mut d = direct.clone();
                trim(&mut d, &|_| true);
                d
            }));
        }
        // Small parameters, every short string over a covering alphabet.
        for local_part in [false, true] {
            let direct = host_raw(local_part, 2, 3);
            let det = host_regex(local_part, 2, 3);
            for s in all_strings(b"\"a-.@!", 7) {
                assert_eq!(
                    direct.run(&s),
                    det.run(&s),
                    "{}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
        let d = host_raw(true, HOST_LABELS, HOST_LABEL_LEN);
        for (s, ok) in [
            (&b"\"joe.bloggs@example.com\""[..], true),
            (b"\"a@b\"", true),
            (b"\"a..b@c.d\"", false),
            (b"\"a@-b.c\"", false),
            (b"\"a@b-.c\"", false),
            (b"\"a@b--c.d\"", true),
            (b"\"@b.c\"", false),
        ] {
            assert_eq!(d.run(s), ok, "{}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn first_branch_skips_the_forced_prefix() {
        let raw = from_literals(&lits(&["\"ab\"", "\"ac\""]), 100).unwrap();
        let mut s = raw.start;
        for &b in b"\"a" {
            s = raw.next(s, b);
        }
        assert_eq!(first_branch(&raw), s);
        let raw = from_literals(&lits(&["x", "y"]), 100).unwrap();
        assert_eq!(first_branch(&raw), raw.start);
    }

    #[test]
    fn splicing_keeps_hot_states() {
        // Rule 0: `[` call(1) `]`; rule 1: a literal set whose first branch is hot.
        let root = Hir::concat(vec![
            Hir::literal(b"[".to_vec()),
            Hir::literal(vec![MARKER, 0, 1]),
            Hir::literal(b"]".to_vec()),
        ]);
        let mut set = from_literals(&lits(&["\"ab\"", "\"ac\""]), 100).unwrap();
        set.hot = vec![first_branch(&set)];
        let mut raws = vec![from_hir(&root, 1000, 1 << 20).unwrap(), set];
        inline_calls(&mut raws, &[false, true], 1000);
        assert!(raws[0].calls.iter().all(|c| c.is_empty()));
        let mut s = raws[0].start;
        for &b in b"[\"a" {
            s = raws[0].next(s, b);
        }
        assert_eq!(raws[0].hot, vec![s]);
    }

    #[test]
    fn finite_regexes_are_built_as_tries() {
        let parse = |re: &str| {
            regex_syntax::ParserBuilder::new()
                .build()
                .parse(re)
                .unwrap()
        };
        for re in [
            "true|false",
            "\"(?:new|paid|é|日本)\"",
            "a(?:bc|cd)d",
            "x[y]{3}(?:ab|a)",
            "(?:ab|a)(?:|c)",
        ] {
            let hir = parse(re);
            assert!(finite_literals(&hir, MAX_DIRECT_LITERALS).is_some(), "{re}");
            let direct = from_hir(&hir, 10_000, 1 << 20).unwrap();
            let det = build_from_hir(&hir, 10_000, 1 << 20).unwrap();
            assert!(same_language(&direct, &det), "{re}");
        }
        for re in [
            "a*",
            "[A-Z]",
            "(?:)",
            "[^a]",
            "a{0,2}",
            "(?:a|b){2}",
            "^a",
            "\\b",
        ] {
            assert!(
                finite_literals(&parse(re), MAX_DIRECT_LITERALS).is_none(),
                "{re}"
            );
        }
        // Call markers become call edges, as the determinizer makes them.
        let call = |k: u8| Hir::literal(vec![MARKER, 0, k]);
        let hir = Hir::alternation(vec![
            call(4),
            Hir::concat(vec![
                Hir::literal(b"[".to_vec()),
                call(5),
                Hir::literal(b"]".to_vec()),
            ]),
            Hir::literal(b"null".to_vec()),
        ]);
        assert!(finite_literals(&hir, MAX_DIRECT_LITERALS).is_some());
        let cut = Hir::literal(vec![MARKER, 0]);
        assert!(finite_literals(&cut, MAX_DIRECT_LITERALS).is_none());
        for mut raw in [
            from_hir(&hir, 100, 1 << 20).unwrap(),
            build_from_hir(&hir, 100, 1 << 20).unwrap(),
        ] {
            trim(&mut raw, &|_| true);
            let s = raw.start;
            let calls = &raw.calls[s as usize];
            assert_eq!(calls.len(), 1);
            let (k, ret) = calls[0];
            assert_eq!(k, 4);
            assert!(raw.accept[ret as usize] && raw.row(ret).iter().all(|&t| t == 0));
            assert!(raw.run(b"null") && !raw.run(b"nul") && !raw.run(b"[]"));
            let open = raw.next(s, b'[');
            let &[(5, after)] = raw.calls[open as usize].as_slice() else {
                panic!("no call of rule 5 after `[`");
            };
            assert!(raw.accept[raw.next(after, b']') as usize]);
        }
    }

    #[test]
    fn trim_keeps_exactly_the_coaccessible_states() {
        // States numbered against the sweep direction: `b` steps from state s to s - 1
        // (down to the accepting state 1), `a` from every state to the dead-end state 12.
        // The sweeps do not settle this chain, so the reverse-edge pass finishes it.
        let (cls, _) = renumber(&{
            let mut k = [2u8; 256];
            k[b'a' as usize] = 0;
            k[b'b' as usize] = 1;
            k
        });
        let mut raw = Raw::empty(cls, 3);
        for _ in 1..=12 {
            raw.push_state();
        }
        raw.accept[1] = true;
        let (ca, cb) = (cls[b'a' as usize] as usize, cls[b'b' as usize] as usize);
        for s in 2..=11usize {
            raw.trans[s * 3 + cb] = s as u32 - 1;
            raw.trans[s * 3 + ca] = 12;
        }
        raw.start = 11;
        raw.hot = vec![12, 5];
        assert!(trim(&mut raw, &|_| true));
        assert!(raw.run(b"bbbbbbbbbb"));
        assert!(!raw.run(b"bbbbbbbbb"));
        assert_eq!(raw.next(11, b'a'), 0);
        assert_eq!(raw.next(11, b'b'), 10);
        assert_eq!(raw.hot, vec![5]);
        // Forward numbering settles in one sweep; a dead start is reported.
        let mut lit = from_literals(&lits(&["ab", "c"]), 100).unwrap();
        assert!(trim(&mut lit, &|_| true));
        assert!(lit.run(b"ab") && lit.run(b"c") && !lit.run(b"a"));
        let mut none = Raw::empty(cls, 3);
        none.start = none.push_state();
        assert!(!trim(&mut none, &|_| true));
    }

    #[test]
    fn fixed_length_regexes_are_built_as_chains() {
        let parse = |re: &str| {
            regex_syntax::ParserBuilder::new()
                .build()
                .parse(re)
                .unwrap()
        };
        for re in [
            "\"[A-Z]{3}\"",
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}",
            "(?:x[0-9]{16}y){2}",
            "a|b",
            "[ -~]\\.",
        ] {
            let hir = parse(re);
            assert!(byte_sequence(&hir).is_some(), "{re}");
            let direct = from_hir(&hir, 10_000, 1 << 20).unwrap();
            let det = build_from_hir(&hir, 10_000, 1 << 20).unwrap();
            assert!(same_language(&direct, &det), "{re}");
        }
        for re in [
            "[A-Z]+",
            "é",
            "ab|cd",
            "a?",
            "[^a]",
            "a{0,2}",
            "(?:a{65}){2}",
        ] {
            assert!(byte_sequence(&parse(re)).is_none(), "{re}");
        }
        let d = from_hir(&parse("\"[A-Z]{2}\""), 100, 1 << 20).unwrap();
        assert!(d.run(b"\"AB\"") && !d.run(b"\"A\"") && !d.run(b"\"ABC\"") && !d.run(b"\"aB\""));
    }
}
