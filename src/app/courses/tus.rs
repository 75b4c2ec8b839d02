//! Resumable uploads (tus 1.0.0): the same rules as a multipart upload (type,
//! size, quotas, ownership), its size reserved against the quotas at
//! creation; bytes appended across requests and processes, the checksum and
//! the content check carried along; the last byte makes the file, once.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use uuid::Uuid;

mod append;
mod claim;

use super::Courses;
use crate::app::AppError;
use crate::domain::content::ContentCheck;
use crate::domain::course::{course_id_for, storage_key};
use crate::domain::ids::{CourseId, DraftId, FileId, UploadId};
use crate::domain::tus::{RunningHash, TusCreated, TusError, TusMetadata, TusStatus, TusUpload};
use crate::domain::upload::{FileName, UploadError};
use crate::domain::{Backend, Draft, DraftStatus, Owner, StoreError};
use crate::stores::postgres::tus::Claim;

/// How long an unfinished upload lives without storing a byte (the earlier
/// of the draft's TTL and the idle time), how long a PATCH holds it between
/// two signs of life, and what a PATCH stores to be free of the write rate.
#[derive(Debug, Clone, Copy)]
pub struct TusLimits {
    /// The draft's TTL; a finished upload stays answerable this long.
    pub ttl: Duration,
    /// `DRAFTD_TUS_IDLE_SECS`: an unfinished upload storing nothing this
    /// long expires, releasing its reservation.
    pub idle: Duration,
    pub lease: Duration,
    /// A PATCH storing at least this much, or the last bytes, is not counted
    /// as a write (`DRAFTD_TUS_FREE_BYTES`).
    pub free_bytes: u64,
}

/// What a client learns of an upload.
#[derive(Debug, Clone)]
pub struct TusState {
    pub id: UploadId,
    pub offset: u64,
    pub length: u64,
    pub expires_at: DateTime<Utc>,
    /// The file it became, once finished.
    pub file_id: Option<FileId>,
    pub course_id: CourseId,
}

impl TusLimits {
    /// How long an unfinished upload lives after its last stored byte (the
    /// PATCH that stored it kept the draft alive for its TTL).
    pub fn idle_expiry(&self) -> Duration {
        self.ttl.min(self.idle)
    }
}

impl From<&TusUpload> for TusState {
    fn from(upload: &TusUpload) -> Self {
        Self {
            id: upload.id,
            offset: upload.offset,
            length: upload.length,
            expires_at: upload.expires_at,
            file_id: (upload.status == TusStatus::Finished).then_some(upload.file_id),
            course_id: upload.course_id,
        }
    }
}

fn corrupt(detail: &str) -> AppError {
    StoreError::corrupt(Backend::Postgres, detail).into()
}

impl Courses {
    /// A draft that may still take files.
    async fn uploadable_draft(&self, owner: Owner, draft_id: DraftId) -> Result<Draft, AppError> {
        let draft = self.draft(owner, draft_id).await?;
        if draft.status == DraftStatus::Submitted {
            return Err(AppError::Submitted);
        }
        if draft.course_trashed {
            return Err(AppError::Trashed);
        }
        Ok(draft)
    }

