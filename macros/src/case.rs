//! serde's `rename_all` rules.

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "lowercase" => Self::Lower,
            "UPPERCASE" => Self::Upper,
            "PascalCase" => Self::Pascal,
            "camelCase" => Self::Camel,
            "snake_case" => Self::Snake,
            "SCREAMING_SNAKE_CASE" => Self::ScreamingSnake,
            "kebab-case" => Self::Kebab,
            "SCREAMING-KEBAB-CASE" => Self::ScreamingKebab,
            _ => return None,
        })
    }

    /// Applies to a variant name (written in PascalCase).
    pub fn variant(self, v: &str) -> String {
        match self {
            Self::Pascal => v.to_string(),
            Self::Lower => v.to_ascii_lowercase(),
            Self::Upper => v.to_ascii_uppercase(),
            Self::Camel => {
                let mut c = v.chars();
                match c.next() {
                    Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            }
            Self::Snake => {
                let mut out = String::new();
                for (i, ch) in v.char_indices() {
                    if i > 0 && ch.is_uppercase() {
                        out.push('_');
                    }
                    out.push(ch.to_ascii_lowercase());
                }
                out
            }
            Self::ScreamingSnake => Self::Snake.variant(v).to_ascii_uppercase(),
            Self::Kebab => Self::Snake.variant(v).replace('_', "-"),
            Self::ScreamingKebab => Self::ScreamingSnake.variant(v).replace('_', "-"),
        }
    }

    /// Applies to a field name (written in snake_case).
    pub fn field(self, f: &str) -> String {
        match self {
            Self::Lower | Self::Snake => f.to_string(),
            Self::Upper | Self::ScreamingSnake => f.to_ascii_uppercase(),
            Self::Pascal => {
                let mut out = String::new();
                let mut cap = true;
                for ch in f.chars() {
                    if ch == '_' {
                        cap = true;
                    } else if cap {
                        out.push(ch.to_ascii_uppercase());
                        cap = false;
                    } else {
                        out.push(ch);
                    }
                }
                out
            }
            Self::Camel => {
                let p = Self::Pascal.field(f);
                let mut c = p.chars();
                match c.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            }
            Self::Kebab => f.replace('_', "-"),
            Self::ScreamingKebab => f.to_ascii_uppercase().replace('_', "-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RenameRule::*;

    #[test]
    fn variants() {
        assert_eq!(Snake.variant("VeryTasty"), "very_tasty");
        assert_eq!(Camel.variant("VeryTasty"), "veryTasty");
        assert_eq!(ScreamingKebab.variant("VeryTasty"), "VERY-TASTY");
        assert_eq!(Lower.variant("VeryTasty"), "verytasty");
    }

    #[test]
    fn fields() {
        assert_eq!(Camel.field("very_tasty"), "veryTasty");
        assert_eq!(Pascal.field("very_tasty"), "VeryTasty");
        assert_eq!(Kebab.field("very_tasty"), "very-tasty");
        assert_eq!(ScreamingSnake.field("very_tasty"), "VERY_TASTY");
    }
}
