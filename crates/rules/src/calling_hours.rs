//! Calling hours: is a planned dial instant inside every window that applies?
//!
//! A request carries the lead's [`Candidates`] (every state and zone it might
//! be in), the channel, the planned instant and, optionally, the campaign's
//! own weekly window and a safety margin. The dial is inside hours only if,
//! in **every** candidate zone, the local time is inside the window of every
//! rule row in force for the federal level and **every** candidate state, and
//! inside the campaign window, and no applicable row closes the day (Sunday
//! and holiday bans). Adding a zone or a state can only remove allowed
//! instants; the property tests check exactly that.
//!
//! Rows come from `rules/calling_hours.csv`. A row is a constraint: "on these
//! days, for these channels, calls must start in `[start, end)`" or "on these
//! days, no calls" (`closed`). Several rows of one state all apply (their
//! windows intersect). A row's `clock` is `local` (the called party's wall
//! clock in the zone being checked) or a fixed zone such as `Etc/GMT+6`, for
//! statutes that name one (Mississippi's "Central Standard Time"); the data
//! carries both readings and the engine applies both, which is the stricter.
//!
//! Performance: the hot path converts the instant once per candidate zone
//! (jiff with its bundled tz database) and walks small pre-indexed row lists;
//! it allocates nothing. When a dial is denied for time only, the next allowed
//! instant is searched by jumping from one possible opening to the next (see
//! [`Rules::check_hours`]); that path is slower and bounded.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::csv::{DataError, Table};
use crate::holidays::{Calendars, parse_date, parse_weekday};
use crate::location::{Bits, Candidates, State, ZoneSet};
use crate::{Channel, Confidence, Rules, parse_channels};

/// How far ahead [`Rules::check_hours`] looks for the next allowed instant.
pub const NEXT_ALLOWED_SEARCH_DAYS: i64 = 14;

/// Index of a row in [`Rules::hours_rules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(u8);

impl RuleId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// A set of hours rule rows (bitmask; the data may hold up to 128 rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuleSet([u64; 2]);

impl RuleSet {
    fn insert(&mut self, id: u8) {
        self.0[(id / 64) as usize] |= 1 << (id % 64);
    }
    pub fn contains(&self, id: RuleId) -> bool {
        self.0[(id.0 / 64) as usize] & (1 << (id.0 % 64)) != 0
    }
    pub fn is_empty(&self) -> bool {
        self.0 == [0, 0]
    }
    pub fn len(&self) -> usize {
        (self.0[0].count_ones() + self.0[1].count_ones()) as usize
    }
    pub fn iter(&self) -> impl Iterator<Item = RuleId> + '_ {
        Bits(self.0[0])
            .map(|i| RuleId(i as u8))
            .chain(Bits(self.0[1]).map(|i| RuleId(64 + i as u8)))
    }
}

/// Why a dial is outside hours. Codes are stable API strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoursReason {
    /// The local time is outside a window (state, federal or campaign) in at
    /// least one candidate zone.
    OutsideHours,
    /// A rule closes the whole day (Sunday or holiday ban) in at least one
    /// candidate zone.
    RestrictedDay,
    /// We cannot place the lead: no candidate zone, or some evidence (area
    /// code, ZIP, state) is not in our tables.
    UnknownTimezone,
}

impl HoursReason {
    pub fn code(self) -> &'static str {
        match self {
            HoursReason::OutsideHours => "outside_hours",
            HoursReason::RestrictedDay => "restricted_day",
            HoursReason::UnknownTimezone => "unknown_timezone",
        }
    }

    const ALL: [HoursReason; 3] = [
        HoursReason::OutsideHours,
        HoursReason::RestrictedDay,
        HoursReason::UnknownTimezone,
    ];
}

/// A set of [`HoursReason`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reasons(u8);

impl Reasons {
    fn insert(&mut self, r: HoursReason) {
        self.0 |= 1 << r as u8;
    }
    pub fn contains(self, r: HoursReason) -> bool {
        self.0 & (1 << r as u8) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = HoursReason> {
        HoursReason::ALL
            .into_iter()
            .filter(move |r| self.contains(*r))
    }
}

/// A campaign's own calling window per weekday, in the lead's local time.
/// Minutes since midnight, start inclusive, end exclusive (`1440` = midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyWindow {
    /// Monday first; `None` = no calls that day.
    days: [Option<(u16, u16)>; 7],
}

