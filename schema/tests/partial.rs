extern crate trellis_schema as trellis;

use serde_json::json;
use trellis::{ContentKind, Generable, GeneratedContent, PartialJsonError, PartialJsonParser};
use trellis_macros::Generable;

const DOCS: &[&str] = &[
    r#"{"name": "Ada Lovelace", "age": 36, "langs": ["en", "fr"], "alive": false, "note": null}"#,
    r#"[1, -2.5e3, 0, [], {}, [[true]], {"a": {"b": {"c": "deep"}}}]"#,
    "{\n  \"esc\": \"quote \\\" backslash \\\\ nl \\n tab \\t u \\u00e9 pair \\ud83d\\ude00 slash \\/\",\n  \"unicode\": \"日本語 ✓\"\n}",
    r#"  "just a string"  "#,
    r#"{"nested": [{"x": 1, "y": [2, 3]}, {"x": 10, "y": []}], "last": 1.0}"#,
    "true",
    r#"[null, false, true, 123456789012345]"#,
];

/// `prev` ⊑ `cur`: everything shown in `prev` is still shown in `cur`, extended.
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

#[test]
fn every_prefix_gives_an_extending_snapshot() {
    for doc in DOCS {
        let expected =
            GeneratedContent::from(serde_json::from_str::<serde_json::Value>(doc).unwrap());
        let mut p = PartialJsonParser::new();
        let mut prev = p.snapshot();
        assert!(!prev.is_complete());
        let mut buf = [0u8; 4];
        for (i, c) in doc.char_indices() {
            p.push(c.encode_utf8(&mut buf)).unwrap();
            let snap = p.snapshot();
            assert!(
                extends(&prev, &snap),
                "doc {doc:?} at byte {i}: {prev:?} is not extended by {snap:?}"
            );
            // Never show more than the final value.
            assert!(
                extends(&snap, &expected) || snap == expected,
                "doc {doc:?} at {i}: {snap:?}"
            );
            prev = snap;
        }
        let done = p.finish().unwrap();
        assert_eq!(done, expected, "{doc}");
        assert!(done.is_complete());
        assert_eq!(p.bytes_processed(), doc.len());
    }
}

#[test]
fn chunking_does_not_matter() {
    for doc in DOCS {
        let expected =
            GeneratedContent::from(serde_json::from_str::<serde_json::Value>(doc).unwrap());
        for chunk in [2usize, 3, 7, 64] {
            let mut p = PartialJsonParser::new();
            let mut reference = PartialJsonParser::new();
            let chars: Vec<char> = doc.chars().collect();
            for piece in chars.chunks(chunk) {
                let s: String = piece.iter().collect();
                p.push(&s).unwrap();
                for c in piece {
                    reference.push(&c.to_string()).unwrap();
                }
                assert_eq!(p.snapshot(), reference.snapshot());
            }
            assert_eq!(p.finish().unwrap(), expected);
        }
    }
}

