//! The cleanup queue in Postgres, and the one way courses are deleted: the
//! rows go, and in the same transaction jobs are recorded for what lives
//! outside Postgres (the course's storage prefix, its draft's Redis keys).
//! Nothing outside Postgres is touched before that transaction commits. The
//! same transaction records `course.deleted` and `file.deleted` events.

use std::sync::LazyLock;

use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::fence;
use super::outbox::record;
use super::rows::{job_from, JOB_COLUMNS};
use super::Postgres;
use crate::domain::cleanup::{
    CleanupJob, CleanupKind, CleanupPolicy, Deleted, DeletionReason, Erasable,
};
use crate::domain::event::EventKind;
use crate::domain::{Owner, StoreError};

/// The one deletion of courses: the rows go (their file rows by cascade),
/// their cleanup jobs and `course.deleted` events are recorded, in one
/// statement, with the tombstones of the deletion fence. $1 the ids, $2 and
/// $7 the owner (user and organization; NULL: any), $8 the [`Erasable`]
/// condition, checked on each row under its lock, $3 the reason, $4 the jobs'
/// attempts, $5, $6 and $9 the storage, session and platform-key job kinds,
/// $10 whether platform keys are erased, $11 whether ids with no row at all
/// get a tombstone too (a discarded draft that had no course yet). Run it
/// behind [`fence::close`] of the same ids, in the same transaction. Shared
/// with the benchmark that explains its plan.
pub static DELETE_COURSES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH deleted AS (
             DELETE FROM courses WHERE id = ANY($1)
               AND ($2::uuid IS NULL OR (owner_id = $2 AND organization_id = $7))
               AND CASE $8::text
                   WHEN 'any' THEN true
                   WHEN 'unsubmitted' THEN status = 'draft' OR trashed_at IS NOT NULL
                   ELSE purge_at <= now() END
             RETURNING id, owner_id, organization_id, draft_session_id, materialized_by,
                       status, announced_at
         ), events AS ({}
         ), tombstones AS ({}
         ), unfinished_uploads AS (
             -- Its resumable uploads end with it: expired now, their bytes
             -- go with the orphan sweep.
             UPDATE tus_uploads SET expires_at = least(expires_at, now())
             WHERE course_id IN (SELECT id FROM deleted)
         ), files AS (
             SELECT count(*) AS n, coalesce(sum(size_bytes), 0)::bigint AS bytes
             FROM course_files WHERE course_id IN (SELECT id FROM deleted)
         ), storage AS (
             INSERT INTO cleanup_jobs (kind, target, course_id, reason, max_attempts)
             SELECT $5::text, organization_id::text || '/' || id::text, id, $3, $4
             FROM deleted
         ), sessions AS (
             INSERT INTO cleanup_jobs (kind, target, course_id, reason, max_attempts)
             SELECT $6::text, owner_id::text || ':' || draft_session_id::text, id, $3, $4
             -- A draft opened in degraded mode never had Redis keys.
             FROM deleted WHERE draft_session_id IS NOT NULL
               AND materialized_by IS DISTINCT FROM 'degraded'
             RETURNING 1
         ), platform_keys AS (
             INSERT INTO cleanup_jobs (kind, target, course_id, reason, max_attempts)
             SELECT $9::text, organization_id::text || ':' || owner_id::text || ':' || id::text,
                    id, $3, $4
             FROM deleted WHERE $10
         )
         SELECT coalesce((SELECT array_agg(id) FROM deleted), '{{}}') AS ids,
                (SELECT n FROM files) AS files, (SELECT bytes FROM files) AS bytes,
                (SELECT count(*) FROM sessions) AS sessions",
        record(EventKind::CourseDeleted, "deleted", None),
        fence::tombstones_sql("$1", "$3", "$11"),
    )
});

/// Deletes the courses (those of `owner`, if given, and those `condition`
/// allows), records their cleanup jobs and tombstones, in the caller's
/// transaction, behind their fence: a recording in flight either committed
/// before (and is deleted with them) or will see the tombstones.
pub async fn delete_courses(
    tx: &Transaction<'_>,
    ids: &[Uuid],
    owner: Option<Owner>,
    condition: Erasable,
    reason: DeletionReason,
    policy: CleanupPolicy,
) -> Result<Deleted, StoreError> {
    fence::close(tx, ids).await?;
    // Prepared once per connection: the purge runs it once per course.
    let statement = tx.prepare_cached(DELETE_COURSES.as_str()).await?;
    let row = tx
        .query_one(
            &statement,
            &[
                &ids,
                &owner.map(|o| o.user_id),
                &reason.as_str(),
                &policy.max_attempts,
                &CleanupKind::StoragePrefix.as_str(),
                &CleanupKind::DraftSession.as_str(),
                &owner.map(|o| o.organization_id),
                &condition.as_str(),
                &CleanupKind::RedisKeys.as_str(),
                &policy.redis_patterns,
                &(reason == DeletionReason::Discard),
            ],
        )
        .await?;
    Ok(Deleted {
        course_ids: row.try_get("ids")?,
        files: row.try_get("files")?,
        bytes: row.try_get("bytes")?,
        sessions: row.try_get("sessions")?,
    })
}

