//! Campaigns: purpose, channel, voice, calling windows, attempt limits, caps.

use serde::{Deserialize, Serialize};
use tollgate_core::UnixMicros;
use tollgate_core::id::{CampaignId, CampaignKind};
use tollgate_gate::{DialChannel, Purpose, VoiceType};

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_optional};
use crate::scope::{Ctx, OrgScope};
use crate::{StoreError, new_id};

/// Calling windows by weekday (Monday first), minutes `[start, end)` in the
/// lead's local time; `None` = no calls that day.
pub type DayWindows = [Option<(u16, u16)>; 7];

/// What a campaign is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSpec {
    pub name: String,
    pub purpose: Purpose,
    pub channel: DialChannel,
    pub voice: VoiceType,
    /// `None`: only the legal windows apply.
    pub windows: Option<DayWindows>,
    pub max_attempts_per_lead: Option<u32>,
    /// `(max_attempts, window_hours)` rolling caps per number, org-wide.
    pub caps: Vec<(u32, u32)>,
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: CampaignId,
    pub spec: CampaignSpec,
    pub paused: bool,
    pub created_at: UnixMicros,
    pub updated_at: UnixMicros,
}

#[derive(Debug, Clone, Default)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub windows: Option<Option<DayWindows>>,
    pub max_attempts_per_lead: Option<Option<u32>>,
    pub caps: Option<Vec<(u32, u32)>>,
    pub paused: Option<bool>,
}

#[derive(Serialize, Deserialize)]
struct CapJson {
    max_attempts: u32,
    window_hours: u32,
}

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    id: String,
    name: String,
    purpose: String,
    channel: String,
    voice: String,
    windows: Option<String>,
    max_attempts_per_lead: Option<i64>,
    caps: String,
    paused: bool,
    created_at: i64,
    updated_at: i64,
}

impl Row {
    /// The first eleven columns of `r`, in the field order (the rusqlite
    /// reading of a statement that selects them as `#[derive(FromRow)]`
    /// does by name, ADR 0010).
    pub(super) fn from_direct(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            id: r.get(0)?,
            name: r.get(1)?,
            purpose: r.get(2)?,
            channel: r.get(3)?,
            voice: r.get(4)?,
            windows: r.get(5)?,
            max_attempts_per_lead: r.get(6)?,
            caps: r.get(7)?,
            paused: r.get(8)?,
            created_at: r.get(9)?,
            updated_at: r.get(10)?,
        })
    }

    pub(super) fn into_campaign(self) -> Result<Campaign, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("campaign {what}"));
        let windows = match &self.windows {
            None => None,
            Some(j) => Some(serde_json::from_str::<DayWindows>(j).map_err(|_| bad("windows"))?),
        };
        let caps: Vec<CapJson> = serde_json::from_str(&self.caps).map_err(|_| bad("caps"))?;
        Ok(Campaign {
            id: CampaignId::parse(&self.id)?,
            spec: CampaignSpec {
                name: self.name,
                purpose: Purpose::parse(&self.purpose).ok_or_else(|| bad("purpose"))?,
                channel: DialChannel::parse(&self.channel).ok_or_else(|| bad("channel"))?,
                voice: VoiceType::parse(&self.voice).ok_or_else(|| bad("voice"))?,
                windows,
                max_attempts_per_lead: self.max_attempts_per_lead.map(|n| n as u32),
                caps: caps
                    .into_iter()
                    .map(|c| (c.max_attempts, c.window_hours))
                    .collect(),
            },
            paused: self.paused,
            created_at: UnixMicros(self.created_at),
            updated_at: UnixMicros(self.updated_at),
        })
    }
}

