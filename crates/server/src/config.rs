//! Configuration: the checked-in defaults, then `tollgate.toml`, then
//! `TOLLGATE_*` environment variables (with `_FILE` variants for secrets).
//!
//! figment is used because its errors name the file or variable that
//! supplied a bad value, which is what an operator needs at 3 a.m.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub const DEFAULTS: &str = include_str!("../../../config/defaults.toml");

/// Sections of the file; `TOLLGATE_<SECTION>_<KEY>` maps to `<section>.<key>`.
const SECTIONS: &[&str] = &[
    "server",
    "database",
    "security",
    "bootstrap",
    "audit",
    "rate_limit",
    "redis",
    "oauth",
    "auth",
    "smtp",
    "log",
    "gate",
    // Issue 10: signed webhooks.
    "webhooks",
    // Issue 8: do-not-call data.
    "dnc",
];

/// Settings that hold secrets: they get `_FILE` variants and are never printed.
pub const SECRET_KEYS: &[&str] = &[
    "database.url",
    "database.migration_url",
    "security.kek",
    "security.previous_kek",
    "security.token_hash_keys",
    "security.audit_signing_key",
    "redis.url",
    "smtp.password",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub security: SecurityConfig,
    pub bootstrap: BootstrapConfig,
    pub audit: AuditConfig,
    pub rate_limit: RateLimitConfig,
    pub redis: RedisConfig,
    pub oauth: OAuthConfig,
    pub auth: AuthConfig,
    pub smtp: SmtpConfig,
    pub log: LogConfig,
    pub gate: GateConfig,
    // Issue 10: signed webhooks.
    pub webhooks: WebhooksConfig,
    // Issue 8: do-not-call data.
    pub dnc: DncConfig,
}

/// Outgoing webhooks (the `[webhooks]` section).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Deliver at all on this node (the outbox fills either way).
    pub workers: bool,
    /// Attempts in flight on this node, in total and per endpoint.
    pub max_in_flight: usize,
    pub max_in_flight_per_endpoint: usize,
    /// How long the previous secret keeps signing after a rotation.
    pub rotation_grace_secs: i64,
    /// Hosts that may be reached over plain `http://` (exact host names
    /// or IP literals), e.g. a receiver on this machine in tests.
    pub allow_http_hosts: Vec<String>,
    /// Let endpoints resolve to private, loopback and link-local
    /// addresses. Only for tests and closed networks: it opens the server
    /// to SSRF against its own network.
    pub allow_private_addresses: bool,
    /// How often an idle worker looks for due deliveries, in milliseconds.
    pub poll_interval_ms: u64,
}

/// Do-not-call data (the `[dnc]` section; docs/dnc-provider.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DncConfig {
    /// Where imported registry indexes live; empty: `<data_dir>/dnc`. In
    /// scale-out, shared storage every node mounts.
    pub dir: String,
    /// The HTTP JSON provider endpoint organizations may use with their own
    /// `dnc_provider` credential; empty: no provider.
    pub provider_url: String,
    pub provider_timeout_ms: u64,
    /// Also ask the provider's `litigator` check before every dial.
    pub provider_litigator_check: bool,
    /// Consecutive failures that open a provider's circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls before one trial.
    pub breaker_open_secs: u64,
    /// How long a provider answer is reused (at most 30 days).
    pub cache_days: u32,
    pub cache_max_entries: usize,
    /// A paused source must answer successfully this long before dialing
    /// resumes.
    pub resume_after_secs: u64,
    /// How often a node re-reads an organization's open incidents (another
    /// node may have opened or resolved one).
    pub incident_recheck_secs: u64,
    /// How often a node looks for a newly imported registry version.
    pub poll_secs: u64,
    /// The national registry's data for an area code may be this old (at
    /// most 31 days: the law's limit).
    pub national_max_age_days: u32,
    /// A state list may be this old (at most 92: the states publish
    /// quarterly).
    pub state_max_age_days: u32,
    /// The dashboard warns from this age.
    pub warn_age_days: u32,
}

