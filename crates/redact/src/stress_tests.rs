//! Deterministic stress tests of the invariants the fuzz target checks
//! (`fuzz/fuzz_targets/redact.rs`), so that `cargo test` exercises them too.

use crate::corpus::{self, Rng};
use crate::{Policy, Role, Turn, checks, redact, redact_turns};
use std::time::Instant;

/// Pieces that stress the lexer, the number assembler and the detectors.
const PIECES: &[&str] = &[
    "4", "1", "0", "5", "9", "41", "4111", "1111", " ", "  ", "-", ",", ".", "/", "(", ")", "+",
    "@", "#", ":", "'", "\n", "one", "oh", "o", "double", "triple", "twenty", "forty", "eleven",
    "hundred", "thousand", "and", "uh", "card", "cvv", "social", "routing", "account", "born",
    "January", "2nd", "at", "dot", "com", "Main", "Street", "apt", "medicare", "member", "ID",
    "1EG4", "TE5", "MK73", "é", "€", "\u{0}", "x", "Z",
];

fn assert_no_card(text: &str) {
    for run in text.as_bytes().split(|b| !b.is_ascii_digit()) {
        if (13..=19).contains(&run.len()) {
            assert!(
                !(checks::luhn(run) && checks::card_prefix_ok(run)),
                "a card number survived in {text:?}"
            );
        }
    }
}

fn check(text: &str) {
    for policy in [Policy::standard(), Policy::strict_pci()] {
        let out = redact(text, &policy).unwrap();
        assert_no_card(&out.text);
        let mut last = 0;
        for f in &out.findings {
            assert!(
                f.input.start >= last && f.input.start < f.input.end && f.input.end <= text.len()
            );
            assert!(out.text[f.output.clone()].starts_with('['));
            last = f.input.end;
        }
    }
    let turns: Vec<Turn<'_>> = text
        .split('\n')
        .enumerate()
        .map(|(i, t)| Turn {
            role: if i % 3 == 0 {
                Role::Agent
            } else {
                Role::Caller
            },
            text: t,
        })
        .collect();
    for r in redact_turns(&turns, &Policy::standard()).unwrap() {
        assert_no_card(&r.text);
    }
}

#[test]
fn no_card_number_survives_random_pieces_or_corpus_mixes() {
    let mut r = Rng::new(99);
    for _ in 0..3000 {
        let mut s = String::new();
        for _ in 0..r.below(120) {
            s.push_str(PIECES[r.below(PIECES.len())]);
        }
        check(&s);
    }
    // Valid cards dropped into random noise, glued to anything.
    for _ in 0..2000 {
        let (c, _) = corpus::card(&mut r);
        let s = format!(
            "{}{}{}",
            PIECES[r.below(PIECES.len())],
            c,
            PIECES[r.below(PIECES.len())]
        );
        check(&s);
    }
}

/// Time grows linearly: quadrupling an adversarial input at most roughly
/// quadruples the time (a factor 8 allows for noise; quadratic work would be
/// 16).
#[test]
fn adversarial_inputs_take_linear_time() {
    let cases = [
        "1".repeat(1 << 17),
        "1 ".repeat(1 << 16),
        "one ".repeat(1 << 15),
        "double ".repeat(1 << 15),
        "a@".repeat(1 << 16),
        "@".repeat(1 << 17),
        "at dot ".repeat(1 << 14),
        "4111111111111111 ".repeat(1 << 13),
        "Main Street ".repeat(1 << 13),
        "member 1 ".repeat(1 << 14),
        "January ".repeat(1 << 14),
        "1-".repeat(1 << 16),
    ];
    // The fastest of several interleaved runs of each size: on a shared
    // machine a single run can be stalled by other work for longer than the
    // whole measurement; interleaving exposes both sizes to the same load,
    // and the minimum is what the algorithm costs. Four times the input
    // must cost well under the 16 times a quadratic scan would.
    for small in cases {
        let big = small.repeat(4);
        let mut once = std::time::Duration::MAX;
        let mut four = std::time::Duration::MAX;
        let (mut a, mut b) = (None, None);
        for _ in 0..5 {
            let t = Instant::now();
            a = Some(redact(&small, &Policy::strict_pci()).unwrap());
            once = once.min(t.elapsed());
            let t = Instant::now();
            b = Some(redact(&big, &Policy::strict_pci()).unwrap());
            four = four.min(t.elapsed());
        }
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            four <= once * 10 + std::time::Duration::from_millis(20),
            "{:?}: {once:?} then {four:?}",
            &small[..12]
        );
        assert!(b.text.len() <= big.len() * 8 && a.text.len() <= small.len() * 8);
    }
}
