//! [`SchemaGenerator`] (collects named definitions) and [`GenerationSchema`]
//! (a complete JSON Schema document).

use std::fmt;

use serde_json::{Map, Value};

use crate::error::SchemaError;
use crate::Generable;

/// Collects the named definitions (`$defs`) while the schema of a type is built.
///
/// Named types (everything `#[derive(Generable)]` produces) put their definition
/// here once and are referenced with `{"$ref": "#/$defs/Name"}` everywhere else, so
/// recursive types terminate.
#[derive(Debug, Default, Clone)]
pub struct SchemaGenerator {
    defs: Map<String, Value>,
    /// Type identity (`std::any::type_name`) → definition name.
    owners: std::collections::HashMap<String, String>,
}

impl SchemaGenerator {
    /// An empty generator.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `$ref` schema pointing at definition `name`.
    pub fn reference(name: &str) -> Value {
        let mut m = Map::new();
        m.insert(
            "$ref".into(),
            Value::String(format!("#/$defs/{}", escape_pointer(name))),
        );
        Value::Object(m)
    }

    /// Defines `name` with the schema returned by `build` (called only the first
    /// time; a recursive call while `build` runs sees the name as already defined)
    /// and returns `{"$ref": "#/$defs/name"}`.
    pub fn define(&mut self, name: &str, build: impl FnOnce(&mut Self) -> Value) -> Value {
        if !self.defs.contains_key(name) {
            // Placeholder marks the definition as in progress (recursion).
            self.defs.insert(name.to_string(), Value::Bool(true));
            let schema = build(self);
            self.defs.insert(name.to_string(), schema);
        }
        Self::reference(name)
    }

    /// Like [`define`](Self::define), for the Rust type identified by `type_key`
    /// (use `std::any::type_name::<T>()`): a type is defined once, and two
    /// different types with the same `name` (e.g. `a::Item` and `b::Item`) get
    /// distinct definitions (`Item`, `Item_2`, ...).
    pub fn define_type(
        &mut self,
        type_key: &str,
        name: &str,
        build: impl FnOnce(&mut Self) -> Value,
    ) -> Value {
        if let Some(existing) = self.owners.get(type_key) {
            return Self::reference(existing);
        }
        let mut unique = name.to_string();
        let mut n = 1;
        while self.defs.contains_key(&unique) {
            n += 1;
            unique = format!("{name}_{n}");
        }
        self.owners.insert(type_key.to_string(), unique.clone());
        self.define(&unique, build)
    }

    /// The definition name chosen for the type identified by `type_key` by
    /// [`define_type`](Self::define_type) (available inside its `build` closure).
    pub fn definition_name(&self, type_key: &str) -> Option<&str> {
        self.owners.get(type_key).map(String::as_str)
    }

    /// Inserts a ready definition unless one with that name exists; returns
    /// whether it was inserted.
    pub fn insert_definition(&mut self, name: &str, schema: Value) -> bool {
        if self.defs.contains_key(name) {
            false
        } else {
            self.defs.insert(name.to_string(), schema);
            true
        }
    }

    /// Whether definition `name` exists (or is being built).
    pub fn contains(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// The definitions collected so far.
    pub fn definitions(&self) -> &Map<String, Value> {
        &self.defs
    }

    /// Finishes the document whose root schema is `root`.
    ///
    /// If `root` is a `$ref` to a definition that nothing else references, the
    /// definition is inlined at the root (schemars-style); otherwise the root keeps
    /// the `$ref` and the definition stays in `$defs`.
    pub fn into_schema(mut self, root: Value) -> GenerationSchema {
        let mut root = root;
        if let Some(name) = local_def_name(&root) {
            let target = format!("#/$defs/{}", escape_pointer(&name));
            let referenced = self.defs.values().any(|d| mentions_ref(d, &target));
            if !referenced {
                if let Some(def) = self.defs.shift_remove(&name) {
                    root = def;
                }
            }
        }
        let mut doc = match root {
            Value::Object(m) => m,
            Value::Bool(true) => Map::new(),
            other => {
                // `false` schema: nothing validates; keep it via `not: {}`.
                let mut m = Map::new();
                if other == Value::Bool(false) {
                    m.insert("not".into(), Value::Object(Map::new()));
                }
                m
            }
        };
        if !self.defs.is_empty() {
            doc.insert("$defs".into(), Value::Object(self.defs));
        }
        GenerationSchema {
            json: Value::Object(doc),
        }
    }
}

fn local_def_name(v: &Value) -> Option<String> {
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let r = obj.get("$ref")?.as_str()?;
    let rest = r.strip_prefix("#/$defs/")?;
    if rest.contains('/') {
        return None;
    }
    Some(rest.replace("~1", "/").replace("~0", "~"))
}

fn mentions_ref(v: &Value, target: &str) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            if k == "$ref" {
                v.as_str() == Some(target)
            } else if is_data_keyword(k) {
                false
            } else {
                mentions_ref(v, target)
            }
        }),
        Value::Array(a) => a.iter().any(|v| mentions_ref(v, target)),
        _ => false,
    }
}

