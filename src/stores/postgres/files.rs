//! The rows of courses' files. A file row is written in the transaction that
//! makes sure its course exists, so the first upload materializes the draft.

use deadpool_postgres::Transaction;

use super::cleanup::delete_file;
use super::courses::insert_or_get;
use super::fence;
use super::lock::ORGANIZATION_LOCK_CLASS;
use super::outbox::{announce, record};
use super::rows::{file_from, FILE_COLUMNS};
use super::status::TUS_RECEIVING;
use super::Postgres;
use crate::domain::course::{FileQuota, NewCourse, NewFile, RecordOutcome};
use crate::domain::event::EventKind;
use crate::domain::ids::{CourseId, FileId, OrgId, UploadId};
use crate::domain::{CourseFile, Owner, StoreError};

#[derive(Clone)]
pub struct PgFiles {
    db: Postgres,
}

impl PgFiles {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Makes sure the draft's course exists (announced) and records a file
    /// in it, with its event, atomically, unless the course or its organization is full. The checks
    /// hold the course row's lock and the organization's, so racing uploads
    /// cannot pass a quota together.
    pub async fn materialize_with_file(
        &self,
        new: &NewCourse<'_>,
        file: &NewFile<'_>,
        quota: FileQuota,
    ) -> Result<RecordOutcome, StoreError> {
        self.db
            .call(|mut client| async move {
                let tx = client.transaction().await?;
                let passed = match fence::pass(&tx, new.id, new.owner).await? {
                    Ok(passed) => passed,
                    Err(fence) => return Ok(RecordOutcome::Fenced(fence)),
                };
                let outcome = record_file(&tx, &passed, new, file, quota, None).await?;
                // A refusal rolls back: no course appears for a file refused.
                if matches!(outcome, RecordOutcome::Recorded { .. }) {
                    tx.commit().await?;
                }
                Ok(outcome)
            })
            .await
    }

    /// The files of the owner's course, oldest first.
    pub async fn list(
        &self,
        owner: Owner,
        course_id: CourseId,
    ) -> Result<Vec<CourseFile>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT {FILE_COLUMNS} FROM course_files f WHERE course_id = $1 \
                             AND EXISTS (SELECT 1 FROM courses c WHERE c.id = $1 AND c.owner_id = $2 \
                                 AND c.organization_id = $3) \
                             ORDER BY created_at, id"
                        ),
                        &[&course_id, &owner.user_id, &owner.organization_id],
                    )
                    .await?;
                rows.iter().map(file_from).collect()
            })
            .await
    }

    /// One file of the owner's course.
    pub async fn find(
        &self,
        owner: Owner,
        course_id: CourseId,
        file_id: FileId,
    ) -> Result<Option<CourseFile>, StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_opt(
                        &format!(
                            "SELECT {FILE_COLUMNS} FROM course_files f \
                             WHERE id = $1 AND course_id = $2 \
                             AND EXISTS (SELECT 1 FROM courses c WHERE c.id = $2 AND c.owner_id = $3 \
                                 AND c.organization_id = $4)"
                        ),
                        &[&file_id, &course_id, &owner.user_id, &owner.organization_id],
                    )
                    .await?;
                row.as_ref().map(file_from).transpose()
            })
            .await
    }

    /// Deletes one file's row and queues its bytes for removal, atomically.
    pub async fn delete(
        &self,
        owner: Owner,
        course_id: CourseId,
        file_id: FileId,
    ) -> Result<bool, StoreError> {
        self.db
            .call(|client| async move { delete_file(&client, owner, course_id, file_id).await })
            .await
    }

    /// Of these storage keys, the ones a file row still references.
    pub async fn referenced_keys(&self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        "SELECT storage_key FROM course_files WHERE storage_key = ANY($1)",
                        &[&keys],
                    )
                    .await?;
                rows.iter()
                    .map(|row| row.try_get(0).map_err(StoreError::from))
                    .collect()
            })
            .await
    }
}

/// Makes sure the draft's course exists (announced) and records a file in
/// it, with its event, in the caller's transaction, unless the course or its
/// organization is full. The checks hold the course row's lock and the
/// organization's, so racing uploads cannot pass a quota together. Unfinished
/// resumable uploads hold their size (and a file) against the quotas; the one
/// finishing now, `reserved_by`, gives its reservation to this file.
pub(super) async fn record_file(
    tx: &Transaction<'_>,
    fence: &fence::Passed,
    new: &NewCourse<'_>,
    file: &NewFile<'_>,
    quota: FileQuota,
    reserved_by: Option<UploadId>,
) -> Result<RecordOutcome, StoreError> {
    let (course, created) = insert_or_get(tx, fence, new).await?;
    if course.is_trashed() {
        return Ok(RecordOutcome::Trashed);
    }
    lock_organization(tx, course.organization_id).await?;
    let (files, used) = usage(tx, course.id, course.organization_id, reserved_by).await?;
    if files >= quota.files_per_course {
        return Ok(RecordOutcome::TooManyFiles {
            limit: quota.files_per_course,
        });
    }
    if used.saturating_add(file.size_bytes) > quota.organization_bytes {
        return Ok(RecordOutcome::StorageFull {
            limit: quota.organization_bytes,
            used,
        });
    }
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO course_files (id, course_id, storage_key, original_name, \
                 content_type, size_bytes, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 RETURNING {FILE_COLUMNS}"
            ),
            &[
                &file.id,
                &course.id,
                &file.storage_key,
                &file.original_name,
                &file.content_type,
                &file.size_bytes,
                &file.sha256,
            ],
        )
        .await?;
    // The course is announced before its file, under its row lock.
    announce(tx, course.id).await?;
    tx.execute(
        &format!(
            "WITH touched AS (
                 UPDATE courses SET updated_at = now() WHERE id = $1 RETURNING *
             ) {}",
            record(EventKind::FileUploaded, "touched", Some("$2::uuid"))
        ),
        &[&course.id, &file.id],
    )
    .await?;
    Ok(RecordOutcome::Recorded {
        course: Box::new(course),
        file: file_from(&row)?,
        created,
    })
}

/// The organization's lock, for the rest of the transaction: quotas are
/// checked and spent under it.
pub(super) async fn lock_organization(
    tx: &Transaction<'_>,
    organization_id: OrgId,
) -> Result<(), StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2::uuid::text))",
        &[&ORGANIZATION_LOCK_CLASS, &organization_id],
    )
    .await?;
    Ok(())
}

/// The files of a course and the bytes of its organization, each with the
/// reservations of unfinished, unexpired resumable uploads (but `except`'s).
pub(super) async fn usage(
    tx: &Transaction<'_>,
    course_id: CourseId,
    organization_id: OrgId,
    except: Option<UploadId>,
) -> Result<(i64, i64), StoreError> {
    let usage = tx
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM course_files WHERE course_id = $1)
                      + (SELECT count(*) FROM tus_uploads WHERE course_id = $1
                         AND status = {TUS_RECEIVING} AND expires_at > now()
                         AND id IS DISTINCT FROM $3) AS files,
                        (SELECT coalesce(sum(f.size_bytes), 0)::bigint FROM course_files f
                         JOIN courses c ON c.id = f.course_id WHERE c.organization_id = $2)
                      + (SELECT coalesce(sum(reserved_bytes), 0)::bigint FROM tus_uploads
                         WHERE organization_id = $2 AND status = {TUS_RECEIVING}
                         AND expires_at > now() AND id IS DISTINCT FROM $3) AS bytes"
            ),
            &[&course_id, &organization_id, &except],
        )
        .await?;
    Ok((usage.try_get("files")?, usage.try_get("bytes")?))
}