impl DncConfig {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=31).contains(&self.national_max_age_days),
            "dnc.national_max_age_days must be between 1 and 31 (the law allows no older copy)"
        );
        anyhow::ensure!(
            (1..=92).contains(&self.state_max_age_days),
            "dnc.state_max_age_days must be between 1 and 92"
        );
        anyhow::ensure!(
            self.warn_age_days >= 1 && self.warn_age_days <= self.national_max_age_days,
            "dnc.warn_age_days must be between 1 and dnc.national_max_age_days"
        );
        anyhow::ensure!(
            self.cache_days <= 30,
            "dnc.cache_days must be at most 30 (cached answers must expire before 31 days)"
        );
        anyhow::ensure!(
            (1..=10_000_000).contains(&self.cache_max_entries),
            "dnc.cache_max_entries must be between 1 and 10000000"
        );
        anyhow::ensure!(
            (100..=30_000).contains(&self.provider_timeout_ms),
            "dnc.provider_timeout_ms must be between 100 and 30000"
        );
        anyhow::ensure!(
            (1..=1000).contains(&self.breaker_failures),
            "dnc.breaker_failures must be between 1 and 1000"
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.breaker_open_secs),
            "dnc.breaker_open_secs must be between 1 and 3600"
        );
        anyhow::ensure!(
            self.resume_after_secs <= 86_400,
            "dnc.resume_after_secs must be at most 86400"
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.incident_recheck_secs),
            "dnc.incident_recheck_secs must be between 1 and 3600"
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.poll_secs),
            "dnc.poll_secs must be between 1 and 3600"
        );
        anyhow::ensure!(
            self.provider_url.is_empty()
                || self.provider_url.starts_with("https://")
                || self.provider_url.starts_with("http://"),
            "dnc.provider_url must start with https:// (or http:// on a private network)"
        );
        Ok(())
    }
}

impl Config {
    /// The directory of the imported registry indexes.
    pub fn dnc_dir(&self) -> PathBuf {
        if self.dnc.dir.is_empty() {
            self.data_dir.join("dnc")
        } else {
            PathBuf::from(&self.dnc.dir)
        }
    }
}

/// The dial gate (the `[gate]` section).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// No dial may start within this many minutes of a calling window's end.
    pub safety_margin_minutes: u16,
}

/// Human sign-in and sessions (the `[auth]` section).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub link_ttl_secs: i64,
    pub session_absolute_secs: i64,
    pub session_idle_secs: i64,
    pub session_rotate_secs: i64,
    pub link_requests_per_email_per_hour: u32,
    pub link_requests_per_ip_per_hour: u32,
    pub code_attempts_per_user_per_hour: u32,
    pub confirmations_per_ip_per_minute: u32,
}

impl AuthConfig {
    pub fn session_policy(&self) -> tollgate_store::SessionPolicy {
        tollgate_store::SessionPolicy {
            absolute_secs: self.session_absolute_secs,
            idle_secs: self.session_idle_secs,
        }
    }
    fn hourly(n: u32) -> tollgate_core::rate_limit::Quota {
        // A burst of the whole hour's allowance would let an attacker spend
        // it at once; a third of it (at least 1) still covers a person who
        // asks again because the first email is slow.
        tollgate_core::rate_limit::Quota {
            rate: n,
            period_secs: 3600,
            burst: (n / 3).max(1),
        }
    }
    pub fn per_email(&self) -> tollgate_core::rate_limit::Quota {
        Self::hourly(self.link_requests_per_email_per_hour)
    }
    pub fn per_ip_links(&self) -> tollgate_core::rate_limit::Quota {
        Self::hourly(self.link_requests_per_ip_per_hour)
    }
    pub fn per_user_codes(&self) -> tollgate_core::rate_limit::Quota {
        Self::hourly(self.code_attempts_per_user_per_hour)
    }
    pub fn per_ip_confirmations(&self) -> tollgate_core::rate_limit::Quota {
        tollgate_core::rate_limit::Quota {
            rate: self.confirmations_per_ip_per_minute,
            period_secs: 60,
            burst: self.confirmations_per_ip_per_minute,
        }
    }
}

/// Outgoing email (the `[smtp]` section). An empty host keeps mail in the
/// data directory's `outbox/` folder and the server log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// "starttls", "tls" (implicit TLS) or "none" (only for a relay on this host).
    pub tls: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub timeout_secs: u64,
}

/// OAuth 2.1 client credentials (the `[oauth]` section).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// Lifetime of an access token, in seconds.
    pub access_token_ttl_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    pub url: String,
    pub key_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub key_per_minute: u32,
    pub key_burst: u32,
    pub org_per_minute: u32,
    pub org_burst: u32,
    pub auth_failures_per_ip_per_minute: u32,
    pub auth_failures_per_ip_burst: u32,
    pub public_per_ip_per_minute: u32,
    pub public_per_ip_burst: u32,
}

