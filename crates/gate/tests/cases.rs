//! The table of dial-gate cases. Each case cites what it exercises: a row of
//! `rules/*.csv` (by id) or a rule from `shared/research/us-calling-rules.md`,
//! and states the expected codes and next allowed instant. Local times are
//! worked out in the comments.

mod common;

use common::*;
use jiff::SignedDuration;
use tollgate_gate::{
    ConsentEvidence, ConsentType, DialChannel, EbrKind, Facts, ListStatus, Purpose, VoiceType,
    decide,
};
use tollgate_rules::{RollingCap, WeeklyWindow, rules};

struct Case {
    cites: &'static str,
    at: &'static str,
    codes: &'static [&'static str],
    next: Option<&'static str>,
    /// A hours/caps row id that must appear on a reason.
    rule: Option<&'static str>,
}

fn check(case: Case, f: &Facts<'_>) {
    let d = decide(rules(), f, ts(case.at));
    let mut got: Vec<&str> = d.codes().collect();
    got.sort_unstable();
    got.dedup();
    let mut want = case.codes.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "{}: reasons {:#?}", case.cites, d.reasons);
    assert_eq!(d.allowed, case.codes.is_empty(), "{}", case.cites);
    assert_eq!(
        d.next_allowed.map(|t| t.to_string()),
        case.next.map(str::to_owned),
        "{}: next allowed",
        case.cites
    );
    if let Some(rule) = case.rule {
        assert!(
            d.reasons
                .iter()
                .any(|r| r.rule_id == Some(rule) && r.citation.is_some()),
            "{}: no reason cites {rule}: {:#?}",
            case.cites,
            d.reasons
        );
    }
    assert_eq!(d.rules_version, rules().version());
}

const NY: (Option<&str>, Option<&str>, Option<&str>) = (Some("212"), None, None);

#[test]
fn federal_window_us_hours() {
    let c = written_consent();
    let f = facts(&c, candidates(NY.0, NY.1, NY.2));
    // Tue 2026-11-24 10:00 EST.
    check(
        Case {
            cites: "US-HOURS",
            at: "2026-11-24T15:00:00Z",
            codes: &[],
            next: None,
            rule: None,
        },
        &f,
    );
    // 21:30 EST: after 21:00; next is Wed 08:00 EST.
    check(
        Case {
            cites: "US-HOURS",
            at: "2026-11-25T02:30:00Z",
            codes: &["outside_hours"],
            next: Some("2026-11-25T13:00:00Z"),
            rule: Some("US-HOURS"),
        },
        &f,
    );
}

#[test]
fn split_zone_area_code_fl_hours() {
    // 850 reaches Central and Eastern; FL-HOURS ends 20:00 in each.
    // 2026-11-25T01:30Z = 20:30 EST, 19:30 CST: Eastern half is closed.
    let c = written_consent();
    let f = facts(&c, candidates(Some("850"), None, None));
    check(
        Case {
            cites: "FL-HOURS",
            at: "2026-11-25T01:30:00Z",
            codes: &["outside_hours"],
            next: Some("2026-11-25T14:00:00Z"), // 08:00 CST (09:00 EST)
            rule: Some("FL-HOURS"),
        },
        &f,
    );
}

#[test]
fn sunday_ban_ut_sunday() {
    let c = written_consent();
    let f = facts(&c, candidates(Some("801"), None, None));
    // Sun 2026-11-29 11:00 MST; next Mon 08:00 MST.
    check(
        Case {
            cites: "UT-SUNDAY",
            at: "2026-11-29T18:00:00Z",
            codes: &["restricted_day"],
            next: Some("2026-11-30T15:00:00Z"),
            rule: Some("UT-SUNDAY"),
        },
        &f,
    );
}

