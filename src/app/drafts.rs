//! Draft sessions over the two stores a draft can live in: Redis, and
//! Postgres for drafts opened while Redis was unreachable (degraded mode).
//! Both implement [`DraftBackend`]; [`Fallback`] makes them one store, and
//! the steps only Redis takes (submit's freeze, the course recorded in the
//! draft, the discard's tombstone, the trash mark) are asked of it directly.

use super::limits::WriteRate;
use super::AppError;
use crate::domain::draft::{
    Autosave, CreateOutcome, FreezeOutcome, NewDraft, PatchOutcome, Return, Saved,
};
use crate::domain::ids::DraftId;
use crate::domain::page::{paginate, Cursor, Page, PageRequest};
use crate::domain::{
    Course, Draft, DraftBackend, DraftLimits, DraftStatus, FormPatch, Idempotency, IdempotencyKey,
    MaterializedBy, Owner, Precondition,
};
use crate::stores::postgres::PgDrafts;
use crate::stores::redis::RedisDrafts;

mod fallback;

pub use fallback::Fallback;

/// The stores a draft can live in: Redis, and Postgres while Redis fails.
pub type DraftStores = Fallback<RedisDrafts, PgDrafts>;

/// What a create answers: a new draft, or the one its idempotency key named.
pub enum Created {
    New(Draft),
    Existing(Draft),
}

#[derive(Clone)]
pub struct DraftSessions {
    stores: DraftStores,
    limits: DraftLimits,
    writes: WriteRate,
}

impl DraftSessions {
    pub fn new(stores: DraftStores, limits: DraftLimits, writes: WriteRate) -> Self {
        Self {
            stores,
            limits,
            writes,
        }
    }

    /// Opens a new draft, optionally with initial form data, in Redis:
    /// nothing is written to Postgres, unless Redis fails to answer (see
    /// [`Fallback`]). Under an idempotency key, a key that already names one
    /// of the owner's drafts answers that draft (`Created::Existing`): the
    /// same draft, or 410 if its owner discarded it; a key whose draft
    /// expired is taken for the new one. Postgres does not keep keys.
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
            let new = NewDraft {
                form,
                idempotency: idempotency.as_ref(),
            };
            let outcome = self.stores.create(owner, new).await?;
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
        match self.stores.get(owner, id).await? {
            Some(draft) => Ok(draft),
            None => Err(self.missing(owner, id).await),
        }
    }

    /// Why the owner's draft `id` is not there: they discarded it (within
    /// the draft TTL), or it is missing, expired or someone else's. Asked
    /// only when a draft is not found, so a found draft costs nothing more.
    async fn missing(&self, owner: Owner, id: DraftId) -> AppError {
        match self.stores.primary().discarded(owner, id).await {
            Ok(true) => AppError::Discarded,
            Ok(false) => AppError::NotFound,
            Err(e) => e.into(),
        }
    }

    /// A page of the user's live drafts, in both stores, most recently
    /// written first. Both stores' lists are bounded by the per-user cap.
    pub async fn list(&self, owner: Owner, page: PageRequest) -> Result<Page<Draft>, AppError> {
        let drafts = self.stores.list(owner).await?;
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
        let save = Autosave {
            id,
            patch,
            precondition,
            answer,
        };
        match self.stores.patch(owner, save).await? {
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

    /// Records the draft's course in the draft: an open draft becomes
    /// materialized, a submitted one lives on only briefly and tells its
    /// event streams. A draft kept in Postgres is its course row already.
    pub(super) async fn attach_course(
        &self,
        owner: Owner,
        draft: &Draft,
        course: &Course,
    ) -> Result<(), AppError> {
        let primary = self.stores.primary();
        if primary.holds(draft) {
            primary
                .attach_course(owner, draft.id, course.id, &course.slug)
                .await?;
        }
        Ok(())
    }

    /// Submit's first step: freezes the draft at the version that passed
    /// validation. `Ok(false)`: an autosave came first. A draft kept in
    /// Postgres is frozen by submit's own conditional update of its row.
    pub(super) async fn freeze(&self, owner: Owner, draft: &Draft) -> Result<bool, AppError> {
        let primary = self.stores.primary();
        if draft.status == DraftStatus::Submitted || !primary.holds(draft) {
            return Ok(true);
        }
        let outcome = primary.freeze(owner, draft.id, draft.version).await?;
        match outcome {
            FreezeOutcome::Frozen | FreezeOutcome::AlreadySubmitted => Ok(true),
            FreezeOutcome::Changed => Ok(false),
            FreezeOutcome::Missing => Err(AppError::NotFound),
        }
    }

    /// Makes a draft frozen by a submit that failed for good editable again.
    /// A draft kept in Postgres was never frozen apart from its row, whose
    /// failed submit was rolled back.
    pub(super) async fn thaw(&self, owner: Owner, draft: &Draft) -> Result<(), AppError> {
        let primary = self.stores.primary();
        if primary.holds(draft) {
            primary.thaw(owner, draft.id, draft.version).await?;
        }
        Ok(())
    }

    /// Removes the draft session. `course_deleted`: its course row went just
    /// before.
    pub(super) async fn remove(
        &self,
        owner: Owner,
        draft: &Draft,
        course_deleted: bool,
    ) -> Result<bool, AppError> {
        Ok(self.stores.remove(owner, draft, course_deleted).await?)
    }

    /// Keeps the draft alive for its TTL without changing it, as a resumable
    /// upload's PATCH does. A draft that is gone is a 404.
    pub(super) async fn touch(&self, owner: Owner, draft: &Draft) -> Result<(), AppError> {
        if self.stores.touch(owner, draft).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

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
        self.stores
            .primary()
            .mark_trashed(owner.user_id, draft_id, course.id, course.is_trashed())
            .await?;
        Ok(())
    }
}
