//! Prints what the crate answers for every possible area code and ZIP prefix,
//! through the same lookup the gate uses (`Rules::candidates`), as CSV on
//! stdout. The Python oracle in `e2e/oracle/` compares it with independent
//! libraries:
//!
//!     cargo run -q -p tollgate-rules --example zones > candidates.csv
//!
//! Columns: `kind` (`area_code` or `zip3`), `key` (three digits), `states`
//! and `time_zones` (`|`-separated; empty when the key is unknown, which the
//! gate denies as `unknown_timezone`), `unplaced` (`1` when unknown).

use tollgate_rules::{AreaCode, LeadLocation, Zip3, rules};

fn main() {
    let r = rules();
    println!("# rules_version={}", r.version());
    println!("kind,key,states,time_zones,unplaced");
    for n in 0..1000u16 {
        let key = format!("{n:03}");
        let by_area = LeadLocation {
            area_code: AreaCode::parse(&key),
            ..Default::default()
        };
        let by_zip = LeadLocation {
            zip: Zip3::from_zip(&format!("{key}00")),
            ..Default::default()
        };
        for (kind, lead) in [("area_code", by_area), ("zip3", by_zip)] {
            let c = r.candidates(&lead);
            let states: Vec<_> = c.states.iter().map(|s| s.code()).collect();
            let zones: Vec<_> = c.zones.iter().map(|z| r.zone_name(z)).collect();
            println!(
                "{kind},{key},{},{},{}",
                states.join("|"),
                zones.join("|"),
                u8::from(c.unplaced_evidence)
            );
        }
    }
}
