//! The only ways to build what the store keeps of a call's words: every
//! constructor here runs the redaction engine, and the store's insert
//! functions take only these types. Unredacted text therefore cannot reach
//! an insert, a log line or an audit event through this crate.

use serde::Serialize;
use serde_json::{Map, Value};
use tollgate_redact::{Finding, Kind, Policy, RedactError, Role, Turn, redact_turns};

/// Who spoke a turn of a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The voice agent (bot or human operator).
    Agent,
    /// The person called.
    Caller,
}

impl Speaker {
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Agent => "agent",
            Speaker::Caller => "caller",
        }
    }

    pub fn parse(s: &str) -> Option<Speaker> {
        match s {
            "agent" => Some(Speaker::Agent),
            "caller" => Some(Speaker::Caller),
            _ => None,
        }
    }

    fn role(self) -> Role {
        match self {
            Speaker::Agent => Role::Agent,
            Speaker::Caller => Role::Caller,
        }
    }
}

/// One turn after redaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RedactedTurn {
    pub speaker: String,
    pub text: String,
}

/// One removal: its kind and where it was, never the value. `start`/`end`
/// are byte offsets in the submitted text, `redacted_start`/`redacted_end`
/// those of the replacement tag in the redacted text. `turn` (transcripts)
/// or `path` (extractions, a JSON pointer) says which text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RemovedSpan {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub turn: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    pub kind: String,
    pub start: usize,
    pub end: usize,
    pub redacted_start: usize,
    pub redacted_end: usize,
}

impl RemovedSpan {
    fn new(f: &Finding, turn: Option<usize>, path: Option<String>) -> Self {
        RemovedSpan {
            turn,
            path,
            kind: f.kind.code().to_owned(),
            start: f.input.start,
            end: f.input.end,
            redacted_start: f.output.start,
            redacted_end: f.output.end,
        }
    }
}

/// Counts of removals per kind, for audit events and answers.
pub fn counts(spans: &[RemovedSpan]) -> Value {
    let mut m = std::collections::BTreeMap::<&str, u64>::new();
    for s in spans {
        *m.entry(s.kind.as_str()).or_default() += 1;
    }
    serde_json::to_value(m).unwrap_or(Value::Null)
}

/// A conversation after redaction with a policy.
#[derive(Debug, Clone)]
pub struct RedactedTranscript {
    turns: Vec<RedactedTurn>,
    findings: Vec<RemovedSpan>,
    policy: Policy,
}

impl RedactedTranscript {
    /// Redacts a conversation as one text (a card read over several caller
    /// turns is found whole; the agent's question is context for the answer).
    pub fn redact(turns: &[(Speaker, &str)], policy: &Policy) -> Result<Self, RedactError> {
        let input: Vec<Turn<'_>> = turns
            .iter()
            .map(|(s, text)| Turn {
                role: s.role(),
                text,
            })
            .collect();
        let out = redact_turns(&input, policy)?;
        let mut findings = Vec::new();
        let mut redacted = Vec::with_capacity(out.len());
        for (i, (r, (speaker, _))) in out.into_iter().zip(turns).enumerate() {
            findings.extend(
                r.findings
                    .iter()
                    .map(|f| RemovedSpan::new(f, Some(i), None)),
            );
            redacted.push(RedactedTurn {
                speaker: speaker.as_str().to_owned(),
                text: r.text,
            });
        }
        Ok(RedactedTranscript {
            turns: redacted,
            findings,
            policy: *policy,
        })
    }

