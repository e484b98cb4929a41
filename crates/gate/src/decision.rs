//! The decision: allow or deny one dial (or text), with every reason.
//!
//! [`decide`] is a pure function of [`Facts`] the caller loaded (lead,
//! campaign, suppression, DNC answers, earlier attempts, pause switches) and
//! the instant. It never stops at the first reason: a denial lists all of
//! them, because the customer fixes what they are shown. When the only
//! reasons are about time (hours, closed days, frequency caps) it also finds
//! the next instant at which the same facts would be allowed.
//!
//! Fail-closed is structural: [`Decision::allowed`] is true only when the
//! reason list is empty, and every missing fact maps to a reason (no lead
//! evidence is `no_consent`, no DNC answer is `dnc_registry_stale`, no zone
//! is `unknown_timezone`). Errors while loading facts are the caller's to
//! turn into [`Decision::internal_error`].

use std::borrow::Cow;

use jiff::Timestamp;
use serde::Serialize;
use tollgate_rules::{
    Candidates, CapCheck, Channel, HoursRequest, RollingCap, Rules, WeeklyWindow,
};

use crate::consent::{ConsentEvidence, ConsentGap, Purpose, covers};

/// Stable reason codes of the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    NoConsent,
    Suppressed,
    DncNational,
    DncState,
    DncInternal,
    /// A provider's litigator list holds the number (asked only where the
    /// deployment turned the check on).
    DncLitigator,
    DncRegistryStale,
    DncProviderDown,
    OutsideHours,
    RestrictedDay,
    UnknownTimezone,
    FrequencyCap,
    /// The campaign's maximum attempts per lead is reached.
    MaxAttempts,
    /// The request's channel is not the campaign's.
    ChannelMismatch,
    CampaignPaused,
    OrgPaused,
    InternalError,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NoConsent => "no_consent",
            Code::Suppressed => "suppressed",
            Code::DncNational => "dnc_national",
            Code::DncState => "dnc_state",
            Code::DncInternal => "dnc_internal",
            Code::DncLitigator => "dnc_litigator",
            Code::DncRegistryStale => "dnc_registry_stale",
            Code::DncProviderDown => "dnc_provider_down",
            Code::OutsideHours => "outside_hours",
            Code::RestrictedDay => "restricted_day",
            Code::UnknownTimezone => "unknown_timezone",
            Code::FrequencyCap => "frequency_cap",
            Code::MaxAttempts => "max_attempts",
            Code::ChannelMismatch => "channel_mismatch",
            Code::CampaignPaused => "campaign_paused",
            Code::OrgPaused => "org_paused",
            Code::InternalError => "internal_error",
        }
    }

    /// Reasons that time alone can clear.
    pub fn is_time_only(self) -> bool {
        matches!(
            self,
            Code::OutsideHours | Code::RestrictedDay | Code::FrequencyCap
        )
    }
}

/// One reason for a denial. Static text where possible: a denial is the
/// common answer and must stay cheap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub code: Code,
    pub detail: Cow<'static, str>,
    /// The rules row it comes from (`FL-HOURS`, `FL-CAP`), when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citation: Option<&'static str>,
}

impl Reason {
    fn new(code: Code, detail: impl Into<Cow<'static, str>>) -> Reason {
        Reason {
            code,
            detail: detail.into(),
            rule_id: None,
            citation: None,
        }
    }
}

/// How the call goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DialChannel {
    Voice,
    Text,
}

impl DialChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            DialChannel::Voice => "voice",
            DialChannel::Text => "text",
        }
    }
    pub fn parse(s: &str) -> Option<DialChannel> {
        match s {
            "voice" => Some(DialChannel::Voice),
            "text" => Some(DialChannel::Text),
            _ => None,
        }
    }
}

/// Who speaks on a voice call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoiceType {
    /// An AI (artificial) voice: FCC 24-17.
    Ai,
    Live,
}

impl VoiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            VoiceType::Ai => "ai",
            VoiceType::Live => "live",
        }
    }
    pub fn parse(s: &str) -> Option<VoiceType> {
        match s {
            "ai" => Some(VoiceType::Ai),
            "live" => Some(VoiceType::Live),
            _ => None,
        }
    }
}

/// The rules channel of a dial: texts are texts; a voice call is artificial
/// or live by the campaign's voice type.
pub fn rules_channel(channel: DialChannel, voice: VoiceType) -> Channel {
    match (channel, voice) {
        (DialChannel::Text, _) => Channel::Text,
        (DialChannel::Voice, VoiceType::Ai) => Channel::ArtificialVoice,
        (DialChannel::Voice, VoiceType::Live) => Channel::LiveVoice,
    }
}

