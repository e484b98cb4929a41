//! The HTTP surface: one module per resource, thin handlers that validate
//! input, call the org-bound store handle, and shape the answer.

pub mod api_keys;
pub mod audit;
pub mod bootstrap;
pub mod campaigns;
pub mod extract;
pub mod gate;
pub mod leads;
pub mod members;
pub mod meta;
pub mod oauth;
pub mod oauth_clients;
pub mod org;
// Issue 9: redaction on every write path.
pub mod calls;
pub mod provider_credentials;
pub mod redaction;
pub mod suppressions;
// Issue 10: signed webhooks.
pub mod webhooks;
// Issue 8: do-not-call data.
pub mod dnc;

use serde::Serialize;
use utoipa::ToSchema;

/// A page of a list. Pass `next_cursor` as `after` to read the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only tells
    /// that another page exists.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(cursor) } else { None };
        Page {
            data: rows,
            next_cursor,
        }
    }
}

/// Text fields a person types: trimmed, bounded, no control characters.
pub fn clean_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<String, crate::error::ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(crate::error::ApiError::invalid(format!(
            "`{field}` must not be empty."
        )));
    }
    if v.chars().count() > max_chars {
        return Err(crate::error::ApiError::invalid(format!(
            "`{field}` may be at most {max_chars} characters."
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(crate::error::ApiError::invalid(format!(
            "`{field}` must not contain control characters."
        )));
    }
    Ok(v.to_owned())
}

/// The `limit` of a list request: 1 to 500, default 100.
pub fn page_limit(limit: Option<u32>) -> Result<u32, crate::error::ApiError> {
    match limit {
        None => Ok(100),
        Some(l @ 1..=500) => Ok(l),
        Some(_) => Err(crate::error::ApiError::with(
            crate::error::Code::InvalidQuery,
            "`limit` must be between 1 and 500.",
        )),
    }
}

pub fn rfc3339(t: tollgate_core::UnixMicros) -> String {
    t.to_rfc3339()
}
