//! Shared test helpers: independent validation with the `jsonschema` crate.
#![allow(dead_code)]

use std::fmt::Debug;

use serde_json::Value;
use trellis_schema::{root_schema, Generable, GeneratedContent};

/// Checks `schema` against the 2020-12 meta-schema and builds a validator
/// (formats are validated too).
pub fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::meta::validate(schema)
        .unwrap_or_else(|e| panic!("not a valid JSON Schema: {e}\n{schema:#}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("validator build failed: {e}\n{schema:#}"))
}

/// `instance` (hand-written JSON of `expected`) is valid for `T`'s schema and
/// decodes back to `expected`.
pub fn roundtrip<T: Generable + PartialEq + Debug>(instance: Value, expected: T) {
    let schema = root_schema::<T>().into_json();
    let v = validator(&schema);
    if let Err(e) = v.validate(&instance) {
        panic!("instance {instance} invalid for schema {schema:#}: {e}");
    }
    let content = GeneratedContent::from(instance.clone());
    let decoded =
        T::from_content(&content).unwrap_or_else(|e| panic!("decoding {instance} failed: {e}"));
    assert_eq!(decoded, expected, "decoded value of {instance}");
}

/// `instance` is rejected by `T`'s schema.
pub fn rejected<T: Generable>(instance: Value) {
    let schema = root_schema::<T>().into_json();
    let v = validator(&schema);
    assert!(
        !v.is_valid(&instance),
        "instance {instance} should be invalid for {schema:#}"
    );
}

/// Schema of `T` equals `expected` (key order of objects is compared too for `properties`).
pub fn assert_schema<T: Generable>(expected: Value) {
    let actual = root_schema::<T>().into_json();
    assert_eq!(actual, expected, "actual schema:\n{actual:#}");
    assert_same_property_order(&actual, &expected);
    validator(&actual);
}

fn assert_same_property_order(a: &Value, b: &Value) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            if x.contains_key("properties") {
                let ka: Vec<&String> = x["properties"].as_object().unwrap().keys().collect();
                let kb: Vec<&String> = y["properties"].as_object().unwrap().keys().collect();
                assert_eq!(ka, kb, "property order");
            }
            for (k, v) in x {
                if let Some(w) = y.get(k) {
                    assert_same_property_order(v, w);
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for (v, w) in x.iter().zip(y) {
                assert_same_property_order(v, w);
            }
        }
        _ => {}
    }
}
