#![cfg(feature = "schemars")]
extern crate trellis_schema as trellis;

mod common;

use common::validator;
use serde::Deserialize;
use serde_json::json;
use trellis::{root_schema, DecodeError, Generable, GeneratedContent, Json};
use trellis_macros::Generable;

/// A point.
#[derive(Deserialize, schemars::JsonSchema, Debug, PartialEq)]
struct Point {
    x: u8,
    y: f64,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, PartialEq)]
struct Node {
    label: String,
    children: Vec<Node>,
}

#[derive(Generable, Debug, PartialEq)]
struct Mixed {
    name: String,
    at: Json<Point>,
}

#[test]
fn schemars_schema_is_used() {
    let s = root_schema::<Json<Point>>().into_json();
    assert_eq!(s["type"], "object");
    assert_eq!(s["required"], json!(["x", "y"]));
    assert_eq!(s["properties"]["x"]["maximum"], 255);
    // `uint8` / `double` are not formats the grammar knows: removed.
    assert!(s["properties"]["x"].get("format").is_none());
    assert!(s["properties"]["y"].get("format").is_none());
    assert!(s.get("$schema").is_none());
    let v = validator(&s);
    assert!(v.is_valid(&json!({"x": 1, "y": 2.5})));
    assert!(!v.is_valid(&json!({"x": 300, "y": 2.5})));
    let p = Json::<Point>::from_content(&json!({"x": 1, "y": 2.5}).into()).unwrap();
    assert_eq!(p.into_inner(), Point { x: 1, y: 2.5 });
    let e = Json::<Point>::from_content(&json!({"x": "a"}).into()).unwrap_err();
    assert!(matches!(e, DecodeError::Custom { .. }));
}

#[test]
fn recursive_schemars_type_and_mixing_with_derive() {
    let s = root_schema::<Json<Node>>().into_json();
    let v = validator(&s);
    assert!(v.is_valid(&json!({"label": "a", "children": [{"label": "b", "children": []}]})));
    assert!(!v.is_valid(&json!({"label": "a", "children": [{"label": 1, "children": []}]})));

    let s = root_schema::<Mixed>().into_json();
    assert_eq!(s["properties"]["at"]["$ref"], "#/$defs/Point");
    assert_eq!(s["$defs"]["Point"]["required"], json!(["x", "y"]));
    let v = validator(&s);
    let inst = json!({"name": "n", "at": {"x": 3, "y": 0.5}});
    assert!(v.is_valid(&inst));
    let m = Mixed::from_content(&GeneratedContent::from(inst)).unwrap();
    assert_eq!(m.at.0, Point { x: 3, y: 0.5 });
    let partial = Mixed::partial_from_content(&json!({"name": "n", "at": {"x": 3}}).into());
    assert_eq!(
        partial.at.unwrap().get("x").and_then(|x| x.as_u64()),
        Some(3)
    );
}
