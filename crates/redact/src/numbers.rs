//! Number assembly: written, spaced, dashed and spoken digits become one
//! digit string with a map back to the bytes they came from.
//!
//! A *unit* is the smallest piece that yields digits: a written digit run
//! ("4111"), a digit word ("four", "oh"), a repeat ("double five" -> 55), a
//! teen or tens word ("eleven" -> 11, "forty one" -> 41, "forty" -> 40), or a
//! hundreds/thousands phrase ("nineteen hundred", "two thousand and three").
//! A *segment* is a maximal chain of units separated only by whitespace, one
//! separator (`-`, `,`, `/`, `(`, `)`, or a `.` glued on both sides) or
//! filler words ("uh"). Each unit becomes a [`Group`] that remembers its
//! digit range, its token range and the separator before it, so detectors
//! can ask both "what are the digits?" and "how were they grouped?".
//!
//! Everything here is a forward scan with constant look-ahead, so building
//! all segments of a text is linear in its length.

use crate::lexer::{Gap, Lex, Tok};
use crate::words::Word;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sep {
    Start,
    Space,
    Dash,
    Dot,
    Slash,
    Comma,
    Paren,
    Newline,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Group {
    /// Digit range in `Segment::digits`.
    pub d0: u32,
    pub d1: u32,
    /// Token range.
    pub t0: u32,
    pub t1: u32,
    pub sep: Sep,
    pub spoken: bool,
}

impl Group {
    #[inline]
    pub fn len(&self) -> usize {
        (self.d1 - self.d0) as usize
    }
}

#[derive(Default)]
pub(crate) struct Segment {
    pub groups: Vec<Group>,
    pub digits: Vec<u8>,
    /// A letter run glued after the last group ("3pm", "2nd").
    pub suffix: Option<u32>,
    /// A letter run glued before the first group ("A1234", "x4111").
    pub prefixed: bool,
}

impl Segment {
    pub fn clear(&mut self) {
        self.groups.clear();
        self.digits.clear();
        self.suffix = None;
        self.prefixed = false;
    }
    /// Digits of groups `a..b`.
    #[inline]
    pub fn digits_of(&self, a: usize, b: usize) -> &[u8] {
        &self.digits[self.groups[a].d0 as usize..self.groups[b - 1].d1 as usize]
    }
}

#[inline]
fn is(t: Option<&Tok>, w: Word) -> bool {
    t.is_some_and(|t| t.word == w)
}

fn push_num(out: &mut Vec<u8>, v: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Below one hundred, spoken: "forty one", "forty-one", "eleven", "seven".
/// Returns the value and the next token index.
pub(crate) fn sub100(toks: &[Tok], i: usize) -> Option<(u32, usize)> {
    let t = toks.get(i)?;
    match t.word {
        Word::Digit if t.val > 0 => Some((u32::from(t.val), i + 1)),
        Word::Teen => Some((u32::from(t.val), i + 1)),
        Word::Tens => {
            let mut j = i + 1;
            if toks
                .get(j)
                .is_some_and(|t| t.is_punct(b'-') && t.gap == Gap::Glued)
            {
                j += 1;
            }
            match toks.get(j) {
                Some(u) if u.word == Word::Digit && u.val > 0 && u.gap != Gap::Newline => {
                    Some((u32::from(t.val) + u32::from(u.val), j + 1))
                }
                _ => Some((u32::from(t.val), i + 1)),
            }
        }
        _ => None,
    }
}

/// "h hundred [and] [sub100]", with `j` just after "hundred".
fn hundreds(toks: &[Tok], h: u32, j: usize) -> (u32, usize) {
    let mut k = j;
    if is(toks.get(k), Word::And) {
        k += 1;
    }
    match sub100(toks, k) {
        Some((v, next)) => (h * 100 + v, next),
        None => (h * 100, j),
    }
}

/// "t thousand [and] [h hundred ...] [sub100]", with `j` just after "thousand".
fn thousands(toks: &[Tok], t: u32, j: usize) -> (u32, usize) {
    let mut k = j;
    if is(toks.get(k), Word::And) {
        k += 1;
    }
    if let Some(h) = toks.get(k).filter(|t| t.word == Word::Digit && t.val > 0)
        && is(toks.get(k + 1), Word::Hundred)
    {
        let (v, next) = hundreds(toks, u32::from(h.val), k + 2);
        return (t * 1000 + v, next);
    }
    match sub100(toks, k) {
        Some((v, next)) => (t * 1000 + v, next),
        None => (t * 1000, j),
    }
}

/// Parses one unit at token `i`, appending its digits to `out`. Returns the
/// index of the token after the unit.
pub(crate) fn unit(toks: &[Tok], text: &[u8], i: usize, out: &mut Vec<u8>) -> Option<usize> {
    let t = toks.get(i)?;
    match (t.lex, t.word) {
        (Lex::Digits, _) => {
            out.extend_from_slice(&text[t.start as usize..t.end as usize]);
            Some(i + 1)
        }
        (Lex::Alpha, Word::Digit) => {
            let next = toks.get(i + 1);
            if t.val > 0 && is(next, Word::Hundred) {
                let (v, n) = hundreds(toks, u32::from(t.val), i + 2);
                push_num(out, v);
                return Some(n);
            }
            if t.val > 0 && is(next, Word::Thousand) {
                let (v, n) = thousands(toks, u32::from(t.val), i + 2);
                push_num(out, v);
                return Some(n);
            }
            // "o'clock", "o'brien": an o glued to an apostrophe is no zero.
            if next.is_some_and(|n| n.is_punct(b'\'') && n.gap == Gap::Glued) {
                return None;
            }
            out.push(b'0' + t.val);
            Some(i + 1)
        }
        (Lex::Alpha, Word::Repeat) => {
            let n = toks.get(i + 1)?;
            let d = match (n.lex, n.word) {
                (Lex::Alpha, Word::Digit) => n.val,
                (Lex::Digits, _) if n.len() == 1 => text[n.start as usize] - b'0',
                _ => return None,
            };
            for _ in 0..t.val {
                out.push(b'0' + d);
            }
            Some(i + 2)
        }
        (Lex::Alpha, Word::Teen | Word::Tens) => {
            let (v, n) = sub100(toks, i)?;
            if is(toks.get(n), Word::Hundred) {
                let (v, n) = hundreds(toks, v, n + 1);
                push_num(out, v);
                return Some(n);
            }
            if is(toks.get(n), Word::Thousand) {
                let (v, n) = thousands(toks, v, n + 1);
                push_num(out, v);
                return Some(n);
            }
            push_num(out, v);
            Some(n)
        }
        _ => None,
    }
}

/// Finds the next segment starting at or after token `from`. Fills `seg` and
/// returns the token index just after it, or `None` when no unit remains.
pub(crate) fn next_segment(
    toks: &[Tok],
    text: &[u8],
    from: usize,
    seg: &mut Segment,
) -> Option<usize> {
    seg.clear();
    let mut i = from;
    // Find a first unit.
    loop {
        let t = toks.get(i)?;
        let starts = matches!(
            (t.lex, t.word),
            (Lex::Digits, _)
                | (
                    Lex::Alpha,
                    Word::Digit | Word::Teen | Word::Tens | Word::Repeat
                )
        );
        if starts {
            let before = seg.digits.len();
            if let Some(n) = unit(toks, text, i, &mut seg.digits) {
                seg.prefixed = t.lex == Lex::Digits
                    && t.gap == Gap::Glued
                    && i > 0
                    && toks[i - 1].lex == Lex::Alpha;
                seg.groups.push(Group {
                    d0: before as u32,
                    d1: seg.digits.len() as u32,
                    t0: i as u32,
                    t1: n as u32,
                    sep: Sep::Start,
                    spoken: t.lex == Lex::Alpha,
                });
                i = n;
                break;
            }
        }
        i += 1;
    }
    // Extend it.
    loop {
        let Some(t) = toks.get(i) else { return Some(i) };
        // A letter run glued to digits ends the segment ("3pm", "2nd").
        if t.gap == Gap::Glued && t.lex == Lex::Alpha && toks[i - 1].lex == Lex::Digits {
            seg.suffix = Some(i as u32);
            return Some(i);
        }
        let mut j = i;
        let mut sep = match t.gap {
            Gap::Newline => Sep::Newline,
            _ => Sep::Space,
        };
        while is(toks.get(j), Word::Filler) {
            j += 1;
        }
        if let Some(p) = toks.get(j).filter(|p| p.lex == Lex::Punct) {
            let next_glued = toks.get(j + 1).is_some_and(|n| n.gap == Gap::Glued);
            sep = match p.val {
                b'-' => Sep::Dash,
                b',' => Sep::Comma,
                b'/' => Sep::Slash,
                b'(' | b')' => Sep::Paren,
                b'.' if p.gap == Gap::Glued && next_glued => Sep::Dot,
                _ => return Some(i),
            };
            j += 1;
            if p.val == b')' && toks.get(j).is_some_and(|p| p.is_punct(b'-')) {
                j += 1;
            }
            while is(toks.get(j), Word::Filler) {
                j += 1;
            }
        }
        let Some(u) = toks.get(j) else { return Some(i) };
        if u.lex == Lex::Digits && u.gap == Gap::Glued && j > 0 && toks[j - 1].lex == Lex::Alpha {
            return Some(i);
        }
        let before = seg.digits.len();
        match unit(toks, text, j, &mut seg.digits) {
            Some(n) => {
                seg.groups.push(Group {
                    d0: before as u32,
                    d1: seg.digits.len() as u32,
                    t0: j as u32,
                    t1: n as u32,
                    sep,
                    spoken: u.lex == Lex::Alpha,
                });
                i = n;
            }
            None => return Some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex;

    fn segments(text: &str) -> Vec<String> {
        let mut toks = Vec::new();
        lex(text, &mut toks);
        let mut seg = Segment::default();
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(n) = next_segment(&toks, text.as_bytes(), i, &mut seg) {
            out.push(String::from_utf8(seg.digits.clone()).unwrap());
            i = n;
        }
        out
    }

    #[test]
    fn spoken_forms_become_digits() {
        assert_eq!(segments("four one one one, one one one one"), ["41111111"]);
        assert_eq!(segments("double five oh triple nine"), ["550999"]);
        assert_eq!(segments("forty one eleven"), ["4111"]);
        assert_eq!(segments("forty-one"), ["41"]);
        assert_eq!(segments("nineteen eighty five"), ["1985"]);
        assert_eq!(segments("two thousand and three"), ["2003"]);
        assert_eq!(segments("one hundred twenty three"), ["123"]);
        assert_eq!(segments("four uh one 1 1-1"), ["41111"]);
        assert_eq!(segments("(212) 555-0100"), ["2125550100"]);
        assert_eq!(segments("555.123.4567"), ["5551234567"]);
    }

    #[test]
    fn words_and_sentence_ends_break_segments() {
        assert_eq!(segments("call 12 and 34"), ["12", "34"]);
        assert_eq!(segments("it was 42. 17 more"), ["42", "17"]);
        assert_eq!(segments("at 10:30"), ["10", "30"]);
        assert_eq!(segments("ten o'clock"), ["10"]);
    }
}