impl RateLimitConfig {
    fn quota(rate: u32, burst: u32) -> tollgate_core::rate_limit::Quota {
        tollgate_core::rate_limit::Quota {
            rate,
            period_secs: 60,
            burst,
        }
    }
    pub fn per_key(&self) -> tollgate_core::rate_limit::Quota {
        Self::quota(self.key_per_minute, self.key_burst)
    }
    pub fn per_org(&self) -> tollgate_core::rate_limit::Quota {
        Self::quota(self.org_per_minute, self.org_burst)
    }
    pub fn auth_failures(&self) -> tollgate_core::rate_limit::Quota {
        Self::quota(
            self.auth_failures_per_ip_per_minute,
            self.auth_failures_per_ip_burst,
        )
    }
    pub fn public(&self) -> tollgate_core::rate_limit::Quota {
        Self::quota(self.public_per_ip_per_minute, self.public_per_ip_burst)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    pub checkpoint_interval_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: String,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub hsts_max_age_secs: u64,
    pub metrics: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub migration_url: String,
    pub app_role: String,
    pub migrate_on_start: bool,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    pub kek: String,
    pub kek_file: String,
    pub token_hash_keys: String,
    pub token_hash_keys_file: String,
    pub audit_signing_key: String,
    pub audit_signing_key_file: String,
    pub security_contact: String,
    /// The KEK before a rotation, accepted until `tollgate keys rotate-kek
    /// --finish` (docs/crypto.md). Never generated.
    pub previous_kek: String,
    pub previous_kek_file: String,
    /// How often each node looks for unfinished DEK rotations to carry on
    /// in the background (0: never; the CLI still runs them).
    pub dek_rotation_poll_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapConfig {
    pub link_ttl_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Maps an environment variable name (without the prefix, any case) to a
/// dotted key: `DATABASE_URL` → `database.url`, `DATA_DIR` → `data_dir`.
fn env_key(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(rest) = lower
            .strip_prefix(section)
            .and_then(|r| r.strip_prefix('_'))
        {
            return format!("{section}.{rest}");
        }
    }
    lower
}

/// Where the configuration came from, for `config check`.
pub struct Loaded {
    pub config: Config,
    pub file: Option<PathBuf>,
}

/// Loads the configuration from the defaults, `file` (or `./tollgate.toml`
/// when it exists) and the environment given as `(name, value)` pairs.
pub fn load(file: Option<&Path>, env: &[(String, String)]) -> anyhow::Result<Loaded> {
    let mut figment = Figment::new().merge(Toml::string(DEFAULTS));
    let file = match file {
        Some(f) => {
            anyhow::ensure!(
                f.exists(),
                "configuration file {} does not exist",
                f.display()
            );
            Some(f.to_path_buf())
        }
        None => Some(PathBuf::from("tollgate.toml")).filter(|p| p.exists()),
    };
    if let Some(f) = &file {
        figment = figment.merge(Toml::file_exact(f));
    }
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("TOLLGATE_") else {
            continue;
        };
        if rest == "CONFIG" {
            continue;
        }
        if let Some(stem) = rest.strip_suffix("_FILE") {
            let key = env_key(stem);
            if SECRET_KEYS.contains(&key.as_str()) {
                let text = std::fs::read_to_string(value)
                    .map_err(|e| anyhow::anyhow!("{name}: cannot read {value}: {e}"))?;
                figment = figment.merge(Serialized::default(
                    &key,
                    text.trim_end_matches(['\n', '\r']),
                ));
                continue;
            }
        }
        let key = env_key(rest);
        // Secrets are taken verbatim; other values are read like TOML
        // literals, so `TOLLGATE_SERVER_METRICS=false` is a boolean.
        let parsed: figment::value::Value = if SECRET_KEYS.contains(&key.as_str()) {
            value.clone().into()
        } else {
            value
                .parse()
                .unwrap_or_else(|never: std::convert::Infallible| match never {})
        };
        figment =
            figment.merge(Serialized::default(&key, parsed).profile(figment::Profile::Default));
    }
    let config: Config = figment.extract()?;
    config.validate()?;
    Ok(Loaded { config, file })
}

/// The process environment, for [`load`].
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("TOLLGATE_"))
        .collect()
}

