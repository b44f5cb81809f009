extern crate trellis_schema as trellis;

mod common;

use std::collections::{BTreeMap, HashMap};

use common::{assert_schema, rejected, roundtrip, validator};
use serde_json::json;
use trellis::{root_schema, DecodeError, Generable, GeneratedContent};
use trellis_macros::Generable;

/// A person.
#[derive(Generable, Debug, PartialEq)]
struct Person {
    /// Full name.
    name: String,
    #[guide(range = 0..=150)]
    age: u8,
    nickname: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(skip)]
    cache: u32,
}

#[test]
fn named_struct_schema() {
    assert_schema::<Person>(json!({
        "description": "A person.",
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Full name."},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "nickname": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}}
        },
        "required": ["name", "age"],
        "additionalProperties": false
    }));
}

#[test]
fn named_struct_roundtrip_and_errors() {
    roundtrip(
        json!({"name": "Ada", "age": 36, "nickname": "Countess", "tags": ["math"]}),
        Person {
            name: "Ada".into(),
            age: 36,
            nickname: Some("Countess".into()),
            tags: vec!["math".into()],
            cache: 0,
        },
    );
    roundtrip(
        json!({"name": "Bob", "age": 3}),
        Person {
            name: "Bob".into(),
            age: 3,
            nickname: None,
            tags: vec![],
            cache: 0,
        },
    );
    rejected::<Person>(json!({"name": "Bob", "age": 151}));
    rejected::<Person>(json!({"name": "Bob"}));
    rejected::<Person>(json!({"name": "Bob", "age": 3, "extra": 1}));
    rejected::<Person>(json!({"name": "Bob", "age": 3, "cache": 1}));

    let missing = Person::from_content(&json!({"name": "Bob"}).into()).unwrap_err();
    assert_eq!(
        missing,
        DecodeError::MissingField {
            path: "$".into(),
            field: "age".into()
        }
    );
    let wrong = Person::from_content(&json!({"name": 5, "age": 1}).into()).unwrap_err();
    assert_eq!(wrong.path(), "$.name");
    let big = Person::from_content(&json!({"name": "x", "age": 300}).into()).unwrap_err();
    assert!(matches!(big, DecodeError::OutOfRange { .. }), "{big}");
    let unknown =
        Person::from_content(&json!({"name": "x", "age": 1, "zzz": 1}).into()).unwrap_err();
    assert!(matches!(unknown, DecodeError::UnknownField { .. }));
}

#[test]
fn primitive_schemas() {
    assert_schema::<u8>(json!({"type": "integer", "minimum": 0, "maximum": 255}));
    assert_schema::<i8>(json!({"type": "integer", "minimum": -128, "maximum": 127}));
    assert_schema::<u16>(json!({"type": "integer", "minimum": 0, "maximum": 65535}));
    assert_schema::<i32>(
        json!({"type": "integer", "minimum": -2147483648i64, "maximum": 2147483647}),
    );
    assert_schema::<u64>(json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}));
    assert_schema::<i64>(json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX}));
    assert_schema::<f64>(json!({"type": "number"}));
    assert_schema::<bool>(json!({"type": "boolean"}));
    assert_schema::<String>(json!({"type": "string"}));
    assert_schema::<char>(json!({"type": "string", "minLength": 1, "maxLength": 1}));
    assert_schema::<Option<bool>>(json!({"anyOf": [{"type": "boolean"}, {"type": "null"}]}));
    assert_schema::<Box<bool>>(json!({"type": "boolean"}));
    assert_schema::<Vec<bool>>(json!({"type": "array", "items": {"type": "boolean"}}));
    assert_schema::<[bool; 3]>(
        json!({"type": "array", "items": {"type": "boolean"}, "minItems": 3, "maxItems": 3}),
    );
    assert_schema::<HashMap<String, bool>>(
        json!({"type": "object", "additionalProperties": {"type": "boolean"}}),
    );
    assert_schema::<BTreeMap<String, u8>>(
        json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 255}}),
    );
    assert_schema::<(bool, String)>(json!({
        "type": "array",
        "prefixItems": [{"type": "boolean"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2
    }));
    assert_schema::<GeneratedContent>(json!({}));
}

#[test]
fn primitive_roundtrips() {
    roundtrip(json!(255), 255u8);
    rejected::<u8>(json!(256));
    rejected::<u8>(json!(-1));
    rejected::<i8>(json!(-129));
    roundtrip(json!(-128), -128i8);
    roundtrip(json!(1.5), 1.5f64);
    roundtrip(json!(2.5), 2.5f32);
    roundtrip(json!("é"), 'é');
    rejected::<char>(json!("ab"));
    rejected::<char>(json!(""));
    roundtrip(json!(null), None::<bool>);
    roundtrip(json!(true), Some(true));
    roundtrip(json!([1, 2, 3]), [1u8, 2, 3]);
    rejected::<[u8; 3]>(json!([1, 2]));
    roundtrip(json!([true, "x"]), (true, "x".to_string()));
    roundtrip(
        json!({"a": true, "b": false}),
        HashMap::from([("a".to_string(), true), ("b".to_string(), false)]),
    );
    roundtrip(
        json!({"k": [1, {"z": null}]}),
        GeneratedContent::from(json!({"k": [1, {"z": null}]})),
    );

    let e = <[u8; 2]>::from_content(&json!([1, 2, 3]).into()).unwrap_err();
    assert!(matches!(
        e,
        DecodeError::WrongLength {
            expected: 2,
            found: 3,
            ..
        }
    ));
    let e = char::from_content(&json!("ab").into()).unwrap_err();
    assert!(matches!(e, DecodeError::NotAChar { .. }));
    let e = Vec::<u8>::from_content(&json!([1, "x"]).into()).unwrap_err();
    assert_eq!(e.path(), "$[1]");
    assert!(u8::from_content(&json!(1.5).into()).is_err());
    assert!(f32::from_content(&json!(1e300).into()).is_err());
}

#[derive(Generable, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Mood {
    VeryHappy,
    Sad,
}

