//! The one place where errors become HTTP: RFC 9457 problem details. Which
//! problem each layer's error is: `problem/from.rs`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::limits::SlotKind;
use crate::domain::tus::TUS_VERSION;
use crate::domain::{FieldErrors, StoreError};

/// Seconds a client should wait before retrying while a store is unreachable,
/// or an upload slot is taken (uploads end within the body deadline).
const RETRY_AFTER_SECS: &str = "1";

/// Seconds a client should wait for an event stream slot: one frees only when
/// another stream (a tab) closes, so retrying at once would only spin.
const STREAM_RETRY_AFTER_SECS: &str = "10";

mod from;
mod responses;

pub use responses::{
    AuthenticatedErrors, BodyErrors, DraftWriteErrors, GoneErrors, NotLoopbackResponse,
    ProblemResponse, UploadWriteErrors,
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the resource does not exist, or is not yours")]
    NotFound,
    #[error("{method} is not allowed here; use {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("this cross-origin request is refused: {0}")]
    PreflightRefused(String),
    #[error("{0}")]
    MalformedBody(String),
    #[error("{}", invalid_query_detail(parameter.as_deref(), reason))]
    InvalidQuery {
        /// The parameter at fault, when the parser can tell.
        parameter: Option<String>,
        reason: String,
    },
    #[error("the request has invalid fields")]
    Invalid(FieldErrors),
    #[error("the draft changed since you read it (it is at version {current})")]
    PreconditionFailed { current: u64 },
    #[error("{0}")]
    Conflict(String),
    #[error("you discarded this draft")]
    DraftDiscarded,
    #[error("this course was deleted; nothing more can be added to it")]
    CourseDeleted,
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error("the request body stopped arriving; send it again")]
    BodyTimeout,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("you already have {limit} live drafts; discard or finish one first")]
    TooManyDrafts { limit: u32 },
    #[error("too many requests from this user; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{detail}")]
    AtCapacity {
        kind: SlotKind,
        detail: &'static str,
    },
    #[error("{detail}")]
    QuotaExceeded {
        detail: String,
        limit: i64,
        used: Option<i64>,
    },
    #[error("send Tus-Resumable: {TUS_VERSION}, the one tus version spoken here")]
    TusVersion,
    #[error("{0}")]
    OffsetMismatch(String),
    #[error("{0}")]
    Locked(String),
    #[error("a store is unavailable; retry shortly")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] StoreError),
}

/// A problem details object (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the kind of problem; stable, for clients to switch on.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Messages by field, for validation failures; by query parameter, for
    /// `invalid-query`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::HashMap<String, Vec<String>>>)]
    pub errors: Option<FieldErrors>,
    /// The draft's version now, for a failed `If-Match`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// The quota, for `quota-exceeded`: files per course, bytes per
    /// organization, or bytes one user may hold reserved by unfinished uploads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Bytes the organization stores now, for its storage quota; bytes the
    /// user holds reserved and unsent, for theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used: Option<i64>,
}

/// Why an erased organization's or user's write is refused.
pub const ERASED: &str =
    "this account is being erased, or was after this access token was issued: writes are refused";

impl ApiError {
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::NotFound => ("not-found", "Not found"),
            Self::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            Self::BadRequest(_) => ("bad-request", "Bad request"),
            Self::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::PreflightRefused(_) => ("cors-refused", "Cross-origin request refused"),
            Self::MalformedBody(_) => ("malformed-body", "Malformed request body"),
            Self::InvalidQuery { .. } => ("invalid-query", "Invalid query parameter"),
            Self::Invalid(_) => ("validation-failed", "Validation failed"),
            Self::PreconditionFailed { .. } => ("version-mismatch", "Version mismatch"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::DraftDiscarded => ("draft-discarded", "Draft discarded"),
            Self::CourseDeleted => ("course-deleted", "Course deleted"),
            Self::PayloadTooLarge { .. } => ("body-too-large", "Request body too large"),
            Self::BodyTimeout => ("body-timeout", "Request body timed out"),
            Self::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            Self::TooManyDrafts { .. } => ("too-many-drafts", "Too many drafts"),
            Self::RateLimited { .. } => ("rate-limited", "Too many requests"),
            Self::AtCapacity {
                kind: SlotKind::Uploads,
                ..
            } => ("too-many-uploads", "Too many uploads in flight"),
            Self::AtCapacity {
                kind: SlotKind::EventStreams,
                ..
            } => ("too-many-streams", "Too many event streams"),
            Self::QuotaExceeded { .. } => ("quota-exceeded", "Quota exceeded"),
            Self::TusVersion => ("tus-version", "Unsupported tus version"),
            Self::OffsetMismatch(_) => ("offset-mismatch", "Upload offset mismatch"),
            Self::Locked(_) => ("upload-locked", "Upload in use"),
            Self::Unavailable(_) => ("store-unavailable", "Service unavailable"),
            Self::Internal(_) => ("internal", "Internal server error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (slug, title) = self.kind();
        Problem {
            kind: format!("urn:draftd:problem:{slug}"),
            title,
            status: self.status_code().as_u16(),
            detail: self.to_string(),
            errors: match self {
                Self::Invalid(errors) => Some(errors.clone()),
                Self::InvalidQuery {
                    parameter: Some(parameter),
                    reason,
                } => Some(FieldErrors::single(parameter, reason.clone())),
                _ => None,
            },
            current_version: match self {
                Self::PreconditionFailed { current } => Some(*current),
                _ => None,
            },
            limit: match self {
                Self::QuotaExceeded { limit, .. } => Some(*limit),
                _ => None,
            },
            used: match self {
                Self::QuotaExceeded { used, .. } => *used,
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::PreflightRefused(_) => StatusCode::FORBIDDEN,
            Self::MalformedBody(_) | Self::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::DraftDiscarded | Self::CourseDeleted => StatusCode::GONE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyDrafts { .. } | Self::RateLimited { .. } | Self::AtCapacity { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::QuotaExceeded { .. } => StatusCode::CONFLICT,
            Self::TusVersion => StatusCode::PRECONDITION_FAILED,
            Self::OffsetMismatch(_) => StatusCode::CONFLICT,
            Self::Locked(_) => StatusCode::LOCKED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Unavailable(e) | Self::Internal(e) = self {
            tracing::error!(error = %e, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        match self {
            Self::Unauthorized(_) => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            Self::MethodNotAllowed { allow, .. } => {
                response.insert_header((header::ALLOW, *allow));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
            }
            Self::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::AtCapacity { kind, .. } => {
                let secs = match kind {
                    SlotKind::Uploads => RETRY_AFTER_SECS,
                    SlotKind::EventStreams => STREAM_RETRY_AFTER_SECS,
                };
                response.insert_header((header::RETRY_AFTER, secs));
            }
            Self::Locked(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
            }
            Self::TusVersion => {
                response.insert_header(("tus-version", TUS_VERSION));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

fn invalid_query_detail(parameter: Option<&str>, reason: &str) -> String {
    match parameter {
        Some(parameter) => format!("the query parameter {parameter} is not valid: {reason}"),
        None => format!("the query string is not valid: {reason}"),
    }
}