#[test]
fn state_cap_fl_cap_and_its_next_instant() {
    let c = written_consent();
    let three = [
        ts("2026-11-24T13:00:00Z"),
        ts("2026-11-24T14:00:00Z"),
        ts("2026-11-24T15:00:00Z"),
    ];
    let mut f = facts(&c, candidates(Some("305"), None, None));
    f.number_attempts = &three;
    // Tue 11:00 EST: a fourth attempt within 24 h; the first ages out Wed 08:00 EST.
    check(
        Case {
            cites: "FL-CAP",
            at: "2026-11-24T16:00:00Z",
            codes: &["frequency_cap"],
            next: Some("2026-11-25T13:00:00Z"),
            rule: Some("FL-CAP"),
        },
        &f,
    );
    // Attempts at 20:30-20:50 EST Mon... cap lifts Tue 20:30 EST, when
    // FL-HOURS is closed: the joint search lands on Wed 08:00 EST.
    let late = [
        ts("2026-11-24T01:30:00Z"),
        ts("2026-11-24T01:40:00Z"),
        ts("2026-11-24T01:50:00Z"),
    ];
    f.number_attempts = &late;
    check(
        Case {
            cites: "FL-CAP + FL-HOURS",
            at: "2026-11-24T15:00:00Z",
            codes: &["frequency_cap"],
            next: Some("2026-11-25T13:00:00Z"),
            rule: Some("FL-CAP"),
        },
        &f,
    );
}

#[test]
fn ai_voice_needs_prior_express_written_consent_fcc_24_17() {
    // Research §1.5: AI voices are artificial voices (FCC 24-17); telemarketing
    // needs prior express written consent; an EBR never covers them.
    let pec = ConsentEvidence {
        kind: Some(ConsentType::PriorExpress),
        ..written_consent()
    };
    let mut f = facts(&pec, candidates(NY.0, NY.1, NY.2));
    f.campaign.voice = VoiceType::Ai;
    let at = "2026-11-24T15:00:00Z";
    check(
        Case {
            cites: "FCC 24-17 (PEC, AI, telemarketing)",
            at,
            codes: &["no_consent"],
            next: None,
            rule: None,
        },
        &f,
    );
    f.campaign.purpose = Purpose::Informational;
    check(
        Case {
            cites: "FCC 24-17 (PEC, AI, informational)",
            at,
            codes: &[],
            next: None,
            rule: None,
        },
        &f,
    );

    let ebr = ConsentEvidence {
        kind: Some(ConsentType::EstablishedBusinessRelationship),
        ebr_date: Some(ts("2026-10-01T00:00:00Z")),
        ebr_kind: Some(EbrKind::Transaction),
        ..written_consent()
    };
    let mut f = facts(&ebr, candidates(NY.0, NY.1, NY.2));
    check(
        Case {
            cites: "47 CFR 64.1200(f)(5) (EBR, live)",
            at,
            codes: &[],
            next: None,
            rule: None,
        },
        &f,
    );
    // The same relationship, 14 months old, for a Louisiana number (504):
    // past LA's 6 months though inside the federal 18.
    let la_ebr = ConsentEvidence {
        ebr_date: Some(ts("2025-09-15T00:00:00Z")),
        ..ebr.clone()
    };
    let la = facts(&la_ebr, candidates(Some("504"), None, None));
    check(
        Case {
            cites: "rules/ebr_windows.csv LA-EBR-TRANSACTION (research §1.6)",
            at,
            codes: &["no_consent"],
            next: None,
            rule: Some("LA-EBR-TRANSACTION"),
        },
        &la,
    );
    // Indiana (317) accepts no EBR at all, however fresh.
    let fresh = ConsentEvidence {
        ebr_date: Some(ts("2026-11-01T00:00:00Z")),
        ..ebr.clone()
    };
    check(
        Case {
            cites: "rules/ebr_windows.csv IN-EBR-TRANSACTION (research §1.6)",
            at,
            codes: &["no_consent"],
            next: None,
            rule: Some("IN-EBR-TRANSACTION"),
        },
        &facts(&fresh, candidates(Some("317"), None, None)),
    );
    f.campaign.voice = VoiceType::Ai;
    check(
        Case {
            cites: "FCC 24-17 (EBR, AI)",
            at,
            codes: &["no_consent"],
            next: None,
            rule: None,
        },
        &f,
    );
    f.campaign.voice = VoiceType::Live;
    f.channel = DialChannel::Text;
    f.campaign.channel = DialChannel::Text;
    check(
        Case {
            cites: "research §1.6 (EBR, text)",
            at,
            codes: &["no_consent"],
            next: None,
            rule: None,
        },
        &f,
    );
}

