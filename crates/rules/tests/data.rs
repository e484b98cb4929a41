//! Checks on the embedded data itself: every legal row is cited, every
//! jurisdiction that can be a candidate can be placed, and the split area
//! codes the gate must get right really list more than one zone.

use tollgate_rules::{AreaCode, Confidence, State, rules};

#[test]
fn every_legal_row_is_cited_and_unverified_rows_explain_themselves() {
    let r = rules();
    for row in r.hours_rules() {
        assert!(!row.citation.is_empty(), "{} has no citation", row.id);
        if row.confidence == Confidence::Unverified {
            assert!(
                !row.note.is_empty() || row.citation.contains('('),
                "{} is unverified without a note",
                row.id
            );
        }
    }
    for cap in r.frequency_caps() {
        assert!(!cap.citation.is_empty(), "{} has no citation", cap.id);
    }
    for h in r.holidays() {
        assert!(
            !h.citation.is_empty(),
            "{} / {} has no citation",
            h.calendar,
            h.name
        );
    }
}

#[test]
fn every_state_has_zones_and_facts() {
    let r = rules();
    for s in State::all() {
        assert!(!r.state_zones(s).is_empty(), "{s} has no zone");
        assert!(r.state_facts(s).is_some(), "{s} has no row in states.csv");
    }
}

#[test]
fn split_area_codes_list_every_zone() {
    let r = rules();
    let expect: &[(&str, &[&str])] = &[
        ("850", &["America/New_York", "America/Chicago"]),
        ("448", &["America/New_York", "America/Chicago"]),
        ("270", &["America/New_York", "America/Chicago"]),
        ("906", &["America/Detroit", "America/Menominee"]),
        ("928", &["America/Phoenix", "America/Denver"]),
        (
            "907",
            &[
                "America/Anchorage",
                "America/Adak",
                "America/Juneau",
                "America/Nome",
            ],
        ),
        ("208", &["America/Boise", "America/Los_Angeles"]),
        ("986", &["America/Boise", "America/Los_Angeles"]),
        ("541", &["America/Los_Angeles", "America/Boise"]),
        ("458", &["America/Los_Angeles", "America/Boise"]),
        ("605", &["America/Chicago", "America/Denver"]),
        ("701", &["America/Chicago", "America/Denver"]),
        ("915", &["America/Denver"]),
        ("308", &["America/Chicago", "America/Denver"]),
        ("785", &["America/Chicago", "America/Denver"]),
        ("620", &["America/Chicago", "America/Denver"]),
        ("812", &["America/Indiana/Indianapolis", "America/Chicago"]),
        ("219", &["America/Chicago", "America/New_York"]),
        ("574", &["America/Chicago", "America/New_York"]),
        ("423", &["America/New_York", "America/Chicago"]),
        ("931", &["America/Chicago", "America/New_York"]),
        ("606", &["America/New_York", "America/Chicago"]),
        ("775", &["America/Los_Angeles", "America/Denver"]),
    ];
    for (code, zones) in expect {
        let place = r
            .area_code(AreaCode::parse(code).unwrap())
            .unwrap_or_else(|| panic!("{code} missing"));
        for z in *zones {
            let id = r.zone_id(z).unwrap_or_else(|| panic!("zone {z} unknown"));
            assert!(place.zones.contains(id), "{code} lacks {z}");
        }
    }
    // Toll-free and other non-geographic codes are not placed (so denied).
    for code in ["800", "888", "500", "900"] {
        assert!(
            r.area_code(AreaCode::parse(code).unwrap()).is_none(),
            "{code} should be unplaced"
        );
    }
}