#[test]
fn unit_enum() {
    assert_schema::<Mood>(json!({"type": "string", "enum": ["very_happy", "sad"]}));
    roundtrip(json!("very_happy"), Mood::VeryHappy);
    rejected::<Mood>(json!("VeryHappy"));
    let e = Mood::from_content(&json!("Glad").into()).unwrap_err();
    assert!(matches!(e, DecodeError::UnknownVariant { .. }));
}

/// A shape.
#[derive(Generable, Debug, PartialEq)]
enum Shape {
    /// Round.
    Circle {
        radius: f64,
    },
    Square(f64),
    Point,
    Pair(i8, i8),
}

#[test]
fn externally_tagged_enum() {
    let i8s = json!({"type": "integer", "minimum": -128, "maximum": 127});
    assert_schema::<Shape>(json!({
        "description": "A shape.",
        "anyOf": [
            {
                "type": "object",
                "properties": {"Circle": {
                    "type": "object",
                    "properties": {"radius": {"type": "number"}},
                    "required": ["radius"],
                    "additionalProperties": false
                }},
                "required": ["Circle"],
                "additionalProperties": false,
                "description": "Round."
            },
            {
                "type": "object",
                "properties": {"Square": {"type": "number"}},
                "required": ["Square"],
                "additionalProperties": false
            },
            {"type": "string", "const": "Point"},
            {
                "type": "object",
                "properties": {"Pair": {
                    "type": "array",
                    "prefixItems": [i8s, i8s],
                    "minItems": 2,
                    "maxItems": 2
                }},
                "required": ["Pair"],
                "additionalProperties": false
            }
        ]
    }));
    roundtrip(
        json!({"Circle": {"radius": 1.5}}),
        Shape::Circle { radius: 1.5 },
    );
    roundtrip(json!({"Square": 2.0}), Shape::Square(2.0));
    roundtrip(json!("Point"), Shape::Point);
    roundtrip(json!({"Pair": [1, -2]}), Shape::Pair(1, -2));
    rejected::<Shape>(json!({"Pair": [1, -200]}));
    rejected::<Shape>(json!({"Circle": {"radius": 1.0}, "Square": 1.0}));
    let e = Shape::from_content(&json!({"Pair": [1, "x"]}).into()).unwrap_err();
    assert_eq!(e.path(), "$.Pair[1]");
}

#[derive(Generable, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Event {
    Click {
        x: i32,
        #[serde(rename = "Y")]
        y: i32,
    },
    Quit,
}

