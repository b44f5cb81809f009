//! Parse configurations (sets of rule-call stacks), token trie, cached masks, matcher.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::dfa::{FxMap, FIRST_INVALID};
use crate::{Grammar, Vocabulary};

/// One rule activation: (rule, DFA state).
pub(crate) type Frame = (u32, u32);
type Stack = Vec<Frame>;

/// Reusable buffers.
#[derive(Default)]
pub(crate) struct Scratch {
    closed: Vec<Stack>,
    next: Vec<Stack>,
}

/// A parse configuration: the set of live stacks *before* epsilon moves (calls, returns).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct Config {
    stacks: Vec<Stack>,
}

fn close_into(g: &Grammar, st: &mut Stack, out: &mut Vec<Stack>, limit: usize) {
    if out.len() >= limit || out.contains(st) {
        return;
    }
    out.push(st.clone());
    let Some(&(r, s)) = st.last() else { return };
    let rule = &g.rules[r as usize];
    if st.len() < g.max_depth {
        for &(k, ret) in rule.calls(s) {
            let ks = g.rules[k as usize].start;
            if ks == 0 {
                continue;
            }
            let n = st.len();
            st[n - 1].1 = ret;
            st.push((k, ks));
            close_into(g, st, out, limit);
            st.pop();
            st[n - 1].1 = s;
        }
    }
    if rule.is_accept(s) && st.len() > 1 {
        let top = st.pop();
        close_into(g, st, out, limit);
        if let Some(t) = top {
            st.push(t);
        }
    }
}

impl Config {
    pub(crate) fn start(g: &Grammar) -> Config {
        let s = g.rules[0].start;
        Config {
            stacks: if s == 0 { vec![] } else { vec![vec![(0, s)]] },
        }
    }

    fn closure(&self, g: &Grammar, out: &mut Vec<Stack>) {
        out.clear();
        for st in &self.stacks {
            let mut st = st.clone();
            close_into(g, &mut st, out, g.max_stacks);
        }
    }

    /// Consumes one byte; false (and the configuration unchanged) if it is rejected.
    pub(crate) fn step(&mut self, g: &Grammar, b: u8, sc: &mut Scratch) -> bool {
        if b as usize >= FIRST_INVALID {
            return false;
        }
        // Fast path: one stack whose top frame moves directly.
        if self.stacks.len() == 1 {
            let st = &mut self.stacks[0];
            if let Some(&(r, s)) = st.last() {
                let rule = &g.rules[r as usize];
                if rule.calls(s).is_empty() && (st.len() == 1 || !rule.is_accept(s)) {
                    let t = rule.next(s, b);
                    if t == 0 {
                        return false;
                    }
                    let n = st.len();
                    st[n - 1].1 = t;
                    return true;
                }
            }
        }
        self.closure(g, &mut sc.closed);
        sc.next.clear();
        for st in sc.closed.iter_mut() {
            let Some(&(r, s)) = st.last() else { continue };
            let t = g.rules[r as usize].next(s, b);
            if t != 0 {
                let n = st.len();
                st[n - 1].1 = t;
                if !sc.next.contains(st) && sc.next.len() < g.max_stacks {
                    sc.next.push(st.clone());
                }
            }
        }
        if sc.next.is_empty() {
            return false;
        }
        std::mem::swap(&mut self.stacks, &mut sc.next);
        true
    }

    pub(crate) fn is_accepting(&self, g: &Grammar) -> bool {
        let mut out = Vec::new();
        self.closure(g, &mut out);
        out.iter()
            .any(|st| st.len() == 1 && g.rules[st[0].0 as usize].is_accept(st[0].1))
    }
}

/// A bitset over the vocabulary (32-bit words, bit `t % 32` of word `t / 32`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMask {
    words: Vec<u32>,
    len: usize,
}

impl TokenMask {
    /// An all-zero mask for `vocab_len` tokens.
    pub fn new(vocab_len: usize) -> Self {
        TokenMask {
            words: vec![0; vocab_len.div_ceil(32)],
            len: vocab_len,
        }
    }
    /// Whether token `t` is allowed (false when out of range).
    pub fn is_allowed(&self, t: u32) -> bool {
        (t as usize) < self.len && self.words[t as usize / 32] & (1 << (t % 32)) != 0
    }
    /// Number of allowed tokens.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
    /// The raw words.
    pub fn words(&self) -> &[u32] {
        &self.words
    }
    /// Disallows every token.
    pub fn clear(&mut self) {
        self.words.fill(0);
    }
    /// Allows token `t` (ignored when out of range).
    pub fn allow(&mut self, t: u32) {
        if (t as usize) < self.len {
            self.words[t as usize / 32] |= 1 << (t % 32);
        }
    }
    /// Number of tokens the mask covers.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True for a zero-length mask.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Vocabulary-derived search structures, built once per vocabulary (lazily) and shared by
/// every [`TokenizedGrammar`] using it.
#[derive(Debug)]
pub(crate) struct VocabIndex {
    trie: Trie,
    /// Token classes decided in bulk when a DFA state treats the whole class uniformly
    /// (largest class first; the first that fits a state is used).
    slices: Vec<Slice>,
}

/// Which bytes make up a slice's tokens.
#[derive(Debug, Clone, Copy)]
enum SliceClass {
    /// Complete UTF-8 characters allowed raw in a JSON string (no `"`, `\`, control).
    StringSafe,
    /// ASCII letters and digits.
    AlphaNum,
    /// ASCII lowercase letters and digits.
    LowerNum,
}

impl SliceClass {
    fn ascii(self, b: u8) -> bool {
        match self {
            SliceClass::StringSafe => (0x20..0x80).contains(&b) && b != b'"' && b != b'\\',
            SliceClass::AlphaNum => b.is_ascii_alphanumeric(),
            SliceClass::LowerNum => b.is_ascii_lowercase() || b.is_ascii_digit(),
        }
    }

