//! JSON Schema → rules (byte-level regexes with rule calls) → DFA tables.

use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look};
use serde_json::{Map, Value};
use std::collections::HashMap;

use crate::dfa::{self, Raw, MARKER};
use crate::numeric::{self, Decimal};
use crate::{formats, CompileError, Grammar};

/// Whitespace allowed between JSON tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Whitespace {
    /// No whitespace at all (default).
    #[default]
    Compact,
    /// Up to `max_run` bytes of `[ \t\n\r]` at each place JSON allows whitespace
    /// (not before or after the top-level value).
    Bounded {
        /// Longest whitespace run at one place.
        max_run: u8,
    },
}

/// Resource limits; a schema that exceeds one fails with [`CompileError::LimitExceeded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum DFA states of one rule.
    pub max_dfa_states: usize,
    /// Maximum bytes regex-automata may use for one rule's NFA/DFA.
    pub max_automaton_bytes: usize,
    /// Maximum number of rules (recursive targets and intersected lexemes).
    pub max_rules: usize,
    /// Maximum schema nodes visited while compiling (bounds `$ref` inlining blow-ups).
    pub max_schema_nodes: usize,
    /// Maximum rule-call nesting depth while matching (deeper output is not allowed).
    pub max_nesting_depth: usize,
    /// Maximum parallel parse stacks while matching (ambiguous grammars).
    pub max_stacks: usize,
    /// Maximum nesting depth of the schema document itself (JSON arrays and objects),
    /// checked before compiling so that a deeply nested schema is refused in bounded time
    /// and stack instead of recursing through it.
    pub max_schema_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_dfa_states: 100_000,
            max_automaton_bytes: 16 << 20,
            max_rules: 10_000,
            max_schema_nodes: 50_000,
            max_nesting_depth: 256,
            max_stacks: 512,
            max_schema_depth: 64,
        }
    }
}

/// Compile options. `Default`: compact output, strict (unknown keywords are errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompileOptions {
    /// Whitespace policy.
    pub whitespace: Whitespace,
    /// Skip keywords that cannot be enforced instead of failing; see [`Grammar::skipped`].
    pub lenient: bool,
    /// Resource limits.
    pub limits: Limits,
}

/// A keyword skipped in lenient mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The keyword.
    pub keyword: String,
    /// JSON pointer (URI-fragment form, `#` = root) of the schema object holding it.
    pub pointer: String,
}

/// Small Hir constructors.
pub(crate) mod h {
    use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, Repetition};
    pub fn lit(b: &[u8]) -> Hir {
        Hir::literal(b.to_vec())
    }
    pub fn bytes(r: &[(u8, u8)]) -> Hir {
        Hir::class(Class::Bytes(ClassBytes::new(
            r.iter().map(|&(a, b)| ClassBytesRange::new(a, b)),
        )))
    }
    pub fn cat(v: Vec<Hir>) -> Hir {
        Hir::concat(v)
    }
    pub fn alt(v: Vec<Hir>) -> Hir {
        if v.is_empty() {
            return Hir::fail();
        }
        Hir::alternation(v)
    }
    pub fn rep(sub: Hir, min: u32, max: Option<u32>) -> Hir {
        Hir::repetition(Repetition {
            min,
            max,
            greedy: true,
            sub: Box::new(sub),
        })
    }
    pub fn opt(sub: Hir) -> Hir {
        rep(sub, 0, Some(1))
    }
    pub fn empty() -> Hir {
        Hir::empty()
    }
    pub fn fail() -> Hir {
        Hir::fail()
    }
}

const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "$comment",
    "$schema",
    "$id",
    "id",
    "readOnly",
    "writeOnly",
    "deprecated",
    "contentMediaType",
    "contentEncoding",
    "$defs",
    "definitions",
    "$anchor",
    "$vocabulary",
];

const HANDLED: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "items",
    "prefixItems",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minProperties",
    "maxProperties",
    "nullable",
];

const TYPES: [&str; 6] = ["null", "boolean", "object", "array", "string", "number"];

enum Body {
    Hir(Hir),
    Raw(Box<Raw>),
    /// A JSON string of `min..=max` characters (counted, not unrolled).
    Counted(u32, Option<u32>),
    Pending,
}

enum RefState {
    InProgress(Option<u32>),
    Rule(u32),
}

struct Ctx<'a> {
    root: &'a Value,
    opts: &'a CompileOptions,
    legacy: bool,
    nested_id: bool,
    rules: Vec<Body>,
    refs: HashMap<String, RefState>,
    skipped: Vec<Skipped>,
    fuel: usize,
    /// Current recursion depth of `compile_value` (bounded: see `MAX_COMPILE_DEPTH`).
    depth: usize,
    any_rule: Option<u32>,
    /// Set while compiling parts that must stay call-free (intersections, `oneOf`).
    no_counted: bool,
    /// Set inside `oneOf` branches: calls of lexeme rules are fine there, they are spliced
    /// back before the disjointness check.
    splice_ok: bool,
    /// Rules shared by every free string / number / integer of the schema.
    shared: [Option<u32>; 3],
    /// Lexeme rules (`format`, `pattern`, large literal sets) by their regex text, so a
    /// lexeme used twice in a schema is one rule.
    lexemes: HashMap<String, u32>,
    /// Rules that are lexemes (leaves and `lexeme` rules): spliced into their callers by
    /// `finish` when they are call-free and prefix-free.
    inlinable: Vec<u32>,
}

#[derive(Clone, Copy)]
enum Shared {
    String = 0,
    Number = 1,
    Integer = 2,
}

fn unsupported(keyword: &str, pointer: &str) -> CompileError {
    CompileError::Unsupported {
        keyword: keyword.to_string(),
        pointer: pointer.to_string(),
    }
}
fn invalid(pointer: &str, reason: impl Into<String>) -> CompileError {
    CompileError::Invalid {
        pointer: pointer.to_string(),
        reason: reason.into(),
    }
}
fn child(ptr: &str, seg: &str) -> String {
    format!("{ptr}/{}", seg.replace('~', "~0").replace('/', "~1"))
}

fn call(id: u32) -> Hir {
    h::lit(&[MARKER, (id >> 8) as u8, id as u8])
}

/// Whether a regex is large enough that repeating it many times is worth a rule call.
fn hir_big(hir: &Hir) -> bool {
    fn size(h: &Hir, budget: &mut i64) {
        *budget -= 1;
        if *budget < 0 {
            return;
        }
        match h.kind() {
            HirKind::Literal(l) => *budget -= l.0.len() as i64 / 4,
            HirKind::Repetition(r) => {
                if r.max.is_none_or(|m| m > 1) {
                    *budget -= 8;
                }
                size(&r.sub, budget)
            }
            HirKind::Capture(c) => size(&c.sub, budget),
            HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().for_each(|x| size(x, budget)),
            _ => {}
        }
    }
    let mut budget = 24;
    size(hir, &mut budget);
    budget < 0
}

fn hir_has_calls(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Literal(l) => l.0.contains(&MARKER),
        HirKind::Repetition(r) => hir_has_calls(&r.sub),
        HirKind::Capture(c) => hir_has_calls(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(hir_has_calls),
        _ => false,
    }
}

// ---------- JSON string pieces ----------

fn hex() -> Hir {
    h::bytes(&[(b'0', b'9'), (b'A', b'F'), (b'a', b'f')])
}

/// Characters allowed raw inside a JSON string.
fn raw_chars() -> ClassUnicode {
    ClassUnicode::new([
        ClassUnicodeRange::new('\u{20}', '\u{21}'),
        ClassUnicodeRange::new('\u{23}', '\u{5B}'),
        ClassUnicodeRange::new('\u{5D}', '\u{10FFFF}'),
    ])
}

/// One character in any valid JSON encoding.
fn any_char() -> Hir {
    let non_sur = h::alt(vec![
        h::cat(vec![
            h::bytes(&[
                (b'0', b'9'),
                (b'A', b'C'),
                (b'a', b'c'),
                (b'E', b'F'),
                (b'e', b'f'),
            ]),
            hex(),
            hex(),
            hex(),
        ]),
        h::cat(vec![
            h::bytes(&[(b'D', b'D'), (b'd', b'd')]),
            h::bytes(&[(b'0', b'7')]),
            hex(),
            hex(),
        ]),
    ]);
    let hi = h::cat(vec![
        h::bytes(&[(b'D', b'D'), (b'd', b'd')]),
        h::bytes(&[(b'8', b'9'), (b'A', b'B'), (b'a', b'b')]),
        hex(),
        hex(),
    ]);
    let lo = h::cat(vec![
        h::bytes(&[(b'D', b'D'), (b'd', b'd')]),
        h::bytes(&[(b'C', b'F'), (b'c', b'f')]),
        hex(),
        hex(),
    ]);
    h::alt(vec![
        Hir::class(Class::Unicode(raw_chars())),
        h::cat(vec![
            h::lit(b"\\"),
            h::bytes(&[
                (b'"', b'"'),
                (b'\\', b'\\'),
                (b'/', b'/'),
                (b'b', b'b'),
                (b'f', b'f'),
                (b'n', b'n'),
                (b'r', b'r'),
                (b't', b't'),
            ]),
        ]),
        h::cat(vec![h::lit(b"\\u"), non_sur]),
        h::cat(vec![h::lit(b"\\u"), hi, h::lit(b"\\u"), lo]),
    ])
}

