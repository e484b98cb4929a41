//! Importing leads from CSV: one streaming loop shared by
//! `tollgate leads import` and the dashboard's upload page.
//!
//! Memory stays bounded whatever the input size: rows are read one at a time
//! (`csv::ByteRecord`, reused), validated with the API's own rules
//! (`validate_lead`), and written in chunks of [`CHUNK`] rows, each chunk in
//! one transaction with one audit event. A bad row (unparseable number,
//! impossible state or ZIP, invalid UTF-8, wrong number of columns) is
//! reported with its line number and reasons and skipped; the good rows are
//! imported. A chunk is written whole or not at all, so no row is ever
//! half-written; if the process stops, the last reported chunk says how far
//! it got. One chunk is written (on the database driver's thread) while the
//! next is parsed; chunks still commit one after the other, in file order.

use std::io::Read;

use tollgate_core::UnixMicros;
use tollgate_core::audit::RequestMeta;
use tollgate_store::{Actor, Ctx, ImportChunk, NewLead, Store, StoreError};

use crate::api::leads::{ConsentInput, LeadInput, validate_lead};

/// Rows per transaction.
pub const CHUNK: usize = 2_000;

/// Columns with a meaning; any other column becomes a declared field.
pub const KNOWN: &[&str] = &[
    "phone",
    "state",
    "zip",
    "name",
    "consent_type",
    "consent_timestamp",
    "consent_source",
    "consent_ip",
    "consent_text",
    "consent_text_version",
    "consent_captured_by",
    "ebr_date",
    "ebr_kind",
];

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub imported: u64,
    pub ineligible: u64,
    pub rejected: u64,
}

