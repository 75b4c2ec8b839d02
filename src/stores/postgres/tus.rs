//! Resumable (tus) uploads in Postgres: their state between requests, the
//! lease a PATCH holds while it streams, their reservation against the
//! quotas, and the step that turns a finished one into a file row.

mod expiry;
mod subject;

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::fence;
use super::files::{lock_organization, record_file, usage};
use super::lock::RESERVATION_LOCK_CLASS;
use super::rows::{parsed, tus_upload_from as upload_from, ProgressColumns, TUS_COLUMNS};
use super::status::TUS_RECEIVING;
use super::Postgres;
use crate::domain::course::{FileQuota, NewCourse, NewFile, RecordOutcome};
use crate::domain::ids::{DraftId, UploadId, UserId};
use crate::domain::tus::{TusCreated, TusFinish, TusProgress, TusStatus, TusUpload};
use crate::domain::{Owner, StoreError};

/// The owner's live upload `$1` of draft `$2`: `$3` user, `$4` organization.
const OWNED: &str = "id = $1 AND draft_session_id = $2 AND owner_id = $3 \
    AND organization_id = $4 AND expires_at > now()";

#[derive(Clone)]
pub struct PgTus {
    db: Postgres,
}

/// What claiming an upload for a PATCH (or a termination) answered.
pub enum Claim {
    Claimed(Box<TusUpload>),
    /// Another request holds it.
    Locked,
    Missing,
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl PgTus {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Records a new upload, its size and one file reserved against the
    /// quotas under the organization's lock, and against what its user may
    /// hold reserved and unsent under the user's, unless they are spent; it
    /// expires after `lifetime` unless a byte is stored.
    pub async fn create(
        &self,
        upload: &TusUpload,
        quota: FileQuota,
        lifetime: Duration,
    ) -> Result<TusCreated, StoreError> {
        let progress = ProgressColumns::of(&upload.hash, &upload.check, &upload.bytes)?;
        let (length, lifetime) = (signed(upload.length), secs(lifetime));
        let params: Vec<&(dyn ToSql + Sync)> = [
            &upload.id as &(dyn ToSql + Sync),
            &upload.draft_session_id,
            &upload.owner_id,
            &upload.organization_id,
            &upload.course_id,
            &upload.file_id,
            &upload.storage_key,
            &upload.original_name,
            &upload.content_type,
            &length,
        ]
        .into_iter()
        .chain(progress.params())
        .chain([&lifetime as &(dyn ToSql + Sync)])
        .collect();
        self.db
            .call(|mut client| async move {
                let tx = client.transaction().await?;
                lock_organization(&tx, upload.organization_id).await?;
                let (files, used) =
                    usage(&tx, upload.course_id, upload.organization_id, None).await?;
                if files >= quota.files_per_course {
                    return Ok(TusCreated::TooManyFiles {
                        limit: quota.files_per_course,
                    });
                }
                if used.saturating_add(signed(upload.length)) > quota.organization_bytes {
                    return Ok(TusCreated::StorageFull {
                        limit: quota.organization_bytes,
                        used,
                    });
                }
                // After the organization's lock (so no two transactions take
                // these two in the other order): a user's creations in
                // several organizations serialize here.
                let reserved = reserved_unsent(&tx, upload.owner_id).await?;
                if reserved.saturating_add(signed(upload.length)) > quota.reserved_bytes_per_user {
                    return Ok(TusCreated::ReservationsFull {
                        limit: quota.reserved_bytes_per_user,
                        used: reserved,
                    });
                }
                let row = tx
                    .query_one(
                        &format!(
                            "INSERT INTO tus_uploads (id, draft_session_id, owner_id, \
                             organization_id, course_id, file_id, storage_key, original_name, \
                             content_type, upload_length, reserved_bytes, sha256_state, \
                             content_check, staging_path, s3_upload_id, s3_parts, tail_key, \
                             tail_bytes, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                             $9, $10, $10, $11, $12, $13, $14, $15, $16, $17, \
                             now() + make_interval(secs => $18)) RETURNING {TUS_COLUMNS}"
                        ),
                        &params,
                    )
                    .await?;
                tx.commit().await?;
                Ok(TusCreated::Created(Box::new(upload_from(&row)?)))
            })
            .await
    }

    /// The owner's live upload of the draft.
    pub async fn find(
        &self,
        owner: Owner,
        draft_id: DraftId,
        id: UploadId,
    ) -> Result<Option<TusUpload>, StoreError> {
        self.db
            .call(|client| async move {
                let row = owned(&client, TUS_COLUMNS, owner, draft_id, id).await?;
                row.as_ref().map(upload_from).transpose()
            })
            .await
    }

    /// Takes the owner's live upload for one request, `lease` at a time
    /// (renewed by every save), unless another request holds it. Its expiry
    /// stays: only stored bytes move it ([`PgTus::save`]), so a PATCH that
    /// stores nothing keeps no reservation alive.
    pub async fn claim(
        &self,
        owner: Owner,
        draft_id: DraftId,
        id: UploadId,
        lease_id: Uuid,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_opt(
                        &format!(
                            "UPDATE tus_uploads SET lease_id = $5, \
                             lease_until = now() + make_interval(secs => $6) \
                             WHERE {OWNED} AND (lease_until IS NULL OR lease_until < now()) \
                             RETURNING {TUS_COLUMNS}"
                        ),
                        &[
                            &id,
                            &draft_id,
                            &owner.user_id,
                            &owner.organization_id,
                            &lease_id,
                            &secs(lease),
                        ],
                    )
                    .await?;
                if let Some(row) = row {
                    return Ok(Claim::Claimed(Box::new(upload_from(&row)?)));
                }
                let held = owned(&client, "1", owner, draft_id, id).await?;
                Ok(if held.is_some() {
                    Claim::Locked
                } else {
                    Claim::Missing
                })
            })
            .await
    }

    /// Stores a durable step: the new offset, checksum, check and storage,
    /// if the lease is still this request's, the upload still at `from` and
    /// unexpired (a deletion ends it; an ended one is never revived). Renews
    /// the lease, and moves the expiry `idle` from now: the last stored
    /// byte's, which it answers. `None`: the lease was lost, or the upload
    /// ended.
    pub async fn save(
        &self,
        id: UploadId,
        lease_id: Uuid,
        from: u64,
        progress: &TusProgress,
        lease: Duration,
        idle: Duration,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let columns = ProgressColumns::of(&progress.hash, &progress.check, &progress.bytes)?;
        let (from, offset, lease, idle) = (
            signed(from),
            signed(progress.offset),
            secs(lease),
            secs(idle),
        );
        let params: Vec<&(dyn ToSql + Sync)> =
            [&id as &(dyn ToSql + Sync), &lease_id, &from, &offset]
                .into_iter()
                .chain(columns.params())
                .chain([&lease as &(dyn ToSql + Sync), &idle])
                .collect();
        self.db
            .call(|client| async move {
                let saved = client
                    .query_opt(
                        "UPDATE tus_uploads SET upload_offset = $4, sha256_state = $5, \
                         content_check = $6, staging_path = $7, s3_upload_id = $8, \
                         s3_parts = $9, tail_key = $10, tail_bytes = $11, \
                         lease_until = now() + make_interval(secs => $12), \
                         expires_at = now() + make_interval(secs => $13), \
                         updated_at = now() \
                         WHERE id = $1 AND lease_id = $2 AND upload_offset = $3 \
                           AND expires_at > now() RETURNING expires_at",
                        &params,
                    )
                    .await?;
                Ok(saved.map(|row| row.try_get(0)).transpose()?)
            })
            .await
    }

    /// Renews the lease while a PATCH streams. `false`: it was lost.
    pub async fn renew(
        &self,
        id: UploadId,
        lease_id: Uuid,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let renewed = self
            .execute(
                "UPDATE tus_uploads SET lease_until = now() + make_interval(secs => $3) \
                 WHERE id = $1 AND lease_id = $2",
                &[&id, &lease_id, &secs(lease)],
            )
            .await?;
        Ok(renewed == 1)
    }

    /// Gives the upload back for the next request.
    pub async fn release(&self, id: UploadId, lease_id: Uuid) -> Result<(), StoreError> {
        self.execute(
            "UPDATE tus_uploads SET lease_id = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_id = $2",
            &[&id, &lease_id],
        )
        .await?;
        Ok(())
    }

    /// The finished upload's file: recorded now with its course (the first
    /// file materializes the draft), its reservation given to the file, in
    /// one transaction.
    pub async fn finish(
        &self,
        upload: &TusUpload,
        new: &NewCourse<'_>,
        file: &NewFile<'_>,
        quota: FileQuota,
        ttl: Duration,
    ) -> Result<TusFinish, StoreError> {
        self.db
            .call(|mut client| async move {
                let tx = client.transaction().await?;
                // The fence before the upload's row: a deletion takes the
                // fence, then the course's uploads.
                let passed = match fence::pass(&tx, new.id, new.owner).await? {
                    Ok(passed) => passed,
                    Err(fence) => return Ok(TusFinish::Recorded(RecordOutcome::Fenced(fence))),
                };
                let status = tx
                    .query_opt(
                        "SELECT status FROM tus_uploads WHERE id = $1 FOR UPDATE",
                        &[&upload.id],
                    )
                    .await?;
                let Some(status) = status else {
                    return Ok(TusFinish::Gone);
                };
                if parsed::<TusStatus>(&status, "status")? == TusStatus::Finished {
                    return Ok(TusFinish::AlreadyFinished);
                }
                let outcome = record_file(&tx, &passed, new, file, quota, Some(upload.id)).await?;
                if matches!(outcome, RecordOutcome::Recorded { .. }) {
                    tx.execute(
                        "UPDATE tus_uploads SET status = $2, reserved_bytes = 0, \
                         staging_path = NULL, s3_upload_id = NULL, s3_parts = '[]', \
                         tail_bytes = 0, lease_id = NULL, lease_until = NULL, \
                         expires_at = now() + make_interval(secs => $3), updated_at = now() \
                         WHERE id = $1",
                        &[&upload.id, &TusStatus::Finished.as_str(), &secs(ttl)],
                    )
                    .await?;
                    tx.commit().await?;
                }
                Ok(TusFinish::Recorded(outcome))
            })
            .await
    }

    /// Forgets an upload (its bytes are gone).
    pub async fn delete(&self, id: UploadId) -> Result<(), StoreError> {
        self.execute("DELETE FROM tus_uploads WHERE id = $1", &[&id])
            .await?;
        Ok(())
    }

    /// Runs one statement; the rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        self.db
            .call(|client| async move { Ok(client.execute(sql, params).await?) })
            .await
    }
}