/// The canonical (serde_json) encoding of one character.
fn canon_escape(c: char) -> Option<Vec<u8>> {
    Some(match c {
        '"' => b"\\\"".to_vec(),
        '\\' => b"\\\\".to_vec(),
        '\u{8}' => b"\\b".to_vec(),
        '\u{c}' => b"\\f".to_vec(),
        '\n' => b"\\n".to_vec(),
        '\r' => b"\\r".to_vec(),
        '\t' => b"\\t".to_vec(),
        c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).into_bytes(),
        _ => return None,
    })
}

/// Canonical encodings of every character of a class.
fn enc_class(c: &ClassUnicode) -> Hir {
    let mut raw = c.clone();
    raw.intersect(&raw_chars());
    let mut alts = Vec::new();
    if !raw.ranges().is_empty() {
        alts.push(Hir::class(Class::Unicode(raw)));
    }
    for r in c.ranges() {
        let (a, b) = (r.start() as u32, r.end() as u32);
        for cp in a..=b.min(0x5C) {
            if let Some(ch) = char::from_u32(cp) {
                if let Some(e) = canon_escape(ch) {
                    alts.push(h::lit(&e));
                }
            }
        }
    }
    h::alt(alts)
}

fn canon_char() -> Hir {
    enc_class(&ClassUnicode::new([ClassUnicodeRange::new(
        '\0',
        '\u{10FFFF}',
    )]))
}

fn quote(body: Hir) -> Hir {
    h::cat(vec![h::lit(b"\""), body, h::lit(b"\"")])
}

/// ECMA-262 → regex-syntax spelling fixes (ASCII `\d` `\w`, ECMA `\s` and `.`).
fn ecma_to_rust(p: &str) -> String {
    let ws = "\\t\\n\\x0B\\x0C\\r \\u{a0}\\u{1680}\\u{2000}-\\u{200a}\\u{2028}\\u{2029}\\u{202f}\\u{205f}\\u{3000}\\u{feff}";
    let mut out = String::new();
    let mut in_class = false;
    let mut it = p.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('w') => out.push_str("[A-Za-z0-9_]"),
                Some('W') => out.push_str("[^A-Za-z0-9_]"),
                Some('s') => out.push_str(&format!("[{ws}]")),
                Some('S') => out.push_str(&format!("[^{ws}]")),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            },
            '[' if in_class => out.push_str("\\["),
            '[' => {
                in_class = true;
                out.push('[');
                if it.peek() == Some(&'^') {
                    out.push('^');
                    it.next();
                }
                if it.peek() == Some(&']') {
                    out.push_str("\\]");
                    it.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '.' if !in_class => out.push_str("[^\\n\\r\\u{2028}\\u{2029}]"),
            _ => out.push(c),
        }
    }
    out
}

/// Translates a regex over decoded characters to one over canonical JSON encodings.
fn translate(hir: &Hir) -> Result<Hir, ()> {
    Ok(match hir.kind() {
        HirKind::Empty => h::empty(),
        HirKind::Literal(l) => {
            let s = std::str::from_utf8(&l.0).map_err(|_| ())?;
            h::cat(
                s.chars()
                    .map(|c| {
                        canon_escape(c)
                            .map(|e| h::lit(&e))
                            .unwrap_or_else(|| h::lit(c.to_string().as_bytes()))
                    })
                    .collect(),
            )
        }
        HirKind::Class(Class::Unicode(c)) => enc_class(c),
        HirKind::Class(Class::Bytes(b)) => {
            let c = ClassUnicode::new(
                b.ranges()
                    .iter()
                    .map(|r| ClassUnicodeRange::new(r.start() as char, r.end() as char)),
            );
            if b.ranges().iter().any(|r| r.end() > 0x7F) {
                return Err(());
            }
            enc_class(&c)
        }
        HirKind::Look(_) => return Err(()),
        HirKind::Repetition(r) => h::rep(translate(&r.sub)?, r.min, r.max),
        HirKind::Capture(c) => translate(&c.sub)?,
        HirKind::Concat(v) => h::cat(v.iter().map(translate).collect::<Result<_, _>>()?),
        HirKind::Alternation(v) => h::alt(v.iter().map(translate).collect::<Result<_, _>>()?),
    })
}

/// Largest expansion of a `pattern` regex (counted repetitions multiplied out) compiled.
const MAX_PATTERN_EXPANSION: u64 = 20_000;

/// Size of `hir` with every counted repetition multiplied out (saturating).
fn expanded_size(hir: &Hir) -> u64 {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 0,
        HirKind::Literal(l) => l.0.len() as u64,
        HirKind::Class(_) => 1,
        HirKind::Repetition(r) => {
            let times = u64::from(r.max.unwrap_or(r.min).max(r.min).max(1));
            expanded_size(&r.sub).max(1).saturating_mul(times)
        }
        HirKind::Capture(c) => expanded_size(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => {
            v.iter().map(expanded_size).fold(0u64, u64::saturating_add)
        }
    }
}

/// Body regex (between the quotes) of a string whose decoded content matches `pattern`
/// somewhere (unanchored unless `^`/`$`).
fn pattern_body(pattern: &str) -> Result<Hir, ()> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(&ecma_to_rust(pattern))
        .map_err(|_| ())?;
    if expanded_size(&hir) > MAX_PATTERN_EXPANSION {
        // Counted repetitions expand into automaton states: refuse what would take
        // unbounded time or memory to compile (e.g. `x{65536}`), instead of hanging.
        return Err(());
    }
    let mut items: Vec<Hir> = match hir.kind() {
        HirKind::Concat(v) => v.clone(),
        _ => vec![hir.clone()],
    };
    let is_look = |h: &Hir, l: Look| matches!(h.kind(), HirKind::Look(x) if *x == l);
    let mut start = false;
    let mut end = false;
    while items.first().is_some_and(|x| is_look(x, Look::Start)) {
        items.remove(0);
        start = true;
    }
    while items.last().is_some_and(|x| is_look(x, Look::End)) {
        items.pop();
        end = true;
    }
    let mut parts = Vec::new();
    if !start {
        parts.push(h::rep(canon_char(), 0, None));
    }
    for it in &items {
        parts.push(translate(it)?);
    }
    if !end {
        parts.push(h::rep(canon_char(), 0, None));
    }
    Ok(h::cat(parts))
}

fn encode_key(k: &str) -> Vec<u8> {
    serde_json::to_vec(&Value::String(k.to_string())).unwrap_or_default()
}

fn literal_value(v: &Value) -> Vec<Hir> {
    let mut out = vec![h::lit(&serde_json::to_vec(v).unwrap_or_default())];
    // 1 and 1.0 are the same JSON Schema number: accept both spellings.
    if let Value::Number(n) = v {
        if let Some(f) = n.as_f64() {
            if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 {
                out.push(h::lit(format!("{}", f as i64).as_bytes()));
            } else if !n.is_f64() {
                out.push(h::lit(format!("{n}.0").as_bytes()));
            }
        }
    }
    out
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn num(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::parse(&n.to_string()),
        _ => None,
    }
}

fn as_count(v: &Value, ptr: &str, kw: &str) -> Result<u32, CompileError> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                return Ok(u.min(u32::MAX as u64) as u32);
            }
            if let Some(f) = n.as_f64() {
                if f >= 0.0 && f.fract() == 0.0 {
                    return Ok(f.min(u32::MAX as f64) as u32);
                }
            }
            Err(invalid(&child(ptr, kw), "expected a non-negative integer"))
        }
        _ => Err(invalid(&child(ptr, kw), "expected a non-negative integer")),
    }
}

fn is_restrictive_obj(m: &Map<String, Value>) -> bool {
    m.contains_key("patternProperties")
        || m.get("additionalProperties")
            .is_some_and(|v| v != &Value::Bool(true))
}

