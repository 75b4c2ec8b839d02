//! Which problem each layer's error is: the use cases', the stores', the
//! uploads' and the form's.

use super::{ApiError, ERASED};
use crate::app::limits::SlotKind;
use crate::app::AppError;
use crate::domain::tus::TusError;
use crate::domain::upload::UploadError;
use crate::domain::{FieldErrors, StoreError};

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e)
        } else {
            Self::Internal(e)
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => Self::NotFound,
            AppError::Discarded => Self::DraftDiscarded,
            AppError::CourseDeleted => Self::CourseDeleted,
            AppError::Erased => Self::Forbidden(ERASED),
            AppError::VersionMismatch { current } => Self::PreconditionFailed { current },
            AppError::TooManyDrafts { limit } => Self::TooManyDrafts { limit },
            AppError::RateLimited { retry_after } => Self::RateLimited {
                retry_after_secs: retry_after.as_millis().div_ceil(1000).max(1) as u64,
            },
            AppError::Invalid(errors) => Self::Invalid(errors),
            e @ (AppError::Submitted | AppError::Trashed | AppError::Busy) => {
                Self::Conflict(e.to_string())
            }
            AppError::AtCapacity { kind, per_user } => Self::AtCapacity {
                kind,
                detail: match (kind, per_user) {
                    (SlotKind::Uploads, true) => {
                        "this user has the maximum of uploads in flight; retry shortly"
                    }
                    (SlotKind::Uploads, false) => {
                        "the service has the maximum of uploads in flight; retry shortly"
                    }
                    (SlotKind::EventStreams, true) => {
                        "this user has the maximum of open event streams; close one (a tab) first"
                    }
                    (SlotKind::EventStreams, false) => {
                        "the service has the maximum of open event streams; retry later"
                    }
                },
            },
            e @ AppError::TooManyFiles { limit } => Self::QuotaExceeded {
                detail: e.to_string(),
                limit,
                used: None,
            },
            e @ (AppError::StorageFull { limit, used }
            | AppError::ReservationsFull { limit, used }) => Self::QuotaExceeded {
                detail: e.to_string(),
                limit,
                used: Some(used),
            },
            AppError::Upload(e) => e.into(),
            AppError::Tus(e) => e.into(),
            AppError::Store(e) => e.into(),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::TooLarge { limit } => Self::PayloadTooLarge { limit },
            UploadError::UnsupportedType(_)
            | UploadError::ExtensionMismatch { .. }
            | UploadError::ContentMismatch { .. } => Self::UnsupportedMediaType(e.to_string()),
            UploadError::BrokeOff => Self::MalformedBody(e.to_string()),
            UploadError::MissingFile | UploadError::BadName(_) | UploadError::Empty => {
                Self::Invalid(FieldErrors::single("file", e.to_string()))
            }
        }
    }
}

impl From<TusError> for ApiError {
    fn from(e: TusError) -> Self {
        match e {
            TusError::OffsetMismatch { .. } => Self::OffsetMismatch(e.to_string()),
            TusError::BadHeader(why) => Self::BadRequest(why),
            TusError::DeferLength => Self::BadRequest(
                "Upload-Defer-Length is not supported: send Upload-Length, the file's size",
            ),
            TusError::PastLength { length } => Self::PayloadTooLarge { limit: length },
            TusError::Locked => Self::Locked(e.to_string()),
            TusError::Finished { .. } => Self::Conflict(e.to_string()),
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Invalid(errors)
    }
}
