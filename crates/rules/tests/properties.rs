//! Property tests on the pure calling-hours decision.
//!
//! Instants are drawn around DST changes (the second Sunday of March and the
//! first Sunday of November, 2024-2032) as well as uniformly; leads are drawn
//! from the real tables (area code, ZIP prefix, declared state) plus random
//! extra zones and states. The checker below re-derives "inside every window
//! in every zone" from the public row data with jiff's `Zoned` API, without
//! the engine's indexes or its fixed-clock cache.

use jiff::civil::{Weekday, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use tollgate_rules::{
    AreaCode, Candidates, Channel, HoursRequest, LeadLocation, Rules, State, StateSet, Zip3,
    ZoneSet, rules,
};

fn channel() -> impl Strategy<Value = Channel> {
    prop_oneof![
        Just(Channel::LiveVoice),
        Just(Channel::ArtificialVoice),
        Just(Channel::Text)
    ]
}

/// An instant near a DST change (either direction) or anywhere in 2020-2035.
fn instant() -> impl Strategy<Value = Timestamp> {
    let near_dst =
        (2024i16..=2032, any::<bool>(), -3 * 86_400i64..3 * 86_400).prop_map(|(y, spring, off)| {
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
        (1_577_836_800i64..2_082_758_400).prop_map(|s| Timestamp::from_second(s).unwrap());
    prop_oneof![near_dst, anywhere]
}

/// A lead from real evidence: any mix of a known area code, a known ZIP3 and a state.
fn lead() -> impl Strategy<Value = LeadLocation> {
    let r = rules();
    let area_codes: Vec<u16> = (0..1000)
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
        proptest::option::weighted(0.9, proptest::sample::select(area_codes)),
        proptest::option::weighted(0.3, proptest::sample::select(zips)),
        proptest::option::weighted(0.3, proptest::sample::select(states)),
    )
        .prop_map(|(a, z, s)| LeadLocation {
            area_code: a.map(|a| AreaCode::parse(&format!("{a:03}")).unwrap()),
            zip: z.map(|z| Zip3::from_zip(&format!("{z:03}00")).unwrap()),
            state: s,
        })
}

/// Extra zones and states to add to a lead (bit masks over the known ones).
fn extras() -> impl Strategy<Value = (u64, u64)> {
    (any::<u64>(), any::<u64>()).prop_map(|(z, s)| {
        (
            z & z.rotate_left(7) & z.rotate_left(19),
            s & s.rotate_left(11) & s.rotate_left(23),
        )
    })
}

fn widen(r: &Rules, c: Candidates, (zmask, smask): (u64, u64)) -> Candidates {
    let mut w = c;
    for (i, z) in r.all_zones().iter().enumerate() {
        if zmask & (1 << i) != 0 {
            w.zones.insert(z);
        }
    }
    for (i, s) in State::all().enumerate() {
        if smask & (1 << i) != 0 {
            w.states.insert(s);
        }
    }
    w
}

/// Independent check: is `t` inside every applicable window in every zone?
fn inside_everywhere(r: &Rules, c: Candidates, ch: Channel, t: Timestamp) -> bool {
    for zone in c.zones.iter() {
        let local = t.to_zoned(TimeZone::get(r.zone_name(zone)).unwrap());
        for rule in r.hours_rules() {
            let applies_to_lead = match rule.jurisdiction {
                None => true,
                Some(s) => c.states.contains(s),
            };
            if !applies_to_lead || !rule.applies_to(ch) {
                continue;
            }
            let clock = if rule.clock_name == "local" {
                local.clone()
            } else {
                t.to_zoned(TimeZone::get(&rule.clock_name).unwrap())
            };
            if !rule.in_force(clock.date()) {
                continue;
            }
            let holiday = rule.on_holidays
                && match rule.jurisdiction {
                    Some(s) => r.holiday_on(s, clock.date()).is_some(),
                    None => false,
                };
            if !rule.applies_on_weekday(clock.weekday()) && !holiday {
                continue;
            }
            let minute = clock.hour() as u16 * 60 + clock.minute() as u16;
            match rule.window {
                None => return false,
                Some((s, e)) if minute < s || minute >= e => return false,
                Some(_) => {}
            }
        }
    }
    !c.zones.is_empty()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn allowed_means_inside_every_window_in_every_zone(lead in lead(), ch in channel(), t in instant()) {
        let r = rules();
        let c = r.candidates(&lead);
        let d = r.check_hours(&HoursRequest::new(c, ch, t));
        prop_assert_eq!(d.allowed, inside_everywhere(r, c, ch, t), "lead {:?} at {}", lead, t);
    }

    #[test]
    fn more_zones_or_states_never_allow_more(lead in lead(), extra in extras(), ch in channel(), t in instant()) {
        let r = rules();
        let narrow = r.candidates(&lead);
        let wide = widen(r, narrow, extra);
        let dn = r.check_hours(&HoursRequest::new(narrow, ch, t));
        let dw = r.check_hours(&HoursRequest::new(wide, ch, t));
        // The one exception is by design: with no zone at all the answer is
        // `unknown_timezone`, so monotonicity is over leads we can place.
        prop_assume!(!narrow.zones.is_empty());
        // Adding zones or states never turns a deny into an allow (equivalently,
        // removing them never turns an allow into a deny).
        prop_assert!(!dw.allowed || dn.allowed, "wide allowed but narrow denied: {:?} -> {:?}", narrow, wide);
        if let (Some(n_narrow), Some(n_wide)) = (dn.next_allowed, dw.next_allowed) {
            prop_assert!(n_narrow <= n_wide);
        }
        if let Some(n_wide) = dw.next_allowed {
            // Where the wide lead may dial, the narrow one may too.
            prop_assert!(r.check_hours(&HoursRequest::new(narrow, ch, n_wide)).allowed);
        }
    }

    #[test]
    fn unknown_zone_always_denies(states in any::<u64>(), ch in channel(), t in instant(), unplaced in any::<bool>(), lead in lead()) {
        let r = rules();
        let mut set = StateSet::EMPTY;
        for (i, s) in State::all().enumerate() {
            if states & (1 << i) != 0 {
                set.insert(s);
            }
        }
        let no_zone = Candidates { zones: ZoneSet::EMPTY, states: set, unplaced_evidence: unplaced };
        let d = r.check_hours(&HoursRequest::new(no_zone, ch, t));
        prop_assert!(!d.allowed);
        prop_assert!(d.reason_codes().any(|c| c == "unknown_timezone"));
        prop_assert_eq!(d.next_allowed, None);
        // Evidence we cannot place denies even when other evidence gives zones.
        let mut c = r.candidates(&lead);
        c.unplaced_evidence = true;
        let d = r.check_hours(&HoursRequest::new(c, ch, t));
        prop_assert!(!d.allowed && d.reason_codes().any(|c| c == "unknown_timezone"));
    }

    #[test]
    fn next_allowed_is_the_first_allowed_minute(lead in lead(), ch in channel(), t in instant(), samples in proptest::collection::vec(0.0f64..1.0, 16)) {
        let r = rules();
        let c = r.candidates(&lead);
        let d = r.check_hours(&HoursRequest::new(c, ch, t));
        prop_assume!(!d.allowed);
        let check = |x: Timestamp| r.check_hours(&HoursRequest { find_next_allowed: false, ..HoursRequest::new(c, ch, x) }).allowed;
        let horizon = match d.next_allowed {
            Some(n) => {
                prop_assert!(n > t);
                prop_assert!(check(n), "next_allowed {} is not allowed", n);
                prop_assert_eq!(n.as_second() % 60, 0, "minute-aligned");
                let before = n.checked_sub(SignedDuration::from_mins(1)).unwrap();
                prop_assert!(before < t || !check(before), "{} is allowed: next_allowed {} is late", before, n);
                n
            }
            None => t.checked_add(SignedDuration::from_hours(24 * tollgate_rules::NEXT_ALLOWED_SEARCH_DAYS)).unwrap(),
        };
        let span = horizon.as_second() - t.as_second();
        for f in samples {
            let x = Timestamp::from_second(t.as_second() + (span as f64 * f) as i64).unwrap();
            prop_assert!(x >= horizon || !check(x), "{} is allowed, before next_allowed {:?}", x, d.next_allowed);
        }
    }
}
