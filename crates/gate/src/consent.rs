//! Consent evidence: what a lead's record must hold to be dialable at all,
//! and which kinds of consent cover which calls.
//!
//! The federal floor, from `shared/research/us-calling-rules.md` §1.5-1.6:
//! * Calls with an artificial or prerecorded voice, and AI voices are one
//!   (FCC 24-17, 2024), need prior express consent, and prior express
//!   **written** consent when they are telemarketing (47 CFR 64.1200(a)(2),
//!   (a)(3)). An established business relationship does not cover them.
//! * Texts are calls under the TCPA and are sent by automated systems, so
//!   they are held to the same standard as artificial-voice calls (an EBR
//!   "does not allow ... automated calls or texts").
//! * A live, human-voice call may rely on an EBR: a transaction within 18
//!   months or an inquiry within 3 months (47 CFR 64.1200(f)(5); 16 CFR
//!   310.2(q)). We do not always know which kind an EBR is, so an EBR of
//!   unknown kind is read as an inquiry (3 months): the stricter reading.
//!
//! State EBR limits are often shorter (CA, MI, IN, ...): `rules/ebr_windows.csv`
//! holds them, and the shortest limit of any candidate state applies on top
//! of the federal one; a state that accepts no EBR of the lead's kind (IN
//! for any, MI, NJ and WI for an inquiry) denies it outright.

use std::borrow::Cow;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tollgate_rules::{EbrBasis, EbrRule};

/// The kind of consent a lead's evidence records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentType {
    /// Prior express written consent (47 CFR 64.1200(f)(9)).
    PriorExpressWritten,
    /// Prior express consent (e.g. the person gave the number for this purpose).
    PriorExpress,
    /// An established business relationship, dated.
    EstablishedBusinessRelationship,
    /// No consent.
    None,
}

impl ConsentType {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentType::PriorExpressWritten => "prior_express_written",
            ConsentType::PriorExpress => "prior_express",
            ConsentType::EstablishedBusinessRelationship => "established_business_relationship",
            ConsentType::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentType> {
        [
            ConsentType::PriorExpressWritten,
            ConsentType::PriorExpress,
            ConsentType::EstablishedBusinessRelationship,
            ConsentType::None,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// What kind of business relationship an EBR rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EbrKind {
    /// A purchase, payment or delivery: 18 months.
    Transaction,
    /// An inquiry or application: 3 months.
    Inquiry,
}

impl EbrKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EbrKind::Transaction => "transaction",
            EbrKind::Inquiry => "inquiry",
        }
    }
    pub fn parse(s: &str) -> Option<EbrKind> {
        match s {
            "transaction" => Some(EbrKind::Transaction),
            "inquiry" => Some(EbrKind::Inquiry),
            _ => None,
        }
    }
    /// How long the relationship lasts (months read as 30.44 days, floored).
    pub fn lifetime(self) -> SignedDuration {
        match self {
            EbrKind::Transaction => SignedDuration::from_hours(24 * 547),
            EbrKind::Inquiry => SignedDuration::from_hours(24 * 91),
        }
    }
}

/// The consent evidence recorded with a lead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsentEvidence {
    pub kind: Option<ConsentType>,
    /// When consent was given.
    pub given_at: Option<Timestamp>,
    /// URL or form id where it was captured.
    pub source: Option<String>,
    pub ip: Option<String>,
    /// The consent language shown, or
    pub text: Option<String>,
    /// its version id.
    pub text_version: Option<String>,
    /// Who captured it (system, vendor, agent).
    pub captured_by: Option<String>,
    /// For an EBR: the date of the last transaction or inquiry.
    pub ebr_date: Option<Timestamp>,
    pub ebr_kind: Option<EbrKind>,
}

/// Why a lead's evidence is not usable. Stable codes, shown to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceProblem {
    NoConsent,
    MissingTimestamp,
    TimestampInFuture,
    MissingSource,
    MissingConsentText,
    MissingCapturedBy,
    MissingEbrDate,
}