    /// Creates an upload of `length` bytes, checked and reserved as a
    /// multipart upload's file would be.
    pub async fn tus_create(
        &self,
        owner: Owner,
        draft_id: DraftId,
        length: u64,
        metadata: &TusMetadata,
    ) -> Result<TusState, AppError> {
        self.limits.writes.count(owner).await?;
        let draft = self.uploadable_draft(owner, draft_id).await?;
        let max = self.limits.rules.max_bytes;
        if length > max {
            return Err(UploadError::TooLarge { limit: max }.into());
        }
        if length == 0 {
            return Err(UploadError::Empty.into());
        }
        let name = FileName::parse(metadata.filename.as_deref().unwrap_or_default())?;
        let content_type = self
            .limits
            .rules
            .content_type(metadata.filetype.as_deref(), &name)?;
        let course_id = draft.course_id.unwrap_or_else(|| course_id_for(draft.id));
        let (id, file_id) = (UploadId::new(), FileId::new());
        let upload = TusUpload {
            id,
            draft_session_id: draft.id,
            owner_id: owner.user_id,
            organization_id: draft.organization_id,
            course_id,
            file_id,
            storage_key: storage_key(draft.organization_id, course_id, file_id),
            original_name: name.as_str().to_owned(),
            content_type: content_type.clone(),
            length,
            offset: 0,
            status: TusStatus::Receiving,
            hash: RunningHash::default().save(),
            check: ContentCheck::new(&content_type).save(),
            bytes: self.files.tus_bytes(id),
            expires_at: Utc::now(),
        };
        // No byte yet: it lives until the draft expires, or for the idle
        // time if that ends first.
        let draft_left = (draft.expires_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        let lifetime = self
            .limits
            .resumable
            .idle
            .min(draft_left)
            .max(Duration::from_secs(1));
        match self
            .tus
            .create(&upload, self.limits.quota, lifetime)
            .await?
        {
            TusCreated::Created(upload) => Ok((&*upload).into()),
            TusCreated::TooManyFiles { limit } => Err(AppError::TooManyFiles { limit }),
            TusCreated::StorageFull { limit, used } => Err(AppError::StorageFull { limit, used }),
            TusCreated::ReservationsFull { limit, used } => {
                Err(AppError::ReservationsFull { limit, used })
            }
        }
    }

    /// Where the owner's upload is. One whose last bytes were stored but
    /// whose file a crash kept from being recorded is finished now.
    pub async fn tus_state(
        &self,
        owner: Owner,
        draft_id: DraftId,
        id: UploadId,
    ) -> Result<TusState, AppError> {
        let upload = self
            .tus
            .find(owner, draft_id, id)
            .await?
            .ok_or(AppError::NotFound)?;
        if upload.status == TusStatus::Receiving && upload.offset == upload.length {
            let claimed = self.claim_to_append(owner, draft_id, id).await?;
            let nothing = futures_util::stream::empty::<Result<Bytes, ()>>();
            return self.append(claimed, upload.offset, nothing).await;
        }
        Ok((&upload).into())
    }

    /// Takes the lease of the owner's upload, so that no other request works
    /// on it meanwhile: the upload, and the lease's id to release it with.
    async fn claim_upload(
        &self,
        owner: Owner,
        draft_id: DraftId,
        id: UploadId,
    ) -> Result<(TusUpload, Uuid), AppError> {
        let times = self.limits.resumable;
        let lease_id = Uuid::new_v4();
        let claimed = self
            .tus
            .claim(owner, draft_id, id, lease_id, times.lease)
            .await?;
        match claimed {
            Claim::Claimed(upload) => Ok((*upload, lease_id)),
            Claim::Locked => Err(TusError::Locked.into()),
            Claim::Missing => Err(AppError::NotFound),
        }
    }

    /// Terminates the owner's unfinished upload: its bytes, then its record.
    pub async fn tus_terminate(
        &self,
        owner: Owner,
        draft_id: DraftId,
        id: UploadId,
    ) -> Result<(), AppError> {
        self.limits.writes.count(owner).await?;
        let (upload, lease_id) = self.claim_upload(owner, draft_id, id).await?;
        if upload.status == TusStatus::Finished {
            self.tus.release(id, lease_id).await?;
            return Err(TusError::Finished {
                file_id: upload.file_id,
            }
            .into());
        }
        self.tus_remove(&upload).await
    }

    /// Removes an unfinished upload's bytes, then its record (and so its
    /// reservation).
    async fn tus_remove(&self, upload: &TusUpload) -> Result<(), AppError> {
        self.files
            .tus_discard(&upload.storage_key, &upload.bytes)
            .await?;
        self.tus.delete(upload.id).await?;
        Ok(())
    }
}
