//! `tollgate leads import FILE --org --campaign`: the terminal around the
//! shared streaming import (`tollgate_server::lead_import`).
//!
//! The report goes to standard output as JSON Lines (one line per rejected
//! row, one per committed chunk, then a summary); progress goes to standard
//! error.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::time::Instant;

use anyhow::Context;
use tollgate_core::id::CampaignId;
use tollgate_server::lead_import::{Event, Origin, Summary, import_csv};
use tollgate_store::Store;

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

pub async fn run(
    store: &Store,
    org: &str,
    campaign: &str,
    member: Option<&str>,
    path: &std::path::Path,
    now: impl Fn() -> tollgate_core::UnixMicros,
    out: &mut impl Write,
) -> anyhow::Result<Summary> {
    let campaign_id =
        CampaignId::parse(campaign).map_err(|e| anyhow::anyhow!("--campaign: {e}"))?;
    let actor = crate::operator::actor(store, org, member).await?;
    store
        .scope(&actor)
        .get_campaign(&campaign_id)
        .await
        .context("no such campaign in this organization")?;

    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let input = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            read: read.clone(),
        },
    );
    let source = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let origin = Origin {
        source: &source,
        request: tollgate_core::audit::RequestMeta {
            request_id: None,
            ip: None,
            user_agent: Some("tollgate leads import".into()),
            method: None,
            route: None,
        },
    };
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let progress = |summary: &Summary| {
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
    };
    let summary = import_csv(store, &actor, campaign, input, &origin, now, |event| {
        match event {
            Event::Rejected { line, reasons } => writeln!(
                out,
                "{}",
                serde_json::json!({"line": line, "status": "rejected", "reasons": reasons})
            )?,
            Event::Chunk {
                first_line,
                last_line,
                imported,
                ineligible,
            } => writeln!(
                out,
                "{}",
                serde_json::json!({"chunk": {"first_line": first_line, "last_line": last_line,
                    "imported": imported, "ineligible": ineligible}})
            )?,
            Event::Row(summary) => {
                if last_progress.elapsed().as_millis() >= 500 {
                    last_progress = Instant::now();
                    progress(summary);
                }
            }
        }
        Ok(())
    })
    .await?;
    progress(&summary);
    eprintln!();
    writeln!(
        out,
        "{}",
        serde_json::json!({"summary": {"imported": summary.imported, "ineligible": summary.ineligible,
            "rejected": summary.rejected, "seconds": started.elapsed().as_secs_f64()}})
    )?;
    Ok(summary)
}
