//! The leads import page: a CSV upload into one campaign, through the same
//! streaming import as `tollgate leads import`, answered with a report of
//! every rejected row by line number. Uploads are capped at
//! [`MAX_UPLOAD_BYTES`] (about 130,000 typical rows) so one request stays
//! well inside the request deadline; bigger files go through the CLI, which
//! streams any size in bounded memory.

use askama::Template;
use axum::extract::{Extension, Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use tollgate_core::audit::RequestMeta;
use tollgate_core::id::CampaignKind;
use tollgate_store::{Actor, Session};

use super::{Nav, NoticeQuery, fail, nav};
use crate::api::extract::{RequestCtx, path_id};
use crate::app::AppState;
use crate::lead_import::{Event, ImportError, Origin, Summary, import_csv};
use crate::ui::render;

/// The largest upload the page takes.
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;
/// Rejected rows listed on the page; the count covers all of them.
const SHOWN_REJECTIONS: usize = 200;

pub struct Rejection {
    pub line: u64,
    pub reasons: String,
}

/// The outcome shown under the form after an upload.
pub struct Report {
    pub file: String,
    pub summary: Summary,
    pub rejections: Vec<Rejection>,
    /// Set when the import stopped: rows after the last committed chunk
    /// were not imported.
    pub stopped: Option<String>,
}

#[derive(Template)]
#[template(path = "lead_import.html")]
struct ImportPage {
    nav: Nav,
    campaigns: Vec<(String, String)>,
    selected: String,
    max_mib: usize,
    error: Option<String>,
    report: Option<Report>,
}

async fn page(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    selected: String,
    error: Option<String>,
    report: Option<Report>,
) -> Response {
    let nav = page!(*state, *actor, *session, "leads", NoticeQuery::default());
    let campaigns = match state.store.scope(actor).list_campaigns(None, 200).await {
        Ok(l) => l
            .into_iter()
            .map(|c| (c.id.to_string(), c.spec.name))
            .collect(),
        Err(e) => return fail(&e),
    };
    let status = match (&error, &report) {
        (Some(_), _) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    render(
        status,
        &ImportPage {
            nav,
            campaigns,
            selected,
            max_mib: MAX_UPLOAD_BYTES / (1024 * 1024),
            error,
            report,
        },
    )
}

pub async fn lead_import(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(_q): Query<NoticeQuery>,
) -> Response {
    page(&state, &actor, &session, String::new(), None, None).await
}

/// The two form fields, read from the multipart body.
struct Upload {
    campaign: String,
    file_name: String,
    bytes: axum::body::Bytes,
}

async fn read_upload(mut form: Multipart) -> Result<Upload, String> {
    let (mut campaign, mut file) = (None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(format!(
                    "The file is larger than {} MiB. Import it with `tollgate leads import`, which takes any size.",
                    MAX_UPLOAD_BYTES / (1024 * 1024)
                ));
            }
            Err(_) => return Err("The upload could not be read. Try again.".into()),
        };
        match field.name() {
            Some("campaign_id") => {
                campaign = Some(field.text().await.map_err(|_| "Pick a campaign.")?);
            }
            Some("file") => {
                let name: String = field
                    .file_name()
                    .unwrap_or("upload.csv")
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        format!(
                            "The file is larger than {} MiB. Import it with `tollgate leads import`, which takes any size.",
                            MAX_UPLOAD_BYTES / (1024 * 1024)
                        )
                    } else {
                        "The upload could not be read. Try again.".into()
                    }
                })?;
                file = Some((name, bytes));
            }
            _ => {}
        }
    }
    let campaign = campaign
        .filter(|c| !c.is_empty())
        .ok_or("Pick a campaign.")?;
    let (file_name, bytes) = file
        .filter(|(_, b)| !b.is_empty())
        .ok_or("Choose a CSV file to upload.")?;
    Ok(Upload {
        campaign,
        file_name,
        bytes,
    })
}

/// Imports an uploaded CSV (members and up). Each chunk of rows is committed
/// with its audit event before the next is read, exactly as from the CLI.
pub async fn upload_leads(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    form: Multipart,
) -> Response {
    let upload = match read_upload(form).await {
        Ok(u) => u,
        Err(e) => return page(&state, &actor, &session, String::new(), Some(e), None).await,
    };
    let scope = state.store.scope(&actor);
    let known = match path_id::<CampaignKind>(&upload.campaign) {
        Ok(id) => scope.get_campaign(&id).await.is_ok(),
        Err(_) => false,
    };
    if !known {
        return page(
            &state,
            &actor,
            &session,
            String::new(),
            Some("Pick a campaign of this organization.".into()),
            None,
        )
        .await;
    }
    let origin = Origin {
        source: &upload.file_name,
        request: RequestMeta {
            user_agent: Some("dashboard upload".into()),
            ..ctx.request.clone()
        },
    };
    let mut rejections = Vec::new();
    // What was committed so far, for the report if the import stops midway.
    let mut committed = Summary::default();
    let result = import_csv(
        &state.store,
        &actor,
        &upload.campaign,
        &upload.bytes[..],
        &origin,
        || state.now(),
        |event| {
            match event {
                Event::Rejected { line, reasons } => {
                    committed.rejected += 1;
                    if rejections.len() < SHOWN_REJECTIONS {
                        rejections.push(Rejection {
                            line,
                            reasons: reasons.join("; "),
                        });
                    }
                }
                Event::Chunk {
                    imported,
                    ineligible,
                    ..
                } => {
                    committed.imported += imported;
                    committed.ineligible += ineligible;
                }
                Event::Row(_) => {}
            }
            Ok(())
        },
    )
    .await;
    let (summary, stopped, error) = match result {
        Ok(s) => (s, None, None),
        // Nothing was written: the file itself is unusable.
        Err(ImportError::File(e)) if committed == Summary::default() => (committed, None, Some(e)),
        Err(e) => {
            tracing::error!(error = %e, "dashboard lead import stopped");
            (
                committed,
                Some(
                    "The import stopped. The rows counted above were committed (each chunk with a leads.imported audit event); nothing after them was written."
                        .to_owned(),
                ),
                None,
            )
        }
    };
    let report = error.is_none().then(|| Report {
        file: upload.file_name.clone(),
        summary,
        rejections,
        stopped,
    });
    page(&state, &actor, &session, upload.campaign, error, report).await
}