impl WeeklyWindow {
    /// No calls on any day; add days with [`WeeklyWindow::with_day`].
    pub const CLOSED: WeeklyWindow = WeeklyWindow { days: [None; 7] };

    /// The same window every day.
    pub fn every_day(start_minute: u16, end_minute: u16) -> Result<WeeklyWindow, String> {
        let mut w = WeeklyWindow::CLOSED;
        for d in 0..7 {
            w = w.with_day(weekday_from_index(d), start_minute, end_minute)?;
        }
        Ok(w)
    }

    /// Sets one weekday's window.
    pub fn with_day(
        mut self,
        day: Weekday,
        start_minute: u16,
        end_minute: u16,
    ) -> Result<WeeklyWindow, String> {
        if start_minute >= end_minute || end_minute > 1440 {
            return Err(format!(
                "window {start_minute}..{end_minute} is empty or past midnight"
            ));
        }
        self.days[weekday_index(day)] = Some((start_minute, end_minute));
        Ok(self)
    }

    /// The window of one weekday, if calls are allowed that day.
    pub fn day(&self, day: Weekday) -> Option<(u16, u16)> {
        self.days[weekday_index(day)]
    }

    fn allows(&self, day: Weekday, minute: u16, margin: u16) -> bool {
        self.days[weekday_index(day)].is_some_and(|(s, e)| minute >= s && minute + margin < e)
    }
}

/// What to check.
#[derive(Debug, Clone, Copy)]
pub struct HoursRequest<'a> {
    pub candidates: Candidates,
    pub channel: Channel,
    /// The planned dial (or send) instant.
    pub at: Timestamp,
    /// The campaign's window in the lead's local time, if it has one.
    pub campaign_window: Option<&'a WeeklyWindow>,
    /// No dial may start within this many minutes of any window's end.
    pub safety_margin_minutes: u16,
    /// Search the next allowed instant when denied for time only.
    pub find_next_allowed: bool,
}

impl<'a> HoursRequest<'a> {
    /// A request with no campaign window, no margin, and next-allowed search on.
    pub fn new(candidates: Candidates, channel: Channel, at: Timestamp) -> HoursRequest<'a> {
        HoursRequest {
            candidates,
            channel,
            at,
            campaign_window: None,
            safety_margin_minutes: 0,
            find_next_allowed: true,
        }
    }
}

/// The answer, with everything needed to explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursDecision {
    pub allowed: bool,
    /// Every reason that applies (empty when allowed).
    pub reasons: Reasons,
    /// The zones and states that were checked.
    pub candidates: Candidates,
    pub rules_version: &'static str,
    /// Every row that was in force and applied at the instant, in any zone.
    pub rules_applied: RuleSet,
    /// The rows that denied, in at least one zone.
    pub rules_denying: RuleSet,
    /// The campaign's own window denied, in at least one zone.
    pub campaign_window_denied: bool,
    /// When denied for time only: the first instant (to the minute) within
    /// [`NEXT_ALLOWED_SEARCH_DAYS`] at which the same request would be allowed.
    pub next_allowed: Option<Timestamp>,
}

impl HoursDecision {
    /// Stable reason codes, e.g. `["outside_hours", "restricted_day"]`.
    pub fn reason_codes(&self) -> impl Iterator<Item = &'static str> {
        self.reasons.iter().map(HoursReason::code)
    }
}

/// One row of `rules/calling_hours.csv`.
#[derive(Debug, Clone)]
pub struct HoursRule {
    /// Stable row id, e.g. `FL-HOURS`.
    pub id: String,
    /// `None` = federal (applies everywhere).
    pub jurisdiction: Option<State>,
    channels: u8,
    /// Bit per weekday, Monday = bit 0.
    weekdays: u8,
    /// The row also applies on the jurisdiction's holidays.
    pub on_holidays: bool,
    /// `None` = the day is closed; else minutes `[start, end)`.
    pub window: Option<(u16, u16)>,
    /// `None` = local time; else index into the fixed clocks.
    clock: Option<u8>,
    /// `local` or an IANA zone name.
    pub clock_name: String,
    pub effective_from: Option<Date>,
    pub effective_to: Option<Date>,
    pub confidence: Confidence,
    pub citation: String,
    pub note: String,
}

