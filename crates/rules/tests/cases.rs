//! The table of cases: each one names the rule row it exercises, and the test
//! checks both the answer and that the named row was applied (and, for a
//! denial, that it is among the rows that denied). Local times are worked out
//! in the comments so a reader can check them against a calendar.

use jiff::civil::Weekday;
use jiff::{SignedDuration, Timestamp};
use tollgate_rules::{
    AreaCode, Channel, HoursRequest, LeadLocation, RollingCap, State, WeeklyWindow, Zip3, rules,
};

struct Case {
    /// The rule row (rules/calling_hours.csv id) this case exercises.
    cites: &'static str,
    area_code: Option<&'static str>,
    state: Option<&'static str>,
    zip: Option<&'static str>,
    channel: Channel,
    at: &'static str,
    allowed: bool,
    reasons: &'static [&'static str],
    next: Option<&'static str>,
}

const LIVE: Channel = Channel::LiveVoice;
const AI: Channel = Channel::ArtificialVoice;
const TEXT: Channel = Channel::Text;

fn case(
    cites: &'static str,
    area: &'static str,
    ch: Channel,
    at: &'static str,
    allowed: bool,
) -> Case {
    Case {
        cites,
        area_code: Some(area),
        state: None,
        zip: None,
        channel: ch,
        at,
        allowed,
        reasons: &[],
        next: None,
    }
}

impl Case {
    fn denied(mut self, reasons: &'static [&'static str], next: Option<&'static str>) -> Case {
        assert!(!self.allowed);
        self.reasons = reasons;
        self.next = next;
        self
    }
    fn state(mut self, s: &'static str) -> Case {
        self.state = Some(s);
        self
    }
    fn zip(mut self, z: &'static str) -> Case {
        self.zip = Some(z);
        self
    }
}

const OUT: &[&str] = &["outside_hours"];
const DAY: &[&str] = &["restricted_day"];

