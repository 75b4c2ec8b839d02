//! The bytes of resumable (tus) uploads, kept between requests.
//!
//! - Local: a staging file `.tus/{uploadId}` under the root (no course
//!   prefix, no `#`: neither a listing of a course nor the crash-residue walk
//!   sees it), appended to and fsync'd; renamed into place at the end.
//! - S3: `LocalFileSystem` has no multipart API to resume, S3 has: full 5 MiB
//!   parts of a multipart upload (started with the first part, its id
//!   recorded in the ledger before it), and the bytes after the last full
//!   part in a tail object `.tus/{uploadId}.part`, prepended to the next
//!   request's bytes (as tusd does); at the end the tail is the last part.
//!
//! Bytes past the stored offset (a request cut off between a write and its
//! record) are never read: the staging file is cut back to the offset, and
//! S3 parts and the tail are overwritten.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::aws::AmazonS3;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use super::{FileStorage, PART_BYTES};
use crate::domain::ids::UploadId;
use crate::domain::tus::{TusBytes, TusPart};
use crate::domain::{Backend, StoreError};
use crate::stores::bounded;
use crate::stores::postgres::uploads::UploadLedger;
use crate::stores::recorded_upload::abort_recorded;

/// Where the bytes of unfinished uploads are kept.
const TUS_DIR: &str = ".tus";
/// Local writes are made durable (and recorded) at least this often.
const LOCAL_STEP: usize = 1024 * 1024;

fn io_failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::failed(Backend::Files, e.to_string())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io_failed)?
        .map_err(io_failed)
}

/// An unfinished upload's bytes, open for the request that appends to them.
pub struct TusWriter {
    sink: Sink,
    timeout: std::time::Duration,
}

enum Sink {
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

impl FileStorage {
    /// Where a new upload's bytes will go.
    pub fn tus_bytes(&self, upload_id: UploadId) -> TusBytes {
        match &self.s3 {
            Some(_) => TusBytes::S3 {
                upload_id: None,
                parts: Vec::new(),
                tail_key: format!("{TUS_DIR}/{upload_id}.part"),
                tail_bytes: 0,
            },
            None => TusBytes::Local {
                staging_path: format!("{TUS_DIR}/{upload_id}"),
            },
        }
    }

    /// Opens an upload's bytes to append after `offset`, those it stored.
    pub async fn tus_writer(
        &self,
        key: &str,
        bytes: &TusBytes,
        offset: u64,
    ) -> Result<TusWriter, StoreError> {
        let sink = match (bytes, &self.s3, &self.local_root) {
            (TusBytes::Local { staging_path }, _, Some(root)) => {
                let path = root.join(staging_path);
                let open = path.clone();
                blocking(move || {
                    if let Some(dir) = open.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&open)?;
                    let length = file.metadata()?.len();
                    if length < offset {
                        return Err(std::io::Error::other(format!(
                            "the staging file holds {length} bytes, {offset} were recorded"
                        )));
                    }
                    file.set_len(offset)?;
                    file.sync_all()
                })
                .await?;
                Sink::Local {
                    path,
                    staging_path: staging_path.clone(),
                }
            }
            (
                TusBytes::S3 {
                    upload_id,
                    parts,
                    tail_key,
                    tail_bytes,
                },
                Some(s3),
                _,
            ) => {
                let tail = self.read_tail(tail_key, *tail_bytes).await?;
                Sink::S3 {
                    store: s3.clone(),
                    ledger: self.ledger.clone(),
                    key: Path::from(key),
                    upload_id: upload_id.clone(),
                    parts: parts.clone(),
                    tail: BytesMut::from(&tail[..]),
                    tail_key: tail_key.clone(),
                }
            }
            _ => return Err(io_failed("the upload was stored by another backend")),
        };
        Ok(TusWriter {
            sink,
            timeout: self.timeout,
        })
    }