/// Structural `allOf` merge. `None` when the two cannot be merged exactly.
fn merge(a: &Map<String, Value>, b: &Value) -> Option<Map<String, Value>> {
    let b = match b {
        Value::Bool(true) => return Some(a.clone()),
        Value::Bool(false) => {
            let mut m = a.clone();
            m.insert("type".into(), Value::Array(vec![]));
            return Some(m);
        }
        Value::Object(m) => m,
        _ => return None,
    };
    let obj_keys = ["properties", "patternProperties", "additionalProperties"];
    let a_obj = obj_keys.iter().any(|k| a.contains_key(*k));
    let b_obj = obj_keys.iter().any(|k| b.contains_key(*k));
    if a_obj && b_obj && (is_restrictive_obj(a) || is_restrictive_obj(b)) {
        let same = obj_keys.iter().all(|k| a.get(*k) == b.get(*k));
        if !same {
            return None;
        }
    }
    // Array keywords interact (`items` only applies after `prefixItems`/array `items`), and
    // `nullable` widens `type`: merge them only when both sides agree exactly.
    for group in [
        &["items", "prefixItems", "additionalItems"][..],
        &["nullable", "type"][..],
    ] {
        let a_has = group.iter().any(|k| a.contains_key(*k));
        let b_has = group.iter().any(|k| b.contains_key(*k));
        let special =
            group[0] == "items" || a.contains_key("nullable") || b.contains_key("nullable");
        if special && a_has && b_has && group.iter().any(|k| a.get(*k) != b.get(*k)) {
            return None;
        }
        if group[0] == "nullable"
            && (a.contains_key("nullable") != b.contains_key("nullable"))
            && a_has
            && b_has
        {
            return None;
        }
    }
    let mut out = a.clone();
    for (k, v) in b {
        if ANNOTATIONS.contains(&k.as_str()) {
            continue;
        }
        let Some(av) = out.get(k) else {
            out.insert(k.clone(), v.clone());
            continue;
        };
        if av == v {
            continue;
        }
        let merged = match k.as_str() {
            "required" => {
                let mut r = av.as_array()?.clone();
                for x in v.as_array()? {
                    if !r.contains(x) {
                        r.push(x.clone());
                    }
                }
                Value::Array(r)
            }
            "properties" => {
                let mut p = av.as_object()?.clone();
                for (pk, pv) in v.as_object()? {
                    let nv = match p.get(pk) {
                        Some(old) => serde_json::json!({ "allOf": [old, pv] }),
                        None => pv.clone(),
                    };
                    p.insert(pk.clone(), nv);
                }
                Value::Object(p)
            }
            "type" => {
                let set = |x: &Value| -> Option<Vec<String>> {
                    match x {
                        Value::String(s) => Some(vec![s.clone()]),
                        Value::Array(a) => a.iter().map(|t| t.as_str().map(String::from)).collect(),
                        _ => None,
                    }
                };
                let (sa, sb) = (set(av)?, set(v)?);
                let mut r = Vec::new();
                for t in &sa {
                    for u in &sb {
                        let x = match (t.as_str(), u.as_str()) {
                            (p, q) if p == q => Some(p),
                            ("integer", "number") | ("number", "integer") => Some("integer"),
                            _ => None,
                        };
                        if let Some(x) = x {
                            if !r.iter().any(|y: &Value| y == x) {
                                r.push(Value::String(x.to_string()));
                            }
                        }
                    }
                }
                Value::Array(r)
            }
            "minimum" | "minLength" | "minItems" | "minProperties" | "exclusiveMinimum" => {
                let (x, y) = (num(av)?, num(v)?);
                if x.cmp(&y).is_ge() {
                    av.clone()
                } else {
                    v.clone()
                }
            }
            "maximum" | "maxLength" | "maxItems" | "maxProperties" | "exclusiveMaximum" => {
                let (x, y) = (num(av)?, num(v)?);
                if x.cmp(&y).is_le() {
                    av.clone()
                } else {
                    v.clone()
                }
            }
            "allOf" => {
                let mut r = av.as_array()?.clone();
                r.extend(v.as_array()?.iter().cloned());
                Value::Array(r)
            }
            _ => return None,
        };
        out.insert(k.clone(), merged);
    }
    Some(out)
}

fn decode_pointer_segment(s: &str) -> Option<String> {
    // percent-decoding then ~1 / ~0
    let mut bytes = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            let v = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).ok()?, 16).ok()?;
            bytes.push(v);
            i += 3;
        } else {
            bytes.push(b[i]);
            i += 1;
        }
    }
    Some(
        String::from_utf8(bytes)
            .ok()?
            .replace("~1", "/")
            .replace("~0", "~"),
    )
}

/// Most significant digits a `minimum`/`maximum` bound may have (integer and fraction
/// digits together); enough for any 64-bit integer and any practical decimal.
const MAX_BOUND_DIGITS: usize = 48;

/// Objects with at least this many declared members are always built by
/// `dfa::object_raw`, even when some value then stays a call.
const DIRECT_OBJECT_MEMBERS: usize = 12;

/// Enum/const sets with at least this many spellings are compiled as a trie rule.
const MIN_TRIE_LITERALS: usize = 16;
/// Literal sets at least this large get their first mask computed when the grammar is
/// paired with a vocabulary ([`crate::TokenizedGrammar::new`]), not at the first request:
/// that walk visits thousands of trie nodes.
const HOT_LITERALS: usize = 64;

/// Deepest recursion of the compiler through nested and inlined schemas. Each level takes
/// a few KiB of stack; this stays well inside a 2 MiB thread stack.
const MAX_COMPILE_DEPTH: usize = 64;

impl<'a> Ctx<'a> {
    fn burn(&mut self) -> Result<(), CompileError> {
        self.fuel += 1;
        if self.fuel > self.opts.limits.max_schema_nodes {
            return Err(CompileError::LimitExceeded {
                what: "schema nodes visited (check $ref inlining)".into(),
                limit: self.opts.limits.max_schema_nodes,
            });
        }
        Ok(())
    }

    fn new_rule(&mut self, body: Body) -> Result<u32, CompileError> {
        let max = self.opts.limits.max_rules.min(65_535);
        if self.rules.len() >= max {
            return Err(CompileError::LimitExceeded {
                what: "rules".into(),
                limit: max,
            });
        }
        self.rules.push(body);
        Ok(self.rules.len() as u32 - 1)
    }

    fn ws(&self) -> Hir {
        match self.opts.whitespace {
            Whitespace::Compact => h::empty(),
            Whitespace::Bounded { max_run } => h::rep(
                h::bytes(&[(b' ', b' '), (b'\t', b'\t'), (b'\n', b'\n'), (b'\r', b'\r')]),
                0,
                Some(max_run as u32),
            ),
        }
    }
    fn sep(&self) -> Hir {
        h::cat(vec![self.ws(), h::lit(b","), self.ws()])
    }
    fn colon(&self) -> Hir {
        h::cat(vec![self.ws(), h::lit(b":"), self.ws()])
    }

    fn raw(&self, hir: &Hir) -> Result<Raw, CompileError> {
        let l = &self.opts.limits;
        dfa::from_hir(hir, l.max_dfa_states, l.max_automaton_bytes)
    }

    fn leaf(&mut self, raw: Raw) -> Result<Hir, CompileError> {
        if raw.is_empty_language() {
            return Ok(h::fail());
        }
        let id = self.new_rule(Body::Raw(Box::new(raw)))?;
        self.inlinable.push(id);
        Ok(call(id))
    }

    /// Intersection of call-free regexes (a product DFA as its own rule).
    fn intersect(&mut self, mut parts: Vec<Hir>, kw: &str, ptr: &str) -> Result<Hir, CompileError> {
        if parts.len() == 1 {
            return Ok(parts.pop().unwrap_or_else(h::fail));
        }
        if parts.iter().any(hir_has_calls) {
            return Err(unsupported(kw, ptr));
        }
        let raws = parts
            .iter()
            .map(|p| self.raw(p))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&Raw> = raws.iter().collect();
        let p = dfa::product(
            &refs,
            &|b| b.iter().all(|x| *x),
            refs.len(),
            self.opts.limits.max_dfa_states,
        )?;
        self.leaf(p)
    }

    /// Intersection of whole schemas, split by JSON type so that scalar parts stay call-free;
    /// objects/arrays work when at most one part constrains them.
    fn intersect_schemas(
        &mut self,
        parts: &[Value],
        kw: &str,
        ptr: &str,
    ) -> Result<Hir, CompileError> {
        let saved = std::mem::replace(&mut self.no_counted, true);
        let saved_splice = std::mem::replace(&mut self.splice_ok, false);
        let r = self.intersect_schemas_inner(parts, kw, ptr);
        self.no_counted = saved;
        self.splice_ok = saved_splice;
        r
    }

    fn intersect_schemas_inner(
        &mut self,
        parts: &[Value],
        kw: &str,
        ptr: &str,
    ) -> Result<Hir, CompileError> {
        let mut alts = Vec::new();
        for t in TYPES {
            let only_t = serde_json::json!({ "type": t });
            let mut restricted = Vec::new();
            let mut empty = false;
            for p in parts {
                let Some(m) = merge(only_t.as_object().unwrap_or(&Map::new()), p) else {
                    return Err(unsupported(kw, ptr));
                };
                if m.get("type")
                    .and_then(|x| x.as_array())
                    .is_some_and(|a| a.is_empty())
                {
                    empty = true;
                    break;
                }
                restricted.push(m);
            }
            if empty {
                continue;
            }
            let trivial = |m: &Map<String, Value>| {
                m.len() == 1
                    && m.get("type")
                        .is_some_and(|x| x == &Value::from(t) || x == &serde_json::json!([t]))
            };
            let mut keep: Vec<&Map<String, Value>> =
                restricted.iter().filter(|m| !trivial(m)).collect();
            if keep.is_empty() {
                keep.push(&restricted[0]);
            }
            let mut hirs = Vec::new();
            for m in keep {
                hirs.push(self.compile_map(m, ptr)?);
            }
            alts.push(self.intersect(hirs, kw, ptr)?);
        }
        Ok(h::alt(alts))
    }

