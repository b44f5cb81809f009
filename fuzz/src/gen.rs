//! Structure-aware generation of JSON Schemas and inputs.

use serde_json::{json, Map, Number, Value};

/// SplitMix64: tiny, seedable, reproducible across platforms.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    /// A random element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TYPES: &[&str] = &[
    "object", "array", "string", "number", "integer", "boolean", "null",
];
const FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "email",
    "uuid",
    "uri",
    "ipv4",
    "ipv6",
    "hostname",
    "duration",
    "regex",
    "unknown-format",
    "",
];
const PATTERNS: &[&str] = &[
    "^[a-z]+$",
    "^\\d{3}-\\d{4}$",
    "a|b",
    "(ab)*c",
    "^$",
    ".*",
    "[",
    "(",
    "a{2,1}",
    "\\",
    "^[\\p{L}]+$",
    "(?i)abc",
    "a{1000}",
    "(a|b){0,50}",
    "^.{3,5}$",
    "\\bword\\b",
    "(?=x)",
    "[^\\x00-\\x7f]",
    "\\u00e9+",
    "^(?:[0-9a-f]{2}){1,8}$",
    "a++",
    "x{65536}",
];
const NAMES: &[&str] = &[
    "a",
    "b",
    "id",
    "name",
    "",
    "with space",
    "ü",
    "\"quoted\"",
    "\\",
    "$ref",
    "0",
];
const NUMBERS: &[f64] = &[
    0.0, 1.0, -1.0, 0.5, 2.0, 3.0, 10.0, 0.1, 1e-9, 1e9, 1e300, -1e300, 7.5, 100.0,
];
const INTS: &[i64] = &[
    0,
    1,
    2,
    3,
    5,
    -1,
    -5,
    10,
    100,
    255,
    1000,
    65_536,
    i64::MAX,
    i64::MIN,
    1 << 53,
];
const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "$ref",
    "$defs",
    "definitions",
    "patternProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
    "$id",
    "$anchor",
    "$dynamicRef",
    "title",
    "description",
    "default",
    "examples",
    "nullable",
    "x-unknown",
];

/// A random JSON value (any type), `depth` bounding nesting.
pub fn value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => match rng.below(3) {
            0 => json!(*rng.pick(INTS)),
            1 => Number::from_f64(*rng.pick(NUMBERS)).map_or(Value::Null, Value::Number),
            _ => json!(rng.next_u64() as i64 % 1000),
        },
        3 => Value::String(string(rng)),
        4 => Value::String(rng.pick(NAMES).to_string()),
        5 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                m.insert(rng.pick(NAMES).to_string(), value(rng, depth - 1));
            }
            Value::Object(m)
        }
    }
}

/// A random short string, sometimes with unusual characters.
pub fn string(rng: &mut Rng) -> String {
    const CHARS: &[char] = &[
        'a', 'z', '0', ' ', '"', '\\', '\n', 'é', '€', '😀', '\u{0}', '-', ':', '.', '@',
    ];
    (0..rng.below(8)).map(|_| *rng.pick(CHARS)).collect()
}

fn number_value(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!("not a number"),
        1 => Value::Null,
        2 | 3 => Number::from_f64(*rng.pick(NUMBERS)).map_or(json!(1), Value::Number),
        _ => json!(*rng.pick(INTS)),
    }
}

fn count_value(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => json!(-1),
        1 => json!(1.5),
        2 => json!(u64::MAX),
        3 => json!(1_000_000),
        4 => json!("3"),
        _ => json!(rng.below(6)),
    }
}

