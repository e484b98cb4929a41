//! A per-node cache of what a dial check needs to know about its campaign
//! and its organization's gate settings, so a busy gate does not read and
//! parse the campaign row for every decision.
//!
//! What is cached is configuration: the campaign (purpose, channel, voice,
//! calling windows, attempt limit, caps, its pause switch) and the
//! organization's pause switch, running-without-DNC acknowledgment and
//! choice of DNC provider (read before every dial's DNC lookup).
//! Never a fact about a number or a lead: suppression, the internal DNC
//! list, the suppression list's version and attempt counts are read at
//! decision time, in the decision's transaction. Only campaigns that exist
//! are cached.
//!
//! The rules are the credential cache's ([`crate::credential_cache`]): an
//! entry lives at most the time to live (one second by default), so a
//! change made on another node, a pause included, reaches this node's
//! decisions within that window; a change made through this node's store
//! forgets every entry when it commits, and a generation counter keeps a
//! read that raced the change from putting the old row back.

use std::sync::Arc;
use std::time::Duration;

use tollgate_rules::{RollingCap, WeeklyWindow};

use crate::credential_cache::{Generation, Ticket, TtlCache};
use crate::gate::Campaign;

/// How long a campaign and its organization's settings are trusted without
/// reading them again: the same window as a revoked credential's.
pub const DEFAULT_TTL: Duration = crate::credential_cache::DEFAULT_TTL;

/// A campaign as the decision uses it, with the organization's switches.
#[derive(Debug)]
pub(crate) struct CampaignGate {
    /// The owner, checked on every hit: campaign ids are unique, but a hit
    /// for another organization is treated as a miss all the same.
    pub(crate) org: String,
    pub(crate) campaign: Campaign,
    pub(crate) window: Option<WeeklyWindow>,
    pub(crate) caps: Vec<RollingCap>,
    pub(crate) org_paused: bool,
    pub(crate) dnc_acknowledged: bool,
}

pub(crate) struct GateCache {
    ttl: Duration,
    generation: Generation,
    campaigns: TtlCache<Arc<CampaignGate>>,
    /// Each organization's DNC provider credential, by organization id
    /// (`None`: the deployment's registry index answers).
    providers: TtlCache<Option<String>>,
}

impl GateCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        GateCache {
            ttl,
            generation: Generation::default(),
            campaigns: TtlCache::new(),
            providers: TtlCache::new(),
        }
    }

    pub(crate) fn get(&self, org: &str, campaign_id: &str) -> Option<Arc<CampaignGate>> {
        if self.ttl.is_zero() {
            return None;
        }
        self.campaigns
            .get(campaign_id, self.ttl)
            .filter(|c| c.org == org)
    }

    /// Taken before reading the rows: they may be cached only if no change
    /// was committed through this node since.
    pub(crate) fn ticket(&self) -> Ticket {
        self.generation.ticket()
    }

    pub(crate) fn put(&self, ticket: Ticket, campaign_id: &str, entry: Arc<CampaignGate>) {
        if !self.ttl.is_zero() && self.generation.is_current(ticket) {
            self.campaigns.put(campaign_id, entry, ticket.at, self.ttl);
        }
    }

    /// The organization's DNC provider choice, when cached.
    pub(crate) fn provider(&self, org: &str) -> Option<Option<String>> {
        if self.ttl.is_zero() {
            return None;
        }
        self.providers.get(org, self.ttl)
    }

    pub(crate) fn put_provider(&self, ticket: Ticket, org: &str, provider: Option<String>) {
        if !self.ttl.is_zero() && self.generation.is_current(ticket) {
            self.providers.put(org, provider, ticket.at, self.ttl);
        }
    }

    /// Forgets every entry, after a committed change to a campaign or to an
    /// organization's gate settings. Such changes are rare; forgetting
    /// everything is simpler than finding the entries a change touched.
    pub(crate) fn invalidate(&self) {
        self.generation.bump();
        self.campaigns.clear();
        self.providers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::UnixMicros;
    use tollgate_core::id::CampaignId;
    use tollgate_gate::{DialChannel, Purpose, VoiceType};

    fn entry(org: &str, paused: bool) -> Arc<CampaignGate> {
        Arc::new(CampaignGate {
            org: org.to_owned(),
            campaign: Campaign {
                id: CampaignId::generate(0, [1; 10]),
                spec: crate::gate::CampaignSpec {
                    name: "c".into(),
                    purpose: Purpose::Informational,
                    channel: DialChannel::Voice,
                    voice: VoiceType::Live,
                    windows: None,
                    max_attempts_per_lead: None,
                    caps: Vec::new(),
                },
                paused,
                created_at: UnixMicros(0),
                updated_at: UnixMicros(0),
            },
            window: None,
            caps: Vec::new(),
            org_paused: false,
            dnc_acknowledged: false,
        })
    }

    #[test]
    fn an_entry_expires_after_the_ttl() {
        let cache = GateCache::new(Duration::from_millis(30));
        cache.put(cache.ticket(), "c", entry("org_a", false));
        assert!(cache.get("org_a", "c").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("org_a", "c").is_none());
    }

    #[test]
    fn a_provider_choice_is_per_organization_and_forgotten_on_a_change() {
        let cache = GateCache::new(DEFAULT_TTL);
        assert_eq!(cache.provider("org_a"), None);
        cache.put_provider(cache.ticket(), "org_a", Some("pcr_1".into()));
        cache.put_provider(cache.ticket(), "org_b", None);
        assert_eq!(cache.provider("org_a"), Some(Some("pcr_1".into())));
        assert_eq!(cache.provider("org_b"), Some(None));
        let before = cache.ticket();
        cache.invalidate();
        assert_eq!(cache.provider("org_a"), None);
        cache.put_provider(before, "org_a", Some("pcr_1".into()));
        assert_eq!(cache.provider("org_a"), None, "read before the change");
        assert_eq!(GateCache::new(Duration::ZERO).provider("org_a"), None);
    }

    #[test]
    fn another_organization_never_gets_the_entry() {
        let cache = GateCache::new(DEFAULT_TTL);
        cache.put(cache.ticket(), "c", entry("org_a", false));
        assert!(cache.get("org_b", "c").is_none());
    }

    #[test]
    fn a_row_read_before_a_change_is_not_stored_after_it() {
        let cache = GateCache::new(DEFAULT_TTL);
        cache.put(cache.ticket(), "c", entry("org_a", false));
        let racing = cache.ticket();
        cache.invalidate();
        assert!(cache.get("org_a", "c").is_none());
        cache.put(racing, "c", entry("org_a", false));
        assert!(cache.get("org_a", "c").is_none());
        cache.put(cache.ticket(), "c", entry("org_a", true));
        assert!(cache.get("org_a", "c").unwrap().campaign.paused);
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = GateCache::new(Duration::ZERO);
        cache.put(cache.ticket(), "c", entry("org_a", false));
        assert!(cache.get("org_a", "c").is_none());
    }
}