    /// A lexeme compiled once as its own rule and called from every use, which keeps the
    /// structural DFAs small.
    fn shared(&mut self, which: Shared) -> Result<Hir, CompileError> {
        if let Some(id) = self.shared[which as usize] {
            return Ok(call(id));
        }
        let body = match which {
            // `"` any_char* `"`, built from the one-character DFA (shared with the
            // length-counted strings) instead of determinizing the repetition.
            Shared::String => {
                let mut unit = self.raw(&any_char())?;
                dfa::trim(&mut unit, &|_| true);
                let max_states = self.opts.limits.max_dfa_states;
                Body::Raw(Box::new(dfa::counted_raw(&unit, 0, None, max_states)?))
            }
            Shared::Number => Body::Hir(number_plain(false)),
            Shared::Integer => Body::Hir(number_plain(true)),
        };
        let id = self.new_rule(body)?;
        self.shared[which as usize] = Some(id);
        Ok(call(id))
    }

    /// A large call-free lexeme (a `format` or `pattern` string) as its own rule, called from
    /// its uses: the calling rule's DFA stays small, a lexeme used twice is built once, and
    /// its DFA comes from the process-wide cache when another schema used it before. Kept
    /// inline where calls are not allowed, for small lexemes, and for ones that can be empty.
    fn lexeme(&mut self, hir: Hir) -> Result<Hir, CompileError> {
        if (self.no_counted && !self.splice_ok)
            || !hir_big(&hir)
            || hir_has_calls(&hir)
            || hir.properties().minimum_len().is_none_or(|n| n == 0)
        {
            return Ok(hir);
        }
        let key = hir.to_string();
        if let Some(&id) = self.lexemes.get(&key) {
            return Ok(call(id));
        }
        let id = self.new_rule(Body::Hir(hir))?;
        self.lexemes.insert(key, id);
        self.inlinable.push(id);
        Ok(call(id))
    }

    /// An alternation of literal spellings (`enum`, `const`). A large set becomes its own
    /// rule whose DFA is the literals' trie, built directly instead of by determinizing
    /// the alternation.
    fn literal_set(&mut self, lits: Vec<Hir>) -> Result<Hir, CompileError> {
        if (self.no_counted && !self.splice_ok) || lits.len() < MIN_TRIE_LITERALS {
            return Ok(h::alt(lits));
        }
        let mut bytes = Vec::with_capacity(lits.len());
        for l in &lits {
            match l.kind() {
                HirKind::Literal(b) if !b.0.is_empty() && !b.0.contains(&MARKER) => {
                    bytes.push(b.0.to_vec())
                }
                _ => return Ok(h::alt(lits)),
            }
        }
        let mut raw = dfa::from_literals(&bytes, self.opts.limits.max_dfa_states)?;
        if lits.len() >= HOT_LITERALS {
            raw.hot = vec![dfa::first_branch(&raw)];
        }
        self.leaf(raw)
    }

    fn any(&mut self) -> Result<Hir, CompileError> {
        if let Some(id) = self.any_rule {
            return Ok(call(id));
        }
        let id = self.new_rule(Body::Pending)?;
        self.any_rule = Some(id);
        let v = call(id);
        let string = quote(h::rep(any_char(), 0, None));
        let arr = h::cat(vec![
            h::lit(b"["),
            self.ws(),
            h::opt(h::cat(vec![
                v.clone(),
                h::rep(h::cat(vec![self.sep(), v.clone()]), 0, None),
            ])),
            self.ws(),
            h::lit(b"]"),
        ]);
        let member = h::cat(vec![string.clone(), self.colon(), v.clone()]);
        let obj = h::cat(vec![
            h::lit(b"{"),
            self.ws(),
            h::opt(h::cat(vec![
                member.clone(),
                h::rep(h::cat(vec![self.sep(), member]), 0, None),
            ])),
            self.ws(),
            h::lit(b"}"),
        ]);
        let body = h::alt(vec![
            h::lit(b"null"),
            h::lit(b"true"),
            h::lit(b"false"),
            number_plain(false),
            string,
            arr,
            obj,
        ]);
        self.rules[id as usize] = Body::Hir(body);
        Ok(v)
    }

    fn compile_value(&mut self, v: &Value, ptr: &str) -> Result<Hir, CompileError> {
        self.burn()?;
        match v {
            Value::Bool(true) => self.any(),
            Value::Bool(false) => Ok(h::fail()),
            Value::Object(m) => self.compile_map(m, ptr),
            _ => Err(invalid(ptr, "a schema must be an object or a boolean")),
        }
    }

    fn resolve(&self, r: &str, ptr: &str) -> Result<(String, &'a Value), CompileError> {
        let unresolved = || CompileError::UnresolvedRef {
            reference: r.to_string(),
            pointer: ptr.to_string(),
        };
        if self.nested_id {
            return Err(unsupported("$id", ptr));
        }
        let frag = r.strip_prefix('#').ok_or_else(unresolved)?;
        if !frag.is_empty() && !frag.starts_with('/') {
            return Err(unresolved());
        }
        let mut cur = self.root;
        for seg in frag.split('/').skip(1) {
            let seg = decode_pointer_segment(seg).ok_or_else(unresolved)?;
            cur = match cur {
                Value::Object(m) => m.get(&seg).ok_or_else(unresolved)?,
                Value::Array(a) => a
                    .get(seg.parse::<usize>().map_err(|_| unresolved())?)
                    .ok_or_else(unresolved)?,
                _ => return Err(unresolved()),
            };
        }
        Ok((format!("#{frag}"), cur))
    }

    fn compile_target(&mut self, key: String, target: &Value) -> Result<Hir, CompileError> {
        match self.refs.get_mut(&key) {
            Some(RefState::Rule(id)) => return Ok(call(*id)),
            Some(RefState::InProgress(slot)) => {
                let id = match slot {
                    Some(id) => *id,
                    None => {
                        let id = self.rules.len() as u32;
                        *slot = Some(id);
                        self.new_rule(Body::Pending)?;
                        id
                    }
                };
                return Ok(call(id));
            }
            None => {}
        }
        self.refs.insert(key.clone(), RefState::InProgress(None));
        let hir = self.compile_value(target, &key);
        let state = self.refs.remove(&key);
        let hir = hir?;
        if let Some(RefState::InProgress(Some(id))) = state {
            self.rules[id as usize] = Body::Hir(hir);
            self.refs.insert(key, RefState::Rule(id));
            return Ok(call(id));
        }
        Ok(hir)
    }

    fn check_keywords(
        &mut self,
        m: &Map<String, Value>,
        ptr: &str,
    ) -> Result<Map<String, Value>, CompileError> {
        let mut out = Map::new();
        for (k, v) in m {
            let ok = ANNOTATIONS.contains(&k.as_str())
                || (HANDLED.contains(&k.as_str())
                    && match k.as_str() {
                        "uniqueItems" => v == &Value::Bool(false),
                        "format" => v
                            .as_str()
                            .is_some_and(|f| formats::format_regex(f).is_some()),
                        _ => true,
                    });
            if ok {
                if !ANNOTATIONS.contains(&k.as_str()) || k == "$defs" || k == "definitions" {
                    out.insert(k.clone(), v.clone());
                }
            } else if self.opts.lenient {
                self.skipped.push(Skipped {
                    keyword: k.clone(),
                    pointer: ptr.to_string(),
                });
            } else {
                return Err(unsupported(k, ptr));
            }
        }
        out.remove("$defs");
        out.remove("definitions");
        Ok(out)
    }

    fn compile_map(&mut self, m: &Map<String, Value>, ptr: &str) -> Result<Hir, CompileError> {
        if self.depth >= MAX_COMPILE_DEPTH {
            // Reached through nesting in the document or through `$ref` inlining and
            // merging (a reference merged with its own referrer, for instance).
            return Err(CompileError::LimitExceeded {
                what: format!("schema nesting while compiling (at {ptr})"),
                limit: MAX_COMPILE_DEPTH,
            });
        }
        self.depth += 1;
        let result = self.compile_map_inner(m, ptr);
        self.depth -= 1;
        result
    }

