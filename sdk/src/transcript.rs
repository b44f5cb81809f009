//! The record of a conversation: what a session has seen and said.

use serde::{Deserialize, Serialize};

/// One item of a [`Transcript`].
///
/// New kinds of entries (tool calls, tool outputs) will be added, hence `#[non_exhaustive]`.
/// Serialized with a `kind` tag, e.g. `{"kind":"prompt","text":"Hi"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Entry {
    /// The developer's instructions (system prompt); at most one, first.
    Instructions {
        /// The instructions.
        text: String,
    },
    /// A user prompt.
    Prompt {
        /// The prompt text.
        text: String,
    },
    /// A model response.
    Response {
        /// The response text.
        text: String,
    },
    /// The tools the model is told about (see [`Session::tools`](crate::Session::tools));
    /// at most one, right after the instructions.
    Tools {
        /// Name, description and (optionally) argument schema of each tool.
        definitions: Vec<crate::tools::ToolDefinition>,
    },
    /// The model asked for one or more tool calls (in this order).
    ToolCalls {
        /// The calls.
        calls: Vec<crate::tools::ToolCall>,
    },
    /// The output of one tool call; one entry per call, in call order, after the
    /// [`Entry::ToolCalls`] they answer.
    ToolOutput {
        /// The tool's name.
        tool: String,
        /// What the tool returned: a JSON string for text, any JSON value otherwise.
        output: serde_json::Value,
    },
}

/// The entries of a conversation, in order. Serializable, so a conversation can be saved and
/// continued later with [`Session::from_transcript`](crate::Session::from_transcript).
///
/// ```
/// use trellis::{Entry, Transcript};
///
/// let mut t = Transcript::new();
/// t.push(Entry::Prompt { text: "Hi".into() });
/// let json = serde_json::to_string(&t).unwrap();
/// assert_eq!(json, r#"{"entries":[{"kind":"prompt","text":"Hi"}]}"#);
/// assert_eq!(serde_json::from_str::<Transcript>(&json).unwrap(), t);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    entries: Vec<Entry>,
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// The instructions, if the transcript has them.
    pub fn instructions(&self) -> Option<&str> {
        self.entries.iter().find_map(|e| match e {
            Entry::Instructions { text } => Some(text.as_str()),
            _ => None,
        })
    }

    /// Replaces the instructions (or inserts them first).
    pub(crate) fn set_instructions(&mut self, text: String) {
        self.entries
            .retain(|e| !matches!(e, Entry::Instructions { .. }));
        self.entries.insert(0, Entry::Instructions { text });
    }

    /// Replaces the tool definitions (or inserts them right after the instructions).
    pub(crate) fn set_tools(&mut self, definitions: Vec<crate::tools::ToolDefinition>) {
        self.entries.retain(|e| !matches!(e, Entry::Tools { .. }));
        let at = usize::from(matches!(
            self.entries.first(),
            Some(Entry::Instructions { .. })
        ));
        self.entries.insert(at, Entry::Tools { definitions });
    }

    /// The tool definitions, if the transcript has them.
    pub fn tool_definitions(&self) -> Option<&[crate::tools::ToolDefinition]> {
        self.entries.iter().find_map(|e| match e {
            Entry::Tools { definitions } => Some(definitions.as_slice()),
            _ => None,
        })
    }

    pub(crate) fn entries_mut(&mut self) -> &mut Vec<Entry> {
        &mut self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl From<Vec<Entry>> for Transcript {
    fn from(entries: Vec<Entry>) -> Self {
        Transcript { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_are_replaced_and_kept_first() {
        let mut t = Transcript::new();
        t.push(Entry::Prompt { text: "a".into() });
        t.set_instructions("one".into());
        t.set_instructions("two".into());
        assert_eq!(t.len(), 2);
        assert_eq!(t.instructions(), Some("two"));
        assert!(matches!(&t.entries()[0], Entry::Instructions { text } if text == "two"));
    }

    #[test]
    fn round_trips_through_json() {
        let t: Transcript = vec![
            Entry::Instructions {
                text: "Be brief.".into(),
            },
            Entry::Prompt { text: "Hi".into() },
            Entry::Response {
                text: "Hello!".into(),
            },
        ]
        .into();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Transcript>(&json).unwrap(), t);
    }
}
