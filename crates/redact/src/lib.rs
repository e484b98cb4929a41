//! Redaction of card numbers, SSNs, bank, health and contact identifiers in
//! call transcripts, before anything is stored.
//!
//! # Design
//!
//! Transcripts of voice calls write numbers in many ways: "4111 1111 ...",
//! "four one one one", "forty one eleven", "double five", "oh" for zero,
//! split over several caller turns. A regular-expression engine would need
//! one pattern per form and kind and would rescan the text for each. This
//! crate instead makes one pass to tokenize ([`lexer`](crate::lexer)
//! classifies each word once against a fixed vocabulary), one pass to
//! assemble numbers from written and spoken units, keeping for every digit
//! the bytes it came from (`numbers`), and then runs cheap validators over
//! the assembled values: Luhn and issuer prefixes for cards, range rules
//! for SSNs, the ABA checksum, the NPI checksum, the MBI format, NANP rules
//! for phones. Context words on both sides of a value ("card", "social",
//! "routing", "order", "$") raise or lower a confidence score; in a
//! conversation the agent's last question adds its context to the answer.
//! Dates with month names, e-mail addresses, street addresses and
//! alphanumeric health ids have small detectors of their own.
//!
//! Every step is a forward scan with bounded look-around, so time and
//! memory are linear in the input, which is capped at [`MAX_INPUT_BYTES`].
//! There is no I/O, no clock and no global state; the functions are pure.
//!
//! Overlapping findings are merged into one removal: removing a little more
//! is safe, leaving a fragment of a value is not. Any 13-19 digit run that
//! passes Luhn with a card issuer's prefix is removed whatever its context.
//!
//! # Example
//!
//! ```
//! use tollgate_redact::{redact, Kind, Policy};
//!
//! let out = redact("card is four one one one 1111 1111 1111, thanks", &Policy::standard()).unwrap();
//! assert_eq!(out.text, "card is [CARD], thanks");
//! assert_eq!(out.findings[0].kind, Kind::Card);
//! ```

mod address;
mod checks;
mod context;
#[cfg(any(test, feature = "corpus"))]
pub mod corpus;
mod dates;
mod email;
mod engine;
mod ids;
mod kind;
mod lexer;
mod numbers;
mod numeric;
mod policy;
#[cfg(test)]
mod stress_tests;
mod words;

use std::fmt;
use std::ops::Range;

pub use kind::{Kind, KindSet};
pub use policy::{CardStyle, Policy};

use engine::{Cand, Region};

/// Largest input accepted, in bytes (16 MiB). Transcripts are far smaller;
/// the cap bounds memory (about 2.5 bytes of tokens per input byte) and keeps
/// offsets in 32 bits.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

/// Why a text could not be redacted. Nothing is returned in that case, so a
/// caller that stores only what this crate returns stores nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedactError {
    /// The input is larger than [`MAX_INPUT_BYTES`].
    InputTooLarge { len: usize, max: usize },
}

impl RedactError {
    /// Stable error code for APIs.
    pub const fn code(&self) -> &'static str {
        match self {
            RedactError::InputTooLarge { .. } => "input_too_large",
        }
    }
}

impl fmt::Display for RedactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedactError::InputTooLarge { len, max } => {
                write!(
                    f,
                    "the text is {len} bytes, more than the {max} bytes that can be redacted at once"
                )
            }
        }
    }
}

impl std::error::Error for RedactError {}

/// One removed value: its kind and where it was. Never the value itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    /// Byte range of the removed text in the input.
    pub input: Range<usize>,
    /// Byte range of the replacement tag in the output.
    pub output: Range<usize>,
    /// Confidence, 0-100.
    pub score: u8,
}

/// A redacted text and the map of what was removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub findings: Vec<Finding>,
}

/// Redacts one text.
pub fn redact(text: &str, policy: &Policy) -> Result<Redacted, RedactError> {
    check_len(text.len())?;
    let cands = engine::find(text, &[], policy);
    Ok(render(text, &cands, policy))
}

fn check_len(len: usize) -> Result<(), RedactError> {
    if len > MAX_INPUT_BYTES {
        return Err(RedactError::InputTooLarge {
            len,
            max: MAX_INPUT_BYTES,
        });
    }
    Ok(())
}

/// Who spoke a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The voice agent (the bot or the human operator).
    Agent,
    /// The person called.
    Caller,
}

/// One turn of a conversation.
#[derive(Clone, Copy, Debug)]
pub struct Turn<'a> {
    pub role: Role,
    pub text: &'a str,
}

