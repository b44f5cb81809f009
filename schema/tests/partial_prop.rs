//! Property tests: the incremental parser on random JSON documents split into
//! random deltas.
extern crate trellis_schema as trellis;

use proptest::prelude::*;
use serde_json::Value;
use trellis::{ContentKind, GeneratedContent, PartialJsonParser};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z\"\\\\é]{0,5}", inner), 0..6)
                .prop_map(|kv| { Value::Object(kv.into_iter().collect()) }),
        ]
    })
}

fn extends(prev: &GeneratedContent, cur: &GeneratedContent) -> bool {
    if prev.is_null() && !prev.is_complete() {
        return true;
    }
    if prev.is_complete() {
        return prev == cur;
    }
    match (prev.kind(), cur.kind()) {
        (ContentKind::String(a), ContentKind::String(b)) => b.starts_with(a.as_str()),
        (ContentKind::Array(a), ContentKind::Array(b)) => {
            a.len() <= b.len() && a.iter().zip(b).all(|(x, y)| extends(x, y))
        }
        (ContentKind::Object(a), ContentKind::Object(b)) => {
            a.len() <= b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && extends(va, vb))
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_documents_random_deltas(v in json_value(), pretty in any::<bool>(), cuts in prop::collection::vec(1usize..12, 1..40)) {
        let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
        let expected = GeneratedContent::from(v);
        let chars: Vec<char> = text.chars().collect();
        let mut p = PartialJsonParser::new();
        let mut prev = p.snapshot();
        let mut i = 0;
        let mut k = 0;
        while i < chars.len() {
            let n = cuts[k % cuts.len()];
            k += 1;
            let end = (i + n).min(chars.len());
            let piece: String = chars[i..end].iter().collect();
            p.push(&piece).unwrap();
            let snap = p.snapshot();
            prop_assert!(extends(&prev, &snap), "{:?} not extended by {:?}", prev, snap);
            prop_assert!(extends(&snap, &expected) || snap == expected);
            prev = snap;
            i = end;
        }
        prop_assert_eq!(p.finish().unwrap(), expected);
        prop_assert_eq!(p.bytes_processed(), text.len());
        prop_assert!(p.steps() <= 2 * text.len());
    }
}
