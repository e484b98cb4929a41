//! Campaign pages: the list, a new campaign, and one campaign's calling
//! windows, caps and pause switch. Every value goes through the same
//! validation as `POST`/`PATCH /v1/campaigns`, so the dashboard can never
//! store a campaign the API would refuse.

use askama::Template;
use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tollgate_core::Role;
use tollgate_core::id::CampaignKind;
use tollgate_gate::{DialChannel, Purpose, VoiceType};
use tollgate_store::{Actor, Campaign, CampaignPatch, CampaignSpec, DayWindows, Session, hhmm};

use super::{Nav, NoticeQuery, dnc_state, fail, nav};
use crate::api::campaigns::{CapInput, WindowsInput, caps, max_attempts, windows};
use crate::api::extract::{RequestCtx, path_id};
use crate::app::AppState;
use crate::error::ApiError;
use crate::ui::{message, render, see_other};

/// Form field keys (the API's) beside the labels a person reads.
const DAYS: [(&str, &str); 7] = {
    let k = tollgate_store::WEEKDAYS;
    [
        (k[0], "Mon"),
        (k[1], "Tue"),
        (k[2], "Wed"),
        (k[3], "Thu"),
        (k[4], "Fri"),
        (k[5], "Sat"),
        (k[6], "Sun"),
    ]
};

/// How many caps the form offers (the API allows a few more).
const FORM_CAPS: usize = 2;

/// "Mon-Fri 09:00-20:00; Sat 10:00-14:00; Sun no calls": runs of days with
/// the same window are folded so a compliance officer reads a week at a glance.
pub fn describe_windows(w: &DayWindows) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < 7 {
        let mut j = i;
        while j + 1 < 7 && w[j + 1] == w[i] {
            j += 1;
        }
        let days = if i == j {
            DAYS[i].1.to_owned()
        } else {
            format!("{}-{}", DAYS[i].1, DAYS[j].1)
        };
        parts.push(match w[i] {
            Some((s, e)) => format!("{days} {}-{}", hhmm(s), hhmm(e)),
            None => format!("{days} no calls"),
        });
        i = j + 1;
    }
    parts.join("; ")
}