/// Separators placed between turns in the joined text. A newline lets a
/// number continue into the same speaker's next turn; the semicolon between
/// speakers stops it.
const SAME_SPEAKER: &str = "\n";
const OTHER_SPEAKER: &str = "\n;\n";

/// Redacts a conversation. Numbers read across consecutive caller turns are
/// found as one value (agent turns that are only acknowledgements, like
/// "okay" or "mhm", do not interrupt them), and the keywords of the agent's
/// last question count as context for the caller's answer. Returns one
/// [`Redacted`] per turn, in order, with ranges relative to that turn.
pub fn redact_turns(turns: &[Turn<'_>], policy: &Policy) -> Result<Vec<Redacted>, RedactError> {
    let total: usize = turns
        .iter()
        .map(|t| t.text.len() + OTHER_SPEAKER.len())
        .sum();
    check_len(total)?;
    let mut joined = String::with_capacity(total);
    // Where each turn sits in `joined`; None for skipped acknowledgements.
    let mut at: Vec<Option<usize>> = Vec::with_capacity(turns.len());
    let mut regions = Vec::new();
    let mut prev: Option<Role> = None;
    let mut prompt = 0u32;
    for t in turns {
        if t.role == Role::Agent && is_acknowledgement(t.text) {
            at.push(None);
            continue;
        }
        if let Some(p) = prev {
            joined.push_str(if p == t.role {
                SAME_SPEAKER
            } else {
                OTHER_SPEAKER
            });
        }
        let start = joined.len();
        joined.push_str(t.text);
        at.push(Some(start));
        match t.role {
            Role::Agent => prompt = keyword_mask(t.text),
            Role::Caller if prompt != 0 => {
                regions.push(Region {
                    start: start as u32,
                    end: joined.len() as u32,
                    prompt,
                });
            }
            Role::Caller => {}
        }
        prev = Some(t.role);
    }
    let cands = engine::find(&joined, &regions, policy);
    let mut out = Vec::with_capacity(turns.len());
    let mut k = 0;
    let mut local = Vec::new();
    for (t, start) in turns.iter().zip(at) {
        local.clear();
        if let Some(start) = start {
            let end = start + t.text.len();
            while k < cands.len() && (cands[k].end as usize) <= start {
                k += 1;
            }
            let mut j = k;
            while j < cands.len() && (cands[j].start as usize) < end {
                let c = cands[j];
                let s = (c.start as usize).max(start) - start;
                let e = (c.end as usize).min(end) - start;
                // The last four digits belong to the turn that holds them.
                let mut piece = c;
                if c.kind == Kind::Card && (c.end as usize) > end {
                    piece.last4 = *b"\0\0\0\0";
                }
                piece.start = s as u32;
                piece.end = e as u32;
                local.push(piece);
                j += 1;
            }
        }
        out.push(render(t.text, &local, policy));
    }
    Ok(out)
}

/// Context keywords of an agent's turn, applied to the caller's answer.
fn keyword_mask(text: &str) -> u32 {
    let mut toks = Vec::new();
    lexer::lex(text, &mut toks);
    let m = toks
        .iter()
        .filter(|t| t.word == words::Word::Ctx)
        .fold(0, |m, t| m | words::CTX_TABLE[t.val as usize]);
    context::resolve(m)
}

fn is_acknowledgement(text: &str) -> bool {
    let mut words = 0;
    for w in text.split(|c: char| !c.is_ascii_alphabetic()) {
        if w.is_empty() {
            continue;
        }
        if !words::is_backchannel(w.as_bytes()) {
            return false;
        }
        words += 1;
    }
    words > 0 && !text.bytes().any(|b| b.is_ascii_digit())
}

fn render(text: &str, cands: &[Cand], policy: &Policy) -> Redacted {
    let mut out = String::with_capacity(text.len());
    let mut findings = Vec::with_capacity(cands.len());
    let mut pos = 0;
    for c in cands {
        let (s, e) = (c.start as usize, c.end as usize);
        out.push_str(&text[pos..s]);
        let o = out.len();
        if c.kind == Kind::Card && policy.card == CardStyle::KeepLastFour && c.last4[0] != 0 {
            out.push_str("[CARD ****");
            out.extend(c.last4.iter().map(|&b| b as char));
            out.push(']');
        } else {
            out.push_str(c.kind.tag());
        }
        findings.push(Finding {
            kind: c.kind,
            input: s..e,
            output: o..out.len(),
            score: c.score,
        });
        pos = e;
    }
    out.push_str(&text[pos..]);
    Redacted {
        text: out,
        findings,
    }
}
