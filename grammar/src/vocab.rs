//! Model vocabularies as byte strings.

/// GGUF `tokenizer.ggml.token_type` values (1..6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// 1: ordinary text piece.
    Normal,
    /// 2: the unknown token (`<unk>`); never text.
    Unknown,
    /// 3: control token (`<pad>`, `<eos>`, `<start_of_turn>` ...); never text.
    Control,
    /// 4: user-defined token whose piece is literal text (e.g. `"\n"`).
    UserDefined,
    /// 5: unused slot; never text.
    Unused,
    /// 6: byte-fallback token `<0xNN>`.
    Byte,
}

impl TokenType {
    /// Maps a GGUF token-type number (1..=6) to a [`TokenType`].
    pub fn from_gguf(v: i32) -> Option<TokenType> {
        Some(match v {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => return None,
        })
    }
}

/// Errors building a [`Vocabulary`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VocabularyError {
    /// The vocabulary has no tokens.
    #[error("vocabulary is empty")]
    Empty,
    /// `pieces` and `types` differ in length.
    #[error("{pieces} pieces but {types} token types")]
    LengthMismatch {
        /// Number of pieces.
        pieces: usize,
        /// Number of types.
        types: usize,
    },
    /// An end-of-generation id outside the vocabulary.
    #[error("end-of-generation token {id} is outside the vocabulary of {len} tokens")]
    EosOutOfRange {
        /// The id.
        id: u32,
        /// Vocabulary size.
        len: usize,
    },
    /// A byte token that is not of the form `<0xNN>`.
    #[error("token {id}: byte token piece `{piece}` is not of the form <0xNN>")]
    BadByteToken {
        /// Token id.
        id: u32,
        /// The piece.
        piece: String,
    },
    /// A byte-level BPE piece containing a character outside the GPT-2 byte alphabet.
    #[error("token {id}: piece `{piece}` has a character outside the byte-level alphabet")]
    BadByteLevelPiece {
        /// Token id.
        id: u32,
        /// The piece.
        piece: String,
    },
    /// More tokens than fit in a `u32` id.
    #[error("vocabulary too large: {0} tokens")]
    TooLarge(usize),
}

/// A model vocabulary as decoded bytes. Tokens without bytes (control, unknown, unused)
/// are never allowed inside content; end-of-generation tokens are allowed only when the
/// grammar accepts.
#[derive(Clone)]
pub struct Vocabulary {
    tokens: Vec<Option<Vec<u8>>>,
    eos: Vec<u32>,
    /// Token trie and slices, built on first use and shared by all grammars.
    index: std::sync::OnceLock<std::sync::Arc<crate::matcher::VocabIndex>>,
}

impl std::fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocabulary")
            .field("len", &self.tokens.len())
            .field("eos", &self.eos)
            .finish()
    }
}

impl Vocabulary {
    /// Token bytes already decoded (e.g. from llama.cpp's `token_to_piece`); `None` marks
    /// a special/control token, never allowed in content.
    ///
    /// ```
    /// let v = trellis_grammar::Vocabulary::from_token_bytes(
    ///     vec![None, Some(b"ab".to_vec())], &[0]).unwrap();
    /// assert_eq!(v.token_bytes(1), Some(&b"ab"[..]));
    /// assert_eq!(v.token_bytes(0), None);
    /// ```
    pub fn from_token_bytes(
        tokens: Vec<Option<Vec<u8>>>,
        eos: &[u32],
    ) -> Result<Vocabulary, VocabularyError> {
        if tokens.is_empty() {
            return Err(VocabularyError::Empty);
        }
        if tokens.len() > u32::MAX as usize {
            return Err(VocabularyError::TooLarge(tokens.len()));
        }
        for &id in eos {
            if id as usize >= tokens.len() {
                return Err(VocabularyError::EosOutOfRange {
                    id,
                    len: tokens.len(),
                });
            }
        }
        let mut eos = eos.to_vec();
        eos.sort_unstable();
        eos.dedup();
        Ok(Vocabulary {
            tokens,
            eos,
            index: std::sync::OnceLock::new(),
        })
    }

    /// Raw SentencePiece pieces plus GGUF token types: `▁` becomes a space, `<0xNN>`
    /// byte tokens become that byte, control/unknown/unused tokens get no bytes.
    ///
    /// ```
    /// use trellis_grammar::{TokenType, Vocabulary};
    /// let pieces = ["<eos>", "▁hello", "<0x0A>"].map(String::from);
    /// let types = [TokenType::Control, TokenType::Normal, TokenType::Byte];
    /// let v = Vocabulary::from_sentencepiece(&pieces, &types, &[0]).unwrap();
    /// assert_eq!(v.token_bytes(1), Some(&b" hello"[..]));
    /// assert_eq!(v.token_bytes(2), Some(&b"\n"[..]));
    /// ```
    pub fn from_sentencepiece(
        pieces: &[String],
        types: &[TokenType],
        eos: &[u32],
    ) -> Result<Vocabulary, VocabularyError> {
        if pieces.len() != types.len() {
            return Err(VocabularyError::LengthMismatch {
                pieces: pieces.len(),
                types: types.len(),
            });
        }
        let mut tokens = Vec::with_capacity(pieces.len());
        for (i, (p, t)) in pieces.iter().zip(types).enumerate() {
            tokens.push(match t {
                TokenType::Normal => Some(p.replace('\u{2581}', " ").into_bytes()),
                TokenType::UserDefined => Some(p.as_bytes().to_vec()),
                TokenType::Byte => Some(vec![parse_byte_token(p).ok_or_else(|| {
                    VocabularyError::BadByteToken {
                        id: i as u32,
                        piece: p.clone(),
                    }
                })?]),
                TokenType::Unknown | TokenType::Control | TokenType::Unused => None,
            });
        }
        Self::from_token_bytes(tokens, eos)
    }

