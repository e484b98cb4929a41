//! Alphanumeric identifiers: Medicare MBIs anywhere (the format is specific
//! enough on its own), and medical record, member and claim numbers after
//! the words that introduce them ("member ID is XGH 123 456 789").

use crate::Kind;
use crate::checks;
use crate::context;
use crate::engine::Cand;
use crate::lexer::{Gap, Lex, Tok};
use crate::numbers::unit;
use crate::words::{CTX_TABLE, Word, ctx};

/// A written MBI starting at the digit token `i`: a chain of glued letters,
/// digits and dashes, 11 characters once the dashes are dropped
/// ("1EG4-TE5-MK73"). An MBI starts with a digit 1-9, so only digit tokens
/// start a chain.
pub(crate) fn mbi_at(text: &[u8], toks: &[Tok], i: usize, out: &mut Vec<Cand>) {
    let t = &toks[i];
    if t.len() > 3
        || text[t.start as usize] == b'0'
        || (i > 0 && t.gap == Gap::Glued && matches!(toks[i - 1].lex, Lex::Alpha | Lex::Digits))
    {
        return;
    }
    let mut j = i + 1;
    while j - i < 12
        && toks.get(j).is_some_and(|t| {
            t.gap == Gap::Glued && (matches!(t.lex, Lex::Alpha | Lex::Digits) || t.is_punct(b'-'))
        })
    {
        j += 1;
    }
    if j - i < 2 {
        return;
    }
    let mut buf = [0u8; 11];
    let mut n = 0;
    for &c in text[t.start as usize..toks[j - 1].end as usize]
        .iter()
        .filter(|&&c| c != b'-')
    {
        if n == 11 {
            return;
        }
        buf[n] = c.to_ascii_uppercase();
        n += 1;
    }
    if checks::mbi_ok(&buf[..n]) {
        out.push(Cand {
            start: t.start,
            end: toks[j - 1].end,
            kind: Kind::MedicareId,
            score: 90,
            last4: [b'0'; 4],
        });
    }
}

const HEALTH: u32 = ctx::MEDICARE | ctx::MRN | ctx::MEMBER | ctx::CLAIM;

/// Words allowed between the context word and the value.
fn is_lead_in(text: &[u8], t: &Tok) -> bool {
    match t.lex {
        Lex::Punct => matches!(t.val, b':' | b'#' | b'\'' | b'.'),
        Lex::Alpha => {
            matches!(t.word, Word::Stop | Word::Ctx)
                && !(t.len() == 1
                    && t.word == Word::Stop
                    && text[t.start as usize].is_ascii_uppercase())
        }
        _ => false,
    }
}

fn chain_member(text: &[u8], toks: &[Tok], k: usize, first: bool) -> bool {
    let t = &toks[k];
    let glued_next = toks
        .get(k + 1)
        .is_some_and(|n| n.gap == Gap::Glued && n.lex == Lex::Digits);
    let glued_prev = t.gap == Gap::Glued && k > 0 && toks[k - 1].lex == Lex::Digits;
    match t.lex {
        Lex::Digits => true,
        Lex::Alpha if glued_next || glued_prev => true,
        Lex::Alpha if t.len() == 1 => true,
        Lex::Alpha if matches!(t.word, Word::Digit | Word::Teen | Word::Tens | Word::Repeat) => {
            true
        }
        Lex::Alpha if first && t.len() <= 4 => text[t.start as usize..t.end as usize]
            .iter()
            .all(u8::is_ascii_uppercase),
        Lex::Punct => t.val == b'-' && !first,
        _ => false,
    }
}

/// Whether the token is a word that introduces a health id.
#[inline]
pub(crate) fn introduces_id(t: &Tok) -> bool {
    t.word == Word::Ctx && CTX_TABLE[t.val as usize] & HEALTH != 0
}

/// Looks for the id introduced by the context word at token `i`.
pub(crate) fn after_context(
    text: &[u8],
    toks: &[Tok],
    i: usize,
    prompt: &impl Fn(u32) -> u32,
    buf: &mut Vec<u8>,
    out: &mut Vec<Cand>,
) {
    let bits = CTX_TABLE[toks[i].val as usize] & HEALTH;
    {
        // Skip the lead-in: "ID number is", "#:", "it's".
        let mut k = i + 1;
        let mut mask = bits;
        while k < toks.len() && k - i <= 6 && is_lead_in(text, &toks[k]) {
            if toks[k].word == Word::Ctx {
                mask |= CTX_TABLE[toks[k].val as usize] & HEALTH;
            }
            k += 1;
        }
        let start = k;
        let mut digits = 0usize;
        let mut chars = 0usize;
        while k < toks.len()
            && (k == start || toks[k].gap != Gap::Newline)
            && chain_member(text, toks, k, k == start)
        {
            let t = &toks[k];
            if t.lex == Lex::Alpha
                && matches!(t.word, Word::Digit | Word::Teen | Word::Tens | Word::Repeat)
                && t.len() > 1
            {
                buf.clear();
                match unit(toks, text, k, buf) {
                    Some(n) => {
                        digits += buf.len();
                        chars += buf.len();
                        k = n;
                        continue;
                    }
                    None => break,
                }
            }
            if t.lex == Lex::Digits {
                digits += t.len();
            }
            chars += t.len();
            k += 1;
        }
        // Trailing dashes are not part of the value.
        while k > start && toks[k - 1].lex == Lex::Punct {
            k -= 1;
        }
        if k > start && (digits >= 4 || (digits >= 2 && chars >= 6)) {
            let m = mask
                | context::around(toks, start, k) & HEALTH
                | prompt(toks[start].start) & HEALTH;
            let kind = if m & ctx::CLAIM != 0 {
                Kind::ClaimNumber
            } else if m & ctx::MEDICARE != 0 {
                Kind::MedicareId
            } else if m & ctx::MRN != 0 {
                Kind::MedicalRecord
            } else {
                Kind::MemberId
            };
            out.push(Cand {
                start: toks[start].start,
                end: toks[k - 1].end,
                kind,
                score: 86,
                last4: [b'0'; 4],
            });
        }
    }
}
