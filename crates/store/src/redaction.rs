//! Redaction policies: the organization's default and each campaign's own
//! (applied together with the default: a campaign can only remove more). An organization without a row redacts with
//! [`Policy::standard`]: every kind, nothing ever left in by default.

use tollgate_core::id::CampaignId;
use tollgate_core::id::RedactionPolicyKind;
use tollgate_core::{RedactionPolicyId, UnixMicros};
use tollgate_redact::{Kind, KindSet, Policy};

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_optional};
use crate::redacted::{card_style_code, parse_card_style, policy_json};
use crate::scope::{Ctx, OrgScope};
use crate::{StoreError, new_id};

/// A stored policy, or the built-in default (`id` None).
#[derive(Debug, Clone)]
pub struct RedactionPolicy {
    pub id: Option<RedactionPolicyId>,
    pub policy: Policy,
    pub updated_at: Option<UnixMicros>,
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: String,
    kinds: String,
    card_style: String,
    strict_pci: bool,
    min_score: i32,
    updated_at: i64,
}

impl PolicyRow {
    fn into_policy(self) -> Result<RedactionPolicy, StoreError> {
        let mut kinds = KindSet::EMPTY;
        for code in self.kinds.split_ascii_whitespace() {
            kinds = kinds.with(
                Kind::from_code(code)
                    .ok_or_else(|| StoreError::Corrupt(format!("redaction kind `{code}`")))?,
            );
        }
        Ok(RedactionPolicy {
            id: Some(RedactionPolicyId::parse(&self.id)?),
            policy: Policy {
                kinds,
                card: parse_card_style(&self.card_style)
                    .ok_or_else(|| StoreError::Corrupt("card style".into()))?,
                strict_pci: self.strict_pci,
                min_score: u8::try_from(self.min_score)
                    .map_err(|_| StoreError::Corrupt("min_score".into()))?,
            },
            updated_at: Some(UnixMicros(self.updated_at)),
        })
    }
}

fn kinds_text(k: KindSet) -> String {
    k.iter().map(Kind::code).collect::<Vec<_>>().join(" ")
}

/// Checks a policy an organization asks for. Card numbers are always
/// removed: keeping them would put every deployment in PCI DSS scope, and
/// the engine removes a valid card whatever its context for the same reason.
/// The confidence threshold may only be lowered (remove more).
pub fn validate(p: &Policy) -> Result<(), StoreError> {
    if !p.kinds.contains(Kind::Card) {
        return Err(StoreError::Invalid(
            "`kinds` must include `card`: card numbers are always removed.".into(),
        ));
    }
    if p.min_score > Policy::standard().min_score {
        return Err(StoreError::Invalid(format!(
            "`min_score` may be at most {} (higher would leave more in).",
            Policy::standard().min_score
        )));
    }
    Ok(())
}

/// What both policies remove: the union of kinds, strict mode if either
/// has it, `[CARD]` tags if either asks, the lower threshold.
pub fn strictest(a: &Policy, b: &Policy) -> Policy {
    let mut kinds = a.kinds;
    for k in b.kinds.iter() {
        kinds = kinds.with(k);
    }
    Policy {
        kinds,
        card: if a.card == tollgate_redact::CardStyle::Tag
            || b.card == tollgate_redact::CardStyle::Tag
        {
            tollgate_redact::CardStyle::Tag
        } else {
            a.card
        },
        strict_pci: a.strict_pci || b.strict_pci,
        min_score: a.min_score.min(b.min_score),
    }
}

/// Updates the policy row `existing`, or inserts one: the organization's
/// default (`campaign` None) or the campaign's.
async fn write_row(
    tx: &mut Tx,
    org: &str,
    existing: Option<&RedactionPolicyId>,
    policy: &Policy,
    campaign: Option<&CampaignId>,
    now: UnixMicros,
) -> Result<RedactionPolicyId, StoreError> {
    if let Some(id) = existing {
        exec!(
            &mut *tx,
            "UPDATE redaction_policies SET kinds = $3, card_style = $4, strict_pci = $5, min_score = $6, updated_at = $7 \
             WHERE org_id = $1 AND id = $2",
            org,
            id.as_str(),
            kinds_text(policy.kinds),
            card_style_code(policy.card),
            policy.strict_pci,
            i32::from(policy.min_score),
            now.0
        )?;
        return Ok(id.clone());
    }
    let id = new_id::<RedactionPolicyKind>(now)?;
    exec!(
        &mut *tx,
        "INSERT INTO redaction_policies (id, org_id, is_default, kinds, card_style, strict_pci, min_score, \
         created_at, updated_at, campaign_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
        id.as_str(),
        org,
        campaign.is_none(),
        kinds_text(policy.kinds),
        card_style_code(policy.card),
        policy.strict_pci,
        i32::from(policy.min_score),
        now.0,
        campaign.map(|c| c.as_str().to_owned())
    )?;
    Ok(id)
}

async fn campaign_exists(tx: &mut Tx, org: &str, campaign: &CampaignId) -> Result<(), StoreError> {
    fetch_optional!(
        &mut *tx,
        (String,),
        "SELECT id FROM campaigns WHERE org_id = $1 AND id = $2",
        org,
        campaign.as_str()
    )?
    .ok_or(StoreError::NotFound)?;
    Ok(())
}

async fn campaign_row(
    tx: &mut Tx,
    org: &str,
    campaign: &CampaignId,
) -> Result<Option<RedactionPolicy>, StoreError> {
    fetch_optional!(
        &mut *tx,
        PolicyRow,
        "SELECT id, kinds, card_style, strict_pci, min_score, updated_at FROM redaction_policies \
         WHERE org_id = $1 AND campaign_id = $2",
        org,
        campaign.as_str()
    )?
    .map(PolicyRow::into_policy)
    .transpose()
}