impl HoursRule {
    pub fn applies_to(&self, channel: Channel) -> bool {
        self.channels & channel.bit() != 0
    }

    /// True when the row's weekday set includes `day`.
    pub fn applies_on_weekday(&self, day: Weekday) -> bool {
        self.weekdays & (1 << weekday_index(day)) != 0
    }

    pub fn in_force(&self, date: Date) -> bool {
        !(self.effective_from.is_some_and(|f| date < f)
            || self.effective_to.is_some_and(|t| date >= t))
    }
}

/// The parsed rows, indexed by jurisdiction.
pub(crate) struct HoursTable {
    pub(crate) rules: Vec<HoursRule>,
    federal: Vec<u8>,
    by_state: Vec<Vec<u8>>,
    /// Holiday calendar of each state (by state index), when it has one.
    calendar_of_state: Vec<Option<usize>>,
    clocks: Vec<TimeZone>,
    /// Every window start minute in the data, sorted: the only local times
    /// (besides midnight) at which a closed zone can open.
    starts: Vec<u16>,
}

const MAX_CLOCKS: usize = 4;

impl HoursTable {
    pub(crate) fn load(text: &str, calendars: &Calendars) -> Result<HoursTable, DataError> {
        let table = Table::parse("calling_hours.csv", text)?;
        let col = |n| table.column(n);
        let (id, jur, ch, days, start, end, clock, from, to, conf, cit, note) = (
            col("id")?,
            col("jurisdiction")?,
            col("channels")?,
            col("days")?,
            col("start")?,
            col("end")?,
            col("clock")?,
            col("effective_from")?,
            col("effective_to")?,
            col("confidence")?,
            col("citation")?,
            col("note")?,
        );
        let n_states = State::all().count();
        let mut t = HoursTable {
            rules: Vec::new(),
            federal: Vec::new(),
            by_state: vec![Vec::new(); n_states],
            calendar_of_state: State::all().map(|s| calendars.find(s.code())).collect(),
            clocks: Vec::new(),
            starts: Vec::new(),
        };
        let mut clock_names: Vec<String> = Vec::new();
        for r in &table.records {
            let err = |m: String| table.error(r, m);
            if t.rules.len() == 128 {
                return Err(err("more than 128 hours rows; widen RuleSet".into()));
            }
            let row_id = r.get(id).to_string();
            if row_id.is_empty() || t.rules.iter().any(|x| x.id == row_id) {
                return Err(err(format!("missing or duplicate id `{row_id}`")));
            }
            let jurisdiction = match r.get(jur) {
                "US" => None,
                s => Some(
                    State::parse(s).ok_or_else(|| err(format!("unknown jurisdiction `{s}`")))?,
                ),
            };
            let (weekdays, on_holidays) = parse_days(r.get(days)).map_err(err)?;
            if on_holidays && jurisdiction.is_some_and(|s| t.calendar_of_state[s.index()].is_none())
            {
                return Err(err(
                    "a holiday row needs a holiday calendar for its state".into()
                ));
            }
            let window = match (r.get(start), r.get(end)) {
                ("closed", "closed") => None,
                (s, e) => {
                    let (s, e) = (parse_minute(s).map_err(err)?, parse_minute(e).map_err(err)?);
                    if s >= e {
                        return Err(err(format!("empty window {s}..{e}")));
                    }
                    Some((s, e))
                }
            };
            let clock_name = r.get(clock).to_string();
            let clock = if clock_name == "local" {
                None
            } else {
                let i = match clock_names.iter().position(|c| *c == clock_name) {
                    Some(i) => i,
                    None => {
                        let tz = TimeZone::get(&clock_name)
                            .map_err(|e| err(format!("clock `{clock_name}`: {e}")))?;
                        if t.clocks.len() == MAX_CLOCKS {
                            return Err(err("too many fixed clocks".into()));
                        }
                        t.clocks.push(tz);
                        clock_names.push(clock_name.clone());
                        t.clocks.len() - 1
                    }
                };
                Some(i as u8)
            };
            let index = t.rules.len() as u8;
            match jurisdiction {
                None => t.federal.push(index),
                Some(s) => t.by_state[s.index()].push(index),
            }
            if let Some((s, _)) = window {
                t.starts.push(s);
            }
            t.rules.push(HoursRule {
                id: row_id,
                jurisdiction,
                channels: parse_channels(r.get(ch)).map_err(err)?,
                weekdays,
                on_holidays,
                window,
                clock,
                clock_name,
                effective_from: parse_date(r.get(from)).map_err(err)?,
                effective_to: parse_date(r.get(to)).map_err(err)?,
                confidence: Confidence::parse(r.get(conf)).map_err(err)?,
                citation: r.get(cit).to_string(),
                note: r.get(note).to_string(),
            });
        }
        if t.federal.is_empty() {
            return Err(DataError {
                file: "calling_hours.csv",
                line: 0,
                message: "no federal (US) row".into(),
            });
        }
        t.starts.sort_unstable();
        t.starts.dedup();
        Ok(t)
    }
}