#[test]
fn snapshot_semantics() {
    let mut p = PartialJsonParser::new();
    p.push(r#"{"a": "he"#).unwrap();
    let s = p.snapshot();
    assert_eq!(s.get("a").unwrap().as_str(), Some("he"));
    assert!(!s.get("a").unwrap().is_complete());
    p.push(r#"llo", "b"#).unwrap();
    // unfinished key: not shown; finished string: complete
    let s = p.snapshot();
    assert_eq!(s.properties().unwrap().count(), 1);
    assert!(s.get("a").unwrap().is_complete());
    p.push(r#"": "#).unwrap();
    assert!(p.snapshot().get("b").is_none(), "value not started yet");
    p.push("12").unwrap();
    assert!(
        p.snapshot().get("b").is_none(),
        "number in progress is hidden"
    );
    p.push("3, \"c\": [tr").unwrap();
    let s = p.snapshot();
    assert_eq!(s.get("b").unwrap().as_i64(), Some(123));
    assert_eq!(
        s.get("c").unwrap().as_array().unwrap().len(),
        0,
        "literal in progress is hidden"
    );
    p.push("ue]}").unwrap();
    assert!(p.is_complete());
    assert_eq!(
        p.snapshot().to_value(),
        json!({"a": "hello", "b": 123, "c": [true]})
    );
}

#[test]
fn top_level_number_completes_at_finish() {
    let mut p = PartialJsonParser::new();
    p.push("-4").unwrap();
    p.push("2.5").unwrap();
    assert!(!p.is_complete());
    assert!(p.snapshot().is_null());
    assert_eq!(p.finish().unwrap().as_f64(), Some(-42.5));
}

#[test]
fn errors_are_typed_and_poison() {
    let mut p = PartialJsonParser::new();
    p.push(r#"{"a": 1"#).unwrap();
    let e = p.push(" ]").unwrap_err();
    assert!(
        matches!(
            e,
            PartialJsonError::Unexpected {
                offset: 8,
                found: ']',
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(p.push("}"), Err(PartialJsonError::Poisoned(_))));

    let mut p = PartialJsonParser::new();
    assert!(matches!(
        p.push(r#""\x""#),
        Err(PartialJsonError::InvalidEscape { offset: 2 })
    ));

    let mut p = PartialJsonParser::new();
    assert!(matches!(
        p.push(r#""\udc00""#),
        Err(PartialJsonError::InvalidEscape { .. })
    ));

    let mut p = PartialJsonParser::new();
    p.push("[1, 2]").unwrap();
    assert!(matches!(
        p.push(" x"),
        Err(PartialJsonError::TrailingCharacters { offset: 7 })
    ));

    let mut p = PartialJsonParser::new();
    p.push("[01]").unwrap_err();

    let mut p = PartialJsonParser::new();
    p.push("{\"a\": [").unwrap();
    assert_eq!(p.finish(), Err(PartialJsonError::Incomplete));

    let mut p = PartialJsonParser::new();
    assert!(p.push("{1: 2}").is_err());
    let mut p = PartialJsonParser::new();
    assert!(p.push("[tru ").is_err());
    let mut p = PartialJsonParser::new();
    assert!(
        p.push("\"a\nb\"").is_err(),
        "raw control character in a string"
    );
}

#[test]
fn work_is_linear_in_input_length() {
    // ~1 MB document pushed in small deltas: the parser must look at each byte a
    // bounded number of times (a re-parsing parser would take O(n^2) steps).
    let mut doc = String::from("[");
    for i in 0..20_000 {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!(
            r#"{{"id": {i}, "name": "item \"{i}\"", "tags": ["a", "b"], "ok": true}}"#
        ));
    }
    doc.push(']');
    let mut p = PartialJsonParser::new();
    let bytes = doc.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let mut end = (start + 5).min(bytes.len());
        while !doc.is_char_boundary(end) {
            end += 1;
        }
        p.push(&doc[start..end]).unwrap();
        start = end;
    }
    assert_eq!(p.bytes_processed(), doc.len());
    assert!(
        p.steps() <= 2 * doc.len(),
        "steps {} for {} bytes",
        p.steps(),
        doc.len()
    );
    assert!(p.steps() >= doc.chars().count());
    let done = p.finish().unwrap();
    assert_eq!(done.as_array().unwrap().len(), 20_000);
    assert_eq!(
        done.index(19_999).unwrap().get("name").unwrap().as_str(),
        Some("item \"19999\"")
    );
}

// ---- partial mirrors of derived types ----

#[derive(Generable, Debug, PartialEq)]
struct Step {
    text: String,
    minutes: u32,
}

#[derive(Generable, Debug, PartialEq)]
struct Recipe {
    title: String,
    steps: Vec<Step>,
    tags: Option<Vec<String>>,
    #[serde(skip)]
    internal: u8,
    servings: u8,
}

#[test]
fn derived_partials_follow_the_stream() {
    let doc = r#"{"title": "Pancakes", "steps": [{"text": "Mix", "minutes": 5}, {"text": "Fry", "minutes": 10}], "tags": ["sweet"], "servings": 4}"#;
    let mut p = PartialJsonParser::new();
    let mut seen_title_prefix = false;
    let mut seen_step_text_only = false;
    let mut prev = RecipePartial::default();
    for (i, c) in doc.char_indices() {
        p.push(&c.to_string()).unwrap();
        let part = Recipe::partial_from_content(&p.snapshot());
        if part.title.as_deref() == Some("Pan") {
            seen_title_prefix = true;
            assert_eq!(part.steps, None);
        }
        if let Some(steps) = &part.steps {
            if steps.len() == 1
                && steps[0].text.as_deref() == Some("Mix")
                && steps[0].minutes.is_none()
            {
                seen_step_text_only = true;
            }
        }
        // Fields never disappear.
        if prev.title.is_some() {
            assert!(part.title.is_some(), "at {i}");
        }
        if let Some(ps) = &prev.steps {
            assert!(part.steps.as_ref().unwrap().len() >= ps.len());
        }
        prev = part;
    }
    assert!(seen_title_prefix && seen_step_text_only);
    let last = Recipe::partial_from_content(&p.finish().unwrap());
    assert_eq!(
        last,
        RecipePartial {
            title: Some("Pancakes".into()),
            steps: Some(vec![
                StepPartial {
                    text: Some("Mix".into()),
                    minutes: Some(5)
                },
                StepPartial {
                    text: Some("Fry".into()),
                    minutes: Some(10)
                },
            ]),
            tags: Some(vec!["sweet".into()]),
            servings: Some(4),
        }
    );
    let full = Recipe::from_content(&p.finish().unwrap()).unwrap();
    assert_eq!(full.servings, 4);
    assert_eq!(full.internal, 0);
}

#[derive(Generable, Debug, PartialEq)]
enum Action {
    Wait,
    Go { to: String, speed: u8 },
    Say(String),
}

#[derive(Generable, Debug, PartialEq)]
#[serde(tag = "type")]
enum Tagged {
    Go { to: String },
    Stop,
}

#[derive(Generable, Debug, PartialEq)]
#[serde(tag = "t", content = "c")]
enum Adj {
    Say(String),
    Stop,
}

fn partial_of<T: Generable>(text: &str) -> T::Partial {
    let mut p = PartialJsonParser::new();
    p.push(text).unwrap();
    T::partial_from_content(&p.snapshot())
}

#[test]
fn enum_partials() {
    assert_eq!(partial_of::<Action>(r#""Wa"#), None, "unfinished tag");
    assert_eq!(partial_of::<Action>(r#""Wait""#), Some(ActionPartial::Wait));
    assert_eq!(
        partial_of::<Action>(r#"{"Go": {"to": "Par"#),
        Some(ActionPartial::Go {
            to: Some("Par".into()),
            speed: None
        })
    );
    assert_eq!(
        partial_of::<Action>(r#"{"Say": "hel"#),
        Some(ActionPartial::Say(Some("hel".into())))
    );
    assert_eq!(partial_of::<Action>(r#"{"Go"#), None);

    assert_eq!(partial_of::<Tagged>(r#"{"type": "G"#), None);
    assert_eq!(
        partial_of::<Tagged>(r#"{"type": "Go", "to": "x"#),
        Some(TaggedPartial::Go {
            to: Some("x".into())
        })
    );
    assert_eq!(partial_of::<Tagged>(r#"{"type": "Stop"#), None);
    assert_eq!(
        partial_of::<Tagged>(r#"{"type": "Stop"}"#),
        Some(TaggedPartial::Stop)
    );

    assert_eq!(
        partial_of::<Adj>(r#"{"t": "Say", "#),
        Some(AdjPartial::Say(None))
    );
    assert_eq!(
        partial_of::<Adj>(r#"{"t": "Say", "c": "ab"#),
        Some(AdjPartial::Say(Some("ab".into())))
    );
}

#[derive(Generable, Debug, PartialEq)]
#[serde(untagged)]
enum Either {
    Named { first: String, second: u8 },
    Other { zzz: bool },
    Number(u32),
    Nothing,
}

#[test]
fn untagged_partials_pick_a_matching_variant() {
    assert_eq!(
        partial_of::<Either>(r#"{"first": "A"#),
        Some(EitherPartial::Named {
            first: Some("A".into()),
            second: None
        })
    );
    assert_eq!(
        partial_of::<Either>(r#"{"zzz": tr"#),
        Some(EitherPartial::Named {
            first: None,
            second: None
        })
    );
    assert_eq!(
        partial_of::<Either>(r#"{"zzz": true"#),
        Some(EitherPartial::Other { zzz: Some(true) })
    );
    assert_eq!(partial_of::<Either>("null"), Some(EitherPartial::Nothing));
    let mut p = PartialJsonParser::new();
    p.push("17").unwrap();
    let done = p.finish().unwrap();
    assert_eq!(
        Either::partial_from_content(&done),
        Some(EitherPartial::Number(Some(17)))
    );
    assert_eq!(Either::from_content(&done).unwrap(), Either::Number(17));
}