#[test]
fn bare_numbers_and_ineligible_leads_never_dial() {
    let c = written_consent();
    let mut f = facts(&c, candidates(NY.0, NY.1, NY.2));
    f.consent = None;
    let at = "2026-11-24T15:00:00Z";
    check(
        Case {
            cites: "issue 7 §1 (no evidence)",
            at,
            codes: &["no_consent"],
            next: None,
            rule: None,
        },
        &f,
    );
    f.consent = Some(&c);
    f.lead_ineligible = true;
    check(
        Case {
            cites: "issue 7 §1 (ineligible at intake)",
            at,
            codes: &["no_consent"],
            next: None,
            rule: None,
        },
        &f,
    );
}

#[test]
fn every_reason_is_listed_and_time_cannot_clear_them() {
    let c = written_consent();
    let mut f = facts(&c, candidates(NY.0, NY.1, NY.2));
    f.org_paused = true;
    f.campaign.paused = true;
    f.suppressed = true;
    f.consent = None;
    f.dnc.national = ListStatus::Listed;
    f.dnc.state = ListStatus::Unavailable;
    f.dnc.internal_listed = true;
    check(
        Case {
            cites: "issue 7 §5 (every reason)",
            at: "2026-11-25T02:30:00Z", // 21:30 EST
            codes: &[
                "org_paused",
                "campaign_paused",
                "no_consent",
                "suppressed",
                "dnc_national",
                "dnc_provider_down",
                "dnc_internal",
                "outside_hours",
            ],
            next: None,
            rule: Some("US-HOURS"),
        },
        &f,
    );
}

#[test]
fn missing_registry_denies_unless_acknowledged() {
    let c = written_consent();
    let mut f = facts(&c, candidates(NY.0, NY.1, NY.2));
    f.dnc.national = ListStatus::NotConfigured;
    f.dnc.state = ListStatus::NotConfigured;
    let at = "2026-11-24T15:00:00Z";
    check(
        Case {
            cites: "issue 7 §6 (no provider)",
            at,
            codes: &["dnc_registry_stale"],
            next: None,
            rule: None,
        },
        &f,
    );
    f.dnc.provider_absence_acknowledged = true;
    check(
        Case {
            cites: "issue 7 §6 (acknowledged)",
            at,
            codes: &[],
            next: None,
            rule: None,
        },
        &f,
    );
    f.dnc.national = ListStatus::Stale;
    check(
        Case {
            cites: "issue 7 §6 (stale copy)",
            at,
            codes: &["dnc_registry_stale"],
            next: None,
            rule: None,
        },
        &f,
    );
}

#[test]
fn the_litigator_check_denies_only_when_asked_and_fails_closed() {
    let c = written_consent();
    let mut f = facts(&c, candidates(NY.0, NY.1, NY.2));
    let at = "2026-11-24T15:00:00Z";
    let case = |codes: &'static [&'static str]| Case {
        cites: "docs/dnc-provider.md (litigator)",
        at,
        codes,
        next: None,
        rule: None,
    };
    // Not asked (the default): nothing to say.
    f.dnc.litigator = ListStatus::NotConfigured;
    check(case(&[]), &f);
    f.dnc.litigator = ListStatus::Clear;
    f.dnc.litigator_version = Some("litigators 2026-11-23 (provider)");
    check(case(&[]), &f);
    f.dnc.litigator = ListStatus::Listed;
    check(case(&["dnc_litigator"]), &f);
    let d = decide(rules(), &f, ts(at));
    assert!(
        d.reasons[0]
            .detail
            .contains("litigators 2026-11-23 (provider)"),
        "{:?}",
        d.reasons
    );
    assert!(d.list_versions.iter().any(|v| v.list == "dnc_litigator"));
    f.dnc.litigator = ListStatus::Stale;
    check(case(&["dnc_registry_stale"]), &f);
    f.dnc.litigator = ListStatus::Unavailable;
    check(case(&["dnc_provider_down"]), &f);
    // The absence acknowledgment covers missing registries, not a failing
    // check the deployment asked for.
    f.dnc.provider_absence_acknowledged = true;
    check(case(&["dnc_provider_down"]), &f);
}

