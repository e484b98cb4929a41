//! Recognising an opt-out in what a person said or texted.
//!
//! Consumers may revoke consent "in any reasonable manner" and the words
//! "stop", "quit", "end", "revoke", "opt out", "cancel" and "unsubscribe" are
//! per-se reasonable (FCC 24-24, 47 CFR 64.1200(a)(10); research note §1.4).
//! A missed opt-out is a violation; a false one costs a lead. So the
//! classifier leans to "opt-out":
//!
//! * "stop", "unsubscribe", "revoke", "opt out" anywhere in the text, and
//!   phrases such as "do not call", "remove me", "take me off";
//! * "quit", "cancel", "end" only when they are (nearly) the whole message:
//!   they are ordinary words in conversation ("at the end of the month");
//! * case, punctuation, curly apostrophes, repeated letters ("stoooop") and
//!   a list of common misspellings ("stpo", "unsubscibe", "cancle") are
//!   normalised away.

/// What the classifier found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutMatch {
    /// The normalised keyword or phrase that matched, e.g. `do not call`.
    pub matched: &'static str,
}

/// Words that are an opt-out wherever they appear, with misspellings. Forms
/// are compared after lower-casing and collapsing repeated letters.
const ANYWHERE: &[(&str, &[&str])] = &[
    (
        "stop",
        &["stop", "stpo", "sotp", "stp", "stopall", "stahp", "stoop"],
    ),
    (
        "unsubscribe",
        &[
            "unsubscribe",
            "unsubscibe",
            "unsubcribe",
            "unsuscribe",
            "unsubscrib",
            "unsubsribe",
            "unsubscribed",
            "unsub",
            "usubscribe",
        ],
    ),
    ("revoke", &["revoke", "revok", "revoque"]),
    ("optout", &["optout", "opt-out", "optou"]),
];

/// Words that are an opt-out when the message is only them (plus filler).
const ALONE: &[(&str, &[&str])] = &[
    ("quit", &["quit", "qiut", "quite"]),
    (
        "cancel",
        &["cancel", "cancle", "cancell", "cancal", "cansel"],
    ),
    ("end", &["end"]),
];

/// Filler that may surround a lone keyword ("please cancel", "end now!").
const FILLER: &[&str] = &[
    "please", "pls", "plz", "now", "it", "this", "all", "thanks", "thank", "you", "ok", "just",
    "i", "said", "me",
];

/// Phrases (sequences of normalised words) that are an opt-out anywhere.
const PHRASES: &[(&str, &[&str])] = &[
    ("opt out", &["opt", "out"]),
    ("opt out", &["opt", "me", "out"]),
    ("do not call", &["do", "not", "cal"]),
    ("do not call", &["dont", "cal"]),
    ("do not call", &["don", "t", "cal"]),
    ("do not call", &["never", "cal"]),
    ("do not call", &["no", "more", "cals"]),
    ("do not call", &["quit", "caling"]),
    ("do not text", &["do", "not", "text"]),
    ("do not text", &["dont", "text"]),
    ("do not text", &["no", "more", "texts"]),
    ("do not contact", &["do", "not", "contact"]),
    ("do not contact", &["dont", "contact"]),
    ("remove me", &["remove", "me"]),
    ("remove me", &["remove", "my", "number"]),
    ("remove me", &["remove", "my", "name"]),
    ("remove me", &["remov", "me"]),
    ("remove me", &["take", "me", "of"]),
    ("remove me", &["take", "my", "number", "of"]),
    (
        "remove me",
        &["put", "me", "on", "your", "do", "not", "cal"],
    ),
    ("remove me", &["leave", "me", "alone"]),
    ("stop calling", &["stop", "caling"]),
];