    pub fn turns(&self) -> &[RedactedTurn] {
        &self.turns
    }
    pub fn findings(&self) -> &[RemovedSpan] {
        &self.findings
    }
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// Limits on an extraction object: depth, number of values, length of a
/// field name. Past them the object is refused whole, nothing is stored.
pub const MAX_FIELDS_DEPTH: usize = 8;
pub const MAX_FIELDS_VALUES: usize = 2000;
pub const MAX_FIELD_NAME: usize = 128;

/// Why an extraction object cannot be stored. Messages never quote the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    #[error("the extraction must be a JSON object")]
    NotAnObject,
    #[error("the extraction is nested deeper than {MAX_FIELDS_DEPTH} levels")]
    TooDeep,
    #[error("the extraction holds more than {MAX_FIELDS_VALUES} values")]
    TooManyValues,
    #[error("a field name is longer than {MAX_FIELD_NAME} bytes, at {0}")]
    NameTooLong(String),
    #[error("a field name holds a sensitive value ({kind}); field names must be names, not data")]
    SensitiveName { kind: &'static str },
    #[error("{0}")]
    Redact(#[from] RedactError),
}

/// An extraction result (a JSON object from the bot) after redaction: every
/// string value, and every number whose digits the engine recognises (a
/// card, an SSN after an `ssn` field name...), is replaced.
#[derive(Debug, Clone)]
pub struct RedactedFields {
    fields: Value,
    findings: Vec<RemovedSpan>,
    policy: Policy,
}

impl RedactedFields {
    /// Redacts each value with its field name as the question it answers, so
    /// `{"ssn": "123456789"}` is found although nine bare digits would not be.
    pub fn redact(value: &Value, policy: &Policy) -> Result<Self, FieldsError> {
        let Value::Object(map) = value else {
            return Err(FieldsError::NotAnObject);
        };
        let mut w = Walker {
            policy,
            findings: Vec::new(),
            values: 0,
        };
        let fields = w.object(map, "", 1)?;
        Ok(RedactedFields {
            fields,
            findings: w.findings,
            policy: *policy,
        })
    }

    pub fn fields(&self) -> &Value {
        &self.fields
    }
    pub fn findings(&self) -> &[RemovedSpan] {
        &self.findings
    }
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

struct Walker<'p> {
    policy: &'p Policy,
    findings: Vec<RemovedSpan>,
    values: usize,
}

impl Walker<'_> {
    fn object(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Result<Value, FieldsError> {
        if depth > MAX_FIELDS_DEPTH {
            return Err(FieldsError::TooDeep);
        }
        let mut out = Map::with_capacity(map.len());
        for (k, v) in map {
            let here = format!("{path}/{}", pointer_escape(k));
            if k.len() > MAX_FIELD_NAME {
                return Err(FieldsError::NameTooLong(format!("{path}/…")));
            }
            // A name with a value in it would be stored as is (it is the
            // key), so it is refused rather than rewritten.
            let name = tollgate_redact::redact(k, self.policy)?;
            if let Some(f) = name.findings.first() {
                return Err(FieldsError::SensitiveName {
                    kind: f.kind.code(),
                });
            }
            let value = self.value(v, &here, &words_of(k), depth)?;
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn value(
        &mut self,
        v: &Value,
        path: &str,
        question: &str,
        depth: usize,
    ) -> Result<Value, FieldsError> {
        self.values += 1;
        if self.values > MAX_FIELDS_VALUES {
            return Err(FieldsError::TooManyValues);
        }
        Ok(match v {
            Value::Null | Value::Bool(_) => v.clone(),
            Value::String(s) => Value::String(self.text(s, path, question)?),
            Value::Number(n) => {
                // The number's digits as written in a sentence; anything the
                // engine finds in them replaces the whole number with its tag.
                let digits = n.to_string();
                let redacted = self.text(&digits, path, question)?;
                if redacted == digits {
                    v.clone()
                } else {
                    Value::String(redacted)
                }
            }
            Value::Array(items) => {
                if depth + 1 > MAX_FIELDS_DEPTH {
                    return Err(FieldsError::TooDeep);
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.value(item, &format!("{path}/{i}"), question, depth + 1)?);
                }
                Value::Array(out)
            }
            Value::Object(m) => self.object(m, path, depth + 1)?,
        })
    }

    fn text(&mut self, s: &str, path: &str, question: &str) -> Result<String, FieldsError> {
        let turns = [
            Turn {
                role: Role::Agent,
                text: question,
            },
            Turn {
                role: Role::Caller,
                text: s,
            },
        ];
        let mut out = redact_turns(&turns, self.policy)?;
        let answer = out.pop().unwrap_or_else(|| tollgate_redact::Redacted {
            text: String::new(),
            findings: Vec::new(),
        });
        self.findings.extend(
            answer
                .findings
                .iter()
                .map(|f| RemovedSpan::new(f, None, Some(path.to_owned()))),
        );
        Ok(answer.text)
    }
}

/// A field name as words: `card_number`, `cardNumber` and `card-number` all
/// read "card number", the way the agent would have asked for it.
fn words_of(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' || c == '.' {
            out.push(' ');
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_lowercase());
    }
    out.push('?');
    out
}

/// RFC 6901 escaping of one reference token.
fn pointer_escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// A policy as the JSON the API shows and the store records with each
/// redacted body: kinds, card style, strict PCI mode, minimum score.
pub fn policy_json(p: &Policy) -> Value {
    serde_json::json!({
        "kinds": p.kinds.iter().map(Kind::code).collect::<Vec<_>>(),
        "card": card_style_code(p.card),
        "strict_pci": p.strict_pci,
        "min_score": p.min_score,
    })
}

pub fn card_style_code(c: tollgate_redact::CardStyle) -> &'static str {
    match c {
        tollgate_redact::CardStyle::Tag => "tag",
        tollgate_redact::CardStyle::KeepLastFour => "last_four",
    }
}