impl EvidenceProblem {
    pub fn code(self) -> &'static str {
        match self {
            EvidenceProblem::NoConsent => "consent_none",
            EvidenceProblem::MissingTimestamp => "consent_timestamp_missing",
            EvidenceProblem::TimestampInFuture => "consent_timestamp_in_future",
            EvidenceProblem::MissingSource => "consent_source_missing",
            EvidenceProblem::MissingConsentText => "consent_text_missing",
            EvidenceProblem::MissingCapturedBy => "consent_captured_by_missing",
            EvidenceProblem::MissingEbrDate => "ebr_date_missing",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            EvidenceProblem::NoConsent => "no consent is recorded",
            EvidenceProblem::MissingTimestamp => "the consent has no timestamp",
            EvidenceProblem::TimestampInFuture => "the consent timestamp is in the future",
            EvidenceProblem::MissingSource => "the consent has no source (URL or form id)",
            EvidenceProblem::MissingConsentText => {
                "written consent needs the consent text or its version"
            }
            EvidenceProblem::MissingCapturedBy => "the consent does not say who captured it",
            EvidenceProblem::MissingEbrDate => {
                "an established business relationship needs its date"
            }
        }
    }
}

/// Checks evidence at intake: every problem, not just the first. A lead with
/// any problem is ineligible and can never be dialed. An EBR needs its date
/// (its own timestamp and source are what the business kept).
pub fn intake_problems(e: &ConsentEvidence, now: Timestamp) -> Vec<EvidenceProblem> {
    let mut out = Vec::new();
    let kind = match e.kind {
        None | Some(ConsentType::None) => {
            out.push(EvidenceProblem::NoConsent);
            return out;
        }
        Some(k) => k,
    };
    if kind == ConsentType::EstablishedBusinessRelationship {
        match e.ebr_date {
            None => out.push(EvidenceProblem::MissingEbrDate),
            Some(d) if d > now => out.push(EvidenceProblem::TimestampInFuture),
            Some(_) => {}
        }
        if blank(&e.source) {
            out.push(EvidenceProblem::MissingSource);
        }
        return out;
    }
    match e.given_at {
        None => out.push(EvidenceProblem::MissingTimestamp),
        Some(t) if t > now => out.push(EvidenceProblem::TimestampInFuture),
        Some(_) => {}
    }
    if blank(&e.source) {
        out.push(EvidenceProblem::MissingSource);
    }
    if blank(&e.captured_by) {
        out.push(EvidenceProblem::MissingCapturedBy);
    }
    if kind == ConsentType::PriorExpressWritten && blank(&e.text) && blank(&e.text_version) {
        out.push(EvidenceProblem::MissingConsentText);
    }
    out
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// Why a call is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Selling or advertising (a "telephone solicitation").
    Telemarketing,
    /// Informational: reminders, notices, service calls.
    Informational,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Telemarketing => "telemarketing",
            Purpose::Informational => "informational",
        }
    }
    pub fn parse(s: &str) -> Option<Purpose> {
        match s {
            "telemarketing" => Some(Purpose::Telemarketing),
            "informational" => Some(Purpose::Informational),
            _ => None,
        }
    }
}

/// Why recorded consent does not cover a particular call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentGap {
    /// No usable consent at all (none, or the evidence failed intake).
    Missing,
    /// The kind of consent is not enough for this purpose and channel
    /// (e.g. an EBR for an AI-voice call, or prior express consent for
    /// AI-voice telemarketing).
    Insufficient,
    /// An EBR that has lapsed.
    Expired,
    /// A candidate state's rule: no EBR of this kind there, or a shorter
    /// one that has lapsed.
    StateEbr(&'static EbrRule),
}

impl ConsentGap {
    pub fn detail(self) -> Cow<'static, str> {
        match self {
            ConsentGap::Missing => "no usable consent evidence is recorded for this lead".into(),
            ConsentGap::Insufficient => {
                "the recorded consent does not cover this call: artificial (AI) voices and texts need prior express consent, written for telemarketing; an established business relationship covers live calls only".into()
            }
            ConsentGap::Expired => {
                "the established business relationship has lapsed (18 months after a transaction, 3 months after an inquiry)".into()
            }
            ConsentGap::StateEbr(rule) => {
                let basis = match rule.basis {
                    EbrBasis::Transaction => "a transaction",
                    EbrBasis::Inquiry => "an inquiry",
                };
                match rule.max_days {
                    None => format!(
                        "the number may be in {}, where {basis} does not create an established business relationship (an EBR of unknown kind is read as an inquiry)",
                        rule.jurisdiction.code()
                    )
                    .into(),
                    Some(days) => format!(
                        "the established business relationship has lapsed under {}'s shorter limit ({days} days after {basis})",
                        rule.jurisdiction.code()
                    )
                    .into(),
                }
            }
        }
    }
}