    fn compile_map_inner(
        &mut self,
        m: &Map<String, Value>,
        ptr: &str,
    ) -> Result<Hir, CompileError> {
        self.burn()?;
        let mut m = self.check_keywords(m, ptr)?;
        // $ref
        if let Some(r) = m.remove("$ref") {
            let r = r
                .as_str()
                .ok_or_else(|| invalid(&child(ptr, "$ref"), "expected a string"))?;
            let (key, target) = self.resolve(r, ptr)?;
            if self.legacy || m.is_empty() {
                return self.compile_target(key, target);
            }
            if matches!(
                self.refs.get(&key),
                Some(RefState::InProgress(_)) | Some(RefState::Rule(_))
            ) {
                let a = self.compile_target(key, target)?;
                let b = self.compile_map(&m, ptr)?;
                return self.intersect(vec![a, b], "$ref", ptr);
            }
            return match merge(&m, target) {
                Some(mm) => self.compile_map(&mm, ptr),
                None => {
                    self.intersect_schemas(&[Value::Object(m.clone()), target.clone()], "$ref", ptr)
                }
            };
        }
        // allOf
        if let Some(all) = m.remove("allOf") {
            let all = all
                .as_array()
                .ok_or_else(|| invalid(&child(ptr, "allOf"), "expected an array"))?
                .clone();
            let mut merged = Some(m.clone());
            for part in &all {
                merged = merged.and_then(|acc| merge(&acc, part));
            }
            if let Some(mm) = merged {
                return self.compile_map(&mm, ptr);
            }
            let mut parts = vec![Value::Object(m.clone())];
            parts.extend(all.iter().cloned());
            return self.intersect_schemas(&parts, "allOf", ptr);
        }
        if m.contains_key("anyOf") && m.contains_key("oneOf") {
            return Err(unsupported("oneOf", ptr));
        }
        for kw in ["anyOf", "oneOf"] {
            if let Some(branches) = m.remove(kw) {
                let branches = branches
                    .as_array()
                    .ok_or_else(|| invalid(&child(ptr, kw), "expected an array"))?
                    .clone();
                let mut alts = Vec::new();
                let saved = self.no_counted;
                let saved_splice = self.splice_ok;
                self.no_counted |= kw == "oneOf";
                self.splice_ok |= kw == "oneOf";
                for (i, b) in branches.iter().enumerate() {
                    let bp = child(&child(ptr, kw), &i.to_string());
                    let hir = match merge(&m, b) {
                        Some(mm) => self.compile_map(&mm, &bp)?,
                        None => {
                            self.intersect_schemas(&[Value::Object(m.clone()), b.clone()], kw, &bp)?
                        }
                    };
                    alts.push(hir);
                }
                self.no_counted = saved;
                self.splice_ok = saved_splice;
                if kw == "oneOf" {
                    let raws = self.check_disjoint(&alts, ptr)?;
                    if !saved && raws.len() > 1 {
                        // The branches' DFAs exist already: their union as one rule
                        // spares determinizing them again inside the caller.
                        let refs: Vec<&Raw> = raws.iter().collect();
                        let union = dfa::product(
                            &refs,
                            &|b| b.iter().any(|x| *x),
                            0,
                            self.opts.limits.max_dfa_states,
                        )?;
                        return self.leaf(union);
                    }
                }
                return Ok(h::alt(alts));
            }
        }
        // enum / const
        if m.contains_key("enum") || m.contains_key("const") {
            let enum_present = m.contains_key("enum");
            let mut values: Vec<Value> = match m.remove("enum") {
                Some(Value::Array(a)) => a,
                Some(_) => return Err(invalid(&child(ptr, "enum"), "expected an array")),
                None => vec![],
            };
            if let Some(c) = m.remove("const") {
                if enum_present {
                    values.retain(|v| v == &c);
                } else {
                    values = vec![c];
                }
            }
            let type_only = m.keys().all(|k| k == "type");
            let types = self.types(&m, ptr)?;
            let lits: Vec<Hir> = values
                .iter()
                .filter(|v| {
                    let t = json_type(v);
                    types
                        .iter()
                        .any(|x| x == t || (x == "number" && t == "integer"))
                        || (t == "number"
                            && types.iter().any(|x| x == "integer")
                            && v.as_f64().is_some_and(|f| f.fract() == 0.0))
                })
                .flat_map(literal_value)
                .collect();
            if type_only {
                return self.literal_set(lits);
            }
            // Keep the spellings that the rest of the schema accepts.
            let rest = {
                let mut sub = Ctx {
                    root: self.root,
                    opts: self.opts,
                    legacy: self.legacy,
                    nested_id: self.nested_id,
                    rules: vec![Body::Pending],
                    refs: HashMap::new(),
                    skipped: Vec::new(),
                    fuel: self.fuel,
                    depth: self.depth,
                    any_rule: None,
                    no_counted: false,
                    splice_ok: false,
                    shared: [None; 3],
                    lexemes: HashMap::new(),
                    inlinable: Vec::new(),
                };
                let h = sub.compile_map(&m, ptr)?;
                self.fuel = sub.fuel;
                sub.rules[0] = Body::Hir(h);
                finish(sub)?
            };
            let kept: Vec<Hir> = lits
                .into_iter()
                .filter(|l| match l.kind() {
                    HirKind::Literal(b) => rest.accepts(&b.0).is_ok(),
                    _ => false,
                })
                .collect();
            return self.literal_set(kept);
        }
        self.compile_typed(&m, ptr)
    }

    /// Refuses `oneOf` branches that can match the same document; returns their DFAs
    /// (call-free: lexeme rules are spliced in, any other call is refused).
    fn check_disjoint(&mut self, alts: &[Hir], ptr: &str) -> Result<Vec<Raw>, CompileError> {
        let mut raws = Vec::with_capacity(alts.len());
        for a in alts {
            let mut raw = self.raw(a)?;
            if raw.calls.iter().any(|c| !c.is_empty()) {
                self.splice_lexemes(&mut raw)?;
                if raw.calls.iter().any(|c| !c.is_empty()) {
                    return Err(unsupported("oneOf", ptr));
                }
            }
            raws.push(raw);
        }
        for i in 0..raws.len() {
            for j in i + 1..raws.len() {
                let p = dfa::product(
                    &[&raws[i], &raws[j]],
                    &|b| b[0] && b[1],
                    2,
                    self.opts.limits.max_dfa_states,
                )?;
                if !p.is_empty_language() {
                    return Err(unsupported("oneOf", ptr));
                }
            }
        }
        Ok(raws)
    }

    /// A compact object with exactly the declared members (in order, optional ones may be
    /// left out) as a rule built by [`dfa::object_raw`]: each value is its own rule (a call
    /// stays as is), spliced back by `finish` when prefix-free.
    fn object_rule(&mut self, parts: &[(Vec<u8>, Hir)], req: &[bool]) -> Result<Hir, CompileError> {
        let mut members = Vec::with_capacity(parts.len());
        for ((enc, vh), &r) in parts.iter().zip(req) {
            let id = match vh.kind() {
                HirKind::Literal(l) if l.0.len() == 3 && l.0[0] == MARKER => {
                    (l.0[1] as u32) << 8 | l.0[2] as u32
                }
                _ => {
                    let id = self.new_rule(Body::Hir(vh.clone()))?;
                    self.inlinable.push(id);
                    id
                }
            };
            let mut key = enc.clone();
            key.push(b':');
            members.push((key, id, r));
        }
        let raw = dfa::object_raw(&members, self.opts.limits.max_dfa_states)?;
        let id = self.new_rule(Body::Raw(Box::new(raw)))?;
        self.inlinable.push(id);
        Ok(call(id))
    }

    /// Splices the lexeme rules `raw` calls into it (see [`dfa::splice_calls`]).
    fn splice_lexemes(&mut self, raw: &mut Raw) -> Result<(), CompileError> {
        let l = self.opts.limits;
        let mut callees: HashMap<usize, Raw> = HashMap::new();
        for &(k, _) in raw.calls.iter().flatten() {
            let k = k as usize;
            if callees.contains_key(&k) || !self.inlinable.contains(&(k as u32)) {
                continue;
            }
            let mut r = match &self.rules[k] {
                Body::Raw(r) => Raw::clone(r),
                Body::Hir(h) => dfa::from_hir(h, l.max_dfa_states, l.max_automaton_bytes)?,
                _ => continue,
            };
            if r.calls.iter().all(|c| c.is_empty()) {
                dfa::trim(&mut r, &|_| true);
                if dfa::spliceable(&r) {
                    callees.insert(k, r);
                }
            }
        }
        dfa::splice_calls(raw, &|k| callees.get(&k), l.max_dfa_states);
        Ok(())
    }

