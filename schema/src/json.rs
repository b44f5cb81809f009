//! [`Json<T>`]: any `serde` + `schemars` type as a [`Generable`] type.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::content::GeneratedContent;
use crate::dynamic::FORMATS;
use crate::error::DecodeError;
use crate::generator::SchemaGenerator;
use crate::Generable;

/// Adapter making any `T: schemars::JsonSchema + serde::de::DeserializeOwned`
/// generable: the schema comes from schemars (draft 2020-12), decoding goes
/// through serde.
///
/// `format` annotations schemars adds that the grammar engine does not know
/// (e.g. `uint8`, `double`) are removed; integer bounds schemars emits are kept.
/// The partial mirror is the raw [`GeneratedContent`] snapshot.
///
/// ```
/// use trellis_schema::{root_schema, Generable, GeneratedContent, Json};
///
/// #[derive(serde::Deserialize, schemars::JsonSchema, Debug, PartialEq)]
/// struct Point { x: i32, y: i32 }
///
/// let schema = root_schema::<Json<Point>>();
/// assert_eq!(schema.as_json()["required"], serde_json::json!(["x", "y"]));
/// let c: GeneratedContent = r#"{"x": 1, "y": -2}"#.parse().unwrap();
/// assert_eq!(Json::<Point>::from_content(&c).unwrap().0, Point { x: 1, y: -2 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn sanitize(v: &mut Value, self_ref: &str) {
    match v {
        Value::Object(m) => {
            m.remove("$schema");
            if let Some(Value::String(f)) = m.get("format") {
                if !FORMATS.contains(&f.as_str()) {
                    m.remove("format");
                }
            }
            if m.get("$ref").and_then(Value::as_str) == Some("#") {
                m.insert("$ref".into(), Value::String(self_ref.to_string()));
            }
            for (k, child) in m.iter_mut() {
                if !matches!(k.as_str(), "enum" | "const" | "default" | "examples") {
                    sanitize(child, self_ref);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| sanitize(c, self_ref)),
        _ => {}
    }
}

fn clean_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl<T> Generable for Json<T>
where
    T: schemars::JsonSchema + DeserializeOwned,
{
    type Partial = GeneratedContent;

    fn schema(gen: &mut SchemaGenerator) -> Value {
        let name = clean_name(&T::schema_name());
        let key = std::any::type_name::<T>();
        let inline = T::inline_schema();
        let build = |gen: &mut SchemaGenerator| {
            // schemars writes a self-reference of a recursive root as `#`; it must
            // point at this definition once embedded in a larger document.
            let def_name = gen.definition_name(key).unwrap_or(&name).to_string();
            let self_ref = SchemaGenerator::reference(&def_name)["$ref"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let root = schemars::generate::SchemaSettings::draft2020_12()
                .into_generator()
                .into_root_schema_for::<T>();
            let mut root = root.to_value();
            sanitize(&mut root, &self_ref);
            let defs = root
                .as_object_mut()
                .and_then(|m| m.remove("$defs"))
                .and_then(|d| match d {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
                .unwrap_or_default();
            for (k, v) in defs {
                gen.insert_definition(&k, v);
            }
            if let Some(m) = root.as_object_mut() {
                m.remove("title");
            }
            root
        };
        if inline {
            build(gen)
        } else {
            gen.define_type(key, &name, build)
        }
    }

    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
        serde_json::from_value(content.to_value())
            .map(Json)
            .map_err(|e| DecodeError::Custom {
                path: "$".into(),
                message: e.to_string(),
            })
    }

    fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
        content.clone()
    }

    fn schema_name() -> String {
        clean_name(&T::schema_name())
    }
}
