//! Human sign-in: emailed links (with a short code for another device),
//! cookie sessions, TOTP second factors and recovery codes.
//!
//! Everything here belongs to a person rather than a tenant; the person is
//! always derived from a verified credential (a link, a code, a session
//! token), never from input. Audit events go to the organization the person
//! is signing in to, or, for failures tied to a person, to every
//! organization they belong to, so each tenant's admins see attacks on their
//! members.

use tollgate_core::audit::ActorRef;
use tollgate_core::id::SessionKind;
use tollgate_core::token::{self, NewToken, TokenHash, TokenKind};
use tollgate_core::{MemberId, OrgId, Role, SessionId, UnixMicros, UserId};
use zeroize::Zeroizing;

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_optional};
use crate::members::email_hash;
use crate::scope::{Actor, Ctx, Principal};
use crate::vault::EncryptedColumn;
use crate::{Store, StoreError, mac_array, new_id, random_bytes};

/// Wrong codes allowed against one emailed link before it is burnt.
pub const MAX_CODE_ATTEMPTS: i32 = 5;
/// `last_seen_at` is written at most this often per session.
const LAST_SEEN_GRANULARITY_MICROS: i64 = 60 * UnixMicros::SECOND;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    SignIn,
    Invitation,
}

impl LinkPurpose {
    fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::SignIn => "sign_in",
            LinkPurpose::Invitation => "invitation",
        }
    }
}

/// A freshly issued link: the token for the URL and the code, both shown
/// only in the email.
pub struct IssuedLink {
    pub token: NewToken,
    pub code: Zeroizing<String>,
    pub email: String,
    pub expires_at: UnixMicros,
}

/// What opening a link shows, before anything is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Usable { invitation: bool },
    Used,
    Expired,
    Unknown,
}

/// A link or code that was consumed: who signs in, and why.
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub user_id: UserId,
    pub purpose: LinkPurpose,
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedeemFailure {
    #[error("unknown link or code")]
    Unknown,
    #[error("already used")]
    Used,
    #[error("expired")]
    Expired,
    #[error("too many wrong codes")]
    Locked,
}

/// The stage of a session: a person who passed the email step but still
/// owes a second factor (or must first enroll one) reaches only those pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    Full,
    SecondFactor,
    Enroll,
}

impl SessionStage {
    fn as_str(self) -> &'static str {
        match self {
            SessionStage::Full => "full",
            SessionStage::SecondFactor => "second_factor",
            SessionStage::Enroll => "enroll",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "full" => Ok(SessionStage::Full),
            "second_factor" => Ok(SessionStage::SecondFactor),
            "enroll" => Ok(SessionStage::Enroll),
            other => Err(StoreError::Corrupt(format!("session stage {other}"))),
        }
    }
}

/// A session as the person sees it on "my sessions".
#[derive(Debug, Clone)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub org_id: Option<OrgId>,
    pub stage: SessionStage,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: UnixMicros,
    pub last_seen_at: UnixMicros,
    pub rotated_at: UnixMicros,
    pub expires_at: UnixMicros,
}

pub struct NewSession {
    pub session: Session,
    pub token: NewToken,
}

/// Lifetimes of a session, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub absolute_secs: i64,
    pub idle_secs: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionFailure {
    #[error("no session")]
    Unknown,
    #[error("session ended")]
    Ended,
}

/// One organization a person belongs to, for the switcher.
#[derive(Debug, Clone)]
pub struct OrgChoice {
    pub org_id: OrgId,
    pub org_name: String,
    pub member_id: MemberId,
    pub role: Role,
    pub active: bool,
    pub require_2fa_admins: bool,
}

/// A person's TOTP secret: sealed with the system data key, bound to the
/// person's row, because it must be recovered to check each code.
pub(crate) const TOTP_SECRET: EncryptedColumn = EncryptedColumn {
    table: "totp_factors",
    id_column: "user_id",
    column: "secret",
    system: true,
    legacy_plaintext: None,
};

/// The state of a person's TOTP factor.
pub struct TotpFactor {
    pub secret: Zeroizing<Vec<u8>>,
    pub confirmed: bool,
    pub last_step: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    user_id: String,
    hash_key_id: String,
    hash: Vec<u8>,
    code_key_id: String,
    code_hash: Vec<u8>,
    code_attempts: i32,
    purpose: String,
    org_id: Option<String>,
    expires_at: i64,
    consumed_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    hash_key_id: String,
    hash: Vec<u8>,
    user_id: String,
    org_id: Option<String>,
    stage: String,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: i64,
    last_seen_at: i64,
    rotated_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl SessionRow {
    fn into_session(self) -> Result<Session, StoreError> {
        Ok(Session {
            id: SessionId::parse(&self.id)?,
            user_id: UserId::parse(&self.user_id)?,
            org_id: self.org_id.as_deref().map(OrgId::parse).transpose()?,
            stage: SessionStage::parse(&self.stage)?,
            ip: self.ip,
            user_agent: self.user_agent,
            created_at: UnixMicros(self.created_at),
            last_seen_at: UnixMicros(self.last_seen_at),
            rotated_at: UnixMicros(self.rotated_at),
            expires_at: UnixMicros(self.expires_at),
        })
    }
}

/// Eight digits from a uniform draw (rejection sampling, no modulo bias),
/// shown as "1234 5678" and typed with or without the space.
fn new_code() -> Result<Zeroizing<String>, StoreError> {
    loop {
        let bytes = random_bytes::<4>()?;
        let v = u32::from_be_bytes(*bytes);
        // 4_200_000_000 is the largest multiple of 10^8 below 2^32.
        if v < 4_200_000_000 {
            return Ok(Zeroizing::new(format!("{:08}", v % 100_000_000)));
        }
    }
}

/// The form in which codes are hashed: digits only, bound to their link so
/// a code cannot be tried against another person's link.
fn code_material(lookup: &str, code: &str) -> Zeroizing<String> {
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    Zeroizing::new(format!("sign-in-code\0{lookup}\0{digits}"))
}

fn recovery_material(user_id: &UserId, code: &str) -> Zeroizing<String> {
    let canonical: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Zeroizing::new(format!("recovery-code\0{}\0{canonical}", user_id.as_str()))
}

fn member_ref(member: &MemberId) -> ActorRef {
    ActorRef {
        kind: "member".into(),
        id: Some(member.to_string()),
    }
}

impl Store {
    /// Finds the person an address belongs to, if they have any membership.
    async fn user_for_email(&self, tx: &mut Tx, email: &str) -> Result<Option<UserId>, StoreError> {
        let row = fetch_optional!(
            &mut *tx,
            (String,),
            "SELECT d.user_id FROM user_directory d \
             WHERE d.email_hash = $1 AND EXISTS (SELECT 1 FROM membership_directory m WHERE m.user_id = d.user_id)",
            email_hash(email)
        )?;
        row.map(|(id,)| UserId::parse(&id).map_err(StoreError::from))
            .transpose()
    }