    /// Length in characters when every character of `b` is in the class.
    fn member_len(self, b: &[u8]) -> Option<usize> {
        match self {
            SliceClass::StringSafe => std::str::from_utf8(b)
                .ok()
                .filter(|s| s.chars().all(|c| c >= ' ' && c != '"' && c != '\\'))
                .map(|s| s.chars().count()),
            _ => b.iter().all(|&x| self.ascii(x)).then_some(b.len()),
        }
    }
}

/// Length caps up to which [`Slice::up_to`] is built with the vocabulary index.
const PRECOMPUTED_SLICE_LENGTHS: usize = 48;

/// A precomputed token class ("slice"): its members as a bitset, and a trie of every other
/// token, walked when the members are added in bulk.
#[derive(Debug)]
struct Slice {
    class: SliceClass,
    /// Non-EOS, non-empty tokens made only of class characters.
    members: Vec<u32>,
    /// The tokens that are not members.
    rest_trie: Trie,
    /// Longest member, in characters.
    max_chars: usize,
    /// Character count of each member (0 for others).
    char_len: Vec<u16>,
    /// Lazily built: members of at most `r` characters.
    by_len: std::sync::Mutex<HashMap<usize, Arc<Vec<u32>>>>,
}

impl Slice {
    fn new(vocab: &Vocabulary, all: &[u32], class: SliceClass) -> Slice {
        let mut members = vec![0u32; vocab.len().div_ceil(32)];
        let mut max_chars = 0;
        let mut char_len = vec![0u16; vocab.len()];
        for t in 0..vocab.len() as u32 {
            if let Some(b) = vocab.token_bytes(t) {
                if vocab.is_eos(t) || b.is_empty() {
                    continue;
                }
                if let Some(n) = class.member_len(b) {
                    members[t as usize / 32] |= 1 << (t % 32);
                    char_len[t as usize] = n.min(u16::MAX as usize) as u16;
                    max_chars = max_chars.max(n);
                }
            }
        }
        let rest_trie = Trie::new(vocab, all, &|b| class.member_len(b).is_none(), false);
        // The short length caps (counted strings, `maxLength`) are precomputed so that no
        // mask pays for a pass over the vocabulary.
        let cap = max_chars.min(PRECOMPUTED_SLICE_LENGTHS);
        let mut by_len_lists = vec![Vec::new(); cap + 1];
        for (t, &n) in char_len.iter().enumerate() {
            if n > 0 && n as usize <= cap {
                by_len_lists[n as usize].push(t as u32);
            }
        }
        let mut by_len = HashMap::new();
        let mut cur = vec![0u32; members.len()];
        for (r, toks) in by_len_lists.iter().enumerate() {
            for &t in toks {
                cur[t as usize / 32] |= 1 << (t % 32);
            }
            by_len.insert(r, Arc::new(cur.clone()));
        }
        Slice {
            class,
            members,
            rest_trie,
            max_chars,
            char_len,
            by_len: std::sync::Mutex::new(by_len),
        }
    }

    /// Members of at most `r` characters.
    fn up_to(&self, r: usize) -> Arc<Vec<u32>> {
        if let Ok(c) = self.by_len.lock() {
            if let Some(s) = c.get(&r) {
                return Arc::clone(s);
            }
        }
        let mut bits = vec![0u32; self.members.len()];
        for (t, &n) in self.char_len.iter().enumerate() {
            if n > 0 && n as usize <= r {
                bits[t / 32] |= 1 << (t % 32);
            }
        }
        let bits = Arc::new(bits);
        if let Ok(mut c) = self.by_len.lock() {
            c.insert(r, Arc::clone(&bits));
        }
        bits
    }
}

impl VocabIndex {
    pub(crate) fn new(vocab: &Vocabulary) -> VocabIndex {
        let all = Trie::sorted_tokens(vocab);
        VocabIndex {
            trie: Trie::new(vocab, &all, &|_| true, true),
            slices: [
                SliceClass::StringSafe,
                SliceClass::AlphaNum,
                SliceClass::LowerNum,
            ]
            .into_iter()
            .map(|c| Slice::new(vocab, &all, c))
            .collect(),
        }
    }
}

/// Flat token trie in depth-first order.
#[derive(Debug)]
struct Trie {
    /// Token ids sorted by bytes.
    sorted: Vec<u32>,
    nodes: Vec<Node>,
    /// The depth-1 nodes, contiguous: (first byte, node index, subtree end). Lets a walk
    /// skip rejected first bytes without touching the (cache-cold) nodes themselves.
    roots: Vec<(u8, u32, u32)>,
    /// Children of every node, contiguous (empty when not built): node `i`'s children are
    /// `kid_bytes[kid_off[i]..kid_off[i + 1]]` (ascending) at node indices `kid_idx[..]`. A
    /// walk skips a run of rejected siblings by scanning these bytes instead of visiting
    /// the siblings' nodes, which lie far apart in memory.
    kid_off: Vec<u32>,
    kid_bytes: Vec<u8>,
    kid_idx: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    byte: u8,
    depth: u32,
    /// Index one past this node's subtree.
    end: u32,
    /// Tokens ending exactly here: `sorted[tok_start..tok_end]`.
    tok_start: u32,
    tok_end: u32,
}

impl Trie {
    /// Every non-EOS, non-empty token, sorted by bytes (the order every trie is built from).
    fn sorted_tokens(vocab: &Vocabulary) -> Vec<u32> {
        let mut sorted: Vec<u32> = (0..vocab.len() as u32)
            .filter(|&t| !vocab.is_eos(t) && vocab.token_bytes(t).is_some_and(|b| !b.is_empty()))
            .collect();
        sorted.sort_unstable_by(|&a, &b| vocab.token_bytes(a).cmp(&vocab.token_bytes(b)));
        sorted
    }