/// A random schema mixing real keywords (and sometimes invalid keyword values).
pub fn schema(rng: &mut Rng, depth: u32, defs: &[String]) -> Value {
    if depth == 0 || rng.one_in(12) {
        return match rng.below(6) {
            0 => Value::Bool(rng.one_in(2)),
            1 => json!({}),
            2 if !defs.is_empty() => json!({"$ref": format!("#/$defs/{}", rng.pick(defs))}),
            3 => json!({"$ref": "#"}),
            _ => json!({"type": rng.pick(&TYPES[2..])}),
        };
    }
    let d = depth - 1;
    let mut s = Map::new();
    match rng.below(14) {
        0 | 1 => {
            s.insert("type".into(), json!("object"));
            let mut props = Map::new();
            let mut names = Vec::new();
            for _ in 0..rng.below(5) {
                let n = rng.pick(NAMES).to_string();
                names.push(n.clone());
                props.insert(n, schema(rng, d, defs));
            }
            s.insert("properties".into(), Value::Object(props));
            if rng.one_in(2) {
                let req: Vec<Value> = names
                    .iter()
                    .filter(|_| rng.one_in(2))
                    .map(|n| json!(n))
                    .collect();
                s.insert("required".into(), Value::Array(req));
            }
            if rng.one_in(2) {
                let ap = if rng.one_in(2) {
                    json!(rng.one_in(2))
                } else {
                    schema(rng, d, defs)
                };
                s.insert("additionalProperties".into(), ap);
            }
            if rng.one_in(5) {
                s.insert(
                    "patternProperties".into(),
                    json!({ *rng.pick(PATTERNS): schema(rng, d, defs) }),
                );
            }
            if rng.one_in(6) {
                s.insert("minProperties".into(), count_value(rng));
                s.insert("maxProperties".into(), count_value(rng));
            }
            if rng.one_in(8) {
                s.insert(
                    "propertyNames".into(),
                    json!({"pattern": rng.pick(PATTERNS), "maxLength": count_value(rng)}),
                );
            }
        }
        2 | 3 => {
            s.insert("type".into(), json!("array"));
            if rng.one_in(3) {
                let p: Vec<Value> = (0..rng.below(4)).map(|_| schema(rng, d, defs)).collect();
                s.insert("prefixItems".into(), Value::Array(p));
            }
            if rng.one_in(2) {
                let items = if rng.one_in(5) {
                    json!(false)
                } else {
                    schema(rng, d, defs)
                };
                s.insert("items".into(), items);
            }
            if rng.one_in(2) {
                s.insert("minItems".into(), count_value(rng));
            }
            if rng.one_in(2) {
                s.insert("maxItems".into(), count_value(rng));
            }
            if rng.one_in(6) {
                s.insert("uniqueItems".into(), json!(rng.one_in(2)));
            }
            if rng.one_in(6) {
                s.insert("contains".into(), schema(rng, d, defs));
                s.insert("minContains".into(), count_value(rng));
            }
        }
        4 | 5 => {
            s.insert("type".into(), json!("string"));
            if rng.one_in(2) {
                s.insert("minLength".into(), count_value(rng));
            }
            if rng.one_in(2) {
                s.insert("maxLength".into(), count_value(rng));
            }
            if rng.one_in(3) {
                s.insert("pattern".into(), json!(rng.pick(PATTERNS)));
            }
            if rng.one_in(4) {
                s.insert("format".into(), json!(rng.pick(FORMATS)));
            }
        }
        6 | 7 => {
            s.insert(
                "type".into(),
                json!(if rng.one_in(2) { "integer" } else { "number" }),
            );
            for k in [
                "minimum",
                "maximum",
                "exclusiveMinimum",
                "exclusiveMaximum",
                "multipleOf",
            ] {
                if rng.one_in(3) {
                    s.insert(k.into(), number_value(rng));
                }
            }
        }
        8 => {
            let k = *rng.pick(&["anyOf", "oneOf", "allOf"]);
            let branches: Vec<Value> = (0..rng.below(4)).map(|_| schema(rng, d, defs)).collect();
            s.insert(k.into(), Value::Array(branches));
        }
        9 => {
            if rng.one_in(2) {
                let vals: Vec<Value> = (0..rng.below(5)).map(|_| value(rng, 2)).collect();
                s.insert("enum".into(), Value::Array(vals));
            } else {
                s.insert("const".into(), value(rng, 3));
            }
        }
        10 => {
            let types: Vec<Value> = (0..1 + rng.below(3))
                .map(|_| json!(rng.pick(TYPES)))
                .collect();
            s.insert("type".into(), Value::Array(types));
        }
        11 => {
            s.insert("not".into(), schema(rng, d, defs));
            if rng.one_in(2) {
                s.insert("if".into(), schema(rng, d, defs));
                s.insert("then".into(), schema(rng, d, defs));
                s.insert("else".into(), schema(rng, d, defs));
            }
        }
        12 => {
            // Definitions and references, including dangling and self references.
            let mut local = defs.to_vec();
            let mut map = Map::new();
            for i in 0..1 + rng.below(3) {
                local.push(format!("d{i}"));
            }
            for name in &local[defs.len()..] {
                map.insert(name.clone(), schema(rng, d, &local));
            }
            s.insert("$defs".into(), Value::Object(map));
            let target = match rng.below(4) {
                0 => "#/$defs/missing".to_string(),
                1 => "#".to_string(),
                2 => "http://example.com/remote.json".to_string(),
                _ => format!("#/$defs/{}", rng.pick(&local)),
            };
            s.insert("$ref".into(), json!(target));
        }
        _ => {
            // Any keyword with any value.
            for _ in 0..1 + rng.below(3) {
                let k = *rng.pick(KEYWORDS);
                let v = if rng.one_in(2) {
                    value(rng, 2)
                } else {
                    schema(rng, d, defs)
                };
                s.insert(k.into(), v);
            }
        }
    }
    if rng.one_in(10) {
        s.insert(rng.pick(KEYWORDS).to_string(), value(rng, 1));
    }
    Value::Object(s)
}

