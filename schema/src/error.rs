//! Error types.

use thiserror::Error;

/// Error turning text into [`crate::GeneratedContent`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The text is not valid, complete JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
}

/// Error decoding [`crate::GeneratedContent`] into a typed value
/// ([`crate::Generable::from_content`]).
///
/// `path` is a JSONPath-like location of the offending node (`$` is the root).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The node has the wrong JSON type.
    #[error("at {path}: expected {expected}, found {found}")]
    TypeMismatch {
        /// Location.
        path: String,
        /// What the type needs.
        expected: String,
        /// JSON type that was found.
        found: String,
    },
    /// A required object property is absent.
    #[error("at {path}: missing field `{field}`")]
    MissingField {
        /// Location of the object.
        path: String,
        /// Property name.
        field: String,
    },
    /// An object has a property the type does not know.
    #[error("at {path}: unknown field `{field}`")]
    UnknownField {
        /// Location of the object.
        path: String,
        /// Property name.
        field: String,
    },
    /// An enum tag names no variant.
    #[error("at {path}: unknown variant `{variant}`")]
    UnknownVariant {
        /// Location.
        path: String,
        /// The tag found.
        variant: String,
    },
    /// No variant of an untagged enum matched.
    #[error("at {path}: content matches no variant of `{type_name}`")]
    NoMatchingVariant {
        /// Location.
        path: String,
        /// The enum.
        type_name: String,
    },
    /// A number does not fit the target type.
    #[error("at {path}: number {value} out of range for {target}")]
    OutOfRange {
        /// Location.
        path: String,
        /// The number as text.
        value: String,
        /// Target type.
        target: String,
    },
    /// An array has the wrong number of elements.
    #[error("at {path}: expected {expected} elements, found {found}")]
    WrongLength {
        /// Location.
        path: String,
        /// Expected count.
        expected: usize,
        /// Actual count.
        found: usize,
    },
    /// A `char` was decoded from a string that is not exactly one character.
    #[error("at {path}: expected exactly one character, found {found:?}")]
    NotAChar {
        /// Location.
        path: String,
        /// The string found.
        found: String,
    },
    /// A type decoded through serde (e.g. [`crate::Json`]) rejected the content.
    #[error("at {path}: {message}")]
    Custom {
        /// Location.
        path: String,
        /// The message.
        message: String,
    },
}

impl DecodeError {
    fn path_mut(&mut self) -> &mut String {
        match self {
            DecodeError::TypeMismatch { path, .. }
            | DecodeError::MissingField { path, .. }
            | DecodeError::UnknownField { path, .. }
            | DecodeError::UnknownVariant { path, .. }
            | DecodeError::NoMatchingVariant { path, .. }
            | DecodeError::OutOfRange { path, .. }
            | DecodeError::WrongLength { path, .. }
            | DecodeError::NotAChar { path, .. }
            | DecodeError::Custom { path, .. } => path,
        }
    }

    /// The location of the error (`$`, `$.field`, `$.items[2]`, ...).
    pub fn path(&self) -> &str {
        match self {
            DecodeError::TypeMismatch { path, .. }
            | DecodeError::MissingField { path, .. }
            | DecodeError::UnknownField { path, .. }
            | DecodeError::UnknownVariant { path, .. }
            | DecodeError::NoMatchingVariant { path, .. }
            | DecodeError::OutOfRange { path, .. }
            | DecodeError::WrongLength { path, .. }
            | DecodeError::NotAChar { path, .. }
            | DecodeError::Custom { path, .. } => path,
        }
    }

    /// Prefixes the path with an object property (used while unwinding).
    pub fn in_field(mut self, field: &str) -> Self {
        let p = self.path_mut();
        let rest = p.strip_prefix('$').unwrap_or(p).to_string();
        *p = format!("$.{field}{rest}");
        self
    }

    /// Prefixes the path with an array index (used while unwinding).
    pub fn in_index(mut self, index: usize) -> Self {
        let p = self.path_mut();
        let rest = p.strip_prefix('$').unwrap_or(p).to_string();
        *p = format!("$[{index}]{rest}");
        self
    }

    /// A type mismatch at the root (`$`).
    pub fn type_mismatch(expected: impl Into<String>, found: &crate::GeneratedContent) -> Self {
        DecodeError::TypeMismatch {
            path: "$".into(),
            expected: expected.into(),
            found: found.type_name().into(),
        }
    }
}

/// Error building or validating a [`crate::GenerationSchema`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A reference names no definition.
    #[error("unresolved schema reference `{name}`")]
    UnresolvedReference {
        /// The referenced name.
        name: String,
    },
    /// Two definitions have the same name.
    #[error("duplicate schema definition `{name}`")]
    DuplicateDefinition {
        /// The name.
        name: String,
    },
    /// A dependency schema has no name, so nothing could reference it.
    #[error(
        "dependency schemas must be named objects or choices (use DynamicSchema::object / named)"
    )]
    UnnamedDependency,
    /// A lower bound is above an upper bound.
    #[error("invalid bounds in {context}: {min} > {max}")]
    InvalidBounds {
        /// Where.
        context: String,
        /// Lower bound.
        min: String,
        /// Upper bound.
        max: String,
    },
    /// A pattern is not a valid regular expression.
    #[error("invalid pattern {pattern:?}: {message}")]
    InvalidPattern {
        /// The pattern.
        pattern: String,
        /// Parser message.
        message: String,
    },
    /// A string choice list is empty.
    #[error("empty choice list in {context}")]
    EmptyChoices {
        /// Where.
        context: String,
    },
    /// An object has two properties with the same name.
    #[error("duplicate property `{name}`")]
    DuplicateProperty {
        /// The name.
        name: String,
    },
    /// A raw JSON Schema is not an object or boolean, or has a malformed keyword.
    #[error("invalid JSON Schema: {0}")]
    Invalid(String),
    /// A guide was applied to a schema kind it does not fit (e.g. a pattern on a number).
    #[error("guide `{guide}` does not apply to a {kind} schema")]
    InapplicableGuide {
        /// The guide.
        guide: String,
        /// The schema kind.
        kind: String,
    },
    /// A `format` the grammar engine does not know.
    #[error("unsupported format `{format}`")]
    UnsupportedFormat {
        /// The format.
        format: String,
    },
    /// A number is NaN or infinite.
    #[error("non-finite number in {context}")]
    NonFinite {
        /// Where.
        context: String,
    },
}

/// Error from the incremental [`crate::PartialJsonParser`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PartialJsonError {
    /// A byte that cannot continue valid JSON.
    #[error("unexpected {found:?} at byte {offset}: expected {expected}")]
    Unexpected {
        /// Byte offset in the whole input.
        offset: usize,
        /// The character found.
        found: char,
        /// What could have come.
        expected: &'static str,
    },
    /// An invalid escape in a string.
    #[error("invalid string escape at byte {offset}")]
    InvalidEscape {
        /// Byte offset.
        offset: usize,
    },
    /// [`crate::PartialJsonParser::finish`] was called before the value was complete.
    #[error("input ended before the JSON value was complete")]
    Incomplete,
    /// Input continued after a complete value.
    #[error("trailing characters after the JSON value at byte {offset}")]
    TrailingCharacters {
        /// Byte offset.
        offset: usize,
    },
    /// The parser failed earlier and accepts no more input.
    #[error("the parser failed earlier: {0}")]
    Poisoned(Box<PartialJsonError>),
}