    /// The trie of the tokens of `all` (from [`Trie::sorted_tokens`]) whose bytes pass `keep`;
    /// `with_kids`: also build the contiguous child lists.
    fn new(vocab: &Vocabulary, all: &[u32], keep: &dyn Fn(&[u8]) -> bool, with_kids: bool) -> Trie {
        let sorted: Vec<u32> = all
            .iter()
            .copied()
            .filter(|&t| vocab.token_bytes(t).is_some_and(keep))
            .collect();
        let bytes: Vec<&[u8]> = sorted
            .iter()
            .map(|&t| vocab.token_bytes(t).unwrap_or(&[]))
            .collect();
        let mut nodes = Vec::new();
        // Iterative DFS over sorted ranges.
        struct Job {
            lo: usize,
            hi: usize,
            depth: usize,
            parent: Option<usize>,
        }
        let mut jobs = vec![Job {
            lo: 0,
            hi: bytes.len(),
            depth: 0,
            parent: None,
        }];
        let mut pending_end: Vec<(usize, usize)> = Vec::new(); // (node index, jobs.len() when pushed)
        while let Some(job) = jobs.pop() {
            // close nodes whose subtree jobs are finished
            let _ = job.parent;
            let mut i = job.lo;
            while i < job.hi && bytes[i].len() == job.depth {
                i += 1;
            }
            // children in reverse so that they are processed in order
            let mut children = Vec::new();
            while i < job.hi {
                let b = bytes[i][job.depth];
                let mut j = i;
                while j < job.hi && bytes[j][job.depth] == b {
                    j += 1;
                }
                children.push((i, j, b));
                i = j;
            }
            for &(lo, hi, _) in children.iter().rev() {
                jobs.push(Job {
                    lo,
                    hi,
                    depth: job.depth + 1,
                    parent: None,
                });
            }
            let _ = &mut pending_end;
            // Node for this job (except the root job).
            if job.depth > 0 {
                let b = bytes[job.lo][job.depth - 1];
                let mut k = job.lo;
                while k < job.hi && bytes[k].len() == job.depth {
                    k += 1;
                }
                nodes.push(Node {
                    byte: b,
                    depth: job.depth as u32,
                    end: 0,
                    tok_start: job.lo as u32,
                    tok_end: k as u32,
                });
            }
        }
        // Subtree ends: a node's subtree runs until the next node with depth <= its depth.
        let n = nodes.len();
        let mut stack: Vec<usize> = Vec::new();
        for i in 0..n {
            while let Some(&top) = stack.last() {
                if nodes[top].depth >= nodes[i].depth {
                    nodes[top].end = i as u32;
                    stack.pop();
                } else {
                    break;
                }
            }
            stack.push(i);
        }
        for top in stack {
            nodes[top].end = n as u32;
        }
        let roots = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.depth == 1)
            .map(|(i, n)| (n.byte, i as u32, n.end))
            .collect();
        let (mut kid_off, mut kid_bytes, mut kid_idx) = (Vec::new(), Vec::new(), Vec::new());
        if with_kids {
            kid_off.reserve(n + 1);
            kid_bytes.reserve(n);
            kid_idx.reserve(n);
            for i in 0..n {
                kid_off.push(kid_idx.len() as u32);
                let mut c = i + 1;
                while c < nodes[i].end as usize {
                    kid_bytes.push(nodes[c].byte);
                    kid_idx.push(c as u32);
                    c = nodes[c].end as usize;
                }
            }
            kid_off.push(kid_idx.len() as u32);
        }
        Trie {
            sorted,
            nodes,
            roots,
            kid_off,
            kid_bytes,
            kid_idx,
        }
    }

    /// The first sibling after child `i` of node `parent` whose byte passes `ok`, or the end
    /// of `parent`'s subtree. Needs the child lists.
    #[inline]
    fn next_sibling(&self, parent: usize, i: usize, ok: impl Fn(u8) -> bool) -> usize {
        let (lo, hi) = (
            self.kid_off[parent] as usize,
            self.kid_off[parent + 1] as usize,
        );
        let bytes = &self.kid_bytes[lo..hi];
        let at = bytes.partition_point(|&b| b <= self.nodes[i].byte);
        match bytes[at..].iter().position(|&b| ok(b)) {
            Some(k) => self.kid_idx[lo + at + k] as usize,
            None => self.nodes[parent].end as usize,
        }
    }
}

/// How the plain-string slice applies from a DFA state.
enum SliceFit {
    /// Every string of up to `slice_chars` plain characters is consumable.
    Full,
    /// Every string of up to `r` plain characters is consumable and none longer.
    Exact(usize),
    /// Not uniform: walk the whole trie.
    No,
}