fn parse_minute(s: &str) -> Result<u16, String> {
    let bad = || format!("time `{s}` is not HH:MM");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h * 60 + m > 1440 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// `mon-sun`, `mon-fri`, `sat`, `sun|holiday`, ... -> (weekday bits, holidays).
fn parse_days(s: &str) -> Result<(u8, bool), String> {
    let mut bits = 0u8;
    let mut holidays = false;
    for part in s.split('|') {
        if part == "holiday" {
            holidays = true;
            continue;
        }
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b) = (
            weekday_index(parse_weekday(a)?),
            weekday_index(parse_weekday(b)?),
        );
        if a > b {
            return Err(format!("day range `{part}` runs backwards"));
        }
        for d in a..=b {
            bits |= 1 << d;
        }
    }
    Ok((bits, holidays))
}

fn weekday_index(d: Weekday) -> usize {
    d.to_monday_zero_offset() as usize
}

fn weekday_from_index(i: usize) -> Weekday {
    Weekday::from_monday_zero_offset(i as i8).unwrap_or(Weekday::Monday)
}

fn minute_of_day(dt: &DateTime) -> u16 {
    dt.hour() as u16 * 60 + dt.minute() as u16
}

/// What one evaluation at one instant found.
#[derive(Clone, Copy)]
struct Eval {
    reasons: Reasons,
    applied: RuleSet,
    denying: RuleSet,
    campaign_denied: bool,
    denied_zones: ZoneSet,
}

impl Rules {
    /// Decides whether `req.at` is inside calling hours for the lead. Pure and
    /// allocation-free unless it searches the next allowed instant.
    ///
    /// Fail-closed: no candidate zone, or evidence we cannot place, denies
    /// with `unknown_timezone` (and no next instant: time will not help).
    pub fn check_hours(&self, req: &HoursRequest<'_>) -> HoursDecision {
        let c = req.candidates;
        let ev = self.evaluate(req, req.at);
        let mut reasons = ev.reasons;
        if c.zones.is_empty() || c.unplaced_evidence {
            reasons.insert(HoursReason::UnknownTimezone);
        }
        let allowed = reasons.is_empty();
        let next_allowed =
            if !allowed && req.find_next_allowed && !reasons.contains(HoursReason::UnknownTimezone)
            {
                self.search_next_allowed(req, ev)
            } else {
                None
            };
        HoursDecision {
            allowed,
            reasons,
            candidates: c,
            rules_version: self.version(),
            rules_applied: ev.applied,
            rules_denying: ev.denying,
            campaign_window_denied: ev.campaign_denied,
            next_allowed,
        }
    }

