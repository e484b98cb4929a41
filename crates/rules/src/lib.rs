//! Tollgate's calling-hours rules: cited, versioned data and its pure evaluation.
//!
//! The data lives in `rules/` at the repository root (CSV files, one row per
//! rule, each with its citation, effective date and confidence) and is
//! embedded into this crate at compile time, so a binary always carries the
//! rules it was tested with and reports their version ([`RULES_VERSION`]).
//! `docs/rules.md` explains the files; `docs/adr/0201-calling-hours-rules.md`
//! the choices.
//!
//! Design, in one paragraph: nothing here does I/O or reads a clock. The
//! caller resolves a lead's evidence (area code, ZIP, declared state) into
//! [`Candidates`] — every state and time zone the lead might be in — and then
//! asks [`Rules::check_hours`] whether a planned instant is inside hours in
//! **all** of them, and [`Rules::check_frequency_caps`] whether another
//! attempt would exceed a state cap. Answers carry stable reason codes, the
//! rule rows (with citations) that were applied, and the rules version, so
//! the gate can combine them with consent, suppression and DNC reasons and
//! explain the decision. Where the data marks a fact `unverified`, it is
//! still applied: the engine takes the stricter reading and fails closed.
//!
//! ```
//! use tollgate_rules::{rules, AreaCode, Channel, HoursRequest, LeadLocation};
//! let rules = rules();
//! let lead = LeadLocation { area_code: AreaCode::parse("850"), ..Default::default() };
//! let at: jiff::Timestamp = "2026-11-23T13:30:00Z".parse().unwrap(); // 08:30 EST, 07:30 CST
//! let d = rules.check_hours(&HoursRequest::new(rules.candidates(&lead), Channel::LiveVoice, at));
//! assert!(!d.allowed); // Pensacola (850, Central) is still before 8:00
//! assert_eq!(d.reason_codes().collect::<Vec<_>>(), ["outside_hours"]);
//! assert_eq!(d.next_allowed, Some("2026-11-23T14:00:00Z".parse().unwrap()));
//! ```

mod calling_hours;
mod csv;
mod ebr;
mod frequency_caps;
mod holidays;
mod location;
mod states;

use std::sync::OnceLock;

pub use calling_hours::{
    HoursDecision, HoursReason, HoursRequest, HoursRule, NEXT_ALLOWED_SEARCH_DAYS, Reasons, RuleId,
    RuleSet, WeeklyWindow,
};
pub use csv::DataError;
pub use ebr::{EbrBasis, EbrRule};
pub use frequency_caps::{CapCheck, CapRule, RollingCap};
pub use holidays::{Holiday, easter};
pub use location::{
    AreaCode, Candidates, LeadLocation, Place, State, StateSet, Zip3, ZoneId, ZoneSet,
};
pub use states::{DncListStatus, StateFacts};

/// The version of the embedded rules data (`rules/VERSION`), e.g. `2026-11-22.1`.
/// Bump it with every change to any file in `rules/`.
pub const RULES_VERSION: &str = include_str!("../../../rules/VERSION");

/// How sure we are of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Confidence {
    /// Statute or regulation text, or an official agency page, was seen (or,
    /// for location rows, two independent datasets agree).
    Verified,
    /// Anything less. Still applied: the engine reads it strictly.
    Unverified,
}

