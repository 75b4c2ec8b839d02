//! An S3 multipart upload whose id is recorded before its first part: a
//! process killed mid-upload leaves parts that no listing shows (and that S3
//! bills for), and the record is how the orphan sweep finds and aborts them.
//! `object_store`'s `WriteMultipart` keeps the id to itself, so the parts are
//! written here, the same way: fixed 5 MiB parts, a bounded number in flight.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::MultipartId;
use tokio::task::JoinHandle;

use super::postgres::uploads::UploadLedger;
use super::StoreError;

pub struct RecordedUpload {
    store: Arc<AmazonS3>,
    ledger: UploadLedger,
    path: Path,
    id: MultipartId,
    part_bytes: usize,
    buffer: BytesMut,
    in_flight: VecDeque<JoinHandle<object_store::Result<PartId>>>,
    written: Vec<PartId>,
}

impl RecordedUpload {
    /// Starts the upload and records its id before any part is sent.
    pub async fn start(
        store: Arc<AmazonS3>,
        ledger: UploadLedger,
        path: Path,
        part_bytes: usize,
    ) -> Result<Self, StoreError> {
        let id = store.create_multipart(&path).await?;
        if let Err(e) = ledger.record(path.as_ref(), &id).await {
            // Unrecorded, it must not go on: nothing could find it later.
            let _ = store.abort_multipart(&path, &id).await;
            return Err(e);
        }
        Ok(Self {
            store,
            ledger,
            path,
            id,
            part_bytes,
            buffer: BytesMut::new(),
            in_flight: VecDeque::new(),
            written: Vec::new(),
        })
    }

    pub fn put(&mut self, chunk: Bytes) {
        self.buffer.extend_from_slice(&chunk);
        while self.buffer.len() >= self.part_bytes {
            let part = self.buffer.split_to(self.part_bytes).freeze();
            self.send(part);
        }
    }

    fn send(&mut self, part: Bytes) {
        let (store, path, id) = (self.store.clone(), self.path.clone(), self.id.clone());
        let index = self.written.len() + self.in_flight.len();
        self.in_flight.push_back(tokio::spawn(async move {
            store.put_part(&path, &id, index, part.into()).await
        }));
    }

    /// Waits until at most `parts` are in flight.
    pub async fn wait_for_capacity(&mut self, parts: usize) -> Result<(), StoreError> {
        while self.in_flight.len() > parts {
            let Some(oldest) = self.in_flight.pop_front() else {
                break;
            };
            let part = oldest
                .await
                .map_err(|e| StoreError::failed(crate::domain::Backend::Files, e.to_string()))??;
            self.written.push(part);
        }
        Ok(())
    }

    /// Sends the last part, completes the upload and forgets its record.
    pub async fn finish(mut self) -> Result<(), StoreError> {
        if !self.buffer.is_empty() {
            let last = self.buffer.split().freeze();
            self.send(last);
        }
        self.wait_for_capacity(0).await?;
        let parts = std::mem::take(&mut self.written);
        self.store
            .complete_multipart(&self.path, &self.id, parts)
            .await?;
        self.ledger.forget(self.path.as_ref(), &self.id).await
    }

    /// Aborts the upload (its parts go) and forgets its record; a record
    /// whose abort failed stays, for the orphan sweep to retry.
    pub async fn abort(mut self) -> Result<(), StoreError> {
        // A part cancelled on our side may still be stored on S3's after the
        // abort, and stay there: let the parts on their way land first,
        // whatever their outcome (the caller bounds the wait).
        for part in self.in_flight.drain(..) {
            let _ = part.await;
        }
        self.store.abort_multipart(&self.path, &self.id).await?;
        self.ledger.forget(self.path.as_ref(), &self.id).await
    }
}

/// Aborts a recorded upload the sweep found stale; one S3 no longer knows
/// (aborted or completed by a process killed before it forgot the record)
/// counts as aborted, so that its record goes. S3 says so with 404
/// NoSuchUpload; s3s-fs with 403 AccessDenied, which is also what S3 answers
/// credentials not allowed to abort: a 403 counts as gone only if an upload
/// started now can be aborted with them.
pub async fn abort_recorded(store: &AmazonS3, key: &str, id: &str) -> Result<(), StoreError> {
    let path = Path::from(key);
    match store.abort_multipart(&path, &id.to_owned()).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(denied @ object_store::Error::PermissionDenied { .. }) => {
            if may_abort(store, &path).await {
                Ok(())
            } else {
                Err(denied.into())
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether these credentials may abort an upload of `path`: one started for
/// the question is aborted (it never holds a part).
async fn may_abort(store: &AmazonS3, path: &Path) -> bool {
    let Ok(probe) = store.create_multipart(path).await else {
        return false;
    };
    match store.abort_multipart(path, &probe).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(key = %path, error = %e, "could not abort an empty upload started to test the credentials");
            false
        }
    }
}
