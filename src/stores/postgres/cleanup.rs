//! The one way courses are deleted: the rows go, and in the same transaction
//! cleanup jobs are queued for what lives outside Postgres (the course's
//! storage prefix, its draft's Redis keys). Nothing outside Postgres is touched before that transaction commits. The
//! same transaction records `course.deleted` and `file.deleted` events.

use std::sync::LazyLock;

use deadpool_postgres::{GenericClient, Transaction};

use super::fence;
use super::outbox::record;
use super::queue::enqueue;
use crate::domain::cleanup::{tasks, CleanupPolicy, Deleted, DeletionReason, Erasable};
use crate::domain::event::EventKind;
use crate::domain::ids::{CourseId, FileId};
use crate::domain::{Owner, StoreError};

/// The one deletion of courses: the rows go (their file rows by cascade),
/// their cleanup jobs and `course.deleted` events are recorded, in one
/// statement, with the tombstones of the deletion fence. $1 the ids, $2 and
/// $4 the owner (user and organization; NULL: any), $5 the [`Erasable`]
/// condition, checked on each row under its lock, $3 the reason, $6 whether
/// platform keys are erased, $7 whether ids with no row at all get a
/// tombstone too (a discarded draft that had no course yet). The jobs'
/// payloads are the cleanup steps' types (`domain::cleanup`). Run it behind
/// [`fence::close`] of the same ids, in the same transaction. Shared with the
/// benchmark that explains its plan.
pub static DELETE_COURSES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH deleted AS (
             DELETE FROM courses WHERE id = ANY($1)
               AND ($2::uuid IS NULL OR (owner_id = $2 AND organization_id = $4))
               AND CASE $5::text
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
         ), storage AS ({}
         ), sessions AS ({}
             -- A draft opened in degraded mode never had Redis keys.
             WHERE s.draft_session_id IS NOT NULL
               AND s.materialized_by IS DISTINCT FROM 'degraded'
             RETURNING 1
         ), platform_keys AS ({} WHERE $6
         )
         SELECT coalesce((SELECT array_agg(id) FROM deleted), '{{}}') AS ids,
                (SELECT n FROM files) AS files, (SELECT bytes FROM files) AS bytes,
                (SELECT count(*) FROM sessions) AS sessions",
        record(EventKind::CourseDeleted, "deleted", None),
        fence::tombstones_sql("$1", "$3", "$7"),
        for_deleted(tasks::STORAGE_PREFIX, "'organizationId', s.organization_id"),
        for_deleted(
            tasks::DRAFT_SESSION,
            "'userId', s.owner_id, 'draftId', s.draft_session_id"
        ),
        for_deleted(
            tasks::PLATFORM_KEYS,
            "'organizationId', s.organization_id, 'userId', s.owner_id"
        ),
    )
});

/// A `task` cleanup job for each deleted course (the `deleted` rows, `$3`
/// the reason), its payload the course, `fields` (SQL pairs over `s`) and
/// the reason. Cleanup jobs have no ordering key.
fn for_deleted(task: &str, fields: &str) -> String {
    enqueue(
        task,
        "deleted",
        &format!("jsonb_build_object('courseId', s.id, {fields}, 'reason', $3::text)"),
        "s.id",
        "NULL::uuid",
    )
}

/// Deletes the courses (those of `owner`, if given, and those `condition`
/// allows), records their cleanup jobs and tombstones, in the caller's
/// transaction, behind their fence: a recording in flight either committed
/// before (and is deleted with them) or will see the tombstones.
pub async fn delete_courses(
    tx: &Transaction<'_>,
    ids: &[CourseId],
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
                &owner.map(|o| o.organization_id),
                &condition.as_str(),
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
    course_id: CourseId,
    file_id: FileId,
) -> Result<bool, StoreError> {
    // The course row's lock orders this file's event with the course's others.
    let sql = format!(
        "WITH course AS (
             SELECT * FROM courses c WHERE c.id = $2 AND c.owner_id = $3
               AND c.organization_id = $5 AND c.trashed_at IS NULL
             FOR NO KEY UPDATE
         ), deleted AS (
             DELETE FROM course_files f WHERE f.id = $1 AND f.course_id IN (SELECT id FROM course)
             RETURNING f.id AS file_id, course_id, storage_key
         ), events AS ({})
         {} RETURNING id",
        record(
            EventKind::FileDeleted,
            "(SELECT c.*, d.file_id FROM course c JOIN deleted d ON d.course_id = c.id)",
            Some("s.file_id"),
        ),
        enqueue(
            tasks::STORAGE_OBJECT,
            "(SELECT d.*, c.organization_id FROM deleted d JOIN course c ON c.id = d.course_id)",
            "jsonb_build_object('courseId', s.course_id, 'organizationId', s.organization_id,
                 'key', s.storage_key, 'reason', $4::text)",
            "s.course_id",
            "NULL::uuid",
        ),
    );
    let row = tx
        .query_opt(
            &sql,
            &[
                &file_id,
                &course_id,
                &owner.user_id,
                &DeletionReason::File.as_str(),
                &owner.organization_id,
            ],
        )
        .await?;
    Ok(row.is_some())
}