fn describe_caps(caps: &[(u32, u32)]) -> String {
    if caps.is_empty() {
        "state caps only".into()
    } else {
        caps.iter()
            .map(|(n, h)| format!("{n} per {h} h"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub struct CampaignRow {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub channel: String,
    pub voice: String,
    pub windows: String,
    pub caps: String,
    pub paused: bool,
}

/// The values a campaign form shows: what was stored, or what was typed
/// when the form comes back with an error.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CampaignForm {
    name: String,
    purpose: String,
    channel: String,
    voice: String,
    /// "on" when the campaign narrows the legal windows with its own.
    own_windows: Option<String>,
    mon_start: String,
    mon_end: String,
    tue_start: String,
    tue_end: String,
    wed_start: String,
    wed_end: String,
    thu_start: String,
    thu_end: String,
    fri_start: String,
    fri_end: String,
    sat_start: String,
    sat_end: String,
    sun_start: String,
    sun_end: String,
    max_attempts_per_lead: String,
    cap1_max: String,
    cap1_hours: String,
    cap2_max: String,
    cap2_hours: String,
}

/// One weekday row of the form.
pub struct DayField {
    pub key: &'static str,
    pub label: &'static str,
    pub start: String,
    pub end: String,
}

pub struct CapField {
    pub n: usize,
    pub max: String,
    pub hours: String,
}

impl CampaignForm {
    fn day(&self, i: usize) -> (&str, &str) {
        let f = self;
        match i {
            0 => (&f.mon_start, &f.mon_end),
            1 => (&f.tue_start, &f.tue_end),
            2 => (&f.wed_start, &f.wed_end),
            3 => (&f.thu_start, &f.thu_end),
            4 => (&f.fri_start, &f.fri_end),
            5 => (&f.sat_start, &f.sat_end),
            _ => (&f.sun_start, &f.sun_end),
        }
    }

    fn day_mut(&mut self, i: usize) -> (&mut String, &mut String) {
        let f = self;
        match i {
            0 => (&mut f.mon_start, &mut f.mon_end),
            1 => (&mut f.tue_start, &mut f.tue_end),
            2 => (&mut f.wed_start, &mut f.wed_end),
            3 => (&mut f.thu_start, &mut f.thu_end),
            4 => (&mut f.fri_start, &mut f.fri_end),
            5 => (&mut f.sat_start, &mut f.sat_end),
            _ => (&mut f.sun_start, &mut f.sun_end),
        }
    }

    fn from_campaign(c: &Campaign) -> CampaignForm {
        let mut f = CampaignForm {
            name: c.spec.name.clone(),
            purpose: c.spec.purpose.as_str().into(),
            channel: c.spec.channel.as_str().into(),
            voice: c.spec.voice.as_str().into(),
            own_windows: c.spec.windows.is_some().then(|| "on".into()),
            max_attempts_per_lead: c
                .spec
                .max_attempts_per_lead
                .map(|n| n.to_string())
                .unwrap_or_default(),
            ..CampaignForm::default()
        };
        if let Some(w) = &c.spec.windows {
            for (i, day) in w.iter().enumerate() {
                if let Some((s, e)) = day {
                    let (fs, fe) = f.day_mut(i);
                    *fs = hhmm(*s);
                    *fe = hhmm(*e);
                }
            }
        }
        let caps = &c.spec.caps;
        if let Some((n, h)) = caps.first() {
            (f.cap1_max, f.cap1_hours) = (n.to_string(), h.to_string());
        }
        if let Some((n, h)) = caps.get(1) {
            (f.cap2_max, f.cap2_hours) = (n.to_string(), h.to_string());
        }
        f
    }

    fn days(&self) -> Vec<DayField> {
        DAYS.iter()
            .enumerate()
            .map(|(i, (key, label))| {
                let (s, e) = self.day(i);
                DayField {
                    key,
                    label,
                    start: s.to_owned(),
                    end: e.to_owned(),
                }
            })
            .collect()
    }

    fn cap_fields(&self) -> Vec<CapField> {
        vec![
            CapField {
                n: 1,
                max: self.cap1_max.clone(),
                hours: self.cap1_hours.clone(),
            },
            CapField {
                n: 2,
                max: self.cap2_max.clone(),
                hours: self.cap2_hours.clone(),
            },
        ]
    }

    /// The campaign's own windows, `None` when it keeps only the legal ones.
    /// A day whose two times are both empty has no calls; one time without
    /// the other is an error, never a guess.
    fn windows(&self) -> Result<Option<DayWindows>, String> {
        if self.own_windows.is_none() {
            return Ok(None);
        }
        let mut input = WindowsInput::new();
        for (i, (key, label)) in DAYS.iter().enumerate() {
            match self.day(i) {
                ("", "") => {}
                (s, e) if !s.is_empty() && !e.is_empty() => {
                    input.insert(
                        (*key).to_owned(),
                        [s.trim().to_owned(), e.trim().to_owned()],
                    );
                }
                _ => {
                    return Err(format!(
                        "{label}: give both a start and an end time, or neither (no calls that day)."
                    ));
                }
            }
        }
        if input.is_empty() {
            return Err(
                "With its own windows, the campaign needs at least one day with calling hours."
                    .into(),
            );
        }
        windows(&input).map(Some).map_err(detail)
    }

    fn caps(&self) -> Result<Vec<(u32, u32)>, String> {
        let mut input = Vec::new();
        for (n, (max, hours)) in [
            (&self.cap1_max, &self.cap1_hours),
            (&self.cap2_max, &self.cap2_hours),
        ]
        .into_iter()
        .enumerate()
        .take(FORM_CAPS)
        {
            let (max, hours) = (max.trim(), hours.trim());
            if max.is_empty() && hours.is_empty() {
                continue;
            }
            match (max.parse(), hours.parse()) {
                (Ok(max_attempts), Ok(window_hours)) => input.push(CapInput {
                    max_attempts,
                    window_hours,
                }),
                _ => {
                    return Err(format!(
                        "Cap {}: give whole numbers for both attempts and hours.",
                        n + 1
                    ));
                }
            }
        }
        caps(&input).map_err(detail)
    }

    fn max_attempts(&self) -> Result<Option<u32>, String> {
        match self.max_attempts_per_lead.trim() {
            "" => Ok(None),
            s => {
                let n = s
                    .parse::<u32>()
                    .map_err(|_| "Attempts per lead must be a whole number.".to_owned())?;
                max_attempts(Some(n)).map_err(detail)
            }
        }
    }

    fn name(&self) -> Result<String, String> {
        crate::api::clean_text("name", &self.name, 200).map_err(detail)
    }
}

fn detail(e: ApiError) -> String {
    e.detail
        .unwrap_or_else(|| "A value is not valid.".into())
        .replace('`', "")
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    nav: Nav,
    campaigns: Vec<CampaignRow>,
    paused: bool,
    paused_reason: String,
    dnc: String,
    can_create: bool,
    form: CampaignForm,
    days: Vec<DayField>,
    cap_fields: Vec<CapField>,
    error: Option<String>,
}

async fn list_page(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    q: &NoticeQuery,
    form: CampaignForm,
    error: Option<String>,
) -> Response {
    let nav = page!(*state, *actor, *session, "campaigns", q);
    let scope = state.store.scope(actor);
    let gate = tryp!(scope.gate_settings().await);
    let list = tryp!(scope.list_campaigns(None, 200).await);
    let campaigns = list
        .into_iter()
        .map(|c| CampaignRow {
            id: c.id.to_string(),
            name: c.spec.name.clone(),
            purpose: c.spec.purpose.as_str().to_owned(),
            channel: c.spec.channel.as_str().to_owned(),
            voice: c.spec.voice.as_str().to_owned(),
            windows: match &c.spec.windows {
                Some(w) => describe_windows(w),
                None => "the legal windows only".into(),
            },
            caps: describe_caps(&c.spec.caps),
            paused: c.paused,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &CampaignsPage {
            nav,
            campaigns,
            paused: gate.paused,
            paused_reason: gate.paused_reason.clone().unwrap_or_default(),
            dnc: dnc_state(&gate),
            can_create: actor.role() >= Role::Member,
            days: form.days(),
            cap_fields: form.cap_fields(),
            form,
            error,
        },
    )
}

pub async fn campaigns(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let blank = CampaignForm {
        purpose: "telemarketing".into(),
        channel: "voice".into(),
        voice: "ai".into(),
        ..CampaignForm::default()
    };
    list_page(&state, &actor, &session, &q, blank, None).await
}

/// Creates a campaign from the dashboard (members and up), with the same
/// checks and audit event as `POST /v1/campaigns`.
pub async fn create_campaign(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<CampaignForm>,
) -> Response {
    let spec = (|| -> Result<CampaignSpec, String> {
        Ok(CampaignSpec {
            name: form.name()?,
            purpose: Purpose::parse(&form.purpose)
                .ok_or("Purpose must be telemarketing or informational.")?,
            channel: DialChannel::parse(&form.channel).ok_or("Channel must be voice or text.")?,
            voice: VoiceType::parse(&form.voice).ok_or("Voice must be AI or live.")?,
            windows: form.windows()?,
            max_attempts_per_lead: form.max_attempts()?,
            caps: form.caps()?,
        })
    })();
    let spec = match spec {
        Ok(s) => s,
        Err(e) => {
            return list_page(
                &state,
                &actor,
                &session,
                &NoticeQuery::default(),
                form,
                Some(e),
            )
            .await;
        }
    };
    match state.store.scope(&actor).create_campaign(spec, &ctx).await {
        Ok(c) => see_other(&format!("/ui/campaigns/{}?done=campaign-created", c.id)),
        Err(e) => fail(&e),
    }
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    nav: Nav,
    id: String,
    purpose: String,
    channel: String,
    voice: String,
    paused: bool,
    can_edit: bool,
    form: CampaignForm,
    days: Vec<DayField>,
    cap_fields: Vec<CapField>,
    error: Option<String>,
}

async fn campaign_page(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    q: &NoticeQuery,
    raw_id: &str,
    typed: Option<(CampaignForm, String)>,
) -> Response {
    let Ok(id) = path_id::<CampaignKind>(raw_id) else {
        return not_found();
    };
    let nav = page!(*state, *actor, *session, "campaigns", q);
    let c = tryp!(state.store.scope(actor).get_campaign(&id).await);
    let (form, error, status) = match typed {
        Some((f, e)) => (f, Some(e), StatusCode::UNPROCESSABLE_ENTITY),
        None => (CampaignForm::from_campaign(&c), None, StatusCode::OK),
    };
    render(
        status,
        &CampaignPage {
            nav,
            id: c.id.to_string(),
            purpose: c.spec.purpose.as_str().into(),
            channel: c.spec.channel.as_str().into(),
            voice: c.spec.voice.as_str().into(),
            paused: c.paused,
            can_edit: actor.role() >= Role::Member,
            days: form.days(),
            cap_fields: form.cap_fields(),
            form,
            error,
        },
    )
}

fn not_found() -> Response {
    fail(&tollgate_store::StoreError::NotFound)
}

pub async fn campaign(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
    Path(campaign_id): Path<String>,
) -> Response {
    campaign_page(&state, &actor, &session, &q, &campaign_id, None).await
}

/// Saves a campaign's name, windows, attempts and caps (members and up);
/// purpose, channel and voice are fixed at creation, as in the API.
pub async fn update_campaign(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Path(campaign_id): Path<String>,
    Form(form): Form<CampaignForm>,
) -> Response {
    let Ok(id) = path_id::<CampaignKind>(&campaign_id) else {
        return not_found();
    };
    let patch = (|| -> Result<CampaignPatch, String> {
        Ok(CampaignPatch {
            name: Some(form.name()?),
            windows: Some(form.windows()?),
            max_attempts_per_lead: Some(form.max_attempts()?),
            caps: Some(form.caps()?),
            paused: None,
        })
    })();
    let patch = match patch {
        Ok(p) => p,
        Err(e) => {
            return campaign_page(
                &state,
                &actor,
                &session,
                &NoticeQuery::default(),
                &campaign_id,
                Some((form, e)),
            )
            .await;
        }
    };
    match state
        .store
        .scope(&actor)
        .update_campaign(&id, patch, &ctx)
        .await
    {
        Ok(c) => see_other(&format!("/ui/campaigns/{}?done=campaign-saved", c.id)),
        Err(e) => fail(&e),
    }
}

#[derive(Deserialize)]
pub struct CampaignPauseForm {
    paused: String,
}

/// Pauses or resumes one campaign (admins and up, audited by the store):
/// a paused campaign's every dial check is denied `campaign_paused`.
pub async fn set_campaign_pause(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(campaign_id): Path<String>,
    Form(form): Form<CampaignPauseForm>,
) -> Response {
    let Ok(id) = path_id::<CampaignKind>(&campaign_id) else {
        return not_found();
    };
    let paused = match form.paused.as_str() {
        "on" => true,
        "off" => false,
        _ => {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid request",
                "Use the pause or resume button.",
            );
        }
    };
    let patch = CampaignPatch {
        paused: Some(paused),
        ..CampaignPatch::default()
    };
    match state
        .store
        .scope(&actor)
        .update_campaign(&id, patch, &ctx)
        .await
    {
        Ok(c) => {
            let done = if paused {
                "campaign-paused"
            } else {
                "campaign-resumed"
            };
            see_other(&format!("/ui/campaigns/{}?done={done}", c.id))
        }
        Err(e) => fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_fold_into_runs() {
        let mut w: DayWindows = [Some((540, 1200)); 7];
        w[5] = Some((600, 840));
        w[6] = None;
        assert_eq!(
            describe_windows(&w),
            "Mon-Fri 09:00-20:00; Sat 10:00-14:00; Sun no calls"
        );
        let mut alt: DayWindows = [None; 7];
        alt[0] = Some((480, 1260));
        alt[2] = Some((480, 1260));
        assert_eq!(
            describe_windows(&alt),
            "Mon 08:00-21:00; Tue no calls; Wed 08:00-21:00; Thu-Sun no calls"
        );
    }

    #[test]
    fn half_filled_days_and_bad_caps_are_errors() {
        let mut f = CampaignForm {
            own_windows: Some("on".into()),
            ..CampaignForm::default()
        };
        assert!(f.windows().is_err(), "no day at all");
        f.tue_start = "09:00".into();
        assert!(f.windows().unwrap_err().starts_with("Tue"));
        f.tue_end = "08:00".into();
        assert!(f.windows().is_err(), "end before start");
        f.tue_end = "17:30".into();
        let w = f.windows().unwrap().unwrap();
        assert_eq!(w[1], Some((540, 1050)));
        assert_eq!(w[0], None);
        f.own_windows = None;
        assert_eq!(f.windows().unwrap(), None);

        f.cap1_max = "3".into();
        assert!(f.caps().is_err(), "hours missing");
        f.cap1_hours = "24".into();
        assert_eq!(f.caps().unwrap(), vec![(3, 24)]);
        f.cap2_max = "0".into();
        f.cap2_hours = "24".into();
        assert!(f.caps().is_err(), "zero attempts");
        f.max_attempts_per_lead = "x".into();
        assert!(f.max_attempts().is_err());
        f.max_attempts_per_lead = " 5 ".into();
        assert_eq!(f.max_attempts().unwrap(), Some(5));
    }
}