    fn evaluate(&self, req: &HoursRequest<'_>, t: Timestamp) -> Eval {
        let hours = &self.hours;
        let mut ev = Eval {
            reasons: Reasons::default(),
            applied: RuleSet::default(),
            denying: RuleSet::default(),
            campaign_denied: false,
            denied_zones: ZoneSet::EMPTY,
        };
        let margin = req.safety_margin_minutes;
        let channel_bit = req.channel.bit();
        // Fixed clocks read the same in every zone: convert once, on demand.
        let mut fixed: [Option<DateTime>; MAX_CLOCKS] = [None; MAX_CLOCKS];
        for zone in req.candidates.zones.iter() {
            let local = self.location.zones[zone.index()].to_datetime(t);
            let mut zone_ok = true;
            if let Some(w) = req.campaign_window
                && !w.allows(local.weekday(), minute_of_day(&local), margin)
            {
                ev.campaign_denied = true;
                ev.reasons.insert(HoursReason::OutsideHours);
                zone_ok = false;
            }
            let state_rows = req
                .candidates
                .states
                .iter()
                .flat_map(|s| hours.by_state[s.index()].iter());
            for &i in hours.federal.iter().chain(state_rows) {
                let rule = &hours.rules[i as usize];
                if rule.channels & channel_bit == 0 {
                    continue;
                }
                let clock_time = match rule.clock {
                    None => local,
                    Some(c) => *fixed[c as usize]
                        .get_or_insert_with(|| hours.clocks[c as usize].to_datetime(t)),
                };
                let date = clock_time.date();
                if !rule.in_force(date) {
                    continue;
                }
                let day_matches = rule.applies_on_weekday(clock_time.weekday())
                    || (rule.on_holidays && self.is_holiday(rule.jurisdiction, date));
                if !day_matches {
                    continue;
                }
                ev.applied.insert(i);
                let inside = match rule.window {
                    None => {
                        ev.reasons.insert(HoursReason::RestrictedDay);
                        false
                    }
                    Some((s, e)) => {
                        let m = minute_of_day(&clock_time);
                        let ok = m >= s && m + margin < e;
                        if !ok {
                            ev.reasons.insert(HoursReason::OutsideHours);
                        }
                        ok
                    }
                };
                if !inside {
                    ev.denying.insert(i);
                    zone_ok = false;
                }
            }
            if !zone_ok {
                ev.denied_zones.insert(zone);
            }
        }
        ev
    }

    fn is_holiday(&self, jurisdiction: Option<State>, date: Date) -> bool {
        let cal = match jurisdiction {
            Some(s) => self.hours.calendar_of_state[s.index()],
            None => self.calendars.find("US"),
        };
        cal.is_some_and(|c| self.calendars.holiday_on(c, date).is_some())
    }

    /// Searches forward, to the minute, for the first allowed instant.
    ///
    /// Within one zone, a denied dial can only become allowed at a local
    /// window start, at local midnight (new day, new rows in force) or at a
    /// UTC-offset transition (DST). So from a denied instant `t`, each denied
    /// zone stays denied until its next such point, and nothing before the
    /// latest of those points (over the denied zones) can be allowed: jump
    /// there and evaluate again. Fixed clocks (e.g. CST) add their own
    /// opening points. Jumps never overshoot, so the answer is the first
    /// allowed minute; the loop is bounded by [`NEXT_ALLOWED_SEARCH_DAYS`].
    fn search_next_allowed(&self, req: &HoursRequest<'_>, first: Eval) -> Option<Timestamp> {
        let limit = req
            .at
            .checked_add(SignedDuration::from_hours(24 * NEXT_ALLOWED_SEARCH_DAYS))
            .ok()?;
        let mut t = req.at;
        let mut ev = first;
        loop {
            let mut next = next_whole_minute(t)?;
            for zone in ev.denied_zones.iter() {
                let tz = &self.location.zones[zone.index()];
                let mut opening = self.next_opening(tz, t, req.campaign_window)?;
                for clock in &self.hours.clocks {
                    opening = opening.min(self.next_opening(clock, t, req.campaign_window)?);
                }
                // A zone the campaign's own window closes stays closed at
                // least until that window next opens there, whatever the
                // legal rows do: a second lower bound, often days ahead
                // (weekend-closed campaigns), which saves the walk.
                if let Some(w) = req.campaign_window {
                    opening = opening.max(campaign_opening(w, tz, t, req.safety_margin_minutes)?);
                }
                next = next.max(opening);
            }
            if next > limit {
                return None;
            }
            t = next;
            ev = self.evaluate(req, t);
            if ev.reasons.is_empty() {
                return Some(t);
            }
        }
    }

