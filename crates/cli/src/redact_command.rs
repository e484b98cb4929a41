//! `tollgate redact`: the redaction engine on standard input, for one-off
//! use and shell pipelines. Nothing is written anywhere but standard output
//! (the redacted text) and, on request, standard error (the map).

use std::io::{Read, Write};
use std::process::ExitCode;

use tollgate_redact::{CardStyle, MAX_INPUT_BYTES, Policy, redact};

/// Exit status for input that cannot be processed (not UTF-8, too large, bad flags).
const BAD_INPUT: u8 = 2;

pub fn run(policy: &str, keep_last_four: bool, findings: bool) -> ExitCode {
    let mut p = match policy {
        "standard" => Policy::standard(),
        "strict-pci" => Policy::strict_pci(),
        other => {
            eprintln!("error: --policy must be `standard` or `strict-pci`, not `{other}`");
            return ExitCode::from(BAD_INPUT);
        }
    };
    if keep_last_four {
        p.card = CardStyle::KeepLastFour;
    }
    // One byte past the limit tells "too large" without reading the rest.
    let mut input = Vec::new();
    let limit = MAX_INPUT_BYTES as u64 + 1;
    if let Err(e) = std::io::stdin().lock().take(limit).read_to_end(&mut input) {
        eprintln!("error: reading standard input: {e}");
        return ExitCode::FAILURE;
    }
    if input.len() > MAX_INPUT_BYTES {
        eprintln!(
            "error: the input is larger than {MAX_INPUT_BYTES} bytes (16 MiB), the most redacted at once; split it"
        );
        return ExitCode::from(BAD_INPUT);
    }
    let text = match std::str::from_utf8(&input) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "error: the input is not valid UTF-8 (first invalid byte at offset {}); nothing was written",
                e.valid_up_to()
            );
            return ExitCode::from(BAD_INPUT);
        }
    };
    let out = match redact(text, &p) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("error: writing standard output: {e}");
        return ExitCode::FAILURE;
    }
    if findings {
        let map: Vec<_> = out
            .findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "kind": f.kind.code(),
                    "start": f.input.start,
                    "end": f.input.end,
                    "redacted_start": f.output.start,
                    "redacted_end": f.output.end,
                })
            })
            .collect();
        eprintln!("{}", serde_json::Value::Array(map));
    }
    ExitCode::SUCCESS
}
