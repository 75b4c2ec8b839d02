//! A course's lifecycle after it is made: the trash and back, erasing it, and
//! discarding the draft it came from, always through the cleanup queue.

use super::Courses;
use crate::app::AppError;
use crate::domain::cleanup::{DeletionReason, Erasable};
use crate::domain::course::{course_id_for, TrashOutcome};
use crate::domain::ids::{CourseId, DraftId};
use crate::domain::{CourseWithFiles, Owner};

impl Courses {
    /// Moves the caller's course to the trash, with its files, restorable
    /// until its retention ends; the draft it came from turns read-only.
    pub async fn trash(
        &self,
        owner: Owner,
        course_id: CourseId,
    ) -> Result<CourseWithFiles, AppError> {
        self.limits.writes.count(owner).await?;
        let TrashOutcome::Done(course) =
            self.courses.trash(owner, course_id, self.retention).await?
        else {
            return Err(AppError::NotFound);
        };
        self.drafts.mark_trashed(owner, &course).await?;
        self.with_files(owner, *course).await
    }

    /// Brings the caller's course back from the trash, unchanged.
    pub async fn restore(
        &self,
        owner: Owner,
        course_id: CourseId,
    ) -> Result<CourseWithFiles, AppError> {
        self.limits.writes.count(owner).await?;
        let TrashOutcome::Done(course) = self.courses.restore(owner, course_id).await? else {
            return Err(AppError::NotFound);
        };
        self.drafts.mark_trashed(owner, &course).await?;
        self.with_files(owner, *course).await
    }

    /// Erases the caller's course now, in the trash or not: the row (its file
    /// rows cascade) goes, and its files and draft session are queued as
    /// cleanup jobs.
    pub async fn erase(&self, owner: Owner, course_id: CourseId) -> Result<(), AppError> {
        self.limits.writes.count(owner).await?;
        let erased = self
            .courses
            .delete(
                owner,
                course_id,
                Erasable::Any,
                DeletionReason::Owner,
                self.cleanup.policy,
            )
            .await?;
        if !erased {
            return Err(AppError::NotFound);
        }
        self.cleanup.wake.wake();
        Ok(())
    }

    /// Discards a draft. A course that is not submitted, or is in the trash,
    /// is erased with it (files included; nobody wants it back); a submitted
    /// course stays. The draft's course is fenced even when it does not exist
    /// yet: an upload or a submit in flight cannot make it afterwards.
    pub async fn discard_draft(&self, owner: Owner, draft_id: DraftId) -> Result<(), AppError> {
        self.limits.writes.count(owner).await?;
        let draft = self.draft(owner, draft_id).await?;
        let course_id = draft.course_id.unwrap_or_else(|| course_id_for(draft.id));
        let course_deleted = self
            .courses
            .delete(
                owner,
                course_id,
                Erasable::Unsubmitted,
                DeletionReason::Discard,
                self.cleanup.policy,
            )
            .await?;
        if course_deleted {
            self.cleanup.wake.wake();
        }
        // Its unfinished resumable uploads end with it (the sweep removes
        // their bytes).
        self.tus.expire_draft(owner, draft.id).await?;
        // The session is also queued with the course; removing it now means
        // the next read already answers 410. The runner, woken above,
        // may have removed it first: then this discard removed it all the same.
        let removed = self.drafts.remove(owner, &draft, course_deleted).await?;
        if removed || course_deleted {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}
