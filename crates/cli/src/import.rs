//! `tollgate leads import FILE --org --campaign`: a streaming CSV import.
//!
//! Memory stays bounded whatever the file size: rows are read one at a time
//! (`csv::ByteRecord`, reused), validated with the API's own rules, and
//! written in chunks of [`CHUNK`] rows, each chunk in one transaction with
//! one audit event. A bad row (unparseable number, impossible state or ZIP,
//! invalid UTF-8, wrong number of columns) is reported with its line number
//! and reasons and skipped; the good rows are imported. A chunk is written
//! whole or not at all, so no row is ever half-written; if the process
//! stops, the report's last `chunk` line says how far it got.
//!
//! The report goes to standard output as JSON Lines (one line per rejected
//! row, one per committed chunk, then a summary); progress goes to standard
//! error.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::time::Instant;

use anyhow::{Context, bail};
use tollgate_core::id::CampaignId;
use tollgate_server::api::leads::{ConsentInput, LeadInput, validate_lead};
use tollgate_store::{Ctx, NewLead, Store};

/// Rows per transaction.
const CHUNK: usize = 2_000;

/// Columns with a meaning; any other column becomes a declared field.
const KNOWN: &[&str] = &[
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

/// Counts bytes read, for progress.
struct Counting<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

pub struct Summary {
    pub imported: u64,
    pub ineligible: u64,
    pub rejected: u64,
}

pub async fn run(
    store: &Store,
    org: &str,
    campaign: &str,
    member: Option<&str>,
    path: &std::path::Path,
    now: impl Fn() -> tollgate_core::UnixMicros,
    out: &mut impl Write,
) -> anyhow::Result<Summary> {
    let org_id = tollgate_core::OrgId::parse(org).map_err(|e| anyhow::anyhow!("--org: {e}"))?;
    let campaign_id =
        CampaignId::parse(campaign).map_err(|e| anyhow::anyhow!("--campaign: {e}"))?;
    let actor = match member {
        Some(m) => {
            let m =
                tollgate_core::MemberId::parse(m).map_err(|e| anyhow::anyhow!("--member: {e}"))?;
            store.operator_actor_for_member(&org_id, &m).await
        }
        None => store.operator_actor_for_first_owner(&org_id).await,
    }
    .context("no such organization or member")?;
    let scope = store.scope(&actor);
    scope
        .get_campaign(&campaign_id)
        .await
        .context("no such campaign in this organization")?;

    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut reader =
        csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(BufReader::with_capacity(
                1 << 20,
                Counting {
                    inner: file,
                    read: read.clone(),
                },
            ));
    let headers: Vec<String> = reader
        .byte_headers()
        .context("reading the header row")?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    if col("phone").is_none() {
        bail!(
            "the header row has no `phone` column (columns: {})",
            headers.join(", ")
        );
    }
    let mut seen = std::collections::HashSet::new();
    for h in &headers {
        if !seen.insert(h.as_str()) {
            bail!("the header row names `{h}` twice");
        }
    }

    let source = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut summary = Summary {
        imported: 0,
        ineligible: 0,
        rejected: 0,
    };
    let mut chunk: Vec<NewLead> = Vec::with_capacity(CHUNK);
    let mut chunk_first_line = 0u64;
    // One chunk is written (on sqlx's connection thread) while the next is
    // parsed here; chunks still commit one after the other, in file order.
    let mut in_flight: Option<InFlight> = None;
    let mut record = csv::ByteRecord::new();
    let mut progress = |summary: &Summary, force: bool| {
        if force || last_progress.elapsed().as_millis() >= 500 {
            last_progress = Instant::now();
            let done = read.load(std::sync::atomic::Ordering::Relaxed);
            let pct = if total > 0 {
                done as f64 * 100.0 / total as f64
            } else {
                100.0
            };
            let rate = (summary.imported + summary.rejected) as f64
                / started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\r{pct:5.1}%  {} imported ({} ineligible), {} rejected, {rate:.0} rows/s   ",
                summary.imported, summary.ineligible, summary.rejected
            );
        }
    };
    loop {
        let line = reader.position().line() + 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(e).context("reading the file");
                }
                summary.rejected += 1;
                reject(out, line, &[format!("unreadable CSV row: {e}")])?;
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        match row_to_lead(&headers, &record, campaign) {
            Ok(input) => match validate_lead(input) {
                Ok(lead) => {
                    if chunk.is_empty() {
                        chunk_first_line = line;
                    }
                    chunk.push(lead);
                }
                Err(reasons) => {
                    summary.rejected += 1;
                    reject(out, line, &reasons)?;
                }
            },
            Err(reasons) => {
                summary.rejected += 1;
                reject(out, line, &reasons)?;
            }
        }
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            let next = start_chunk(store, &actor, full, &source, chunk_first_line, line, &now);
            if let Some(previous) = in_flight.replace(next) {
                finish_chunk(previous, &mut summary, out).await?;
            }
        }
        progress(&summary, false);
    }
    if !chunk.is_empty() {
        let last = reader.position().line();
        let next = start_chunk(store, &actor, chunk, &source, chunk_first_line, last, &now);
        if let Some(previous) = in_flight.replace(next) {
            finish_chunk(previous, &mut summary, out).await?;
        }
    }
    if let Some(previous) = in_flight.take() {
        finish_chunk(previous, &mut summary, out).await?;
    }
    progress(&summary, true);
    eprintln!();
    writeln!(
        out,
        "{}",
        serde_json::json!({"summary": {"imported": summary.imported, "ineligible": summary.ineligible,
            "rejected": summary.rejected, "seconds": started.elapsed().as_secs_f64()}})
    )?;
    Ok(summary)
}

fn reject(out: &mut impl Write, line: u64, reasons: &[String]) -> anyhow::Result<()> {
    writeln!(
        out,
        "{}",
        serde_json::json!({"line": line, "status": "rejected", "reasons": reasons})
    )?;
    Ok(())
}

/// A chunk being written.
struct InFlight {
    task: tokio::task::JoinHandle<Result<tollgate_store::ImportChunk, tollgate_store::StoreError>>,
    first_line: u64,
    last_line: u64,
}

fn start_chunk(
    store: &Store,
    actor: &tollgate_store::Actor,
    chunk: Vec<NewLead>,
    source: &str,
    first_line: u64,
    last_line: u64,
    now: &impl Fn() -> tollgate_core::UnixMicros,
) -> InFlight {
    let ctx = Ctx {
        now: now(),
        request: tollgate_core::audit::RequestMeta {
            request_id: None,
            ip: None,
            user_agent: Some("tollgate leads import".into()),
            method: None,
            route: None,
        },
    };
    let (store, actor, source) = (store.clone(), actor.clone(), source.to_owned());
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
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let InFlight {
        task,
        first_line,
        last_line,
    } = chunk;
    let nothing =
        || format!("writing lines {first_line}..={last_line}; nothing of them was written");
    let written = task.await.with_context(nothing)?.with_context(nothing)?;
    summary.imported += written.created;
    summary.ineligible += written.ineligible;
    writeln!(
        out,
        "{}",
        serde_json::json!({"chunk": {"first_line": first_line, "last_line": last_line,
            "imported": written.created, "ineligible": written.ineligible}})
    )?;
    Ok(())
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
