//! Real-time DNC providers: the interface, and the one HTTP JSON adapter
//! whose contract is `docs/dnc-provider.md`.
//!
//! An adapter answers, for each number and each requested check, listed or
//! clear with the source list and its version date, or fails as a whole.
//! Anything incomplete or unexpected in a response is a failure, never a
//! "clear": the gate turns failures into `dnc_provider_down`.

use std::time::Duration;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use tollgate_gate::E164;
use tollgate_store::SecretFields;

/// Most numbers one provider request carries (the bulk scrub splits).
pub const MAX_NUMBERS_PER_REQUEST: usize = 1000;
/// Largest response body read from a provider.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// What a provider can check a number against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The National Do Not Call Registry.
    National,
    /// The state lists that apply to the number.
    State,
    /// Wireless (cell phone) identification.
    Wireless,
    /// Known TCPA litigators.
    Litigator,
    /// The FCC Reassigned Numbers Database.
    Reassigned,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::National => "national",
            Check::State => "state",
            Check::Wireless => "wireless",
            Check::Litigator => "litigator",
            Check::Reassigned => "reassigned",
        }
    }
}

/// One check's answer for one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckAnswer {
    pub listed: bool,
    /// The list that answered (`national`, `state:TX`, a vendor's list name).
    pub source: String,
    /// The version date of the data that answered.
    pub version: Date,
}

/// The answers for one number, in the order of the requested checks.
pub type NumberAnswers = Vec<(Check, CheckAnswer)>;

/// Why a provider call failed. The text is logged and becomes an
/// incident's cause: it never holds a number or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider did not answer within {0} ms")]
    Timeout(u64),
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider answered HTTP {0}")]
    Status(u16),
    #[error("the provider's answer breaks the contract: {0}")]
    Contract(String),
    #[error("the provider credential is missing or unusable: {0}")]
    Credential(String),
    #[error("the circuit breaker is open after repeated failures")]
    BreakerOpen,
}

/// A real-time scrub service.
pub trait Provider: Send + Sync {
    /// Answers every check for every number, in order, or fails as a whole.
    fn check(
        &self,
        numbers: &[E164],
        checks: &[Check],
        secret: &SecretFields,
    ) -> impl Future<Output = Result<Vec<NumberAnswers>, ProviderError>> + Send;
}

/// The HTTP JSON adapter (`docs/dnc-provider.md`).
#[derive(Clone)]
pub struct HttpJsonProvider {
    url: String,
    http: reqwest::Client,
    timeout: Duration,
}

#[derive(Serialize)]
struct Request<'a> {
    numbers: Vec<&'a str>,
    checks: Vec<&'static str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Response {
    results: Vec<ResultEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultEntry {
    number: String,
    checks: std::collections::BTreeMap<String, WireAnswer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAnswer {
    status: String,
    source: String,
    version: String,
}

impl HttpJsonProvider {
    /// `url` is the endpoint the numbers are posted to (https, or http for
    /// a provider on a private network or a test).
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<HttpJsonProvider> {
        anyhow::ensure!(
            url.starts_with("https://") || url.starts_with("http://"),
            "dnc.provider_url must start with https:// (or http://)"
        );
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(timeout)
            .connect_timeout(timeout)
            // A provider redirect could carry the credential elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpJsonProvider {
            url: url.to_owned(),
            http,
            timeout,
        })
    }

    fn interpret(
        &self,
        numbers: &[E164],
        checks: &[Check],
        body: &[u8],
    ) -> Result<Vec<NumberAnswers>, ProviderError> {
        let contract = |m: &str| ProviderError::Contract(m.to_owned());
        let res: Response = serde_json::from_slice(body)
            .map_err(|_| contract("the body is not the documented JSON"))?;
        if res.results.len() != numbers.len() {
            return Err(contract("not one result per number"));
        }
        let mut out = Vec::with_capacity(numbers.len());
        for (n, entry) in numbers.iter().zip(res.results) {
            if entry.number != n.as_str() {
                return Err(contract("results are not in request order"));
            }
            let mut answers = Vec::with_capacity(checks.len());
            for &c in checks {
                let w = entry
                    .checks
                    .get(c.as_str())
                    .ok_or_else(|| contract("a requested check is missing"))?;
                let listed = match w.status.as_str() {
                    "listed" => true,
                    "clear" => false,
                    _ => return Err(contract("a status is neither listed nor clear")),
                };
                let version: Date = w
                    .version
                    .parse()
                    .map_err(|_| contract("a version is not a YYYY-MM-DD date"))?;
                if w.source.is_empty() || w.source.len() > 64 {
                    return Err(contract("a source is empty or longer than 64 characters"));
                }
                answers.push((
                    c,
                    CheckAnswer {
                        listed,
                        source: w.source.clone(),
                        version,
                    },
                ));
            }
            out.push(answers);
        }
        Ok(out)
    }
}

