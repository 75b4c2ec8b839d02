//! The tables of the version before the job queue (`cleanup_jobs`,
//! `webhook_events`), while a rolling upgrade has replicas of both: an old
//! replica still records, claims and settles there. The runner moves their
//! rows here as they fall due ([`JobQueue::adopt_legacy`]), and a course's
//! event waits for its earlier ones still there. Goes with the migration
//! that drops those tables (docs/operations.md, "Upgrading").

use super::JobQueue;
use crate::domain::StoreError;

/// Rows moved per statement.
const ADOPT_BATCH: i64 = 500;

/// True when the claimed job `j` has no earlier undelivered event of its
/// course in the old outbox (an old replica recorded it; event ids share
/// one sequence, so they compare across the tables).
pub(super) const NO_EARLIER_EVENT: &str = "NOT EXISTS (SELECT 1 FROM webhook_events e
    WHERE e.course_id = j.ordering_key AND e.id < j.id AND e.status <> 'delivered')";

/// Moves the old tables' rows that no old replica holds (due, dead or
/// delivered; a leased one stays until its replica settles it or the lease
/// ends) into `jobs`, as typed payloads, their last error as an attempt.
/// Events keep their ids, so a course's stay in order.
const ADOPT: &str = "WITH cleanup AS (
        DELETE FROM cleanup_jobs WHERE id IN (
            SELECT id FROM cleanup_jobs WHERE status = 'dead' OR run_after <= now()
            LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING *
    ), numbered AS (
        SELECT nextval('jobs_id_seq') AS new_id, c.* FROM cleanup c
    ), cleanup_jobs_moved AS (
        INSERT INTO jobs (id, task, payload, course_id, status, attempts, created_at)
        SELECT new_id, 'cleanup.' || kind, CASE kind
            WHEN 'storage_prefix' THEN jsonb_build_object('courseId', course_id,
                'organizationId', split_part(target, '/', 1), 'reason', reason)
            WHEN 'storage_object' THEN jsonb_build_object('courseId', course_id,
                'organizationId', split_part(target, '/', 1), 'key', target, 'reason', reason)
            WHEN 'draft_session' THEN jsonb_build_object('courseId', course_id,
                'userId', split_part(target, ':', 1), 'draftId', split_part(target, ':', 2),
                'reason', reason)
            ELSE jsonb_build_object('courseId', course_id,
                'organizationId', split_part(target, ':', 1),
                'userId', split_part(target, ':', 2), 'reason', reason) END,
            course_id, status, attempts, created_at
        FROM numbered
    ), cleanup_errors AS (
        INSERT INTO job_attempts (job_id, attempt, started_at, duration_ms, error)
        SELECT new_id, attempts, updated_at, 0, last_error FROM numbered
        WHERE last_error IS NOT NULL
    ), events AS (
        DELETE FROM webhook_events WHERE id IN (
            SELECT id FROM webhook_events
            WHERE status <> 'pending' OR next_attempt_at <= now()
            LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING *
    ), events_moved AS (
        INSERT INTO jobs (id, task, payload, course_id, ordering_key, status, attempts,
                          created_at, finished_at)
        SELECT id, 'webhook.delivery', jsonb_build_object('webhookId', webhook_id,
                'courseId', course_id, 'type', type, 'data', data, 'occurredAt', occurred_at),
            course_id, course_id,
            CASE status WHEN 'delivered' THEN 'done' ELSE status END,
            attempts, occurred_at, delivered_at
        FROM events
    ), event_errors AS (
        INSERT INTO job_attempts (job_id, attempt, started_at, duration_ms, error)
        SELECT id, attempts, updated_at, 0, last_error FROM events WHERE last_error IS NOT NULL
    )
    SELECT (SELECT count(*) FROM cleanup) + (SELECT count(*) FROM events)";

impl JobQueue {
    /// Moves a batch of the old tables' rows into the queue; how many.
    pub async fn adopt_legacy(&self) -> Result<i64, StoreError> {
        self.db
            .call(|client| async move {
                let adopt = client.prepare_cached(ADOPT).await?;
                let row = client.query_one(&adopt, &[&ADOPT_BATCH]).await?;
                Ok(row.try_get(0)?)
            })
            .await
    }
}