    /// Byte-level BPE pieces (GPT-2 byte↔unicode mapping, `Ġ` = space); `types` mark
    /// control/unused tokens. User-defined tokens are taken as literal UTF-8 text.
    ///
    /// ```
    /// use trellis_grammar::{TokenType, Vocabulary};
    /// let pieces = ["<|eot|>", "Ġworld", "Ċ"].map(String::from);
    /// let types = [TokenType::Control, TokenType::Normal, TokenType::Normal];
    /// let v = Vocabulary::from_byte_level_bpe(&pieces, &types, &[0]).unwrap();
    /// assert_eq!(v.token_bytes(1), Some(&b" world"[..]));
    /// assert_eq!(v.token_bytes(2), Some(&b"\n"[..]));
    /// ```
    pub fn from_byte_level_bpe(
        pieces: &[String],
        types: &[TokenType],
        eos: &[u32],
    ) -> Result<Vocabulary, VocabularyError> {
        if pieces.len() != types.len() {
            return Err(VocabularyError::LengthMismatch {
                pieces: pieces.len(),
                types: types.len(),
            });
        }
        let table = gpt2_char_to_byte();
        let mut tokens = Vec::with_capacity(pieces.len());
        for (i, (p, t)) in pieces.iter().zip(types).enumerate() {
            tokens.push(match t {
                TokenType::Normal | TokenType::Byte => {
                    let mut out = Vec::with_capacity(p.len());
                    for c in p.chars() {
                        let b = table.get(c as usize).copied().flatten().ok_or_else(|| {
                            VocabularyError::BadByteLevelPiece {
                                id: i as u32,
                                piece: p.clone(),
                            }
                        })?;
                        out.push(b);
                    }
                    Some(out)
                }
                TokenType::UserDefined => Some(p.as_bytes().to_vec()),
                TokenType::Unknown | TokenType::Control | TokenType::Unused => None,
            });
        }
        Self::from_token_bytes(tokens, eos)
    }

    /// Number of tokens (including special ones).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Always false for a constructed vocabulary (construction rejects empty ones).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The bytes of a token, `None` for special tokens or out-of-range ids.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.tokens.get(id as usize)?.as_deref()
    }

    /// End-of-generation token ids (sorted, deduplicated).
    pub fn eos_tokens(&self) -> &[u32] {
        &self.eos
    }

    pub(crate) fn index(&self) -> std::sync::Arc<crate::matcher::VocabIndex> {
        self.index
            .get_or_init(|| std::sync::Arc::new(crate::matcher::VocabIndex::new(self)))
            .clone()
    }

    pub(crate) fn is_eos(&self, id: u32) -> bool {
        self.eos.binary_search(&id).is_ok()
    }
}

fn parse_byte_token(p: &str) -> Option<u8> {
    let hex = p.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// Inverse of GPT-2's `bytes_to_unicode`: index = char code point (< 324), value = byte.
fn gpt2_char_to_byte() -> Vec<Option<u8>> {
    let mut table = vec![None; 324];
    let printable = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut n = 0u32;
    for b in 0u32..256 {
        if printable(b) {
            table[b as usize] = Some(b as u8);
        } else {
            table[(256 + n) as usize] = Some(b as u8);
            n += 1;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_mapping_space_newline() {
        let t = gpt2_char_to_byte();
        assert_eq!(t['Ġ' as usize], Some(b' '));
        assert_eq!(t['Ċ' as usize], Some(b'\n'));
        assert_eq!(t['a' as usize], Some(b'a'));
        assert_eq!(t.iter().filter(|x| x.is_some()).count(), 256);
    }

    #[test]
    fn sentencepiece_errors() {
        let p = vec!["<0xZZ>".to_string()];
        assert!(matches!(
            Vocabulary::from_sentencepiece(&p, &[TokenType::Byte], &[]),
            Err(VocabularyError::BadByteToken { id: 0, .. })
        ));
        assert!(matches!(
            Vocabulary::from_sentencepiece(&p, &[], &[]),
            Err(VocabularyError::LengthMismatch { .. })
        ));
        assert!(matches!(
            Vocabulary::from_token_bytes(vec![None], &[3]),
            Err(VocabularyError::EosOutOfRange { id: 3, len: 1 })
        ));
        assert!(matches!(
            Vocabulary::from_token_bytes(vec![], &[]),
            Err(VocabularyError::Empty)
        ));
    }

    #[test]
    fn bpe_bad_char() {
        let p = vec!["日".to_string()];
        assert!(matches!(
            Vocabulary::from_byte_level_bpe(&p, &[TokenType::Normal], &[]),
            Err(VocabularyError::BadByteLevelPiece { .. })
        ));
    }
}
