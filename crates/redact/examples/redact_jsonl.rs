//! Drives the engine from other programs (the Presidio comparison in
//! `eval/redaction`): reads one JSON object per line with a `"text"` string,
//! writes one line per input with the findings as `[kind, start, end]`
//! (byte offsets into the UTF-8 text).
//!
//! ```sh
//! echo '{"text": "card 4111 1111 1111 1111"}' | cargo run -q -p tollgate-redact --example redact_jsonl
//! {"findings": [["card", 5, 24]]}
//! ```
//! `--strict` uses the strict PCI policy.

use std::io::{BufRead, BufWriter, Write};

use tollgate_redact::{Policy, redact};

/// Parses the JSON string starting at `s[0] == '"'`. Enough JSON for this
/// driver: the caller writes the input with a JSON library.
fn json_string(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.strip_prefix('"')?.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex = |chars: &mut std::str::Chars<'_>| -> Option<u32> {
                        let h: String = chars.by_ref().take(4).collect();
                        u32::from_str_radix(&h, 16).ok()
                    };
                    let mut cp = hex(&mut chars)?;
                    if (0xD800..0xDC00).contains(&cp) {
                        if chars.next()? != '\\' || chars.next()? != 'u' {
                            return None;
                        }
                        let lo = hex(&mut chars)?;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo.checked_sub(0xDC00)?);
                    }
                    out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn main() {
    let policy = if std::env::args().any(|a| a == "--strict") {
        Policy::strict_pci()
    } else {
        Policy::standard()
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    for line in stdin.lock().lines() {
        let line = line.expect("stdin is readable UTF-8");
        let text = line
            .find("\"text\"")
            .and_then(|i| line[i + 6..].find('"').map(|j| i + 6 + j))
            .and_then(|i| json_string(&line[i..]));
        let Some(text) = text else {
            writeln!(w, "{{\"error\": \"bad_input\"}}").unwrap();
            continue;
        };
        match redact(&text, &policy) {
            Ok(out) => {
                let f: Vec<String> = out
                    .findings
                    .iter()
                    .map(|f| {
                        format!(
                            "[\"{}\", {}, {}]",
                            f.kind.code(),
                            f.input.start,
                            f.input.end
                        )
                    })
                    .collect();
                writeln!(w, "{{\"findings\": [{}]}}", f.join(", ")).unwrap();
            }
            Err(e) => writeln!(w, "{{\"error\": \"{}\"}}", e.code()).unwrap(),
        }
    }
}
