//! The engine: runs every detector over one text and turns their candidates
//! into a sorted, non-overlapping list of spans to remove.

use crate::context;
use crate::lexer::{Gap, Lex, Tok, lex};
use crate::numbers::{Segment, next_segment};
use crate::numeric::{self, Leftover};
use crate::policy::Policy;
use crate::words::{CTX_TABLE, Word, ctx};
use crate::{Kind, address, dates, email, ids};

/// A span some detector believes is sensitive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub start: u32,
    pub end: u32,
    pub kind: Kind,
    pub score: u8,
    /// Last four digits, for cards rendered with [`crate::CardStyle::KeepLastFour`].
    pub last4: [u8; 4],
}

/// Context that a conversation adds to part of the text: the keywords of the
/// agent's last question, applied to the caller's answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    pub start: u32,
    pub end: u32,
    pub prompt: u32,
}

/// Tokens before and after a payment keyword or card within which strict PCI
/// mode removes every run of three or more digits.
const ZONE_BEFORE: u32 = 8;
const ZONE_AFTER: u32 = 40;

/// Finds the spans to remove from `text` under `policy`.
pub(crate) fn find(text: &str, regions: &[Region], policy: &Policy) -> Vec<Cand> {
    let bytes = text.as_bytes();
    let mut toks: Vec<Tok> = Vec::with_capacity(text.len() / 5 + 1);
    lex(text, &mut toks);
    let prompt = |at: u32| -> u32 {
        if regions.is_empty() {
            return 0;
        }
        let i = regions.partition_point(|r| r.end <= at);
        regions
            .get(i)
            .filter(|r| r.start <= at)
            .map_or(0, |r| r.prompt)
    };

    let mut cands = Vec::new();
    let mut leftovers: Vec<Leftover> = Vec::new();
    let mut anchors: Vec<u32> = Vec::new();
    // Tokens where a detector may start: a number, or a word or character
    // that anchors one. Listing them first lets the loops below skip the
    // ordinary words, which are most of a transcript.
    let mut numbers = Vec::new();
    let mut anchors_at = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        let numeric = t.lex == Lex::Digits
            || matches!(t.word, Word::Digit | Word::Teen | Word::Tens | Word::Repeat);
        if numeric {
            numbers.push(k as u32);
        }
        if numeric && t.lex == Lex::Digits
            || matches!(t.word, Word::At | Word::Month | Word::StreetSuffix)
            || t.is_punct(b'@')
            || ids::introduces_id(t)
        {
            anchors_at.push(k as u32);
        }
    }
    let mut seg = Segment::default();
    let mut i = 0;
    let mut ni = 0;
    loop {
        while ni < numbers.len() && (numbers[ni] as usize) < i {
            ni += 1;
        }
        let Some(&from) = numbers.get(ni) else { break };
        let Some(next) = next_segment(&toks, bytes, from as usize, &mut seg) else {
            break;
        };
        let t0 = seg.groups[0].t0 as usize;
        let t1 = seg.groups[seg.groups.len() - 1].t1 as usize;
        let mask = context::around(&toks, t0, t1) | prompt(toks[t0].start);
        let before = cands.len();
        let span = |a: usize, b: usize| {
            let ga = seg.groups[a];
            let gb = seg.groups[b - 1];
            let mut t = ga.t0 as usize;
            // "(212) 555-0100": the opening parenthesis goes with the number.
            if a == 0 && t > 0 && toks[t - 1].is_punct(b'(') && toks[t].gap == Gap::Glued {
                t -= 1;
            }
            (toks[t].start, toks[gb.t1 as usize - 1].end, ga.t0)
        };
        numeric::detect(&seg, span, mask, &mut cands, &mut leftovers);
        if policy.strict_pci && cands[before..].iter().any(|c| c.kind == Kind::Card) {
            anchors.push(t0 as u32);
        }
        i = next;
    }
    // One pass for the detectors anchored on a word or a character.
    let mut buf = Vec::new();
    for &k in &anchors_at {
        let k = k as usize;
        let t = &toks[k];
        match (t.lex, t.word) {
            (Lex::Digits, _) => ids::mbi_at(bytes, &toks, k, &mut cands),
            (Lex::Punct, _) if t.val == b'@' => email::at_sign(bytes, &toks, k, &mut cands),
            (Lex::Alpha, Word::At) => email::at_word(bytes, &toks, k, &prompt, &mut cands),
            (Lex::Alpha, Word::Month) => {
                dates::at_month(bytes, &toks, k, &prompt, &mut buf, &mut cands)
            }
            (Lex::Alpha, Word::StreetSuffix) if k > 0 => {
                address::at_suffix(bytes, &toks, k, &prompt, &mut buf, &mut cands)
            }
            (Lex::Alpha, Word::Ctx) if ids::introduces_id(t) => {
                ids::after_context(bytes, &toks, k, &prompt, &mut buf, &mut cands)
            }
            _ => {}
        }
    }

    cands.retain(|c| c.score >= policy.min_score && policy.kinds.contains(c.kind));

    if policy.strict_pci {
        for (k, t) in toks.iter().enumerate() {
            if t.word == Word::Ctx
                && context::resolve(CTX_TABLE[t.val as usize]) & ctx::PAYMENT_ZONE != 0
            {
                anchors.push(k as u32);
            }
        }
        anchors.sort_unstable();
        for l in leftovers.iter().filter(|l| l.digits >= 3) {
            let first = anchors.partition_point(|&a| a + ZONE_AFTER < l.tok);
            let near = anchors
                .get(first)
                .is_some_and(|&a| a <= l.tok + ZONE_BEFORE);
            if near || numeric::is_payment(prompt(l.start)) {
                cands.push(Cand {
                    start: l.start,
                    end: l.end,
                    kind: Kind::PaymentDigits,
                    score: 100,
                    last4: [b'0'; 4],
                });
            }
        }
    }
    merge(cands)
}

/// Sorts candidates and unions overlapping ones. The union keeps the kind of
/// its highest-scoring member: removing more than one detector claimed is
/// safe, leaving a fragment of a value is not.
fn merge(mut cands: Vec<Cand>) -> Vec<Cand> {
    cands.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Cand> = Vec::with_capacity(cands.len());
    for c in cands {
        match out.last_mut() {
            Some(last) if c.start < last.end => {
                if c.end > last.end {
                    last.end = c.end;
                }
                if c.score > last.score || (c.kind == Kind::Card && last.kind != Kind::Card) {
                    last.kind = c.kind;
                    last.score = c.score;
                    last.last4 = c.last4;
                }
            }
            _ => out.push(c),
        }
    }
    out
}
