//! A resumable upload's PATCH: the bytes go to storage in durable steps,
//! each recorded with the offset, the checksum and the content check; the
//! last byte makes the file, once.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::super::upload::attached_after_upload;
use super::super::{new_course, Courses};
use super::claim::Claimed;
use super::{corrupt, TusState};
use crate::app::AppError;
use crate::domain::content::ContentCheck;
use crate::domain::course::{NewFile, RecordOutcome};
use crate::domain::ids::{DraftId, UploadId};
use crate::domain::tus::{RunningHash, TusError, TusFinish, TusProgress, TusStatus, TusUpload};
use crate::domain::upload::UploadError;
use crate::domain::{Draft, MaterializedBy, Owner};
use crate::stores::files::TusWriter;

/// The bytes of one PATCH on their way to storage.
struct Receiving {
    upload: TusUpload,
    writer: TusWriter,
    hash: RunningHash,
    check: ContentCheck,
    lease_id: Uuid,
}

impl Courses {
    /// Appends `body` to the owner's upload at `offset`, which must be where
    /// it is; the last byte makes the file. Every durable step is recorded,
    /// so a request cut off keeps what it stored.
    ///
    /// Held to the write rate: a spent budget refuses the PATCH before any
    /// byte is stored; when it ends, a PATCH that stored less than
    /// `DRAFTD_TUS_FREE_BYTES` without finishing the upload, or was refused,
    /// counts as a write (a drip of small PATCHes costs a store round per
    /// PATCH; a client sending MiB chunks or the whole file pays nothing).
    pub async fn tus_append<S, E>(
        &self,
        owner: Owner,
        draft_id: DraftId,
        id: UploadId,
        offset: u64,
        body: S,
    ) -> Result<TusState, AppError>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        self.limits.writes.check(owner).await?;
        let appended = async {
            let claimed = self.claim_to_append(owner, draft_id, id).await?;
            self.append(claimed, offset, body).await
        }
        .await;
        let free_bytes = self.limits.resumable.free_bytes;
        let free = appended.as_ref().is_ok_and(|state| {
            let stored = state.offset.saturating_sub(offset);
            stored >= free_bytes || (stored > 0 && state.file_id.is_some())
        });
        if !free {
            self.spend_write(owner).await;
        }
        appended
    }

    /// A tus PATCH refused before it reached its upload (its headers):
    /// refused as rate-limited if the budget is spent, else counted.
    pub async fn tus_refused(&self, owner: Owner) -> Result<(), AppError> {
        self.limits.writes.check(owner).await?;
        self.spend_write(owner).await;
        Ok(())
    }

    /// Counts a write that was done: its answer stands even if the count
    /// cannot be kept.
    async fn spend_write(&self, owner: Owner) {
        if let Err(e) = self.limits.writes.spend(owner).await {
            tracing::warn!(error = %e, "could not count a tus PATCH against the write rate");
        }
    }

    /// [`Courses::tus_append`] without the write rate (a HEAD finishing an
    /// upload whose bytes were all stored calls it too), on a claimed upload.
    pub(super) async fn append<E>(
        &self,
        claimed: Claimed,
        offset: u64,
        body: impl Stream<Item = Result<Bytes, E>>,
    ) -> Result<TusState, AppError> {
        let Claimed {
            owner,
            draft,
            upload,
            lease,
            ..
        } = claimed;
        let appended = self
            .append_claimed(owner, &draft, upload, offset, lease.id, body)
            .await;
        lease.release().await;
        appended
    }

    async fn append_claimed<E>(
        &self,
        owner: Owner,
        draft: &Draft,
        upload: TusUpload,
        offset: u64,
        lease_id: Uuid,
        body: impl Stream<Item = Result<Bytes, E>>,
    ) -> Result<TusState, AppError> {
        if upload.offset != offset {
            return Err(TusError::OffsetMismatch {
                sent: offset,
                current: upload.offset,
            }
            .into());
        }
        if upload.status == TusStatus::Finished {
            return Ok((&upload).into());
        }
        self.drafts.touch(owner, draft).await?;
        let writer = self
            .files
            .tus_writer(&upload.storage_key, &upload.bytes, upload.offset)
            .await?;
        let mut receiving = Receiving {
            hash: RunningHash::restore(&upload.hash).ok_or_else(|| corrupt("bad hash state"))?,
            check: ContentCheck::restore(upload.check.clone()),
            upload,
            writer,
            lease_id,
        };
        let received = self.receive(&mut receiving, body).await;
        let upload = receiving.upload;
        match received {
            Err(AppError::Upload(refused @ UploadError::ContentMismatch { .. })) => {
                self.tus_remove(&upload).await?;
                Err(refused.into())
            }
            // The upload ended under this request (its draft discarded, its
            // course or its subject erased): what it stored goes now, and the
            // answer says why.
            Err(e @ (AppError::Tus(TusError::Locked) | AppError::Store(_))) => {
                match self.lost_to_deletion(owner, draft, &upload).await? {
                    Some(gone) => {
                        self.tus_remove(&upload).await?;
                        Err(gone)
                    }
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
            Ok(()) if upload.offset < upload.length => Ok((&upload).into()),
            Ok(()) => self.tus_finish(owner, draft, upload).await,
        }
    }

    /// Why an upload's PATCH failed midway, if it lost to a deletion: its
    /// course or subject fenced, or its draft gone.
    async fn lost_to_deletion(
        &self,
        owner: Owner,
        draft: &Draft,
        upload: &TusUpload,
    ) -> Result<Option<AppError>, AppError> {
        if let Some(fence) = self.courses.fence(upload.course_id, owner).await? {
            return Ok(Some(fence.into()));
        }
        match self.draft(owner, draft.id).await {
            Err(gone @ (AppError::NotFound | AppError::Discarded)) => Ok(Some(gone)),
            Err(e) => Err(e),
            Ok(_) => Ok(None),
        }
    }

    /// Streams `body` into storage, recording each durable step.
    async fn receive<S, E>(&self, at: &mut Receiving, body: S) -> Result<(), AppError>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let lease = self.limits.resumable.lease;
        let mut body = std::pin::pin!(body);
        let mut pending = BytesMut::new();
        let mut renewed = Instant::now();
        let mut stopped = None;
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else {
                stopped = Some(UploadError::BrokeOff.into());
                break;
            };
            let received = at.upload.offset + (pending.len() + chunk.len()) as u64;
            if received > at.upload.length {
                stopped = Some(
                    TusError::PastLength {
                        length: at.upload.length,
                    }
                    .into(),
                );
                break;
            }
            pending.extend_from_slice(&chunk);
            let due = at.writer.due(pending.len());
            if due > 0 {
                self.step(at, pending.split_to(due).freeze()).await?;
                renewed = Instant::now();
            } else if renewed.elapsed() > lease / 3 {
                if !self.tus.renew(at.upload.id, at.lease_id, lease).await? {
                    return Err(TusError::Locked.into());
                }
                renewed = Instant::now();
            }
        }
        // What arrived is kept, however the body ended.
        if !pending.is_empty() {
            self.step(at, pending.freeze()).await?;
        }
        stopped.map_or(Ok(()), Err)
    }

    /// One durable step: checked, hashed, stored, then recorded.
    async fn step(&self, at: &mut Receiving, bytes: Bytes) -> Result<(), AppError> {
        at.check.feed(&bytes)?;
        at.hash.update(&bytes);
        let length = bytes.len() as u64;
        at.writer.write(bytes).await?;
        let progress = TusProgress {
            offset: at.upload.offset + length,
            hash: at.hash.save(),
            check: at.check.save(),
            bytes: at.writer.state(),
        };
        let times = self.limits.resumable;
        let saved = self
            .tus
            .save(
                at.upload.id,
                at.lease_id,
                at.upload.offset,
                &progress,
                times.lease,
                times.idle_expiry(),
            )
            .await?;
        let Some(expires_at) = saved else {
            return Err(TusError::Locked.into());
        };
        at.upload.expires_at = expires_at;
        at.upload.offset = progress.offset;
        at.upload.hash = progress.hash;
        at.upload.check = progress.check;
        at.upload.bytes = progress.bytes;
        Ok(())
    }

    /// All bytes are stored: the content's last check, then the file, as a
    /// multipart upload makes it (the first one materializes the draft).
    async fn tus_finish(
        &self,
        owner: Owner,
        draft: &Draft,
        upload: TusUpload,
    ) -> Result<TusState, AppError> {
        if let Err(refused) = ContentCheck::restore(upload.check.clone()).finish() {
            self.tus_remove(&upload).await?;
            return Err(refused.into());
        }
        let hash = RunningHash::restore(&upload.hash).ok_or_else(|| corrupt("bad hash state"))?;
        self.files
            .tus_finish(&upload.storage_key, &upload.bytes, upload.length)
            .await?;
        let new = new_course(owner, draft, MaterializedBy::Upload);
        let record = NewFile {
            id: upload.file_id,
            storage_key: &upload.storage_key,
            original_name: &upload.original_name,
            content_type: &upload.content_type,
            size_bytes: i64::try_from(upload.length).unwrap_or(i64::MAX),
            sha256: &hash.finish(),
        };
        let ttl = self.limits.resumable.ttl;
        let outcome = self
            .tus
            .finish(&upload, &new, &record, self.limits.quota, ttl)
            .await?;
        let finished = || {
            let mut state = TusState::from(&upload);
            state.file_id = Some(upload.file_id);
            state
        };
        let gone = matches!(outcome, TusFinish::Gone);
        let refused = match outcome {
            TusFinish::AlreadyFinished => return Ok(finished()),
            TusFinish::Recorded(RecordOutcome::Recorded {
                course, created, ..
            }) => {
                let attached = self.attach(owner, draft, &course, created).await;
                attached_after_upload(attached, draft)?;
                return Ok(finished());
            }
            TusFinish::Gone => AppError::NotFound,
            TusFinish::Recorded(RecordOutcome::TooManyFiles { limit }) => {
                AppError::TooManyFiles { limit }
            }
            TusFinish::Recorded(RecordOutcome::StorageFull { limit, used }) => {
                AppError::StorageFull { limit, used }
            }
            TusFinish::Recorded(RecordOutcome::Trashed) => AppError::Trashed,
            TusFinish::Recorded(RecordOutcome::Fenced(fence)) => fence.into(),
        };
        if let Err(e) = self.files.delete(&upload.storage_key).await {
            tracing::warn!(key = upload.storage_key, error = %e, "could not remove an unrecorded upload");
        }
        if !gone {
            self.tus.delete(upload.id).await?;
        }
        Err(refused)
    }
}
