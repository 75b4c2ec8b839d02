//! An upload held for one request: its lease, taken with a slot of its
//! owner's uploads in flight and its draft checked, given back at the end.

use uuid::Uuid;

use super::super::Courses;
use crate::app::limits::Slot;
use crate::app::AppError;
use crate::domain::ids::{DraftId, UploadId};
use crate::domain::tus::TusUpload;
use crate::domain::{Draft, Owner};
use crate::stores::postgres::tus::PgTus;

/// A PATCH's hold on its upload, given back when the append ends; an append
/// dropped midway (the process stopping) gives it back from `drop` if it can
/// (a dead process's lease lapses).
pub(super) struct Lease {
    store: PgTus,
    upload_id: UploadId,
    pub(super) id: Uuid,
    held: bool,
}

impl Lease {
    pub(super) async fn release(mut self) {
        self.held = false;
        give_back(&self.store, self.upload_id, self.id).await;
    }
}

/// Releases the lease; one left held lapses, and only delays the next request.
async fn give_back(store: &PgTus, upload_id: UploadId, id: Uuid) {
    if let Err(e) = store.release(upload_id, id).await {
        tracing::warn!(upload = %upload_id, error = %e, "could not release an upload");
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, upload_id, id) = (self.store.clone(), self.upload_id, self.id);
        runtime.spawn(async move { give_back(&store, upload_id, id).await });
    }
}

/// An upload one request may append to: a slot of its owner's uploads in
/// flight, its draft open to uploads, and its lease.
pub(super) struct Claimed {
    pub(super) owner: Owner,
    pub(super) draft: Draft,
    pub(super) upload: TusUpload,
    pub(super) lease: Lease,
    _slot: Slot,
}

impl Courses {
    /// Takes the owner's upload for one append: a slot of the owner's
    /// uploads in flight, then its draft, then its lease.
    pub(super) async fn claim_to_append(
        &self,
        owner: Owner,
        draft_id: DraftId,
        id: UploadId,
    ) -> Result<Claimed, AppError> {
        let slot = self.limits.uploads.take(owner)?;
        let draft = self.uploadable_draft(owner, draft_id).await?;
        let (upload, lease_id) = self.claim_upload(owner, draft_id, id).await?;
        let lease = Lease {
            store: self.tus.clone(),
            upload_id: id,
            id: lease_id,
            held: true,
        };
        Ok(Claimed {
            owner,
            draft,
            upload,
            lease,
            _slot: slot,
        })
    }
}