/// The owner's live upload `id` of the draft, as `columns` read it.
async fn owned(
    client: &tokio_postgres::Client,
    columns: &str,
    owner: Owner,
    draft_id: DraftId,
    id: UploadId,
) -> Result<Option<tokio_postgres::Row>, StoreError> {
    let sql = format!("SELECT {columns} FROM tus_uploads WHERE {OWNED}");
    let params: [&(dyn ToSql + Sync); 4] = [&id, &draft_id, &owner.user_id, &owner.organization_id];
    Ok(client.query_opt(&sql, &params).await?)
}

/// Takes the user's reservation lock, for the rest of the transaction, and
/// answers the bytes its unfinished, unexpired uploads hold reserved and
/// have not stored yet. An expired upload holds nothing.
async fn reserved_unsent(
    tx: &tokio_postgres::Transaction<'_>,
    owner_id: UserId,
) -> Result<i64, StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2::uuid::text))",
        &[&RESERVATION_LOCK_CLASS, &owner_id],
    )
    .await?;
    let row = tx
        .query_one(
            &format!(
                "SELECT coalesce(sum(reserved_bytes - upload_offset), 0)::bigint FROM tus_uploads \
                 WHERE owner_id = $1 AND status = {TUS_RECEIVING} AND expires_at > now()"
            ),
            &[&owner_id],
        )
        .await?;
    Ok(row.try_get(0)?)
}
