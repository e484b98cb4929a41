//! The lexer: one pass over the bytes, producing compact tokens with spans.
//!
//! Only ASCII is interpreted. Bytes of multi-byte UTF-8 characters are all
//! 0x80 or above, so runs of them become [`Lex::Other`] tokens and every span
//! the lexer produces starts and ends on a character boundary. Whitespace
//! makes no token; it is remembered in the `gap` of the token that follows,
//! which is what the number assembler needs to know ("41 11" vs "4111").

use crate::words::{self, Word};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lex {
    Digits,
    Alpha,
    /// One ASCII punctuation byte; `val` is the byte.
    Punct,
    /// A run of non-ASCII characters or control bytes.
    Other,
}

/// What separates a token from the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Gap {
    Glued,
    Space,
    Newline,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Tok {
    pub start: u32,
    pub end: u32,
    pub lex: Lex,
    pub word: Word,
    pub val: u8,
    pub gap: Gap,
}

impl Tok {
    #[inline]
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
    #[inline]
    pub fn is_punct(&self, b: u8) -> bool {
        self.lex == Lex::Punct && self.val == b
    }
}

const OTHER: u8 = 0;
const ALPHA: u8 = 1;
const DIGIT: u8 = 2;
const SPACE: u8 = 3;
const NEWLINE: u8 = 4;
const PUNCT: u8 = 5;

/// Byte classes, so the inner loops test one table entry per byte.
const CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            ALPHA
        } else if c.is_ascii_digit() {
            DIGIT
        } else if c == b' ' || c == b'\t' || c == b'\r' {
            SPACE
        } else if c == b'\n' {
            NEWLINE
        } else if c.is_ascii_punctuation() {
            PUNCT
        } else {
            OTHER
        };
        b += 1;
    }
    t
};

/// Classifies the word `b[start..end]`. Words that can be in the
/// vocabulary are at most 14 bytes, so when 16 bytes are readable the key is
/// two unaligned loads and masks instead of a loop over the letters.
#[inline]
fn classify(b: &[u8], start: usize, end: usize) -> (Word, u8) {
    let len = end - start;
    if len > words::MAX_WORD {
        return (Word::Plain, 0);
    }
    if let Some(chunk) = b.get(start..start + 16) {
        let lo = u64::from_le_bytes(chunk[..8].try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(chunk[8..].try_into().expect("8 bytes"));
        let mlo = if len >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * len)) - 1
        };
        let mhi = if len <= 8 {
            0
        } else {
            (1u64 << (8 * (len - 8))) - 1
        };
        const LOWER: u64 = 0x2020_2020_2020_2020;
        return words::classify_key((lo | LOWER) & mlo, (hi | LOWER) & mhi, len);
    }
    let (ka, kb) = words::key(&b[start..end]);
    words::classify_key(ka, kb, len)
}

/// Tokenizes `text` into `out` (cleared first). The caller guarantees that
/// `text.len()` fits in `u32` (see `MAX_INPUT_BYTES`).
pub(crate) fn lex(text: &str, out: &mut Vec<Tok>) {
    out.clear();
    let b = text.as_bytes();
    let n = b.len();
    let mut i = 0;
    let mut gap = Gap::Space;
    while i < n {
        let class = CLASS[b[i] as usize];
        let start = i;
        i += 1;
        let (lex, word, val) = match class {
            ALPHA => {
                while i < n && CLASS[b[i] as usize] == ALPHA {
                    i += 1;
                }
                let (w, v) = classify(b, start, i);
                (Lex::Alpha, w, v)
            }
            DIGIT => {
                while i < n && CLASS[b[i] as usize] == DIGIT {
                    i += 1;
                }
                (Lex::Digits, Word::None, 0)
            }
            SPACE => {
                if gap == Gap::Glued {
                    gap = Gap::Space;
                }
                continue;
            }
            NEWLINE => {
                gap = Gap::Newline;
                continue;
            }
            PUNCT => (Lex::Punct, Word::None, b[start]),
            _ => {
                while i < n && CLASS[b[i] as usize] == OTHER {
                    i += 1;
                }
                (Lex::Other, Word::None, 0)
            }
        };
        out.push(Tok {
            start: start as u32,
            end: i as u32,
            lex,
            word,
            val,
            gap,
        });
        gap = Gap::Glued;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_tokens_and_gaps_are_recorded() {
        let mut t = Vec::new();
        lex("My card: 4111-11 é\nfour", &mut t);
        let kinds: Vec<_> = t.iter().map(|t| (t.lex, t.gap)).collect();
        assert_eq!(
            kinds,
            vec![
                (Lex::Alpha, Gap::Space),
                (Lex::Alpha, Gap::Space),
                (Lex::Punct, Gap::Glued),
                (Lex::Digits, Gap::Space),
                (Lex::Punct, Gap::Glued),
                (Lex::Digits, Gap::Glued),
                (Lex::Other, Gap::Space),
                (Lex::Alpha, Gap::Newline),
            ]
        );
        assert_eq!(t[6].start, 17);
        assert_eq!(t[6].end, 19);
        assert_eq!(t[7].word, Word::Digit);
        assert_eq!(t[7].val, 4);
    }
}
