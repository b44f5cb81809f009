//! Support code for `#[derive(Generable)]`. Not public API: may change at any time.
#![doc(hidden)]

pub use serde_json;

use serde_json::{Map, Value};

use crate::content::{ContentKind, GeneratedContent};
use crate::error::DecodeError;
use crate::Generable;

/// Guide kinds (`Generable::__GUIDE_KIND`).
pub mod kind {
    /// No guides besides `description`.
    pub const OTHER: u8 = 0;
    /// String guides.
    pub const STRING: u8 = 1;
    /// Integer guides.
    pub const INTEGER: u8 = 2;
    /// Float guides.
    pub const FLOAT: u8 = 3;
    /// Collection guides.
    pub const ARRAY: u8 = 4;
    /// `char`: string guides except `length`.
    pub const CHAR: u8 = 5;

    /// Whether a field of kind `actual` accepts guides for `wanted`.
    pub const fn accepts(actual: u8, wanted: u8) -> bool {
        actual == wanted
            || (wanted == FLOAT && actual == INTEGER)
            || (wanted == STRING && actual == CHAR)
    }
}

/// Merges `guides` (an object of JSON Schema keywords; key `"__element"` holds
/// guides for the items of an array) into `schema`.
///
/// An `anyOf [X, null]` (an `Option` outside a struct field) gets the guides on
/// its non-null branches.
pub fn apply_guides(schema: &mut Value, guides: Value) {
    let Value::Object(guides) = guides else {
        return;
    };
    if let Some(Value::Array(branches)) = schema.get_mut("anyOf") {
        let has_null = branches
            .iter()
            .any(|b| b == &serde_json::json!({"type": "null"}));
        if has_null {
            let (description, rest): (Map<String, Value>, Map<String, Value>) =
                guides.into_iter().partition(|(k, _)| k == "description");
            for b in branches.iter_mut() {
                if b != &serde_json::json!({"type": "null"}) {
                    apply_guides(b, Value::Object(rest.clone()));
                }
            }
            merge(schema, description);
            return;
        }
    }
    merge(schema, guides);
}

fn merge(schema: &mut Value, guides: Map<String, Value>) {
    if !schema.is_object() {
        *schema = Value::Object(Map::new());
    }
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for (k, v) in guides {
        if k == "__element" {
            let items = obj
                .entry("items")
                .or_insert_with(|| Value::Object(Map::new()));
            apply_guides(items, v);
        } else {
            if k == "enum" || k == "const" {
                // A choice list replaces other string constraints that it implies.
                obj.remove("minLength");
                obj.remove("maxLength");
            }
            obj.insert(k, v);
        }
    }
}

/// The properties of an object node.
pub fn expect_object(
    content: &GeneratedContent,
) -> Result<&[(String, GeneratedContent)], DecodeError> {
    match content.kind() {
        ContentKind::Object(props) => Ok(props),
        _ => Err(DecodeError::type_mismatch("object", content)),
    }
}

/// The elements of an array node that must have exactly `n` of them.
pub fn expect_array(
    content: &GeneratedContent,
    n: usize,
) -> Result<&[GeneratedContent], DecodeError> {
    let items = content
        .as_array()
        .ok_or_else(|| DecodeError::type_mismatch("array", content))?;
    if items.len() != n {
        return Err(DecodeError::WrongLength {
            path: "$".into(),
            expected: n,
            found: items.len(),
        });
    }
    Ok(items)
}

/// Fails on a property not in `known`.
pub fn deny_unknown(
    props: &[(String, GeneratedContent)],
    known: &[&str],
) -> Result<(), DecodeError> {
    for (k, _) in props {
        if !known.contains(&k.as_str()) {
            return Err(DecodeError::UnknownField {
                path: "$".into(),
                field: k.clone(),
            });
        }
    }
    Ok(())
}

/// Looks a property up.
pub fn get<'a>(props: &'a [(String, GeneratedContent)], key: &str) -> Option<&'a GeneratedContent> {
    props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Decodes a required (or `Option`) field.
pub fn field<T: Generable>(
    props: &[(String, GeneratedContent)],
    key: &str,
) -> Result<T, DecodeError> {
    match get(props, key) {
        Some(v) => T::from_content(v).map_err(|e| e.in_field(key)),
        None => T::__from_missing().ok_or_else(|| DecodeError::MissingField {
            path: "$".into(),
            field: key.into(),
        }),
    }
}

/// Decodes a field with a default.
pub fn field_or<T: Generable>(
    props: &[(String, GeneratedContent)],
    key: &str,
    default: impl FnOnce() -> T,
) -> Result<T, DecodeError> {
    match get(props, key) {
        Some(v) => T::from_content(v).map_err(|e| e.in_field(key)),
        None => Ok(default()),
    }
}

/// Decodes element `i`.
pub fn element<T: Generable>(items: &[GeneratedContent], i: usize) -> Result<T, DecodeError> {
    T::from_content(&items[i]).map_err(|e| e.in_index(i))
}

/// The partial value of property `key`, if present.
pub fn partial_field<T: Generable>(content: &GeneratedContent, key: &str) -> Option<T::Partial> {
    content.get(key).map(T::partial_from_content)
}

/// The partial value of element `i`, if present.
pub fn partial_element<T: Generable>(content: &GeneratedContent, i: usize) -> Option<T::Partial> {
    content.index(i).map(T::partial_from_content)
}

/// A string node's value, or a type mismatch.
pub fn expect_str(content: &GeneratedContent) -> Result<&str, DecodeError> {
    content
        .as_str()
        .ok_or_else(|| DecodeError::type_mismatch("string", content))
}

/// The single `(key, value)` of an externally tagged enum value.
pub fn single_property(
    content: &GeneratedContent,
) -> Result<(&str, &GeneratedContent), DecodeError> {
    let props = expect_object(content)?;
    match props {
        [(k, v)] => Ok((k.as_str(), v)),
        _ => Err(DecodeError::TypeMismatch {
            path: "$".into(),
            expected: "an object with exactly one property (the variant)".into(),
            found: format!("an object with {} properties", props.len()),
        }),
    }
}

/// Unknown variant error.
pub fn unknown_variant(tag: &str) -> DecodeError {
    DecodeError::UnknownVariant {
        path: "$".into(),
        variant: tag.into(),
    }
}

/// No untagged variant matched.
pub fn no_matching_variant(type_name: &str) -> DecodeError {
    DecodeError::NoMatchingVariant {
        path: "$".into(),
        type_name: type_name.into(),
    }
}

/// Builds a `$defs` name for a generic instantiation: `Base_Arg1_Arg2`.
pub fn generic_name(base: &str, args: &[String]) -> String {
    let mut s = base.to_string();
    for a in args {
        s.push('_');
        s.push_str(a);
    }
    s
}

/// The string tag property `t` of an internally/adjacently tagged enum.
pub fn tag<'a>(props: &'a [(String, GeneratedContent)], t: &str) -> Result<&'a str, DecodeError> {
    match get(props, t) {
        Some(v) => expect_str(v).map_err(|e| e.in_field(t)),
        None => Err(DecodeError::MissingField {
            path: "$".into(),
            field: t.into(),
        }),
    }
}