/// A schema nested `levels` deep (objects or arrays), to probe recursion limits.
pub fn deep(rng: &mut Rng, levels: usize) -> Value {
    let mut s = json!({"type": "string"});
    for _ in 0..levels {
        s = match rng.below(3) {
            0 => json!({"type": "array", "items": s}),
            1 => json!({"anyOf": [s]}),
            _ => json!({"type": "object", "properties": {"x": s}, "required": ["x"]}),
        };
    }
    s
}

/// Number of nodes in a value (for picking a mutation point).
fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

fn nth_mut<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|c| nth_mut(c, n)),
        Value::Object(o) => o.values_mut().find_map(|c| nth_mut(c, n)),
        _ => None,
    }
}

/// Applies 1–3 random structural mutations to `schema`.
pub fn mutate(rng: &mut Rng, schema: &Value) -> Value {
    let mut s = schema.clone();
    for _ in 0..1 + rng.below(3) {
        let mut n = rng.below(count(&s));
        let Some(node) = nth_mut(&mut s, &mut n) else {
            continue;
        };
        match rng.below(8) {
            0 => *node = schema_fragment(rng),
            1 => *node = value(rng, 2),
            2 => {
                if let Value::Object(o) = node {
                    if !o.is_empty() {
                        let k = o
                            .keys()
                            .nth(rng.below(o.len()))
                            .cloned()
                            .unwrap_or_default();
                        o.remove(&k);
                    }
                }
            }
            3 => {
                if let Value::Object(o) = node {
                    o.insert(rng.pick(KEYWORDS).to_string(), schema_fragment(rng));
                }
            }
            4 => *node = json!({"anyOf": [node.clone(), schema_fragment(rng)]}),
            5 => {
                if let Value::Number(_) = node {
                    *node = number_value(rng);
                } else {
                    *node = count_value(rng);
                }
            }
            6 => {
                *node =
                    json!({"type": "array", "items": node.clone(), "maxItems": count_value(rng)})
            }
            _ => {
                if let Value::String(_) = node {
                    *node = json!(rng.pick(PATTERNS));
                } else {
                    *node = json!([node.clone(), node.clone()]);
                }
            }
        }
    }
    s
}

fn schema_fragment(rng: &mut Rng) -> Value {
    schema(rng, 2, &[])
}

/// Random bytes, sometimes JSON-ish.
pub fn bytes(rng: &mut Rng) -> Vec<u8> {
    const ALPHABET: &[u8] = b"{}[]\":,0123456789-+.eEtrufalsn \\abc\n";
    let n = rng.below(40);
    if rng.one_in(2) {
        (0..n).map(|_| *rng.pick(ALPHABET)).collect()
    } else {
        (0..n).map(|_| rng.next_u64() as u8).collect()
    }
}
