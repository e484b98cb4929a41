//! Shared builders for the gate's tests: a "clean" dial (written consent,
//! DNC clear, nothing paused) that each test then spoils in one way.

#![allow(dead_code)]

use jiff::Timestamp;
use tollgate_gate::{
    CampaignFacts, ConsentEvidence, ConsentType, DialChannel, DncFacts, Facts, ListStatus, Purpose,
    VoiceType,
};
use tollgate_rules::{AreaCode, Candidates, LeadLocation, State, Zip3, rules};

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub fn written_consent() -> ConsentEvidence {
    ConsentEvidence {
        kind: Some(ConsentType::PriorExpressWritten),
        given_at: Some(ts("2026-01-05T12:00:00Z")),
        source: Some("https://example.test/form/7".into()),
        ip: Some("192.0.2.10".into()),
        text_version: Some("tcpa-v3".into()),
        captured_by: Some("web form".into()),
        ..Default::default()
    }
}

pub fn campaign() -> CampaignFacts<'static> {
    CampaignFacts {
        paused: false,
        purpose: Purpose::Telemarketing,
        channel: DialChannel::Voice,
        voice: VoiceType::Live,
        window: None,
        max_attempts_per_lead: None,
        caps: &[],
    }
}

pub fn clear_dnc() -> DncFacts<'static> {
    DncFacts {
        national: ListStatus::Clear,
        national_version: Some("2026-11-20"),
        state: ListStatus::Clear,
        state_version: Some("2026-11-20"),
        internal_listed: false,
        litigator: ListStatus::NotConfigured,
        litigator_version: None,
        provider_absence_acknowledged: false,
    }
}

pub fn candidates(area: Option<&str>, state: Option<&str>, zip: Option<&str>) -> Candidates {
    rules().candidates(&LeadLocation {
        area_code: area.and_then(AreaCode::parse),
        state: state.and_then(State::parse),
        zip: zip.and_then(Zip3::from_zip),
    })
}

pub fn facts<'a>(consent: &'a ConsentEvidence, c: Candidates) -> Facts<'a> {
    Facts {
        channel: DialChannel::Voice,
        org_paused: false,
        campaign: campaign(),
        consent: Some(consent),
        lead_ineligible: false,
        candidates: c,
        suppressed: false,
        suppression_version: Some("1"),
        dnc: clear_dnc(),
        number_attempts: &[],
        lead_attempts: 0,
        safety_margin_minutes: 0,
    }
}