impl Config {
    fn validate(&self) -> anyhow::Result<()> {
        // Issue 8: do-not-call data.
        self.dnc.validate()?;
        anyhow::ensure!(
            (1024..=64 * 1024 * 1024).contains(&self.server.body_limit_bytes),
            "server.body_limit_bytes must be between 1 KiB and 64 MiB"
        );
        anyhow::ensure!(
            (1..=600).contains(&self.server.request_timeout_secs),
            "server.request_timeout_secs must be between 1 and 600"
        );
        anyhow::ensure!(
            (60..=86_400).contains(&self.bootstrap.link_ttl_secs),
            "bootstrap.link_ttl_secs must be between 60 and 86400"
        );
        anyhow::ensure!(
            (1..=1000).contains(&self.database.max_connections),
            "database.max_connections must be between 1 and 1000"
        );
        for (key, url) in [
            ("database.url", &self.database.url),
            ("database.migration_url", &self.database.migration_url),
        ] {
            anyhow::ensure!(
                url.is_empty() || tollgate_store::Backend::for_url(url).is_some(),
                "{key} must start with sqlite: or postgres://"
            );
        }
        anyhow::ensure!(
            self.database.migration_url.is_empty()
                || tollgate_store::Backend::for_url(&self.database.migration_url)
                    == Some(self.backend()),
            "database.migration_url must point at the same kind of database as database.url"
        );
        anyhow::ensure!(
            !self.server.public_url.ends_with('/'),
            "server.public_url must not end with a slash"
        );
        anyhow::ensure!(
            self.server.public_url.is_empty()
                || self.server.public_url.starts_with("https://")
                || self.server.public_url.starts_with("http://"),
            "server.public_url must start with https:// (or http:// for local use)"
        );
        anyhow::ensure!(
            self.security.security_contact.starts_with("mailto:")
                || self.security.security_contact.starts_with("https://"),
            "security.security_contact must be a mailto: or https: URI (RFC 9116)"
        );
        anyhow::ensure!(
            self.redis.url.is_empty()
                || self.redis.url.starts_with("redis://")
                || self.redis.url.starts_with("rediss://"),
            "redis.url must start with redis:// or rediss://"
        );
        anyhow::ensure!(
            (1..=32).contains(&self.redis.key_prefix.len())
                && self
                    .redis
                    .key_prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "redis.key_prefix must be 1 to 32 letters, digits, - or _"
        );
        let w = &self.webhooks;
        anyhow::ensure!(
            (1..=10_000).contains(&w.max_in_flight)
                && (1..=w.max_in_flight).contains(&w.max_in_flight_per_endpoint),
            "webhooks.max_in_flight must be 1 to 10000 and webhooks.max_in_flight_per_endpoint 1 to max_in_flight"
        );
        anyhow::ensure!(
            (0..=7 * 86_400).contains(&w.rotation_grace_secs),
            "webhooks.rotation_grace_secs must be between 0 and 604800"
        );
        anyhow::ensure!(
            (10..=60_000).contains(&w.poll_interval_ms),
            "webhooks.poll_interval_ms must be between 10 and 60000"
        );
        let r = &self.rate_limit;
        for (name, rate, burst) in [
            ("key", r.key_per_minute, r.key_burst),
            ("org", r.org_per_minute, r.org_burst),
            (
                "auth_failures_per_ip",
                r.auth_failures_per_ip_per_minute,
                r.auth_failures_per_ip_burst,
            ),
            (
                "public_per_ip",
                r.public_per_ip_per_minute,
                r.public_per_ip_burst,
            ),
        ] {
            anyhow::ensure!(
                (1..=1_000_000).contains(&rate) && (1..=1_000_000).contains(&burst),
                "rate_limit.{name}: the rate and the burst must be between 1 and 1000000"
            );
        }
        anyhow::ensure!(
            (60..=86_400).contains(&self.oauth.access_token_ttl_secs),
            "oauth.access_token_ttl_secs must be between 60 and 86400"
        );
        let a = &self.auth;
        anyhow::ensure!(
            (60..=3600).contains(&a.link_ttl_secs),
            "auth.link_ttl_secs must be between 60 and 3600"
        );
        anyhow::ensure!(
            (300..=86_400).contains(&a.session_absolute_secs),
            "auth.session_absolute_secs must be between 300 and 86400 (24 hours at most)"
        );
        anyhow::ensure!(
            (60..=a.session_absolute_secs).contains(&a.session_idle_secs),
            "auth.session_idle_secs must be between 60 and auth.session_absolute_secs"
        );
        anyhow::ensure!(
            (60..=a.session_absolute_secs).contains(&a.session_rotate_secs),
            "auth.session_rotate_secs must be between 60 and auth.session_absolute_secs"
        );
        for (name, n) in [
            (
                "link_requests_per_email_per_hour",
                a.link_requests_per_email_per_hour,
            ),
            (
                "link_requests_per_ip_per_hour",
                a.link_requests_per_ip_per_hour,
            ),
            (
                "code_attempts_per_user_per_hour",
                a.code_attempts_per_user_per_hour,
            ),
            (
                "confirmations_per_ip_per_minute",
                a.confirmations_per_ip_per_minute,
            ),
        ] {
            anyhow::ensure!(
                (1..=100_000).contains(&n),
                "auth.{name} must be between 1 and 100000"
            );
        }
        anyhow::ensure!(
            matches!(self.smtp.tls.as_str(), "starttls" | "tls" | "none"),
            "smtp.tls must be starttls, tls or none"
        );
        anyhow::ensure!(
            self.smtp.host.is_empty() || self.smtp.from.parse::<lettre::message::Mailbox>().is_ok(),
            "smtp.from must be a mailbox such as `Tollgate <tollgate@example.com>` when smtp.host is set"
        );
        anyhow::ensure!(
            self.gate.safety_margin_minutes <= 120,
            "gate.safety_margin_minutes must be between 0 and 120"
        );
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| anyhow::anyhow!("log.level: {e}"))?;
        Ok(())
    }

    pub fn backend(&self) -> tollgate_store::Backend {
        if self.database.url.is_empty() {
            tollgate_store::Backend::Sqlite
        } else {
            tollgate_store::Backend::for_url(&self.database.url)
                .unwrap_or(tollgate_store::Backend::Sqlite)
        }
    }

    /// The URL the server connects with.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("tollgate.db").display())
        } else {
            self.database.url.clone()
        }
    }

    /// The URL migrations run with: the owner's, or the embedded database.
    pub fn migration_url(&self) -> Option<String> {
        match self.backend() {
            tollgate_store::Backend::Sqlite => Some(self.database_url()),
            tollgate_store::Backend::Postgres => {
                Some(self.database.migration_url.clone()).filter(|u| !u.is_empty())
            }
        }
    }

    pub fn public_url(&self) -> String {
        if self.server.public_url.is_empty() {
            format!("http://{}", self.server.listen)
        } else {
            self.server.public_url.clone()
        }
    }

    /// The configuration as TOML with every secret replaced, for display.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        for value in [
            &mut shown.database.url,
            &mut shown.database.migration_url,
            &mut shown.security.kek,
            &mut shown.security.previous_kek,
            &mut shown.security.token_hash_keys,
            &mut shown.security.audit_signing_key,
            &mut shown.redis.url,
            &mut shown.smtp.password,
        ] {
            if !value.is_empty() {
                *value = "<redacted>".into();
            }
        }
        let value = serde_json::to_value(&shown).unwrap_or_default();
        toml_like(&value)
    }
}

