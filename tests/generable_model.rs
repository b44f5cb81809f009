//! Typed generation against the real bundled model: for many types covering every guide
//! kind, several prompts and seeds each, every answer must decode into the type, validate
//! against the type's JSON Schema with an independent validator (the `jsonschema` crate,
//! formats asserted), and respect every guide — with no retries.

// Some fields exist only to shape the schema; the validator checks their values.
#![allow(dead_code)]

use std::sync::OnceLock;

use futures::StreamExt;
use trellis::{
    Generable, GenerationOptions, GenerationSchema, Model, ModelOptions, Sampling, Session,
};

fn model() -> Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Model::load(
                Model::bundled_path(),
                ModelOptions {
                    context_size: 2048,
                    ..Default::default()
                },
            )
            .expect("bundled model (run `bash scripts/install-model.sh`)")
        })
        .clone()
}

const SEEDS: [u64; 2] = [1, 42];

/// Asks for a `T` for every prompt, greedily and with each seed; checks the raw JSON with
/// `jsonschema` and hands the decoded values to `check`.
async fn generate_all<T: Generable + std::fmt::Debug>(
    instructions: &str,
    prompts: &[&str],
    check: impl Fn(&T),
) {
    let schema = GenerationSchema::of::<T>();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema.as_json())
        .expect("the derived schema is a valid JSON Schema");
    let mut samplings = vec![Sampling::Greedy];
    samplings.extend(SEEDS.iter().map(|&s| Sampling::random(s)));
    for prompt in prompts {
        for sampling in &samplings {
            let session =
                Session::new(&model())
                    .instructions(instructions)
                    .options(GenerationOptions {
                        sampling: *sampling,
                        max_tokens: 400,
                    });
            let response = session
                .respond_as::<T>(*prompt)
                .await
                .unwrap_or_else(|e| panic!("{prompt:?} {sampling:?}: {e}"));
            // The raw JSON the model wrote is the last transcript response.
            let raw = last_response_text(&session);
            let json: serde_json::Value =
                serde_json::from_str(&raw).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"));
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{raw} violates the schema: {errors:?}");
            check(&response.content);
        }
    }
}

fn last_response_text(session: &Session) -> String {
    let transcript = serde_json::to_value(session.transcript()).expect("transcript serializes");
    let text = transcript.to_string();
    // Find the last entry that is a response, whatever the exact layout of an entry.
    let entries = transcript
        .get("entries")
        .and_then(|e| e.as_array())
        .cloned()
        .unwrap_or_else(|| transcript.as_array().cloned().unwrap_or_default());
    for entry in entries.iter().rev() {
        let s = entry.to_string();
        if s.to_lowercase().contains("response") {
            if let Some(t) = find_text(entry) {
                return t;
            }
        }
    }
    panic!("no response in transcript: {text}")
}

fn find_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if s.starts_with('{') || s.starts_with('[') => Some(s.clone()),
        serde_json::Value::Object(m) => m.values().find_map(find_text),
        serde_json::Value::Array(a) => a.iter().find_map(find_text),
        _ => None,
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

// ---- types, one per guide family -------------------------------------------------------

/// A recipe.
#[derive(Debug, Generable)]
struct Recipe {
    /// A short dish name.
    #[guide(description = "the dish", length = 3..=30)]
    name: String,
    #[guide(range = 1..=12)]
    servings: u8,
    #[guide(count = 2..=4, element(length = 2..=25))]
    steps: Vec<String>,
}

#[tokio::test]
async fn recipe_range_count_length_element() {
    generate_all::<Recipe>(
        "You are a chef.",
        &["Something with lentils.", "A quick breakfast."],
        |r| {
            assert!((3..=30).contains(&chars(&r.name)), "{r:?}");
            assert!((1..=12).contains(&r.servings), "{r:?}");
            assert!((2..=4).contains(&r.steps.len()), "{r:?}");
            assert!(
                r.steps.iter().all(|s| (2..=25).contains(&chars(s))),
                "{r:?}"
            );
        },
    )
    .await;
}

#[derive(Debug, Generable, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Mood {
    Happy,
    Sad,
    Angry,
}

#[derive(Debug, Generable)]
struct Classified {
    mood: Mood,
    #[guide(any_of = ["low", "medium", "high"])]
    intensity: String,
    #[guide(constant = "v1")]
    version: String,
}

#[tokio::test]
async fn unit_enum_any_of_constant() {
    generate_all::<Classified>(
        "You classify the mood of a message.",
        &["I just won the lottery!", "My cat ran away."],
        |c| {
            assert!(
                ["low", "medium", "high"].contains(&c.intensity.as_str()),
                "{c:?}"
            );
            assert_eq!(c.version, "v1");
        },
    )
    .await;
}