/// Deletes one file row and queues its bytes, in the caller's transaction.
/// `false` if the owner's course has no such file, or is in the trash.
pub async fn delete_file(
    tx: &impl GenericClient,
    owner: Owner,
    course_id: Uuid,
    file_id: Uuid,
    max_attempts: i32,
) -> Result<bool, StoreError> {
    // The course row's lock orders this file's event with the course's others.
    let sql = format!(
        "WITH course AS (
             SELECT * FROM courses c WHERE c.id = $2 AND c.owner_id = $3
               AND c.organization_id = $7 AND c.trashed_at IS NULL
             FOR NO KEY UPDATE
         ), deleted AS (
             DELETE FROM course_files f WHERE f.id = $1 AND f.course_id IN (SELECT id FROM course)
             RETURNING f.id AS file_id, course_id, storage_key
         ), events AS ({})
         INSERT INTO cleanup_jobs (kind, target, course_id, reason, max_attempts)
         SELECT $4::text, storage_key, course_id, $5::text, $6 FROM deleted
         RETURNING id",
        record(
            EventKind::FileDeleted,
            "(SELECT c.*, d.file_id FROM course c JOIN deleted d ON d.course_id = c.id)",
            Some("s.file_id"),
        )
    );
    let row = tx
        .query_opt(
            &sql,
            &[
                &file_id,
                &course_id,
                &owner.user_id,
                &CleanupKind::StorageObject.as_str(),
                &DeletionReason::File.as_str(),
                &max_attempts,
                &owner.organization_id,
            ],
        )
        .await?;
    Ok(row.is_some())
}

/// The queue's operations.
#[derive(Clone)]
pub struct CleanupQueue {
    db: Postgres,
}

impl CleanupQueue {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Claims up to `limit` due jobs (of `kind`, if given) for `lease_secs`:
    /// a worker that dies holding them lets them fall due again when the
    /// lease ends.
    pub async fn claim(
        &self,
        kind: Option<CleanupKind>,
        limit: i64,
        lease_secs: f64,
    ) -> Result<Vec<CleanupJob>, StoreError> {
        let kind = kind.map(CleanupKind::as_str);
        self.db.call(|client| async move {
            let rows = client
                .query(
                    &format!(
                        "UPDATE cleanup_jobs SET attempts = attempts + 1, updated_at = now(),
                             run_after = now() + make_interval(secs => $2)
                         WHERE id IN (
                             SELECT id FROM cleanup_jobs WHERE status = 'pending' AND run_after <= now()
                               AND ($3::text IS NULL OR kind = $3)
                             ORDER BY run_after LIMIT $1 FOR UPDATE SKIP LOCKED)
                         RETURNING {JOB_COLUMNS}"
                    ),
                    &[&limit, &lease_secs, &kind],
                )
                .await?;
            rows.iter().map(job_from).collect::<Result<Vec<_>, _>>()
        })
        .await
    }

    /// A job that succeeded is done: it leaves the queue.
    pub async fn complete(&self, id: i64) -> Result<(), StoreError> {
        self.execute("DELETE FROM cleanup_jobs WHERE id = $1", &[&id])
            .await
    }

    /// A failed job runs again after `backoff_secs`, or, out of attempts, is dead.
    pub async fn fail(
        &self,
        job: &CleanupJob,
        error: &str,
        backoff_secs: f64,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE cleanup_jobs SET last_error = $2, updated_at = now(),
                 status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
                 run_after = now() + make_interval(secs => $3)
             WHERE id = $1",
            &[&job.id, &error, &backoff_secs],
        )
        .await
    }

    /// Puts dead jobs (all, or those listed) back in the queue with fresh attempts.
    pub async fn retry_dead(&self, ids: Option<&[i64]>) -> Result<u64, StoreError> {
        self.db.call(|client| async move {
            Ok(
                client
                    .execute(
                        "UPDATE cleanup_jobs SET status = 'pending', attempts = 0, run_after = now(),
                             updated_at = now()
                         WHERE status = 'dead' AND ($1::bigint[] IS NULL OR id = ANY($1))",
                        &[&ids],
                    )
                    .await?,
            )
        })
        .await
    }

    /// Pending and dead jobs.
    pub async fn counts(&self) -> Result<(i64, i64), StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_one(
                        "SELECT count(*) FILTER (WHERE status = 'pending'),
                            count(*) FILTER (WHERE status = 'dead') FROM cleanup_jobs",
                        &[],
                    )
                    .await?;
                Ok((row.try_get(0)?, row.try_get(1)?))
            })
            .await
    }

    pub async fn dead(&self, limit: i64) -> Result<Vec<CleanupJob>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT {JOB_COLUMNS} FROM cleanup_jobs WHERE status = 'dead'
                         ORDER BY updated_at DESC LIMIT $1"
                        ),
                        &[&limit],
                    )
                    .await?;
                rows.iter().map(job_from).collect::<Result<Vec<_>, _>>()
            })
            .await
    }

    /// Whether a course row with this id exists (again).
    pub async fn course_exists(&self, id: Uuid) -> Result<bool, StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM courses WHERE id = $1)",
                        &[&id],
                    )
                    .await?;
                Ok(row.try_get(0)?)
            })
            .await
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<(), StoreError> {
        self.db
            .call(|client| async move {
                client.execute(sql, params).await?;
                Ok(())
            })
            .await
    }
}