pub fn parse_card_style(s: &str) -> Option<tollgate_redact::CardStyle> {
    match s {
        "tag" => Some(tollgate_redact::CardStyle::Tag),
        "last_four" => Some(tollgate_redact::CardStyle::KeepLastFour),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_give_context_and_numbers_are_checked() {
        let v = serde_json::json!({
            "ssn": "123456789",
            "cardNumber": 4111111111111111u64,
            "order_total": 129,
            "nested": {"notes": ["my email is jane.doe@example.com"]},
        });
        let r = RedactedFields::redact(&v, &Policy::standard()).unwrap();
        let text = r.fields().to_string();
        assert!(!text.contains("123456789"), "{text}");
        assert!(!text.contains("4111111111111111"), "{text}");
        assert!(!text.contains("jane.doe"), "{text}");
        assert_eq!(r.fields()["order_total"], 129);
        assert!(
            r.findings()
                .iter()
                .any(|f| f.path.as_deref() == Some("/ssn"))
        );
        assert!(
            r.findings()
                .iter()
                .any(|f| f.path.as_deref() == Some("/nested/notes/0") && f.kind == "email")
        );
    }

    #[test]
    fn sensitive_names_depth_and_size_are_refused() {
        let v = serde_json::json!({"4111 1111 1111 1111": true});
        assert!(matches!(
            RedactedFields::redact(&v, &Policy::standard()),
            Err(FieldsError::SensitiveName { kind: "card" })
        ));
        let mut deep = serde_json::json!(1);
        for _ in 0..20 {
            deep = serde_json::json!({ "a": deep });
        }
        assert_eq!(
            RedactedFields::redact(&deep, &Policy::standard()).unwrap_err(),
            FieldsError::TooDeep
        );
        let many = serde_json::json!({ "a": vec![1; MAX_FIELDS_VALUES + 1] });
        assert_eq!(
            RedactedFields::redact(&many, &Policy::standard()).unwrap_err(),
            FieldsError::TooManyValues
        );
        assert_eq!(
            RedactedFields::redact(&serde_json::json!([1]), &Policy::standard()).unwrap_err(),
            FieldsError::NotAnObject
        );
    }

    #[test]
    fn a_card_read_over_two_caller_turns_is_removed_from_both() {
        let t = RedactedTranscript::redact(
            &[
                (Speaker::Agent, "What is the card number?"),
                (Speaker::Caller, "four one one one one one one one"),
                (Speaker::Agent, "okay"),
                (Speaker::Caller, "one one one one one one one one"),
            ],
            &Policy::standard(),
        )
        .unwrap();
        assert_eq!(t.turns()[1].text, "[CARD]");
        assert_eq!(t.turns()[3].text, "[CARD]");
        assert_eq!(t.findings().len(), 2);
    }
}