#[derive(Debug, Generable)]
struct Product {
    #[guide(pattern = r"^[A-Z]{3}-[0-9]{3}$")]
    sku: String,
    #[guide(minimum = 0.5, maximum = 999.0)]
    price: f64,
    #[guide(count = 2, element(length = 1..=15))]
    tags: Vec<String>,
    rating: [u8; 3],
}

#[tokio::test]
async fn pattern_min_max_exact_count_array() {
    let re = regex_lite_check;
    generate_all::<Product>(
        "You write product records.",
        &["A red umbrella.", "Noise-cancelling headphones."],
        |p| {
            assert!(re(&p.sku), "{p:?}");
            assert!((0.5..=999.0).contains(&p.price), "{p:?}");
            assert_eq!(p.tags.len(), 2, "{p:?}");
        },
    )
    .await;
}

/// `^[A-Z]{3}-[0-9]{3}$` checked by hand (no regex dependency needed).
fn regex_lite_check(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[..3].iter().all(u8::is_ascii_uppercase)
        && b[3] == b'-'
        && b[4..].iter().all(u8::is_ascii_digit)
}

#[derive(Debug, Generable)]
struct Meeting {
    #[guide(format = "date")]
    day: String,
    #[guide(format = "time")]
    starts: String,
    #[guide(format = "email", length = 5..=30)]
    organizer: String,
    #[guide(min_count = 1, max_count = 3, element(format = "email", length = 5..=30))]
    attendees: Vec<String>,
}

#[tokio::test]
async fn formats_and_min_max_count() {
    generate_all::<Meeting>(
        "You schedule meetings.",
        &["Team sync next Monday at ten with Ana and Bo."],
        |m| {
            assert!((1..=3).contains(&m.attendees.len()), "{m:?}");
            assert!(m.organizer.contains('@'), "{m:?}");
        },
    )
    .await;
}

#[derive(Debug, Generable)]
#[serde(tag = "kind")]
enum Shape {
    Circle { radius: u16 },
    Rect { width: u16, height: u16 },
}

