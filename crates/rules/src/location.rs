//! Where a lead might be: states, time zones, area codes and ZIP prefixes.
//!
//! The caller rarely knows where the called party is. A phone number's area
//! code, a mailing ZIP and a declared state are each only evidence, and they
//! can disagree (people move, numbers port). So Tollgate never picks one
//! location: it keeps every **candidate** state and time zone the evidence
//! allows and the calling-hours check must pass in all of them.
//!
//! Sets are bitmasks (`u64`) over small interned tables, so resolving a lead
//! and iterating its candidates allocates nothing. Area codes and ZIP
//! prefixes are three digits, so each table is a flat array of 1000 slots.

use jiff::tz::TimeZone;

use crate::Confidence;
use crate::csv::{DataError, Table};

/// US states, DC, territories and freely associated states that have ZIP
/// codes, in the order of their bit in [`StateSet`]. Two-letter USPS codes.
const STATE_CODES: [&str; 59] = [
    "AK", "AL", "AR", "AS", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "FM", "GA", "GU", "HI", "IA",
    "ID", "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MH", "MI", "MN", "MO", "MP", "MS", "MT",
    "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "PR", "PW", "RI", "SC",
    "SD", "TN", "TX", "UT", "VA", "VI", "VT", "WA", "WI", "WV", "WY",
];

/// A US state (or DC, or a territory), by its two-letter postal code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct State(u8);

