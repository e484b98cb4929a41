//! Holiday calendars as computable rules, so any year works.
//!
//! A calendar (`US`, `PA`, `UT`, ...) is a list of rules from
//! `rules/holidays.csv`:
//!
//! | rule                 | meaning                                             |
//! |----------------------|-----------------------------------------------------|
//! | `fixed:07-04`        | that month and day every year                       |
//! | `nth:4:thu:11`       | the 4th Thursday of November                        |
//! | `last:mon:05`        | the last Monday of May                              |
//! | `onafter:tue:11-02`  | the first Tuesday on or after November 2 (Election Day) |
//! | `easter:-2`          | Easter Sunday plus an offset in days (Good Friday)  |
//! | `include:US`         | every rule of another calendar                      |
//!
//! `observed=yes` on a fixed-date holiday also restricts the weekday it is
//! observed on (Friday before a Saturday holiday, Monday after a Sunday one).
//! States differ on observance and the data cannot always say which applies,
//! so both the date itself and the observed day are restricted: the stricter
//! reading.

use jiff::civil::{Date, Weekday};

use crate::Confidence;
use crate::csv::{DataError, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fixed {
        month: i8,
        day: i8,
    },
    Nth {
        n: i8,
        weekday: Weekday,
        month: i8,
    },
    Last {
        weekday: Weekday,
        month: i8,
    },
    OnOrAfter {
        weekday: Weekday,
        month: i8,
        day: i8,
    },
    Easter {
        offset: i16,
    },
}

/// One holiday of one calendar.
#[derive(Debug, Clone)]
pub struct Holiday {
    pub calendar: String,
    pub name: String,
    kind: Kind,
    observed: bool,
    effective_from: Option<Date>,
    effective_to: Option<Date>,
    pub confidence: Confidence,
    pub citation: String,
}

impl Holiday {
    /// True when `date` is this holiday (or its observed weekday).
    pub fn falls_on(&self, date: Date) -> bool {
        if self.effective_from.is_some_and(|f| date < f)
            || self.effective_to.is_some_and(|t| date >= t)
        {
            return false;
        }
        let (month, day, weekday) = (date.month(), date.day(), date.weekday());
        match self.kind {
            Kind::Fixed { month: m, day: d } => {
                if (month, day) == (m, d) {
                    return true;
                }
                // Observed: a Saturday holiday moves to Friday, a Sunday one to Monday.
                self.observed
                    && match weekday {
                        Weekday::Friday => date
                            .tomorrow()
                            .is_ok_and(|t| (t.month(), t.day()) == (m, d)),
                        Weekday::Monday => date
                            .yesterday()
                            .is_ok_and(|y| (y.month(), y.day()) == (m, d)),
                        _ => false,
                    }
            }
            Kind::Nth {
                n,
                weekday: w,
                month: m,
            } => month == m && weekday == w && (day - 1) / 7 + 1 == n,
            Kind::Last {
                weekday: w,
                month: m,
            } => month == m && weekday == w && day + 7 > date.days_in_month(),
            Kind::OnOrAfter {
                weekday: w,
                month: m,
                day: d,
            } => month == m && weekday == w && day >= d && day < d + 7,
            Kind::Easter { offset } => {
                let (em, ed) = easter(date.year());
                let easter_ordinal = day_of_year(date.year(), em, ed);
                date.day_of_year() == easter_ordinal + offset
            }
        }
    }
}

/// Calendars by name, includes already flattened.
pub(crate) struct Calendars {
    pub(crate) holidays: Vec<Holiday>,
    /// (calendar name, indices into `holidays`), including included rules.
    pub(crate) calendars: Vec<(String, Vec<u16>)>,
}