/// A TOML rendering of a two-level JSON object (the shape of [`Config`]).
fn toml_like(value: &serde_json::Value) -> String {
    let mut top = String::new();
    let mut sections = String::new();
    if let Some(map) = value.as_object() {
        for (k, v) in map {
            match v.as_object() {
                Some(inner) => {
                    sections.push_str(&format!("\n[{k}]\n"));
                    for (ik, iv) in inner {
                        sections.push_str(&format!("{ik} = {iv}\n"));
                    }
                }
                None => top.push_str(&format!("{k} = {v}\n")),
            }
        }
    }
    top + &sections
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_alone_are_valid() {
        let c = load(None, &[]).unwrap().config;
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./tollgate-data"));
        assert_eq!(c.backend(), tollgate_store::Backend::Sqlite);
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9000\"\nbody_limit_bytes = 2048\n",
        )
        .unwrap();
        let c = load(
            Some(&file),
            &env(&[
                ("TOLLGATE_SERVER_LISTEN", "127.0.0.1:9001"),
                ("TOLLGATE_DATA_DIR", "/srv/tg"),
            ]),
        )
        .unwrap()
        .config;
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(c.server.body_limit_bytes, 2048);
        assert_eq!(c.data_dir, PathBuf::from("/srv/tg"));
    }

    #[test]
    fn secrets_come_from_files_and_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db");
        std::fs::write(&secret, "postgres://app:s3cret@db/tollgate\n").unwrap();
        let c = load(
            None,
            &env(&[("TOLLGATE_DATABASE_URL_FILE", secret.to_str().unwrap())]),
        )
        .unwrap()
        .config;
        assert_eq!(c.database.url, "postgres://app:s3cret@db/tollgate");
        assert!(!c.redacted_toml().contains("s3cret"));
        assert!(c.redacted_toml().contains("<redacted>"));
    }

    #[test]
    fn bad_values_are_named() {
        let err = load(None, &env(&[("TOLLGATE_SERVER_LISTEN", "not an address")]))
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("listen"), "{err:#}");
        let err = load(None, &env(&[("TOLLGATE_DATABASE_URL", "mysql://x")]))
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("database.url"), "{err:#}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "[server]\nlisen = \"typo\"\n").unwrap();
        let err = load(Some(&file), &[]).err().unwrap();
        assert!(format!("{err:#}").contains("lisen"), "{err:#}");
    }
}