impl State {
    /// Parses a two-letter code, case-insensitively. `None` for anything else.
    pub fn parse(code: &str) -> Option<State> {
        let b = code.as_bytes();
        if b.len() != 2 {
            return None;
        }
        let upper = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()];
        STATE_CODES
            .iter()
            .position(|c| c.as_bytes() == upper)
            .map(|i| State(i as u8))
    }

    pub fn code(self) -> &'static str {
        STATE_CODES[self.0 as usize]
    }

    /// Every state known to the crate, in code order.
    pub fn all() -> impl Iterator<Item = State> {
        (0..STATE_CODES.len() as u8).map(State)
    }

    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A set of states (a bitmask; `Copy`, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StateSet(u64);

impl StateSet {
    pub const EMPTY: StateSet = StateSet(0);

    pub fn insert(&mut self, s: State) {
        self.0 |= 1 << s.0;
    }
    pub fn contains(self, s: State) -> bool {
        self.0 & (1 << s.0) != 0
    }
    pub fn union(self, other: StateSet) -> StateSet {
        StateSet(self.0 | other.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
    pub fn is_subset(self, other: StateSet) -> bool {
        self.0 & !other.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = State> {
        Bits(self.0).map(|i| State(i as u8))
    }
}

impl FromIterator<State> for StateSet {
    fn from_iter<I: IntoIterator<Item = State>>(iter: I) -> Self {
        let mut s = StateSet::EMPTY;
        iter.into_iter().for_each(|x| s.insert(x));
        s
    }
}

/// An IANA time zone known to the rules data (an index into [`crate::Rules::zone_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneId(u8);

impl ZoneId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// A set of time zones (a bitmask over the zones the data names; at most 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ZoneSet(u64);

impl ZoneSet {
    pub const EMPTY: ZoneSet = ZoneSet(0);

    pub fn insert(&mut self, z: ZoneId) {
        self.0 |= 1 << z.0;
    }
    pub fn remove(&mut self, z: ZoneId) {
        self.0 &= !(1 << z.0);
    }
    pub fn contains(self, z: ZoneId) -> bool {
        self.0 & (1 << z.0) != 0
    }
    pub fn union(self, other: ZoneSet) -> ZoneSet {
        ZoneSet(self.0 | other.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
    pub fn is_subset(self, other: ZoneSet) -> bool {
        self.0 & !other.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = ZoneId> {
        Bits(self.0).map(|i| ZoneId(i as u8))
    }
}

/// Iterates the set bits of a mask, lowest first.
pub(crate) struct Bits(pub(crate) u64);

impl Iterator for Bits {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(i)
    }
}

/// A NANP area code (NPA), three digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AreaCode(u16);

impl AreaCode {
    /// From three ASCII digits, e.g. `"850"`.
    pub fn parse(digits: &str) -> Option<AreaCode> {
        parse3(digits).map(AreaCode)
    }

    /// From a NANP number in E.164 (`+1NPANXXXXXX`); the foundation normalizes
    /// numbers at intake, so anything else is `None`.
    pub fn from_e164(number: &str) -> Option<AreaCode> {
        let rest = number.strip_prefix("+1")?;
        if rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        AreaCode::parse(&rest[..3])
    }

    pub fn value(self) -> u16 {
        self.0
    }
}

/// The first three digits of a ZIP code: the sectional center facility,
/// which never crosses a state line except in a few noted rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zip3(u16);

impl Zip3 {
    /// From a ZIP or ZIP+4 (`"33101"`, `"33101-1234"`); `None` unless it starts
    /// with five digits.
    pub fn from_zip(zip: &str) -> Option<Zip3> {
        let b = zip.trim().as_bytes();
        if b.len() < 5 || !b[..5].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let rest = &b[5..];
        let plus4 = rest.len() == 5 && rest[0] == b'-' && rest[1..].iter().all(u8::is_ascii_digit);
        if !(rest.is_empty() || plus4) {
            return None;
        }
        parse3(std::str::from_utf8(&b[..3]).ok()?).map(Zip3)
    }

    pub fn value(self) -> u16 {
        self.0
    }
}

fn parse3(digits: &str) -> Option<u16> {
    let b = digits.as_bytes();
    if b.len() != 3 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
}

/// What the caller knows about where a lead is. Every field is optional
/// evidence; none is trusted over another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeadLocation {
    /// From the phone number.
    pub area_code: Option<AreaCode>,
    /// The state of the lead's address, as declared.
    pub state: Option<State>,
    /// The lead's ZIP, when given.
    pub zip: Option<Zip3>,
}

/// The states and time zones a lead might be in, resolved from its
/// [`LeadLocation`]. Compute once per lead (it is cheap) and pass by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Candidates {
    pub zones: ZoneSet,
    pub states: StateSet,
    /// True when some evidence was given but is not in our tables (an area
    /// code we cannot place, a ZIP prefix we do not know). The lead may then
    /// be somewhere we cannot see, so the decision denies `unknown_timezone`.
    pub unplaced_evidence: bool,
}

/// One row of the area-code or ZIP3 table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub states: StateSet,
    pub zones: ZoneSet,
    pub confidence: Confidence,
}

/// The interned zones plus the three location tables.
pub(crate) struct LocationTables {
    pub(crate) zone_names: Vec<String>,
    pub(crate) zones: Vec<TimeZone>,
    pub(crate) area_codes: Vec<Option<Place>>,
    pub(crate) zip3: Vec<Option<Place>>,
    pub(crate) state_zones: Vec<ZoneSet>,
}

impl LocationTables {
    pub(crate) fn load(area_codes: &str, zip3: &str, state_zones: &str) -> Result<Self, DataError> {
        let mut t = LocationTables {
            zone_names: Vec::new(),
            zones: Vec::new(),
            area_codes: vec![None; 1000],
            zip3: vec![None; 1000],
            state_zones: vec![ZoneSet::EMPTY; STATE_CODES.len()],
        };
        for (file, text, key) in [
            ("area_codes.csv", area_codes, "area_code"),
            ("zip3.csv", zip3, "zip3"),
        ] {
            let table = Table::parse(file, text)?;
            let (k, s, z, c) = (
                table.column(key)?,
                table.column("states")?,
                table.column("time_zones")?,
                table.column("confidence")?,
            );
            for r in &table.records {
                let idx =
                    parse3(r.get(k)).ok_or_else(|| table.error(r, "key is not three digits"))?;
                let place = Place {
                    states: parse_states(r.get(s)).map_err(|m| table.error(r, m))?,
                    zones: t.parse_zones(r.get(z)).map_err(|m| table.error(r, m))?,
                    confidence: Confidence::parse(r.get(c)).map_err(|m| table.error(r, m))?,
                };
                if place.states.is_empty() || place.zones.is_empty() {
                    return Err(table.error(r, "a row must name at least one state and one zone"));
                }
                let slot = if key == "zip3" {
                    &mut t.zip3
                } else {
                    &mut t.area_codes
                };
                if slot[idx as usize].replace(place).is_some() {
                    return Err(table.error(r, "duplicate key"));
                }
            }
        }
        let table = Table::parse("state_zones.csv", state_zones)?;
        let (s, z) = (table.column("state")?, table.column("time_zones")?);
        for r in &table.records {
            let state = State::parse(r.get(s)).ok_or_else(|| table.error(r, "unknown state"))?;
            t.state_zones[state.index()] =
                t.parse_zones(r.get(z)).map_err(|m| table.error(r, m))?;
        }
        Ok(t)
    }

    fn parse_zones(&mut self, list: &str) -> Result<ZoneSet, String> {
        let mut set = ZoneSet::EMPTY;
        for name in list.split('|').map(str::trim).filter(|n| !n.is_empty()) {
            let id = match self.zone_names.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    let tz = TimeZone::get(name).map_err(|e| format!("time zone `{name}`: {e}"))?;
                    if self.zones.len() == 64 {
                        return Err("more than 64 distinct zones; widen ZoneSet".into());
                    }
                    self.zone_names.push(name.to_string());
                    self.zones.push(tz);
                    self.zones.len() - 1
                }
            };
            set.insert(ZoneId(id as u8));
        }
        Ok(set)
    }

    pub(crate) fn all_zones(&self) -> ZoneSet {
        ZoneSet(if self.zones.len() == 64 {
            u64::MAX
        } else {
            (1u64 << self.zones.len()) - 1
        })
    }

    pub(crate) fn zone_id(&self, name: &str) -> Option<ZoneId> {
        self.zone_names
            .iter()
            .position(|n| n == name)
            .map(|i| ZoneId(i as u8))
    }

    /// Candidate zones and states: the union over every piece of evidence.
    /// The declared state contributes all its zones (it is the only evidence
    /// of where in the state the lead is); area code and ZIP rows already list
    /// the zones their territory reaches.
    pub(crate) fn candidates(&self, lead: &LeadLocation) -> Candidates {
        let mut c = Candidates::default();
        if let Some(ac) = lead.area_code {
            match self.area_codes[ac.0 as usize] {
                Some(p) => {
                    c.zones = c.zones.union(p.zones);
                    c.states = c.states.union(p.states);
                }
                None => c.unplaced_evidence = true,
            }
        }
        if let Some(zip) = lead.zip {
            match self.zip3[zip.0 as usize] {
                Some(p) => {
                    c.zones = c.zones.union(p.zones);
                    c.states = c.states.union(p.states);
                }
                None => c.unplaced_evidence = true,
            }
        }
        if let Some(s) = lead.state {
            c.states.insert(s);
            let zones = self.state_zones[s.index()];
            if zones.is_empty() {
                c.unplaced_evidence = true;
            }
            c.zones = c.zones.union(zones);
        }
        c
    }
}

fn parse_states(list: &str) -> Result<StateSet, String> {
    list.split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| State::parse(s).ok_or_else(|| format!("unknown state `{s}`")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_are_sorted_and_unique() {
        assert!(STATE_CODES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(State::parse("fl").map(State::code), Some("FL"));
        assert_eq!(State::parse("XX"), None);
        assert_eq!(State::parse("F"), None);
    }

    #[test]
    fn area_code_from_e164() {
        assert_eq!(
            AreaCode::from_e164("+18505550100").map(AreaCode::value),
            Some(850)
        );
        assert_eq!(AreaCode::from_e164("8505550100"), None);
        assert_eq!(AreaCode::from_e164("+4418505550100"), None);
        assert_eq!(AreaCode::from_e164("+1850555010"), None);
    }

    #[test]
    fn zip3_accepts_zip_and_zip4_only() {
        assert_eq!(Zip3::from_zip("32501").map(Zip3::value), Some(325));
        assert_eq!(Zip3::from_zip("02901-1234").map(Zip3::value), Some(29));
        assert_eq!(Zip3::from_zip("3250"), None);
        assert_eq!(Zip3::from_zip("32501-12"), None);
        assert_eq!(Zip3::from_zip("3250A"), None);
    }

    #[test]
    fn sets_iterate_their_members() {
        let s: StateSet = ["TX", "FL", "AK"]
            .iter()
            .filter_map(|c| State::parse(c))
            .collect();
        let codes: Vec<_> = s.iter().map(State::code).collect();
        assert_eq!(codes, ["AK", "FL", "TX"]);
        assert_eq!(s.len(), 3);
    }
}
