//! Tollgate's dial gate, the pure part: an AI agent asks before it dials or
//! texts, and the gate answers allow or deny with every reason.
//!
//! * [`phone`]: NANP numbers to E.164, with a reason for every refusal.
//! * [`consent`]: what consent evidence must hold, and which consent covers
//!   which call (purpose, AI or live voice, text).
//! * [`optout`]: recognising "stop", "do not call me" and their variants.
//! * [`decision`]: [`decide`], a pure function of loaded facts and an
//!   instant, built on `tollgate-rules` for hours and caps.
//!
//! Nothing here does I/O or reads a clock; the store loads the facts and
//! records the outcome in one transaction (docs/gate.md).

pub mod consent;
pub mod decision;
pub mod optout;
pub mod phone;

pub use consent::{
    ConsentEvidence, ConsentGap, ConsentType, EbrKind, EvidenceProblem, Purpose, covers,
    intake_problems,
};
pub use decision::{
    CampaignFacts, Code, Decision, DialChannel, DncFacts, Facts, ListStatus, ListVersion, Reason,
    VoiceType, decide, dnc_check, rules_channel,
};
pub use optout::{OptOutMatch, detect_opt_out};
pub use phone::{E164, PhoneError, parse_nanp};
