//! Draft sessions: the form's half-written data, one per open form, owned by
//! one user and kept alive by writes for the configured TTL.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::form::{FieldErrors, FormPatch};
use super::upload::UploadError;
use crate::stores::redis_sessions::{CreateOutcome, PatchOutcome, RedisSessions};
use crate::stores::StoreError;

/// Who acts: every draft belongs to one user of one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub user_id: Uuid,
    pub organization_id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DraftStatus {
    /// Only in Redis.
    Open,
    /// A course row exists; the form is still being edited.
    Materialized,
    /// The form was submitted; the draft is read-only.
    Submitted,
}

impl DraftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Materialized => "materialized",
            Self::Submitted => "submitted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Materialized, Self::Submitted]
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

/// A draft session as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// Rises by one on every change; the ETag is derived from it.
    pub version: u64,
    pub status: DraftStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the draft disappears unless written again.
    pub expires_at: DateTime<Utc>,
    pub course_id: Option<Uuid>,
    pub course_slug: Option<String>,
    #[schema(value_type = crate::domain::FormData)]
    pub form_data: Map<String, Value>,
}

/// What a conditional write expects to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`, or `If-Match: *`.
    None,
    /// The draft must be at this version.
    Version(u64),
    /// A malformed or weak tag: no version can match it.
    Unsatisfiable,
}

/// The domain's one error type.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Missing, expired, or someone else's: the same answer for all three.
    #[error("draft not found")]
    NotFound,
    #[error("draft is at version {current}")]
    VersionMismatch { current: u64 },
    #[error("at most {limit} live drafts per user")]
    TooManyDrafts { limit: u32 },
    #[error("the draft was submitted and can no longer change")]
    Submitted,
    #[error("invalid fields")]
    Invalid(FieldErrors),
    #[error("too many autosaves; retry in {retry_after:?}")]
    RateLimited { retry_after: std::time::Duration },
    /// Autosaves kept changing the draft while it was being submitted.
    #[error("the draft kept changing; retry")]
    Busy,
    #[error("invalid upload")]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Limits applied to every user's drafts.
#[derive(Debug, Clone, Copy)]
pub struct DraftLimits {
    pub ttl: std::time::Duration,
    pub max_per_user: u32,
    /// Autosaves a user may send per `rate_window`, across all their drafts.
    pub autosaves_per_window: u32,
    pub rate_window: std::time::Duration,
}

/// The draft-session operations the API offers.
#[derive(Clone)]
pub struct DraftSessions {
    store: RedisSessions,
    limits: DraftLimits,
}

impl DraftSessions {
    pub fn new(store: RedisSessions, limits: DraftLimits) -> Self {
        Self { store, limits }
    }

    /// Opens a new draft, optionally with initial form data. Writes nothing to
    /// Postgres.
    pub async fn create(&self, owner: Owner, form: &FormPatch) -> Result<Draft, DomainError> {
        match self
            .store
            .create(owner, Uuid::new_v4(), form, self.limits)
            .await?
        {
            CreateOutcome::Created(draft) => {
                metrics::counter!("draftd_drafts_created_total").increment(1);
                Ok(draft)
            }
            CreateOutcome::TooManyDrafts => Err(DomainError::TooManyDrafts {
                limit: self.limits.max_per_user,
            }),
        }
    }

    pub async fn get(&self, user_id: Uuid, id: Uuid) -> Result<Draft, DomainError> {
        self.store
            .get(user_id, id)
            .await?
            .ok_or(DomainError::NotFound)
    }

    /// The user's live drafts, most recently written first.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<Draft>, DomainError> {
        Ok(self.store.list(user_id).await?)
    }

    /// Applies an autosave in one atomic step and refreshes the TTL.
    pub async fn autosave(
        &self,
        user_id: Uuid,
        id: Uuid,
        patch: &FormPatch,
        precondition: &Precondition,
    ) -> Result<Draft, DomainError> {
        match self
            .store
            .patch(user_id, id, patch, precondition, self.limits)
            .await?
        {
            PatchOutcome::Saved(draft) => {
                metrics::counter!("draftd_autosaves_total").increment(1);
                Ok(draft)
            }
            PatchOutcome::Missing => Err(DomainError::NotFound),
            PatchOutcome::Stale { current } => Err(DomainError::VersionMismatch { current }),
            PatchOutcome::Submitted => Err(DomainError::Submitted),
            PatchOutcome::RateLimited { retry_after } => {
                Err(DomainError::RateLimited { retry_after })
            }
        }
    }
}
