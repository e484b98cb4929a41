//! Detectors for values made of digits: cards, SSNs, phones, routing and
//! account numbers, NPIs, numeric dates, CVVs and numeric health ids.
//!
//! Each segment (see `numbers`) is searched in three steps, left to right:
//!
//! 1. Card windows: every run of whole groups holding 13 to 19 digits that
//!    passes Luhn and an issuer-prefix check is a card, whatever the
//!    context. Checking windows rather than the whole segment finds a card
//!    read together with its expiry and CVV, or after an "oh" interjection.
//! 2. The whole remaining piece is classified by its length, grouping and
//!    context ([`classify`]).
//! 3. If that fails, windows of up to [`WINDOW_DIGITS`] digits are tried, so
//!    "90210 415 555 0123" still yields the phone number.
//!
//! Whatever is left unclaimed is remembered for strict PCI mode. Each start
//! position is tried against a bounded number of windows, so the work per
//! segment is linear in its number of groups.

use crate::Kind;
use crate::checks;
use crate::engine::Cand;
use crate::numbers::{Group, Segment, Sep};
use crate::words::ctx;

/// Longest window, in digits, tried in step 3 (an 11-digit phone number).
const WINDOW_DIGITS: usize = 11;

/// The default confidence threshold.
pub(crate) const THRESHOLD: u8 = 50;

/// A piece of a segment that no detector claimed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leftover {
    pub start: u32,
    pub end: u32,
    pub tok: u32,
    pub digits: u32,
}

fn seps_are(groups: &[Group], ok: impl Fn(Sep) -> bool) -> bool {
    groups.iter().skip(1).all(|g| ok(g.sep))
}

fn lens_are(groups: &[Group], lens: &[usize]) -> bool {
    groups.len() == lens.len()
        && groups
            .iter()
            .zip(lens)
            .all(|(g, &l)| g.len() == l && !g.spoken)
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |a, &c| a * 10 + u32::from(c - b'0'))
}

fn month_ok(d: &[u8]) -> bool {
    (1..=12).contains(&num(d))
}

fn day_ok(d: &[u8]) -> bool {
    (1..=31).contains(&num(d))
}

fn year_ok(d: &[u8]) -> bool {
    match d.len() {
        2 => true,
        4 => (1900..=2099).contains(&num(d)),
        _ => false,
    }
}

/// Month and year of a card expiry: "12/27", "1227", "0427", "4 27", "12/2027".
fn expiry_shape(g: &[Group], d: &[u8]) -> Option<bool> {
    if g.len() == 2 && !g[0].spoken && !g[1].spoken {
        let (m, y) = d.split_at(g[0].len());
        let slash = g[1].sep == Sep::Slash;
        return (m.len() <= 2
            && month_ok(m)
            && matches!(y.len(), 2 | 4)
            && (y.len() == 2 || y.starts_with(b"20")))
        .then_some(slash);
    }
    let ok = match d.len() {
        3 => month_ok(&d[..1]),
        4 => month_ok(&d[..2]),
        6 => month_ok(&d[..2]) && d[2..].starts_with(b"20"),
        _ => false,
    };
    ok.then_some(false)
}

/// A calendar date: M/D/Y, Y-M-D, MMDDYYYY, MMDDYY, or spoken digits.
fn date_shape(g: &[Group], d: &[u8]) -> bool {
    if g.len() == 3
        && g.iter().all(|g| !g.spoken)
        && seps_are(g, |s| {
            matches!(s, Sep::Slash | Sep::Dash | Sep::Dot | Sep::Space)
        })
    {
        let (a, rest) = d.split_at(g[0].len());
        let (b, c) = rest.split_at(g[1].len());
        if a.len() == 4 {
            return year_ok(a) && month_ok(b) && day_ok(c);
        }
        return a.len() <= 2 && b.len() <= 2 && month_ok(a) && day_ok(b) && year_ok(c)
            || a.len() <= 2 && b.len() <= 2 && day_ok(a) && month_ok(b) && year_ok(c);
    }
    match d.len() {
        8 => month_ok(&d[..2]) && day_ok(&d[2..4]) && year_ok(&d[4..]),
        6 => month_ok(&d[..2]) && day_ok(&d[2..4]),
        _ => false,
    }
}