#[test]
fn internally_tagged_enum() {
    let i32s = json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX});
    assert_schema::<Event>(json!({
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "const": "click"},
                    "x": i32s,
                    "Y": i32s
                },
                "required": ["kind", "x", "Y"],
                "additionalProperties": false
            },
            {
                "type": "object",
                "properties": {"kind": {"type": "string", "const": "quit"}},
                "required": ["kind"],
                "additionalProperties": false
            }
        ]
    }));
    roundtrip(
        json!({"kind": "click", "x": 1, "Y": 2}),
        Event::Click { x: 1, y: 2 },
    );
    roundtrip(json!({"kind": "quit"}), Event::Quit);
    rejected::<Event>(json!({"kind": "quit", "x": 1}));
    let e = Event::from_content(&json!({"x": 1}).into()).unwrap_err();
    assert!(matches!(e, DecodeError::MissingField { ref field, .. } if field == "kind"));
}

#[derive(Generable, Debug, PartialEq)]
#[serde(tag = "t", content = "c")]
enum Msg {
    Text(String),
    Ping,
    Move { dx: i8 },
}

#[test]
fn adjacently_tagged_enum() {
    assert_schema::<Msg>(json!({
        "anyOf": [
            {
                "type": "object",
                "properties": {"t": {"type": "string", "const": "Text"}, "c": {"type": "string"}},
                "required": ["t", "c"],
                "additionalProperties": false
            },
            {
                "type": "object",
                "properties": {"t": {"type": "string", "const": "Ping"}},
                "required": ["t"],
                "additionalProperties": false
            },
            {
                "type": "object",
                "properties": {
                    "t": {"type": "string", "const": "Move"},
                    "c": {
                        "type": "object",
                        "properties": {"dx": {"type": "integer", "minimum": -128, "maximum": 127}},
                        "required": ["dx"],
                        "additionalProperties": false
                    }
                },
                "required": ["t", "c"],
                "additionalProperties": false
            }
        ]
    }));
    roundtrip(json!({"t": "Text", "c": "hi"}), Msg::Text("hi".into()));
    roundtrip(json!({"t": "Ping"}), Msg::Ping);
    roundtrip(json!({"t": "Move", "c": {"dx": -3}}), Msg::Move { dx: -3 });
    rejected::<Msg>(json!({"t": "Text"}));
    let e = Msg::from_content(&json!({"t": "Move", "c": {"dx": "no"}}).into()).unwrap_err();
    assert_eq!(e.path(), "$.c.dx");
}

#[derive(Generable, Debug, PartialEq)]
#[serde(untagged)]
enum Loose {
    Num(i64),
    Text(String),
    Obj { a: bool },
    Nothing,
}

#[test]
fn untagged_enum() {
    assert_schema::<Loose>(json!({
        "anyOf": [
            {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX},
            {"type": "string"},
            {
                "type": "object",
                "properties": {"a": {"type": "boolean"}},
                "required": ["a"],
                "additionalProperties": false
            },
            {"type": "null"}
        ]
    }));
    roundtrip(json!(5), Loose::Num(5));
    roundtrip(json!("x"), Loose::Text("x".into()));
    roundtrip(json!({"a": true}), Loose::Obj { a: true });
    roundtrip(json!(null), Loose::Nothing);
    rejected::<Loose>(json!([1]));
    let e = Loose::from_content(&json!([1]).into()).unwrap_err();
    assert!(matches!(e, DecodeError::NoMatchingVariant { .. }));
}

/// A page of items.
#[derive(Generable, Debug, PartialEq)]
struct Page<T> {
    items: Vec<T>,
    next: Option<u32>,
}

#[derive(Generable, Debug, PartialEq)]
struct TwoPages {
    numbers: Page<u8>,
    words: Page<String>,
}

