//! Outgoing email: sign-in links, invitations.
//!
//! With `smtp.host` set, mail goes through lettre's SMTP client (STARTTLS,
//! implicit TLS, or plain only for a relay the operator vouches for). The
//! embedded default has no mail server, so messages are written to
//! `<data_dir>/outbox/` (one `.eml` file each, mode 0600) and announced in
//! the log; the link itself is not logged, because logs travel further than
//! the data directory.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use zeroize::Zeroizing;

use crate::config::{Config, SmtpConfig};

/// One message to one person. The body may hold a secret (a link), so it
/// is zeroized when dropped.
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: Zeroizing<String>,
}

pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Outbox {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Mailer> {
        let from: Mailbox = config
            .smtp
            .from
            .parse()
            .with_context(|| format!("smtp.from: {:?} is not a mailbox", config.smtp.from))?;
        if config.smtp.host.is_empty() {
            return Ok(Mailer::Outbox {
                dir: config.data_dir.join("outbox"),
                from,
            });
        }
        Ok(Mailer::Smtp {
            transport: smtp_transport(&config.smtp)?,
            from,
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { .. } => "smtp".into(),
            Mailer::Outbox { dir, .. } => format!("outbox folder {}", dir.display()),
        }
    }

    /// Sends one message. Errors are returned, never swallowed: the caller
    /// decides what the person is told.
    pub async fn send(&self, email: Email) -> anyhow::Result<()> {
        let (from, to) = match self {
            Mailer::Smtp { from, .. } | Mailer::Outbox { from, .. } => (from, &email.to),
        };
        let message = Message::builder()
            .from(from.clone())
            .to(to.parse().context("recipient is not a mailbox")?)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.to_string())
            .context("building the message")?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(message).await.context("SMTP delivery")?;
                tracing::info!(subject = %email.subject, "email sent");
            }
            Mailer::Outbox { dir, .. } => {
                let path = write_outbox(dir, &message.formatted()).await?;
                tracing::info!(
                    subject = %email.subject,
                    file = %path.display(),
                    "email written to the outbox folder (no smtp.host configured)"
                );
            }
        }
        Ok(())
    }
}

fn smtp_transport(c: &SmtpConfig) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let tls = || TlsParameters::new(c.host.clone()).context("smtp TLS parameters");
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
        .port(c.port)
        .timeout(Some(Duration::from_secs(c.timeout_secs.max(1))));
    builder = match c.tls.as_str() {
        "tls" => builder.tls(Tls::Wrapper(tls()?)),
        "starttls" => builder.tls(Tls::Required(tls()?)),
        _ => builder.tls(Tls::None),
    };
    if !c.username.is_empty() {
        anyhow::ensure!(
            c.tls != "none",
            "smtp.username is set with smtp.tls = none: the password would travel in the clear"
        );
        builder = builder.credentials(Credentials::new(c.username.clone(), c.password.clone()));
    }
    Ok(builder.build())
}

async fn write_outbox(dir: &std::path::Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    let dir = dir.to_owned();
    let bytes = Zeroizing::new(bytes.to_vec());
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut name = [0u8; 8];
        getrandom::fill(&mut name).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let file = dir.join(format!(
            "{stamp}-{}.eml",
            name.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options
            .open(&file)
            .with_context(|| format!("creating {}", file.display()))?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        Ok(file)
    })
    .await
    .context("outbox writer")?
}
