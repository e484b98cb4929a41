//! Facts about a state beyond its hours: does it keep its own do-not-call
//! list, does it presume a number with its area code is a resident's?
//! From `rules/states.csv`; consumed by the DNC component and the gate.

use crate::Confidence;
use crate::csv::{DataError, Table};
use crate::location::State;

/// Whether a state keeps a do-not-call list separate from the national one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DncListStatus {
    /// A separate list exists and must be obtained and scrubbed.
    OwnList,
    /// The state uses the national registry.
    NationalOnly,
}

#[derive(Debug, Clone)]
pub struct StateFacts {
    pub state: State,
    pub name: String,
    pub own_dnc_list: DncListStatus,
    /// Unverified `NationalOnly` means "no separate list found", not "none exists".
    pub dnc_confidence: Confidence,
    pub dnc_citation: String,
    /// Citation of an area-code residency presumption, when the state has one.
    pub area_code_presumption: Option<String>,
    pub note: String,
}

impl StateFacts {
    /// The fail-closed reading: scrub a state list unless we verified there is none.
    pub fn requires_state_dnc_scrub(&self) -> bool {
        self.own_dnc_list == DncListStatus::OwnList || self.dnc_confidence == Confidence::Unverified
    }
}

pub(crate) fn load(text: &str) -> Result<Vec<Option<StateFacts>>, DataError> {
    let table = Table::parse("states.csv", text)?;
    let col = |n| table.column(n);
    let (st, name, own, conf, cit, pres, note) = (
        col("state")?,
        col("name")?,
        col("own_dnc_list")?,
        col("dnc_confidence")?,
        col("dnc_citation")?,
        col("area_code_presumption")?,
        col("note")?,
    );
    let mut out: Vec<Option<StateFacts>> = State::all().map(|_| None).collect();
    for r in &table.records {
        let err = |m: String| table.error(r, m);
        let state =
            State::parse(r.get(st)).ok_or_else(|| err(format!("unknown state `{}`", r.get(st))))?;
        let own_dnc_list = match r.get(own) {
            "yes" => DncListStatus::OwnList,
            "no" => DncListStatus::NationalOnly,
            other => {
                return Err(err(format!(
                    "own_dnc_list must be yes or no, not `{other}`"
                )));
            }
        };
        let facts = StateFacts {
            state,
            name: r.get(name).to_string(),
            own_dnc_list,
            dnc_confidence: Confidence::parse(r.get(conf)).map_err(err)?,
            dnc_citation: r.get(cit).to_string(),
            area_code_presumption: Some(r.get(pres).to_string()).filter(|s| !s.is_empty()),
            note: r.get(note).to_string(),
        };
        if out[state.index()].replace(facts).is_some() {
            return Err(err("duplicate state".into()));
        }
    }
    Ok(out)
}