#[test]
fn generics_get_distinct_definitions() {
    let u32s = json!({"type": "integer", "minimum": 0, "maximum": u32::MAX});
    assert_schema::<TwoPages>(json!({
        "type": "object",
        "properties": {
            "numbers": {"$ref": "#/$defs/Page_u8"},
            "words": {"$ref": "#/$defs/Page_String"}
        },
        "required": ["numbers", "words"],
        "additionalProperties": false,
        "$defs": {
            "Page_u8": {
                "description": "A page of items.",
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
                    "next": u32s
                },
                "required": ["items"],
                "additionalProperties": false
            },
            "Page_String": {
                "description": "A page of items.",
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"type": "string"}},
                    "next": u32s
                },
                "required": ["items"],
                "additionalProperties": false
            }
        }
    }));
    roundtrip(
        json!({"numbers": {"items": [1, 2]}, "words": {"items": ["a"], "next": 2}}),
        TwoPages {
            numbers: Page {
                items: vec![1, 2],
                next: None,
            },
            words: Page {
                items: vec!["a".into()],
                next: Some(2),
            },
        },
    );
    rejected::<TwoPages>(json!({"numbers": {"items": ["a"]}, "words": {"items": ["a"]}}));
}

#[derive(Generable, Debug, PartialEq)]
struct Tree {
    value: i8,
    children: Vec<Tree>,
}

#[derive(Generable, Debug, PartialEq)]
struct List {
    head: bool,
    tail: Option<Box<List>>,
}

#[test]
fn recursive_types_use_refs() {
    assert_schema::<Tree>(json!({
        "$ref": "#/$defs/Tree",
        "$defs": {
            "Tree": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer", "minimum": -128, "maximum": 127},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}
                },
                "required": ["value", "children"],
                "additionalProperties": false
            }
        }
    }));
    roundtrip(
        json!({"value": 1, "children": [{"value": 2, "children": []}]}),
        Tree {
            value: 1,
            children: vec![Tree {
                value: 2,
                children: vec![],
            }],
        },
    );
    rejected::<Tree>(json!({"value": 1, "children": [{"value": 2}]}));
    assert_schema::<List>(json!({
        "$ref": "#/$defs/List",
        "$defs": {
            "List": {
                "type": "object",
                "properties": {
                    "head": {"type": "boolean"},
                    "tail": {"$ref": "#/$defs/List"}
                },
                "required": ["head"],
                "additionalProperties": false
            }
        }
    }));
    roundtrip(
        json!({"head": true, "tail": {"head": false}}),
        List {
            head: true,
            tail: Some(Box::new(List {
                head: false,
                tail: None,
            })),
        },
    );
}

type ShortName = String;

#[derive(Generable, Debug, PartialEq)]
struct Guided {
    #[guide(description = "Airport code", pattern = r"^[A-Z]{3}$")]
    code: String,
    /// Ignored: the guide description wins.
    #[guide("A title")]
    #[guide(length = 1..=20)]
    title: String,
    #[guide(any_of = ["red", "green"])]
    color: String,
    #[guide(constant = "v1")]
    version: String,
    #[guide(format = "date")]
    day: String,
    #[guide(count = 3, element(length = 1..=5))]
    words: Vec<String>,
    #[guide(min_count = 1, max_count = 4)]
    scores: Vec<u8>,
    #[guide(range = -1.0..=1.0)]
    score: f64,
    #[guide(minimum = 10)]
    big: u32,
    #[guide(range = 0.0..1.0)]
    frac: f32,
    #[guide(range = 1..=5)]
    stars: Option<u8>,
    #[guide(element(range = 0..=9))]
    digits: [u8; 4],
    #[guide(pattern = "[a-z]")]
    initial: char,
    #[guide(length = 2..5)]
    alias: ShortName,
    #[guide(count = 1.., element(any_of = ["a", "b"]))]
    letters: Option<Vec<String>>,
}

#[test]
fn guides_schema() {
    assert_schema::<Guided>(json!({
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "Airport code", "pattern": "^[A-Z]{3}$"},
            "title": {"type": "string", "description": "A title", "minLength": 1, "maxLength": 20},
            "color": {"type": "string", "enum": ["red", "green"]},
            "version": {"type": "string", "const": "v1"},
            "day": {"type": "string", "format": "date"},
            "words": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 5}, "minItems": 3, "maxItems": 3},
            "scores": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}, "minItems": 1, "maxItems": 4},
            "score": {"type": "number", "minimum": -1.0, "maximum": 1.0},
            "big": {"type": "integer", "minimum": 10, "maximum": u32::MAX},
            "frac": {"type": "number", "minimum": 0.0, "exclusiveMaximum": 1.0},
            "stars": {"type": "integer", "minimum": 1, "maximum": 5},
            "digits": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "minItems": 4, "maxItems": 4},
            "initial": {"type": "string", "minLength": 1, "maxLength": 1, "pattern": "[a-z]"},
            "alias": {"type": "string", "minLength": 2, "maxLength": 4},
            "letters": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 1}
        },
        "required": ["code", "title", "color", "version", "day", "words", "scores", "score", "big", "frac", "digits", "initial", "alias"],
        "additionalProperties": false
    }));
}