/// The best kind for the digits of groups `g`, with its score.
pub(crate) fn classify(g: &[Group], d: &[u8], mask: u32) -> Option<(Kind, u8)> {
    let len = d.len();
    let has = |bits: u32| mask & bits != 0;
    let neg = has(ctx::NEG | ctx::MONEY | ctx::TIME);
    let mut best: Option<(Kind, u8)> = None;
    let mut offer = |k: Kind, s: i32| {
        let s = s.clamp(0, 100) as u8;
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((k, s));
        }
    };

    if (3..=4).contains(&len) && has(ctx::CVV) && !neg {
        offer(Kind::Cvv, 90);
    }
    if has(ctx::EXP | ctx::CARD)
        && let Some(slash) = expiry_shape(g, d)
    {
        let s = if has(ctx::EXP) {
            90
        } else if slash {
            70
        } else {
            0
        };
        offer(Kind::Expiry, s + i32::from(slash) * 5);
    }
    if has(ctx::DOB) && date_shape(g, d) {
        offer(Kind::DateOfBirth, 92);
    }
    if len == 9 {
        if checks::ssn_ok(d) {
            let grouped =
                lens_are(g, &[3, 2, 4]) && seps_are(g, |s| matches!(s, Sep::Dash | Sep::Space));
            let mut s = if grouped { 75 } else { 20 };
            if has(ctx::SSN) {
                s += 70;
            }
            if neg
                || has(ctx::ROUTING | ctx::ACCOUNT | ctx::HEALTH_IDS | ctx::PHONE) && !has(ctx::SSN)
            {
                s -= 50;
            }
            offer(Kind::Ssn, s);
        }
        if checks::aba_ok(d) && has(ctx::ROUTING | ctx::BANK) {
            offer(Kind::RoutingNumber, if has(ctx::ROUTING) { 93 } else { 60 });
        }
    }
    if (4..=17).contains(&len) && has(ctx::ACCOUNT | ctx::BANK) {
        let s = if has(ctx::ROUTING) && !has(ctx::ACCOUNT) {
            40
        } else {
            80
        };
        offer(Kind::BankAccount, s);
    }
    if checks::nanp_ok(d) {
        let grouped = lens_are(g, &[3, 3, 4]) || lens_are(g, &[1, 3, 3, 4]);
        let mut s = if grouped { 62 } else { 55 };
        if has(ctx::PHONE) {
            s += 30;
        }
        if neg {
            s -= 50;
        }
        offer(Kind::Phone, s);
    } else if (7..=15).contains(&len) && has(ctx::PHONE) && !neg {
        // International and local numbers: no numbering-plan rule covers
        // them all, so they need a phone word (or a leading "+").
        offer(Kind::Phone, 72);
    }
    if (12..=19).contains(&len) && has(ctx::CARD) && checks::luhn(d) {
        // In a card context, any Luhn-valid card-length number: issuers'
        // ranges change faster than any table (12-digit Maestro, new JCB).
        offer(Kind::Card, 90);
    }
    if len == 10 && has(ctx::NPI) && checks::npi_ok(d) {
        offer(Kind::Npi, 94);
    }
    if (4..=20).contains(&len) {
        if has(ctx::CLAIM) {
            offer(Kind::ClaimNumber, 86);
        } else if has(ctx::MRN) {
            offer(Kind::MedicalRecord, 86);
        } else if has(ctx::MEMBER) {
            offer(Kind::MemberId, 85);
        }
    }
    best
}

/// Finds the first card window at or after group `from` in `a..b`.
fn find_card(seg: &Segment, from: usize, b: usize) -> Option<(usize, usize)> {
    for s in from..b {
        let mut found = None;
        let mut len = 0;
        for e in s..b {
            len += seg.groups[e].len();
            if len > 19 {
                break;
            }
            if len >= 13 {
                let d = seg.digits_of(s, e + 1);
                if checks::card_prefix_ok(d) && checks::luhn(d) {
                    found = Some(e + 1);
                }
            }
        }
        if let Some(e) = found {
            return Some((s, e));
        }
    }
    None
}

/// Searches one segment, pushing candidates and leftovers.
pub(crate) fn detect(
    seg: &Segment,
    span: impl Fn(usize, usize) -> (u32, u32, u32),
    mask: u32,
    out: &mut Vec<Cand>,
    left: &mut Vec<Leftover>,
) {
    let n = seg.groups.len();
    let leftover = |a: usize, b: usize, left: &mut Vec<Leftover>| {
        if a < b {
            let (start, end, tok) = span(a, b);
            let digits = seg.digits_of(a, b).len() as u32;
            left.push(Leftover {
                start,
                end,
                tok,
                digits,
            });
        }
    };
    let emit = |a: usize, b: usize, kind: Kind, score: u8, out: &mut Vec<Cand>| {
        let (start, end, _) = span(a, b);
        let d = seg.digits_of(a, b);
        let mut last4 = [b'0'; 4];
        if d.len() >= 4 {
            last4.copy_from_slice(&d[d.len() - 4..]);
        }
        out.push(Cand {
            start,
            end,
            kind,
            score,
            last4,
        });
    };

    let mut pos = 0;
    while pos < n {
        let (p, q, card) = match find_card(seg, pos, n) {
            Some((s, e)) => (pos, s, Some(e)),
            None => (pos, n, None),
        };
        // Step 2 and 3 on the piece before the card (or the rest).
        if p < q {
            let d = seg.digits_of(p, q);
            match classify(&seg.groups[p..q], d, mask) {
                Some((k, s)) if s >= THRESHOLD => emit(p, q, k, s, out),
                _ => {
                    let mut s = p;
                    let mut lstart = p;
                    while s < q {
                        let mut best = None;
                        let mut len = 0;
                        for e in s..q {
                            len += seg.groups[e].len();
                            if len > WINDOW_DIGITS {
                                break;
                            }
                            if (s, e + 1) == (p, q) {
                                continue;
                            }
                            if let Some((k, sc)) =
                                classify(&seg.groups[s..=e], seg.digits_of(s, e + 1), mask)
                                && sc >= THRESHOLD
                            {
                                best = Some((e + 1, k, sc));
                            }
                        }
                        match best {
                            Some((e, k, sc)) => {
                                leftover(lstart, s, left);
                                emit(s, e, k, sc, out);
                                s = e;
                                lstart = e;
                            }
                            None => s += 1,
                        }
                    }
                    leftover(lstart, q, left);
                }
            }
        }
        match card {
            Some(e) => {
                emit(q, e, Kind::Card, 100, out);
                pos = e;
            }
            None => break,
        }
    }
}

/// Whether a segment's context is a payment one (for the caller's anchors).
pub(crate) fn is_payment(mask: u32) -> bool {
    mask & ctx::PAYMENT_ZONE != 0
}