    /// Issues a sign-in link for `email`, or nothing if no person with a
    /// membership has that address. The caller must answer the same either
    /// way (and take the same time: see the server's sign-in handler).
    pub async fn issue_sign_in_link(
        &self,
        email: &str,
        now: UnixMicros,
        ttl_secs: i64,
    ) -> Result<Option<IssuedLink>, StoreError> {
        let mut tx = self.pool.write().await?;
        let Some(user_id) = self.user_for_email(&mut tx, email).await? else {
            return Ok(None);
        };
        let issued = insert_link(
            &mut tx,
            self,
            &user_id,
            email,
            LinkPurpose::SignIn,
            None,
            now,
            ttl_secs,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(issued))
    }

    /// Whether a presented link could be used; consumes nothing.
    pub async fn sign_in_link_state(
        &self,
        presented: &str,
        now: UnixMicros,
    ) -> Result<LinkState, StoreError> {
        let Ok(lookup) = token::parse(TokenKind::SignInLink, presented) else {
            return Ok(LinkState::Unknown);
        };
        let mut tx = self.pool.read().await?;
        let Some(row) = link_row(&mut tx, lookup).await? else {
            return Ok(LinkState::Unknown);
        };
        let stored = TokenHash {
            key_id: row.hash_key_id,
            mac: mac_array(row.hash)?,
        };
        Ok(if !self.hasher.verify(&stored, presented) {
            LinkState::Unknown
        } else if row.consumed_at.is_some() {
            LinkState::Used
        } else if row.expires_at <= now.0 {
            LinkState::Expired
        } else {
            LinkState::Usable {
                invitation: row.purpose == "invitation",
            }
        })
    }

