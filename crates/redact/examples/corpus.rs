//! Writes the labelled corpus as JSON lines, or scores the engine on it.
//!
//! ```sh
//! cargo run --release -p tollgate-redact --features corpus --example corpus -- jsonl 42 100 > corpus.jsonl
//! cargo run --release -p tollgate-redact --features corpus --example corpus -- table 42 100
//! cargo run --release -p tollgate-redact --features corpus --example corpus -- misses 42 100
//! cargo run --release -p tollgate-redact --features corpus --example corpus -- transcript 2026 1 > 1mb.txt
//! ```
//! JSON lines: `{"text": ..., "form": ..., "labels": [[kind, start, end], ...]}`
//! with byte offsets into the UTF-8 text.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};

use tollgate_redact::corpus::{self, Counts, Form};
use tollgate_redact::{Kind, Policy, redact};

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("table", String::as_str);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(42);
    let per_cell: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100);
    let samples = corpus::generate(seed, per_cell);
    let stdout = std::io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    match mode {
        "jsonl" => {
            for s in &samples {
                let mut line = String::from("{\"text\": ");
                json_str(&s.text, &mut line);
                line.push_str(&format!(", \"form\": \"{}\", \"labels\": [", s.form.name()));
                for (i, l) in s.labels.iter().enumerate() {
                    if i > 0 {
                        line.push_str(", ");
                    }
                    line.push_str(&format!(
                        "[\"{}\", {}, {}]",
                        l.kind.code(),
                        l.range.start,
                        l.range.end
                    ));
                }
                line.push_str("]}");
                writeln!(w, "{line}").unwrap();
            }
        }
        "transcript" => {
            // Benchmark text: here the third argument is a size in MB.
            let (text, _) = corpus::transcript(seed, per_cell * 1_000_000);
            w.write_all(text.as_bytes()).unwrap();
        }
        "misses" => {
            // Samples where a label was not entirely removed, or where
            // something unlabelled was removed, with the redacted text.
            for s in &samples {
                let out = redact(&s.text, &Policy::standard()).expect("corpus lines are small");
                let pred: Vec<_> = out
                    .findings
                    .iter()
                    .map(|f| (f.kind, f.input.clone()))
                    .collect();
                let mut counts = BTreeMap::new();
                corpus::score(s, &pred, &mut counts);
                if counts.values().any(|c| c.found < c.gold || c.false_pos > 0) {
                    let kinds: Vec<_> = s.labels.iter().map(|l| l.kind.code()).collect();
                    writeln!(
                        w,
                        "{:?} {}\n  in:  {}\n  out: {}",
                        kinds,
                        s.form.name(),
                        s.text,
                        out.text
                    )
                    .unwrap();
                }
            }
        }
        _ => {
            let mut counts = BTreeMap::new();
            for s in &samples {
                let out = redact(&s.text, &Policy::standard()).expect("corpus lines are small");
                let pred: Vec<_> = out
                    .findings
                    .iter()
                    .map(|f| (f.kind, f.input.clone()))
                    .collect();
                corpus::score(s, &pred, &mut counts);
            }
            let mut per_kind: BTreeMap<Kind, Counts> = BTreeMap::new();
            writeln!(
                w,
                "{} samples (seed {seed}, {per_cell} per kind and form)",
                samples.len()
            )
            .unwrap();
            writeln!(
                w,
                "{:<16} {:<9} {:>6} {:>9} {:>7} {:>6}",
                "kind", "form", "gold", "precision", "recall", "f1"
            )
            .unwrap();
            for ((k, f), c) in &counts {
                per_kind.entry(*k).or_default().add(c);
                if *f != Form::Negative {
                    writeln!(
                        w,
                        "{:<16} {:<9} {:>6} {:>9.3} {:>7.3} {:>6.3}",
                        k.code(),
                        f.name(),
                        c.gold,
                        c.precision(),
                        c.recall(),
                        c.f1()
                    )
                    .unwrap();
                } else {
                    writeln!(
                        w,
                        "{:<16} {:<9} {:>6} {:>9} {:>7} false positives: {}",
                        k.code(),
                        f.name(),
                        0,
                        "-",
                        "-",
                        c.false_pos
                    )
                    .unwrap();
                }
            }
            writeln!(w).unwrap();
            let mut all = Counts::default();
            for (k, c) in &per_kind {
                all.add(c);
                writeln!(
                    w,
                    "{:<16} {:<9} {:>6} {:>9.3} {:>7.3} {:>6.3}",
                    k.code(),
                    "all",
                    c.gold,
                    c.precision(),
                    c.recall(),
                    c.f1()
                )
                .unwrap();
            }
            writeln!(
                w,
                "{:<16} {:<9} {:>6} {:>9.3} {:>7.3} {:>6.3}",
                "micro",
                "all",
                all.gold,
                all.precision(),
                all.recall(),
                all.f1()
            )
            .unwrap();
        }
    }
}
