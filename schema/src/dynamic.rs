//! [`DynamicSchema`]: generation schemas built at run time.

use std::collections::HashSet;

use serde_json::{json, Map, Number, Value};

use crate::error::SchemaError;
use crate::generator::{GenerationSchema, SchemaGenerator};

/// A schema built at run time (for bindings and for shapes only known at run
/// time), like Apple's `DynamicGenerationSchema`.
///
/// Build the root and any named dependencies, then call
/// [`GenerationSchema::from_dynamic`]. Misuse (a pattern on a number, min > max,
/// a reference to nothing, ...) is reported there as a [`SchemaError`].
///
/// ```
/// use trellis_schema::{DynamicProperty, DynamicSchema, GenerationSchema, SchemaError};
///
/// let person = DynamicSchema::object(vec![
///     DynamicProperty::new("name", DynamicSchema::string().length(1, 40)),
///     DynamicProperty::new("age", DynamicSchema::integer().range(0.0, 150.0)).description("Age in years"),
///     DynamicProperty::new("pet", DynamicSchema::reference("Pet")).optional(),
/// ])
/// .named("Person");
/// let pet = DynamicSchema::choices(["cat", "dog"]).named("Pet");
///
/// let schema = GenerationSchema::from_dynamic(&person, &[pet]).unwrap();
/// assert_eq!(schema.as_json()["required"], serde_json::json!(["name", "age"]));
/// assert_eq!(schema.as_json()["$defs"]["Pet"]["enum"], serde_json::json!(["cat", "dog"]));
///
/// let err = GenerationSchema::from_dynamic(&person, &[]).unwrap_err();
/// assert_eq!(err, SchemaError::UnresolvedReference { name: "Pet".into() });
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicSchema {
    name: Option<String>,
    description: Option<String>,
    kind: Kind,
    minimum: Option<f64>,
    maximum: Option<f64>,
    min_count: Option<usize>,
    max_count: Option<usize>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<String>,
    format: Option<String>,
    misuse: Option<(&'static str, &'static str)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Object(Vec<DynamicProperty>),
    Array(Box<DynamicSchema>),
    String,
    Choices(Vec<String>),
    Integer,
    Number,
    Boolean,
    Null,
    Reference(String),
    AnyOf(Vec<DynamicSchema>),
    Raw(Value),
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Object(_) => "object",
            Kind::Array(_) => "array",
            Kind::String => "string",
            Kind::Choices(_) => "choices",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::Null => "null",
            Kind::Reference(_) => "reference",
            Kind::AnyOf(_) => "anyOf",
            Kind::Raw(_) => "raw",
        }
    }
}

/// One property of a [`DynamicSchema::object`]: required unless
/// [`optional`](Self::optional).
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicProperty {
    name: String,
    description: Option<String>,
    schema: DynamicSchema,
    optional: bool,
}

impl DynamicProperty {
    /// A required property.
    pub fn new(name: impl Into<String>, schema: DynamicSchema) -> Self {
        Self {
            name: name.into(),
            description: None,
            schema,
            optional: false,
        }
    }

    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }

    /// Makes the property optional (it may be left out).
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

impl DynamicSchema {
    fn of(kind: Kind) -> Self {
        Self {
            name: None,
            description: None,
            kind,
            minimum: None,
            maximum: None,
            min_count: None,
            max_count: None,
            min_length: None,
            max_length: None,
            pattern: None,
            format: None,
            misuse: None,
        }
    }

    /// An object whose properties are generated in the given order.
    pub fn object(properties: Vec<DynamicProperty>) -> Self {
        Self::of(Kind::Object(properties))
    }
    /// An array of `item`.
    pub fn array(item: DynamicSchema) -> Self {
        Self::of(Kind::Array(Box::new(item)))
    }
    /// Any string.
    pub fn string() -> Self {
        Self::of(Kind::String)
    }
    /// One of the given strings.
    pub fn choices<S: Into<String>>(choices: impl IntoIterator<Item = S>) -> Self {
        Self::of(Kind::Choices(choices.into_iter().map(Into::into).collect()))
    }
    /// An integer.
    pub fn integer() -> Self {
        Self::of(Kind::Integer)
    }
    /// A number.
    pub fn number() -> Self {
        Self::of(Kind::Number)
    }
    /// A boolean.
    pub fn boolean() -> Self {
        Self::of(Kind::Boolean)
    }
    /// `null`.
    pub fn null() -> Self {
        Self::of(Kind::Null)
    }
    /// A reference to the named schema `name` (a dependency, or any named schema
    /// in the tree).
    pub fn reference(name: impl Into<String>) -> Self {
        Self::of(Kind::Reference(name.into()))
    }
    /// Any of the given schemas (`anyOf`).
    pub fn any_of(schemas: Vec<DynamicSchema>) -> Self {
        Self::of(Kind::AnyOf(schemas))
    }
    /// A raw JSON Schema fragment, used as is (its local `$ref`s must resolve
    /// in the final document).
    pub fn raw(schema: Value) -> Self {
        Self::of(Kind::Raw(schema))
    }