    /// The earliest instant after `t` at which zone `tz` could open: its next
    /// window start or midnight in local time, or its next offset transition.
    fn next_opening(
        &self,
        tz: &TimeZone,
        t: Timestamp,
        campaign: Option<&WeeklyWindow>,
    ) -> Option<Timestamp> {
        let local = tz.to_datetime(t);
        let m = minute_of_day(&local);
        let mut next_m = self
            .hours
            .starts
            .iter()
            .copied()
            .find(|&s| s > m)
            .unwrap_or(1440);
        if let Some(w) = campaign {
            for (s, _) in w.days.iter().flatten() {
                if *s > m {
                    next_m = next_m.min(*s);
                }
            }
        }
        let target = if next_m >= 1440 {
            local
                .date()
                .tomorrow()
                .ok()?
                .to_datetime(jiff::civil::Time::midnight())
        } else {
            local
                .date()
                .at((next_m / 60) as i8, (next_m % 60) as i8, 0, 0)
        };
        // In a DST gap `earlier` lands before the gap; that only under-jumps.
        let mut at = tz.to_ambiguous_timestamp(target).earlier().ok()?;
        if let Some(tr) = tz.following(t).next() {
            at = at.min(tr.timestamp());
        }
        Some(at)
    }
}

/// The first instant at or after `t` at which the campaign window `w` is
/// open in zone `tz` (with the margin), or `t` itself when it is open now.
/// `None` when the window never opens (no day has one).
fn campaign_opening(
    w: &WeeklyWindow,
    tz: &TimeZone,
    t: Timestamp,
    margin: u16,
) -> Option<Timestamp> {
    let local = tz.to_datetime(t);
    let m = minute_of_day(&local);
    if w.allows(local.weekday(), m, margin) {
        return Some(t);
    }
    let mut date = local.date();
    for day in 0..8 {
        if let Some((s, e)) = w.day(date.weekday())
            && s + margin < e
            && (day > 0 || s > m)
        {
            let target = date.at((s / 60) as i8, (s % 60) as i8, 0, 0);
            // In a DST gap `earlier` lands before the gap: an under-jump, safe.
            return tz.to_ambiguous_timestamp(target).earlier().ok();
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// The start of the minute after the one containing `t`.
fn next_whole_minute(t: Timestamp) -> Option<Timestamp> {
    let s = t.as_second().div_euclid(60) * 60 + 60;
    Timestamp::from_second(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_minutes_parse() {
        assert_eq!(parse_days("mon-fri").unwrap(), (0b0011111, false));
        assert_eq!(parse_days("sun|holiday").unwrap(), (0b1000000, true));
        assert!(parse_days("fri-mon").is_err());
        assert_eq!(parse_minute("20:30").unwrap(), 1230);
        assert_eq!(parse_minute("24:00").unwrap(), 1440);
        assert!(parse_minute("24:01").is_err());
        assert!(parse_minute("8").is_err());
    }

    #[test]
    fn weekly_window_checks_its_bounds() {
        assert!(WeeklyWindow::every_day(600, 600).is_err());
        assert!(WeeklyWindow::every_day(600, 1441).is_err());
        let w = WeeklyWindow::CLOSED
            .with_day(Weekday::Tuesday, 600, 720)
            .unwrap();
        assert!(w.allows(Weekday::Tuesday, 600, 0));
        assert!(
            !w.allows(Weekday::Tuesday, 719, 1),
            "margin: 11:59 + 1 min reaches 12:00"
        );
        assert!(!w.allows(Weekday::Monday, 650, 0));
    }

    #[test]
    fn next_whole_minute_rounds_up() {
        let t: Timestamp = "2026-01-01T10:00:30Z".parse().unwrap();
        assert_eq!(
            next_whole_minute(t).unwrap().to_string(),
            "2026-01-01T10:01:00Z"
        );
        let t: Timestamp = "2026-01-01T10:00:00Z".parse().unwrap();
        assert_eq!(
            next_whole_minute(t).unwrap().to_string(),
            "2026-01-01T10:01:00Z"
        );
    }
}