fn caps_json(caps: &[(u32, u32)]) -> String {
    let v: Vec<CapJson> = caps
        .iter()
        .map(|&(max_attempts, window_hours)| CapJson {
            max_attempts,
            window_hours,
        })
        .collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

fn windows_json(w: &Option<DayWindows>) -> Option<String> {
    w.as_ref().and_then(|w| serde_json::to_string(w).ok())
}

/// Weekday keys of calling windows, in [`DayWindows`] order, as the API
/// and the audit log spell them.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Minutes after midnight as `HH:MM`.
pub fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The audit log's view of a campaign: windows as `{"mon": ["09:00", "20:00"]}`,
/// the way the API takes them, so a reader of the log needs no conversion.
fn summary(c: &Campaign) -> serde_json::Value {
    let windows = c.spec.windows.map(|w| {
        w.iter()
            .zip(WEEKDAYS)
            .filter_map(|(d, day)| {
                d.map(|(s, e)| (day.to_owned(), serde_json::json!([hhmm(s), hhmm(e)])))
            })
            .collect::<serde_json::Map<_, _>>()
    });
    serde_json::json!({
        "name": c.spec.name,
        "purpose": c.spec.purpose.as_str(),
        "channel": c.spec.channel.as_str(),
        "voice": c.spec.voice.as_str(),
        "windows": windows,
        "max_attempts_per_lead": c.spec.max_attempts_per_lead,
        "caps": c.spec.caps,
        "paused": c.paused,
    })
}

pub(crate) async fn by_id(tx: &mut Tx, org: &str, id: &str) -> Result<Campaign, StoreError> {
    fetch_optional!(
        tx,
        Row,
        "SELECT id, name, purpose, channel, voice, windows, max_attempts_per_lead, caps, paused, created_at, updated_at \
         FROM campaigns WHERE org_id = $1 AND id = $2",
        org,
        id
    )?
    .ok_or(StoreError::NotFound)?
    .into_campaign()
}

impl OrgScope<'_> {
    pub async fn create_campaign(
        &self,
        spec: CampaignSpec,
        ctx: &Ctx,
    ) -> Result<Campaign, StoreError> {
        let id = new_id::<CampaignKind>(ctx.now)?;
        let mut tx = self.write().await?;
        exec!(
            &mut tx,
            "INSERT INTO campaigns (id, org_id, name, purpose, channel, voice, windows, max_attempts_per_lead, caps, paused, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            id.as_str(),
            self.org(),
            spec.name.clone(),
            spec.purpose.as_str(),
            spec.channel.as_str(),
            spec.voice.as_str(),
            windows_json(&spec.windows),
            spec.max_attempts_per_lead.map(i64::from),
            caps_json(&spec.caps),
            false,
            ctx.now.0
        )?;
        let c = by_id(&mut tx, self.org(), id.as_str()).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "campaign.created",
                target: audit::target("campaign", &c.id),
                details: summary(&c),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    pub async fn get_campaign(&self, id: &CampaignId) -> Result<Campaign, StoreError> {
        let mut tx = self.read().await?;
        by_id(&mut tx, self.org(), id.as_str()).await
    }

    pub async fn list_campaigns(
        &self,
        after: Option<&CampaignId>,
        limit: u32,
    ) -> Result<Vec<Campaign>, StoreError> {
        let mut tx = self.read().await?;
        let rows = fetch_all!(
            &mut tx,
            Row,
            "SELECT id, name, purpose, channel, voice, windows, max_attempts_per_lead, caps, paused, created_at, updated_at \
             FROM campaigns WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            self.org(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        rows.into_iter().map(Row::into_campaign).collect()
    }

    /// Changes a campaign; pausing and resuming are audited as their own
    /// actions (the caller checks the role).
    pub async fn update_campaign(
        &self,
        id: &CampaignId,
        patch: CampaignPatch,
        ctx: &Ctx,
    ) -> Result<Campaign, StoreError> {
        let mut tx = self.write().await?;
        let before = by_id(&mut tx, self.org(), id.as_str()).await?;
        let mut spec = before.spec.clone();
        if let Some(n) = patch.name {
            spec.name = n;
        }
        if let Some(w) = patch.windows {
            spec.windows = w;
        }
        if let Some(m) = patch.max_attempts_per_lead {
            spec.max_attempts_per_lead = m;
        }
        if let Some(c) = patch.caps {
            spec.caps = c;
        }
        let paused = patch.paused.unwrap_or(before.paused);
        exec!(
            &mut tx,
            "UPDATE campaigns SET name = $3, windows = $4, max_attempts_per_lead = $5, caps = $6, paused = $7, updated_at = $8 \
             WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str(),
            spec.name.clone(),
            windows_json(&spec.windows),
            spec.max_attempts_per_lead.map(i64::from),
            caps_json(&spec.caps),
            paused,
            ctx.now.0
        )?;
        let after = by_id(&mut tx, self.org(), id.as_str()).await?;
        if spec != before.spec {
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "campaign.updated",
                    target: audit::target("campaign", id),
                    details: serde_json::json!({ "before": summary(&before), "after": summary(&after) }),
                },
                ctx,
            )
            .await?;
        }
        if paused != before.paused {
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: if paused {
                        "campaign.paused"
                    } else {
                        "campaign.resumed"
                    },
                    target: audit::target("campaign", id),
                    details: serde_json::json!({ "name": after.spec.name }),
                },
                ctx,
            )
            .await?;
        }
        tx.commit().await?;
        self.store.gate_config_changed();
        Ok(after)
    }
}