    /// Consumes a link: exactly one caller succeeds, even under a race.
    pub async fn redeem_sign_in_link(
        &self,
        presented: &str,
        now: UnixMicros,
    ) -> Result<Result<Redeemed, RedeemFailure>, StoreError> {
        let Ok(lookup) = token::parse(TokenKind::SignInLink, presented) else {
            return Ok(Err(RedeemFailure::Unknown));
        };
        let mut tx = self.pool.write().await?;
        let Some(row) = link_row(&mut tx, lookup).await? else {
            return Ok(Err(RedeemFailure::Unknown));
        };
        let stored = TokenHash {
            key_id: row.hash_key_id.clone(),
            mac: mac_array(row.hash.clone())?,
        };
        if !self.hasher.verify(&stored, presented) {
            return Ok(Err(RedeemFailure::Unknown));
        }
        let outcome = consume(&mut tx, lookup, row, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Consumes a link through its emailed code. `pending` is the link's
    /// public lookup, carried by the page that asked for the code. Each
    /// wrong code counts; after [`MAX_CODE_ATTEMPTS`] the link is dead.
    pub async fn redeem_sign_in_code(
        &self,
        pending: &str,
        code: &str,
        ctx: &Ctx,
    ) -> Result<Result<Redeemed, RedeemFailure>, StoreError> {
        let now = ctx.now;
        let mut tx = self.pool.write().await?;
        let Some(row) = link_row(&mut tx, pending).await? else {
            return Ok(Err(RedeemFailure::Unknown));
        };
        if row.code_attempts >= MAX_CODE_ATTEMPTS {
            return Ok(Err(RedeemFailure::Locked));
        }
        let stored = TokenHash {
            key_id: row.code_key_id.clone(),
            mac: mac_array(row.code_hash.clone())?,
        };
        if !self.hasher.verify(&stored, &code_material(pending, code)) {
            exec!(
                &mut tx,
                "UPDATE sign_in_links SET code_attempts = code_attempts + 1 WHERE lookup = $1",
                pending
            )?;
            // Each wrong code is a security event in the person's organizations.
            let user = UserId::parse(&row.user_id)?;
            let attempts = row.code_attempts + 1;
            let action = if attempts >= MAX_CODE_ATTEMPTS {
                "auth.sign_in_code_locked"
            } else {
                "auth.sign_in_code_failed"
            };
            self.audit_user_event(
                &mut tx,
                &user,
                None,
                action,
                None,
                serde_json::json!({ "attempts": attempts }),
                "denied",
                ctx,
            )
            .await?;
            tx.commit().await?;
            return Ok(Err(RedeemFailure::Unknown));
        }
        let outcome = consume(&mut tx, pending, row, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Issues an invitation link for a member just invited by `OrgScope`.
    pub async fn issue_invitation_link(
        &self,
        org_id: &OrgId,
        member_id: &MemberId,
        now: UnixMicros,
        ttl_secs: i64,
    ) -> Result<IssuedLink, StoreError> {
        let mut tx = self.pool.write().await?;
        tx.bind_org(org_id.as_str()).await?;
        let (user_id, email) = fetch_optional!(
            &mut tx,
            (String, String),
            "SELECT u.id, u.email FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND m.id = $2 AND m.status = 'invited'",
            org_id.as_str(),
            member_id.as_str()
        )?
        .ok_or(StoreError::NotFound)?;
        let user_id = UserId::parse(&user_id)?;
        let issued = insert_link(
            &mut tx,
            self,
            &user_id,
            &email,
            LinkPurpose::Invitation,
            Some(org_id),
            now,
            ttl_secs,
        )
        .await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// The organizations a person belongs to (active and invited).
    pub async fn orgs_of_user(&self, user_id: &UserId) -> Result<Vec<OrgChoice>, StoreError> {
        let mut tx = self.pool.read().await?;
        let orgs = fetch_all!(
            &mut tx,
            (String,),
            "SELECT org_id FROM membership_directory WHERE user_id = $1 ORDER BY org_id",
            user_id.as_str()
        )?;
        let mut out = Vec::with_capacity(orgs.len());
        for (org,) in orgs {
            tx.bind_org(&org).await?;
            let row = fetch_optional!(
                &mut tx,
                (String, String, String, String, bool),
                "SELECT o.name, m.id, m.role, m.status, o.require_2fa_admins FROM memberships m \
                 JOIN organizations o ON o.id = m.org_id WHERE m.org_id = $1 AND m.user_id = $2",
                org.as_str(),
                user_id.as_str()
            )?;
            if let Some((name, member, role, status, require)) = row {
                out.push(OrgChoice {
                    org_id: OrgId::parse(&org)?,
                    org_name: name,
                    member_id: MemberId::parse(&member)?,
                    role: role
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("role {role}")))?,
                    active: status == "active",
                    require_2fa_admins: require,
                });
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Activates an invited membership (the invitee opened their link).
    pub async fn accept_invitation(
        &self,
        user_id: &UserId,
        org_id: &OrgId,
        ctx: &Ctx,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.write().await?;
        tx.bind_org(org_id.as_str()).await?;
        let row = fetch_optional!(
            &mut tx,
            (String,),
            "UPDATE memberships SET status = 'active', updated_at = $3 \
             WHERE org_id = $1 AND user_id = $2 AND status = 'invited' RETURNING id",
            org_id.as_str(),
            user_id.as_str(),
            ctx.now.0
        )?;
        if let Some((member,)) = row {
            let member = MemberId::parse(&member)?;
            audit::append(
                &mut tx,
                org_id.as_str(),
                Draft {
                    actor: member_ref(&member),
                    action: "member.invitation_accepted",
                    target: audit::target("member", &member),
                    details: serde_json::json!({}),
                },
                ctx,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Starts a session in `org_id` (or none yet) at `stage`.
    pub async fn create_session(
        &self,
        user_id: &UserId,
        org_id: Option<&OrgId>,
        stage: SessionStage,
        policy: SessionPolicy,
        ctx: &Ctx,
    ) -> Result<NewSession, StoreError> {
        let id = new_id::<SessionKind>(ctx.now)?;
        let token = mint(TokenKind::Session)?;
        let hash = self.hasher.hash(&token.plaintext);
        let expires_at = ctx.now.plus_secs(policy.absolute_secs);
        let ip = ctx.request.ip.clone();
        let ua = ctx
            .request
            .user_agent
            .as_deref()
            .map(|s| s.chars().take(256).collect::<String>());
        let mut tx = self.pool.write().await?;
        exec!(
            &mut tx,
            "INSERT INTO sessions (id, lookup, hash_key_id, hash, user_id, org_id, stage, ip, user_agent, \
             created_at, last_seen_at, rotated_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10, $11)",
            id.as_str(),
            token.lookup.clone(),
            hash.key_id,
            hash.mac.to_vec(),
            user_id.as_str(),
            org_id.map(|o| o.as_str().to_owned()),
            stage.as_str(),
            ip.clone(),
            ua.clone(),
            ctx.now.0,
            expires_at.0
        )?;
        if let (Some(org), SessionStage::Full) = (org_id, stage) {
            self.audit_signed_in(&mut tx, user_id, org, &id, ctx)
                .await?;
        }
        tx.commit().await?;
        Ok(NewSession {
            session: Session {
                id,
                user_id: user_id.clone(),
                org_id: org_id.cloned(),
                stage,
                ip,
                user_agent: ua,
                created_at: ctx.now,
                last_seen_at: ctx.now,
                rotated_at: ctx.now,
                expires_at,
            },
            token,
        })
    }

    async fn audit_signed_in(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        org: &OrgId,
        session: &SessionId,
        ctx: &Ctx,
    ) -> Result<(), StoreError> {
        tx.bind_org(org.as_str()).await?;
        let member = fetch_optional!(
            &mut *tx,
            (String,),
            "SELECT id FROM memberships WHERE org_id = $1 AND user_id = $2",
            org.as_str(),
            user_id.as_str()
        )?;
        if let Some((member,)) = member {
            let member = MemberId::parse(&member)?;
            audit::append(
                tx,
                org.as_str(),
                Draft {
                    actor: member_ref(&member),
                    action: "auth.signed_in",
                    target: audit::target("session", session),
                    details: serde_json::json!({}),
                },
                ctx,
            )
            .await?;
        }
        Ok(())
    }

    /// Checks a session cookie: known, not revoked, inside its absolute
    /// lifetime and its idle timeout. Refreshes `last_seen_at` (coarsely).
    pub async fn authenticate_session(
        &self,
        presented: &str,
        policy: SessionPolicy,
        now: UnixMicros,
    ) -> Result<Result<Session, SessionFailure>, StoreError> {
        let Ok(lookup) = token::parse(TokenKind::Session, presented) else {
            return Ok(Err(SessionFailure::Unknown));
        };
        let mut tx = self.pool.read().await?;
        let row = fetch_optional!(
            &mut tx,
            SessionRow,
            "SELECT id, hash_key_id, hash, user_id, org_id, stage, ip, user_agent, created_at, last_seen_at, rotated_at, expires_at, revoked_at FROM sessions WHERE lookup = $1",
            lookup
        )?;
        tx.commit().await?;
        let Some(row) = row else {
            return Ok(Err(SessionFailure::Unknown));
        };
        let stored = TokenHash {
            key_id: row.hash_key_id.clone(),
            mac: mac_array(row.hash.clone())?,
        };
        if !self.hasher.verify(&stored, presented) {
            return Ok(Err(SessionFailure::Unknown));
        }
        if row.revoked_at.is_some()
            || row.expires_at <= now.0
            || row.last_seen_at + policy.idle_secs * UnixMicros::SECOND <= now.0
        {
            return Ok(Err(SessionFailure::Ended));
        }
        let session = row.into_session()?;
        if now.0 - session.last_seen_at.0 >= LAST_SEEN_GRANULARITY_MICROS {
            let mut tx = self.pool.write().await?;
            exec!(
                &mut tx,
                "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
                session.id.as_str(),
                now.0
            )?;
            tx.commit().await?;
        }
        Ok(Ok(session))
    }

    /// Replaces a session's token (the old cookie stops working at once)
    /// and optionally moves it to another stage or organization.
    pub async fn rotate_session(
        &self,
        session: &SessionId,
        stage: SessionStage,
        org_id: Option<&OrgId>,
        now: UnixMicros,
    ) -> Result<NewToken, StoreError> {
        let token = mint(TokenKind::Session)?;
        let hash = self.hasher.hash(&token.plaintext);
        let mut tx = self.pool.write().await?;
        let n = exec!(
            &mut tx,
            "UPDATE sessions SET lookup = $2, hash_key_id = $3, hash = $4, rotated_at = $5, stage = $6, org_id = $7 \
             WHERE id = $1 AND revoked_at IS NULL",
            session.as_str(),
            token.lookup.clone(),
            hash.key_id,
            hash.mac.to_vec(),
            now.0,
            stage.as_str(),
            org_id.map(|o| o.as_str().to_owned())
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(token)
    }

    /// Completes a second-factor step or enrollment: the session becomes
    /// full in `org_id`, with a new token, and the sign-in is audited.
    pub async fn elevate_session(
        &self,
        session: &Session,
        org_id: &OrgId,
        ctx: &Ctx,
    ) -> Result<NewToken, StoreError> {
        let token = self
            .rotate_session(&session.id, SessionStage::Full, Some(org_id), ctx.now)
            .await?;
        let mut tx = self.pool.write().await?;
        self.audit_signed_in(&mut tx, &session.user_id, org_id, &session.id, ctx)
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The acting identity of a full session in its organization: the
    /// membership's current role, so a role change applies on the next
    /// request and a removed member is refused.
    ///
    /// Also says whether the organization requires a second factor this
    /// person has not enrolled (owners and admins of a `require_2fa_admins`
    /// organization), in which case only enrollment may proceed.
    pub async fn session_actor(
        &self,
        session: &Session,
    ) -> Result<Option<(Actor, bool)>, StoreError> {
        let Some(org) = &session.org_id else {
            return Ok(None);
        };
        let mut tx = self.pool.read().await?;
        tx.bind_org(org.as_str()).await?;
        let row = fetch_optional!(
            &mut tx,
            (String, String, bool, i64),
            "SELECT m.id, m.role, o.require_2fa_admins, \
             (SELECT COUNT(*) FROM totp_factors t WHERE t.user_id = m.user_id AND t.confirmed_at IS NOT NULL) \
             FROM memberships m JOIN organizations o ON o.id = m.org_id \
             WHERE m.org_id = $1 AND m.user_id = $2 AND m.status = 'active'",
            org.as_str(),
            session.user_id.as_str()
        )?;
        tx.commit().await?;
        let Some((member, role, require, enrolled)) = row else {
            return Ok(None);
        };
        let role: Role = role
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("role {role}")))?;
        let must_enroll = require && role >= Role::Admin && enrolled == 0;
        Ok(Some((
            Actor::new(crate::scope::ActorData {
                org_id: org.clone(),
                user_id: session.user_id.clone(),
                principal: Principal::Session {
                    session_id: session.id.clone(),
                    on_behalf_of: MemberId::parse(&member)?,
                },
                role,
                scopes: None,
            }),
            must_enroll,
        )))
    }

    /// A person's live sessions, newest first.
    pub async fn sessions_of_user(
        &self,
        user_id: &UserId,
        now: UnixMicros,
    ) -> Result<Vec<Session>, StoreError> {
        let mut tx = self.pool.read().await?;
        let rows = fetch_all!(
            &mut tx,
            SessionRow,
            "SELECT id, hash_key_id, hash, user_id, org_id, stage, ip, user_agent, created_at, last_seen_at, rotated_at, expires_at, revoked_at \
             FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC LIMIT 100",
            user_id.as_str(),
            now.0
        )?;
        tx.commit().await?;
        rows.into_iter().map(SessionRow::into_session).collect()
    }

    /// Ends one of a person's sessions (sign-out, or "revoke" on my
    /// sessions). Audited in the session's organization when it has one.
    pub async fn end_session(
        &self,
        user_id: &UserId,
        session: &SessionId,
        reason: &str,
        ctx: &Ctx,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.write().await?;
        let ended = fetch_optional!(
            &mut tx,
            (Option<String>,),
            "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING org_id",
            session.as_str(),
            user_id.as_str(),
            ctx.now.0,
            reason
        )?;
        let Some((org,)) = ended else {
            return Ok(false);
        };
        if let Some(org) = org {
            self.audit_user_event(
                &mut tx,
                user_id,
                Some(&org),
                "auth.session_ended",
                Some(session),
                serde_json::json!({ "reason": reason }),
                "success",
                ctx,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Ends every session of a person except `keep` ("sign out everywhere").
    pub async fn end_other_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        reason: &str,
        ctx: &Ctx,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.write().await?;
        let n = exec!(
            &mut tx,
            "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
             WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
            user_id.as_str(),
            keep.map_or(String::new(), |k| k.as_str().to_owned()),
            ctx.now.0,
            reason
        )?;
        if n > 0 {
            self.audit_user_event(
                &mut tx,
                user_id,
                None,
                "auth.sessions_ended",
                None,
                serde_json::json!({ "reason": reason, "count": n }),
                "success",
                ctx,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Writes an event about a person into one organization, or into every
    /// organization they belong to (`org` = None).
    #[allow(clippy::too_many_arguments)]
    async fn audit_user_event(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        org: Option<&str>,
        action: &'static str,
        session: Option<&SessionId>,
        details: serde_json::Value,
        outcome: &'static str,
        ctx: &Ctx,
    ) -> Result<(), StoreError> {
        let orgs: Vec<String> = match org {
            Some(o) => vec![o.to_owned()],
            None => fetch_all!(
                &mut *tx,
                (String,),
                "SELECT org_id FROM membership_directory WHERE user_id = $1",
                user_id.as_str()
            )?
            .into_iter()
            .map(|(o,)| o)
            .collect(),
        };
        for org in orgs {
            tx.bind_org(&org).await?;
            let member = fetch_optional!(
                &mut *tx,
                (String,),
                "SELECT id FROM memberships WHERE org_id = $1 AND user_id = $2",
                org.as_str(),
                user_id.as_str()
            )?;
            let Some((member,)) = member else { continue };
            let member = MemberId::parse(&member)?;
            audit::append_with_outcome(
                tx,
                &org,
                Draft {
                    actor: member_ref(&member),
                    action,
                    target: match session {
                        Some(s) => audit::target("session", s),
                        None => audit::target("member", &member),
                    },
                    details: details.clone(),
                },
                outcome,
                ctx,
            )
            .await?;
        }
        Ok(())
    }

    /// Records a security event about a person (a failed code, a refused
    /// TOTP, a lockout) in every organization they belong to.
    pub async fn audit_auth_failure(
        &self,
        user_id: &UserId,
        action: &'static str,
        details: serde_json::Value,
        ctx: &Ctx,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.write().await?;
        self.audit_user_event(&mut tx, user_id, None, action, None, details, "denied", ctx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user id behind an address, for per-person limits and audit of
    /// failures; `None` for an address without an account.
    pub async fn user_id_for_email(&self, email: &str) -> Result<Option<UserId>, StoreError> {
        let mut tx = self.pool.read().await?;
        let user = self.user_for_email(&mut tx, email).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn user_email(&self, user_id: &UserId) -> Result<String, StoreError> {
        let mut tx = self.pool.read().await?;
        // On PostgreSQL a person's row is visible only inside an
        // organization they belong to.
        if let Some((org,)) = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT org_id FROM membership_directory WHERE user_id = $1 ORDER BY org_id LIMIT 1",
            user_id.as_str()
        )? {
            tx.bind_org(&org).await?;
        }
        let (email,) = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT email FROM users WHERE id = $1",
            user_id.as_str()
        )?
        .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(email)
    }

    // ---- TOTP ----

    pub async fn totp_factor(&self, user_id: &UserId) -> Result<Option<TotpFactor>, StoreError> {
        let mut tx = self.pool.read().await?;
        let row = fetch_optional!(
            &mut tx,
            (Vec<u8>, Option<i64>, Option<i64>),
            "SELECT secret, confirmed_at, last_step FROM totp_factors WHERE user_id = $1",
            user_id.as_str()
        )?;
        let Some((sealed, confirmed, last_step)) = row else {
            return Ok(None);
        };
        let secret = TOTP_SECRET
            .open(self, &mut tx, "", user_id.as_str(), &sealed)
            .await?;
        tx.commit().await?;
        Ok(Some(TotpFactor {
            secret,
            confirmed: confirmed.is_some(),
            last_step,
        }))
    }

    /// Starts (or restarts) enrollment with a new sealed secret. A confirmed
    /// factor is never replaced this way: it must be removed first.
    pub async fn begin_totp_enrollment(
        &self,
        user_id: &UserId,
        secret: &[u8],
        now: UnixMicros,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.write().await?;
        let sealed_secret = TOTP_SECRET
            .seal(self, &mut tx, "", user_id.as_str(), secret)
            .await?;
        let n = exec!(
            &mut tx,
            "INSERT INTO totp_factors (user_id, secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = NULL \
             WHERE totp_factors.confirmed_at IS NULL",
            user_id.as_str(),
            sealed_secret,
            now.0
        )?;
        if n == 0 {
            return Err(StoreError::Conflict("totp_already_enrolled"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Accepts a verified time step once: false if this step (or a later
    /// one) was already used, which makes a replayed code fail even when two
    /// requests race.
    pub async fn accept_totp_step(&self, user_id: &UserId, step: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.write().await?;
        let n = exec!(
            &mut tx,
            "UPDATE totp_factors SET last_step = $2 WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2)",
            user_id.as_str(),
            step
        )?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Confirms enrollment (after a valid code) and stores ten fresh
    /// recovery codes, returned once for the person to keep.
    pub async fn confirm_totp(
        &self,
        user_id: &UserId,
        step: i64,
        ctx: &Ctx,
    ) -> Result<Option<Vec<Zeroizing<String>>>, StoreError> {
        let mut tx = self.pool.write().await?;
        let n = exec!(
            &mut tx,
            "UPDATE totp_factors SET confirmed_at = $2, last_step = $3 \
             WHERE user_id = $1 AND confirmed_at IS NULL AND (last_step IS NULL OR last_step < $3)",
            user_id.as_str(),
            ctx.now.0,
            step
        )?;
        if n == 0 {
            return Ok(None);
        }
        let codes = self
            .replace_recovery_codes(&mut tx, user_id, ctx.now)
            .await?;
        self.audit_user_event(
            &mut tx,
            user_id,
            None,
            "auth.totp_enrolled",
            None,
            serde_json::json!({}),
            "success",
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(codes))
    }

    async fn replace_recovery_codes(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        now: UnixMicros,
    ) -> Result<Vec<Zeroizing<String>>, StoreError> {
        exec!(
            &mut *tx,
            "DELETE FROM recovery_codes WHERE user_id = $1",
            user_id.as_str()
        )?;
        let mut codes = Vec::with_capacity(10);
        for _ in 0..10 {
            // 10 bytes = 80 bits, as two groups of eight base32 characters.
            let raw = random_bytes::<10>()?;
            let text = tollgate_core::base32::encode(raw.as_ref());
            let code = Zeroizing::new(format!("{}-{}", &text[..8], &text[8..16]));
            let lookup = text[..4].to_owned();
            let hash = self.hasher.hash(&recovery_material(user_id, &code));
            exec!(
                &mut *tx,
                "INSERT INTO recovery_codes (user_id, lookup, hash_key_id, hash, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, lookup) DO NOTHING",
                user_id.as_str(),
                lookup,
                hash.key_id,
                hash.mac.to_vec(),
                now.0
            )?;
            codes.push(code);
        }
        Ok(codes)
    }

    /// Uses a recovery code: true once per code.
    pub async fn use_recovery_code(
        &self,
        user_id: &UserId,
        code: &str,
        now: UnixMicros,
    ) -> Result<bool, StoreError> {
        let canonical: String = code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if canonical.len() != 16 {
            return Ok(false);
        }
        let mut tx = self.pool.write().await?;
        let row = fetch_optional!(
            &mut tx,
            (String, Vec<u8>),
            "SELECT hash_key_id, hash FROM recovery_codes WHERE user_id = $1 AND lookup = $2 AND used_at IS NULL",
            user_id.as_str(),
            canonical[..4].to_owned()
        )?;
        let Some((key_id, hash)) = row else {
            return Ok(false);
        };
        let stored = TokenHash {
            key_id,
            mac: mac_array(hash)?,
        };
        if !self
            .hasher
            .verify(&stored, &recovery_material(user_id, code))
        {
            return Ok(false);
        }
        let n = exec!(
            &mut tx,
            "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND lookup = $2 AND used_at IS NULL",
            user_id.as_str(),
            canonical[..4].to_owned(),
            now.0
        )?;
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn recovery_codes_left(&self, user_id: &UserId) -> Result<i64, StoreError> {
        let mut tx = self.pool.read().await?;
        let (n,) = crate::db::fetch_one!(
            &mut tx,
            (i64,),
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            user_id.as_str()
        )?;
        tx.commit().await?;
        Ok(n)
    }

    /// Removes a person's second factor and recovery codes.
    pub async fn remove_totp(&self, user_id: &UserId, ctx: &Ctx) -> Result<(), StoreError> {
        let mut tx = self.pool.write().await?;
        exec!(
            &mut tx,
            "DELETE FROM totp_factors WHERE user_id = $1",
            user_id.as_str()
        )?;
        exec!(
            &mut tx,
            "DELETE FROM recovery_codes WHERE user_id = $1",
            user_id.as_str()
        )?;
        self.audit_user_event(
            &mut tx,
            user_id,
            None,
            "auth.totp_removed",
            None,
            serde_json::json!({}),
            "success",
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn mint(kind: TokenKind) -> Result<NewToken, StoreError> {
    let lookup = random_bytes::<10>()?;
    let secret = random_bytes::<32>()?;
    Ok(token::mint(kind, *lookup, &secret))
}

async fn link_row(tx: &mut Tx, lookup: &str) -> Result<Option<LinkRow>, StoreError> {
    fetch_optional!(
        &mut *tx,
        LinkRow,
        "SELECT user_id, hash_key_id, hash, code_key_id, code_hash, code_attempts, purpose, org_id, \
         expires_at, consumed_at FROM sign_in_links WHERE lookup = $1",
        lookup
    )
    .map_err(StoreError::from)
}

#[allow(clippy::too_many_arguments)]
async fn insert_link(
    tx: &mut Tx,
    store: &Store,
    user_id: &UserId,
    email: &str,
    purpose: LinkPurpose,
    org_id: Option<&OrgId>,
    now: UnixMicros,
    ttl_secs: i64,
) -> Result<IssuedLink, StoreError> {
    let token = mint(TokenKind::SignInLink)?;
    let code = new_code()?;
    let hash = store.hasher.hash(&token.plaintext);
    let code_hash = store.hasher.hash(&code_material(&token.lookup, &code));
    let expires_at = now.plus_secs(ttl_secs);
    exec!(
        &mut *tx,
        "INSERT INTO sign_in_links (lookup, user_id, hash_key_id, hash, code_key_id, code_hash, purpose, org_id, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        token.lookup.clone(),
        user_id.as_str(),
        hash.key_id,
        hash.mac.to_vec(),
        code_hash.key_id,
        code_hash.mac.to_vec(),
        purpose.as_str(),
        org_id.map(|o| o.as_str().to_owned()),
        now.0,
        expires_at.0
    )?;
    Ok(IssuedLink {
        token,
        code,
        email: email.to_owned(),
        expires_at,
    })
}

/// The one conditional UPDATE that decides who consumes a link.
async fn consume(
    tx: &mut Tx,
    lookup: &str,
    row: LinkRow,
    now: UnixMicros,
) -> Result<Result<Redeemed, RedeemFailure>, StoreError> {
    if row.consumed_at.is_some() {
        return Ok(Err(RedeemFailure::Used));
    }
    if row.expires_at <= now.0 {
        return Ok(Err(RedeemFailure::Expired));
    }
    let n = exec!(
        &mut *tx,
        "UPDATE sign_in_links SET consumed_at = $2 WHERE lookup = $1 AND consumed_at IS NULL AND expires_at > $2",
        lookup,
        now.0
    )?;
    if n != 1 {
        return Ok(Err(RedeemFailure::Used));
    }
    Ok(Ok(Redeemed {
        user_id: UserId::parse(&row.user_id)?,
        purpose: if row.purpose == "invitation" {
            LinkPurpose::Invitation
        } else {
            LinkPurpose::SignIn
        },
        org_id: row.org_id.as_deref().map(OrgId::parse).transpose()?,
    }))
}

/// One line of the access review.
#[derive(Debug, Clone)]
pub struct AccessReviewRow {
    pub member: crate::Member,
    pub totp_enabled: bool,
    pub last_seen_at: Option<UnixMicros>,
    pub live_sessions: i64,
}

impl crate::OrgScope<'_> {
    /// Ends every session a member has in this organization (an admin's
    /// "sign out this member"). The member's other organizations are theirs.
    pub async fn end_member_sessions(&self, id: &MemberId, ctx: &Ctx) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let (user_id,) = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT user_id FROM memberships WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str()
        )?
        .ok_or(StoreError::NotFound)?;
        let n = exec!(
            &mut tx,
            "UPDATE sessions SET revoked_at = $3, revoked_reason = 'revoked_by_admin' \
             WHERE user_id = $1 AND org_id = $2 AND revoked_at IS NULL",
            user_id.as_str(),
            self.org(),
            ctx.now.0
        )?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "auth.member_sessions_ended",
                target: audit::target("member", id),
                details: serde_json::json!({ "count": n }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Members with their second-factor status and last dashboard activity
    /// in this organization.
    pub async fn access_review(&self, now: UnixMicros) -> Result<Vec<AccessReviewRow>, StoreError> {
        let members = self.list_members(None, 500).await?;
        let mut tx = self.read().await?;
        let mut out = Vec::with_capacity(members.len());
        for member in members {
            let (totp,) = crate::db::fetch_one!(
                &mut tx,
                (i64,),
                "SELECT COUNT(*) FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL",
                member.user_id.as_str()
            )?;
            let (last, live) = crate::db::fetch_one!(
                &mut tx,
                (Option<i64>, i64),
                "SELECT MAX(last_seen_at), COUNT(CASE WHEN revoked_at IS NULL AND expires_at > $3 THEN 1 END) \
                 FROM sessions WHERE user_id = $1 AND org_id = $2",
                member.user_id.as_str(),
                self.org(),
                now.0
            )?;
            out.push(AccessReviewRow {
                member,
                totp_enabled: totp > 0,
                last_seen_at: last.map(UnixMicros),
                live_sessions: live,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tollgate_core::token::{HashKey, TokenHasher};
    use tollgate_core::totp::{self, TotpSecret};

    use super::*;
    use crate::BootstrapInput;

    const T0: UnixMicros = UnixMicros(1_800_000_000 * UnixMicros::SECOND);
    const POLICY: SessionPolicy = SessionPolicy {
        absolute_secs: 86_400,
        idle_secs: 1_800,
    };

    fn ctx(now: UnixMicros) -> Ctx {
        Ctx {
            now,
            request: Default::default(),
        }
    }

    async fn open(dir: &std::path::Path, keys: &[u8]) -> Store {
        let url = format!("sqlite://{}", dir.join("t.db").display());
        crate::migrate(&url, None).await.unwrap();
        let hasher = Arc::new(
            TokenHasher::new(keys.iter().map(|k| HashKey::new([*k; 32])).collect()).unwrap(),
        );
        let store = Store::open(&url, &Default::default(), hasher)
            .await
            .unwrap();
        store.with_vault(crate::Vault::new(crate::vault::tests::kek(9), vec![]))
    }

    /// A store with one organization whose owner is ana@example.com.
    async fn with_owner(dir: &std::path::Path) -> (Store, UserId) {
        let store = open(dir, &[1]).await;
        let token = store.create_bootstrap_token(T0, 900).await.unwrap();
        store
            .redeem_bootstrap(
                &token.plaintext,
                BootstrapInput {
                    org_name: "Acme".into(),
                    owner_name: "Ana".into(),
                    owner_email: "ana@example.com".into(),
                },
                &ctx(T0),
            )
            .await
            .unwrap();
        let user = store
            .user_id_for_email("ana@example.com")
            .await
            .unwrap()
            .unwrap();
        (store, user)
    }

    #[tokio::test]
    async fn links_work_once_within_their_lifetime_and_only_for_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let (store, user) = with_owner(dir.path()).await;
        assert!(
            store
                .issue_sign_in_link("nobody@example.com", T0, 900)
                .await
                .unwrap()
                .is_none()
        );
        let link = store
            .issue_sign_in_link("ana@example.com", T0, 900)
            .await
            .unwrap()
            .unwrap();
        let t = link.token.plaintext.clone();
        assert_eq!(
            store.sign_in_link_state(&t, T0).await.unwrap(),
            LinkState::Usable { invitation: false }
        );
        // Showing the confirmation page consumed nothing.
        assert_eq!(
            store.sign_in_link_state(&t, T0).await.unwrap(),
            LinkState::Usable { invitation: false }
        );
        let late = T0.plus_secs(900);
        assert_eq!(
            store.sign_in_link_state(&t, late).await.unwrap(),
            LinkState::Expired
        );
        assert_eq!(
            store
                .redeem_sign_in_link(&t, late)
                .await
                .unwrap()
                .unwrap_err(),
            RedeemFailure::Expired
        );
        let ok = store
            .redeem_sign_in_link(&t, T0.plus_secs(899))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ok.user_id, user);
        assert_eq!(
            store
                .redeem_sign_in_link(&t, T0.plus_secs(899))
                .await
                .unwrap()
                .unwrap_err(),
            RedeemFailure::Used
        );
        // A forged secret with a real lookup is unknown, not used.
        let mut forged = t.to_string();
        forged.replace_range(forged.len() - 12..forged.len() - 8, "aaaa");
        assert!(matches!(
            store.redeem_sign_in_link(&forged, T0).await.unwrap(),
            Err(RedeemFailure::Unknown)
        ));
    }

    #[tokio::test]
    async fn racing_confirmations_consume_a_link_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = with_owner(dir.path()).await;
        let link = store
            .issue_sign_in_link("ana@example.com", T0, 900)
            .await
            .unwrap()
            .unwrap();
        let token = Arc::new(link.token.plaintext.to_string());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (store, token) = (store.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                store.redeem_sign_in_link(&token, T0).await.unwrap().is_ok()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1);
    }

    #[tokio::test]
    async fn a_rotated_hash_key_still_verifies_and_a_retired_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = with_owner(dir.path()).await;
        let link = store
            .issue_sign_in_link("ana@example.com", T0, 900)
            .await
            .unwrap()
            .unwrap();
        let t = link.token.plaintext.to_string();
        store.close().await;
        // Key 2 is new and current; key 1 still verifies what it hashed.
        let rotated = open(dir.path(), &[2, 1]).await;
        assert_eq!(
            rotated.sign_in_link_state(&t, T0).await.unwrap(),
            LinkState::Usable { invitation: false }
        );
        rotated.close().await;
        let retired = open(dir.path(), &[2]).await;
        assert_eq!(
            retired.sign_in_link_state(&t, T0).await.unwrap(),
            LinkState::Unknown
        );
    }

    #[tokio::test]
    async fn sessions_end_when_idle_at_their_absolute_limit_and_on_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let (store, user) = with_owner(dir.path()).await;
        let orgs = store.orgs_of_user(&user).await.unwrap();
        let org = &orgs[0].org_id;
        let new = store
            .create_session(&user, Some(org), SessionStage::Full, POLICY, &ctx(T0))
            .await
            .unwrap();
        let t = new.token.plaintext.to_string();
        // Active every 20 minutes: alive until the 24-hour limit.
        let mut now = T0;
        while now.0 + 1_200 * UnixMicros::SECOND < T0.plus_secs(86_400).0 {
            now = now.plus_secs(1_200);
            assert!(
                store
                    .authenticate_session(&t, POLICY, now)
                    .await
                    .unwrap()
                    .is_ok(),
                "{now:?}"
            );
        }
        assert_eq!(
            store
                .authenticate_session(&t, POLICY, T0.plus_secs(86_400))
                .await
                .unwrap()
                .unwrap_err(),
            SessionFailure::Ended
        );
        // Idle for the timeout: ended.
        let idle = store
            .create_session(&user, Some(org), SessionStage::Full, POLICY, &ctx(T0))
            .await
            .unwrap();
        let it = idle.token.plaintext.to_string();
        assert!(
            store
                .authenticate_session(&it, POLICY, T0.plus_secs(1_799))
                .await
                .unwrap()
                .is_ok()
        );
        // last_seen moved to T0+1799s; idle from there.
        assert!(
            store
                .authenticate_session(&it, POLICY, T0.plus_secs(3_598))
                .await
                .unwrap()
                .is_ok()
        );
        assert_eq!(
            store
                .authenticate_session(&it, POLICY, T0.plus_secs(3_598 + 1_800))
                .await
                .unwrap()
                .unwrap_err(),
            SessionFailure::Ended
        );
        // Rotation: the old token stops at once, the new one works.
        let s = store
            .create_session(&user, Some(org), SessionStage::Full, POLICY, &ctx(T0))
            .await
            .unwrap();
        let old = s.token.plaintext.to_string();
        let fresh = store
            .rotate_session(
                &s.session.id,
                SessionStage::Full,
                Some(org),
                T0.plus_secs(60),
            )
            .await
            .unwrap();
        assert!(
            store
                .authenticate_session(&old, POLICY, T0.plus_secs(61))
                .await
                .unwrap()
                .is_err()
        );
        assert!(
            store
                .authenticate_session(&fresh.plaintext, POLICY, T0.plus_secs(61))
                .await
                .unwrap()
                .is_ok()
        );
    }

    #[tokio::test]
    async fn totp_steps_are_used_once_and_recovery_codes_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, user) = with_owner(dir.path()).await;
        let secret = TotpSecret::new([5; totp::SECRET_BYTES]);
        store
            .begin_totp_enrollment(&user, secret.as_bytes(), T0)
            .await
            .unwrap();
        let factor = store.totp_factor(&user).await.unwrap().unwrap();
        assert!(!factor.confirmed);
        assert_eq!(
            &**factor.secret,
            secret.as_bytes(),
            "sealed and opened intact"
        );
        let code = totp::code_at_step(&secret, totp::step_at(T0));
        let step = totp::verify(&secret, &code, T0, factor.last_step).unwrap();
        let codes = store
            .confirm_totp(&user, step, &ctx(T0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(codes.len(), 10);
        // Enrollment cannot be restarted over a confirmed factor.
        assert!(
            store
                .begin_totp_enrollment(&user, &[6; 20], T0)
                .await
                .is_err()
        );
        // The step used to confirm is spent; a replay of it is refused.
        assert!(!store.accept_totp_step(&user, step).await.unwrap());
        assert!(store.accept_totp_step(&user, step + 1).await.unwrap());
        assert!(!store.accept_totp_step(&user, step + 1).await.unwrap());
        // Recovery codes: once each, with or without the dash and in any case.
        let first = codes[0].to_uppercase().replace('-', "");
        assert!(store.use_recovery_code(&user, &first, T0).await.unwrap());
        assert!(!store.use_recovery_code(&user, &codes[0], T0).await.unwrap());
        assert!(
            !store
                .use_recovery_code(&user, "aaaa-bbbb-cccc-dddd", T0)
                .await
                .unwrap()
        );
        assert_eq!(store.recovery_codes_left(&user).await.unwrap(), 9);
        // The secret is not stored in the clear.
        let raw = std::fs::read(dir.path().join("t.db")).unwrap();
        let wal = std::fs::read(dir.path().join("t.db-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(20).any(|w| w == [5; 20]));
        }
    }
}