impl Confidence {
    pub(crate) fn parse(s: &str) -> Result<Confidence, String> {
        match s {
            "verified" => Ok(Confidence::Verified),
            "unverified" => Ok(Confidence::Unverified),
            other => Err(format!(
                "confidence must be verified or unverified, not `{other}`"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Verified => "verified",
            Confidence::Unverified => "unverified",
        }
    }
}

/// How the called party is reached. Rules are scoped per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A call with a live human agent.
    LiveVoice,
    /// A call with an artificial or prerecorded voice. AI-generated voices are
    /// artificial voices under the TCPA (FCC 24-17), and state rules on
    /// automated dialing/announcing devices are applied to them.
    ArtificialVoice,
    /// SMS/MMS. The FCC treats texts as calls.
    Text,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::LiveVoice => "live_voice",
            Channel::ArtificialVoice => "artificial_voice",
            Channel::Text => "text",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "live_voice" => Some(Channel::LiveVoice),
            "artificial_voice" => Some(Channel::ArtificialVoice),
            "text" => Some(Channel::Text),
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Parses a channel scope: `all` or `live_voice|artificial_voice|text`.
pub(crate) fn parse_channels(s: &str) -> Result<u8, String> {
    if s == "all" {
        return Ok(0b111);
    }
    let mut mask = 0;
    for part in s.split('|') {
        mask |= Channel::parse(part)
            .ok_or_else(|| format!("unknown channel `{part}`"))?
            .bit();
    }
    Ok(mask)
}

/// All embedded rules, parsed and indexed. Build once ([`rules`]) and share.
pub struct Rules {
    version: &'static str,
    location: location::LocationTables,
    calendars: holidays::Calendars,
    hours: calling_hours::HoursTable,
    caps: Vec<CapRule>,
    ebr: Vec<EbrRule>,
    states: Vec<Option<StateFacts>>,
}

impl Rules {
    /// Parses and checks the embedded data. Fails on any malformed row.
    pub fn load() -> Result<Rules, DataError> {
        Rules::from_sources(&Sources::EMBEDDED)
    }

    fn from_sources(src: &Sources) -> Result<Rules, DataError> {
        let version = src.version.trim();
        let well_formed = version.len() >= 12
            && version[..10].parse::<jiff::civil::Date>().is_ok()
            && version[10..].starts_with('.')
            && version[11..].parse::<u32>().is_ok();
        if !well_formed {
            return Err(DataError {
                file: "VERSION",
                line: 1,
                message: format!("`{version}` is not YYYY-MM-DD.N"),
            });
        }
        let location = location::LocationTables::load(src.area_codes, src.zip3, src.state_zones)?;
        let calendars = holidays::Calendars::load(src.holidays)?;
        let hours = calling_hours::HoursTable::load(src.calling_hours, &calendars)?;
        let caps = frequency_caps::load(src.frequency_caps)?;
        let ebr = ebr::load(src.ebr_windows)?;
        let states = states::load(src.states)?;
        Ok(Rules {
            version: src.version,
            location,
            calendars,
            hours,
            caps,
            ebr,
            states,
        })
    }

    /// The rules version, e.g. `2026-11-22.1`.
    pub fn version(&self) -> &'static str {
        self.version.trim()
    }

    /// Every state and time zone a lead might be in.
    pub fn candidates(&self, lead: &LeadLocation) -> Candidates {
        self.location.candidates(lead)
    }

    /// The area-code row, if the code is a US geographic area code we know.
    pub fn area_code(&self, code: AreaCode) -> Option<Place> {
        self.location.area_codes[code.value() as usize]
    }

    /// The ZIP3 row, if known.
    pub fn zip3(&self, zip: Zip3) -> Option<Place> {
        self.location.zip3[zip.value() as usize]
    }

    /// All zones a state reaches.
    pub fn state_zones(&self, state: State) -> ZoneSet {
        self.location.state_zones[state.index()]
    }

    /// The IANA name of a zone.
    pub fn zone_name(&self, zone: ZoneId) -> &str {
        &self.location.zone_names[zone.index()]
    }

    /// Every zone the data names.
    pub fn all_zones(&self) -> ZoneSet {
        self.location.all_zones()
    }

    /// Looks a zone up by IANA name (only zones the data names).
    pub fn zone_id(&self, name: &str) -> Option<ZoneId> {
        self.location.zone_id(name)
    }

    /// Every hours rule row, in file order (index = [`RuleId`]).
    pub fn hours_rules(&self) -> &[HoursRule] {
        &self.hours.rules
    }

    /// One hours rule row.
    pub fn hours_rule(&self, id: RuleId) -> &HoursRule {
        &self.hours.rules[id.index()]
    }

    /// Every frequency-cap row.
    pub fn frequency_caps(&self) -> &[CapRule] {
        &self.caps
    }

    /// Every holiday rule of every calendar.
    pub fn holidays(&self) -> &[Holiday] {
        &self.calendars.holidays
    }

    /// The state's own holiday on `date`, if its calendar has one.
    pub fn holiday_on(&self, state: State, date: jiff::civil::Date) -> Option<&Holiday> {
        let cal = self.calendars.find(state.code())?;
        self.calendars.holiday_on(cal, date)
    }

    /// Facts about a state beyond hours (its own DNC list, presumptions).
    pub fn state_facts(&self, state: State) -> Option<&StateFacts> {
        self.states[state.index()].as_ref()
    }
}

struct Sources {
    version: &'static str,
    area_codes: &'static str,
    zip3: &'static str,
    state_zones: &'static str,
    holidays: &'static str,
    calling_hours: &'static str,
    frequency_caps: &'static str,
    ebr_windows: &'static str,
    states: &'static str,
}

impl Sources {
    const EMBEDDED: Sources = Sources {
        version: RULES_VERSION,
        area_codes: include_str!("../../../rules/area_codes.csv"),
        zip3: include_str!("../../../rules/zip3.csv"),
        state_zones: include_str!("../../../rules/state_zones.csv"),
        holidays: include_str!("../../../rules/holidays.csv"),
        calling_hours: include_str!("../../../rules/calling_hours.csv"),
        frequency_caps: include_str!("../../../rules/frequency_caps.csv"),
        ebr_windows: include_str!("../../../rules/ebr_windows.csv"),
        states: include_str!("../../../rules/states.csv"),
    };
}

/// The embedded rules, parsed on first use. The data is checked by this
/// crate's tests, so a failure here means a build from untested data.
pub fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| match Rules::load() {
        Ok(r) => r,
        Err(e) => panic!("embedded rules data is invalid: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_loads_and_is_versioned() {
        let r = Rules::load().expect("embedded data must load");
        assert_eq!(r.version(), RULES_VERSION.trim());
        assert!(r.hours_rules().len() > 30);
        assert!(r.frequency_caps().len() >= 3);
    }

    #[test]
    fn malformed_version_is_refused() {
        let mut src = Sources::EMBEDDED;
        src.version = "2026-11-22";
        assert!(Rules::from_sources(&src).is_err());
        src.version = "yesterday.1";
        assert!(Rules::from_sources(&src).is_err());
    }
}