/// Explores the states reached by class characters (checked along the UTF-8 byte structure
/// for [`SliceClass::StringSafe`], level by level) to see whether a whole slice of tokens can
/// be decided at once.
fn slice_fit(
    t: &crate::dfa::Table,
    s: u32,
    class: SliceClass,
    max_chars: usize,
    poppable: bool,
) -> SliceFit {
    /// The state reached from `from` by any byte sequence of `ranges`: `Some(Some(y))` when
    /// unique and live, `Some(None)` when the first byte is always rejected, else `None`.
    fn seq(t: &crate::dfa::Table, from: u32, ranges: &[(u8, u8)]) -> Option<Option<u32>> {
        let Some((&(lo, hi), rest)) = ranges.split_first() else {
            return Some(Some(from));
        };
        let x = t.next(from, lo);
        if (lo..=hi).any(|b| t.next(from, b) != x) {
            return None;
        }
        if x == 0 {
            return Some(None);
        }
        match seq(t, x, rest) {
            Some(Some(y)) => Some(Some(y)),
            _ => None,
        }
    }
    const C: (u8, u8) = (0x80, 0xBF);
    const GROUPS: [&[(u8, u8)]; 8] = [
        &[(0xC2, 0xDF), C],
        &[(0xE0, 0xE0), (0xA0, 0xBF), C],
        &[(0xE1, 0xEC), C, C],
        &[(0xED, 0xED), (0x80, 0x9F), C],
        &[(0xEE, 0xEF), C, C],
        &[(0xF0, 0xF0), (0x90, 0xBF), C, C],
        &[(0xF1, 0xF3), C, C, C],
        &[(0xF4, 0xF4), (0x80, 0x8F), C, C],
    ];
    if s == 0 {
        return SliceFit::No;
    }
    // Frontier = every state reachable by exactly `level` plain characters.
    let mut frontier = vec![s];
    for level in 0..=max_chars {
        let mut next: Vec<u32> = Vec::new();
        let (mut open, mut closed) = (0usize, 0usize);
        for &x in &frontier {
            // A return to the caller inside a token would make it context-dependent.
            if poppable && level > 0 && t.is_accept(x) {
                return SliceFit::No;
            }
            let mut live = 0usize;
            let mut dead = 0usize;
            for b in 0x20u8..0x80 {
                if !class.ascii(b) {
                    continue;
                }
                let y = t.next(x, b);
                if y == 0 {
                    dead += 1;
                } else {
                    live += 1;
                    if !next.contains(&y) {
                        next.push(y);
                    }
                }
                if live > 0 && dead > 0 {
                    return SliceFit::No; // the class is split: decided below anyway
                }
            }
            let groups: &[&[(u8, u8)]] = match class {
                SliceClass::StringSafe => &GROUPS,
                _ => &[],
            };
            for &g in groups {
                match seq(t, x, g) {
                    None => return SliceFit::No,
                    Some(None) => dead += 1,
                    Some(Some(y)) => {
                        live += 1;
                        if !next.contains(&y) {
                            next.push(y);
                        }
                    }
                }
            }
            match (live, dead) {
                (_, 0) => open += 1,
                (0, _) => closed += 1,
                _ => return SliceFit::No,
            }
        }
        if closed > 0 {
            return if open == 0 {
                SliceFit::Exact(level)
            } else {
                SliceFit::No
            };
        }
        next.sort_unstable();
        let mut cur = frontier.clone();
        cur.sort_unstable();
        if level == max_chars || next == cur {
            return SliceFit::Full;
        }
        if next.len() > 64 {
            return SliceFit::No;
        }
        frontier = next;
    }
    SliceFit::Full
}

/// Allowed tokens, stored as a bitset or (when sparse) as a sorted id list.
#[derive(Debug)]
enum Set {
    Bits(Vec<u32>),
    List(Vec<u32>),
}

impl Set {
    fn bytes(&self) -> usize {
        match self {
            Set::Bits(b) | Set::List(b) => b.len() * 4,
        }
    }

