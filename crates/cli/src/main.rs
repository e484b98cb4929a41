//! The `tollgate` binary.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tollgate_server::config;

mod dnc_command;
// Issue 8: bulk scrub through the gate's decision.
mod import;
mod operator;
mod redact_command;
mod scrub;

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Compliance and security gateway for AI voice agents"
)]
struct Cli {
    /// Configuration file (default: ./tollgate.toml when present).
    #[arg(long, global = true, env = "TOLLGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway. With no configuration: 127.0.0.1:8080, SQLite in ./tollgate-data.
    Serve,
    /// Apply pending database migrations (on PostgreSQL, as the owner role) and grant the application role.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print a new one-time link that creates an organization.
    Bootstrap,
    /// Work with the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Rotate the keys of envelope encryption (docs/crypto.md), online.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Work with leads.
    Leads {
        #[command(subcommand)]
        command: LeadsCommand,
    },
    /// Do-Not-Call data: build registry indexes (no configuration needed),
    /// activate them for the servers, scrub lists through the gate.
    Dnc {
        #[command(subcommand)]
        command: DncCommand,
    },
    /// Print the version.
    Version,
    /// Redact standard input to standard output (no server or database).
    /// Exits 2, printing nothing on standard output, when the input is not
    /// UTF-8 or is larger than 16 MiB.
    Redact {
        /// `standard` or `strict-pci` (also every run of 3+ digits in a payment context).
        #[arg(long, default_value = "standard")]
        policy: String,
        /// Write cards as `[CARD ****1111]` instead of `[CARD]`.
        #[arg(long)]
        keep_last_four: bool,
        /// Print the map of removals (kind, byte offsets; never values) as JSON on standard error.
        #[arg(long)]
        findings: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Step 1: wrap every data key under a new key-encryption key as well as
    /// the current one (no sealed data is read), and record the new KEK as
    /// the database's. Running servers keep working. Step 2: configure every
    /// node with `security.kek_file` = the new file and
    /// `security.previous_kek_file` = the old one, restarting them one at a
    /// time. Step 3: `rotate-kek --finish` deletes the old wraps; then remove
    /// the previous KEK from the configuration and destroy it.
    RotateKek {
        /// The new KEK (base64 of 32 bytes, mode 0600); created with a fresh
        /// random key when the file does not exist.
        #[arg(long, required_unless_present = "finish", conflicts_with = "finish")]
        new_kek_file: Option<PathBuf>,
        /// Step 3: delete every wrap by a KEK other than the configured one.
        #[arg(long)]
        finish: bool,
    },
    /// List every data key (system scope and each organization): status,
    /// and the KEKs that wrap it. Exits 1 if a live key has no wrap under
    /// the configured KEK (run `rotate-kek --finish` only when this passes).
    Status,
    /// Make a new data key for an organization (new values are sealed with
    /// it at once), re-encrypt its existing values in batches, and retire
    /// the old key when nothing references it. Resumes an unfinished rotation.
    RotateDek {
        #[arg(long)]
        org: String,
        /// Values per transaction.
        #[arg(long, default_value_t = 500)]
        batch_size: u32,
        /// Stop after this many batches (run again to resume), to spread the
        /// work over maintenance windows.
        #[arg(long)]
        max_batches: Option<u32>,
    },
}

#[derive(Subcommand)]
enum LeadsCommand {
    /// Import leads from a CSV file (header row required; a `phone` column,
    /// optional state, zip, name, consent_* and ebr_* columns, any other
    /// column kept as a declared field). Streams in bounded memory; bad rows
    /// are reported by line number on standard output (JSON Lines) and
    /// skipped; progress on standard error. Exits 1 when a row was rejected.
    Import {
        file: PathBuf,
        /// The organization (`org_…`).
        #[arg(long)]
        org: String,
        /// The campaign the leads belong to (`cmp_…`).
        #[arg(long)]
        campaign: String,
        /// Act as this member (`mem_…`); default: the first owner.
        #[arg(long)]
        member: Option<String>,
    },
}

#[derive(Subcommand)]
enum DncCommand {
    /// Build an index file from registry files as the FTC or a state
    /// distributes them: one number per line (`NPANXXXXXX` or
    /// `NPA,NXXXXXX`), plain or zipped. With --base, the files are change
    /// lists (`NUMBER,A|D[,DATE]`) applied to that earlier index. Every
    /// line is validated; bad lines are listed on standard output (JSON
    /// Lines) with file and line number and, unless --accept-bad-lines,
    /// nothing is written (exit 1). The file is written atomically.
    Import {
        /// `national`, `state:XX` or an organization's list name.
        #[arg(long)]
        list: String,
        /// The registry's version date (YYYY-MM-DD), recorded for every
        /// area code with a line in the files.
        #[arg(long)]
        version: String,
        /// The previous index file of the same list: the files are change lists.
        #[arg(long)]
        base: Option<PathBuf>,
        /// The index file to write (replaced atomically).
        #[arg(long)]
        out: PathBuf,
        /// Write the valid lines even if some are bad (each is still listed).
        #[arg(long)]
        accept_bad_lines: bool,
        /// An area code the files cover though no line names it (its file
        /// was empty or had no changes); repeatable.
        #[arg(long = "area-code")]
        area_codes: Vec<u16>,
        /// Then copy the index into the DNC directory (dnc.dir) and record
        /// it as the list's current version, as `dnc activate` does (needs
        /// the configuration and the database).
        #[arg(long)]
        activate: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Copy an index file into the DNC directory (dnc.dir, default
    /// <data_dir>/dnc; shared storage in scale-out) and record it as its
    /// list's current version: every running node swaps it in within
    /// dnc.poll_secs.
    Activate { file: PathBuf },
    /// Judge every row of a CSV (a `lead_id` or a `phone` column) as a dial
    /// check of the campaign would, now, and write the rows with their
    /// verdict, reasons and list versions. Nothing is dialled or recorded
    /// (one `dnc.scrubbed` audit event per chunk of rows).
    Scrub {
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        org: String,
        #[arg(long)]
        campaign: String,
        /// Act as this member (`mem_…`); default: the first owner.
        #[arg(long)]
        member: Option<String>,
        /// `voice` or `text`.
        #[arg(long, default_value = "voice")]
        channel: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk each organization's hash chain and report the first broken link.
    /// Exits 1 when any chain is broken.
    Verify {
        /// Only this organization (`org_…`); default: every organization.
        #[arg(long)]
        org: Option<String>,
        /// Signed checkpoints (JSON Lines, as printed by `audit checkpoint`)
        /// kept outside the database; default: the checkpoints stored in it.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Verify each organization's chain and sign its head; prints the signed
    /// checkpoints as JSON Lines, to keep where the database's owner cannot change them.
    Checkpoint {
        #[arg(long)]
        org: Option<String>,
    },
    /// Print the public key that verifies checkpoints (base64), for auditors.
    PublicKey,
    /// Apply each organization's retention: remove its oldest events (whole
    /// segments from the start of the chain) after signing a checkpoint where
    /// the chain is cut, so the rest still verifies. On PostgreSQL this runs
    /// as the owner role (database.migration_url): the application role
    /// cannot delete audit events.
    Prune {
        #[arg(long)]
        org: Option<String>,
    },
    /// Stream one organization's log to standard output, oldest first, for
    /// SIEM ingestion. Memory use does not grow with the log.
    Export {
        #[arg(long)]
        org: String,
        /// `jsonl` or `csv`.
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration without starting; prints it with secrets redacted.
    Check,
}

/// mimalloc instead of glibc's allocator: a request allocates and frees
/// dozens of small objects across two worker threads, and glibc's arenas
/// (`_int_malloc`, `_int_free`, `malloc_consolidate`) took about 15% of the
/// server's CPU under load (docs/adr/0011-global-allocator.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Redact {
        policy,
        keep_last_four,
        findings,
    } = &cli.command
    {
        return redact_command::run(policy, *keep_last_four, *findings);
    }
    let mut cli = cli;
    if let Command::Dnc {
        command:
            DncCommand::Import {
                list,
                version,
                base,
                out,
                accept_bad_lines,
                area_codes,
                activate,
                files,
            },
    } = cli.command
    {
        let code = dnc_command::import_command(dnc_command::ImportArgs {
            list,
            version,
            base,
            out: out.clone(),
            accept_bad_lines,
            area_codes,
            files,
        });
        if !activate || code != std::process::ExitCode::SUCCESS {
            return code;
        }
        // Written: activate it with the configuration below.
        cli.command = Command::Dnc {
            command: DncCommand::Activate { file: out },
        };
    }
    if let Command::Version = cli.command {
        println!("tollgate {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    let loaded = match config::load(cli.config.as_deref(), &config::process_env()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: invalid configuration: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Command::Config {
        command: ConfigCommand::Check,
    } = cli.command
    {
        match &loaded.file {
            Some(f) => println!(
                "# configuration valid: defaults, {}, environment",
                f.display()
            ),
            None => println!("# configuration valid: defaults and environment (no tollgate.toml)"),
        }
        print!("{}", loaded.config.redacted_toml());
        return std::process::ExitCode::SUCCESS;
    }
    tollgate_server::telemetry::init(&loaded.config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, loaded.config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: tollgate_server::Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let url = config.migration_url().context(
                "set database.migration_url (TOLLGATE_DATABASE_MIGRATION_URL) to the owner role's URL to migrate PostgreSQL",
            )?;
            let report = tollgate_store::migrate(&url, Some(&config.database.app_role)).await?;
            println!(
                "{}: {} migration(s) applied now, {} before{}",
                report.backend.as_str(),
                report.applied_now,
                report.applied_before,
                report
                    .granted_to
                    .map(|r| format!("; privileges granted to {r}"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        Command::Bootstrap => {
            let store = tollgate_server::open_store(&config, true).await?.store;
            let link = tollgate_server::app::mint_bootstrap_link(&store, &config).await?;
            println!("{link}");
            println!(
                "Open it within {} minutes; it works once.",
                config.bootstrap.link_ttl_secs / 60
            );
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { org, checkpoints },
        } => {
            let opened = tollgate_server::open_store(&config, false).await?;
            let store = opened.store;
            let public = opened.checkpoint_key.public();
            let orgs = selected_orgs(&store, org).await?;
            let from_file = match &checkpoints {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let mut list = Vec::new();
                    for (n, line) in text
                        .lines()
                        .enumerate()
                        .filter(|(_, l)| !l.trim().is_empty())
                    {
                        let cp: tollgate_core::checkpoint::Checkpoint = serde_json::from_str(line)
                            .with_context(|| format!("{} line {}", path.display(), n + 1))?;
                        list.push(cp);
                    }
                    Some(list)
                }
                None => None,
            };
            let mut broken = 0;
            for org_id in &orgs {
                let cps = match &from_file {
                    Some(list) => list
                        .iter()
                        .filter(|c| c.org_id == org_id.as_str())
                        .cloned()
                        .collect(),
                    None => store.checkpoints(org_id).await?,
                };
                let forged: Vec<_> = cps
                    .iter()
                    .filter(|c| !c.verify(&public))
                    .map(|c| c.seq)
                    .collect();
                let report = store.verify_audit_chain_against(org_id, &cps).await?;
                let head = tollgate_core::audit::to_hex(&report.head_hash);
                let mut problems = Vec::new();
                if let Some(b) = &report.broken {
                    problems.push(format!("after {} intact events: {b}", report.verified));
                }
                if let Some((recorded, found)) = report.head_mismatch {
                    problems.push(format!(
                        "the chain ends at event {found} but its recorded head is event {recorded}: \
                         events were removed from the end, or the head was altered"
                    ));
                }
                problems.extend(report.checkpoint_failures.iter().cloned());
                if let Some(cp) = &report.prune_checkpoint
                    && !cp.verify(&public)
                {
                    problems.push(format!(
                        "the chain was pruned through event {}, but the checkpoint there carries no valid signature",
                        cp.seq
                    ));
                }
                if !forged.is_empty() {
                    problems.push(format!("checkpoints at events {forged:?} carry no valid signature of this server's key"));
                }
                if problems.is_empty()
                    && let Some(p) = report.pruned_through
                {
                    println!(
                        "{org_id}: ok, events {}..{} (1..{p} pruned under retention), head {head}, {} checkpoint(s) matched",
                        p + 1,
                        report.verified,
                        cps.len()
                    );
                } else if problems.is_empty() {
                    println!(
                        "{org_id}: ok, {} events, head {head}, {} checkpoint(s) matched",
                        report.verified,
                        cps.len()
                    );
                } else {
                    broken += 1;
                    for p in problems {
                        println!("{org_id}: BROKEN: {p}");
                    }
                }
            }
            if broken > 0 {
                anyhow::bail!("{broken} of {} audit chains are broken", orgs.len());
            }
            println!("{} audit chain(s) verified", orgs.len());
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Checkpoint { org },
        } => {
            let opened = tollgate_server::open_store(&config, false).await?;
            let orgs = selected_orgs(&opened.store, org).await?;
            let now = tollgate_server::app::now();
            let mut failed = 0;
            for org_id in &orgs {
                match tollgate_server::checkpoints::checkpoint_org(
                    &opened.store,
                    &opened.checkpoint_key,
                    org_id,
                    now,
                )
                .await
                {
                    Ok(_) => {
                        // Print the newest checkpoint, new or already stored.
                        if let Some(cp) = opened.store.checkpoints(org_id).await?.last() {
                            println!("{}", serde_json::to_string(cp)?);
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("{e:#}");
                    }
                }
            }
            if failed > 0 {
                anyhow::bail!("{failed} chain(s) could not be signed");
            }
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Prune { org },
        } => {
            let opened = tollgate_server::open_store(&config, false).await?;
            let owner_url = config.migration_url().context(
                "pruning runs as the owner role: set database.migration_url (TOLLGATE_DATABASE_MIGRATION_URL)",
            )?;
            let owner = opened.store.with_role(&owner_url).await?;
            let orgs = selected_orgs(&opened.store, org).await?;
            let now = tollgate_server::app::now();
            let mut failed = 0;
            for org_id in &orgs {
                match tollgate_server::checkpoints::prune_org(
                    &opened.store,
                    &owner,
                    &opened.checkpoint_key,
                    org_id,
                    now,
                )
                .await
                {
                    Ok(Some(p)) => println!(
                        "{org_id}: pruned events 1..{} ({} removed; retention {} days)",
                        p.through, p.removed, p.retention_days
                    ),
                    Ok(None) => println!("{org_id}: nothing older than its retention"),
                    Err(e) => {
                        failed += 1;
                        eprintln!("{e:#}");
                    }
                }
            }
            owner.close().await;
            if failed > 0 {
                anyhow::bail!("{failed} chain(s) were not pruned");
            }
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::PublicKey,
        } => {
            use base64::Engine;
            let opened = tollgate_server::open_store(&config, false).await?;
            let public = opened.checkpoint_key.public();
            println!(
                "{}",
                base64::engine::general_purpose::STANDARD.encode(public.as_bytes())
            );
            eprintln!("key id {}", opened.checkpoint_key.id());
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Export { org, format },
        } => {
            use std::io::Write;
            use tollgate_server::api::audit::{AuditEventView, CSV_HEADER, Format};
            let format = match format.as_str() {
                "jsonl" => Format::JsonLines,
                "csv" => Format::Csv,
                other => anyhow::bail!("--format must be jsonl or csv, not {other}"),
            };
            let org_id =
                tollgate_core::OrgId::parse(&org).map_err(|e| anyhow::anyhow!("--org: {e}"))?;
            let store = tollgate_server::open_store(&config, false).await?.store;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if format == Format::Csv {
                out.write_all(CSV_HEADER.as_bytes())?;
            }
            let (mut after, mut count) = (0i64, 0u64);
            loop {
                let page = store
                    .operator_audit_events_after(&org_id, after, 1_000)
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.event.seq;
                let mut chunk = String::new();
                for e in page {
                    format.write(&AuditEventView::from(e), &mut chunk);
                    count += 1;
                }
                out.write_all(chunk.as_bytes())?;
            }
            out.flush()?;
            eprintln!("{count} events exported");
            Ok(())
        }
        Command::Keys { command } => keys(command, &config).await,
        Command::Leads {
            command:
                LeadsCommand::Import {
                    file,
                    org,
                    campaign,
                    member,
                },
        } => {
            let store = tollgate_server::open_store(&config, false).await?.store;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = import::run(
                &store,
                &org,
                &campaign,
                member.as_deref(),
                &file,
                tollgate_server::app::now,
                &mut out,
            )
            .await?;
            std::io::Write::flush(&mut out)?;
            if summary.rejected > 0 {
                eprintln!("{} rows rejected; see the report", summary.rejected);
                std::process::exit(1);
            }
            Ok(())
        }
        // Issue 8: do-not-call data.
        Command::Dnc {
            command: DncCommand::Activate { file },
        } => {
            let store = tollgate_server::open_store(&config, false).await?.store;
            let v = tollgate_server::dnc::registry::activate(
                &config.dnc_dir(),
                &store,
                &file,
                tollgate_server::app::now(),
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"status": "current", "list": v.list, "version": v.version,
                    "numbers": v.numbers, "area_codes": v.area_codes.len(), "file": v.file_name, "sha256": v.sha256})
            );
            Ok(())
        }
        Command::Dnc {
            command:
                DncCommand::Scrub {
                    input,
                    out,
                    org,
                    campaign,
                    member,
                    channel,
                },
        } => {
            scrub::run(
                &config,
                scrub::ScrubArgs {
                    input: &input,
                    out: &out,
                    org: &org,
                    campaign: &campaign,
                    member: member.as_deref(),
                    channel: &channel,
                },
            )
            .await
        }
        Command::Config { .. }
        | Command::Version
        | Command::Redact { .. }
        | Command::Dnc { .. } => Ok(()),
    }
}

async fn keys(command: KeysCommand, config: &tollgate_server::Config) -> anyhow::Result<()> {
    use tollgate_server::keys as k;
    let store = tollgate_server::open_store(config, false).await?.store;
    let now = tollgate_server::app::now();
    match command {
        KeysCommand::RotateKek {
            new_kek_file: Some(path),
            ..
        } => {
            let current = store.kek_ids()?;
            let (new, created) = k::kek_from_file_or_new(&path)?;
            if current.iter().any(|id| id == new.id()) {
                anyhow::bail!(
                    "{} holds a KEK this server already uses (id {}); give a new one",
                    path.display(),
                    new.id()
                );
            }
            if created {
                println!("created {} (mode 0600) with a new KEK", path.display());
            }
            let report = store
                .rotate_kek(std::sync::Arc::new(new.envelope()), false, now)
                .await?;
            let mut ids = vec![new.id()];
            ids.extend(current.iter().map(String::as_str));
            if let tollgate_store::KeyCheck::Mismatch { recorded } =
                store.check_key(k::KEK, &ids, now).await?
            {
                anyhow::bail!("the database records KEK {recorded}, which is not configured here");
            }
            println!(
                "KEK {} -> {}: {} data key(s) wrapped under the new KEK, {} already were.",
                current[0],
                new.id(),
                report.wrapped,
                report.already
            );
            println!(
                "Next: on every node set security.kek_file={} and security.previous_kek_file=<the old KEK file>,                  restart the nodes one at a time, then run `tollgate keys rotate-kek --finish` with that configuration.",
                path.display()
            );
        }
        KeysCommand::Status => {
            let current = store.kek_ids()?;
            let keys = store.data_keys().await?;
            let mut lacking = 0;
            println!(
                "configured KEK {} (held: {})",
                current[0],
                current.join(", ")
            );
            for k in &keys {
                let scope = k
                    .org_id
                    .as_ref()
                    .map_or_else(|| "system".to_owned(), |o| o.to_string());
                let live = k.status != "retired";
                if live && !k.kek_ids.contains(&current[0]) {
                    lacking += 1;
                }
                println!(
                    "{scope} {} {} wrapped by [{}]",
                    k.id,
                    k.status,
                    k.kek_ids.join(", ")
                );
            }
            for org in store.pending_dek_rotations().await? {
                if let Some(r) = store.dek_rotation_running(&org).await? {
                    println!(
                        "{org}: DEK rotation to {} running, at {} after `{}` ({} re-encrypted)",
                        r.new_key_id, r.column, r.after_record, r.resealed
                    );
                }
            }
            println!("{} data key(s)", keys.len());
            if lacking > 0 {
                anyhow::bail!(
                    "{lacking} live data key(s) have no wrap under the configured KEK {}",
                    current[0]
                );
            }
        }
        KeysCommand::RotateKek { .. } => {
            let report = store.finish_kek_rotation(now).await?;
            println!(
                "KEK {}: {} data key(s) newly wrapped, {} wrap(s) under other KEKs deleted.                  Remove security.previous_kek(_file) from the configuration and destroy the old KEK.",
                store.kek_ids()?[0],
                report.wrapped,
                report.retired_wraps
            );
        }
        KeysCommand::RotateDek {
            org,
            batch_size,
            max_batches,
        } => {
            let org_id =
                tollgate_core::OrgId::parse(&org).map_err(|e| anyhow::anyhow!("--org: {e}"))?;
            let started = store.start_dek_rotation(&org_id, now).await?;
            println!(
                "{org_id}: sealing with data key {}; re-encrypting from {} after `{}` ({} done before)",
                started.new_key_id, started.column, started.after_record, started.resealed
            );
            let status = store
                .run_dek_rotation(&org_id, batch_size, max_batches)
                .await?;
            if status.finished {
                println!(
                    "{org_id}: done, {} value(s) re-encrypted; retired key(s): {}",
                    status.resealed,
                    if status.retired.is_empty() {
                        "none".to_owned()
                    } else {
                        status.retired.join(", ")
                    }
                );
            } else {
                println!(
                    "{org_id}: stopped at {} after `{}` ({} re-encrypted); run again to resume",
                    status.column, status.after_record, status.resealed
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

/// The organization named by `--org`, or every organization.
async fn selected_orgs(
    store: &tollgate_store::Store,
    org: Option<String>,
) -> anyhow::Result<Vec<tollgate_core::OrgId>> {
    Ok(match org {
        Some(id) => {
            vec![tollgate_core::OrgId::parse(&id).map_err(|e| anyhow::anyhow!("--org: {e}"))?]
        }
        None => store.org_ids().await?,
    })
}

async fn serve(config: tollgate_server::Config) -> anyhow::Result<()> {
    let backend = config.backend();
    let prepared = tollgate_server::prepare(config).await?;
    let addr = prepared.listener.local_addr()?;
    for f in &prepared.created_key_files {
        tracing::info!(path = %f.display(), "created a key file (mode 0600); back it up with the database");
    }
    tracing::info!(%addr, backend = backend.as_str(), "tollgate is listening");
    if let Some(link) = &prepared.bootstrap_link {
        // Printed to standard output, not the log, so log shipping does not
        // carry it; it expires in minutes and works once.
        println!(
            "\nNo organization exists yet. Open this link within 15 minutes to create the first one:\n\n    {link}\n"
        );
    }
    tollgate_server::serve(prepared, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