/// What the gate knows about the campaign.
#[derive(Debug, Clone, Copy)]
pub struct CampaignFacts<'a> {
    pub paused: bool,
    pub purpose: Purpose,
    pub channel: DialChannel,
    pub voice: VoiceType,
    /// Calling windows by weekday, in the lead's local time.
    pub window: Option<&'a WeeklyWindow>,
    pub max_attempts_per_lead: Option<u32>,
    /// The campaign's own rolling caps per number (counted org-wide).
    pub caps: &'a [RollingCap],
}

/// One DNC list's answer for the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStatus {
    Clear,
    Listed,
    /// The copy we hold is older than the law allows (31 days for the
    /// national registry).
    Stale,
    /// The provider did not answer.
    Unavailable,
    /// No provider is configured.
    NotConfigured,
}

/// The DNC component's answer (national and state registries, the org's
/// internal list). Versions name the list snapshots used.
#[derive(Debug, Clone, Copy)]
pub struct DncFacts<'a> {
    pub national: ListStatus,
    pub national_version: Option<&'a str>,
    pub state: ListStatus,
    pub state_version: Option<&'a str>,
    pub internal_listed: bool,
    /// The provider's litigator check; `NotConfigured` when not asked.
    pub litigator: ListStatus,
    pub litigator_version: Option<&'a str>,
    /// The org recorded (audited) that it runs without a DNC provider.
    pub provider_absence_acknowledged: bool,
}

/// Everything [`decide`] needs, loaded by the caller.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub channel: DialChannel,
    pub org_paused: bool,
    pub campaign: CampaignFacts<'a>,
    /// The lead's consent evidence; `None` for a bare number (never dialable).
    pub consent: Option<&'a ConsentEvidence>,
    /// The lead failed intake (its evidence is unusable): never dialable.
    pub lead_ineligible: bool,
    pub candidates: Candidates,
    pub suppressed: bool,
    pub suppression_version: Option<&'a str>,
    pub dnc: DncFacts<'a>,
    /// Earlier attempts to this number, org-wide, every campaign and channel.
    pub number_attempts: &'a [Timestamp],
    /// Earlier attempts to this lead in this campaign.
    pub lead_attempts: u32,
    /// No dial may start within this many minutes of a window's end.
    pub safety_margin_minutes: u16,
}

/// A list snapshot a decision used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListVersion {
    pub list: &'static str,
    pub version: String,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reasons: Vec<Reason>,
    /// The instant judged.
    pub at: Timestamp,
    pub candidate_zones: Vec<&'static str>,
    pub candidate_states: Vec<&'static str>,
    pub rules_version: &'static str,
    /// Ids of the hours rows in force and applied.
    pub rules_applied: Vec<&'static str>,
    pub list_versions: Vec<ListVersion>,
    /// When denied for time only: the first instant the same facts allow.
    pub next_allowed: Option<Timestamp>,
}

impl Decision {
    /// The decision when facts could not be loaded or anything failed.
    pub fn internal_error(rules: &'static Rules, at: Timestamp) -> Decision {
        Decision {
            allowed: false,
            reasons: vec![Reason::new(
                Code::InternalError,
                "the gate could not establish the facts; denied (fail closed)",
            )],
            at,
            candidate_zones: Vec::new(),
            candidate_states: Vec::new(),
            rules_version: rules.version(),
            rules_applied: Vec::new(),
            list_versions: Vec::new(),
            next_allowed: None,
        }
    }

    pub fn codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.reasons.iter().map(|r| r.code.as_str())
    }

    pub fn has(&self, code: Code) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }
}

/// How many rounds the joint hours/caps search may take: each round jumps
/// to the later of the two next instants, so a handful always suffices.
const NEXT_ALLOWED_ROUNDS: usize = 16;