    /// Reserves `n` bytes of the cache budget; false when it is exhausted.
    fn reserve(counter: &std::sync::atomic::AtomicUsize, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        let prev = counter.fetch_add(n, Ordering::Relaxed);
        if prev + n > MAX_CACHE_BYTES {
            counter.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// One pass: collects the ids while they stay sparse (fewer than half the words), and
    /// keeps the bitset as soon as they do not (no full popcount for dense sets).
    fn new(bits: Vec<u32>) -> Set {
        match sparse_ids(&bits) {
            Some(l) => Set::List(l),
            None => Set::Bits(bits),
        }
    }

    /// Like [`Set::new`] from a borrowed bitset (copied only when it stays a bitset).
    fn from_words(bits: &[u32]) -> Set {
        match sparse_ids(bits) {
            Some(l) => Set::List(l),
            None => Set::Bits(bits.to_vec()),
        }
    }

    fn or_into(&self, words: &mut [u32]) {
        match self {
            Set::Bits(b) => {
                for (w, &x) in words.iter_mut().zip(b) {
                    *w |= x;
                }
            }
            Set::List(l) => {
                for &t in l {
                    if let Some(w) = words.get_mut(t as usize / 32) {
                        *w |= 1 << (t % 32);
                    }
                }
            }
        }
    }
}

/// Allowed tokens collected by a trie walk: a sparse id list (each token is met at most
/// once) that turns into a bitset of `words` words once it is no longer sparse.
enum Acc {
    Bits(Vec<u32>),
    List(Vec<u32>, usize),
}

impl Acc {
    #[inline]
    fn add(&mut self, toks: &[u32]) {
        match self {
            Acc::Bits(b) => {
                for &t in toks {
                    b[t as usize / 32] |= 1 << (t % 32);
                }
            }
            Acc::List(l, words) => {
                l.extend_from_slice(toks);
                if l.len() >= *words / 2 {
                    let mut b = vec![0u32; *words];
                    for &t in l.iter() {
                        b[t as usize / 32] |= 1 << (t % 32);
                    }
                    *self = Acc::Bits(b);
                }
            }
        }
    }

    fn into_set(self) -> Set {
        match self {
            Acc::Bits(b) => Set::new(b),
            Acc::List(l, _) => Set::List(l),
        }
    }
}

/// The set bits of `bits` as ids, or `None` once they reach half the word count. Zero
/// runs are skipped 16 words at a time (a branch-free OR the compiler vectorizes).
fn sparse_ids(bits: &[u32]) -> Option<Vec<u32>> {
    const CHUNK: usize = 16;
    let limit = bits.len() / 2;
    let mut l = Vec::new();
    for (c, chunk) in bits.chunks(CHUNK).enumerate() {
        if chunk.iter().fold(0, |a, &w| a | w) == 0 {
            continue;
        }
        for (j, &w) in chunk.iter().enumerate() {
            if w == 0 {
                continue;
            }
            if l.len() + w.count_ones() as usize >= limit {
                return None;
            }
            let base = ((c * CHUNK + j) * 32) as u32;
            let mut w = w;
            while w != 0 {
                l.push(base + w.trailing_zeros());
                w &= w - 1;
            }
        }
    }
    Some(l)
}

/// Cached result for a top frame: tokens surely accepted, tokens needing the full stack.
#[derive(Debug)]
struct Entry {
    /// Shared with the configuration cache when it alone decides a mask.
    set: Arc<Set>,
    uncertain: Vec<u32>,
}

const MAX_CACHE_ENTRIES: usize = 8192;
/// Byte budget shared by both caches of one [`TokenizedGrammar`].
const MAX_CACHE_BYTES: usize = 64 << 20;
/// Above this many context-dependent tokens, a mask walks the trie with the real stack.
const MAX_UNCERTAIN: usize = 256;
const MAX_CONFIG_CACHE_ENTRIES: usize = 4096;
/// Configurations with at most this many frames in total get their full mask cached.
const MAX_CONFIG_FRAMES: usize = 16;

/// Grammar + vocabulary + shared per-state mask cache. Build once per (schema, vocabulary)
/// and share across requests via `Arc`.
pub struct TokenizedGrammar {
    grammar: Arc<Grammar>,
    vocab: Arc<Vocabulary>,
    index: Arc<VocabIndex>,
    cache: RwLock<FxMap<Frame, Arc<Entry>>>,
    config_cache: RwLock<FxMap<Config, Arc<Set>>>,
    cache_bytes: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for TokenizedGrammar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenizedGrammar")
            .field("grammar", &self.grammar)
            .field("vocab_len", &self.vocab.len())
            .finish()
    }
}

impl TokenizedGrammar {
    /// Pairs a grammar with a vocabulary (builds the token trie once per vocabulary), and
    /// computes the masks of the states where a large literal set (`enum`) starts, whose
    /// trie walk is the costliest of a typical schema, so no request pays for it.
    pub fn new(grammar: Arc<Grammar>, vocab: Arc<Vocabulary>) -> Self {
        let index = vocab.index();
        let tg = TokenizedGrammar {
            grammar,
            vocab,
            index,
            cache: RwLock::new(FxMap::default()),
            config_cache: RwLock::new(FxMap::default()),
            cache_bytes: std::sync::atomic::AtomicUsize::new(0),
        };
        for &frame in &tg.grammar.hot {
            tg.entry(frame);
        }
        tg
    }

    /// A fresh matcher for one request.
    pub fn matcher(self: &Arc<Self>) -> Matcher {
        Matcher {
            tg: Arc::clone(self),
            history: vec![(Config::start(&self.grammar), false)],
            scratch: Scratch::default(),
        }
    }

    /// The grammar.
    pub fn grammar(&self) -> &Arc<Grammar> {
        &self.grammar
    }

    /// The vocabulary.
    pub fn vocabulary(&self) -> &Arc<Vocabulary> {
        &self.vocab
    }

    fn entry(&self, top: Frame) -> Arc<Entry> {
        if let Ok(c) = self.cache.read() {
            if let Some(e) = c.get(&top) {
                return Arc::clone(e);
            }
        }
        let e = Arc::new(self.compute_entry(&[top], true));
        let size = e.set.bytes() + e.uncertain.len() * 4;
        if let Ok(mut c) = self.cache.write() {
            if c.len() < MAX_CACHE_ENTRIES && Set::reserve(&self.cache_bytes, size) {
                c.insert(top, Arc::clone(&e));
            }
        }
        e
    }

