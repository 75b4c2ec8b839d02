//! Draft sessions over the two stores a draft can live in: Redis, and
//! Postgres for drafts opened while Redis was unreachable (degraded mode). A
//! draft stays in the store it was opened in; a lookup asks Redis first, then
//! Postgres. Both implement [`DraftBackend`], and this is the one place that
//! chooses between them.

use crate::domain::ids::{CourseId, DraftId};

use super::limits::WriteRate;
use super::AppError;
use crate::domain::draft::{CreateOutcome, FreezeOutcome, PatchOutcome, Return, Saved};
use crate::domain::page::{paginate, Cursor, Page, PageRequest};
use crate::domain::{
    Course, Draft, DraftBackend, DraftLimits, DraftStatus, DraftStore, FormPatch, Idempotency,
    IdempotencyKey, MaterializedBy, Owner, Precondition,
};
use crate::stores::postgres::PgDrafts;
use crate::stores::redis::RedisDrafts;

/// What a create answers: a new draft, or the one its idempotency key named.
pub enum Created {
    New(Draft),
    Existing(Draft),
}

impl<Fallback: DraftBackend> DraftSessions<RedisDrafts, Fallback> {
    /// Marks the draft of a course that went to the trash read-only, or
    /// unmarks it on restore, so that autosave refuses it without a trip to
    /// Postgres (the course row stays the truth: every write to the course
    /// checks it). Trash and restore are idempotent: when this fails after
    /// the row changed, the caller's retry marks the draft again.
    pub(super) async fn mark_trashed(&self, owner: Owner, course: &Course) -> Result<(), AppError> {
        let Some(draft_id) = course.draft_session_id else {
            return Ok(());
        };
        if course.materialized_by == Some(MaterializedBy::Degraded) {
            return Ok(()); // The draft is the row itself.
        }
        self.primary
            .mark_trashed(owner.user_id, draft_id, course.id, course.is_trashed())
            .await?;
        Ok(())
    }
}