/// Decides one dial at `at`. Pure; the rules are the embedded ones.
pub fn decide(rules: &'static Rules, f: &Facts<'_>, at: Timestamp) -> Decision {
    let mut reasons = Vec::new();
    let channel = rules_channel(f.channel, f.campaign.voice);

    if f.org_paused {
        reasons.push(Reason::new(
            Code::OrgPaused,
            "the organization's gate is paused: every dial is denied",
        ));
    }
    if f.campaign.paused {
        reasons.push(Reason::new(Code::CampaignPaused, "the campaign is paused"));
    }
    if f.channel != f.campaign.channel {
        reasons.push(Reason::new(
            Code::ChannelMismatch,
            format!(
                "the campaign's channel is {}, the request's {}",
                f.campaign.channel.as_str(),
                f.channel.as_str()
            ),
        ));
    }

    // Consent.
    let gap = match f.consent {
        None => Some(ConsentGap::Missing),
        Some(_) if f.lead_ineligible => Some(ConsentGap::Missing),
        Some(c) => covers(c, f.campaign.purpose, channel, at, |basis| {
            rules.strictest_ebr_rule(f.candidates.states, basis, at)
        })
        .err(),
    };
    if let Some(g) = gap {
        let mut reason = Reason::new(Code::NoConsent, g.detail());
        if let ConsentGap::StateEbr(rule) = g {
            reason.rule_id = Some(rule.id.as_str());
            reason.citation = Some(rule.citation.as_str());
        }
        reasons.push(reason);
    }

    if f.suppressed {
        reasons.push(Reason::new(
            Code::Suppressed,
            "the number is on the organization's suppression list",
        ));
    }

    // DNC. Applied to every purpose (the registries bind telephone
    // solicitations; the stricter reading also denies informational calls).
    dnc_reasons(&f.dnc, &mut reasons);

    if let Some(max) = f.campaign.max_attempts_per_lead
        && f.lead_attempts >= max
    {
        reasons.push(Reason::new(
            Code::MaxAttempts,
            format!(
                "the campaign allows {max} attempts per lead; {} made",
                f.lead_attempts
            ),
        ));
    }

    // Time: hours, then caps.
    let mut req = HoursRequest::new(f.candidates, channel, at);
    req.campaign_window = f.campaign.window;
    req.safety_margin_minutes = f.safety_margin_minutes;
    // Only time reasons follow: search the hours' next opening now, in the
    // same evaluation, unless some other reason already rules time out.
    req.find_next_allowed = reasons.is_empty();
    let hours = rules.check_hours(&req);
    hours_reasons(rules, &hours, &mut reasons);
    let caps = rules.check_frequency_caps(f.candidates.states, channel, at, f.number_attempts);
    cap_reasons(rules, &caps, f, at, &mut reasons);

    let allowed = reasons.is_empty();
    let next_allowed = if !allowed && reasons.iter().all(|r| r.code.is_time_only()) {
        next_allowed(rules, f, req, &hours)
    } else {
        None
    };

    let mut list_versions = Vec::new();
    for (list, v) in [
        ("dnc_national", f.dnc.national_version),
        ("dnc_state", f.dnc.state_version),
        ("dnc_litigator", f.dnc.litigator_version),
        ("suppression", f.suppression_version),
    ] {
        if let Some(v) = v {
            list_versions.push(ListVersion {
                list,
                version: v.to_owned(),
            });
        }
    }

    Decision {
        allowed,
        reasons,
        at,
        candidate_zones: f
            .candidates
            .zones
            .iter()
            .map(|z| rules.zone_name(z))
            .collect(),
        candidate_states: f.candidates.states.iter().map(|s| s.code()).collect(),
        rules_version: rules.version(),
        rules_applied: hours
            .rules_applied
            .iter()
            .map(|id| rules.hours_rule(id).id.as_str())
            .collect(),
        list_versions,
        next_allowed,
    }
}

/// The do-not-call reasons alone (internal list and registries), as
/// [`decide`] gives them: what a lead's intake check shows.
pub fn dnc_check(d: &DncFacts<'_>) -> Vec<Reason> {
    let mut out = Vec::new();
    dnc_reasons(d, &mut out);
    out
}

fn dnc_reasons(d: &DncFacts<'_>, out: &mut Vec<Reason>) {
    for (status, version, listed, label) in [
        (
            d.national,
            d.national_version,
            Code::DncNational,
            "national",
        ),
        (d.state, d.state_version, Code::DncState, "state"),
    ] {
        // The list and version that answered, so the reason names them.
        let from = version.map(|v| format!(" ({v})")).unwrap_or_default();
        match status {
            ListStatus::Clear => {}
            ListStatus::Listed => out.push(Reason::new(
                listed,
                format!("the number is on a {label} do-not-call registry{from}"),
            )),
            // The acknowledgment covers running without DNC data, never
            // relying on data that is too old: stale always denies.
            ListStatus::Stale => out.push(Reason::new(
                Code::DncRegistryStale,
                format!("the {label} do-not-call data is out of date or misses this area code{from}"),
            )),
            ListStatus::Unavailable => out.push(Reason::new(
                Code::DncProviderDown,
                format!(
                    "the {label} do-not-call source is unavailable: dialing that needs it is paused until it is healthy again"
                ),
            )),
            ListStatus::NotConfigured if d.provider_absence_acknowledged => {}
            ListStatus::NotConfigured => out.push(Reason::new(
                Code::DncRegistryStale,
                format!(
                    "no {label} do-not-call registry is configured and the organization has not acknowledged running without one"
                ),
            )),
        }
    }
    if d.internal_listed {
        out.push(Reason::new(
            Code::DncInternal,
            "the number is on the organization's internal do-not-call list",
        ));
    }
    // Not a registry: nothing obliges asking, so "not asked" denies nothing;
    // once asked, its answer is held to the same fail-closed rules.
    let from = d
        .litigator_version
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    match d.litigator {
        ListStatus::Clear | ListStatus::NotConfigured => {}
        ListStatus::Listed => out.push(Reason::new(
            Code::DncLitigator,
            format!("the number belongs to a known TCPA litigator{from}"),
        )),
        ListStatus::Stale => out.push(Reason::new(
            Code::DncRegistryStale,
            format!("the litigator data is out of date{from}"),
        )),
        ListStatus::Unavailable => out.push(Reason::new(
            Code::DncProviderDown,
            "the litigator check is unavailable: dialing that needs it is paused until it is healthy again",
        )),
    }
}