impl Calendars {
    pub(crate) fn load(text: &str) -> Result<Calendars, DataError> {
        let table = Table::parse("holidays.csv", text)?;
        let col = |n| table.column(n);
        let (cal, name, rule, obs, from, to, conf, cit) = (
            col("calendar")?,
            col("name")?,
            col("rule")?,
            col("observed")?,
            col("effective_from")?,
            col("effective_to")?,
            col("confidence")?,
            col("citation")?,
        );
        let mut holidays = Vec::new();
        let mut includes: Vec<(String, String, usize)> = Vec::new();
        for r in &table.records {
            let err = |m: String| table.error(r, m);
            if let Some(other) = r.get(rule).strip_prefix("include:") {
                includes.push((r.get(cal).to_string(), other.to_string(), r.line));
                continue;
            }
            holidays.push(Holiday {
                calendar: r.get(cal).to_string(),
                name: r.get(name).to_string(),
                kind: parse_rule(r.get(rule)).map_err(err)?,
                observed: match r.get(obs) {
                    "yes" => true,
                    "no" | "" => false,
                    other => return Err(err(format!("observed must be yes or no, not `{other}`"))),
                },
                effective_from: parse_date(r.get(from)).map_err(err)?,
                effective_to: parse_date(r.get(to)).map_err(err)?,
                confidence: Confidence::parse(r.get(conf)).map_err(err)?,
                citation: r.get(cit).to_string(),
            });
        }
        let mut names: Vec<String> = holidays.iter().map(|h| h.calendar.clone()).collect();
        names.extend(includes.iter().map(|(c, _, _)| c.clone()));
        names.sort();
        names.dedup();
        let mut calendars = Vec::new();
        for n in names {
            let mut members: Vec<u16> = (0..holidays.len())
                .filter(|&i| holidays[i].calendar == n)
                .map(|i| i as u16)
                .collect();
            // One level of include is all the data needs; a chain is refused.
            for (c, other, line) in &includes {
                if *c != n {
                    continue;
                }
                if includes.iter().any(|(c2, _, _)| c2 == other)
                    || !holidays.iter().any(|h| h.calendar == *other)
                {
                    return Err(DataError {
                        file: "holidays.csv",
                        line: *line,
                        message: format!(
                            "include of `{other}`: unknown calendar or nested include"
                        ),
                    });
                }
                members.extend(
                    (0..holidays.len())
                        .filter(|&i| holidays[i].calendar == *other)
                        .map(|i| i as u16),
                );
            }
            calendars.push((n, members));
        }
        Ok(Calendars {
            holidays,
            calendars,
        })
    }

    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.calendars.iter().position(|(n, _)| n == name)
    }

    /// The holiday of calendar `cal` that falls on `date`, if any.
    pub(crate) fn holiday_on(&self, cal: usize, date: Date) -> Option<&Holiday> {
        self.calendars[cal]
            .1
            .iter()
            .map(|&i| &self.holidays[i as usize])
            .find(|h| h.falls_on(date))
    }
}

pub(crate) fn parse_date(s: &str) -> Result<Option<Date>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<Date>()
        .map(Some)
        .map_err(|e| format!("date `{s}`: {e}"))
}

pub(crate) fn parse_weekday(s: &str) -> Result<Weekday, String> {
    Ok(match s {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return Err(format!("unknown weekday `{s}`")),
    })
}

fn parse_rule(s: &str) -> Result<Kind, String> {
    let bad = || format!("unknown holiday rule `{s}`");
    let num = |x: &str| x.parse::<i16>().map_err(|_| bad());
    let month_day = |x: &str| -> Result<(i8, i8), String> {
        let (m, d) = x.split_once('-').ok_or_else(bad)?;
        let (m, d) = (num(m)? as i8, num(d)? as i8);
        Date::new(2024, m, d).map_err(|_| bad())?; // 2024: a leap year accepts 02-29
        Ok((m, d))
    };
    let parts: Vec<&str> = s.split(':').collect();
    let kind = match parts.as_slice() {
        ["fixed", md] => {
            let (month, day) = month_day(md)?;
            Kind::Fixed { month, day }
        }
        ["nth", n, wd, m] => {
            let n = num(n)?;
            let month = num(m)?;
            if !(1..=5).contains(&n) || !(1..=12).contains(&month) {
                return Err(bad());
            }
            Kind::Nth {
                n: n as i8,
                weekday: parse_weekday(wd)?,
                month: month as i8,
            }
        }
        ["last", wd, m] => {
            let month = num(m)?;
            if !(1..=12).contains(&month) {
                return Err(bad());
            }
            Kind::Last {
                weekday: parse_weekday(wd)?,
                month: month as i8,
            }
        }
        ["onafter", wd, md] => {
            let (month, day) = month_day(md)?;
            Kind::OnOrAfter {
                weekday: parse_weekday(wd)?,
                month,
                day,
            }
        }
        ["easter", off] => Kind::Easter { offset: num(off)? },
        _ => return Err(bad()),
    };
    Ok(kind)
}

