//! [`import`]: registry files (plain or zipped, full or change lists) into
//! an index file. No database here: recording which version is current is
//! the caller's business.
//!
//! * Without `base`, files are full lists: every line is a number
//!   (`NPANXXXXXX` or `NPA,NXXXXXX`).
//! * With `base` (the previous index file of the same list), files are
//!   change lists: every line is a number, `A`/`D` and optionally a date
//!   (`number.rs`); the new version is the base with the changes applied in
//!   file order.
//!
//! Every line is validated. A bad line is reported (file, line number,
//! reason) through `progress` as it is found and in the report; by default
//! any bad line refuses the whole import and nothing is written. The index
//! file is written atomically (`Builder::write`), so it is never half
//! written.
//!
//! Version dates: the given version is recorded for every area code that
//! has at least one valid line in the files, plus those named in
//! `area_codes` (an area code whose file had no numbers or no changes).
//! With a base, other area codes keep the base's date, so an area code the
//! files did not cover looks as old as it is.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::civil::Date;

use crate::builder::Builder;
use crate::index::{Index, IndexError};
use crate::number::{
    Change, LineError, MAX_LINE, area_code, parse_change_line, parse_full_line, valid_code,
};

/// Bad lines kept in [`ImportReport::bad_lines`]; all are counted and all
/// go through the progress callback.
pub const MAX_REPORTED_BAD_LINES: usize = 10_000;

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `national`, `state:XX` or an organization's list name.
    pub list: String,
    /// The registry's version date, recorded per area code.
    pub version: Date,
    /// The previous index file of the same list; the files are then change files.
    pub base: Option<PathBuf>,
    /// The index file to write.
    pub out: PathBuf,
    /// Write the index even if some lines were bad (each is still reported).
    pub accept_bad_lines: bool,
    /// Area codes the files cover even where they have no line.
    pub area_codes: Vec<u16>,
}

/// A refused line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file, and for a zip archive `archive.zip!member`.
    pub file: String,
    /// 1-based.
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// What an import reports as it goes.
#[derive(Debug, Clone)]
pub enum ImportProgress {
    /// About twice a second, and once at the end of each file.
    Read {
        /// Index of the file being read, 0-based, and how many there are.
        file: usize,
        files: usize,
        /// Bytes of the input files read so far (compressed bytes for zips)
        /// and in total.
        bytes: u64,
        total_bytes: u64,
        lines: u64,
        bad_lines: u64,
    },
    /// Every bad line, as it is found.
    BadLine(BadLine),
    /// All input read; the index is being written.
    Writing,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Numbers in the written (or, when refused, would-be) list.
    pub numbers: u64,
    /// Area codes whose version date this import set, ascending.
    pub area_codes: Vec<u16>,
    /// The first [`MAX_REPORTED_BAD_LINES`] bad lines.
    pub bad_lines: Vec<BadLine>,
    /// All bad lines.
    pub bad_line_count: u64,
    /// Lines read (empty lines are skipped and not counted).
    pub lines: u64,
    /// Numbers the files added that were not there, and removed that were.
    pub added: u64,
    pub removed: u64,
    /// Whether the index file was written.
    pub written: bool,
    pub elapsed: Duration,
}

/// Why an import failed; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0} bad line(s); nothing written (accept them with the bad-lines option)")]
    BadLines(u64, Box<ImportReport>),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable zip archive: {reason}")]
    Zip { path: String, reason: String },
    #[error("base index: {0}")]
    Base(IndexError),
    #[error("base index is list {base:?}, not {list:?}")]
    BaseList { base: String, list: String },
    #[error(
        "area code {npa:03}: the base is version {base}, newer than {version}; refusing to go back"
    )]
    Older { npa: u16, base: Date, version: Date },
    #[error("area code {0:03} is not a NANP area code")]
    AreaCode(u16),
    #[error("no input files")]
    NoFiles,
    #[error(transparent)]
    Index(#[from] IndexError),
}

fn io_err(path: &str, source: std::io::Error) -> ImportError {
    ImportError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Imports `files` per `opts`; see the module documentation.
pub fn import(
    opts: &ImportOptions,
    files: &[PathBuf],
    progress: &dyn Fn(ImportProgress),
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    if files.is_empty() {
        return Err(ImportError::NoFiles);
    }
    crate::index::validate_list_name(&opts.list)?;
    for &npa in &opts.area_codes {
        if !valid_code(npa) {
            return Err(ImportError::AreaCode(npa));
        }
    }
    let mut builder = match &opts.base {
        Some(base) => {
            let index = Index::open(base).map_err(ImportError::Base)?;
            if index.list() != opts.list {
                return Err(ImportError::BaseList {
                    base: index.list().to_owned(),
                    list: opts.list.clone(),
                });
            }
            Builder::from_index(&index)
        }
        None => Builder::new(&opts.list)?,
    };
    let mut state = State {
        builder: &mut builder,
        changes: opts.base.is_some(),
        seen: BTreeSet::new(),
        report: ImportReport::default(),
        progress,
        read: Arc::new(AtomicU64::new(0)),
        total_bytes: files
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum(),
        file: 0,
        files: files.len(),
        last_progress: Instant::now(),
    };
    for (i, path) in files.iter().enumerate() {
        state.file = i;
        state.read_file(path)?;
        state.send_progress(true);
    }
    let mut seen = std::mem::take(&mut state.seen);
    let mut report = std::mem::take(&mut state.report);
    seen.extend(opts.area_codes.iter().copied());
    for &npa in &seen {
        if let Some(base) = builder.area_code_version(npa)
            && base > opts.version
        {
            return Err(ImportError::Older {
                npa,
                base,
                version: opts.version,
            });
        }
        builder
            .set_area_code_version(npa, opts.version)
            .map_err(|_| ImportError::AreaCode(npa))?;
    }
    report.area_codes = seen.into_iter().collect();
    report.numbers = builder.len();
    if report.bad_line_count > 0 && !opts.accept_bad_lines {
        report.elapsed = started.elapsed();
        return Err(ImportError::BadLines(
            report.bad_line_count,
            Box::new(report),
        ));
    }
    progress(ImportProgress::Writing);
    builder.write(&opts.out)?;
    report.written = true;
    report.elapsed = started.elapsed();
    Ok(report)
}

struct State<'a> {
    builder: &'a mut Builder,
    changes: bool,
    seen: BTreeSet<u16>,
    report: ImportReport,
    progress: &'a dyn Fn(ImportProgress),
    read: Arc<AtomicU64>,
    total_bytes: u64,
    file: usize,
    files: usize,
    last_progress: Instant,
}

