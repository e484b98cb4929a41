//! E-mail addresses, written ("john.smith@example.com") and spoken ("john
//! dot smith at example dot com", "jsmith at gmail.com").
//!
//! Written addresses are found from each `@` by extending over the bytes an
//! address may contain; neither extension crosses another `@`, so every byte
//! is visited at most twice. Spoken addresses are anchored on the word "at"
//! and must end in a known top-level domain, which is what keeps "meet me
//! at the office" out.

use crate::Kind;
use crate::context;
use crate::engine::Cand;
use crate::lexer::{Gap, Lex, Tok};
use crate::words::{Word, ctx, is_tld};

fn local_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

fn written(text: &[u8], at: usize) -> Option<(u32, u32)> {
    let mut s = at;
    while s > 0 && local_byte(text[s - 1]) {
        s -= 1;
    }
    let mut e = at + 1;
    while e < text.len() && domain_byte(text[e]) {
        e += 1;
    }
    while e > at + 1 && matches!(text[e - 1], b'.' | b'-') {
        e -= 1;
    }
    while s < at && text[s] == b'.' {
        s += 1;
    }
    let domain = &text[at + 1..e];
    let dot = domain.iter().rposition(|&c| c == b'.')?;
    let tld = &domain[dot + 1..];
    (s < at && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
        .then_some((s as u32, e as u32))
}

/// End of a label (glued letters, digits and hyphens) starting at `j`.
fn label(toks: &[Tok], j: usize) -> Option<usize> {
    let t = toks.get(j)?;
    if !matches!(t.lex, Lex::Alpha | Lex::Digits) {
        return None;
    }
    let mut k = j + 1;
    while let Some(t) = toks.get(k) {
        if t.gap != Gap::Glued || !(matches!(t.lex, Lex::Alpha | Lex::Digits) || t.is_punct(b'-')) {
            break;
        }
        k += 1;
    }
    Some(k)
}

/// Start of a label (glued letters, digits, `-`, `_`) ending at `k`.
fn label_back(toks: &[Tok], k: usize) -> Option<usize> {
    let t = toks.get(k.checked_sub(1)?)?;
    if !matches!(t.lex, Lex::Alpha | Lex::Digits) {
        return None;
    }
    let mut s = k - 1;
    while s > 0 && toks[s].gap == Gap::Glued {
        let p = &toks[s - 1];
        if matches!(p.lex, Lex::Alpha | Lex::Digits) || p.is_punct(b'-') || p.is_punct(b'_') {
            s -= 1;
        } else {
            break;
        }
    }
    Some(s)
}

fn is_joiner(t: &Tok) -> bool {
    matches!(t.word, Word::Dot | Word::Underscore | Word::Dash)
        || t.is_punct(b'.')
        || t.is_punct(b'_')
}

fn spoken(text: &[u8], toks: &[Tok], at: usize) -> Option<(usize, usize)> {
    // Domain: label (joiner label)+ ending in a TLD.
    let mut j = label(toks, at + 1)?;
    let mut dots = 0;
    let mut last = at + 1;
    while let Some(t) = toks.get(j) {
        if !(t.word == Word::Dot || t.is_punct(b'.') || t.word == Word::Dash) {
            break;
        }
        let Some(e) = label(toks, j + 1) else { break };
        if t.word != Word::Dash {
            dots += 1;
        }
        last = j + 1;
        j = e;
    }
    let tld = &toks[last];
    if dots == 0 || last + 1 != j || !is_tld(&text[tld.start as usize..tld.end as usize]) {
        return None;
    }
    // Local part: label ((joiner | spoken digits) label)*, ending just before "at".
    let first = label_back(toks, at)?;
    let w = toks[first].word;
    if matches!(w, Word::Stop | Word::Ctx | Word::At) && first + 1 == at {
        return None;
    }
    let mut s = first;
    let mut after_digits = matches!(w, Word::Digit | Word::Teen | Word::Tens | Word::Repeat);
    while let Some(p) = s.checked_sub(1).map(|p| &toks[p]) {
        if is_joiner(p) {
            match label_back(toks, s - 1) {
                Some(b) if !matches!(toks[b].word, Word::Stop | Word::Ctx) => s = b,
                _ => break,
            }
            after_digits = false;
        } else if matches!(p.word, Word::Digit | Word::Teen | Word::Tens | Word::Repeat)
            || p.lex == Lex::Digits
        {
            s -= 1;
            after_digits = true;
        } else if after_digits && p.lex == Lex::Alpha && p.word == Word::Plain {
            s = label_back(toks, s).unwrap_or(s);
            break;
        } else {
            break;
        }
    }
    // Spoken digits are only part of the address after a label ("jsmith
    // eighty five at"); "call one two at ..." starts at the first label.
    while s < first
        && matches!(
            toks[s].word,
            Word::Digit | Word::Teen | Word::Tens | Word::Repeat
        )
    {
        s += 1;
    }
    Some((s, j))
}

/// A written address around the `@` at token `i`.
pub(crate) fn at_sign(text: &[u8], toks: &[Tok], i: usize, out: &mut Vec<Cand>) {
    if let Some((s, e)) = written(text, toks[i].start as usize) {
        out.push(Cand {
            start: s,
            end: e,
            kind: Kind::Email,
            score: 96,
            last4: [b'0'; 4],
        });
    }
}

/// A spoken address around the word "at" at token `i`.
pub(crate) fn at_word(
    text: &[u8],
    toks: &[Tok],
    i: usize,
    prompt: &impl Fn(u32) -> u32,
    out: &mut Vec<Cand>,
) {
    if let Some((s, e)) = spoken(text, toks, i) {
        let mask = context::around(toks, s, e) | prompt(toks[s].start);
        let score = if mask & ctx::EMAIL != 0 { 95 } else { 85 };
        out.push(Cand {
            start: toks[s].start,
            end: toks[e - 1].end,
            kind: Kind::Email,
            score,
            last4: [b'0'; 4],
        });
    }
}
