//! `--canonical`: move object keys into schema property order.
//!
//! Best effort, following the schema alongside the instance: local `$ref`s (`#`, `#/...`),
//! `properties` (merged over `allOf`), `additionalProperties`, `prefixItems`/`items`, and
//! for `anyOf`/`oneOf` the first branch whose declared `type` fits the value. Keys the
//! schema does not list keep their instance order after the listed ones.

use serde_json::{Map, Value};

/// Resolves a local JSON pointer reference (`#` or `#/a/b`) against `root`.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

/// Follows `$ref` chains (bounded, so cycles end).
fn deref<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| resolve(root, r))
        {
            Some(t) => s = t,
            None => break,
        }
    }
    s
}

fn type_fits(schema: &Value, value: &Value) -> bool {
    let fits = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    };
    match schema.get("type") {
        Some(Value::String(t)) => fits(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(fits),
        _ => true,
    }
}

/// The schema node to follow for `value`, after `$ref` and `anyOf`/`oneOf` selection.
fn select<'a>(root: &'a Value, schema: &'a Value, value: &Value) -> &'a Value {
    let s = deref(root, schema);
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = s.get(key).and_then(Value::as_array) {
            if let Some(b) = branches
                .iter()
                .map(|b| deref(root, b))
                .find(|b| type_fits(b, value))
            {
                return select(root, b, value);
            }
        }
    }
    s
}

/// `properties` of `schema` and of its `allOf` members, in order.
fn properties<'a>(
    root: &'a Value,
    schema: &'a Value,
    out: &mut Vec<(&'a str, &'a Value)>,
    depth: u32,
) {
    if depth > 16 {
        return;
    }
    let s = deref(root, schema);
    if let Some(p) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in p {
            if !out.iter().any(|(name, _)| name == k) {
                out.push((k.as_str(), v));
            }
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            properties(root, sub, out, depth + 1);
        }
    }
}

fn walk(root: &Value, schema: Option<&Value>, value: &Value, depth: u32) -> Value {
    if depth > 256 {
        return value.clone();
    }
    let schema = schema.map(|s| select(root, s, value));
    match value {
        Value::Object(obj) => {
            let mut props = Vec::new();
            if let Some(s) = schema {
                properties(root, s, &mut props, 0);
            }
            let additional = schema
                .and_then(|s| s.get("additionalProperties"))
                .filter(|a| a.is_object());
            let mut out = Map::new();
            for (name, sub) in &props {
                if let Some(v) = obj.get(*name) {
                    out.insert((*name).to_owned(), walk(root, Some(sub), v, depth + 1));
                }
            }
            for (k, v) in obj {
                if !out.contains_key(k) {
                    out.insert(k.clone(), walk(root, additional, v, depth + 1));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let prefix = schema
                .and_then(|s| s.get("prefixItems"))
                .and_then(Value::as_array);
            let rest = schema
                .and_then(|s| s.get("items"))
                .filter(|i| i.is_object());
            Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let sub = prefix.and_then(|p| p.get(i)).or(rest);
                        walk(root, sub, v, depth + 1)
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// `value` with object keys moved into the property order of `schema`.
pub fn canonicalize(value: &Value, schema: &Value) -> Value {
    walk(schema, Some(schema), value, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reorders_nested_objects_through_refs_and_arrays() {
        let schema = json!({
            "$defs": {"p": {"type": "object", "properties": {"x": {}, "y": {}}}},
            "type": "object",
            "properties": {
                "list": {"type": "array", "items": {"$ref": "#/$defs/p"}},
                "id": {"type": "integer"},
                "any": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"m": {}, "n": {}}}]}
            }
        });
        let v = json!({"extra": 1, "id": 3, "any": {"n": 1, "m": 2}, "list": [{"y": 1, "x": 2}]});
        let c = canonicalize(&v, &schema);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"list":[{"x":2,"y":1}],"id":3,"any":{"m":2,"n":1},"extra":1}"#
        );
    }
}
