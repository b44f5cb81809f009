//! The tokenizer description stored in a model's metadata.

use crate::reader::GgufFile;
use crate::types::MetadataValue;

/// The vocabulary and special tokens of a model (`tokenizer.ggml.*` metadata).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenizerInfo {
    /// Tokenizer model: `"llama"` (SentencePiece), `"gpt2"` (byte-level BPE), `"bert"`, ...
    pub model: String,
    /// Token texts, indexed by token id.
    pub tokens: Vec<String>,
    /// Token types by id (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte);
    /// empty when the file has none.
    pub token_types: Vec<i32>,
    /// Token scores by id; empty when the file has none.
    pub scores: Vec<f32>,
    /// Beginning-of-sequence token id.
    pub bos: Option<u32>,
    /// End-of-sequence token id.
    pub eos: Option<u32>,
    /// End-of-turn token id.
    pub eot: Option<u32>,
    /// Padding token id.
    pub pad: Option<u32>,
    /// Unknown-token id.
    pub unk: Option<u32>,
    /// Every token id that ends generation: `tokenizer.ggml.eog_token_ids` if present,
    /// otherwise EOS, EOT and `eom`, plus any control token spelled `<end_of_turn>`,
    /// `<|eot_id|>`, `<|im_end|>` or `<|endoftext|>`. Sorted, without duplicates.
    pub eog: Vec<u32>,
}

/// Token type of a control token.
pub const TOKEN_TYPE_CONTROL: i32 = 3;

impl GgufFile {
    /// The tokenizer description, if the file has `tokenizer.ggml.model` and a
    /// `tokenizer.ggml.tokens` string array.
    ///
    /// ```no_run
    /// let gguf = trellis_gguf::GgufFile::open("model.gguf")?;
    /// if let Some(tok) = gguf.tokenizer() {
    ///     println!("{} tokens, eos {:?}", tok.tokens.len(), tok.eos);
    /// }
    /// # Ok::<(), trellis_gguf::GgufError>(())
    /// ```
    pub fn tokenizer(&self) -> Option<TokenizerInfo> {
        let model = self.get_str("tokenizer.ggml.model")?.to_owned();
        let tokens: Vec<String> = self
            .get_array("tokenizer.ggml.tokens")?
            .items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()?;
        let token_types: Vec<i32> = self
            .get_array("tokenizer.ggml.token_type")
            .map(|a| {
                a.items
                    .iter()
                    .filter_map(|v| v.as_integer().and_then(|x| i32::try_from(x).ok()))
                    .collect()
            })
            .unwrap_or_default();
        let scores = self
            .get_array("tokenizer.ggml.scores")
            .map(|a| a.items.iter().filter_map(MetadataValue::as_f32).collect())
            .unwrap_or_default();
        let id = |key: &str| self.get_u32(key).filter(|&i| (i as usize) < tokens.len());
        let bos = id("tokenizer.ggml.bos_token_id");
        let eos = id("tokenizer.ggml.eos_token_id");
        let eot = id("tokenizer.ggml.eot_token_id");
        let eom = id("tokenizer.ggml.eom_token_id");
        let pad = id("tokenizer.ggml.padding_token_id");
        let unk = id("tokenizer.ggml.unknown_token_id");
        let mut eog: Vec<u32> = match self.get_array("tokenizer.ggml.eog_token_ids") {
            Some(a) => a.items.iter().filter_map(MetadataValue::as_u32).collect(),
            None => {
                let mut v: Vec<u32> = [eos, eot, eom].into_iter().flatten().collect();
                for (i, t) in tokens.iter().enumerate() {
                    let control = token_types.get(i) == Some(&TOKEN_TYPE_CONTROL);
                    let known = matches!(
                        t.as_str(),
                        "<end_of_turn>" | "<|eot_id|>" | "<|im_end|>" | "<|endoftext|>"
                    );
                    if control && known {
                        v.push(i as u32);
                    }
                }
                v
            }
        };
        eog.retain(|&i| (i as usize) < tokens.len());
        eog.sort_unstable();
        eog.dedup();
        Some(TokenizerInfo {
            model,
            tokens,
            token_types,
            scores,
            bos,
            eos,
            eot,
            pad,
            unk,
            eog,
        })
    }
}