/// What the loop tells its caller as it goes.
pub enum Event<'a> {
    /// A row that was not imported, with every reason.
    Rejected { line: u64, reasons: &'a [String] },
    /// A chunk committed.
    Chunk {
        first_line: u64,
        last_line: u64,
        imported: u64,
        ineligible: u64,
    },
    /// After each row, for progress display.
    Row(&'a Summary),
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file as a whole is unusable (no `phone` column, a repeated
    /// column, an I/O error); nothing after the last reported chunk was written.
    #[error("{0}")]
    File(String),
    /// A chunk could not be written; nothing of it was.
    #[error("writing lines {first_line}..={last_line}; nothing of them was written: {source}")]
    Store {
        first_line: u64,
        last_line: u64,
        source: tollgate_store::StoreError,
    },
    /// The caller's event handler failed (the report could not be written).
    #[error("writing the report: {0}")]
    Report(std::io::Error),
}

/// Who is importing, for the chunks' audit events.
pub struct Origin<'a> {
    /// The file's name, recorded with each chunk.
    pub source: &'a str,
    pub request: RequestMeta,
}

/// Reads `input` as CSV with a header row and imports every valid row into
/// `campaign` (which the caller has checked exists in the actor's org).
pub async fn import_csv<R: Read>(
    store: &Store,
    actor: &Actor,
    campaign: &str,
    input: R,
    origin: &Origin<'_>,
    now: impl Fn() -> UnixMicros,
    mut events: impl FnMut(Event<'_>) -> std::io::Result<()>,
) -> Result<Summary, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers: Vec<String> = reader
        .byte_headers()
        .map_err(|e| ImportError::File(format!("reading the header row: {e}")))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase())
        .collect();
    if !headers.iter().any(|h| h == "phone") {
        return Err(ImportError::File(format!(
            "the header row has no `phone` column (columns: {})",
            headers.join(", ")
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for h in &headers {
        if !seen.insert(h.as_str()) {
            return Err(ImportError::File(format!(
                "the header row names `{h}` twice"
            )));
        }
    }

    let mut summary = Summary::default();
    let mut chunk: Vec<NewLead> = Vec::with_capacity(CHUNK);
    let mut chunk_first_line = 0u64;
    let mut in_flight: Option<InFlight> = None;
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line() + 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(ImportError::File(format!("reading the file: {e}")));
                }
                summary.rejected += 1;
                let reasons = [format!("unreadable CSV row: {e}")];
                events(Event::Rejected {
                    line,
                    reasons: &reasons,
                })
                .map_err(ImportError::Report)?;
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        match row_to_lead(&headers, &record, campaign).and_then(validate_lead) {
            Ok(lead) => {
                if chunk.is_empty() {
                    chunk_first_line = line;
                }
                chunk.push(lead);
            }
            Err(reasons) => {
                summary.rejected += 1;
                events(Event::Rejected {
                    line,
                    reasons: &reasons,
                })
                .map_err(ImportError::Report)?;
            }
        }
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            let next = start_chunk(store, actor, full, origin, (chunk_first_line, line), &now);
            if let Some(previous) = in_flight.replace(next) {
                finish_chunk(previous, &mut summary, &mut events).await?;
            }
        }
        events(Event::Row(&summary)).map_err(ImportError::Report)?;
    }
    if !chunk.is_empty() {
        let last = reader.position().line();
        let next = start_chunk(store, actor, chunk, origin, (chunk_first_line, last), &now);
        if let Some(previous) = in_flight.replace(next) {
            finish_chunk(previous, &mut summary, &mut events).await?;
        }
    }
    if let Some(previous) = in_flight.take() {
        finish_chunk(previous, &mut summary, &mut events).await?;
    }
    let ctx = Ctx {
        now: now(),
        request: origin.request.clone(),
    };
    let totals = tollgate_store::ImportTotals {
        imported: summary.imported,
        ineligible: summary.ineligible,
        rejected: summary.rejected,
    };
    // Every row is committed by now: a failure here loses no lead, only
    // the closing record, and is reported as such.
    store
        .scope(actor)
        .finish_lead_import(campaign, origin.source, totals, &ctx)
        .await
        .map_err(|e| {
            ImportError::File(format!(
                "the import finished, but its closing record was not written: {e}"
            ))
        })?;
    Ok(summary)
}

/// A chunk being written.
struct InFlight {
    task: tokio::task::JoinHandle<Result<ImportChunk, StoreError>>,
    first_line: u64,
    last_line: u64,
}

fn start_chunk(
    store: &Store,
    actor: &Actor,
    chunk: Vec<NewLead>,
    origin: &Origin<'_>,
    (first_line, last_line): (u64, u64),
    now: &impl Fn() -> UnixMicros,
) -> InFlight {
    let ctx = Ctx {
        now: now(),
        request: origin.request.clone(),
    };
    let (store, actor, source) = (store.clone(), actor.clone(), origin.source.to_owned());
    InFlight {
        task: tokio::spawn(async move {
            store
                .scope(&actor)
                .import_leads(&chunk, &source, first_line, &ctx)
                .await
        }),
        first_line,
        last_line,
    }
}

/// Waits for a chunk's commit and reports it.
async fn finish_chunk(
    chunk: InFlight,
    summary: &mut Summary,
    events: &mut impl FnMut(Event<'_>) -> std::io::Result<()>,
) -> Result<(), ImportError> {
    let InFlight {
        task,
        first_line,
        last_line,
    } = chunk;
    let store_error = |source| ImportError::Store {
        first_line,
        last_line,
        source,
    };
    let written = task
        .await
        .map_err(|e| store_error(StoreError::Corrupt(format!("the write task failed: {e}"))))?
        .map_err(store_error)?;
    summary.imported += written.created;
    summary.ineligible += written.ineligible;
    events(Event::Chunk {
        first_line,
        last_line,
        imported: written.created,
        ineligible: written.ineligible,
    })
    .map_err(ImportError::Report)
}

/// One CSV row as the API's lead input; encoding and shape problems are
/// reported here, content problems by `validate_lead`.
fn row_to_lead(
    headers: &[String],
    record: &csv::ByteRecord,
    campaign: &str,
) -> Result<LeadInput, Vec<String>> {
    if record.len() != headers.len() {
        return Err(vec![format!(
            "expected {} columns, found {}",
            headers.len(),
            record.len()
        )]);
    }
    let mut errors = Vec::new();
    let mut input = LeadInput {
        campaign_id: Some(campaign.to_owned()),
        ..Default::default()
    };
    let mut consent = ConsentInput::default();
    for (h, raw) in headers.iter().zip(record.iter()) {
        let v = match std::str::from_utf8(raw) {
            Ok(v) => v.trim(),
            Err(_) => {
                errors.push(format!("column `{h}` is not valid UTF-8"));
                continue;
            }
        };
        let opt = || (!v.is_empty()).then(|| v.to_owned());
        match h.as_str() {
            "phone" => input.phone = v.to_owned(),
            "state" => input.state = opt(),
            "zip" => input.zip = opt(),
            "name" => input.name = opt(),
            "consent_type" => consent.kind = v.to_owned(),
            "consent_timestamp" => consent.timestamp = opt(),
            "consent_source" => consent.source = opt(),
            "consent_ip" => consent.ip = opt(),
            "consent_text" => consent.text = opt(),
            "consent_text_version" => consent.text_version = opt(),
            "consent_captured_by" => consent.captured_by = opt(),
            "ebr_date" => consent.ebr_date = opt(),
            "ebr_kind" => consent.ebr_kind = opt(),
            other if !KNOWN.contains(&other) && !v.is_empty() => {
                input
                    .fields
                    .insert(other.to_owned(), serde_json::Value::String(v.to_owned()));
            }
            _ => {}
        }
    }
    input.consent = Some(consent);
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}