async fn default_row(tx: &mut Tx, org: &str) -> Result<RedactionPolicy, StoreError> {
    match fetch_optional!(
        tx,
        PolicyRow,
        "SELECT id, kinds, card_style, strict_pci, min_score, updated_at FROM redaction_policies \
         WHERE org_id = $1 AND is_default",
        org
    )? {
        Some(row) => row.into_policy(),
        None => Ok(RedactionPolicy {
            id: None,
            policy: Policy::standard(),
            updated_at: None,
        }),
    }
}

impl OrgScope<'_> {
    /// The organization's policy in force.
    pub async fn redaction_policy(&self) -> Result<RedactionPolicy, StoreError> {
        let mut tx = self.read().await?;
        default_row(&mut tx, self.org()).await
    }

    /// The policy for what is submitted about a call: NotFound when the
    /// call is not this organization's. Campaign policies plug in here (the
    /// call's campaign's policy row when it has one, else the default).
    pub async fn redaction_policy_for_call(
        &self,
        call: &tollgate_core::CallId,
    ) -> Result<RedactionPolicy, StoreError> {
        let mut tx = self.read().await?;
        fetch_optional!(
            &mut tx,
            (String,),
            "SELECT id FROM calls WHERE org_id = $1 AND id = $2",
            self.org(),
            call.as_str()
        )?
        .ok_or(StoreError::NotFound)?;
        let org_default = default_row(&mut tx, self.org()).await?;
        let campaign = fetch_optional!(
            &mut tx,
            PolicyRow,
            "SELECT p.id, p.kinds, p.card_style, p.strict_pci, p.min_score, p.updated_at \
             FROM calls c JOIN redaction_policies p ON p.org_id = c.org_id AND p.campaign_id = c.campaign_id \
             WHERE c.org_id = $1 AND c.id = $2",
            self.org(),
            call.as_str()
        )?;
        match campaign {
            None => Ok(org_default),
            Some(row) => {
                let campaign = row.into_policy()?;
                Ok(RedactionPolicy {
                    policy: strictest(&campaign.policy, &org_default.policy),
                    ..campaign
                })
            }
        }
    }

    /// A campaign's own policy, if it has one; NotFound when the campaign is
    /// not this organization's.
    pub async fn campaign_redaction_policy(
        &self,
        campaign: &CampaignId,
    ) -> Result<Option<RedactionPolicy>, StoreError> {
        let mut tx = self.read().await?;
        campaign_exists(&mut tx, self.org(), campaign).await?;
        campaign_row(&mut tx, self.org(), campaign).await
    }

    /// Sets a campaign's policy; audited with before and after.
    pub async fn put_campaign_redaction_policy(
        &self,
        campaign: &CampaignId,
        policy: Policy,
        ctx: &Ctx,
    ) -> Result<RedactionPolicy, StoreError> {
        validate(&policy)?;
        let mut tx = self.write().await?;
        tx.lock_org(self.org()).await?;
        campaign_exists(&mut tx, self.org(), campaign).await?;
        let before = campaign_row(&mut tx, self.org(), campaign).await?;
        let existing = before.as_ref().and_then(|b| b.id.clone());
        let id = write_row(
            &mut tx,
            self.org(),
            existing.as_ref(),
            &policy,
            Some(campaign),
            ctx.now,
        )
        .await?;
        let after = campaign_row(&mut tx, self.org(), campaign)
            .await?
            .ok_or_else(|| StoreError::Corrupt("campaign policy vanished".into()))?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "redaction_policy.campaign_updated",
                target: audit::target("redaction_policy", &id),
                details: serde_json::json!({
                    "campaign_id": campaign.as_str(),
                    "before": before.as_ref().map(|b| policy_json(&b.policy)),
                    "after": policy_json(&after.policy),
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Removes a campaign's policy: its calls use the organization's again.
    pub async fn delete_campaign_redaction_policy(
        &self,
        campaign: &CampaignId,
        ctx: &Ctx,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        campaign_exists(&mut tx, self.org(), campaign).await?;
        let before = campaign_row(&mut tx, self.org(), campaign)
            .await?
            .ok_or(StoreError::NotFound)?;
        exec!(
            &mut tx,
            "DELETE FROM redaction_policies WHERE org_id = $1 AND campaign_id = $2",
            self.org(),
            campaign.as_str()
        )?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "redaction_policy.campaign_removed",
                target: audit::target("campaign", campaign),
                details: serde_json::json!({ "before": policy_json(&before.policy) }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the organization's policy; audited with before and after.
    pub async fn put_redaction_policy(
        &self,
        policy: Policy,
        ctx: &Ctx,
    ) -> Result<RedactionPolicy, StoreError> {
        validate(&policy)?;
        let mut tx = self.write().await?;
        tx.lock_org(self.org()).await?;
        let before = default_row(&mut tx, self.org()).await?;
        let id = write_row(
            &mut tx,
            self.org(),
            before.id.as_ref(),
            &policy,
            None,
            ctx.now,
        )
        .await?;
        let after = default_row(&mut tx, self.org()).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "redaction_policy.updated",
                target: audit::target("redaction_policy", &id),
                details: serde_json::json!({
                    "before": policy_json(&before.policy),
                    "after": policy_json(&after.policy),
                    "before_builtin": before.id.is_none(),
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}