fn table() -> Vec<Case> {
    vec![
        // Federal window, 47 CFR 64.1200(c)(1): San Francisco, Mon 2026-11-23.
        case("US-HOURS", "415", LIVE, "2026-11-24T04:30:00Z", true), // 20:30 PST
        case("US-HOURS", "415", LIVE, "2026-11-24T05:00:00Z", false) // 21:00 PST: end is exclusive
            .denied(OUT, Some("2026-11-24T16:00:00Z")), // Tue 08:00 PST
        // DST: Sat 2026-03-07 22:00 PST; the next 08:00 is Sunday in PDT (UTC-7).
        case("US-HOURS", "415", LIVE, "2026-03-08T06:00:00Z", false)
            .denied(OUT, Some("2026-03-08T15:00:00Z")),
        // DST end: Sat 2026-10-31 23:00 PDT; the next 08:00 is Sunday in PST (UTC-8).
        case("US-HOURS", "415", LIVE, "2026-11-01T06:00:00Z", false)
            .denied(OUT, Some("2026-11-01T16:00:00Z")),
        // Florida 8 p.m., Fla. Stat. 501.616(6)(a): Miami 19:30 / 20:30 EST.
        case("FL-HOURS", "305", LIVE, "2026-11-24T00:30:00Z", true),
        case("FL-HOURS", "305", LIVE, "2026-11-24T01:30:00Z", false)
            .denied(OUT, Some("2026-11-24T13:00:00Z")),
        // FL-HOURS applies to texts too.
        case("FL-HOURS", "305", TEXT, "2026-11-24T01:30:00Z", false)
            .denied(OUT, Some("2026-11-24T13:00:00Z")),
        // Split 850 (Eastern and Central Florida): 19:45 EST / 18:45 CST allowed;
        // 20:15 EST denied (the Eastern part is past 8 p.m.).
        case("FL-HOURS", "850", LIVE, "2026-11-24T00:45:00Z", true),
        case("FL-HOURS", "850", LIVE, "2026-11-24T01:15:00Z", false)
            .denied(OUT, Some("2026-11-24T14:00:00Z")),
        // ...and in the morning 08:30 EST is 07:30 CST: wait for 08:00 CST.
        case("FL-HOURS", "850", LIVE, "2026-11-23T13:30:00Z", false)
            .denied(OUT, Some("2026-11-23T14:00:00Z")),
        // Split 270 (Kentucky, Eastern and Central) with KY's unverified 10:00 start:
        // 10:30 EST = 09:30 CST denied, open at 10:00 CST.
        case("KY-HOURS", "270", LIVE, "2026-11-23T15:30:00Z", false)
            .denied(OUT, Some("2026-11-23T16:00:00Z")),
        // 906 (Michigan's UP, Eastern and Central) with MI's unverified 09:00 start.
        case("MI-HOURS", "906", LIVE, "2026-11-23T14:30:00Z", false)
            .denied(OUT, Some("2026-11-23T15:00:00Z")),
        // 928 in July: Phoenix (MST all year) and the Navajo Nation (MDT).
        // 14:30Z = 07:30 MST / 08:30 MDT denied; 15:00Z = 08:00 MST allowed.
        case("US-HOURS", "928", LIVE, "2026-07-15T14:30:00Z", false)
            .denied(OUT, Some("2026-07-15T15:00:00Z")),
        case("US-HOURS", "928", LIVE, "2026-07-15T15:00:00Z", true),
        // 03:00Z = 20:00 MST but 21:00 MDT: the Navajo part is closed.
        case("US-HOURS", "928", LIVE, "2026-07-16T03:00:00Z", false)
            .denied(OUT, Some("2026-07-16T15:00:00Z")),
        // 907: one area code for all of Alaska, Aleutians (UTC-10) included.
        // 17:30Z = 08:30 AKST but 07:30 HST in Adak.
        case("US-HOURS", "907", LIVE, "2026-01-12T17:30:00Z", false)
            .denied(OUT, Some("2026-01-12T18:00:00Z")),
        // Mississippi "Central Standard Time", read literally: in July 08:30 CDT
        // is 07:30 CST, so denied until 09:00 CDT (08:00 CST).
        case("MS-HOURS-CST", "601", LIVE, "2026-07-15T13:30:00Z", false)
            .denied(OUT, Some("2026-07-15T14:00:00Z")),
        // ...and read as local time: 20:00 CDT (19:00 CST) is denied by the local reading.
        case("MS-HOURS-LOCAL", "601", LIVE, "2026-07-16T01:00:00Z", false)
            .denied(OUT, Some("2026-07-16T14:00:00Z")),
        case("MS-HOURS-LOCAL", "601", LIVE, "2026-07-16T00:30:00Z", true), // 19:30 CDT
        // In winter both readings agree: 08:00 CST is open.
        case("MS-HOURS-CST", "601", LIVE, "2026-01-13T14:00:00Z", true),
        // Mississippi Sunday ban (Sun 2026-07-19 10:00 CDT); open Monday 09:00 CDT.
        case("MS-SUNDAY", "601", LIVE, "2026-07-19T15:00:00Z", false)
            .denied(DAY, Some("2026-07-20T14:00:00Z")),
        // Texas: Sunday only from noon (Sun 2026-11-22 11:30 CST).
        case(
            "TX-HOURS-SUNDAY",
            "214",
            LIVE,
            "2026-11-22T17:30:00Z",
            false,
        )
        .denied(OUT, Some("2026-11-22T18:00:00Z")),
        case("TX-HOURS", "214", LIVE, "2026-11-23T14:30:00Z", false)
            .denied(OUT, Some("2026-11-23T15:00:00Z")),
        // Texas texts: the Sunday-noon rule covers texts only from 2025-09-01 (SB 140).
        case("US-HOURS", "214", TEXT, "2025-08-31T16:00:00Z", true), // Sun 11:00 CDT
        case("TX-TEXT-SUNDAY", "214", TEXT, "2025-09-07T16:00:00Z", false)
            .denied(OUT, Some("2025-09-07T17:00:00Z")),
        // Rhode Island Saturday 10-17 (Sat 2026-11-21): 09:30 denied, 10:30 allowed, 17:00 denied.
        case(
            "RI-HOURS-SATURDAY",
            "401",
            LIVE,
            "2026-11-21T14:30:00Z",
            false,
        )
        .denied(OUT, Some("2026-11-21T15:00:00Z")),
        case(
            "RI-HOURS-SATURDAY",
            "401",
            LIVE,
            "2026-11-21T15:30:00Z",
            true,
        ),
        // 17:00 Saturday: closed until Monday 09:00 (Sunday is banned).
        case(
            "RI-HOURS-SATURDAY",
            "401",
            LIVE,
            "2026-11-21T22:00:00Z",
            false,
        )
        .denied(OUT, Some("2026-11-23T14:00:00Z")),
        case("RI-SUNDAY", "401", LIVE, "2026-11-22T17:00:00Z", false)
            .denied(DAY, Some("2026-11-23T14:00:00Z")),
        // Rhode Island weekday 09-18.
        case(
            "RI-HOURS-WEEKDAY",
            "401",
            LIVE,
            "2026-11-23T23:30:00Z",
            false,
        )
        .denied(OUT, Some("2026-11-24T14:00:00Z")),
        // Utah: Pioneer Day, Fri 2026-07-24 12:00 MDT; open Sat 08:00 MDT.
        case("UT-HOLIDAY", "801", LIVE, "2026-07-24T18:00:00Z", false)
            .denied(DAY, Some("2026-07-25T14:00:00Z")),
        // Pennsylvania: Thanksgiving (fourth Thursday, 2026-11-26) and Good Friday (2026-04-03).
        case("PA-HOLIDAY", "215", LIVE, "2026-11-26T17:00:00Z", false)
            .denied(DAY, Some("2026-11-27T13:00:00Z")),
        case("PA-HOLIDAY", "215", LIVE, "2026-04-03T16:00:00Z", false)
            .denied(DAY, Some("2026-04-04T12:00:00Z")),
        case("PA-HOURS", "215", LIVE, "2026-11-27T17:00:00Z", true),
        // Louisiana: Mardi Gras (Tue 2026-02-17), and Sunday.
        case("LA-HOLIDAY", "504", LIVE, "2026-02-17T18:00:00Z", false)
            .denied(DAY, Some("2026-02-18T14:00:00Z")),
        // Sunday 2026-02-15; Monday is Washington's Birthday and Tuesday Mardi Gras (LA-HOLIDAY):
        // the next open day is Wednesday.
        case("LA-SUNDAY", "504", LIVE, "2026-02-15T18:00:00Z", false)
            .denied(DAY, Some("2026-02-18T14:00:00Z")),
        // Alabama: Sunday, and the 20:00 end (Mon 20:30 CST).
        case("AL-SUNDAY", "205", LIVE, "2026-11-22T18:00:00Z", false)
            .denied(DAY, Some("2026-11-23T14:00:00Z")),
        case("AL-HOURS", "205", LIVE, "2026-11-24T02:30:00Z", false)
            .denied(OUT, Some("2026-11-24T14:00:00Z")),
        // Connecticut 9:00 start from 2023-10-01 (P.A. 23-98): Fri 2023-09-29 08:30 EDT allowed,
        // Mon 2023-10-02 08:30 EDT denied.
        case("US-HOURS", "203", LIVE, "2023-09-29T12:30:00Z", true),
        case("CT-HOURS", "203", LIVE, "2023-10-02T12:30:00Z", false)
            .denied(OUT, Some("2023-10-02T13:00:00Z")),
        // Channel scope: South Carolina automated calls end at 19:00; live calls do not.
        case("SC-AUTOMATED", "803", AI, "2026-11-24T00:30:00Z", false)
            .denied(OUT, Some("2026-11-24T13:00:00Z")),
        case("SC-HOURS", "803", LIVE, "2026-11-24T00:30:00Z", true),
        // South Dakota automated calls: weekdays only (Sat 2026-11-21 12:00 CST).
        case(
            "SD-AUTOMATED-WEEKEND",
            "605",
            AI,
            "2026-11-21T18:00:00Z",
            false,
        )
        .denied(DAY, Some("2026-11-23T16:00:00Z")), // Mon 09:00 MST (the Denver part)
        // Oklahoma automated (dial-announcing) calls start at 9:00, live calls at 8:00 (Mon 08:30 CST).
        case("OK-AUTOMATED", "405", AI, "2026-11-23T14:30:00Z", false)
            .denied(OUT, Some("2026-11-23T15:00:00Z")),
        case("OK-HOURS", "405", LIVE, "2026-11-23T14:30:00Z", true),
        // Maine automated calls: weekdays 09-17.
        case("ME-AUTOMATED", "207", AI, "2026-11-23T22:30:00Z", false)
            .denied(OUT, Some("2026-11-24T14:00:00Z")),
        case("US-HOURS", "207", LIVE, "2026-11-23T22:30:00Z", true),
        // Nebraska prerecorded calls on Sunday from 13:00; 402 reaches Mountain time too.
        case("NE-PRERECORDED", "402", AI, "2026-11-22T19:30:00Z", false)
            .denied(OUT, Some("2026-11-22T20:00:00Z")),
        // Candidate states: a New York number whose address is in Florida gets Florida's 8 p.m.
        case("FL-HOURS", "212", LIVE, "2026-11-24T01:30:00Z", false)
            .state("FL")
            .denied(OUT, Some("2026-11-24T14:00:00Z")),
        // ZIP evidence: a New York number with a Pensacola ZIP adds Central time.
        case("FL-HOURS", "212", LIVE, "2026-11-23T13:30:00Z", false)
            .zip("32501")
            .denied(OUT, Some("2026-11-23T14:00:00Z")),
    ]
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn every_case_gets_its_expected_answer_and_uses_the_cited_row() {
    let r = rules();
    let mut failures = Vec::new();
    for (i, c) in table().iter().enumerate() {
        let lead = LeadLocation {
            area_code: c.area_code.map(|a| AreaCode::parse(a).unwrap()),
            state: c.state.map(|s| State::parse(s).unwrap()),
            zip: c.zip.map(|z| Zip3::from_zip(z).unwrap()),
        };
        let d = r.check_hours(&HoursRequest::new(r.candidates(&lead), c.channel, ts(c.at)));
        assert!(
            r.hours_rules().iter().any(|x| x.id == c.cites),
            "case {i} cites a missing row"
        );
        let cited = d
            .rules_applied
            .iter()
            .find(|id| r.hours_rule(*id).id == c.cites);
        let reasons: Vec<_> = d.reason_codes().collect();
        let ok = d.allowed == c.allowed
            && (c.allowed || reasons == c.reasons)
            && d.next_allowed == c.next.map(ts)
            && cited.is_some()
            && (c.allowed
                || c.cites == "US-HOURS"
                || cited.is_some_and(|id| d.rules_denying.contains(id)));
        if !ok {
            let denying: Vec<_> = d
                .rules_denying
                .iter()
                .map(|id| r.hours_rule(id).id.clone())
                .collect();
            failures.push(format!(
                "case {i} ({} at {}): allowed={} reasons={reasons:?} next={:?} denying={denying:?} cited_applied={}",
                c.cites,
                c.at,
                d.allowed,
                d.next_allowed.map(|t| t.to_string()),
                cited.is_some()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_location_denies_without_a_next_instant() {
    let r = rules();
    let at = ts("2026-11-23T18:00:00Z");
    let toll_free = LeadLocation {
        area_code: AreaCode::parse("800"),
        ..Default::default()
    };
    let unknown_zip = LeadLocation {
        area_code: AreaCode::parse("212"),
        zip: Zip3::from_zip("00000"),
        ..Default::default()
    };
    for lead in [LeadLocation::default(), toll_free, unknown_zip] {
        let d = r.check_hours(&HoursRequest::new(r.candidates(&lead), LIVE, at));
        assert!(!d.allowed, "{lead:?}");
        assert!(
            d.reason_codes().any(|c| c == "unknown_timezone"),
            "{lead:?}"
        );
        assert_eq!(d.next_allowed, None);
    }
}

#[test]
fn campaign_window_and_safety_margin() {
    let r = rules();
    let lead = r.candidates(&LeadLocation {
        area_code: AreaCode::parse("415"),
        ..Default::default()
    });
    // Weekdays 10:00-17:00 local.
    let mut w = WeeklyWindow::CLOSED;
    for d in [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ] {
        w = w.with_day(d, 600, 1020).unwrap();
    }
    // Saturday 2026-11-21 12:00 PST: the law allows it, the campaign does not.
    let mut req = HoursRequest::new(lead, LIVE, ts("2026-11-21T20:00:00Z"));
    req.campaign_window = Some(&w);
    let d = r.check_hours(&req);
    assert!(!d.allowed && d.campaign_window_denied);
    assert!(d.rules_denying.is_empty(), "no legal row denied");
    assert_eq!(d.next_allowed, Some(ts("2026-11-23T18:00:00Z"))); // Monday 10:00 PST
    // Safety margin: Florida closes at 20:00; at 19:50 EST a 15-minute margin denies.
    let fl = r.candidates(&LeadLocation {
        area_code: AreaCode::parse("305"),
        ..Default::default()
    });
    let mut req = HoursRequest::new(fl, LIVE, ts("2026-11-24T00:50:00Z"));
    assert!(r.check_hours(&req).allowed);
    req.safety_margin_minutes = 15;
    let d = r.check_hours(&req);
    assert!(!d.allowed);
    assert_eq!(d.next_allowed, Some(ts("2026-11-24T13:00:00Z")));
}

#[test]
fn decision_reports_version_candidates_and_citations() {
    let r = rules();
    let lead = LeadLocation {
        area_code: AreaCode::parse("850"),
        state: State::parse("AL"),
        zip: None,
    };
    let c = r.candidates(&lead);
    let states: Vec<_> = c.states.iter().map(State::code).collect();
    assert_eq!(states, ["AL", "FL"]);
    let zones: Vec<_> = c.zones.iter().map(|z| r.zone_name(z)).collect();
    assert!(zones.contains(&"America/Chicago") && zones.contains(&"America/New_York"));
    let d = r.check_hours(&HoursRequest::new(c, LIVE, ts("2026-11-22T18:00:00Z"))); // Sunday
    assert_eq!(d.rules_version, tollgate_rules::RULES_VERSION.trim());
    let citations: Vec<_> = d
        .rules_denying
        .iter()
        .map(|id| r.hours_rule(id).citation.as_str())
        .collect();
    assert_eq!(citations, ["Ala. Admin. Code r. 770-X-5-.17(1)(b)"]);
}

#[test]
fn frequency_caps_per_state() {
    let r = rules();
    let fl = State::parse("FL").unwrap();
    let ny = State::parse("NY").unwrap();
    let md = State::parse("MD").unwrap();
    let me = State::parse("ME").unwrap();
    let earlier = [
        ts("2026-03-02T14:00:00Z"),
        ts("2026-03-02T16:00:00Z"),
        ts("2026-03-02T18:00:00Z"),
    ];
    let at = ts("2026-03-02T20:00:00Z");
    // FL-CAP (Fla. Stat. 501.616(6)(b)): a fourth attempt within 24 h is refused.
    let check = r.check_frequency_caps([fl].into_iter().collect(), LIVE, at, &earlier);
    assert!(check.is_exceeded());
    assert_eq!(r.frequency_caps()[check.exceeded[0]].id, "FL-CAP");
    assert_eq!(check.retry_at, Some(ts("2026-03-03T14:00:00Z")));
    // The third one was fine.
    assert!(
        !r.check_frequency_caps([fl].into_iter().collect(), LIVE, at, &earlier[..2])
            .is_exceeded()
    );
    // New York has no cap; a lead that might be in FL or NY gets FL's.
    assert!(
        !r.check_frequency_caps([ny].into_iter().collect(), LIVE, at, &earlier)
            .is_exceeded()
    );
    assert!(
        r.check_frequency_caps([ny, fl].into_iter().collect(), LIVE, at, &earlier)
            .is_exceeded()
    );
    // MD-CAP is in force only from 2024-01-01.
    let old = [
        ts("2023-12-01T14:00:00Z"),
        ts("2023-12-01T15:00:00Z"),
        ts("2023-12-01T16:00:00Z"),
    ];
    let mdset = [md].into_iter().collect();
    assert!(
        !r.check_frequency_caps(mdset, TEXT, ts("2023-12-01T17:00:00Z"), &old)
            .is_exceeded()
    );
    // ME-AUTOMATED-CAP: one automated call per 8 h; live calls are not capped.
    let one = [ts("2026-03-02T14:00:00Z")];
    let meset = [me].into_iter().collect();
    let c = r.check_frequency_caps(meset, AI, ts("2026-03-02T20:00:00Z"), &one);
    assert_eq!(r.frequency_caps()[c.exceeded[0]].id, "ME-AUTOMATED-CAP");
    assert_eq!(c.retry_at, Some(ts("2026-03-02T22:00:00Z")));
    assert!(
        !r.check_frequency_caps(meset, LIVE, ts("2026-03-02T20:00:00Z"), &one)
            .is_exceeded()
    );
    // The primitive, for campaign caps.
    let cap = RollingCap {
        max_attempts: 2,
        window: SignedDuration::from_hours(1),
    };
    assert!(cap.blocked_until(at, &earlier).is_none());
}