fn guided_sample() -> serde_json::Value {
    json!({
        "code": "SFO", "title": "Trip", "color": "red", "version": "v1", "day": "2024-02-29",
        "words": ["a", "bb", "ccc"], "scores": [1], "score": -0.5, "big": 10, "frac": 0.25,
        "stars": 5, "digits": [0, 1, 2, 9], "initial": "q", "alias": "abcd", "letters": ["a"]
    })
}

#[test]
fn guides_validate_and_decode() {
    roundtrip(
        guided_sample(),
        Guided {
            code: "SFO".into(),
            title: "Trip".into(),
            color: "red".into(),
            version: "v1".into(),
            day: "2024-02-29".into(),
            words: vec!["a".into(), "bb".into(), "ccc".into()],
            scores: vec![1],
            score: -0.5,
            big: 10,
            frac: 0.25,
            stars: Some(5),
            digits: [0, 1, 2, 9],
            initial: 'q',
            alias: "abcd".into(),
            letters: Some(vec!["a".into()]),
        },
    );
    let bad = |k: &str, v: serde_json::Value| {
        let mut s = guided_sample();
        s[k] = v;
        rejected::<Guided>(s);
    };
    bad("code", json!("sfo"));
    bad("title", json!(""));
    bad("color", json!("blue"));
    bad("version", json!("v2"));
    bad("day", json!("29/02/2024"));
    bad("words", json!(["a", "b"]));
    bad("words", json!(["a", "b", "toolong"]));
    bad("scores", json!([]));
    bad("score", json!(1.5));
    bad("big", json!(9));
    bad("frac", json!(1.0));
    bad("stars", json!(6));
    bad("digits", json!([0, 1, 2, 10]));
    bad("initial", json!("Q"));
    bad("alias", json!("abcde"));
    bad("letters", json!([]));
    bad("letters", json!(["c"]));
}

#[derive(Generable, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[generable(crate = "::trellis_schema")]
struct Renamed {
    first_name: String,
    #[serde(rename = "LAST")]
    last_name: String,
    #[serde(default = "default_count")]
    item_count: u16,
}

fn default_count() -> u16 {
    7
}

#[test]
fn serde_renames_and_defaults() {
    let s = root_schema::<Renamed>().into_json();
    let keys: Vec<&String> = s["properties"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["firstName", "LAST", "itemCount"]);
    assert_eq!(s["required"], json!(["firstName", "LAST"]));
    validator(&s);
    roundtrip(
        json!({"firstName": "A", "LAST": "B"}),
        Renamed {
            first_name: "A".into(),
            last_name: "B".into(),
            item_count: 7,
        },
    );
    roundtrip(
        json!({"firstName": "A", "LAST": "B", "itemCount": 2}),
        Renamed {
            first_name: "A".into(),
            last_name: "B".into(),
            item_count: 2,
        },
    );
}