/// Returns the opt-out found in `text`, if any. Linear in the input; one
/// allocation (the word list).
pub fn detect_opt_out(text: &str) -> Option<OptOutMatch> {
    let mut buf = String::with_capacity(text.len().min(MAX_CHARS * 4));
    let words = normalise(text, &mut buf);
    if words.is_empty() {
        return None;
    }
    let word = |r: &(usize, usize)| &buf[r.0..r.1];
    // Phrases first, for the more informative `matched`.
    for (name, phrase) in PHRASES {
        if words
            .windows(phrase.len())
            .any(|w| w.iter().zip(phrase.iter()).all(|(r, p)| word(r) == *p))
        {
            return Some(OptOutMatch { matched: name });
        }
    }
    for (name, forms) in ANYWHERE {
        if words
            .iter()
            .any(|r| forms.iter().any(|f| same_collapsed(word(r), f)))
        {
            return Some(OptOutMatch { matched: name });
        }
    }
    let mut content = words.iter().filter(|r| !FILLER.contains(&word(r)));
    if let (Some(only), None) = (content.next(), content.next()) {
        for (name, forms) in ALONE {
            if forms.iter().any(|f| same_collapsed(word(only), f)) {
                return Some(OptOutMatch { matched: name });
            }
        }
    }
    None
}

/// Longest text examined, in characters; opt-outs are short.
const MAX_CHARS: usize = 10_000;

/// Lower-case words of letters only, written into `buf`; returns their byte
/// ranges. Apostrophes vanish ("don't" -> "dont"), other punctuation
/// separates, repeated letters collapse ("call" -> "cal", "stoooop" ->
/// "stop"). Keyword lists are compared in the same collapsed form.
fn normalise(text: &str, buf: &mut String) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut last: Option<char> = None;
    for ch in text.chars().take(MAX_CHARS) {
        if ch.is_alphabetic() {
            for l in ch.to_lowercase() {
                if last != Some(l) {
                    buf.push(l);
                    last = Some(l);
                }
            }
        } else if matches!(ch, '\'' | '\u{2019}' | '\u{2018}' | '`') {
            continue;
        } else if ch == '-' && &buf[start..] == "opt" {
            // "opt-out" is one keyword.
            continue;
        } else if buf.len() > start {
            words.push((start, buf.len()));
            start = buf.len();
            last = None;
        }
    }
    if buf.len() > start {
        words.push((start, buf.len()));
    }
    words
}

/// `word` (already collapsed) equals `form` with its repeated letters and
/// non-letters dropped.
fn same_collapsed(word: &str, form: &str) -> bool {
    let mut w = word.chars();
    let mut last = None;
    for c in form.chars().filter(|c| c.is_alphabetic()) {
        if last == Some(c) {
            continue;
        }
        last = Some(c);
        if w.next() != Some(c) {
            return false;
        }
    }
    w.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_words_and_variants_are_opt_outs() {
        for s in [
            "stop",
            "STOP",
            "Stop.",
            "stop calling",
            "Stop calling me!!",
            "please stop",
            "do not call me",
            "Do NOT call me again",
            "don't call me",
            "Don\u{2019}t call",
            "dont call",
            "remove me",
            "Remove me from your list",
            "remove my number",
            "take me off your list",
            "unsubscribe",
            "Unsubscibe",
            "unsubcribe pls",
            "quit",
            "QUIT",
            "cancel",
            "cancle",
            "end",
            "END.",
            "please end",
            "stpo",
            "sotp",
            "stoooop",
            "STOPALL",
            "opt out",
            "opt-out",
            "optout",
            "revoke",
            "no more calls",
            "never call me again",
            "I said stop",
        ] {
            assert!(detect_opt_out(s).is_some(), "{s:?} not detected");
        }
    }

    #[test]
    fn ordinary_sentences_are_not() {
        for s in [
            "",
            "yes",
            "sounds good, call me tomorrow",
            "at the end of the month",
            "I want to cancel my old plan and switch to yours",
            "I quit smoking",
            "shop",
            "call me at 5",
        ] {
            assert!(detect_opt_out(s).is_none(), "{s:?} detected");
        }
    }

    #[test]
    fn matched_names_are_normalised() {
        assert_eq!(
            detect_opt_out("Don't call me").unwrap().matched,
            "do not call"
        );
        assert_eq!(detect_opt_out("STOP").unwrap().matched, "stop");
    }
}
