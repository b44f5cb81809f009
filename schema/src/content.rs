//! [`GeneratedContent`]: the ordered JSON tree a model generates.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Number, Value};

use crate::error::ContentError;

/// The value of one node of a [`GeneratedContent`] tree.
#[derive(Clone, Debug, PartialEq)]
pub enum ContentKind {
    /// JSON `null`.
    Null,
    /// JSON `true` / `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string (for an incomplete node: the prefix generated so far).
    String(String),
    /// A JSON array, in order.
    Array(Vec<GeneratedContent>),
    /// A JSON object: properties in the order they were generated.
    Object(Vec<(String, GeneratedContent)>),
}

/// Generated content: an ordered JSON tree.
///
/// This is what a model produces when it answers with a schema. Properties keep
/// the order in which they were generated. Content coming from the incremental
/// parser ([`crate::PartialJsonParser`]) may be *incomplete*: an unfinished
/// string, array or object is present with what has been generated so far and
/// [`is_complete`](Self::is_complete) returns `false` for it (and for every
/// ancestor).
///
/// ```
/// use trellis_schema::GeneratedContent;
///
/// let c: GeneratedContent = r#"{"name": "Ada", "age": 36, "tags": ["x"]}"#.parse().unwrap();
/// assert_eq!(c.get("name").and_then(|n| n.as_str()), Some("Ada"));
/// assert_eq!(c.get("age").and_then(|n| n.as_i64()), Some(36));
/// let keys: Vec<&str> = c.properties().unwrap().map(|(k, _)| k).collect();
/// assert_eq!(keys, ["name", "age", "tags"]);
/// assert!(c.is_complete());
/// assert_eq!(c.to_json_string(), r#"{"name":"Ada","age":36,"tags":["x"]}"#);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedContent {
    kind: ContentKind,
    complete: bool,
}

impl GeneratedContent {
    /// A complete node with the given value. Children keep their own completeness.
    pub fn new(kind: ContentKind) -> Self {
        Self {
            kind,
            complete: true,
        }
    }

    /// A node with explicit completeness (used by the incremental parser).
    pub fn with_completeness(kind: ContentKind, complete: bool) -> Self {
        Self { kind, complete }
    }

    /// JSON `null`.
    pub fn null() -> Self {
        Self::new(ContentKind::Null)
    }

    /// A string node.
    pub fn string(s: impl Into<String>) -> Self {
        Self::new(ContentKind::String(s.into()))
    }

    /// A boolean node.
    pub fn bool(b: bool) -> Self {
        Self::new(ContentKind::Bool(b))
    }

    /// A number node.
    pub fn number(n: impl Into<Number>) -> Self {
        Self::new(ContentKind::Number(n.into()))
    }

    /// A number node from a float; `None` if `f` is NaN or infinite (not representable in JSON).
    pub fn from_f64(f: f64) -> Option<Self> {
        Number::from_f64(f).map(Self::number)
    }

    /// An array node.
    pub fn array(items: Vec<GeneratedContent>) -> Self {
        Self::new(ContentKind::Array(items))
    }

    /// An object node with properties in the given order.
    pub fn object(props: Vec<(String, GeneratedContent)>) -> Self {
        Self::new(ContentKind::Object(props))
    }

    /// The value of this node.
    pub fn kind(&self) -> &ContentKind {
        &self.kind
    }

    /// Consumes the node, returning its value.
    pub fn into_kind(self) -> ContentKind {
        self.kind
    }

    /// `false` while this node (or something inside it) is still being generated.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, ContentKind::Null)
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ContentKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean value, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            ContentKind::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_number(&self) -> Option<&Number> {
        match &self.kind {
            ContentKind::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The value as `i64`, if this is an integer number that fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The value as `u64`, if this is a non-negative integer number that fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }

    /// The value as `f64`, if this is a number (integers are converted).
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().and_then(Number::as_f64)
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[GeneratedContent]> {
        match &self.kind {
            ContentKind::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The properties in generation order, if this is an object.
    pub fn properties(&self) -> Option<impl Iterator<Item = (&str, &GeneratedContent)> + '_> {
        match &self.kind {
            ContentKind::Object(props) => Some(props.iter().map(|(k, v)| (k.as_str(), v))),
            _ => None,
        }
    }

    /// The value of property `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&GeneratedContent> {
        match &self.kind {
            ContentKind::Object(props) => props.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Element `index`, if this is an array that long.
    pub fn index(&self, index: usize) -> Option<&GeneratedContent> {
        self.as_array().and_then(|a| a.get(index))
    }

    /// A short name of this node's JSON type (`"string"`, `"object"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ContentKind::Null => "null",
            ContentKind::Bool(_) => "boolean",
            ContentKind::Number(_) => "number",
            ContentKind::String(_) => "string",
            ContentKind::Array(_) => "array",
            ContentKind::Object(_) => "object",
        }
    }

    /// Converts to a [`serde_json::Value`] (property order is kept).
    pub fn to_value(&self) -> Value {
        match &self.kind {
            ContentKind::Null => Value::Null,
            ContentKind::Bool(b) => Value::Bool(*b),
            ContentKind::Number(n) => Value::Number(n.clone()),
            ContentKind::String(s) => Value::String(s.clone()),
            ContentKind::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            ContentKind::Object(props) => {
                let mut map = Map::new();
                for (k, v) in props {
                    map.insert(k.clone(), v.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// Compact JSON text of this content (an incomplete node is written as what it holds so far).
    pub fn to_json_string(&self) -> String {
        self.to_value().to_string()
    }

    /// Parses complete JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, ContentError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ContentError::InvalidJson(e.to_string()))?;
        Ok(Self::from(value))
    }
}

impl From<Value> for GeneratedContent {
    fn from(value: Value) -> Self {
        let kind = match value {
            Value::Null => ContentKind::Null,
            Value::Bool(b) => ContentKind::Bool(b),
            Value::Number(n) => ContentKind::Number(n),
            Value::String(s) => ContentKind::String(s),
            Value::Array(items) => ContentKind::Array(items.into_iter().map(Self::from).collect()),
            Value::Object(map) => {
                ContentKind::Object(map.into_iter().map(|(k, v)| (k, Self::from(v))).collect())
            }
        };
        Self::new(kind)
    }
}

impl From<GeneratedContent> for Value {
    fn from(c: GeneratedContent) -> Self {
        c.to_value()
    }
}

impl From<&GeneratedContent> for Value {
    fn from(c: &GeneratedContent) -> Self {
        c.to_value()
    }
}

impl FromStr for GeneratedContent {
    type Err = ContentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_json_str(s)
    }
}

impl fmt::Display for GeneratedContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

impl Default for GeneratedContent {
    /// An *incomplete* `null`: nothing generated yet.
    fn default() -> Self {
        Self::with_completeness(ContentKind::Null, false)
    }
}

impl serde::Serialize for GeneratedContent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for GeneratedContent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from)
    }
}