    /// Names the schema: it becomes a `$defs` entry others can
    /// [`reference`](Self::reference).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }

    fn only(mut self, guide: &'static str, ok: bool) -> Self {
        if !ok && self.misuse.is_none() {
            self.misuse = Some((guide, self.kind.name()));
        }
        self
    }
    fn is_numeric(&self) -> bool {
        matches!(self.kind, Kind::Integer | Kind::Number)
    }
    fn is_string(&self) -> bool {
        matches!(self.kind, Kind::String)
    }
    fn is_array(&self) -> bool {
        matches!(self.kind, Kind::Array(_))
    }

    /// Inclusive numeric bounds (integers and numbers).
    pub fn range(self, min: f64, max: f64) -> Self {
        self.minimum(min).maximum(max)
    }
    /// Inclusive lower bound (integers and numbers).
    pub fn minimum(mut self, min: f64) -> Self {
        self.minimum = Some(min);
        let ok = self.is_numeric();
        self.only("minimum", ok)
    }
    /// Inclusive upper bound (integers and numbers).
    pub fn maximum(mut self, max: f64) -> Self {
        self.maximum = Some(max);
        let ok = self.is_numeric();
        self.only("maximum", ok)
    }
    /// Exactly `n` elements (arrays).
    pub fn count(self, n: usize) -> Self {
        self.min_count(n).max_count(n)
    }
    /// At least `n` elements (arrays).
    pub fn min_count(mut self, n: usize) -> Self {
        self.min_count = Some(n);
        let ok = self.is_array();
        self.only("min_count", ok)
    }
    /// At most `n` elements (arrays).
    pub fn max_count(mut self, n: usize) -> Self {
        self.max_count = Some(n);
        let ok = self.is_array();
        self.only("max_count", ok)
    }
    /// Length bounds in characters (strings).
    pub fn length(mut self, min: usize, max: usize) -> Self {
        self.min_length = Some(min);
        self.max_length = Some(max);
        let ok = self.is_string();
        self.only("length", ok)
    }
    /// A regular expression the whole string must match (strings).
    pub fn pattern(mut self, pattern: impl Into<String>) -> Self {
        self.pattern = Some(pattern.into());
        let ok = self.is_string();
        self.only("pattern", ok)
    }
    /// A `format` (strings): `date`, `date-time`, `time`, `email`, `uuid`, `uri`,
    /// `ipv4`, `ipv6`, `hostname`, `duration`.
    pub fn format(mut self, format: impl Into<String>) -> Self {
        self.format = Some(format.into());
        let ok = self.is_string();
        self.only("format", ok)
    }

    /// This schema's name, if [`named`](Self::named).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// Formats accepted by `format` guides.
pub const FORMATS: &[&str] = &[
    "date",
    "date-time",
    "time",
    "email",
    "uuid",
    "uri",
    "ipv4",
    "ipv6",
    "hostname",
    "duration",
];

struct Builder {
    gen: SchemaGenerator,
    named: HashSet<String>,
}

fn number_value(f: f64, integer: bool, context: &str) -> Result<Value, SchemaError> {
    if !f.is_finite() {
        return Err(SchemaError::NonFinite {
            context: context.into(),
        });
    }
    if integer && f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Ok(Value::Number(Number::from(f as i64)));
    }
    Ok(Value::Number(Number::from_f64(f).ok_or_else(|| {
        SchemaError::NonFinite {
            context: context.into(),
        }
    })?))
}

fn check_bounds<T: PartialOrd + ToString>(
    min: Option<T>,
    max: Option<T>,
    context: &str,
) -> Result<(), SchemaError> {
    if let (Some(a), Some(b)) = (min, max) {
        if a > b {
            return Err(SchemaError::InvalidBounds {
                context: context.into(),
                min: a.to_string(),
                max: b.to_string(),
            });
        }
    }
    Ok(())
}

impl Builder {
    fn convert(&mut self, s: &DynamicSchema) -> Result<Value, SchemaError> {
        if let Some((guide, kind)) = s.misuse {
            return Err(SchemaError::InapplicableGuide {
                guide: guide.into(),
                kind: kind.into(),
            });
        }
        match &s.name {
            Some(name) => {
                if !self.named.insert(name.clone()) {
                    return Err(SchemaError::DuplicateDefinition { name: name.clone() });
                }
                let body = self.body(s)?;
                self.gen.insert_definition(name, body);
                Ok(SchemaGenerator::reference(name))
            }
            None => self.body(s),
        }
    }