    /// Walks the trie from a stack consisting of `top` alone; a return below `top` after the
    /// first byte makes the token "uncertain" (decided later against the real stack).
    /// With `give_up`, the walk stops once more than [`MAX_UNCERTAIN`] tokens are uncertain
    /// (every mask from this top then walks with its real stack, so the rest of this walk
    /// would be wasted); the entry's set is then partial and only its length counts.
    fn compute_entry(&self, start: &[Frame], give_up: bool) -> Entry {
        let top = start[start.len() - 1];
        /// Local parse state after a trie prefix: one stack (`single`) or several.
        struct Level {
            /// Only the base frame, of rule `base_rule`, in DFA state `dfa` (hot path).
            dfa_only: bool,
            dfa: u32,
            is_single: bool,
            single: Stack,
            stacks: Vec<Stack>,
            opp: bool,
            /// The closure of this level's stacks, computed once for all its children.
            closed: Vec<Stack>,
            closed_ok: bool,
            /// The trie node this level stands for.
            node: u32,
        }
        let g = &*self.grammar;
        let poppable = start.len() > 1 || top.0 != 0;
        let table = &g.rules[top.0 as usize];
        let mut chosen = None;
        for sl in &self.index.slices {
            match slice_fit(table, top.1, sl.class, sl.max_chars, poppable) {
                SliceFit::Full => chosen = Some((&sl.rest_trie, Some(sl.members.clone()))),
                // No member fits: only the (smaller) rest trie is walked.
                SliceFit::Exact(0) => chosen = Some((&sl.rest_trie, None)),
                SliceFit::Exact(r) => chosen = Some((&sl.rest_trie, Some(sl.up_to(r).to_vec()))),
                SliceFit::No => continue,
            }
            break;
        }
        let words = self.vocab.len().div_ceil(32);
        let (trie, mut bits) = match chosen {
            Some((trie, Some(b))) => (trie, Acc::Bits(b)),
            Some((trie, None)) => (trie, Acc::List(Vec::new(), words)),
            None => (&self.index.trie, Acc::List(Vec::new(), words)),
        };
        let nodes = &trie.nodes;
        let sorted = &trie.sorted;
        let mut uncertain = Vec::new();
        let base_rule = top.0;
        let base_table = &g.rules[base_rule as usize];
        // `dfa_only` levels: the stack is `start` with only the top frame's DFA state moved.
        let below = &start[..start.len() - 1];
        let mut levels: Vec<Level> = vec![Level {
            dfa_only: true,
            dfa: top.1,
            is_single: true,
            single: start.to_vec(),
            stacks: Vec::new(),
            opp: false,
            closed: Vec::new(),
            closed_ok: false,
            node: 0,
        }];
        let mut tmp_stack: Stack = start.to_vec();
        // Subtrees to walk: when the start is a plain DFA state (no calls), only the first
        // bytes it accepts (a rejected first byte adds nothing and leaves nothing uncertain);
        // otherwise the whole trie.
        // With calls or returns at the start, the first bytes are those some stack of its
        // closure accepts (a rejected first byte adds nothing and leaves nothing uncertain).
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        if base_table.calls(top.1).is_empty() && (start.len() == 1 || !base_table.is_accept(top.1))
        {
            ranges.extend(
                trie.roots
                    .iter()
                    .filter(|&&(b, _, _)| base_table.next(top.1, b) != 0)
                    .map(|&(_, i, e)| (i, e)),
            );
        } else {
            let mut st = start.to_vec();
            let mut closed = Vec::new();
            close_into(g, &mut st, &mut closed, g.max_stacks);
            ranges.extend(
                trie.roots
                    .iter()
                    .filter(|&&(b, _, _)| {
                        closed.iter().any(|st| {
                            st.last()
                                .is_some_and(|&(r, s)| g.rules[r as usize].next(s, b) != 0)
                        })
                    })
                    .map(|&(_, i, e)| (i, e)),
            );
        }
        'walk: for &(from, to) in &ranges {
            let mut i = from as usize;
            while i < to as usize {
                if give_up && uncertain.len() > MAX_UNCERTAIN {
                    break 'walk;
                }
                let node = nodes[i];
                let d = node.depth as usize;
                if levels.len() <= d {
                    levels.push(Level {
                        dfa_only: false,
                        dfa: 0,
                        is_single: false,
                        single: Vec::new(),
                        stacks: Vec::new(),
                        opp: false,
                        closed: Vec::new(),
                        closed_ok: false,
                        node: 0,
                    });
                }
                let (head, tail) = levels.split_at_mut(d);
                let parent = &mut head[d - 1];
                let child = &mut tail[0];
                child.closed_ok = false;
                child.node = i as u32;
                let mut opp = parent.opp;
                if parent.dfa_only {
                    let s = parent.dfa;
                    // An accepting top frame may return to the frames below (a single-frame
                    // start only records that as "uncertain", from the second byte on).
                    if base_table.calls(s).is_empty()
                        && (!base_table.is_accept(s)
                            || (below.is_empty() && (d == 1 || base_rule == 0)))
                    {
                        let t = base_table.next(s, node.byte);
                        if t == 0 {
                            if opp {
                                for nd in &nodes[i..node.end as usize] {
                                    uncertain.extend_from_slice(
                                        &sorted[nd.tok_start as usize..nd.tok_end as usize],
                                    );
                                }
                                i = node.end as usize;
                                continue;
                            }
                            // Skip the rejected siblings that follow (same parent, same state)
                            // through the parent's contiguous child list.
                            i = if d >= 2 && !trie.kid_off.is_empty() {
                                let parent = parent.node as usize;
                                trie.next_sibling(parent, i, |b| base_table.next(s, b) != 0)
                            } else {
                                node.end as usize
                            };
                            continue;
                        }
                        child.dfa_only = true;
                        child.dfa = t;
                        child.opp = opp;
                        bits.add(&sorted[node.tok_start as usize..node.tok_end as usize]);
                        i += 1;
                        continue;
                    }
                }
                if parent.dfa_only {
                    let n = tmp_stack.len();
                    tmp_stack[n - 1] = (base_rule, parent.dfa);
                }
                let parent_single: &[Frame] = if parent.dfa_only {
                    &tmp_stack
                } else {
                    &parent.single
                };
                let parent_is_single = parent.dfa_only || parent.is_single;
                child.dfa_only = false;
                let alive;
                let fast = parent_is_single && {
                    let n = parent_single.len();
                    let (r, s) = parent_single[n - 1];
                    let rule = &g.rules[r as usize];
                    rule.calls(s).is_empty()
                        && (!rule.is_accept(s) || (n == 1 && (d == 1 || r == 0)))
                };
                if fast {
                    let n = parent_single.len();
                    let (r, s) = parent_single[n - 1];
                    let t = g.rules[r as usize].next(s, node.byte);
                    alive = t != 0;
                    if alive {
                        child.single.clear();
                        child.single.extend_from_slice(parent_single);
                        child.single[n - 1].1 = t;
                        child.is_single = true;
                    }
                } else {
                    if !parent.closed_ok {
                        let mut closed = std::mem::take(&mut parent.closed);
                        closed.clear();
                        if parent_is_single {
                            let mut st = parent_single.to_vec();
                            close_into(g, &mut st, &mut closed, g.max_stacks);
                        } else {
                            for st in &parent.stacks {
                                let mut st = st.clone();
                                close_into(g, &mut st, &mut closed, g.max_stacks);
                            }
                        }
                        parent.closed = closed;
                        parent.closed_ok = true;
                    }
                    let mut next: Vec<Stack> = std::mem::take(&mut child.stacks);
                    next.clear();
                    for st in &parent.closed {
                        if st.is_empty() {
                            continue;
                        }
                        let n = st.len();
                        let (r, s) = st[n - 1];
                        if n == 1 && d > 1 && r != 0 && g.rules[r as usize].is_accept(s) {
                            opp = true;
                        }
                        let t = g.rules[r as usize].next(s, node.byte);
                        if t != 0 {
                            let same = |x: &Stack| {
                                x.len() == n && x[..n - 1] == st[..n - 1] && x[n - 1] == (r, t)
                            };
                            if !next.iter().any(same) {
                                let mut ns = st.clone();
                                ns[n - 1].1 = t;
                                next.push(ns);
                            }
                        }
                    }
                    alive = !next.is_empty();
                    let nb = below.len();
                    if next.len() == 1
                        && next[0].len() == nb + 1
                        && next[0][..nb] == *below
                        && next[0][nb].0 == base_rule
                    {
                        child.dfa_only = true;
                        child.dfa = next[0][nb].1;
                        child.is_single = false;
                        next.clear();
                    } else if next.len() == 1 {
                        child.is_single = true;
                        child.single.clear();
                        child.single.extend_from_slice(&next[0]);
                        next.clear();
                    } else {
                        child.is_single = false;
                    }
                    child.stacks = next;
                }
                if !alive {
                    if opp {
                        for nd in &nodes[i..node.end as usize] {
                            uncertain.extend_from_slice(
                                &sorted[nd.tok_start as usize..nd.tok_end as usize],
                            );
                        }
                    }
                    i = node.end as usize;
                    continue;
                }
                child.opp = opp;
                bits.add(&sorted[node.tok_start as usize..node.tok_end as usize]);
                i += 1;
            }
        }
        if give_up && uncertain.len() > MAX_UNCERTAIN {
            // Only the length matters: keep the cached entry small.
            uncertain.truncate(MAX_UNCERTAIN + 1);
            return Entry {
                set: Arc::new(Set::List(Vec::new())),
                uncertain,
            };
        }
        Entry {
            set: Arc::new(bits.into_set()),
            uncertain,
        }
    }
}

