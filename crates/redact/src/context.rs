//! Context: which keywords sit near a candidate value.
//!
//! A candidate spanning tokens `t0..t1` looks at up to [`BEFORE`] tokens
//! before it and [`AFTER`] tokens after it ("my card number is ...", "... is
//! my social"). Punctuation is skipped without being counted. The result is a
//! bit mask of [`crate::words::ctx`] bits; detectors turn bits into score
//! adjustments. A conversation adds the context of the agent's last question
//! (see `conversation`), which covers answers longer than the window.

use crate::lexer::{Gap, Lex, Tok};
use crate::words::{CTX_TABLE, Word, ctx};

/// Words looked at before a candidate.
pub(crate) const BEFORE: usize = 12;
/// Words looked at after a candidate.
pub(crate) const AFTER: usize = 6;

#[inline]
fn word_mask(t: &Tok) -> u32 {
    if t.word == Word::Ctx {
        CTX_TABLE[t.val as usize]
    } else {
        0
    }
}

/// Context mask around tokens `t0..t1`.
pub(crate) fn around(toks: &[Tok], t0: usize, t1: usize) -> u32 {
    let mut mask = 0;
    let mut seen = 0;
    let mut i = t0;
    while i > 0 && seen < BEFORE {
        i -= 1;
        let t = &toks[i];
        match t.lex {
            Lex::Punct => {
                if t.val == b'$' && i + 1 == t0 {
                    mask |= ctx::MONEY;
                }
                if t.val == b'+' && i + 1 == t0 && toks[t0].gap == Gap::Glued {
                    mask |= ctx::PHONE;
                }
                if t.val == b'#' {
                    mask |= ctx::ID;
                }
                if t.val == b':' && i + 1 == t0 && toks[t0].gap == Gap::Glued {
                    mask |= ctx::TIME;
                }
            }
            _ => {
                seen += 1;
                mask |= word_mask(t);
            }
        }
    }
    let mut seen = 0;
    let mut i = t1;
    while i < toks.len() && seen < AFTER {
        let t = &toks[i];
        match t.lex {
            Lex::Punct => {
                if i == t1 && t.gap == Gap::Glued && matches!(t.val, b':' | b'%') {
                    mask |= if t.val == b'%' { ctx::MONEY } else { ctx::TIME };
                }
            }
            _ => {
                seen += 1;
                mask |= word_mask(t);
            }
        }
        i += 1;
    }
    resolve(mask)
}

/// Resolves the words whose meaning depends on their neighbours.
pub(crate) fn resolve(mut mask: u32) -> u32 {
    if mask & ctx::SECURITY != 0 && mask & ctx::SSN == 0 {
        mask |= ctx::CVV;
    }
    if mask & ctx::CODE != 0
        && mask & (ctx::CARD | ctx::PAY | ctx::SECURITY | ctx::EXP | ctx::BACK) != 0
    {
        mask |= ctx::CVV;
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex;

    fn mask_of(text: &str, at: usize) -> u32 {
        let mut t = Vec::new();
        lex(text, &mut t);
        around(&t, at, at + 1)
    }

    #[test]
    fn both_sides_count_and_security_is_resolved() {
        assert_ne!(mask_of("my card number is 4111", 4) & ctx::CARD, 0);
        assert_ne!(mask_of("123456789 is my social", 0) & ctx::SSN, 0);
        let m = mask_of("social security number 123456789", 3);
        assert_ne!(m & ctx::SSN, 0);
        assert_eq!(m & ctx::CVV, 0);
        assert_ne!(mask_of("the security code is 123", 4) & ctx::CVV, 0);
        assert_eq!(mask_of("the zip code is 123", 4) & ctx::CVV, 0);
        assert_ne!(mask_of("it costs $ 12", 3) & ctx::MONEY, 0);
    }
}