impl Provider for HttpJsonProvider {
    async fn check(
        &self,
        numbers: &[E164],
        checks: &[Check],
        secret: &SecretFields,
    ) -> Result<Vec<NumberAnswers>, ProviderError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let key = secret
            .get("api_key")
            .ok_or_else(|| ProviderError::Credential("no api_key field".into()))?;
        let body = Request {
            numbers: numbers.iter().map(E164::as_str).collect(),
            checks: checks.iter().map(|c| c.as_str()).collect(),
        };
        let mut req = self.http.post(&self.url).bearer_auth(key).json(&body);
        if let Some(account) = secret.get("account_id") {
            req = req.header("x-account-id", account);
        }
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        let res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                ProviderError::Timeout(timeout_ms)
            } else {
                // The error's text names the host, never the credential.
                ProviderError::Unreachable(e.without_url().to_string())
            }
        })?;
        if !res.status().is_success() {
            return Err(ProviderError::Status(res.status().as_u16()));
        }
        if res
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(ProviderError::Contract("the body is too large".into()));
        }
        let bytes = res.bytes().await.map_err(|e| {
            if e.is_timeout() {
                ProviderError::Timeout(timeout_ms)
            } else {
                ProviderError::Unreachable(e.without_url().to_string())
            }
        })?;
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(ProviderError::Contract("the body is too large".into()));
        }
        self.interpret(numbers, checks, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_gate::parse_nanp;

    fn provider() -> HttpJsonProvider {
        HttpJsonProvider::new("http://127.0.0.1:9", Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn a_complete_answer_is_read_in_order() {
        let n = [parse_nanp("+18505550100").unwrap()];
        let body = br#"{"results":[{"number":"+18505550100","checks":{
            "national":{"status":"listed","source":"national","version":"2026-11-20"},
            "state":{"status":"clear","source":"state:FL","version":"2026-10-01"}}}]}"#;
        let a = provider()
            .interpret(&n, &[Check::National, Check::State], body)
            .unwrap();
        assert_eq!(a[0][0].0, Check::National);
        assert!(a[0][0].1.listed);
        assert!(!a[0][1].1.listed);
        assert_eq!(a[0][1].1.source, "state:FL");
    }

    #[test]
    fn anything_incomplete_or_odd_is_a_failure_never_clear() {
        let n = [parse_nanp("+18505550100").unwrap()];
        let checks = [Check::National, Check::State];
        for body in [
            // A check missing.
            &br#"{"results":[{"number":"+18505550100","checks":{
                "national":{"status":"clear","source":"national","version":"2026-11-20"}}}]}"#[..],
            // An unknown status.
            br#"{"results":[{"number":"+18505550100","checks":{
                "national":{"status":"unknown","source":"national","version":"2026-11-20"},
                "state":{"status":"clear","source":"state:FL","version":"2026-10-01"}}}]}"#,
            // No version date.
            br#"{"results":[{"number":"+18505550100","checks":{
                "national":{"status":"clear","source":"national","version":""},
                "state":{"status":"clear","source":"state:FL","version":"2026-10-01"}}}]}"#,
            // Another number.
            br#"{"results":[{"number":"+18505550199","checks":{
                "national":{"status":"clear","source":"national","version":"2026-11-20"},
                "state":{"status":"clear","source":"state:FL","version":"2026-10-01"}}}]}"#,
            // No results.
            br#"{"results":[]}"#,
            b"not json",
        ] {
            assert!(
                matches!(
                    provider().interpret(&n, &checks, body),
                    Err(ProviderError::Contract(_))
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