    fn types(&self, m: &Map<String, Value>, ptr: &str) -> Result<Vec<String>, CompileError> {
        let mut types: Vec<String> = match m.get("type") {
            None => TYPES.iter().map(|s| s.to_string()).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|t| t.as_str().map(String::from))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    invalid(
                        &child(ptr, "type"),
                        "expected a string or an array of strings",
                    )
                })?,
            Some(_) => {
                return Err(invalid(
                    &child(ptr, "type"),
                    "expected a string or an array of strings",
                ))
            }
        };
        for t in &types {
            if !TYPES.contains(&t.as_str()) && t != "integer" {
                return Err(invalid(&child(ptr, "type"), format!("unknown type `{t}`")));
            }
        }
        if types.iter().any(|t| t == "number") {
            types.retain(|t| t != "integer");
        }
        if m.get("nullable") == Some(&Value::Bool(true)) && !types.iter().any(|t| t == "null") {
            types.push("null".into());
        }
        Ok(types)
    }

    fn compile_typed(&mut self, m: &Map<String, Value>, ptr: &str) -> Result<Hir, CompileError> {
        let types = self.types(m, ptr)?;
        let constrained = m.keys().any(|k| k != "type" && k != "nullable");
        if types.len() == TYPES.len() && !constrained {
            return self.any();
        }
        let mut alts = Vec::new();
        for t in &types {
            alts.push(match t.as_str() {
                "null" => h::lit(b"null"),
                "boolean" => h::alt(vec![h::lit(b"true"), h::lit(b"false")]),
                "integer" => self.number(m, ptr, false)?,
                "number" => self.number(m, ptr, true)?,
                "string" => self.string(m, ptr)?,
                "array" => self.array(m, ptr)?,
                "object" => self.object(m, ptr)?,
                _ => h::fail(),
            });
        }
        Ok(h::alt(alts))
    }

    fn number(
        &mut self,
        m: &Map<String, Value>,
        ptr: &str,
        frac: bool,
    ) -> Result<Hir, CompileError> {
        let bad = |k: &str| invalid(&child(ptr, k), "expected a number");
        let mut lo: Option<(Decimal, bool)> = None;
        let mut hi: Option<(Decimal, bool)> = None;
        let tighten = |cur: &mut Option<(Decimal, bool)>, d: Decimal, excl: bool, lower: bool| {
            let replace = match cur {
                None => true,
                Some((c, ce)) => {
                    let o = d.cmp(c);
                    if lower {
                        o.is_gt() || (o.is_eq() && excl && !*ce)
                    } else {
                        o.is_lt() || (o.is_eq() && excl && !*ce)
                    }
                }
            };
            if replace {
                *cur = Some((d, excl));
            }
        };
        let draft4_excl = |k: &str| m.get(k) == Some(&Value::Bool(true));
        if let Some(v) = m.get("minimum") {
            tighten(
                &mut lo,
                num(v).ok_or_else(|| bad("minimum"))?,
                draft4_excl("exclusiveMinimum"),
                true,
            );
        }
        if let Some(v) = m.get("maximum") {
            tighten(
                &mut hi,
                num(v).ok_or_else(|| bad("maximum"))?,
                draft4_excl("exclusiveMaximum"),
                false,
            );
        }
        if let Some(v) = m.get("exclusiveMinimum") {
            if !v.is_boolean() {
                tighten(
                    &mut lo,
                    num(v).ok_or_else(|| bad("exclusiveMinimum"))?,
                    true,
                    true,
                );
            }
        }
        if let Some(v) = m.get("exclusiveMaximum") {
            if !v.is_boolean() {
                tighten(
                    &mut hi,
                    num(v).ok_or_else(|| bad("exclusiveMaximum"))?,
                    true,
                    false,
                );
            }
        }
        for (d, _) in lo.iter().chain(hi.iter()) {
            // A bound such as 1e300 would spell out hundreds of digits in the grammar.
            if d.int.len() + d.frac.len() > MAX_BOUND_DIGITS {
                return Err(CompileError::LimitExceeded {
                    what: format!("digits in a numeric bound (at {ptr})"),
                    limit: MAX_BOUND_DIGITS,
                });
            }
        }
        let mut parts = Vec::new();
        if let Some((d, e)) = &lo {
            parts.push(numeric::lower(d, *e, frac));
        }
        if let Some((d, e)) = &hi {
            parts.push(numeric::upper(d, *e, frac));
        }
        if parts.is_empty() {
            if self.no_counted {
                return Ok(number_plain(!frac));
            }
            return self.shared(if frac {
                Shared::Number
            } else {
                Shared::Integer
            });
        }
        self.intersect(parts, "minimum", ptr)
    }

    fn string(&mut self, m: &Map<String, Value>, ptr: &str) -> Result<Hir, CompileError> {
        let mut parts = Vec::new();
        if let Some(p) = m.get("pattern") {
            let p = p
                .as_str()
                .ok_or_else(|| invalid(&child(ptr, "pattern"), "expected a string"))?;
            let body = pattern_body(p).map_err(|_| unsupported("pattern", ptr))?;
            parts.push(quote(body));
        }
        if let Some(f) = m.get("format").and_then(|f| f.as_str()) {
            if let Some(id) = self.host_format(f, m)? {
                return Ok(call(id));
            }
            let re = formats::format_regex(f).ok_or_else(|| unsupported("format", ptr))?;
            let body =
                pattern_body(&format!("^(?:{re})$")).map_err(|_| unsupported("format", ptr))?;
            parts.push(quote(body));
        }
        let min = m
            .get("minLength")
            .map(|v| as_count(v, ptr, "minLength"))
            .transpose()?;
        let max = m
            .get("maxLength")
            .map(|v| as_count(v, ptr, "maxLength"))
            .transpose()?;
        if min.is_some() || max.is_some() || parts.is_empty() {
            let (lo, hi) = (min.unwrap_or(0), max);
            if hi.is_some_and(|x| x < lo) {
                return Ok(h::fail());
            }
            if parts.is_empty() && !self.no_counted && (lo > 8 || hi.is_some_and(|x| x > 8)) {
                let id = self.new_rule(Body::Counted(lo, hi))?;
                return Ok(call(id));
            }
            if parts.is_empty() && !self.no_counted && (lo > 0 || hi.is_some()) {
                // A short length range: the (count, character) DFA built directly, spliced
                // into the caller by `finish`.
                let mut unit = self.raw(&any_char())?;
                dfa::trim(&mut unit, &|_| true);
                let raw = dfa::counted_raw(&unit, lo, hi, self.opts.limits.max_dfa_states)?;
                return self.leaf(raw);
            }
            if parts.is_empty() && !self.no_counted && lo == 0 && hi.is_none() {
                return self.shared(Shared::String);
            }
            if !parts.is_empty() {
                // Length ∩ pattern/format: the length DFA is built directly, not unrolled.
                if parts.iter().any(hir_has_calls) {
                    return Err(unsupported("pattern", ptr));
                }
                let max_states = self.opts.limits.max_dfa_states;
                let mut unit = self.raw(&any_char())?;
                dfa::trim(&mut unit, &|_| true);
                let mut raws = vec![dfa::counted_raw(&unit, lo, hi, max_states)?];
                for p in &parts {
                    raws.push(self.raw(p)?);
                }
                let refs: Vec<&Raw> = raws.iter().collect();
                let p = dfa::product(&refs, &|b| b.iter().all(|x| *x), refs.len(), max_states)?;
                return self.leaf(p);
            }
            parts.push(quote(h::rep(any_char(), lo, hi)));
        }
        if parts.len() == 1 {
            let part = parts.pop().unwrap_or_else(h::fail);
            return self.lexeme(part);
        }
        self.intersect(parts, "pattern", ptr)
    }

    /// The `hostname` and `email` formats on their own (no `pattern` or length) as a
    /// lexeme rule built directly by [`dfa::host_raw`] (the same language as their regex,
    /// whose counted labels take ~0.9 ms to determinize), one rule per schema. `None`
    /// where the regex path applies (other formats, combined keywords, no calls allowed).
    fn host_format(
        &mut self,
        f: &str,
        m: &Map<String, Value>,
    ) -> Result<Option<u32>, CompileError> {
        let local_part = match f {
            "email" => true,
            "hostname" => false,
            _ => return Ok(None),
        };
        if (self.no_counted && !self.splice_ok)
            || ["pattern", "minLength", "maxLength"]
                .iter()
                .any(|k| m.contains_key(*k))
        {
            return Ok(None);
        }
        let key = format!("\0format {f}");
        if let Some(&id) = self.lexemes.get(&key) {
            return Ok(Some(id));
        }
        let raw = dfa::host_raw(local_part, formats::HOST_LABELS, formats::HOST_LABEL_LEN);
        if raw.len() > self.opts.limits.max_dfa_states {
            return Ok(None); // the regex path reports the limit
        }
        let id = self.new_rule(Body::Raw(Box::new(raw)))?;
        self.lexemes.insert(key, id);
        self.inlinable.push(id);
        Ok(Some(id))
    }

    fn array(&mut self, m: &Map<String, Value>, ptr: &str) -> Result<Hir, CompileError> {
        let mut prefix = Vec::new();
        let rest_schema: Option<(Value, String)>;
        if let Some(Value::Array(p)) = m.get("prefixItems") {
            for (i, s) in p.iter().enumerate() {
                prefix.push(
                    self.compile_value(s, &child(&child(ptr, "prefixItems"), &i.to_string()))?,
                );
            }
            rest_schema = Some((
                m.get("items").cloned().unwrap_or(Value::Bool(true)),
                child(ptr, "items"),
            ));
        } else if let Some(Value::Array(p)) = m.get("items") {
            for (i, s) in p.iter().enumerate() {
                prefix.push(self.compile_value(s, &child(&child(ptr, "items"), &i.to_string()))?);
            }
            rest_schema = Some((
                m.get("additionalItems")
                    .cloned()
                    .unwrap_or(Value::Bool(true)),
                child(ptr, "additionalItems"),
            ));
        } else {
            rest_schema = Some((
                m.get("items").cloned().unwrap_or(Value::Bool(true)),
                child(ptr, "items"),
            ));
        }
        let rest = match rest_schema {
            Some((Value::Bool(false), _)) | None => None,
            Some((v, p)) => Some(self.compile_value(&v, &p)?),
        };
        let k = prefix.len() as u32;
        let min = m
            .get("minItems")
            .map(|v| as_count(v, ptr, "minItems"))
            .transpose()?
            .unwrap_or(0);
        let mut max = m
            .get("maxItems")
            .map(|v| as_count(v, ptr, "maxItems"))
            .transpose()?;
        if rest.is_none() {
            max = Some(max.map_or(k, |x| x.min(k)));
        }
        if max.is_some_and(|x| x < min) {
            return Ok(h::fail());
        }
        // Many repetitions of a large item: make the item its own rule so the count
        // multiplies a 3-byte call instead of the item's whole automaton.
        let rest = match rest {
            Some(r)
                if !self.no_counted && (min > 8 || max.is_none_or(|x| x > 8)) && hir_big(&r) =>
            {
                let id = self.new_rule(Body::Hir(r))?;
                Some(call(id))
            }
            r => r,
        };
        let el = |i: u32| -> Hir {
            if i < k {
                prefix[i as usize].clone()
            } else {
                rest.clone().unwrap_or_else(h::fail)
            }
        };
        // tail(i): items i.. each preceded by a separator.
        let mut tail = match &rest {
            Some(r) => {
                let lo = min.saturating_sub(k.max(1));
                let hi = max.map(|x| x.saturating_sub(k.max(1)));
                h::rep(h::cat(vec![self.sep(), r.clone()]), lo, hi)
            }
            None => h::empty(),
        };
        for i in (1..k).rev() {
            let item = h::cat(vec![self.sep(), el(i), tail]);
            tail = if i < min { item } else { h::opt(item) };
        }
        let body = if max == Some(0) {
            h::empty()
        } else {
            let first = h::cat(vec![el(0), tail]);
            if min == 0 {
                h::opt(first)
            } else {
                first
            }
        };
        Ok(h::cat(vec![
            h::lit(b"["),
            self.ws(),
            body,
            self.ws(),
            h::lit(b"]"),
        ]))
    }

    fn object(&mut self, m: &Map<String, Value>, ptr: &str) -> Result<Hir, CompileError> {
        let props: Vec<(String, Value)> = match m.get("properties") {
            Some(Value::Object(p)) => p.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(_) => return Err(invalid(&child(ptr, "properties"), "expected an object")),
            None => vec![],
        };
        let required: Vec<String> = match m.get("required") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().map(String::from))
                .collect::<Option<_>>()
                .ok_or_else(|| invalid(&child(ptr, "required"), "expected an array of strings"))?,
            Some(_) => {
                return Err(invalid(
                    &child(ptr, "required"),
                    "expected an array of strings",
                ))
            }
            None => vec![],
        };
        let pats: Vec<(String, Value)> = match m.get("patternProperties") {
            Some(Value::Object(p)) => p.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(_) => {
                return Err(invalid(
                    &child(ptr, "patternProperties"),
                    "expected an object",
                ))
            }
            None => vec![],
        };
        let additional = m
            .get("additionalProperties")
            .cloned()
            .unwrap_or(Value::Bool(true));
        let min_p = m
            .get("minProperties")
            .map(|v| as_count(v, ptr, "minProperties"))
            .transpose()?
            .unwrap_or(0);
        let max_p = m
            .get("maxProperties")
            .map(|v| as_count(v, ptr, "maxProperties"))
            .transpose()?;

        // Key DFAs for each pattern (over canonical encodings).
        let mut pat_raws = Vec::new();
        for (p, _) in &pats {
            let body = pattern_body(p).map_err(|_| unsupported("patternProperties", ptr))?;
            pat_raws.push(self.raw(&quote(body))?);
        }
        // Declared properties (schema order), then required keys not declared.
        let mut declared: Vec<(String, Value, bool)> = Vec::new();
        for (k, v) in &props {
            declared.push((k.clone(), v.clone(), required.contains(k)));
        }
        for r in &required {
            if !props.iter().any(|(k, _)| k == r) && !declared.iter().any(|(k, _, _)| k == r) {
                declared.push((r.clone(), Value::Null, true));
            }
        }
        let mut members: Vec<(Hir, bool)> = Vec::new();
        // The same members as (encoded key, value).
        let mut parts: Vec<(Vec<u8>, Hir)> = Vec::new();
        for (k, v, req) in &declared {
            let enc = encode_key(k);
            let matching: Vec<Value> = pats
                .iter()
                .zip(&pat_raws)
                .filter(|(_, r)| r.run(&enc))
                .map(|((_, s), _)| s.clone())
                .collect();
            let mut schemas = Vec::new();
            if !v.is_null() {
                schemas.push(v.clone());
            }
            schemas.extend(matching.iter().cloned());
            if v.is_null() && matching.is_empty() {
                schemas.push(additional.clone());
            }
            let schema = if schemas.len() == 1 {
                schemas.pop().unwrap_or(Value::Bool(true))
            } else {
                serde_json::json!({ "allOf": schemas })
            };
            let vp = child(&child(ptr, "properties"), k);
            if schema == Value::Bool(false) && !*req {
                continue;
            }
            let vh = self.compile_value(&schema, &vp)?;
            members.push((h::cat(vec![h::lit(&enc), self.colon(), vh.clone()]), *req));
            parts.push((enc, vh));
        }
        // Extra members.
        let mut extra_alts = Vec::new();
        let any_key = || quote(h::rep(canon_char(), 0, None));
        // The key DFAs below only serve extra members (patternProperties /
        // additionalProperties): skip building them when there are none.
        let extra_keys =
            pats.iter().any(|(_, v)| v != &Value::Bool(false)) || additional != Value::Bool(false);
        let declared_raw = if declared.is_empty() || !extra_keys {
            None
        } else {
            let keys: Vec<Vec<u8>> = declared.iter().map(|(k, _, _)| encode_key(k)).collect();
            Some(dfa::from_literals(&keys, self.opts.limits.max_dfa_states)?)
        };
        for i in 0..pats.len() {
            for j in i + 1..pats.len() {
                if pats[i].1 != pats[j].1 {
                    let p = dfa::product(
                        &[&pat_raws[i], &pat_raws[j]],
                        &|b| b[0] && b[1],
                        2,
                        self.opts.limits.max_dfa_states,
                    )?;
                    if !p.is_empty_language() {
                        return Err(unsupported("patternProperties", ptr));
                    }
                }
            }
        }
        let mut key_sets: Vec<(Vec<usize>, Value, String)> = Vec::new();
        for (i, (_, v)) in pats.iter().enumerate() {
            if let Some(e) = key_sets.iter_mut().find(|(_, w, _)| w == v) {
                e.0.push(i);
            } else {
                key_sets.push((
                    vec![i],
                    v.clone(),
                    child(&child(ptr, "patternProperties"), &pats[i].0),
                ));
            }
        }
        for (idx, v, vp) in &key_sets {
            if v == &Value::Bool(false) {
                continue;
            }
            let mut parts: Vec<&Raw> = idx.iter().map(|&i| &pat_raws[i]).collect();
            let n_pat = parts.len();
            if let Some(d) = &declared_raw {
                parts.push(d);
            }
            let key = dfa::product(
                &parts,
                &|b| b[..n_pat].iter().any(|x| *x) && (b.len() == n_pat || !b[n_pat]),
                usize::from(n_pat == 1),
                self.opts.limits.max_dfa_states,
            )?;
            let kh = self.leaf(key)?;
            let vh = self.compile_value(v, vp)?;
            extra_alts.push(h::cat(vec![kh, self.colon(), vh]));
        }
        if additional != Value::Bool(false) {
            let kh = if pat_raws.is_empty() && declared_raw.is_none() {
                any_key()
            } else {
                let any_raw = self.raw(&any_key())?;
                let mut parts: Vec<&Raw> = vec![&any_raw];
                parts.extend(pat_raws.iter());
                if let Some(d) = &declared_raw {
                    parts.push(d);
                }
                let key = dfa::product(
                    &parts,
                    &|b| b[0] && !b[1..].iter().any(|x| *x),
                    1,
                    self.opts.limits.max_dfa_states,
                )?;
                self.leaf(key)?
            };
            let vh = self.compile_value(&additional, &child(ptr, "additionalProperties"))?;
            extra_alts.push(h::cat(vec![kh, self.colon(), vh]));
        }
        let extra = if extra_alts.is_empty() {
            None
        } else {
            Some(h::alt(extra_alts))
        };

        let body = if members.is_empty() {
            match &extra {
                None => {
                    if min_p > 0 {
                        return Ok(h::fail());
                    }
                    h::empty()
                }
                Some(e) => {
                    // Extra keys are not checked for duplicates, and a JSON parser keeps one
                    // of each: counting members could then over-count.
                    if min_p > 1 {
                        return Err(unsupported("minProperties", ptr));
                    }
                    if max_p.is_some_and(|x| x < min_p) {
                        return Ok(h::fail());
                    }
                    if max_p == Some(0) {
                        h::empty()
                    } else {
                        let more = h::rep(
                            h::cat(vec![self.sep(), e.clone()]),
                            min_p.saturating_sub(1),
                            max_p.map(|x| x - 1),
                        );
                        let first = h::cat(vec![e.clone(), more]);
                        if min_p == 0 {
                            h::opt(first)
                        } else {
                            first
                        }
                    }
                }
            }
        } else {
            let n_req = members.iter().filter(|(_, r)| *r).count() as u32;
            if min_p > n_req {
                return Err(unsupported("minProperties", ptr));
            }
            if max_p.is_some() {
                return Err(unsupported("maxProperties", ptr));
            }
            // Built directly, except a small object with an inline value that is not
            // prefix-free (a number enum, say): spliced values keep their tokens inside one
            // rule, such a value would stay a call. Large objects are built directly anyway
            // (determinizing their optional members is what costs).
            let direct = extra.is_none()
                && self.opts.whitespace == Whitespace::Compact
                && !self.no_counted
                && (parts.len() >= DIRECT_OBJECT_MEMBERS
                    || parts.iter().all(|(_, vh)| {
                        hir_has_calls(vh)
                            || self
                                .raw(vh)
                                .map(|mut r| {
                                    dfa::trim(&mut r, &|_| true);
                                    dfa::spliceable(&r)
                                })
                                .unwrap_or(false)
                    }));
            if direct {
                let req: Vec<bool> = members.iter().map(|(_, r)| *r).collect();
                return self.object_rule(&parts, &req);
            }
            let ext_tail = match &extra {
                Some(e) => h::rep(h::cat(vec![self.sep(), e.clone()]), 0, None),
                None => h::empty(),
            };
            let tail = |from: usize, sep: Hir| -> Hir {
                let mut v = Vec::new();
                for (mh, req) in &members[from..] {
                    let item = h::cat(vec![sep.clone(), mh.clone()]);
                    v.push(if *req { item } else { h::opt(item) });
                }
                v.push(ext_tail.clone());
                h::cat(v)
            };
            let mut alts = Vec::new();
            let mut all_opt = true;
            for (j, (mh, req)) in members.iter().enumerate() {
                alts.push(h::cat(vec![mh.clone(), tail(j + 1, self.sep())]));
                if *req {
                    all_opt = false;
                    break;
                }
            }
            if all_opt {
                if let Some(e) = &extra {
                    alts.push(h::cat(vec![e.clone(), ext_tail.clone()]));
                }
                alts.push(h::empty());
            }
            h::alt(alts)
        };
        Ok(h::cat(vec![
            h::lit(b"{"),
            self.ws(),
            body,
            self.ws(),
            h::lit(b"}"),
        ]))
    }
}