/// Counts bytes read, for progress.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl State<'_> {
    fn send_progress(&mut self, force: bool) {
        if force || self.last_progress.elapsed() >= Duration::from_millis(500) {
            self.last_progress = Instant::now();
            (self.progress)(ImportProgress::Read {
                file: self.file,
                files: self.files,
                bytes: self.read.load(Ordering::Relaxed),
                total_bytes: self.total_bytes,
                lines: self.report.lines,
                bad_lines: self.report.bad_line_count,
            });
        }
    }

    fn read_file(&mut self, path: &Path) -> Result<(), ImportError> {
        let name = path.display().to_string();
        let mut file = File::open(path).map_err(|e| io_err(&name, e))?;
        let mut magic = [0u8; 4];
        let is_zip = match file.read_exact(&mut magic) {
            Ok(()) => magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06",
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => false,
            Err(e) => return Err(io_err(&name, e)),
        };
        file.rewind().map_err(|e| io_err(&name, e))?;
        let counting = Counting {
            inner: file,
            read: self.read.clone(),
        };
        if !is_zip {
            return self.read_lines(&name, BufReader::with_capacity(1 << 20, counting));
        }
        let zip_err = |e: zip::result::ZipError| ImportError::Zip {
            path: name.clone(),
            reason: e.to_string(),
        };
        let mut archive = zip::ZipArchive::new(BufReader::new(counting)).map_err(zip_err)?;
        for i in 0..archive.len() {
            let member = archive.by_index(i).map_err(zip_err)?;
            if member.is_dir() {
                continue;
            }
            let member_name = format!("{name}!{}", member.name().map_err(zip_err)?);
            self.read_lines(&member_name, BufReader::with_capacity(1 << 20, member))?;
        }
        Ok(())
    }

    fn read_lines(&mut self, name: &str, mut reader: impl BufRead) -> Result<(), ImportError> {
        let mut line = Vec::with_capacity(MAX_LINE + 1);
        let mut line_no = 0u64;
        loop {
            line.clear();
            // Keep at most MAX_LINE + 1 bytes of a line: enough to tell it
            // is too long, without letting one huge line take memory.
            let mut end = false;
            let mut got_any = false;
            loop {
                let buf = reader.fill_buf().map_err(|e| io_err(name, e))?;
                if buf.is_empty() {
                    end = true;
                    break;
                }
                got_any = true;
                let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (i, true),
                    None => (buf.len(), false),
                };
                let room = (MAX_LINE + 1).saturating_sub(line.len());
                line.extend_from_slice(&buf[..take.min(room)]);
                reader.consume(if done { take + 1 } else { take });
                if done {
                    break;
                }
            }
            if end && !got_any {
                return Ok(());
            }
            line_no += 1;
            if !line.trim_ascii().is_empty() {
                self.report.lines += 1;
                self.apply(name, line_no, &line);
            }
            if line_no.is_multiple_of(65_536) {
                self.send_progress(false);
            }
            if end {
                return Ok(());
            }
        }
    }

    fn apply(&mut self, name: &str, line_no: u64, line: &[u8]) {
        let result: Result<u64, LineError> = if self.changes {
            parse_change_line(line).and_then(|(n, change)| match change {
                Change::Add => self.builder.insert(n).map(|new| {
                    self.report.added += u64::from(new);
                    n
                }),
                Change::Delete => self.builder.remove(n).map(|was| {
                    self.report.removed += u64::from(was);
                    n
                }),
            })
        } else {
            parse_full_line(line).and_then(|n| {
                self.builder.insert(n).map(|new| {
                    self.report.added += u64::from(new);
                    n
                })
            })
        };
        match result {
            Ok(n) => {
                self.seen.insert(area_code(n));
            }
            Err(e) => {
                let reason = if self.changes && e == LineError::Shape {
                    "expected NUMBER,A|D[,DATE] (change file)".to_owned()
                } else {
                    e.to_string()
                };
                let bad = BadLine {
                    file: name.to_owned(),
                    line: line_no,
                    reason,
                };
                self.report.bad_line_count += 1;
                (self.progress)(ImportProgress::BadLine(bad.clone()));
                if self.report.bad_lines.len() < MAX_REPORTED_BAD_LINES {
                    self.report.bad_lines.push(bad);
                }
            }
        }
    }
}
