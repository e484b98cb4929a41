//! State limits on the established business relationship (EBR).
//!
//! Federally an EBR lets a seller make live telemarketing calls for 18
//! months after a transaction or 3 months after an inquiry (47 CFR
//! 64.1200(f)(5)); the gate applies that floor itself. Many states are
//! shorter or accept no EBR of one kind (research §1.6: a law-firm summary
//! with statute spot checks, so every row here is `unverified`). Each row of
//! `rules/ebr_windows.csv` is one state's limit for one basis: a number of
//! days, or none at all (the basis creates no EBR there). Where a number
//! may be in several states, the shortest limit of any of them decides.

use jiff::{SignedDuration, Timestamp};

use crate::csv::{DataError, Table};
use crate::holidays::parse_date;
use crate::location::{State, StateSet};
use crate::{Confidence, Rules};

/// What an EBR rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EbrBasis {
    Transaction,
    Inquiry,
}

impl EbrBasis {
    fn parse(s: &str) -> Option<EbrBasis> {
        match s {
            "transaction" => Some(EbrBasis::Transaction),
            "inquiry" => Some(EbrBasis::Inquiry),
            _ => None,
        }
    }
}

/// One row of `rules/ebr_windows.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EbrRule {
    pub id: String,
    pub jurisdiction: State,
    pub basis: EbrBasis,
    /// `None`: this basis creates no EBR in the state.
    pub max_days: Option<u32>,
    pub effective_from: Option<jiff::civil::Date>,
    pub confidence: Confidence,
    pub citation: String,
    pub note: String,
}

impl EbrRule {
    /// How long the EBR lasts under this row; `None` when it never exists.
    pub fn lifetime(&self) -> Option<SignedDuration> {
        self.max_days
            .map(|d| SignedDuration::from_hours(24 * i64::from(d)))
    }

    /// In force at `at`, reading a date as its earliest midnight anywhere in
    /// the US (as the frequency caps do).
    fn in_force(&self, at: Timestamp) -> bool {
        let Some(from) = self.effective_from else {
            return true;
        };
        let shifted = at
            .checked_add(SignedDuration::from_hours(10))
            .unwrap_or(Timestamp::MAX);
        shifted.to_zoned(jiff::tz::TimeZone::UTC).date() >= from
    }
}

impl Rules {
    /// The strictest state row for an EBR on `basis` among `states` at
    /// `at`: a row that bars the basis beats any number of days, fewer days
    /// beat more. `None` when no candidate state has a row (the federal
    /// limit alone applies).
    pub fn strictest_ebr_rule(
        &self,
        states: StateSet,
        basis: EbrBasis,
        at: Timestamp,
    ) -> Option<&EbrRule> {
        self.ebr
            .iter()
            .filter(|r| r.basis == basis && states.contains(r.jurisdiction) && r.in_force(at))
            .min_by_key(|r| r.max_days.map_or(0, |d| u64::from(d) + 1))
    }

    /// Every EBR row.
    pub fn ebr_rules(&self) -> &[EbrRule] {
        &self.ebr
    }
}

pub(crate) fn load(text: &str) -> Result<Vec<EbrRule>, DataError> {
    let table = Table::parse("ebr_windows.csv", text)?;
    let col = |n| table.column(n);
    let (id, jur, basis, days, from, conf, cit, note) = (
        col("id")?,
        col("jurisdiction")?,
        col("basis")?,
        col("max_days")?,
        col("effective_from")?,
        col("confidence")?,
        col("citation")?,
        col("note")?,
    );
    let mut rules = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in &table.records {
        let err = |m: String| table.error(r, m);
        let jurisdiction = State::parse(r.get(jur))
            .ok_or_else(|| err(format!("unknown state `{}`", r.get(jur))))?;
        let basis = EbrBasis::parse(r.get(basis))
            .ok_or_else(|| err("basis must be transaction or inquiry".into()))?;
        // Two rows for one state and basis would leave the answer to file order.
        if !seen.insert((jurisdiction, basis as u8)) {
            return Err(err("a second row for the same state and basis".into()));
        }
        let max_days = match r.get(days) {
            "" => None,
            d => Some(
                d.parse::<u32>()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| err("max_days is 1 to 3650, or empty for none".into()))?,
            ),
        };
        if r.get(cit).is_empty() {
            return Err(err("every row needs a citation".into()));
        }
        rules.push(EbrRule {
            id: r.get(id).to_string(),
            jurisdiction,
            basis,
            max_days,
            effective_from: parse_date(r.get(from)).map_err(err)?,
            confidence: Confidence::parse(r.get(conf)).map_err(err)?,
            citation: r.get(cit).to_string(),
            note: r.get(note).to_string(),
        });
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    fn states(codes: &[&str]) -> StateSet {
        let mut set = StateSet::EMPTY;
        for c in codes {
            set.insert(State::parse(c).unwrap());
        }
        set
    }

    #[test]
    fn the_strictest_candidate_state_decides() {
        let r = rules();
        let at: Timestamp = "2026-12-01T15:00:00Z".parse().unwrap();
        let t = EbrBasis::Transaction;
        assert!(r.strictest_ebr_rule(states(&["NY"]), t, at).is_none());
        assert_eq!(
            r.strictest_ebr_rule(states(&["TX"]), t, at)
                .unwrap()
                .max_days,
            Some(365)
        );
        // LA (182 days) is shorter than TX (365).
        assert_eq!(
            r.strictest_ebr_rule(states(&["TX", "LA"]), t, at)
                .unwrap()
                .id,
            "LA-EBR-TRANSACTION"
        );
        // Indiana accepts no EBR: it beats any number of days.
        let rule = r.strictest_ebr_rule(states(&["LA", "IN"]), t, at).unwrap();
        assert_eq!(
            (rule.id.as_str(), rule.lifetime()),
            ("IN-EBR-TRANSACTION", None)
        );
        assert_eq!(
            r.strictest_ebr_rule(states(&["MI"]), EbrBasis::Inquiry, at)
                .unwrap()
                .max_days,
            None
        );
    }

    #[test]
    fn duplicate_rows_and_rows_without_citation_are_refused() {
        let head = "id,jurisdiction,basis,max_days,effective_from,confidence,citation,note\n";
        let dup = format!(
            "{head}A,TX,transaction,365,,unverified,x,\nB,TX,transaction,200,,unverified,x,\n"
        );
        assert!(load(&dup).is_err());
        assert!(load(&format!("{head}A,TX,transaction,365,,unverified,,\n")).is_err());
        assert!(load(&format!("{head}A,TX,purchase,365,,unverified,x,\n")).is_err());
        assert!(load(&format!("{head}A,TX,transaction,0,,unverified,x,\n")).is_err());
        assert_eq!(
            load(&format!("{head}A,TX,inquiry,,,unverified,x,\n")).unwrap()[0].max_days,
            None
        );
    }
}