/// JSON number (`int_only`: integer form).
fn number_plain(int_only: bool) -> Hir {
    let d = || h::bytes(&[(b'0', b'9')]);
    let int = h::cat(vec![
        h::opt(h::lit(b"-")),
        h::alt(vec![
            h::lit(b"0"),
            h::cat(vec![h::bytes(&[(b'1', b'9')]), h::rep(d(), 0, None)]),
        ]),
    ]);
    if int_only {
        return int;
    }
    h::cat(vec![
        int,
        h::opt(h::cat(vec![h::lit(b"."), h::rep(d(), 1, None)])),
        h::opt(h::cat(vec![
            h::bytes(&[(b'e', b'e'), (b'E', b'E')]),
            h::opt(h::bytes(&[(b'+', b'+'), (b'-', b'-')])),
            h::rep(d(), 1, None),
        ])),
    ])
}

fn has_nested_id(v: &Value, root: bool) -> bool {
    match v {
        Value::Object(m) => {
            (!root && m.get("$id").is_some_and(|x| x.is_string()))
                || m.iter()
                    .any(|(k, x)| k != "enum" && k != "const" && has_nested_id(x, false))
        }
        Value::Array(a) => a.iter().any(|x| has_nested_id(x, false)),
        _ => false,
    }
}

fn has_ref(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.get("$ref").is_some_and(|x| x.is_string()) || m.values().any(has_ref),
        Value::Array(a) => a.iter().any(has_ref),
        _ => false,
    }
}

