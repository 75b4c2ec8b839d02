//! Draft sessions: the form's half-written data, one per open form, owned by
//! one user and kept alive by writes for the configured TTL.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::course::{course_id_for, title_from, MaterializedBy};
use super::form::{FieldErrors, FormPatch};
use super::upload::UploadError;
use crate::stores::courses::NewCourse;
use crate::stores::pg_drafts::PgDrafts;
use crate::stores::redis_sessions::{FreezeOutcome, RedisSessions};
use crate::stores::{CreateOutcome, PatchOutcome, StoreError};

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

/// Which store holds a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DraftStore {
    /// Every draft, normally.
    Redis,
    /// Degraded mode: opened while Redis was unreachable, the draft lives in
    /// its course row, for its whole life.
    Postgres,
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
    /// Where the draft is kept: `postgres` for a draft opened while Redis was
    /// unreachable.
    pub store: DraftStore,
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

/// The draft-session operations the API offers, over the two stores a
/// draft can live in: Redis, and Postgres for drafts opened while Redis was
/// unreachable (degraded mode). A draft stays in the store it was opened in;
/// a lookup asks Redis first, then Postgres.
#[derive(Clone)]
pub struct DraftSessions {
    redis: RedisSessions,
    postgres: PgDrafts,
    limits: DraftLimits,
}

impl DraftSessions {
    pub fn new(redis: RedisSessions, postgres: PgDrafts, limits: DraftLimits) -> Self {
        Self {
            redis,
            postgres,
            limits,
        }
    }

    /// Opens a new draft, optionally with initial form data, in Redis: nothing
    /// is written to Postgres. While Redis fails to answer, the draft opens in
    /// a course row of its own instead, so the form keeps working.
    pub async fn create(&self, owner: Owner, form: &FormPatch) -> Result<Draft, DomainError> {
        let outcome = match self
            .redis
            .create(owner, Uuid::new_v4(), form, self.limits)
            .await
        {
            Err(e) if e.is_redis_failure() => {
                tracing::warn!(error = %e, "Redis failed: the new draft opens in Postgres");
                metrics::counter!("draftd_degraded_drafts_total").increment(1);
                // A new id: Redis may yet have stored the first one.
                let id = Uuid::new_v4();
                let form_data = form.assignments_object();
                let new = NewCourse {
                    id: course_id_for(id),
                    draft_session_id: id,
                    owner_id: owner.user_id,
                    organization_id: owner.organization_id,
                    title: title_from(&form_data),
                    form_data: &form_data,
                    materialized_by: MaterializedBy::Degraded,
                    draft_version: Some(1),
                };
                self.postgres.create(&new, self.limits.max_per_user).await?
            }
            other => other?,
        };
        match outcome {
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
        let in_redis = self.redis.get(user_id, id).await;
        if let Ok(Some(draft)) = in_redis {
            return Ok(draft);
        }
        match (in_redis, self.postgres.get(user_id, id).await) {
            (_, Ok(Some(draft))) => Ok(draft),
            (Ok(_), Ok(None)) => Err(DomainError::NotFound),
            // Unknown whether Redis holds it: the Redis failure is the answer.
            (Err(e), _) | (Ok(_), Err(e)) => Err(e.into()),
        }
    }

    /// The user's live drafts, in both stores, most recently written first.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<Draft>, DomainError> {
        let (in_redis, in_postgres) =
            tokio::join!(self.redis.list(user_id), self.postgres.list(user_id));
        let mut drafts = in_redis?;
        drafts.extend(in_postgres?);
        drafts.sort_by_key(|draft| std::cmp::Reverse(draft.updated_at));
        Ok(drafts)
    }

    /// Applies an autosave in one atomic step and refreshes the TTL.
    pub async fn autosave(
        &self,
        user_id: Uuid,
        id: Uuid,
        patch: &FormPatch,
        precondition: &Precondition,
    ) -> Result<Draft, DomainError> {
        let in_redis = self
            .redis
            .patch(user_id, id, patch, precondition, self.limits)
            .await;
        let outcome = match in_redis {
            Ok(PatchOutcome::Missing) => {
                self.postgres
                    .patch(user_id, id, patch, precondition)
                    .await?
            }
            Ok(outcome) => outcome,
            Err(e) => match self.postgres.patch(user_id, id, patch, precondition).await {
                Ok(PatchOutcome::Missing) | Err(_) => return Err(e.into()),
                Ok(outcome) => outcome,
            },
        };
        match outcome {
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

    /// Records the draft's course in a draft kept in Redis (a draft kept in
    /// Postgres is its course row already).
    pub(super) async fn attach_course(
        &self,
        user_id: Uuid,
        draft: &Draft,
        course_id: Uuid,
        slug: &str,
    ) -> Result<(), DomainError> {
        if draft.store == DraftStore::Redis
            && (draft.course_id != Some(course_id) || draft.status == DraftStatus::Open)
        {
            self.redis
                .attach_course(user_id, draft.id, course_id, slug)
                .await?;
        }
        Ok(())
    }

    /// Submit's first step for a draft kept in Redis: freezes it at the version
    /// that passed validation. `Ok(false)`: an autosave came first. A draft kept
    /// in Postgres is frozen by the submit's own conditional update.
    pub(super) async fn freeze(&self, user_id: Uuid, draft: &Draft) -> Result<bool, DomainError> {
        if draft.store == DraftStore::Postgres || draft.status == DraftStatus::Submitted {
            return Ok(true);
        }
        match self.redis.freeze(user_id, draft.id, draft.version).await? {
            FreezeOutcome::Frozen | FreezeOutcome::AlreadySubmitted => Ok(true),
            FreezeOutcome::Changed => Ok(false),
            FreezeOutcome::Missing => Err(DomainError::NotFound),
        }
    }

    /// Removes the draft session. `course_deleted`: its course row went just
    /// before, which, for a draft kept in Postgres, took the draft with it.
    pub(super) async fn remove(
        &self,
        user_id: Uuid,
        draft: &Draft,
        course_deleted: bool,
    ) -> Result<bool, DomainError> {
        Ok(match draft.store {
            DraftStore::Redis => self.redis.delete(user_id, draft.id).await?,
            DraftStore::Postgres => {
                course_deleted || self.postgres.forget(user_id, draft.id).await?
            }
        })
    }
}
