//! Turning a transcript into the token sequence the model sees.

use llama_cpp_2::model::LlamaChatMessage;
use llama_cpp_2::token::LlamaToken;

use crate::error::{Error, Result};
use crate::model::ModelInner;
use crate::transcript::{Entry, Transcript};

/// Tokens of `transcript` followed by `prompt` and the opening of the model's turn.
pub(crate) fn render(
    model: &ModelInner,
    transcript: &Transcript,
    prompt: &str,
) -> Result<Vec<LlamaToken>> {
    match &model.template {
        Some(template) => render_template(model, template, transcript, prompt),
        None => render_turns(model, transcript, prompt),
    }
}

fn messages(transcript: &Transcript, prompt: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut system = transcript.instructions().map(str::to_owned);
    if let Some(defs) = transcript.tool_definitions() {
        let section = crate::tools::tools_section(defs);
        system = Some(match system {
            Some(s) => format!("{s}\n\n{section}"),
            None => section,
        });
    }
    if let Some(system) = system {
        out.push(("system", system));
    }
    let entries = transcript.entries();
    let mut i = 0;
    while i < entries.len() {
        match &entries[i] {
            Entry::Instructions { .. } | Entry::Tools { .. } => {}
            Entry::Prompt { text } => out.push(("user", text.clone())),
            Entry::Response { text } => out.push(("assistant", text.clone())),
            Entry::ToolCalls { calls } => {
                out.push(("assistant", crate::tools::tool_calls_text(calls)))
            }
            Entry::ToolOutput { .. } => {
                let (text, n) = crate::tools::tool_outputs_text_at(&entries[i..]);
                out.push(("user", text));
                i += n;
                continue;
            }
        }
        i += 1;
    }
    out.push(("user", prompt.to_owned()));
    out
}

fn render_template(
    model: &ModelInner,
    template: &llama_cpp_2::model::LlamaChatTemplate,
    transcript: &Transcript,
    prompt: &str,
) -> Result<Vec<LlamaToken>> {
    let chat = messages(transcript, prompt)
        .into_iter()
        .map(|(role, text)| {
            LlamaChatMessage::new(role.to_owned(), text)
                .map_err(|e| Error::PromptFormat(format!("{role} message: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let text = model
        .llama
        .apply_chat_template(template, &chat, true)
        .map_err(|e| Error::PromptFormat(e.to_string()))?;
    // Templates that write the BOS marker themselves must not get a second one.
    let bos_in_text = text.starts_with("<bos>") || text.starts_with("<s>");
    model.tokenize(&text, model.add_bos && !bos_in_text, true)
}

/// Text that ends a response in the plain format: a blank line or the start of a new question.
pub(crate) const PLAIN_STOPS: &[&str] = &["\n\n", "\nQ:"];

/// Whether the model uses the plain format (no chat template): responses then have leading
/// whitespace removed and end at [`PLAIN_STOPS`].
pub(crate) fn is_plain(model: &ModelInner) -> bool {
    model.template.is_none()
}

/// The plain format for models without a chat template (such as base models):
///
/// ```text
/// {instructions}
///
/// Q: {prompt}
/// A: {response}
///
/// Q: {prompt}
/// A:
/// ```
///
/// Base models continue such a question-and-answer transcript sensibly (Gemma's own turn
/// markers make the Gemma 3 base model babble). The texts are tokenized as plain text, so
/// markup inside a prompt cannot forge control tokens.
fn render_turns(
    model: &ModelInner,
    transcript: &Transcript,
    prompt: &str,
) -> Result<Vec<LlamaToken>> {
    let mut text = String::new();
    if let Some(instructions) = transcript.instructions() {
        text.push_str(instructions);
        text.push_str("\n\n");
    }
    if let Some(defs) = transcript.tool_definitions() {
        text.push_str(&crate::tools::tools_section(defs));
        text.push_str("\n\n");
    }
    let entries = transcript.entries();
    for (i, entry) in entries.iter().enumerate() {
        match entry {
            Entry::Instructions { .. } | Entry::Tools { .. } => {}
            Entry::ToolCalls { calls } => {
                text.push_str("A: ");
                text.push_str(&crate::tools::tool_calls_text(calls));
                text.push_str("\n\n");
            }
            Entry::ToolOutput { .. } => {
                // A run of outputs is one turn, rendered at its first entry.
                if i == 0 || !matches!(entries[i - 1], Entry::ToolOutput { .. }) {
                    text.push_str("Q: ");
                    text.push_str(&crate::tools::tool_outputs_text_at(&entries[i..]).0);
                    text.push('\n');
                }
            }
            Entry::Prompt { text: p } => {
                text.push_str("Q: ");
                text.push_str(p);
                text.push('\n');
            }
            Entry::Response { text: r } => {
                text.push_str("A: ");
                text.push_str(r.trim_start());
                text.push_str("\n\n");
            }
        }
    }
    text.push_str("Q: ");
    text.push_str(prompt);
    text.push_str("\nA:");
    model.tokenize(&text, model.add_bos, false)
}