/// Errors from [`Matcher`] operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// The token is not allowed at this point.
    #[error("token {token} is not allowed here")]
    TokenNotAllowed {
        /// Token id.
        token: u32,
    },
    /// Bytes passed to `consume_bytes` were rejected at `offset`.
    #[error("bytes rejected at offset {offset}")]
    BytesRejected {
        /// Offset of the first rejected byte.
        offset: usize,
    },
    /// The token id is outside the vocabulary.
    #[error("token id {token} is outside the vocabulary of {len} tokens")]
    UnknownToken {
        /// Token id.
        token: u32,
        /// Vocabulary size.
        len: usize,
    },
    /// `rollback` asked for more steps than were consumed.
    #[error("cannot roll back {requested} steps, only {available} consumed")]
    RollbackTooFar {
        /// Requested steps.
        requested: usize,
        /// Steps available.
        available: usize,
    },
    /// End of generation was already consumed.
    #[error("the matcher has already finished")]
    AlreadyFinished,
}

/// Per-request matcher. `Send`; cheap to create from a [`TokenizedGrammar`].
pub struct Matcher {
    tg: Arc<TokenizedGrammar>,
    /// Configuration after each consumed step, and whether EOS was consumed.
    history: Vec<(Config, bool)>,
    scratch: Scratch,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("steps", &(self.history.len() - 1))
            .finish()
    }
}

impl Matcher {
    fn cur(&self) -> &Config {
        &self.history[self.history.len() - 1].0
    }

    /// Fills `mask` with the tokens that may come next; EOS is allowed iff accepting.
    pub fn compute_mask(&mut self, mask: &mut TokenMask) {
        mask.clear();
        if self.history[self.history.len() - 1].1 {
            return;
        }
        let cur = &self.history[self.history.len() - 1].0;
        let cacheable = cur.stacks.iter().map(|s| s.len()).sum::<usize>() <= MAX_CONFIG_FRAMES;
        if cacheable {
            if let Ok(c) = self.tg.config_cache.read() {
                if let Some(set) = c.get(cur) {
                    set.or_into(&mut mask.words);
                    return;
                }
            }
        }
        let cfg = cur.clone();
        let known = self.compute_mask_uncached(&cfg, mask);
        if cacheable {
            if let Ok(mut c) = self.tg.config_cache.write() {
                let set = known.unwrap_or_else(|| Arc::new(Set::from_words(&mask.words)));
                if c.len() < MAX_CONFIG_CACHE_ENTRIES
                    && Set::reserve(&self.tg.cache_bytes, set.bytes())
                {
                    c.insert(cfg, set);
                }
            }
        }
    }