fn is_data_keyword(k: &str) -> bool {
    matches!(k, "enum" | "const" | "default" | "examples")
}

/// Escapes a definition name for use in a JSON pointer.
pub(crate) fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// A complete JSON Schema document (root schema plus `$defs`) describing what a
/// model may generate.
///
/// ```
/// use serde_json::json;
/// use trellis_schema::GenerationSchema;
///
/// let s = GenerationSchema::from_json(json!({
///     "type": "object",
///     "properties": {"next": {"$ref": "#/$defs/Node"}},
///     "$defs": {"Node": {"type": "string"}}
/// })).unwrap();
/// assert_eq!(s.as_json()["properties"]["next"]["$ref"], "#/$defs/Node");
///
/// let dangling = GenerationSchema::from_json(json!({"$ref": "#/$defs/Missing"}));
/// assert!(dangling.is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationSchema {
    json: Value,
}

impl GenerationSchema {
    /// The schema of a [`Generable`] type (same as [`crate::root_schema`]).
    pub fn of<T: Generable>() -> Self {
        let mut gen = SchemaGenerator::new();
        let root = T::schema(&mut gen);
        gen.into_schema(root)
    }

    /// Accepts a raw JSON Schema. It must be an object (or `true`/`false`), and
    /// every `$ref` must be a local JSON pointer (`#`, `#/$defs/...`) that resolves
    /// inside the document.
    pub fn from_json(json: Value) -> Result<Self, SchemaError> {
        match &json {
            Value::Object(_) => {}
            Value::Bool(true) => {
                return Ok(Self {
                    json: Value::Object(Map::new()),
                })
            }
            Value::Bool(false) => {
                let mut m = Map::new();
                m.insert("not".into(), Value::Object(Map::new()));
                return Ok(Self {
                    json: Value::Object(m),
                });
            }
            other => {
                return Err(SchemaError::Invalid(format!(
                    "a schema must be an object or a boolean, found {other}"
                )))
            }
        }
        check_refs(&json, &json)?;
        Ok(Self { json })
    }

    /// Parses a raw JSON Schema from text (see [`from_json`](Self::from_json)).
    pub fn from_json_str(text: &str) -> Result<Self, SchemaError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| SchemaError::Invalid(e.to_string()))?;
        Self::from_json(v)
    }

    /// The document.
    pub fn as_json(&self) -> &Value {
        &self.json
    }

    /// Consumes the schema, returning the document.
    pub fn into_json(self) -> Value {
        self.json
    }

    /// The `$defs` of the document, if any.
    pub fn definitions(&self) -> Option<&Map<String, Value>> {
        self.json.get("$defs").and_then(Value::as_object)
    }

    /// Pretty JSON text of the document.
    pub fn to_json_string_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.json).unwrap_or_default()
    }

    /// Compact JSON text of the document.
    pub fn to_json_string(&self) -> String {
        self.json.to_string()
    }
}

impl fmt::Display for GenerationSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

impl From<GenerationSchema> for Value {
    fn from(s: GenerationSchema) -> Self {
        s.json
    }
}

fn check_refs(v: &Value, root: &Value) -> Result<(), SchemaError> {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == "$ref" {
                    let r = child
                        .as_str()
                        .ok_or_else(|| SchemaError::Invalid("`$ref` must be a string".into()))?;
                    resolve_local(r, root)?;
                } else if !is_data_keyword(k) {
                    check_refs(child, root)?;
                }
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(|c| check_refs(c, root)),
        _ => Ok(()),
    }
}

fn resolve_local<'a>(r: &str, root: &'a Value) -> Result<&'a Value, SchemaError> {
    let unresolved = || SchemaError::UnresolvedReference {
        name: r.strip_prefix("#/$defs/").unwrap_or(r).to_string(),
    };
    let pointer = r.strip_prefix('#').ok_or_else(unresolved)?;
    if pointer.is_empty() {
        return Ok(root);
    }
    root.pointer(pointer).ok_or_else(unresolved)
}
