//! Who may do what: the four roles of an organization, the scopes of API
//! keys, and the single rule that combines them.
//!
//! Every route declares one [`Access`] in the server's route table; this
//! module decides whether an actor satisfies it. A bot's API key acts on
//! behalf of the member who created it, so its authority is the key's scopes
//! *and* that member's current role: demoting or removing the member narrows
//! or ends every key they made, with no second table to keep in step.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A member's role in one organization, from least to most privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads the organization's data; changes nothing.
    Viewer,
    /// Works with leads, campaigns and agents.
    Member,
    /// Manages members (except owners), API keys, webhooks and settings.
    Admin,
    /// Everything, including owners and the organization itself.
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

macro_rules! scopes {
    ($($variant:ident = $name:literal, $doc:literal;)*) => {
        /// A permission an API key can carry.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Scope {
            $(#[doc = $doc] $variant,)*
        }
        impl Scope {
            pub const ALL: &'static [Scope] = &[$(Scope::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $(Scope::$variant => $name,)* }
            }
            pub fn description(self) -> &'static str {
                match self { $(Scope::$variant => $doc,)* }
            }
        }
    };
}

scopes! {
    OrgAdmin = "org:admin", "Read and change organization settings, members and API keys.";
    AgentsRead = "agents:read", "Read agent configurations.";
    AgentsWrite = "agents:write", "Create and change agent configurations.";
    CallsRead = "calls:read", "Read calls, transcripts and recordings.";
    LeadsRead = "leads:read", "Read leads and their consent evidence.";
    LeadsWrite = "leads:write", "Create and change leads, suppressions and opt-outs.";
    CampaignsWrite = "campaigns:write", "Create and change campaigns.";
    DialCheck = "dial:check", "Ask the gate whether a call or text may go out.";
    AuditRead = "audit:read", "Read and export the audit log.";
    WebhooksManage = "webhooks:manage", "Manage webhook endpoints and deliveries.";
    CallsWrite = "calls:write", "Record calls and submit their transcripts and extractions (redacted before storage); redact text.";
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Scope::ALL
            .iter()
            .copied()
            .find(|x| x.as_str() == s)
            .ok_or(())
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|()| serde::de::Error::custom(format!("unknown scope `{s}`")))
    }
}

/// A set of scopes, stored as a bit set so checks are one instruction.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeSet(u32);

impl ScopeSet {
    pub fn all() -> Self {
        Scope::ALL.iter().copied().collect()
    }
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u32) != 0
    }
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= 1 << scope as u32;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .iter()
            .copied()
            .filter(move |s| self.contains(*s))
    }
    /// Space-separated, in canonical order: the storage and OAuth form.
    pub fn to_text(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
    /// Parses the storage form; an unknown scope is an error, never ignored.
    pub fn parse_text(s: &str) -> Result<Self, String> {
        s.split_ascii_whitespace()
            .map(|w| w.parse::<Scope>().map_err(|()| w.to_string()))
            .collect()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What a route demands of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, unauthenticated: health, metadata, the bootstrap page.
    Public,
    /// An authenticated actor of an organization with at least `min_role`
    /// and, for API keys, `scope` (none: any key of the organization).
    Org {
        scope: Option<Scope>,
        min_role: Role,
    },
}

/// Why an authenticated actor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    MissingScope(Scope),
    InsufficientRole { required: Role, actual: Role },
}

/// The one rule: scope (for keys) and role (always) must both suffice.
/// `scopes` is `None` for a human session, which has no scopes, only a role.
pub fn authorize(access: Access, role: Role, scopes: Option<ScopeSet>) -> Result<(), Denied> {
    match access {
        Access::Public => Ok(()),
        Access::Org { scope, min_role } => {
            if let (Some(needed), Some(have)) = (scope, scopes)
                && !have.contains(needed)
            {
                return Err(Denied::MissingScope(needed));
            }
            if role < min_role {
                return Err(Denied::InsufficientRole {
                    required: min_role,
                    actual: role,
                });
            }
            Ok(())
        }
    }
}

/// Whether `actor` may give `target` role `new_role`, or remove them
/// (`new_role == None`). Only owners touch owners; nobody acts above their
/// own role. The last-owner rule needs the owner count and lives with the
/// storage transaction that can count them consistently.
pub fn may_change_member(actor: Role, target_current: Role, new_role: Option<Role>) -> bool {
    if actor < Role::Admin {
        return false;
    }
    let touches_owner = target_current == Role::Owner || new_role == Some(Role::Owner);
    !(touches_owner && actor != Role::Owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_text_round_trips_and_rejects_unknown() {
        let all = ScopeSet::all();
        assert_eq!(ScopeSet::parse_text(&all.to_text()), Ok(all));
        assert_eq!(Scope::ALL.len(), 11);
        assert_eq!(
            ScopeSet::parse_text("leads:read bogus"),
            Err("bogus".to_string())
        );
    }

    #[test]
    fn key_needs_scope_and_role() {
        let access = Access::Org {
            scope: Some(Scope::LeadsWrite),
            min_role: Role::Member,
        };
        let only_read: ScopeSet = [Scope::LeadsRead].into_iter().collect();
        assert_eq!(
            authorize(access, Role::Owner, Some(only_read)),
            Err(Denied::MissingScope(Scope::LeadsWrite))
        );
        assert_eq!(
            authorize(access, Role::Viewer, Some(ScopeSet::all())),
            Err(Denied::InsufficientRole {
                required: Role::Member,
                actual: Role::Viewer
            })
        );
        assert_eq!(
            authorize(access, Role::Member, Some(ScopeSet::all())),
            Ok(())
        );
        assert_eq!(authorize(access, Role::Member, None), Ok(()));
    }

    #[test]
    fn only_owners_touch_owners() {
        assert!(!may_change_member(
            Role::Admin,
            Role::Owner,
            Some(Role::Admin)
        ));
        assert!(!may_change_member(
            Role::Admin,
            Role::Member,
            Some(Role::Owner)
        ));
        assert!(!may_change_member(Role::Admin, Role::Owner, None));
        assert!(may_change_member(
            Role::Admin,
            Role::Member,
            Some(Role::Admin)
        ));
        assert!(may_change_member(
            Role::Owner,
            Role::Owner,
            Some(Role::Viewer)
        ));
        assert!(!may_change_member(
            Role::Member,
            Role::Viewer,
            Some(Role::Viewer)
        ));
    }
}
