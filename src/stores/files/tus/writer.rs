//! An unfinished upload's bytes, open for one request to append to: a
//! staging file, or S3 parts and a tail object.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::aws::AmazonS3;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::ObjectStoreExt;

use super::super::PART_BYTES;
use super::blocking;
use crate::domain::tus::{TusBytes, TusPart};
use crate::domain::{Backend, StoreError};
use crate::stores::bounded;
use crate::stores::postgres::uploads::UploadLedger;

/// Local writes are made durable (and recorded) at least this often.
const LOCAL_STEP: usize = 1024 * 1024;

/// An unfinished upload's bytes, open for the request that appends to them.
pub struct TusWriter {
    pub(super) sink: Sink,
    pub(super) timeout: std::time::Duration,
}

pub(super) enum Sink {
    Local {
        path: PathBuf,
        staging_path: String,
    },
    S3 {
        store: Arc<AmazonS3>,
        ledger: Option<UploadLedger>,
        key: Path,
        upload_id: Option<String>,
        parts: Vec<TusPart>,
        tail: BytesMut,
        tail_key: String,
    },
}

impl TusWriter {
    /// How many of `pending` received bytes to make durable now, while the
    /// body still streams: a local step, or what fills whole S3 parts.
    pub fn due(&self, pending: usize) -> usize {
        match &self.sink {
            Sink::Local { .. } if pending >= LOCAL_STEP => pending,
            Sink::Local { .. } => 0,
            Sink::S3 { tail, .. } => {
                let whole = (tail.len() + pending) / PART_BYTES * PART_BYTES;
                whole.saturating_sub(tail.len())
            }
        }
    }

    /// Makes `bytes` durable after those before: appended and fsync'd, or
    /// sent as whole parts with any rest written as the tail.
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), StoreError> {
        match &mut self.sink {
            Sink::Local { path, .. } => {
                let path = path.clone();
                let write = blocking(move || {
                    let mut file = std::fs::OpenOptions::new().append(true).open(&path)?;
                    file.write_all(&bytes)?;
                    file.sync_data()
                });
                bounded(Backend::Files, self.timeout, write).await
            }
            Sink::S3 {
                store,
                ledger,
                key,
                upload_id,
                parts,
                tail,
                tail_key,
            } => {
                tail.extend_from_slice(&bytes);
                while tail.len() >= PART_BYTES {
                    let id = match upload_id {
                        Some(id) => id.clone(),
                        None => {
                            let id = start(store, ledger.as_ref(), key, self.timeout).await?;
                            *upload_id = Some(id.clone());
                            id
                        }
                    };
                    let part = tail.split_to(PART_BYTES).freeze();
                    let number = parts.len();
                    let sent = store.put_part(key, &id, number, part.into());
                    let sent = bounded(Backend::Files, self.timeout, sent).await?;
                    parts.push(TusPart {
                        number,
                        etag: sent.content_id,
                    });
                }
                if tail.is_empty() {
                    return Ok(());
                }
                let tail_path = Path::from(tail_key.as_str());
                let put = store.put(&tail_path, tail.clone().freeze().into());
                bounded(Backend::Files, self.timeout, put).await.map(|_| ())
            }
        }
    }

    /// The bytes' place, to record with the new offset.
    pub fn state(&self) -> TusBytes {
        match &self.sink {
            Sink::Local { staging_path, .. } => TusBytes::Local {
                staging_path: staging_path.clone(),
            },
            Sink::S3 {
                upload_id,
                parts,
                tail,
                tail_key,
                ..
            } => TusBytes::S3 {
                upload_id: upload_id.clone(),
                parts: parts.clone(),
                tail_key: tail_key.clone(),
                tail_bytes: tail.len() as u64,
            },
        }
    }
}

/// Starts the multipart upload and records its id before any part is sent.
async fn start(
    store: &AmazonS3,
    ledger: Option<&UploadLedger>,
    key: &Path,
    timeout: std::time::Duration,
) -> Result<String, StoreError> {
    let id = bounded(Backend::Files, timeout, store.create_multipart(key)).await?;
    if let Some(ledger) = ledger {
        if let Err(e) = ledger.record(key.as_ref(), &id).await {
            // Unrecorded, it must not go on: nothing could find it later.
            let _ = store.abort_multipart(key, &id).await;
            return Err(e);
        }
    }
    Ok(id)
}