/// Meters.
#[derive(Generable, Debug, PartialEq)]
struct Meters(#[guide(range = 0.0..=100.0)] f64);

#[derive(Generable, Debug, PartialEq)]
struct Rgb(u8, u8, u8);

#[derive(Generable, Debug, PartialEq)]
struct Marker;

#[test]
fn tuple_newtype_and_unit_structs() {
    assert_schema::<Meters>(
        json!({"type": "number", "minimum": 0.0, "maximum": 100.0, "description": "Meters."}),
    );
    roundtrip(json!(12.5), Meters(12.5));
    rejected::<Meters>(json!(100.5));
    let u8s = json!({"type": "integer", "minimum": 0, "maximum": 255});
    assert_schema::<Rgb>(json!({
        "type": "array",
        "prefixItems": [u8s, u8s, u8s],
        "minItems": 3,
        "maxItems": 3
    }));
    roundtrip(json!([1, 2, 3]), Rgb(1, 2, 3));
    rejected::<Rgb>(json!([1, 2]));
    assert_schema::<Marker>(json!({"type": "null"}));
    roundtrip(json!(null), Marker);
}

#[derive(Generable, Debug, PartialEq)]
struct Wrapper<T, const N: usize> {
    fixed: [T; N],
}

#[test]
fn const_generics() {
    assert_eq!(Wrapper::<bool, 2>::schema_name(), "Wrapper_bool_2");
    assert_schema::<Wrapper<bool, 2>>(json!({
        "type": "object",
        "properties": {"fixed": {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 2}},
        "required": ["fixed"],
        "additionalProperties": false
    }));
    roundtrip(
        json!({"fixed": [true, false]}),
        Wrapper {
            fixed: [true, false],
        },
    );
}

#[derive(Generable, Debug, PartialEq)]
struct GenericGuided<T> {
    #[guide(length = 1..=3)]
    label: T,
}

#[test]
fn guides_on_generic_fields_apply_after_instantiation() {
    assert_schema::<GenericGuided<String>>(json!({
        "type": "object",
        "properties": {"label": {"type": "string", "minLength": 1, "maxLength": 3}},
        "required": ["label"],
        "additionalProperties": false
    }));
    roundtrip(
        json!({"label": "abc"}),
        GenericGuided {
            label: "abc".to_string(),
        },
    );
    rejected::<GenericGuided<String>>(json!({"label": "abcd"}));
}

#[derive(Generable, Debug, PartialEq)]
struct MaybeCode(#[guide(pattern = "^[a-z]+$", description = "code")] Option<String>);

#[derive(Generable, Debug, PartialEq)]
struct Lists {
    #[guide(element(length = 2..=2))]
    pairs: Vec<Option<String>>,
    set: std::collections::BTreeSet<u8>,
}

#[test]
fn guides_reach_through_option_outside_fields() {
    assert_schema::<MaybeCode>(json!({
        "anyOf": [{"type": "string", "pattern": "^[a-z]+$"}, {"type": "null"}],
        "description": "code"
    }));
    roundtrip(json!(null), MaybeCode(None));
    roundtrip(json!("abc"), MaybeCode(Some("abc".into())));
    rejected::<MaybeCode>(json!("ABC"));
    assert_schema::<Lists>(json!({
        "type": "object",
        "properties": {
            "pairs": {"type": "array", "items": {"anyOf": [{"type": "string", "minLength": 2, "maxLength": 2}, {"type": "null"}]}},
            "set": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}}
        },
        "required": ["pairs", "set"],
        "additionalProperties": false
    }));
    roundtrip(
        json!({"pairs": ["ab", null], "set": [3, 1, 3]}),
        Lists {
            pairs: vec![Some("ab".into()), None],
            set: [1u8, 3].into_iter().collect(),
        },
    );
    rejected::<Lists>(json!({"pairs": ["abc"], "set": []}));
}

mod first {
    use trellis_macros::Generable;
    #[derive(Generable, Debug, PartialEq)]
    pub struct Item {
        pub a: bool,
    }
}

mod second {
    use trellis_macros::Generable;
    #[derive(Generable, Debug, PartialEq)]
    pub struct Item {
        pub b: String,
    }
}

#[derive(Generable, Debug, PartialEq)]
struct SameNames {
    x: first::Item,
    y: second::Item,
    z: first::Item,
}

#[test]
fn same_named_types_get_distinct_definitions() {
    let s = root_schema::<SameNames>().into_json();
    assert_eq!(s["properties"]["x"], json!({"$ref": "#/$defs/Item"}));
    assert_eq!(s["properties"]["y"], json!({"$ref": "#/$defs/Item_2"}));
    assert_eq!(s["properties"]["z"], json!({"$ref": "#/$defs/Item"}));
    assert_eq!(s["$defs"]["Item"]["required"], json!(["a"]));
    assert_eq!(s["$defs"]["Item_2"]["required"], json!(["b"]));
    roundtrip(
        json!({"x": {"a": true}, "y": {"b": "s"}, "z": {"a": false}}),
        SameNames {
            x: first::Item { a: true },
            y: second::Item { b: "s".into() },
            z: first::Item { a: false },
        },
    );
    rejected::<SameNames>(json!({"x": {"a": true}, "y": {"a": true}, "z": {"a": false}}));
}
