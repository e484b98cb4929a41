//! Property tests on the pure decision, over random instants (many near DST
//! changes) and random leads drawn from the real location tables.
//!
//! * An allowed answer is inside the federal window (08:00-21:00), and the
//!   campaign's window, in every candidate zone, re-derived here with jiff
//!   alone.
//! * Removing a candidate zone never turns a deny into an allow unless the
//!   removed zone itself is denied on its own (the answer never gets more
//!   permissive as evidence grows).
//! * A lead with no zone or unplaceable evidence always denies
//!   `unknown_timezone`, with no next instant.
//! * A next allowed instant, when given, is allowed, and the minute before it is not.

mod common;

use common::*;
use jiff::civil::{Weekday, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use tollgate_gate::{Code, DialChannel, VoiceType, decide};
use tollgate_rules::{
    AreaCode, Candidates, LeadLocation, State, WeeklyWindow, Zip3, ZoneSet, rules,
};

fn instant() -> impl Strategy<Value = Timestamp> {
    let near_dst =
        (2024i16..=2032, any::<bool>(), -2 * 86_400i64..2 * 86_400).prop_map(|(y, spring, off)| {
            let day = if spring {
                date(y, 3, 8)
                    .nth_weekday_of_month(2, Weekday::Sunday)
                    .unwrap()
            } else {
                date(y, 11, 1)
                    .nth_weekday_of_month(1, Weekday::Sunday)
                    .unwrap()
            };
            let base = day.to_zoned(TimeZone::UTC).unwrap().timestamp();
            base.checked_add(SignedDuration::from_secs(off)).unwrap()
        });
    let anywhere =
        (1_704_067_200i64..1_988_150_400).prop_map(|s| Timestamp::from_second(s).unwrap());
    prop_oneof![near_dst, anywhere]
}

fn location() -> impl Strategy<Value = LeadLocation> {
    let r = rules();
    let areas: Vec<u16> = (200..1000)
        .filter(|n| {
            r.area_code(AreaCode::parse(&format!("{n:03}")).unwrap())
                .is_some()
        })
        .collect();
    let zips: Vec<u16> = (0..1000)
        .filter(|n| {
            r.zip3(Zip3::from_zip(&format!("{n:03}00")).unwrap())
                .is_some()
        })
        .collect();
    let states: Vec<State> = State::all().collect();
    (
        proptest::option::of(proptest::sample::select(areas)),
        proptest::option::weighted(0.4, proptest::sample::select(zips)),
        proptest::option::weighted(0.4, proptest::sample::select(states)),
    )
        .prop_map(|(a, z, s)| LeadLocation {
            area_code: a.and_then(|a| AreaCode::parse(&format!("{a:03}"))),
            zip: z.and_then(|z| Zip3::from_zip(&format!("{z:03}00"))),
            state: s,
        })
}

fn window() -> impl Strategy<Value = Option<WeeklyWindow>> {
    proptest::option::of(
        (0u16..1200, 30u16..600, 0u8..128).prop_map(|(s, len, days)| {
            let mut w = WeeklyWindow::CLOSED;
            for i in 0..7 {
                if days & (1 << i) != 0 {
                    let day = Weekday::from_monday_zero_offset(i as i8).unwrap();
                    w = w.with_day(day, s, (s + len).min(1440)).unwrap();
                }
            }
            w
        }),
    )
}

fn voice() -> impl Strategy<Value = (DialChannel, VoiceType)> {
    prop_oneof![
        Just((DialChannel::Voice, VoiceType::Live)),
        Just((DialChannel::Voice, VoiceType::Ai)),
        Just((DialChannel::Text, VoiceType::Live)),
    ]
}

fn minute(t: Timestamp, zone: &str) -> (Weekday, u16) {
    let z = t.to_zoned(TimeZone::get(zone).unwrap());
    (z.weekday(), z.hour() as u16 * 60 + z.minute() as u16)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn allowed_means_inside_every_window_in_every_zone(
        loc in location(), at in instant(), w in window(), (ch, v) in voice(), margin in 0u16..30,
        samples in proptest::collection::vec(0.0f64..1.0, 8),
    ) {
        let c = written_consent();
        let mut f = facts(&c, rules().candidates(&loc));
        f.campaign.window = w.as_ref();
        f.channel = ch;
        f.campaign.channel = ch;
        f.campaign.voice = v;
        f.safety_margin_minutes = margin;
        let d = decide(rules(), &f, at);
        if d.allowed {
            prop_assert!(!d.candidate_zones.is_empty());
            for zone in &d.candidate_zones {
                let (day, m) = minute(at, zone);
                prop_assert!((480..1260).contains(&m) && m + margin < 1260, "{zone} {m}");
                if let Some(w) = &w {
                    let (s, e) = w.day(day).expect("campaign closed that day but allowed");
                    prop_assert!(m >= s && m + margin < e);
                }
            }
        }
        if let Some(next) = d.next_allowed {
            prop_assert!(d.reasons.iter().all(|r| r.code.is_time_only()));
            prop_assert!(next > at);
            prop_assert!(decide(rules(), &f, next).allowed, "next allowed {next} is denied");
            let before = next.checked_sub(SignedDuration::from_mins(1)).unwrap();
            if before > at {
                prop_assert!(!decide(rules(), &f, before).allowed, "{before} already allowed");
            }
            // Random instants before the answer are denied too: the search
            // never jumps over an allowed minute.
            let span = next.as_second() - at.as_second();
            for q in &samples {
                let x = Timestamp::from_second(at.as_second() + (span as f64 * q) as i64).unwrap();
                prop_assert!(x == at || !decide(rules(), &f, x).allowed, "{x} allowed before next {next}");
            }
        }
    }

    #[test]
    fn removing_a_zone_never_wrongly_allows(
        loc in location(), at in instant(), pick in any::<prop::sample::Index>(),
        extra in proptest::collection::vec(any::<prop::sample::Index>(), 1..3),
    ) {
        let c = written_consent();
        let mut full = rules().candidates(&loc);
        // Extra zones (a moved lead, a ported number) so every case has several.
        let all: Vec<_> = rules().all_zones().iter().collect();
        for e in &extra {
            full.zones.insert(all[e.index(all.len())]);
        }
        let zones: Vec<_> = full.zones.iter().collect();
        prop_assume!(zones.len() >= 2);
        let removed = zones[pick.index(zones.len())];
        let mut fewer = full;
        fewer.zones.remove(removed);
        let d_full = decide(rules(), &facts(&c, full), at);
        let d_fewer = decide(rules(), &facts(&c, fewer), at);
        if !d_full.allowed && d_fewer.allowed {
            let mut only = full;
            only.zones = ZoneSet::EMPTY;
            only.zones.insert(removed);
            prop_assert!(!decide(rules(), &facts(&c, only), at).allowed,
                "removing {} allowed, but it allows on its own", rules().zone_name(removed));
        }
        if d_full.allowed {
            prop_assert!(d_fewer.allowed, "a subset of allowed zones denied");
        }
    }

    #[test]
    fn unknown_zone_always_denies(at in instant(), unplaced in any::<bool>(), loc in location()) {
        let c = written_consent();
        let cand = if unplaced {
            Candidates { unplaced_evidence: true, ..rules().candidates(&loc) }
        } else {
            Candidates { zones: ZoneSet::EMPTY, ..rules().candidates(&loc) }
        };
        let d = decide(rules(), &facts(&c, cand), at);
        prop_assert!(!d.allowed);
        prop_assert!(d.has(Code::UnknownTimezone));
        prop_assert_eq!(d.next_allowed, None);
    }
}