    async fn read_tail(&self, tail_key: &str, tail_bytes: u64) -> Result<Bytes, StoreError> {
        if tail_bytes == 0 {
            return Ok(Bytes::new());
        }
        let path = Path::from(tail_key);
        let tail = bounded(Backend::Files, self.timeout, async {
            self.store.get(&path).await?.bytes().await
        })
        .await?;
        let keep = usize::try_from(tail_bytes).unwrap_or(usize::MAX);
        if tail.len() < keep {
            return Err(io_failed("the upload's tail is shorter than recorded"));
        }
        Ok(tail.slice(..keep))
    }

    /// Moves a finished upload's bytes to `key`, its place as a file. Done
    /// again after a crash, it finds them there.
    pub async fn tus_finish(
        &self,
        key: &str,
        bytes: &TusBytes,
        length: u64,
    ) -> Result<(), StoreError> {
        let done = match (bytes, &self.s3, &self.local_root) {
            (TusBytes::Local { staging_path }, _, Some(root)) => {
                let (from, to) = (root.join(staging_path), root.join(key));
                blocking(move || {
                    if !from.exists() && to.exists() {
                        return Ok(());
                    }
                    if let Some(dir) = to.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    std::fs::rename(&from, &to)
                })
                .await
            }
            (
                TusBytes::S3 {
                    upload_id,
                    parts,
                    tail_key,
                    tail_bytes,
                },
                Some(s3),
                _,
            ) => {
                // Done before, and its record failed: the tail is gone then.
                let done = self.holds(key, length).await;
                let tail = match done {
                    true => Bytes::new(),
                    false => self.read_tail(tail_key, *tail_bytes).await?,
                };
                let path = Path::from(key);
                let finished = bounded(Backend::Files, self.timeout, async {
                    if done {
                        return Ok(());
                    }
                    match upload_id {
                        None => self
                            .store
                            .put(&path, PutPayload::from(tail))
                            .await
                            .map(|_| ()),
                        Some(id) => {
                            let mut parts: Vec<_> = parts
                                .iter()
                                .map(|p| object_store::multipart::PartId {
                                    content_id: p.etag.clone(),
                                })
                                .collect();
                            if !tail.is_empty() {
                                let last = s3.put_part(&path, id, parts.len(), tail.into()).await?;
                                parts.push(last);
                            }
                            s3.complete_multipart(&path, id, parts).await.map(|_| ())
                        }
                    }
                })
                .await;
                if let Err(e) = finished {
                    // Completed before a crash kept it from being recorded?
                    if !self.holds(key, length).await {
                        return Err(e);
                    }
                }
                if let (Some(id), Some(ledger)) = (upload_id, &self.ledger) {
                    ledger.forget(key, id).await?;
                }
                self.delete(tail_key).await
            }
            _ => Err(io_failed("the upload was stored by another backend")),
        };
        self.remove_empty_parents(&format!("{TUS_DIR}/x"));
        done
    }

    /// Whether `key` holds an object of `length` bytes.
    async fn holds(&self, key: &str, length: u64) -> bool {
        let path = Path::from(key);
        bounded(Backend::Files, self.timeout, self.store.head(&path))
            .await
            .is_ok_and(|meta| meta.size == length)
    }

    /// Removes an unfinished upload's bytes; bytes already gone count as removed.
    pub async fn tus_discard(&self, key: &str, bytes: &TusBytes) -> Result<(), StoreError> {
        match (bytes, &self.s3, &self.local_root) {
            (TusBytes::Local { staging_path }, _, Some(root)) => {
                let path = root.join(staging_path);
                blocking(move || match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                })
                .await?;
                self.remove_empty_parents(staging_path);
                Ok(())
            }
            (
                TusBytes::S3 {
                    upload_id,
                    tail_key,
                    ..
                },
                Some(s3),
                _,
            ) => {
                if let Some(id) = upload_id {
                    bounded(Backend::Files, self.timeout, abort_recorded(s3, key, id)).await?;
                    if let Some(ledger) = &self.ledger {
                        ledger.forget(key, id).await?;
                    }
                }
                self.delete(tail_key).await
            }
            _ => Ok(()),
        }
    }
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
