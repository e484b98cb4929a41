//! Dates written with month names: "January 2nd, 1980", "the second of
//! January nineteen eighty", "April twenty twenty seven". Numeric dates
//! ("01/02/1980", "oh one oh two eighty") are handled with the other digit
//! values in `numeric`. A date is only sensitive in a birth context (date of
//! birth) or a card context (expiry), so this detector reports nothing
//! without one of those.

use crate::Kind;
use crate::context;
use crate::engine::Cand;
use crate::lexer::{Gap, Lex, Tok};
use crate::numbers::{sub100, unit};
use crate::words::{Word, ctx};

fn text_is(text: &[u8], t: &Tok, w: &[u8]) -> bool {
    t.lex == Lex::Alpha && text[t.start as usize..t.end as usize].eq_ignore_ascii_case(w)
}

fn is_ordinal_suffix(text: &[u8], t: &Tok) -> bool {
    t.gap == Gap::Glued
        && [&b"st"[..], b"nd", b"rd", b"th"]
            .iter()
            .any(|w| text_is(text, t, w))
}

fn digits_value(text: &[u8], t: &Tok) -> u32 {
    text[t.start as usize..t.end as usize]
        .iter()
        .fold(0, |a, &c| {
            a.saturating_mul(10).saturating_add(u32::from(c - b'0'))
        })
}

/// A day of the month at `j`: "2", "2nd", "second", "twenty first", "two".
fn day_at(text: &[u8], toks: &[Tok], j: usize) -> Option<usize> {
    let t = toks.get(j)?;
    match (t.lex, t.word) {
        (Lex::Digits, _) if t.len() <= 2 && (1..=31).contains(&digits_value(text, t)) => Some(
            if toks.get(j + 1).is_some_and(|s| is_ordinal_suffix(text, s)) {
                j + 2
            } else {
                j + 1
            },
        ),
        (Lex::Alpha, Word::Ordinal) => Some(j + 1),
        (Lex::Alpha, Word::Tens) if t.val <= 30 => {
            let mut k = j + 1;
            if toks.get(k).is_some_and(|p| p.is_punct(b'-')) {
                k += 1;
            }
            if toks
                .get(k)
                .is_some_and(|o| o.word == Word::Ordinal && o.val < 10)
            {
                return Some(k + 1);
            }
            sub100(toks, j).filter(|(v, _)| *v <= 31).map(|(_, n)| n)
        }
        (Lex::Alpha, Word::Digit | Word::Teen) => sub100(toks, j)
            .filter(|(v, _)| (1..=31).contains(v))
            .map(|(_, n)| n),
        _ => None,
    }
}

/// The first token of a day ending just before `k` ("2nd", "twenty first").
fn day_before(text: &[u8], toks: &[Tok], k: usize) -> Option<usize> {
    let last = toks.get(k.checked_sub(1)?)?;
    if last.word == Word::Ordinal {
        if k >= 2 && toks[k - 2].word == Word::Tens {
            return Some(k - 2);
        }
        return Some(k - 1);
    }
    if is_ordinal_suffix(text, last)
        && k >= 2
        && toks[k - 2].lex == Lex::Digits
        && day_at(text, toks, k - 2) == Some(k)
    {
        return Some(k - 2);
    }
    if last.lex == Lex::Digits && day_at(text, toks, k - 1) == Some(k) {
        return Some(k - 1);
    }
    None
}

/// A year at `j`: "1980", "'80", "nineteen eighty", "two thousand three".
/// Returns the next token index.
fn year_at(text: &[u8], toks: &[Tok], j: usize, digits: &mut Vec<u8>) -> Option<usize> {
    let t = toks.get(j)?;
    if t.lex == Lex::Punct && t.val == b'\'' {
        let y = toks
            .get(j + 1)
            .filter(|y| y.lex == Lex::Digits && y.len() == 2)?;
        let _ = y;
        return Some(j + 2);
    }
    digits.clear();
    let mut n = unit(toks, text, j, digits)?;
    // "nineteen eighty", "twenty oh three": units until four digits.
    while digits.len() < 4 && toks.get(n).is_some_and(|t| t.gap == Gap::Space) {
        let before = digits.len();
        match unit(toks, text, n, digits) {
            Some(next) if digits.len() <= 4 => n = next,
            _ => {
                digits.truncate(before);
                break;
            }
        }
    }
    let ok = match digits.len() {
        4 => {
            let y = digits
                .iter()
                .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
            (1900..=2099).contains(&y)
        }
        2 => t.lex == Lex::Digits,
        _ => false,
    };
    ok.then_some(n)
}

/// Looks for a date around the month name at token `m`.
pub(crate) fn at_month(
    text: &[u8],
    toks: &[Tok],
    m: usize,
    prompt: &impl Fn(u32) -> u32,
    buf: &mut Vec<u8>,
    out: &mut Vec<Cand>,
) {
    {
        let mut start = m;
        let mut day = false;
        // Backward: "[the] second [of] January".
        let mut k = m;
        if k > 0 && text_is(text, &toks[k - 1], b"of") {
            k -= 1;
        }
        if let Some(ds) = day_before(text, toks, k) {
            start = if ds > 0 && text_is(text, &toks[ds - 1], b"the") {
                ds - 1
            } else {
                ds
            };
            day = true;
        }
        // Forward: "January [the] 2nd[,] [1980]" or "April 2027".
        let mut j = m + 1;
        let mut year = false;
        if toks
            .get(j)
            .is_some_and(|t| t.is_punct(b'.') && t.gap == Gap::Glued)
        {
            j += 1;
        }
        if let Some(n) = year_at(text, toks, j, buf).filter(|_| buf.len() == 4) {
            j = n;
            year = true;
        } else {
            if !day {
                let mut d = j;
                if toks.get(d).is_some_and(|t| text_is(text, t, b"the")) {
                    d += 1;
                }
                if let Some(n) = day_at(text, toks, d) {
                    j = n;
                    day = true;
                }
            }
            let mut y = j;
            if toks.get(y).is_some_and(|t| t.is_punct(b',')) {
                y += 1;
            }
            if let Some(n) = year_at(text, toks, y, buf) {
                j = n;
                year = true;
            }
        }
        if !day && !year {
            return;
        }
        let mask = context::around(toks, start, j) | prompt(toks[start].start);
        let (kind, score) = if mask & ctx::DOB != 0 {
            (Kind::DateOfBirth, 90)
        } else if year && !day && mask & ctx::EXP != 0 {
            (Kind::Expiry, 90)
        } else if year && !day && mask & ctx::CARD != 0 {
            (Kind::Expiry, 70)
        } else {
            return;
        };
        out.push(Cand {
            start: toks[start].start,
            end: toks[j - 1].end,
            kind,
            score,
            last4: [b'0'; 4],
        });
    }
}
