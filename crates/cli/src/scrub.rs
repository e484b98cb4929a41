//! `tollgate dnc scrub IN.csv --out OUT.csv --org --campaign`: every row
//! judged as a dial check of the campaign would judge it (the server's DNC
//! lookup and the gate's own facts and decision, `Dnc::scrub`; never a
//! second copy of the rules), written with its verdict and reasons.
//!
//! Rows name a lead (`lead_id` column) or a bare number (`phone`); every
//! input column is copied, then `verdict` (`allowed`, `denied` or
//! `lead_not_found`), `reasons` (codes, `;`-separated), `details` and
//! `list_versions`. Memory stays bounded: rows go through in chunks.
//! Progress goes to standard error when it is a terminal; the summary to
//! standard output.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use tollgate_core::id::{CampaignId, LeadId};
use tollgate_gate::{DialChannel, parse_nanp};

/// What a row names: a lead or a bare number.
type Subject = (Option<LeadId>, Option<tollgate_gate::E164>);

/// Rows judged per store transaction.
const CHUNK: usize = 1_000;

pub struct ScrubArgs<'a> {
    pub input: &'a Path,
    pub out: &'a Path,
    pub org: &'a str,
    pub campaign: &'a str,
    pub member: Option<&'a str>,
    pub channel: &'a str,
}

pub async fn run(config: &tollgate_server::Config, args: ScrubArgs<'_>) -> anyhow::Result<()> {
    let store = tollgate_server::open_store(config, false).await?.store;
    let dnc = tollgate_server::dnc::Dnc::start(config, &store).await?;
    let campaign =
        CampaignId::parse(args.campaign).map_err(|e| anyhow::anyhow!("--campaign: {e}"))?;
    let channel = DialChannel::parse(args.channel).context("--channel must be voice or text")?;
    let actor = crate::operator::actor(&store, args.org, args.member).await?;
    store
        .scope(&actor)
        .get_campaign(&campaign)
        .await
        .context("no such campaign in this organization")?;

    let file =
        File::open(args.input).with_context(|| format!("cannot open {}", args.input.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let headers: Vec<String> = reader
        .headers()
        .context("reading the header row")?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let lead_col = headers.iter().position(|h| h == "lead_id");
    let phone_col = headers.iter().position(|h| h == "phone");
    if lead_col.is_none() && phone_col.is_none() {
        bail!(
            "the header row has neither a `lead_id` nor a `phone` column (columns: {})",
            headers.join(", ")
        );
    }
    let mut writer = csv::Writer::from_path(args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let mut out_headers = headers.clone();
    out_headers.extend(["verdict", "reasons", "details", "list_versions"].map(String::from));
    writer.write_record(&out_headers)?;

    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let (mut allowed, mut denied, mut bad) = (0u64, 0u64, 0u64);
    let mut chunk: Vec<(csv::StringRecord, Result<Subject, String>)> = Vec::with_capacity(CHUNK);
    let mut records = reader.records();
    loop {
        let next = records.next();
        let done = next.is_none();
        if let Some(rec) = next {
            let rec = rec.context("reading a row")?;
            let field = |c: Option<usize>| {
                c.and_then(|i| rec.get(i))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            let subject = match (field(lead_col), field(phone_col)) {
                (Some(l), _) => LeadId::parse(l)
                    .map(|id| (Some(id), None))
                    .map_err(|_| "lead_id is not a lead id".to_owned()),
                (None, Some(p)) => parse_nanp(p)
                    .map(|n| (None, Some(n)))
                    .map_err(|e| format!("phone: {} ({})", e.message(), e.code())),
                (None, None) => Err("the row has neither a lead_id nor a phone".to_owned()),
            };
            chunk.push((rec, subject));
        }
        if chunk.len() == CHUNK || (done && !chunk.is_empty()) {
            let rows: Vec<_> = chunk
                .iter()
                .filter_map(|(_, s)| s.as_ref().ok().cloned())
                .collect();
            let ctx = tollgate_store::Ctx {
                now: tollgate_server::app::now(),
                request: Default::default(),
            };
            let at = jiff::Timestamp::from_microsecond(ctx.now.0)?;
            let mut judged = dnc
                .scrub(
                    &store,
                    &actor,
                    &campaign,
                    channel,
                    at,
                    config.gate.safety_margin_minutes,
                    &rows,
                    &ctx,
                )
                .await?
                .into_iter();
            for (rec, subject) in chunk.drain(..) {
                let mut row: Vec<String> = rec.iter().map(str::to_owned).collect();
                let extra: [String; 4] = match subject {
                    Err(why) => {
                        bad += 1;
                        ["invalid".into(), String::new(), why, String::new()]
                    }
                    Ok(_) => match judged.next() {
                        Some(Ok(c)) => {
                            if c.allowed {
                                allowed += 1;
                            } else {
                                denied += 1;
                            }
                            [
                                if c.allowed { "allowed" } else { "denied" }.into(),
                                c.reasons
                                    .iter()
                                    .map(|r| r.code.as_str())
                                    .collect::<Vec<_>>()
                                    .join(";"),
                                c.reasons
                                    .iter()
                                    .map(|r| r.detail.as_str())
                                    .collect::<Vec<_>>()
                                    .join(" | "),
                                c.list_versions
                                    .iter()
                                    .map(|l| format!("{}={}", l.list, l.version))
                                    .collect::<Vec<_>>()
                                    .join(";"),
                            ]
                        }
                        Some(Err(tollgate_store::StoreError::NotFound)) => {
                            bad += 1;
                            [
                                "lead_not_found".into(),
                                String::new(),
                                String::new(),
                                String::new(),
                            ]
                        }
                        Some(Err(e)) => return Err(e.into()),
                        None => bail!("the scrub returned fewer rows than it was given"),
                    },
                };
                row.extend(extra);
                writer.write_record(&row)?;
            }
            if terminal {
                let read = reader_position(&records);
                let pct = if total > 0 {
                    read as f64 * 100.0 / total as f64
                } else {
                    100.0
                };
                let n = allowed + denied + bad;
                let rate = n as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprint!(
                    "\r{pct:5.1}%  {n} rows, {allowed} allowed, {denied} denied, {bad} invalid, {rate:.0} rows/s   "
                );
            }
        }
        if done {
            break;
        }
    }
    writer.flush()?;
    if terminal {
        eprintln!();
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        serde_json::json!({"summary": {"allowed": allowed, "denied": denied, "invalid": bad,
            "out": args.out.display().to_string()}})
    )?;
    Ok(())
}

fn reader_position<R: std::io::Read>(records: &csv::StringRecordsIter<'_, R>) -> u64 {
    records.reader().position().byte()
}