    /// Fills `mask` for `cfg`; returns the mask as a shared [`Set`] when one set decided it
    /// alone (a cached entry, or the walk with the real stack), so that caching it needs no
    /// scan or copy of the mask.
    fn compute_mask_uncached(&mut self, cfg: &Config, mask: &mut TokenMask) -> Option<Arc<Set>> {
        let g = &*self.tg.grammar;
        let vocab = &*self.tg.vocab;
        let mut closed = Vec::new();
        cfg.closure(g, &mut closed);
        let mut accepting = false;
        let mut entries = 0;
        let mut sole: Option<Arc<Entry>> = None;
        // The mask of a lone stack walked with its real stack (moved into the cache as is).
        let mut walked: Option<Arc<Set>> = None;
        let mut seen_tops: Vec<Frame> = Vec::new();
        for st in &closed {
            let Some(&top) = st.last() else { continue };
            if st.len() == 1 && g.rules[top.0 as usize].is_accept(top.1) {
                accepting = true;
            }
            let single = st.len() == 1;
            if single && seen_tops.contains(&top) {
                continue;
            }
            if single {
                seen_tops.push(top);
            }
            let e = self.tg.entry(top);
            e.set.or_into(&mut mask.words);
            entries += 1;
            if e.uncertain.is_empty() {
                sole = Some(Arc::clone(&e));
            }
            if e.uncertain.len() > MAX_UNCERTAIN {
                // Cheaper to walk the trie once with the real stack.
                let full = self.tg.compute_entry(st, false);
                full.set.or_into(&mut mask.words);
                walked = Some(full.set);
                continue;
            }
            for &t in &e.uncertain {
                if mask.is_allowed(t) {
                    continue;
                }
                let Some(bytes) = vocab.token_bytes(t) else {
                    continue;
                };
                let mut c = Config {
                    stacks: vec![st.clone()],
                };
                if bytes.iter().all(|&b| c.step(g, b, &mut self.scratch)) {
                    mask.allow(t);
                }
            }
        }
        if accepting {
            for &e in vocab.eos_tokens() {
                mask.allow(e);
            }
            return None;
        }
        match (entries, sole, walked) {
            (1, Some(e), _) => Some(Arc::clone(&e.set)),
            // The given-up entry added nothing: the walk is the whole mask.
            (1, None, Some(set)) => Some(set),
            _ => None,
        }
    }

    /// Consumes one token; an EOS token while accepting finishes the matcher.
    pub fn consume(&mut self, token: u32) -> Result<(), MatchError> {
        if self.history[self.history.len() - 1].1 {
            return Err(MatchError::AlreadyFinished);
        }
        let vocab = &self.tg.vocab;
        if token as usize >= vocab.len() {
            return Err(MatchError::UnknownToken {
                token,
                len: vocab.len(),
            });
        }
        let g = &*self.tg.grammar;
        if vocab.is_eos(token) {
            if self.cur().is_accepting(g) {
                let c = self.cur().clone();
                self.history.push((c, true));
                return Ok(());
            }
            return Err(MatchError::TokenNotAllowed { token });
        }
        let bytes = vocab
            .token_bytes(token)
            .ok_or(MatchError::TokenNotAllowed { token })?;
        if bytes.is_empty() {
            return Err(MatchError::TokenNotAllowed { token });
        }
        let mut c = self.cur().clone();
        for &b in bytes {
            if !c.step(g, b, &mut self.scratch) {
                return Err(MatchError::TokenNotAllowed { token });
            }
        }
        self.history.push((c, false));
        Ok(())
    }

    /// Consumes raw bytes (not necessarily token-aligned); counts as one step for rollback.
    pub fn consume_bytes(&mut self, bytes: &[u8]) -> Result<(), MatchError> {
        if self.history[self.history.len() - 1].1 {
            return Err(MatchError::AlreadyFinished);
        }
        let g = &*self.tg.grammar;
        let mut c = self.cur().clone();
        for (i, &b) in bytes.iter().enumerate() {
            if !c.step(g, b, &mut self.scratch) {
                return Err(MatchError::BytesRejected { offset: i });
            }
        }
        self.history.push((c, false));
        Ok(())
    }

    /// Undoes the last `n_tokens` steps (`consume`, `consume_bytes`, EOS).
    pub fn rollback(&mut self, n_tokens: usize) -> Result<(), MatchError> {
        let available = self.history.len() - 1;
        if n_tokens > available {
            return Err(MatchError::RollbackTooFar {
                requested: n_tokens,
                available,
            });
        }
        self.history.truncate(self.history.len() - n_tokens);
        Ok(())
    }

    /// Number of steps consumed so far.
    pub fn steps(&self) -> usize {
        self.history.len() - 1
    }

    /// Whether the output so far is a complete valid document.
    pub fn is_accepting(&self) -> bool {
        self.cur().is_accepting(&self.tg.grammar)
    }

    /// EOS consumed, or the document is complete and nothing else can follow.
    pub fn is_finished(&self) -> bool {
        if self.history[self.history.len() - 1].1 {
            return true;
        }
        let g = &*self.tg.grammar;
        if !self.cur().is_accepting(g) {
            return false;
        }
        let mut sc = Scratch::default();
        !(0..FIRST_INVALID as u8).any(|b| self.cur().clone().step(g, b, &mut sc))
    }

    /// The longest byte string every valid continuation starts with (empty when the
    /// document may end here or several bytes are possible).
    pub fn forced_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.history[self.history.len() - 1].1 {
            return out;
        }
        let g = &*self.tg.grammar;
        let mut c = self.cur().clone();
        let mut sc = Scratch::default();
        let mut closed = Vec::new();
        while out.len() < 4096 {
            // One closure per forced byte: a byte is possible iff some closed stack's top
            // frame moves on it (exactly what `Config::step` checks).
            c.closure(g, &mut closed);
            if closed
                .iter()
                .any(|st| st.len() == 1 && g.rules[st[0].0 as usize].is_accept(st[0].1))
            {
                break;
            }
            let mut only = None;
            let mut count = 0;
            for b in 0..FIRST_INVALID as u8 {
                if closed.iter().any(|st| {
                    st.last()
                        .is_some_and(|&(r, s)| g.rules[r as usize].next(s, b) != 0)
                }) {
                    count += 1;
                    if count > 1 {
                        break;
                    }
                    only = Some(b);
                }
            }
            match (count, only) {
                (1, Some(b)) if c.step(g, b, &mut sc) => out.push(b),
                _ => break,
            }
        }
        out
    }

    /// Back to the start state.
    pub fn reset(&mut self) {
        self.history.truncate(1);
    }
}