pub(crate) fn compile(schema: &Value, opts: &CompileOptions) -> Result<Grammar, CompileError> {
    let legacy = schema
        .get("$schema")
        .and_then(|s| s.as_str())
        .is_some_and(|s| {
            ["draft-03", "draft-04", "draft-06", "draft-07"]
                .iter()
                .any(|d| s.contains(d))
        });
    let mut cx = Ctx {
        root: schema,
        opts,
        legacy,
        nested_id: has_nested_id(schema, true) && has_ref(schema),
        rules: vec![Body::Pending],
        refs: HashMap::new(),
        skipped: Vec::new(),
        fuel: 0,
        depth: 0,
        any_rule: None,
        no_counted: false,
        splice_ok: false,
        shared: [None; 3],
        lexemes: HashMap::new(),
        inlinable: Vec::new(),
    };
    let root = cx.compile_target("#".to_string(), schema)?;
    cx.rules[0] = Body::Hir(root);
    finish(cx)
}

fn finish(mut cx: Ctx<'_>) -> Result<Grammar, CompileError> {
    let limits = cx.opts.limits;
    let mut raws = Vec::with_capacity(cx.rules.len());
    let mut counted = Vec::new();
    for (i, b) in std::mem::take(&mut cx.rules).into_iter().enumerate() {
        let raw = match b {
            Body::Counted(lo, hi) => {
                counted.push((i, lo, hi));
                // Stand-in with the same properties for the checks below (productive, no calls).
                dfa::from_hir(
                    &h::lit(b"\"\""),
                    limits.max_dfa_states,
                    limits.max_automaton_bytes,
                )?
            }
            Body::Hir(hir) => {
                dfa::from_hir(&hir, limits.max_dfa_states, limits.max_automaton_bytes)?
            }
            Body::Raw(r) => *r,
            Body::Pending => return Err(invalid("#", format!("internal: rule {i} never defined"))),
        };
        if raw.accept[raw.start as usize] {
            return Err(invalid(
                "#",
                format!("internal: rule {i} accepts the empty string"),
            ));
        }
        raws.push(raw);
    }
    // Left recursion: calls from start states must form an acyclic graph.
    let n = raws.len();
    let mut color = vec![0u8; n];
    fn visit(i: usize, raws: &[Raw], color: &mut [u8]) -> bool {
        if color[i] == 1 {
            return false;
        }
        if color[i] == 2 {
            return true;
        }
        color[i] = 1;
        let s = raws[i].start as usize;
        for &(k, _) in &raws[i].calls[s] {
            if !visit(k as usize, raws, color) {
                return false;
            }
        }
        color[i] = 2;
        true
    }
    for i in 0..n {
        if !visit(i, &raws, &mut color) {
            return Err(invalid(
                "#",
                "left-recursive $ref (a schema refers to itself without consuming input)",
            ));
        }
    }
    // Productive rules (non-empty languages), fixpoint.
    let mut productive = vec![false; n];
    loop {
        let mut changed = false;
        for i in 0..n {
            if productive[i] {
                continue;
            }
            let p = &productive;
            if dfa::start_is_live(&raws[i], &|k| p[k as usize]) {
                productive[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for r in raws.iter_mut() {
        let p = productive.clone();
        if !dfa::trim(r, &|k| p[k as usize]) {
            r.start = 0;
        }
    }
    let mut inlinable = vec![false; n];
    for &k in &cx.inlinable {
        inlinable[k as usize] = true;
    }
    for &(i, _, _) in &counted {
        inlinable[i] = false;
    }
    dfa::inline_calls(&mut raws, &inlinable, limits.max_dfa_states);
    let hot = raws
        .iter()
        .enumerate()
        .filter(|(_, r)| r.start != 0)
        .flat_map(|(i, r)| r.hot.iter().map(move |&q| (i as u32, q)))
        .collect();
    let mut rules: Vec<crate::dfa::Table> = raws.iter().map(|r| r.compress()).collect();
    if !counted.is_empty() {
        let mut unit = dfa::from_hir(
            &any_char(),
            limits.max_dfa_states,
            limits.max_automaton_bytes,
        )?;
        dfa::trim(&mut unit, &|_| true);
        let unit = unit.compress();
        for (i, lo, hi) in counted {
            rules[i] = crate::dfa::Table::counted(unit.clone(), lo, hi);
        }
    }
    Ok(Grammar {
        rules,
        skipped: cx.skipped,
        max_depth: limits.max_nesting_depth,
        max_stacks: limits.max_stacks,
        hot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_string_dfa_is_the_free_string() {
        let mut unit = dfa::from_hir(&any_char(), 10_000, 1 << 24).unwrap();
        dfa::trim(&mut unit, &|_| true);
        let direct = dfa::counted_raw(&unit, 0, None, 10_000).unwrap();
        let det = dfa::from_hir(&quote(h::rep(any_char(), 0, None)), 10_000, 1 << 24).unwrap();
        let xor = dfa::product(&[&direct, &det], &|x| x[0] != x[1], 0, 1 << 20).unwrap();
        assert!(xor.is_empty_language());
        for s in [
            &br#""""#[..],
            br#""a\"\u00e9\ud83d\ude00""#,
            "\"日本\"".as_bytes(),
        ] {
            assert!(direct.run(s), "{}", String::from_utf8_lossy(s));
        }
        for s in [&br#""\ud83d""#[..], br#""a"#, b"\"\x01\""] {
            assert!(!direct.run(s), "{}", String::from_utf8_lossy(s));
        }
    }
}
