//! `tollgate dnc import`: Do-Not-Call registry files into an index file
//! (`tollgate-dnc`, docs/adr/0301-dnc-index.md). No configuration, server
//! or database: recording which version is current is the server's job.
//!
//! Standard output gets one JSON line per bad line (file, line, reason) as
//! they are found, then a summary line; standard error gets a progress line
//! when it is a terminal, as `leads import` does. Exit status: 0 written,
//! 1 refused because of bad lines (nothing written), 2 anything else
//! (bad arguments, unreadable file, damaged base).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use tollgate_dnc::{ImportError, ImportOptions, ImportProgress, import};

const REFUSED: u8 = 1;
const FAILED: u8 = 2;

pub struct ImportArgs {
    pub list: String,
    pub version: String,
    pub base: Option<PathBuf>,
    pub out: PathBuf,
    pub accept_bad_lines: bool,
    pub area_codes: Vec<u16>,
    pub files: Vec<PathBuf>,
}

pub fn import_command(args: ImportArgs) -> ExitCode {
    let version = match args.version.parse::<jiff::civil::Date>() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: --version must be a date (YYYY-MM-DD): {e}");
            return ExitCode::from(FAILED);
        }
    };
    let opts = ImportOptions {
        list: args.list,
        version,
        base: args.base,
        out: args.out,
        accept_bad_lines: args.accept_bad_lines,
        area_codes: args.area_codes,
    };
    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let progress = |p: ImportProgress| match p {
        ImportProgress::BadLine(bad) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"file": bad.file, "line": bad.line, "status": "bad", "reason": bad.reason})
            );
        }
        ImportProgress::Read {
            file,
            files,
            bytes,
            total_bytes,
            lines,
            bad_lines,
        } if terminal => {
            let pct = if total_bytes > 0 {
                bytes as f64 * 100.0 / total_bytes as f64
            } else {
                100.0
            };
            let rate = lines as f64 / started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\r{pct:5.1}%  file {}/{files}, {lines} lines, {bad_lines} bad, {rate:.0} lines/s   ",
                file + 1
            );
        }
        ImportProgress::Writing if terminal => eprint!("\rwriting the index...{:40}", ""),
        _ => {}
    };
    let result = import(&opts, &args.files, &progress);
    if terminal {
        eprintln!();
    }
    let (report, code) = match result {
        Ok(report) => (report, ExitCode::SUCCESS),
        Err(ImportError::BadLines(count, report)) => {
            eprintln!(
                "error: {count} bad line(s) (listed on standard output); nothing written. \
                 --accept-bad-lines writes the valid lines and still lists each bad one"
            );
            (*report, ExitCode::from(REFUSED))
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(FAILED);
        }
    };
    println!(
        "{}",
        serde_json::json!({"summary": {
            "list": opts.list,
            "version": opts.version.to_string(),
            "out": opts.out.display().to_string(),
            "written": report.written,
            "numbers": report.numbers,
            "lines": report.lines,
            "added": report.added,
            "removed": report.removed,
            "bad_lines": report.bad_line_count,
            "area_codes": report.area_codes,
            "seconds": report.elapsed.as_secs_f64(),
        }})
    );
    code
}
