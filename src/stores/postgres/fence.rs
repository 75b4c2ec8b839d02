//! The deletion fence in Postgres (SPEC invariant 13; docs/ARCHITECTURE.md,
//! "The deletion fence").
//!
//! Each course has a fence lock: a transaction-level advisory lock on its id.
//! A deletion takes it exclusively before it deletes the row, and writes the
//! course's tombstone in the same transaction; a recording (materialize,
//! submit, a file, a tus upload's finish) takes it shared as its first step,
//! then reads the tombstone and the subject's erasures. So the two serialize:
//! a recording that commits first is erased with the course, one that comes
//! second sees the tombstone and records nothing. The check is a statement of
//! its own after the lock: under READ COMMITTED it sees what the deletion
//! committed while the lock was awaited.

use std::sync::LazyLock;

use deadpool_postgres::GenericClient;

use super::lock::FENCE_LOCK_CLASS;
use super::rows::parsed_opt;
use super::status::{ERASE_RUNNING, JOB_DONE, SCOPE_ORGANIZATION, SCOPE_USER};
use crate::domain::cleanup::DeletionReason;
use crate::domain::fence::Fence;
use crate::domain::ids::CourseId;
use crate::domain::{Owner, StoreError};

/// Proof that a transaction passed its course's fence: it holds the fence
/// lock, and nothing had deleted the course or erased its subject. Only
/// [`pass`] makes one, and recording a course needs one.
pub(super) struct Passed(());

/// Takes `course_id`'s fence lock, shared, for the rest of the transaction,
/// then checks that neither the course nor its subject was erased: by a
/// tombstone of the course, by a running erase of its organization or user,
/// or by one that finished after `owner`'s token was issued (a token without
/// `iat` is refused by any): the rule the replicas' bars apply when a request
/// starts.
pub(super) async fn pass(
    tx: &impl GenericClient,
    course_id: CourseId,
    owner: Owner,
) -> Result<Result<Passed, Fence>, StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock_shared($1, hashtext($2::uuid::text))",
        &[&FENCE_LOCK_CLASS, &course_id],
    )
    .await?;
    Ok(match read(tx, course_id, owner).await? {
        Some(fence) => Err(fence),
        None => Ok(Passed(())),
    })
}

/// What fences `course_id` for `owner`, as [`pass`] judges it, without the
/// lock: why a write that failed midway lost, if it lost to a deletion.
pub(super) async fn read(
    client: &impl GenericClient,
    course_id: CourseId,
    owner: Owner,
) -> Result<Option<Fence>, StoreError> {
    let row = client
        .query_one(
            &format!(
                "SELECT (SELECT reason FROM course_tombstones WHERE course_id = $1) AS reason,
                        EXISTS (SELECT 1 FROM erasures
                                WHERE ((scope = {SCOPE_ORGANIZATION} AND subject_id = $2)
                                    OR (scope = {SCOPE_USER} AND subject_id = $3))
                                  AND (status = {ERASE_RUNNING} OR $4::bigint IS NULL
                                       OR finished_at >= to_timestamp($4))) AS erased"
            ),
            &[
                &course_id,
                &owner.organization_id,
                &owner.user_id,
                &owner.issued_at,
            ],
        )
        .await?;
    if row.try_get("erased")? {
        return Ok(Some(Fence::SubjectErased));
    }
    Ok(parsed_opt::<DeletionReason>(&row, "reason")?.map(Fence::of))
}

/// Takes the fence locks of `ids`, exclusively, for the rest of the
/// transaction: a deletion's first step. Always in one order (by key), so
/// two deletions sharing courses cannot deadlock.
pub(super) async fn close(tx: &impl GenericClient, ids: &[CourseId]) -> Result<(), StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, key) FROM (
             SELECT DISTINCT hashtext(id::text) AS key FROM unnest($2::uuid[]) id
             ORDER BY key OFFSET 0) keys",
        &[&FENCE_LOCK_CLASS, &ids],
    )
    .await?;
    Ok(())
}

/// Of `ids`, those whose fence lock this transaction got, exclusively,
/// without waiting: a deletion that already holds rows locked (the janitor's
/// candidates) skips a course that a recording is writing in, rather than
/// wait for it while the recording waits for the row.
pub(super) async fn try_close(
    tx: &impl GenericClient,
    ids: &[CourseId],
) -> Result<Vec<CourseId>, StoreError> {
    let rows = tx
        .query(
            "SELECT id FROM unnest($2::uuid[]) id
             WHERE pg_try_advisory_xact_lock($1, hashtext(id::text))",
            &[&FENCE_LOCK_CLASS, &ids],
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get(0).map_err(StoreError::from))
        .collect()
}

/// The tombstones a deletion writes, as a CTE of its statement: those of the
/// courses it deleted (`deleted`, with an `id` column) and, with `$absent`
/// true, of the named ids that have no row at all (a draft discarded before
/// it had a course). `$ids` the ids named, `$reason` the deletion's reason.
pub(super) fn tombstones_sql(ids: &str, reason: &str, absent: &str) -> String {
    format!(
        "INSERT INTO course_tombstones (course_id, reason)
         SELECT named.id, {reason} FROM unnest({ids}::uuid[]) AS named(id)
         WHERE named.id IN (SELECT id FROM deleted)
            OR ({absent} AND NOT EXISTS (SELECT 1 FROM courses c WHERE c.id = named.id))
         ON CONFLICT (course_id) DO NOTHING"
    )
}

/// Tombstones older than `keep_secs` whose course has no cleanup job left
/// (until its jobs are done, its draft session may still name the course;
/// `cleanup_jobs` holds an old replica's, during an upgrade). `limit` at a
/// time; how many went.
pub(super) static PRUNE_TOMBSTONES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM course_tombstones WHERE course_id IN (
        SELECT t.course_id FROM course_tombstones t
        WHERE t.erased_at < now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.course_id = t.course_id
              AND j.task LIKE 'cleanup.%' AND j.status <> {JOB_DONE})
          AND NOT EXISTS (SELECT 1 FROM cleanup_jobs j WHERE j.course_id = t.course_id)
        ORDER BY t.erased_at LIMIT $2)"
    )
});