/// Gregorian Easter Sunday (anonymous Gregorian algorithm, "Meeus/Jones/Butcher").
pub fn easter(year: i16) -> (i8, i8) {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    (month as i8, day as i8)
}

fn day_of_year(year: i16, month: i8, day: i8) -> i16 {
    const CUMULATIVE: [i16; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    CUMULATIVE[(month - 1) as usize] + i16::from(day) + i16::from(leap && month > 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn easter_dates_match_published_tables() {
        // Published Western Easter dates.
        assert_eq!(easter(2024), (3, 31));
        assert_eq!(easter(2025), (4, 20));
        assert_eq!(easter(2026), (4, 5));
        assert_eq!(easter(2027), (3, 28));
        assert_eq!(easter(2038), (4, 25));
        assert_eq!(easter(2285), (3, 22));
    }

    fn calendars() -> Calendars {
        Calendars::load(include_str!("../../../rules/holidays.csv")).unwrap()
    }

    fn holiday(c: &Calendars, cal: &str, d: Date) -> Option<String> {
        c.holiday_on(c.find(cal).unwrap(), d)
            .map(|h| h.name.clone())
    }

    #[test]
    fn computed_federal_holidays() {
        let c = calendars();
        assert_eq!(
            holiday(&c, "US", date(2026, 11, 26)).as_deref(),
            Some("Thanksgiving Day")
        );
        assert_eq!(holiday(&c, "US", date(2026, 11, 19)), None);
        assert_eq!(
            holiday(&c, "US", date(2027, 5, 31)).as_deref(),
            Some("Memorial Day")
        );
        assert_eq!(holiday(&c, "US", date(2027, 5, 24)), None);
        assert_eq!(
            holiday(&c, "US", date(2026, 1, 19)).as_deref(),
            Some("Birthday of Martin Luther King Jr.")
        );
        // Juneteenth only from 2021.
        assert!(holiday(&c, "US", date(2020, 6, 19)).is_none());
        assert!(
            holiday(&c, "US", date(2022, 6, 20)).is_some(),
            "2022-06-19 was a Sunday: observed Monday"
        );
        // Independence Day 2026 is a Saturday: observed Friday July 3.
        assert!(holiday(&c, "US", date(2026, 7, 3)).is_some());
        // New Year's Day 2028 is a Saturday: observed Friday 2027-12-31 (crosses the year).
        assert!(holiday(&c, "US", date(2027, 12, 31)).is_some());
    }

    #[test]
    fn state_calendars_include_federal_and_their_own() {
        let c = calendars();
        assert_eq!(
            holiday(&c, "PA", date(2026, 4, 3)).as_deref(),
            Some("Good Friday")
        );
        assert_eq!(
            holiday(&c, "PA", date(2026, 11, 3)).as_deref(),
            Some("Election Day")
        );
        assert_eq!(
            holiday(&c, "PA", date(2026, 11, 26)).as_deref(),
            Some("Thanksgiving Day")
        );
        assert_eq!(
            holiday(&c, "UT", date(2026, 7, 24)).as_deref(),
            Some("Pioneer Day")
        );
        assert_eq!(
            holiday(&c, "LA", date(2026, 2, 17)).as_deref(),
            Some("Mardi Gras")
        );
        assert_eq!(
            holiday(&c, "RI", date(2026, 8, 10)).as_deref(),
            Some("Victory Day")
        );
        assert_eq!(
            holiday(&c, "NE", date(2026, 4, 24)).as_deref(),
            Some("Arbor Day")
        );
        assert_eq!(holiday(&c, "UT", date(2026, 7, 23)), None);
    }

    #[test]
    fn bad_rules_are_refused() {
        for rule in [
            "fixed:02-30",
            "nth:6:mon:01",
            "last:xyz:05",
            "easter:x",
            "weekly:mon",
        ] {
            let text = format!(
                "calendar,name,rule,observed,effective_from,effective_to,confidence,citation\nX,n,{rule},no,,,verified,c\n"
            );
            assert!(Calendars::load(&text).is_err(), "{rule} should be refused");
        }
    }
}