#[test]
fn unplaceable_leads_deny_unknown_timezone() {
    let c = written_consent();
    // 800 is toll-free: not a geographic area code in rules/area_codes.csv.
    let f = facts(&c, candidates(Some("800"), None, None));
    check(
        Case {
            cites: "area_codes.csv (absent: 800)",
            at: "2026-11-24T15:00:00Z",
            codes: &["unknown_timezone"],
            next: None,
            rule: None,
        },
        &f,
    );
    let f = facts(&c, candidates(None, None, None));
    check(
        Case {
            cites: "ADR 0201 §2 (no zone)",
            at: "2026-11-24T15:00:00Z",
            codes: &["unknown_timezone"],
            next: None,
            rule: None,
        },
        &f,
    );
}

#[test]
fn campaign_window_margin_attempts_and_channel() {
    let c = written_consent();
    let window = WeeklyWindow::CLOSED
        .with_day(jiff::civil::Weekday::Tuesday, 600, 1020)
        .unwrap();
    let mut f = facts(&c, candidates(NY.0, NY.1, NY.2));
    f.campaign.window = Some(&window);
    // Tue 09:30 EST: before the campaign's 10:00.
    check(
        Case {
            cites: "campaign window",
            at: "2026-11-24T14:30:00Z",
            codes: &["outside_hours"],
            next: Some("2026-11-24T15:00:00Z"),
            rule: None,
        },
        &f,
    );
    // The only other window is next Tuesday.
    check(
        Case {
            cites: "campaign window",
            at: "2026-11-24T22:30:00Z",
            codes: &["outside_hours"],
            next: Some("2026-12-01T15:00:00Z"),
            rule: None,
        },
        &f,
    );
    let mut f = facts(&c, candidates(NY.0, NY.1, NY.2));
    f.safety_margin_minutes = 15;
    // 20:50 EST + 15 min margin reaches 21:00.
    check(
        Case {
            cites: "US-HOURS + margin",
            at: "2026-11-25T01:50:00Z",
            codes: &["outside_hours"],
            next: Some("2026-11-25T13:00:00Z"),
            rule: Some("US-HOURS"),
        },
        &f,
    );
    let mut f = facts(&c, candidates(NY.0, NY.1, NY.2));
    f.campaign.max_attempts_per_lead = Some(3);
    f.lead_attempts = 3;
    check(
        Case {
            cites: "campaign max attempts",
            at: "2026-11-24T15:00:00Z",
            codes: &["max_attempts"],
            next: None,
            rule: None,
        },
        &f,
    );
    let mut f = facts(&c, candidates(NY.0, NY.1, NY.2));
    f.channel = DialChannel::Text;
    check(
        Case {
            cites: "campaign channel",
            at: "2026-11-24T15:00:00Z",
            codes: &["channel_mismatch"],
            next: None,
            rule: None,
        },
        &f,
    );
    let cap = [RollingCap {
        max_attempts: 1,
        window: SignedDuration::from_hours(2),
    }];
    let one = [ts("2026-11-24T14:30:00Z")];
    let mut f = facts(&c, candidates(NY.0, NY.1, NY.2));
    f.campaign.caps = &cap;
    f.number_attempts = &one;
    check(
        Case {
            cites: "campaign cap",
            at: "2026-11-24T15:00:00Z",
            codes: &["frequency_cap"],
            next: Some("2026-11-24T16:30:00Z"),
            rule: None,
        },
        &f,
    );
}
