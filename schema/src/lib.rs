//! Typed values and JSON Schemas for guided generation.
//!
//! * [`Generable`]: a type a model can generate (derive it with
//!   `#[derive(Generable)]` from `trellis-macros`; the `trellis` crate re-exports both);
//! * [`GenerationSchema`]: a complete JSON Schema document, from a type
//!   ([`root_schema`]), built at run time ([`DynamicSchema`]) or raw JSON;
//! * [`GeneratedContent`]: the ordered JSON tree a model produced;
//! * [`PartialJsonParser`]: incremental parsing of streamed output into
//!   snapshots, decoded with [`Generable::partial_from_content`];
//! * [`Json`]: any `serde` + `schemars` type as a generable type (feature `schemars`).

#![warn(missing_docs)]

// Lets `#[derive(Generable)]` (which emits `::trellis::...` paths) work inside this crate.
extern crate self as trellis;

#[doc(hidden)]
pub mod __private;
mod content;
mod dynamic;
mod error;
mod generable;
mod generator;
#[cfg(feature = "schemars")]
mod json;
mod partial;

pub use content::{ContentKind, GeneratedContent};
pub use dynamic::{DynamicProperty, DynamicSchema, FORMATS};
pub use error::{ContentError, DecodeError, PartialJsonError, SchemaError};
pub use generable::{root_schema, Generable};
pub use generator::{GenerationSchema, SchemaGenerator};
#[cfg(feature = "schemars")]
pub use json::Json;
pub use partial::PartialJsonParser;

#[cfg(test)]
mod tests {
    // The derive emits `::trellis::...` paths; `extern crate self as trellis`
    // makes them resolve inside this crate.
    use crate::{root_schema, Generable, GeneratedContent, PartialJsonParser};
    use serde_json::json;
    use trellis_macros::Generable;

    /// A verdict, written after the evidence.
    #[derive(Generable, Debug, PartialEq)]
    struct Review {
        evidence: Vec<String>,
        #[guide(range = 1..=5)]
        score: u8,
    }

    #[test]
    fn derive_works_inside_the_crate() {
        let s = root_schema::<Review>();
        assert_eq!(s.as_json()["properties"]["score"]["maximum"], 5);
        let keys: Vec<&String> = s.as_json()["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["evidence", "score"]);
        let c = GeneratedContent::from(json!({"evidence": ["ok"], "score": 4}));
        assert_eq!(
            Review::from_content(&c).unwrap(),
            Review {
                evidence: vec!["ok".into()],
                score: 4
            }
        );
        let mut p = PartialJsonParser::new();
        p.push(r#"{"evidence": ["o"#).unwrap();
        let partial = Review::partial_from_content(&p.snapshot());
        assert_eq!(partial.evidence, Some(vec!["o".to_string()]));
        assert_eq!(partial.score, None);
    }
}