fn hours_reasons(rules: &'static Rules, h: &tollgate_rules::HoursDecision, out: &mut Vec<Reason>) {
    use tollgate_rules::HoursReason;
    if h.reasons.contains(HoursReason::UnknownTimezone) {
        out.push(Reason::new(
            Code::UnknownTimezone,
            "the lead cannot be placed in a known time zone (unknown area code, ZIP or state)",
        ));
    }
    for id in h.rules_denying.iter() {
        let rule = rules.hours_rule(id);
        let (code, detail) = match rule.window {
            None => (Code::RestrictedDay, "no calls on this day under this rule"),
            Some(_) => (
                Code::OutsideHours,
                "outside this rule's calling window in at least one candidate zone",
            ),
        };
        out.push(Reason {
            code,
            detail: Cow::Borrowed(detail),
            rule_id: Some(rule.id.as_str()),
            citation: Some(rule.citation.as_str()),
        });
    }
    if h.campaign_window_denied {
        out.push(Reason::new(
            Code::OutsideHours,
            "outside the campaign's calling window in at least one candidate zone",
        ));
    }
}

fn cap_reasons(
    rules: &'static Rules,
    caps: &CapCheck,
    f: &Facts<'_>,
    at: Timestamp,
    out: &mut Vec<Reason>,
) {
    for &i in &caps.exceeded {
        let rule = &rules.frequency_caps()[i];
        out.push(Reason {
            code: Code::FrequencyCap,
            detail: Cow::Owned(format!(
                "{} attempts to this number within {} hours reached ({})",
                rule.cap.max_attempts,
                rule.cap.window.as_hours(),
                rule.jurisdiction
            )),
            rule_id: Some(rule.id.as_str()),
            citation: Some(rule.citation.as_str()),
        });
    }
    for cap in f.campaign.caps {
        if cap.blocked_until(at, f.number_attempts).is_some() {
            out.push(Reason::new(
                Code::FrequencyCap,
                format!(
                    "the campaign's cap of {} attempts per {} hours is reached",
                    cap.max_attempts,
                    cap.window.as_hours()
                ),
            ));
        }
    }
}

/// The first instant at which hours and every cap allow the dial. Hours and
/// caps each know their own next instant; jumping to the later of the two
/// and checking again never skips an allowed instant, because neither can
/// allow anything before its own answer.
fn next_allowed(
    rules: &'static Rules,
    f: &Facts<'_>,
    mut req: HoursRequest<'_>,
    first: &tollgate_rules::HoursDecision,
) -> Option<Timestamp> {
    req.find_next_allowed = true;
    let channel = req.channel;
    let at = req.at;
    let mut t = at;
    for round in 0..NEXT_ALLOWED_ROUNDS {
        let hours_ok_at = if round == 0 {
            if first.allowed {
                t
            } else {
                first.next_allowed?
            }
        } else {
            req.at = t;
            let h = rules.check_hours(&req);
            if h.allowed { t } else { h.next_allowed? }
        };
        let state = rules.check_frequency_caps(f.candidates.states, channel, t, f.number_attempts);
        let mut caps_ok_at = state.retry_at.unwrap_or(t);
        for cap in f.campaign.caps {
            if let Some(u) = cap.blocked_until(t, f.number_attempts) {
                caps_ok_at = caps_ok_at.max(u);
            }
        }
        let candidate = hours_ok_at.max(caps_ok_at);
        if candidate == t {
            return (t != at).then_some(t);
        }
        t = candidate;
    }
    None
}
