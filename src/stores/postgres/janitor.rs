//! The janitor's queries: its lock, its candidates through the partial index,
//! and the deletion of a batch, each batch its own transaction.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use uuid::Uuid;

use super::cleanup::delete_courses;
use super::fence;
use super::lock::{JobLock, JANITOR_LOCK};
use super::status::COURSE_DRAFT;
use super::Postgres;
use crate::domain::cleanup::{CleanupPolicy, Deleted, DeletionReason, Erasable};
use crate::domain::ids::{CourseId, DraftId, UserId};
use crate::domain::StoreError;

/// The janitor's candidate query (a course in the trash waits for the purge):
/// $1 cutoff, $2 and $3 the keyset (updated_at,
/// id) to start after, $4 the batch size. Its condition implies the partial
/// index's, so the index serves it (a test checks the plan): the status is
/// named in the text, as the index's predicate names it.
pub static JANITOR_CANDIDATES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, owner_id, draft_session_id, updated_at FROM courses
        WHERE status = {COURSE_DRAFT} AND generation_status IS NULL AND updated_at < $1
          AND trashed_at IS NULL AND (updated_at, id) > ($2, $3)
        ORDER BY updated_at, id LIMIT $4"
    )
});

/// A course the janitor may delete.
#[derive(Debug, Clone)]
pub struct JanitorCandidate {
    pub id: CourseId,
    pub owner_id: UserId,
    pub draft_session_id: Option<DraftId>,
    pub updated_at: DateTime<Utc>,
}

/// The janitor's lock, held while it runs.
pub struct JanitorLock(JobLock);

impl Postgres {
    /// The janitor's lock, unless another replica's janitor holds it.
    pub async fn lock_janitor(&self) -> Result<Option<JanitorLock>, StoreError> {
        Ok(self.try_lock(JANITOR_LOCK).await?.map(JanitorLock))
    }
}

impl JanitorLock {
    /// The instant before which an unused draft's last activity makes it stale.
    pub async fn cutoff(&mut self, ttl: std::time::Duration) -> Result<DateTime<Utc>, StoreError> {
        Ok(self
            .0
            .client()
            .query_one(
                "SELECT now() - make_interval(secs => $1)",
                &[&ttl.as_secs_f64()],
            )
            .await?
            .try_get(0)?)
    }

    /// Removes the deletion fence's tombstones older than `keep` whose
    /// course has no cleanup job left, `batch` at a time. How many went.
    pub async fn prune_tombstones(
        &mut self,
        keep: std::time::Duration,
        batch: i64,
    ) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            let went = self
                .0
                .client()
                .execute(
                    fence::PRUNE_TOMBSTONES.as_str(),
                    &[&keep.as_secs_f64(), &batch],
                )
                .await?;
            pruned += went;
            if went < batch.unsigned_abs() {
                return Ok(pruned);
            }
        }
    }

    /// Starts a batch: its own transaction.
    pub async fn batch(&mut self) -> Result<JanitorBatch<'_>, StoreError> {
        Ok(JanitorBatch {
            tx: self.0.client().transaction().await?,
        })
    }

    pub async fn release(self) {
        self.0.release().await;
    }
}

/// One batch of the janitor, in one transaction.
pub struct JanitorBatch<'a> {
    tx: Transaction<'a>,
}

impl JanitorBatch<'_> {
    /// Unused drafts with no activity since `cutoff`, after the keyset
    /// `after`, oldest first, through the partial index. With `lock`, the rows
    /// are locked (`FOR UPDATE SKIP LOCKED`): rows another transaction holds
    /// are skipped, and a row changed meanwhile by an upload or submit is
    /// re-checked against the condition and dropped.
    pub async fn candidates(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<(DateTime<Utc>, CourseId)>,
        limit: i64,
        lock: bool,
    ) -> Result<Vec<JanitorCandidate>, StoreError> {
        let (after_time, after_id) =
            after.unwrap_or((DateTime::UNIX_EPOCH, CourseId::from(Uuid::nil())));
        let sql = format!(
            "{} {}",
            *JANITOR_CANDIDATES,
            if lock { "FOR UPDATE SKIP LOCKED" } else { "" }
        );
        let rows = self
            .tx
            .query(&sql, &[&cutoff, &after_time, &after_id, &limit])
            .await?;
        rows.iter()
            .map(|row| {
                Ok(JanitorCandidate {
                    id: row.try_get("id")?,
                    owner_id: row.try_get("owner_id")?,
                    draft_session_id: row.try_get("draft_session_id")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// A dry run's count: the files these courses hold. Ends the batch.
    pub async fn count_files(self, ids: &[CourseId]) -> Result<i64, StoreError> {
        let files: i64 = self
            .tx
            .query_one(
                "SELECT count(*) FROM course_files WHERE course_id = ANY($1)",
                &[&ids],
            )
            .await?
            .try_get(0)?;
        self.tx.rollback().await?;
        Ok(files)
    }

    /// Deletes the courses and queues their cleanup, but those a recording
    /// is writing in right now (it holds their fence: they are in use, not
    /// garbage). Ends the batch.
    pub async fn delete(
        self,
        ids: &[CourseId],
        policy: CleanupPolicy,
    ) -> Result<Deleted, StoreError> {
        let free = fence::try_close(&self.tx, ids).await?;
        let deleted = delete_courses(
            &self.tx,
            &free,
            None,
            Erasable::Any,
            DeletionReason::Janitor,
            policy,
        )
        .await?;
        self.tx.commit().await?;
        Ok(deleted)
    }
}
