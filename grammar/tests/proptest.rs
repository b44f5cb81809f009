//! Property tests: random valid instances are accepted; random single-byte mutations are
//! accepted exactly when an independent hand-written validator (serde_json parse +
//! explicit checks, canonical compact text only) says the result is valid.

use proptest::prelude::*;
use serde_json::{json, Value};
use trellis_grammar::{CompileOptions, Grammar};

fn flat_schema() -> Value {
    json!({"type":"object","properties":{
        "a":{"type":"integer","minimum":-5,"maximum":100},
        "b":{"type":"string","maxLength":12},
        "c":{"type":"array","items":{"type":"boolean"},"maxItems":3},
        "d":{"enum":["x","yz",null]}},
      "required":["a"],"additionalProperties":false})
}

/// Independent validator for `flat_schema` on canonical compact text. `None`: the text is
/// JSON but not in the canonical compact form (whitespace, escapes, duplicates...).
fn flat_valid(bytes: &[u8]) -> Option<bool> {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return Some(false);
    };
    if serde_json::to_vec(&v).ok()? != bytes {
        return None;
    }
    let Value::Object(o) = v else {
        return Some(false);
    };
    let order = ["a", "b", "c", "d"];
    let mut last = -1i32;
    for k in o.keys() {
        let Some(i) = order.iter().position(|x| x == k) else {
            return Some(false);
        };
        if (i as i32) <= last {
            return Some(false);
        }
        last = i as i32;
    }
    let a_ok = o
        .get("a")
        .and_then(|a| a.as_i64())
        .is_some_and(|a| (-5..=100).contains(&a));
    let b_ok = o
        .get("b")
        .is_none_or(|b| b.as_str().is_some_and(|s| s.chars().count() <= 12));
    let c_ok = o.get("c").is_none_or(|c| {
        c.as_array()
            .is_some_and(|a| a.len() <= 3 && a.iter().all(|x| x.is_boolean()))
    });
    let d_ok = o
        .get("d")
        .is_none_or(|d| [json!("x"), json!("yz"), Value::Null].contains(d));
    Some(a_ok && b_ok && c_ok && d_ok)
}

fn flat_instance() -> impl Strategy<Value = Value> {
    let chars = prop::sample::select(vec![
        'a', 'Z', '"', '\\', '\n', 'é', '日', ' ', '/', '\u{1}',
    ]);
    (
        -5i64..=100,
        prop::option::of(prop::collection::vec(chars, 0..=12)),
        prop::option::of(prop::collection::vec(any::<bool>(), 0..=3)),
        prop::option::of(prop::sample::select(vec![
            json!("x"),
            json!("yz"),
            Value::Null,
        ])),
    )
        .prop_map(|(a, b, c, d)| {
            let mut m = serde_json::Map::new();
            m.insert("a".into(), json!(a));
            if let Some(b) = b {
                m.insert("b".into(), json!(b.into_iter().collect::<String>()));
            }
            if let Some(c) = c {
                m.insert("c".into(), json!(c));
            }
            if let Some(d) = d {
                m.insert("d".into(), d);
            }
            Value::Object(m)
        })
}

fn tree_schema() -> Value {
    json!({"$defs":{"n":{"type":"object","properties":{
        "v":{"type":"number","exclusiveMinimum":-1.5,"maximum":2.25},
        "k":{"type":"array","items":{"$ref":"#/$defs/n"},"maxItems":2}},
      "required":["v"],"additionalProperties":false}},"$ref":"#/$defs/n"})
}

fn tree_ok(v: &Value) -> bool {
    let Value::Object(o) = v else { return false };
    let keys: Vec<&String> = o.keys().collect();
    if !(keys == ["v"] || keys == ["v", "k"]) {
        return false;
    }
    let v_ok = o["v"].as_f64().is_some_and(|x| x > -1.5 && x <= 2.25);
    let k_ok = o.get("k").is_none_or(|k| {
        k.as_array()
            .is_some_and(|a| a.len() <= 2 && a.iter().all(tree_ok))
    });
    v_ok && k_ok
}

fn tree_valid(bytes: &[u8]) -> Option<bool> {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return Some(false);
    };
    let canon = serde_json::to_vec(&v).ok()?;
    if canon != bytes || bytes.contains(&b'e') || bytes.contains(&b'E') {
        return None;
    }
    Some(tree_ok(&v))
}

fn tree_instance() -> impl Strategy<Value = Value> {
    let leaf = (-1499i64..=2250).prop_map(|x| json!({ "v": x as f64 / 1000.0 }));
    leaf.prop_recursive(4, 16, 2, |inner| {
        ((-1499i64..=2250), prop::collection::vec(inner, 0..=2))
            .prop_map(|(x, k)| json!({ "v": x as f64 / 1000.0, "k": k }))
    })
}

fn run(
    schema: Value,
    inst: Value,
    idx: usize,
    byte: u8,
    valid: fn(&[u8]) -> Option<bool>,
) -> Result<(), TestCaseError> {
    let g = Grammar::from_json_schema(&schema, &CompileOptions::default()).unwrap();
    let text = serde_json::to_vec(&inst).unwrap();
    prop_assert_eq!(valid(&text), Some(true));
    prop_assert!(
        g.accepts(&text).is_ok(),
        "valid instance rejected: {}",
        String::from_utf8_lossy(&text)
    );
    let mut m = text.clone();
    let i = idx % m.len();
    m[i] = byte;
    if let Some(v) = valid(&m) {
        prop_assert_eq!(
            g.accepts(&m).is_ok(),
            v,
            "mutation {}",
            String::from_utf8_lossy(&m)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn flat_object_instances_and_mutations(inst in flat_instance(), idx in 0usize..1000, byte in prop::sample::select(b"{}[]\",:0123456789-.aexyz\\ tnulfr".to_vec())) {
        run(flat_schema(), inst, idx, byte, flat_valid)?;
    }

    #[test]
    fn recursive_tree_instances_and_mutations(inst in tree_instance(), idx in 0usize..1000, byte in prop::sample::select(b"{}[]\",:0123456789-.kv ".to_vec())) {
        run(tree_schema(), inst, idx, byte, tree_valid)?;
    }
}