    fn body(&mut self, s: &DynamicSchema) -> Result<Value, SchemaError> {
        let mut m = Map::new();
        if let Some(d) = &s.description {
            m.insert("description".into(), d.clone().into());
        }
        match &s.kind {
            Kind::Object(props) => {
                m.insert("type".into(), "object".into());
                let mut properties = Map::new();
                let mut required = Vec::new();
                for p in props {
                    if properties.contains_key(&p.name) {
                        return Err(SchemaError::DuplicateProperty {
                            name: p.name.clone(),
                        });
                    }
                    let mut v = self.convert(&p.schema)?;
                    if let (Some(d), Some(obj)) = (&p.description, v.as_object_mut()) {
                        obj.insert("description".into(), d.clone().into());
                    }
                    properties.insert(p.name.clone(), v);
                    if !p.optional {
                        required.push(Value::String(p.name.clone()));
                    }
                }
                m.insert("properties".into(), Value::Object(properties));
                m.insert("required".into(), Value::Array(required));
                m.insert("additionalProperties".into(), false.into());
            }
            Kind::Array(item) => {
                m.insert("type".into(), "array".into());
                m.insert("items".into(), self.convert(item)?);
                check_bounds(s.min_count, s.max_count, "count")?;
                if let Some(n) = s.min_count {
                    m.insert("minItems".into(), n.into());
                }
                if let Some(n) = s.max_count {
                    m.insert("maxItems".into(), n.into());
                }
            }
            Kind::String => {
                m.insert("type".into(), "string".into());
                check_bounds(s.min_length, s.max_length, "length")?;
                if let Some(n) = s.min_length {
                    m.insert("minLength".into(), n.into());
                }
                if let Some(n) = s.max_length {
                    m.insert("maxLength".into(), n.into());
                }
                if let Some(p) = &s.pattern {
                    regex_syntax::Parser::new().parse(p).map_err(|e| {
                        SchemaError::InvalidPattern {
                            pattern: p.clone(),
                            message: e.to_string(),
                        }
                    })?;
                    m.insert("pattern".into(), p.clone().into());
                }
                if let Some(f) = &s.format {
                    if !FORMATS.contains(&f.as_str()) {
                        return Err(SchemaError::UnsupportedFormat { format: f.clone() });
                    }
                    m.insert("format".into(), f.clone().into());
                }
            }
            Kind::Choices(c) => {
                if c.is_empty() {
                    return Err(SchemaError::EmptyChoices {
                        context: s.name.clone().unwrap_or_else(|| "choices".into()),
                    });
                }
                m.insert("type".into(), "string".into());
                m.insert("enum".into(), json!(c));
            }
            Kind::Integer | Kind::Number => {
                let integer = s.kind == Kind::Integer;
                m.insert(
                    "type".into(),
                    if integer { "integer" } else { "number" }.into(),
                );
                check_bounds(s.minimum, s.maximum, "range")?;
                if let Some(v) = s.minimum {
                    m.insert("minimum".into(), number_value(v, integer, "minimum")?);
                }
                if let Some(v) = s.maximum {
                    m.insert("maximum".into(), number_value(v, integer, "maximum")?);
                }
            }
            Kind::Boolean => {
                m.insert("type".into(), "boolean".into());
            }
            Kind::Null => {
                m.insert("type".into(), "null".into());
            }
            Kind::Reference(name) => {
                if let Value::Object(r) = SchemaGenerator::reference(name) {
                    m.extend(r);
                }
            }
            Kind::AnyOf(schemas) => {
                if schemas.is_empty() {
                    return Err(SchemaError::EmptyChoices {
                        context: "anyOf".into(),
                    });
                }
                let branches = schemas
                    .iter()
                    .map(|b| self.convert(b))
                    .collect::<Result<Vec<_>, _>>()?;
                m.insert("anyOf".into(), Value::Array(branches));
            }
            Kind::Raw(v) => match v {
                Value::Object(raw) => {
                    for (k, v) in raw {
                        m.insert(k.clone(), v.clone());
                    }
                }
                Value::Bool(true) => {}
                other => {
                    return Err(SchemaError::Invalid(format!(
                        "a schema must be an object or `true`, found {other}"
                    )))
                }
            },
        }
        Ok(Value::Object(m))
    }
}

impl GenerationSchema {
    /// Builds a schema from a dynamic `root` and named `dependencies` (which go
    /// to `$defs`). Fails with [`SchemaError::UnresolvedReference`] for a
    /// reference to no named schema, and with other [`SchemaError`]s for misuse.
    pub fn from_dynamic(
        root: &DynamicSchema,
        dependencies: &[DynamicSchema],
    ) -> Result<GenerationSchema, SchemaError> {
        let mut b = Builder {
            gen: SchemaGenerator::new(),
            named: HashSet::new(),
        };
        for d in dependencies {
            if d.name.is_none() {
                return Err(SchemaError::UnnamedDependency);
            }
            b.convert(d)?;
        }
        let root = b.convert(root)?;
        let schema = b.gen.into_schema(root);
        GenerationSchema::from_json(schema.into_json())
    }
}