impl DraftSessions<RedisDrafts, PgDrafts> {
    /// Keeps the draft alive for its TTL without changing it, as a resumable
    /// upload's PATCH does. A draft that is gone is a 404.
    pub(super) async fn touch(&self, owner: Owner, draft: &Draft) -> Result<(), AppError> {
        let alive = match draft.store {
            DraftStore::Redis => self.primary.touch(owner, draft.id, self.limits.ttl).await?,
            DraftStore::Postgres => self.fallback.touch(owner, draft.id).await?,
        };
        if alive {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// Runs `$call` on the backend that holds `$draft`, named `$backend`.
macro_rules! in_store_of {
    ($self:ident, $draft:expr, |$backend:ident| $call:expr) => {
        if $draft.store == Primary::KIND {
            let $backend = &$self.primary;
            $call.await
        } else {
            let $backend = &$self.fallback;
            $call.await
        }
    };
}

#[derive(Clone)]
pub struct DraftSessions<Primary = RedisDrafts, Fallback = PgDrafts> {
    primary: Primary,
    fallback: Fallback,
    limits: DraftLimits,
    writes: WriteRate,
}

impl<Primary: DraftBackend, Fallback: DraftBackend> DraftSessions<Primary, Fallback> {
    pub fn new(
        primary: Primary,
        fallback: Fallback,
        limits: DraftLimits,
        writes: WriteRate,
    ) -> Self {
        Self {
            primary,
            fallback,
            limits,
            writes,
        }
    }

    /// Opens a new draft, optionally with initial form data, in the primary
    /// store: nothing is written to Postgres. While the primary fails to
    /// answer, the draft opens in the fallback instead, so the form keeps
    /// working. Under an idempotency key, a key that already names one of the
    /// owner's drafts answers that draft (`Created::Existing`): the same
    /// draft, or 410 if its owner discarded it; a key whose draft expired is
    /// taken for the new one. The fallback does not keep keys.
    pub async fn create(
        &self,
        owner: Owner,
        form: &FormPatch,
        key: Option<IdempotencyKey>,
    ) -> Result<Created, AppError> {
        self.writes.count(owner).await?;
        let mut idempotency = key.map(|key| Idempotency {
            key,
            replaces: None,
        });
        loop {
            let outcome = match self
                .primary
                .create(
                    owner,
                    DraftId::new(),
                    form,
                    self.limits,
                    idempotency.as_ref(),
                )
                .await
            {
                Err(e) if e.is_redis_unavailable() => {
                    tracing::warn!(error = %e, "Redis failed: the new draft opens in Postgres");
                    metrics::counter!("draftd_degraded_drafts_total").increment(1);
                    // A new id: Redis may yet have stored the first one.
                    self.fallback
                        .create(owner, DraftId::new(), form, self.limits, None)
                        .await?
                }
                other => other?,
            };
            return match outcome {
                CreateOutcome::Created(draft) => {
                    metrics::counter!("draftd_drafts_created_total").increment(1);
                    Ok(Created::New(draft))
                }
                CreateOutcome::Existing(id) => match self.get(owner, id).await {
                    Ok(draft) => Ok(Created::Existing(draft)),
                    Err(AppError::NotFound) => match idempotency.as_mut() {
                        Some(idempotency) if idempotency.replaces.is_none() => {
                            idempotency.replaces = Some(id);
                            continue;
                        }
                        _ => Err(AppError::NotFound),
                    },
                    Err(e) => Err(e),
                },
                CreateOutcome::TooManyDrafts => Err(AppError::TooManyDrafts {
                    limit: self.limits.max_per_user,
                }),
                CreateOutcome::Fenced(fence) => Err(fence.into()),
            };
        }
    }

    pub async fn get(&self, owner: Owner, id: DraftId) -> Result<Draft, AppError> {
        let in_primary = self.primary.get(owner, id).await;
        if let Ok(Some(draft)) = in_primary {
            return Ok(draft);
        }
        match (in_primary, self.fallback.get(owner, id).await) {
            (_, Ok(Some(draft))) => Ok(draft),
            (Ok(_), Ok(None)) => Err(self.missing(owner, id).await),
            // Unknown whether the primary holds it: its failure is the answer.
            (Err(e), _) | (Ok(_), Err(e)) => Err(e.into()),
        }
    }

    /// Why the owner's draft `id` is not there: they discarded it (within
    /// the draft TTL), or it is missing, expired or someone else's. Asked
    /// only when a draft is not found, so a found draft costs nothing more.
    async fn missing(&self, owner: Owner, id: DraftId) -> AppError {
        match self.primary.discarded(owner, id).await {
            Ok(true) => AppError::Discarded,
            Ok(false) => AppError::NotFound,
            Err(e) => e.into(),
        }
    }

    /// A page of the user's live drafts, in both stores, most recently
    /// written first. Both stores' lists are bounded by the per-user cap.
    pub async fn list(&self, owner: Owner, page: PageRequest) -> Result<Page<Draft>, AppError> {
        let (in_primary, in_fallback) =
            tokio::join!(self.primary.list(owner), self.fallback.list(owner));
        let mut drafts = in_primary?;
        drafts.extend(in_fallback?);
        Ok(paginate(drafts, page, |draft| Cursor {
            at: draft.updated_at,
            id: draft.id.as_uuid(),
        }))
    }

    /// Applies an autosave in one atomic step and refreshes the TTL.
    pub async fn autosave(
        &self,
        owner: Owner,
        id: DraftId,
        patch: &FormPatch,
        precondition: &Precondition,
        answer: Return,
    ) -> Result<Saved, AppError> {
        let in_primary = self
            .primary
            .patch(owner, id, patch, precondition, self.limits, answer)
            .await;
        let in_fallback = || {
            self.fallback
                .patch(owner, id, patch, precondition, self.limits, answer)
        };
        let outcome = match in_primary {
            Ok(PatchOutcome::Missing) => in_fallback().await?,
            Ok(outcome) => outcome,
            Err(e) => match in_fallback().await {
                Ok(PatchOutcome::Missing) | Err(_) => return Err(e.into()),
                Ok(outcome) => outcome,
            },
        };
        match outcome {
            PatchOutcome::Saved(saved) => {
                metrics::counter!("draftd_autosaves_total").increment(1);
                Ok(saved)
            }
            PatchOutcome::Missing => Err(self.missing(owner, id).await),
            PatchOutcome::Stale { current } => Err(AppError::VersionMismatch { current }),
            PatchOutcome::Submitted => Err(AppError::Submitted),
            PatchOutcome::Trashed => Err(AppError::Trashed),
            PatchOutcome::RateLimited { retry_after } => Err(AppError::RateLimited { retry_after }),
        }
    }

    /// Records the draft's course in the draft, unless it is there already.
    pub(super) async fn attach_course(
        &self,
        owner: Owner,
        draft: &Draft,
        course_id: CourseId,
        slug: &str,
    ) -> Result<(), AppError> {
        if draft.course_id == Some(course_id) && draft.status != DraftStatus::Open {
            return Ok(());
        }
        in_store_of!(self, draft, |store| store
            .attach_course(owner, draft.id, course_id, slug))?;
        Ok(())
    }

    /// Submit's last step, once the course row is submitted: records the
    /// course in the frozen draft, which shortens its life and tells its
    /// event streams. Always runs, even when the draft had its course already.
    pub(super) async fn attach_submitted(
        &self,
        owner: Owner,
        draft: &Draft,
        course_id: CourseId,
        slug: &str,
    ) -> Result<(), AppError> {
        in_store_of!(self, draft, |store| store
            .attach_course(owner, draft.id, course_id, slug))?;
        Ok(())
    }

    /// Submit's first step: freezes the draft at the version that passed
    /// validation. `Ok(false)`: an autosave came first.
    pub(super) async fn freeze(&self, owner: Owner, draft: &Draft) -> Result<bool, AppError> {
        if draft.status == DraftStatus::Submitted {
            return Ok(true);
        }
        let outcome = in_store_of!(self, draft, |store| store.freeze(
            owner,
            draft.id,
            draft.version
        ))?;
        match outcome {
            FreezeOutcome::Frozen | FreezeOutcome::AlreadySubmitted => Ok(true),
            FreezeOutcome::Changed => Ok(false),
            FreezeOutcome::Missing => Err(AppError::NotFound),
        }
    }

    /// Makes a draft frozen by a submit that failed for good editable again.
    pub(super) async fn thaw(&self, owner: Owner, draft: &Draft) -> Result<(), AppError> {
        Ok(in_store_of!(self, draft, |store| store.thaw(
            owner,
            draft.id,
            draft.version
        ))?)
    }

    /// Removes the draft session. `course_deleted`: its course row went just
    /// before.
    pub(super) async fn remove(
        &self,
        owner: Owner,
        draft: &Draft,
        course_deleted: bool,
    ) -> Result<bool, AppError> {
        let limits = self.limits;
        Ok(in_store_of!(self, draft, |store| store.remove(
            owner,
            draft.id,
            course_deleted,
            limits
        ))?)
    }
}