/// Whether `e` (already accepted at intake) covers a call of `purpose` on
/// `channel` at `at`. `state_ebr` gives the strictest EBR row of the lead's
/// candidate states for a basis (see `Rules::strictest_ebr_rule`).
pub fn covers(
    e: &ConsentEvidence,
    purpose: Purpose,
    channel: tollgate_rules::Channel,
    at: Timestamp,
    state_ebr: impl Fn(EbrBasis) -> Option<&'static EbrRule>,
) -> Result<(), ConsentGap> {
    use tollgate_rules::Channel::{ArtificialVoice, LiveVoice, Text};
    let kind = match e.kind {
        None | Some(ConsentType::None) => return Err(ConsentGap::Missing),
        Some(k) => k,
    };
    match (kind, channel, purpose) {
        (ConsentType::PriorExpressWritten, _, _) => Ok(()),
        (ConsentType::PriorExpress, ArtificialVoice | Text, Purpose::Telemarketing) => {
            Err(ConsentGap::Insufficient)
        }
        (ConsentType::PriorExpress, _, _) => Ok(()),
        (ConsentType::EstablishedBusinessRelationship, ArtificialVoice | Text, _) => {
            Err(ConsentGap::Insufficient)
        }
        (ConsentType::EstablishedBusinessRelationship, LiveVoice, _) => {
            let Some(date) = e.ebr_date else {
                return Err(ConsentGap::Missing);
            };
            let kind = e.ebr_kind.unwrap_or(EbrKind::Inquiry);
            let life = kind.lifetime();
            let basis = match kind {
                EbrKind::Transaction => EbrBasis::Transaction,
                EbrKind::Inquiry => EbrBasis::Inquiry,
            };
            if let Some(rule) = state_ebr(basis) {
                match rule.lifetime() {
                    None => return Err(ConsentGap::StateEbr(rule)),
                    Some(state_life) if state_life < life => {
                        return match date.checked_add(state_life) {
                            Ok(end) if at < end => Ok(()),
                            _ => Err(ConsentGap::StateEbr(rule)),
                        };
                    }
                    Some(_) => {}
                }
            }
            match date.checked_add(life) {
                Ok(end) if at < end => Ok(()),
                _ => Err(ConsentGap::Expired),
            }
        }
        (ConsentType::None, _, _) => Err(ConsentGap::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_rules::Channel;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn written() -> ConsentEvidence {
        ConsentEvidence {
            kind: Some(ConsentType::PriorExpressWritten),
            given_at: Some(ts("2026-01-01T00:00:00Z")),
            source: Some("https://example.test/form".into()),
            captured_by: Some("web form".into()),
            text_version: Some("v3".into()),
            ..Default::default()
        }
    }

    #[test]
    fn intake_lists_every_problem() {
        let now = ts("2026-06-01T00:00:00Z");
        assert!(intake_problems(&written(), now).is_empty());
        let e = ConsentEvidence {
            kind: Some(ConsentType::PriorExpressWritten),
            given_at: Some(ts("2027-01-01T00:00:00Z")),
            ..Default::default()
        };
        assert_eq!(
            intake_problems(&e, now),
            [
                EvidenceProblem::TimestampInFuture,
                EvidenceProblem::MissingSource,
                EvidenceProblem::MissingCapturedBy,
                EvidenceProblem::MissingConsentText
            ]
        );
        assert_eq!(
            intake_problems(&ConsentEvidence::default(), now),
            [EvidenceProblem::NoConsent]
        );
    }

    /// The federal reading alone (no candidate state has an EBR row).
    fn covers(
        e: &ConsentEvidence,
        p: Purpose,
        c: Channel,
        at: Timestamp,
    ) -> Result<(), ConsentGap> {
        super::covers(e, p, c, at, |_| None)
    }

    #[test]
    fn state_ebr_rows_shorten_or_bar_the_relationship() {
        use tollgate_rules::{State, rules};
        let in_state = |code: &str| {
            let mut set = tollgate_rules::StateSet::EMPTY;
            set.insert(State::parse(code).unwrap());
            move |basis| rules().strictest_ebr_rule(set, basis, ts("2026-06-01T00:00:00Z"))
        };
        let transaction = ConsentEvidence {
            kind: Some(ConsentType::EstablishedBusinessRelationship),
            ebr_date: Some(ts("2025-10-01T00:00:00Z")),
            ebr_kind: Some(EbrKind::Transaction),
            source: Some("crm".into()),
            ..Default::default()
        };
        let at = ts("2026-06-01T00:00:00Z"); // 8 months after the purchase
        let live = |e: &ConsentEvidence, state: &str| {
            super::covers(
                e,
                Purpose::Telemarketing,
                Channel::LiveVoice,
                at,
                in_state(state),
            )
        };
        assert_eq!(live(&transaction, "NY"), Ok(()), "federal 18 months");
        assert_eq!(live(&transaction, "TX"), Ok(()), "TX 12 months");
        let la = live(&transaction, "LA").unwrap_err();
        assert!(matches!(la, ConsentGap::StateEbr(r) if r.id == "LA-EBR-TRANSACTION"));
        assert!(
            la.detail().contains("LA's shorter limit (182 days"),
            "{}",
            la.detail()
        );
        assert!(matches!(
            live(&transaction, "IN"),
            Err(ConsentGap::StateEbr(r)) if r.max_days.is_none()
        ));
        // OK's 24 months never lengthens the federal 18.
        let old = ConsentEvidence {
            ebr_date: Some(ts("2024-09-01T00:00:00Z")),
            ..transaction.clone()
        };
        assert_eq!(live(&old, "OK"), Err(ConsentGap::Expired));
        // An inquiry creates no EBR in Michigan; a fresh one is fine in NY.
        let inquiry = ConsentEvidence {
            ebr_date: Some(ts("2026-05-20T00:00:00Z")),
            ebr_kind: Some(EbrKind::Inquiry),
            ..transaction
        };
        assert!(matches!(live(&inquiry, "MI"), Err(ConsentGap::StateEbr(_))));
        assert_eq!(live(&inquiry, "NY"), Ok(()));
    }

    #[test]
    fn ebr_never_covers_ai_voice_or_text_and_lapses() {
        let at = ts("2026-06-01T00:00:00Z");
        let ebr = ConsentEvidence {
            kind: Some(ConsentType::EstablishedBusinessRelationship),
            ebr_date: Some(ts("2026-05-01T00:00:00Z")),
            ebr_kind: Some(EbrKind::Transaction),
            source: Some("crm".into()),
            ..Default::default()
        };
        for p in [Purpose::Telemarketing, Purpose::Informational] {
            assert_eq!(
                covers(&ebr, p, Channel::ArtificialVoice, at),
                Err(ConsentGap::Insufficient)
            );
            assert_eq!(
                covers(&ebr, p, Channel::Text, at),
                Err(ConsentGap::Insufficient)
            );
            assert_eq!(covers(&ebr, p, Channel::LiveVoice, at), Ok(()));
        }
        let late = ts("2027-12-01T00:00:00Z");
        assert_eq!(
            covers(&ebr, Purpose::Telemarketing, Channel::LiveVoice, late),
            Err(ConsentGap::Expired)
        );
        // An inquiry (or an EBR of unknown kind) lasts 3 months only.
        let inquiry = ConsentEvidence {
            ebr_kind: None,
            ..ebr
        };
        assert_eq!(
            covers(
                &inquiry,
                Purpose::Telemarketing,
                Channel::LiveVoice,
                ts("2026-09-01T00:00:00Z")
            ),
            Err(ConsentGap::Expired)
        );
    }

    #[test]
    fn ai_telemarketing_needs_written_consent() {
        let at = ts("2026-06-01T00:00:00Z");
        let pec = ConsentEvidence {
            kind: Some(ConsentType::PriorExpress),
            ..written()
        };
        assert_eq!(
            covers(&pec, Purpose::Telemarketing, Channel::ArtificialVoice, at),
            Err(ConsentGap::Insufficient)
        );
        assert_eq!(
            covers(&pec, Purpose::Informational, Channel::ArtificialVoice, at),
            Ok(())
        );
        assert_eq!(
            covers(
                &written(),
                Purpose::Telemarketing,
                Channel::ArtificialVoice,
                at
            ),
            Ok(())
        );
    }
}
