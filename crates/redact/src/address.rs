//! US street addresses, only where the shape is unambiguous: a house number,
//! one to three street-name words and a street suffix ("1600 Pennsylvania
//! Avenue", "twelve oak lane"), then an optional unit ("apartment 4B",
//! "# 12") and an optional ", City, ST 12345". Street names must be
//! capitalised, or the sentence must be about an address ("I live at").

use crate::Kind;
use crate::context;
use crate::engine::Cand;
use crate::lexer::{Gap, Lex, Tok};
use crate::numbers::unit;
use crate::words::{Word, ctx, is_state};

fn capitalised(text: &[u8], t: &Tok) -> bool {
    text[t.start as usize].is_ascii_uppercase()
}

fn name_word(t: &Tok) -> bool {
    t.lex == Lex::Alpha
        && matches!(
            t.word,
            Word::Plain | Word::Directional | Word::Ordinal | Word::Month | Word::StreetSuffix
        )
}

/// Start of a house number that ends exactly at token `end`.
fn house_number(text: &[u8], toks: &[Tok], end: usize, buf: &mut Vec<u8>) -> Option<usize> {
    let mut best = None;
    for s in end.saturating_sub(6)..end {
        buf.clear();
        let mut i = s;
        let mut ok = false;
        while i < end {
            if i > s && toks[i].gap != Gap::Space {
                break;
            }
            match unit(toks, text, i, buf) {
                Some(n) => i = n,
                None => break,
            }
            if i == end {
                ok = true;
            }
        }
        if ok && (1..=6).contains(&buf.len()) {
            best = Some(s);
            break;
        }
    }
    best
}

/// Looks for an address ending with the street suffix at token `s`.
pub(crate) fn at_suffix(
    text: &[u8],
    toks: &[Tok],
    s: usize,
    prompt: &impl Fn(u32) -> u32,
    buf: &mut Vec<u8>,
    out: &mut Vec<Cand>,
) {
    {
        // Street name: one to three words before the suffix.
        let mut name = s;
        while name > 0
            && s - name < 3
            && name_word(&toks[name - 1])
            && toks[name - 1].gap != Gap::Newline
        {
            name -= 1;
        }
        // "5th Avenue": an ordinal written with digits.
        if name == s
            && s >= 2
            && toks[s - 1].lex == Lex::Alpha
            && toks[s - 1].gap == Gap::Glued
            && toks[s - 2].lex == Lex::Digits
        {
            name = s - 2;
        }
        if name == s {
            return;
        }
        let Some(start) = house_number(text, toks, name, buf) else {
            return;
        };
        let mask = context::around(toks, start, s + 1) | prompt(toks[start].start);
        let cap = (name..s).all(|i| toks[i].lex != Lex::Alpha || capitalised(text, &toks[i]));
        if !cap && mask & ctx::ADDR == 0 {
            return;
        }
        let mut end = s + 1;
        if toks
            .get(end)
            .is_some_and(|t| t.is_punct(b'.') && t.gap == Gap::Glued)
        {
            end += 1;
        }
        if toks.get(end).is_some_and(|t| t.word == Word::Directional) {
            end += 1;
        }
        // Unit: "apartment 4B", "apt. 12", "# 3", "suite two hundred".
        let mut u = end;
        if toks.get(u).is_some_and(|t| t.is_punct(b',')) {
            u += 1;
        }
        let has_unit = toks
            .get(u)
            .is_some_and(|t| t.word == Word::Unit || t.is_punct(b'#'));
        if has_unit {
            u += 1;
            while toks
                .get(u)
                .is_some_and(|t| t.is_punct(b'.') || t.is_punct(b'#'))
            {
                u += 1;
            }
            buf.clear();
            if let Some(t) = toks
                .get(u)
                .filter(|t| matches!(t.lex, Lex::Digits | Lex::Alpha))
            {
                let n = if t.lex == Lex::Digits {
                    Some(u + 1)
                } else {
                    unit(toks, text, u, buf)
                };
                if let Some(mut n) = n.or((t.lex == Lex::Alpha && t.len() == 1).then_some(u + 1)) {
                    while toks.get(n).is_some_and(|t| {
                        t.gap == Gap::Glued && matches!(t.lex, Lex::Digits | Lex::Alpha)
                    }) {
                        n += 1;
                    }
                    end = n;
                }
            }
        }
        // ", City, ST 12345".
        let mut c = end;
        if toks.get(c).is_some_and(|t| t.is_punct(b',')) {
            c += 1;
            let city = c;
            while c < toks.len()
                && c - city < 3
                && toks[c].lex == Lex::Alpha
                && capitalised(text, &toks[c])
                && toks[c].len() > 2
            {
                c += 1;
            }
            if c > city {
                if toks.get(c).is_some_and(|t| t.is_punct(b',')) {
                    c += 1;
                }
                if let Some(st) = toks.get(c).filter(|t| {
                    t.lex == Lex::Alpha && is_state(&text[t.start as usize..t.end as usize])
                }) {
                    let _ = st;
                    c += 1;
                    if toks
                        .get(c)
                        .is_some_and(|t| t.lex == Lex::Digits && t.len() == 5)
                    {
                        c += 1;
                        if toks
                            .get(c)
                            .is_some_and(|t| t.is_punct(b'-') && t.gap == Gap::Glued)
                            && toks
                                .get(c + 1)
                                .is_some_and(|t| t.lex == Lex::Digits && t.len() == 4)
                        {
                            c += 2;
                        }
                    }
                    end = c;
                }
            }
        }
        out.push(Cand {
            start: toks[start].start,
            end: toks[end - 1].end,
            kind: Kind::Address,
            score: 82,
            last4: [b'0'; 4],
        });
    }
}