#[derive(Debug, Generable)]
#[serde(tag = "type", content = "value")]
enum Answer {
    Number(i32),
    Word(#[guide(length = 1..=12)] String),
}

#[derive(Debug, Generable)]
struct Drawing {
    #[guide(count = 1..=3)]
    shapes: Vec<Shape>,
    answer: Answer,
    /// External tagging (serde's default).
    fallback: Option<Fallback>,
}

#[derive(Debug, Generable)]
enum Fallback {
    Nothing,
    Text(#[guide(length = 1..=10)] String),
}

#[tokio::test]
async fn tagged_adjacent_external_enums() {
    generate_all::<Drawing>(
        "You describe drawings.",
        &["Two circles and a square."],
        |d| {
            assert!((1..=3).contains(&d.shapes.len()), "{d:?}");
            if let Answer::Word(w) = &d.answer {
                assert!((1..=12).contains(&chars(w)), "{d:?}");
            }
        },
    )
    .await;
}

#[derive(Debug, Generable)]
#[serde(untagged)]
enum Value {
    Flag(bool),
    Count(u32),
}

#[derive(Debug, Generable)]
struct Settings {
    value: Value,
    letter: char,
    level: i8,
    big: u64,
    ratio: f32,
    enabled: bool,
}

#[tokio::test]
async fn untagged_char_integer_widths() {
    generate_all::<Settings>("You write configuration.", &["Settings for a game."], |s| {
        assert!((-128..=127).contains(&i16::from(s.level)), "{s:?}");
    })
    .await;
}

/// A tree: recursion through `Vec` and `Box`.
#[derive(Debug, Generable)]
struct Node {
    #[guide(length = 1..=12)]
    label: String,
    #[guide(max_count = 2)]
    children: Vec<Node>,
    /// A boxed optional field.
    parent: Option<Box<Leaf>>,
}

#[derive(Debug, Generable)]
struct Leaf {
    #[guide(length = 1..=12)]
    label: String,
}

fn depth(n: &Node) -> usize {
    1 + n.children.iter().map(depth).max().unwrap_or(0)
}

#[tokio::test]
async fn recursive_types() {
    generate_all::<Node>("You write small trees.", &["A family tree."], |n| {
        assert!(depth(n) >= 1);
        fn check(n: &Node) {
            assert!((1..=12).contains(&n.label.chars().count()), "{n:?}");
            assert!(n.children.len() <= 2, "{n:?}");
            n.children.iter().for_each(check);
            if let Some(l) = n.parent.as_deref() {
                assert!((1..=12).contains(&l.label.chars().count()), "{l:?}");
            }
        }
        check(n);
    })
    .await;
}

#[derive(Debug, Generable)]
struct Pair<T: Generable> {
    first: T,
    second: T,
}

#[derive(Debug, Generable)]
struct Wrapper(#[guide(range = -5..=5)] i16);

#[tokio::test]
async fn generics_and_newtypes() {
    generate_all::<Pair<Wrapper>>("You pick numbers.", &["Two small numbers."], |p| {
        assert!((-5..=5).contains(&p.first.0), "{p:?}");
        assert!((-5..=5).contains(&p.second.0), "{p:?}");
    })
    .await;
}

#[derive(Debug, Generable)]
struct Renamed {
    #[serde(rename = "fullName")]
    #[guide(length = 2..=20)]
    full_name: String,
    #[serde(skip)]
    internal: u32,
    #[serde(default)]
    nickname: Option<String>,
}

#[tokio::test]
async fn serde_attributes() {
    generate_all::<Renamed>(
        "You write people records.",
        &["A person called Ada."],
        |r| {
            assert!((2..=20).contains(&chars(&r.full_name)), "{r:?}");
            assert_eq!(r.internal, 0);
        },
    )
    .await;
}

#[tokio::test]
async fn dynamic_schema_and_raw_json() {
    use trellis::{DynamicProperty, DynamicSchema};
    let schema = GenerationSchema::from_dynamic(
        &DynamicSchema::object(vec![
            DynamicProperty::new("city", DynamicSchema::string().length(2, 30)),
            DynamicProperty::new("rank", DynamicSchema::integer().range(1.0, 10.0)),
        ]),
        &[],
    )
    .expect("dynamic schema");
    let session = Session::new(&model());
    let content = session
        .respond_with_schema("A big city.", &schema)
        .await
        .expect("respond_with_schema")
        .content;
    let rank = content.get("rank").and_then(|r| r.as_i64()).expect("rank");
    assert!((1..=10).contains(&rank), "{content:?}");
    let city = content.get("city").and_then(|c| c.as_str()).expect("city");
    assert!((2..=30).contains(&chars(city)));

    let raw = GenerationSchema::from_json(serde_json::json!({
        "type": "object",
        "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer", "minimum": 3, "maximum": 4}},
        "required": ["ok", "n"],
        "additionalProperties": false
    }))
    .expect("raw schema");
    let content = Session::new(&model())
        .respond_with_schema("Is water wet?", &raw)
        .await
        .expect("raw schema respond")
        .content;
    assert!(content.get("ok").and_then(|b| b.as_bool()).is_some());
    assert!((3..=4).contains(&content.get("n").and_then(|n| n.as_i64()).expect("n")));
}

#[tokio::test]
async fn unenforceable_schema_is_a_typed_error() {
    let raw = GenerationSchema::from_json(serde_json::json!({
        "type": "array", "items": {"type": "integer"}, "uniqueItems": true
    }))
    .expect("syntactically fine");
    let err = Session::new(&model())
        .respond_with_schema("Numbers.", &raw)
        .await
        .expect_err("uniqueItems cannot be enforced");
    let msg = err.to_string();
    assert!(matches!(err, trellis::Error::Schema(_)), "{err:?}");
    assert!(msg.contains("uniqueItems"), "{msg}");
}

#[tokio::test]
async fn streaming_snapshots_only_extend_and_end_at_the_value() {
    let session = Session::new(&model()).instructions("You are a chef.");
    let mut stream = session.stream_as::<Recipe>("Pancakes.");
    let mut snapshots = Vec::new();
    while let Some(s) = stream.next().await {
        snapshots.push(s.expect("snapshot"));
    }
    let text = stream.text().to_owned();
    let recipe = stream.collect().await.expect("final value");
    assert!(snapshots.len() > 3, "only {} snapshots", snapshots.len());
    // Raw snapshots only extend: each one's JSON, with open strings, is a prefix-compatible
    // growth of the previous one — checked on the name and steps.
    for pair in snapshots.windows(2) {
        let (a, b) = (&pair[0].partial, &pair[1].partial);
        if let (Some(x), Some(y)) = (&a.name, &b.name) {
            assert!(y.starts_with(x.as_str()), "name went from {x:?} to {y:?}");
        }
        if let Some(x) = &a.name {
            assert!(b.name.is_some(), "name disappeared after {x:?}");
        }
        let (sa, sb) = (
            a.steps.as_ref().map_or(0, |s| s.len()),
            b.steps.as_ref().map_or(0, |s| s.len()),
        );
        assert!(sb >= sa, "steps shrank");
    }
    let last = &snapshots.last().expect("one snapshot").partial;
    assert_eq!(last.name.as_deref(), Some(recipe.name.as_str()));
    assert_eq!(last.servings, Some(recipe.servings));
    assert_eq!(
        last.steps.as_ref().map(|s| s.len()),
        Some(recipe.steps.len())
    );
    let direct: serde_json::Value = serde_json::from_str(&text).expect("streamed text is JSON");
    assert_eq!(direct["servings"], recipe.servings);
}
