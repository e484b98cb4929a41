//! Fuzzes the engine with arbitrary text, as one text and as a conversation.
//!
//! Invariants checked on every input:
//! - no panic (the harness catches it);
//! - the output never holds a run of 13-19 ASCII digits that passes Luhn
//!   with a card issuer's prefix: the standard policy removes every such run;
//! - findings are sorted, disjoint, inside the input and point at their tags
//!   in the output;
//! - the work is linear: the input is also run doubled, and the time may at
//!   most grow by a generous constant factor (checked only on inputs large
//!   enough to time).
//!
//! ```sh
//! cd crates/redact/fuzz && cargo +nightly fuzz run redact -- -max_len=65536 -runs=2000000
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Instant;
use tollgate_redact::{Policy, Role, Turn, redact, redact_turns};

fn luhn(d: &[u8]) -> bool {
    let mut sum = 0;
    for (i, &c) in d.iter().rev().enumerate() {
        let mut v = u32::from(c - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// The issuer rule of the crate, restated independently.
fn card_prefix(d: &[u8]) -> bool {
    let n = d.len();
    let p = |k: usize| {
        d[..k]
            .iter()
            .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'))
    };
    match d[0] {
        b'1' => n == 15,
        b'2' => {
            ((2200..=2204).contains(&p(4)) && n >= 16) || ((2221..=2720).contains(&p(4)) && n == 16)
        }
        b'3' => match p(2) {
            34 | 37 => n == 15,
            30 => (3000..=3059).contains(&p(4)) && n >= 14,
            36 => n >= 14,
            38 | 39 => n >= 16,
            35 => (3528..=3589).contains(&p(4)) && n >= 16,
            _ => false,
        },
        b'4' => matches!(n, 13 | 16 | 19),
        b'5' => match p(2) {
            51..=55 => n == 16,
            50 | 56..=58 => true,
            _ => false,
        },
        b'6' => true,
        b'8' => matches!(p(2), 81 | 82) && n >= 16,
        b'9' => p(4) == 9792 && n == 16,
        _ => false,
    }
}

fn assert_no_card(text: &str) {
    for run in text.as_bytes().split(|b| !b.is_ascii_digit()) {
        if (13..=19).contains(&run.len()) {
            assert!(
                !(luhn(run) && card_prefix(run)),
                "a card number survived: {text:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = Policy::standard();
    let t = Instant::now();
    let out = redact(text, &policy).expect("fuzz inputs are small");
    let once = t.elapsed();
    assert_no_card(&out.text);
    let mut last = 0;
    for f in &out.findings {
        assert!(f.input.start >= last && f.input.start < f.input.end && f.input.end <= text.len());
        assert_eq!(&out.text[f.output.clone()][..1], "[");
        last = f.input.end;
    }
    let strict = redact(text, &Policy::strict_pci()).unwrap();
    assert_no_card(&strict.text);

    // Split into turns at newlines, alternating speakers.
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
    for r in redact_turns(&turns, &policy).unwrap() {
        assert_no_card(&r.text);
    }

    if text.len() >= 4096 {
        let doubled = text.repeat(2);
        let t = Instant::now();
        let _ = redact(&doubled, &policy).unwrap();
        let twice = t.elapsed();
        assert!(
            twice <= once * 8 + std::time::Duration::from_millis(5),
            "superlinear: {once:?} then {twice:?}"
        );
    }
});
