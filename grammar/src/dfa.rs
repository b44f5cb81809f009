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

/// Uncompressed DFA: 256-wide rows.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    /// Byte classes: bytes with equal class have equal transitions in every state.
    pub cls: [u8; 256],
    pub start: u32,
    pub rows: Vec<[u32; 256]>,
    pub accept: Vec<bool>,
    /// Per state: (callee rule, return state).
    pub calls: Vec<Vec<(u32, u32)>>,
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
    pub fn run(&self, bytes: &[u8]) -> bool {
        let mut s = self.start;
        for &b in bytes {
            s = self.rows[s as usize][b as usize];
            if s == 0 {
                return false;
            }
        }
        self.accept[s as usize]
    }

    /// True when no accepting state is reachable (ignoring calls).
    pub fn is_empty_language(&self) -> bool {
        let mut seen = vec![false; self.rows.len()];
        let mut stack = vec![self.start];
        while let Some(s) = stack.pop() {
            if s == 0 || seen[s as usize] {
                continue;
            }
            seen[s as usize] = true;
            if self.accept[s as usize] {
                return false;
            }
            for &t in self.rows[s as usize].iter() {
                stack.push(t);
            }
        }
        true
    }

    pub fn compress(&self) -> Table {
        let (cls, reps) = renumber(&self.cls);
        let mut trans = Vec::with_capacity(self.rows.len() * reps.len());
        for r in &self.rows {
            for &b in &reps {
                trans.push(r[b as usize]);
            }
        }
        Table {
            start: self.start,
            ncls: reps.len() as u32,
            cls,
            trans,
            accept: self.accept.clone(),
            calls: self.calls.clone(),
            counted: None,
        }
    }
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
    let mut ids: HashMap<Vec<u8>, u8> = HashMap::new();
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

/// Builds a DFA for `hir` (anchored, full-match semantics). Call markers become call edges.
pub(crate) fn from_hir(
    hir: &Hir,
    max_states: usize,
    max_bytes: usize,
) -> Result<Raw, CompileError> {
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .utf8(false)
                .shrink(false)
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
    let start = intern(s0, &mut order, &mut ids);
    let mut rows: Vec<[u32; 256]> = vec![[0; 256]];
    let mut accept = vec![false];
    let mut calls: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
    let mut k = 0;
    while k < order.len() {
        if order.len() > max_states {
            return Err(limit_err("DFA states per rule", max_states));
        }
        let s = order[k];
        let mut row = [0u32; 256];
        let mut by_cls = [0u32; 256];
        for &b in &reps {
            if (b as usize) < FIRST_INVALID {
                by_cls[cls[b as usize] as usize] =
                    intern(dfa.next_state(s, b), &mut order, &mut ids);
            }
        }
        for b in 0..FIRST_INVALID {
            row[b] = by_cls[cls[b] as usize];
        }
        let mut cl = Vec::new();
        let m = dfa.next_state(s, MARKER);
        if !dfa.is_dead_state(m) {
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
        }
        rows.push(row);
        accept.push(dfa.is_match_state(dfa.next_eoi_state(s)));
        calls.push(cl);
        k += 1;
    }
    Ok(Raw {
        cls,
        start,
        rows,
        accept,
        calls,
    })
}

/// Product of call-free DFAs; `keep` decides acceptance from the component accept bits.
pub(crate) fn product(
    parts: &[&Raw],
    keep: &dyn Fn(&[bool]) -> bool,
    max_states: usize,
) -> Result<Raw, CompileError> {
    let mut ids: FxMap<Vec<u32>, u32> = FxMap::default();
    let mut order: Vec<Vec<u32>> = Vec::new();
    let dead: Vec<u32> = vec![0; parts.len()];
    ids.insert(dead.clone(), 0);
    order.push(dead);
    let st: Vec<u32> = parts.iter().map(|p| p.start).collect();
    let start = {
        let i = order.len() as u32;
        ids.insert(st.clone(), i);
        order.push(st);
        i
    };
    let mut rows: Vec<[u32; 256]> = vec![[0; 256]];
    let mut accept = vec![false];
    let mut k = 1;
    let mut bits = vec![false; parts.len()];
    let cls_maps: Vec<&[u8; 256]> = parts.iter().map(|p| &p.cls).collect();
    let (cls, reps) = refine(&cls_maps);
    let mut nx: Vec<u32> = vec![0; parts.len()];
    while k < order.len() {
        if order.len() > max_states {
            return Err(limit_err("DFA states per rule (intersection)", max_states));
        }
        let cur = order[k].clone();
        for (i, p) in parts.iter().enumerate() {
            bits[i] = p.accept[cur[i] as usize];
        }
        accept.push(keep(&bits));
        let mut by_cls = [0u32; 256];
        for &b in &reps {
            if b as usize >= FIRST_INVALID {
                continue;
            }
            for (i, p) in parts.iter().enumerate() {
                nx[i] = p.rows[cur[i] as usize][b as usize];
            }
            let id = match ids.get(&nx[..]) {
                Some(&id) => id,
                None => {
                    let id = order.len() as u32;
                    ids.insert(nx.clone(), id);
                    order.push(nx.clone());
                    id
                }
            };
            by_cls[cls[b as usize] as usize] = id;
        }
        let mut row = [0u32; 256];
        for b in 0..FIRST_INVALID {
            row[b] = by_cls[cls[b] as usize];
        }
        rows.push(row);
        k += 1;
    }
    let n = rows.len();
    let mut raw = Raw {
        cls,
        start,
        rows,
        accept,
        calls: vec![Vec::new(); n],
    };
    trim(&mut raw, &|_| true);
    Ok(raw)
}

/// Whether the start state can reach acceptance (call edges count when `productive`).
pub(crate) fn start_is_live(raw: &Raw, productive: &dyn Fn(u32) -> bool) -> bool {
    let mut seen = vec![false; raw.rows.len()];
    let mut stack = vec![raw.start];
    while let Some(s) = stack.pop() {
        if s == 0 || seen[s as usize] {
            continue;
        }
        seen[s as usize] = true;
        if raw.accept[s as usize] {
            return true;
        }
        let row = &raw.rows[s as usize];
        for &t in &row[..FIRST_INVALID] {
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
    let n = raw.rows.len();
    let mut rev: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (s, row) in raw.rows.iter().enumerate() {
        for &t in row.iter() {
            if t != 0 {
                rev[t as usize].push(s as u32);
            }
        }
        for &(k, r) in &raw.calls[s] {
            if productive(k) && r != 0 {
                rev[r as usize].push(s as u32);
            }
        }
    }
    let mut live = vec![false; n];
    let mut stack: Vec<u32> = (1..n as u32).filter(|&s| raw.accept[s as usize]).collect();
    for &s in &stack {
        live[s as usize] = true;
    }
    while let Some(s) = stack.pop() {
        for &p in &rev[s as usize] {
            if !live[p as usize] {
                live[p as usize] = true;
                stack.push(p);
            }
        }
    }
    live[0] = false;
    for s in 0..n {
        for t in raw.rows[s].iter_mut() {
            if !live[*t as usize] {
                *t = 0;
            }
        }
        let keep: Vec<(u32, u32)> = raw.calls[s]
            .iter()
            .copied()
            .filter(|&(k, r)| productive(k) && live[r as usize])
            .collect();
        raw.calls[s] = keep;
        if !live[s] {
            raw.rows[s] = [0; 256];
            raw.calls[s].clear();
            raw.accept[s] = false;
        }
    }
    live[raw.start as usize]
}
