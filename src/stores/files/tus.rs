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

mod writer;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::aws::AmazonS3;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use super::FileStorage;
use crate::domain::ids::UploadId;
use crate::domain::tus::{TusBytes, TusPart};
use crate::domain::{Backend, StoreError};
use crate::stores::bounded;
use crate::stores::recorded_upload::abort_recorded;
use writer::Sink;
pub use writer::TusWriter;

/// Where the bytes of unfinished uploads are kept.
const TUS_DIR: &str = ".tus";

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

/// An upload's recorded bytes, on the backend that holds them.
enum Held<'a> {
    Local {
        root: &'a std::path::Path,
        staging_path: &'a str,
    },
    S3(OnS3<'a>),
    /// Stored by the other backend than this one.
    Elsewhere,
}

/// An upload's parts and tail on S3.
struct OnS3<'a> {
    s3: &'a Arc<AmazonS3>,
    upload_id: &'a Option<String>,
    parts: &'a [TusPart],
    tail_key: &'a str,
    tail_bytes: u64,
}

fn elsewhere() -> StoreError {
    io_failed("the upload was stored by another backend")
}

impl FileStorage {
    fn held<'a>(&'a self, bytes: &'a TusBytes) -> Held<'a> {
        match (bytes, &self.s3, &self.local_root) {
            (TusBytes::Local { staging_path }, _, Some(root)) => Held::Local { root, staging_path },
            (
                TusBytes::S3 {
                    upload_id,
                    parts,
                    tail_key,
                    tail_bytes,
                },
                Some(s3),
                _,
            ) => Held::S3(OnS3 {
                s3,
                upload_id,
                parts,
                tail_key,
                tail_bytes: *tail_bytes,
            }),
            _ => Held::Elsewhere,
        }
    }

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
        let sink = match self.held(bytes) {
            Held::Local { root, staging_path } => {
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
                    staging_path: staging_path.to_owned(),
                }
            }
            Held::S3(on) => {
                let tail = self.read_tail(on.tail_key, on.tail_bytes).await?;
                Sink::S3 {
                    store: on.s3.clone(),
                    ledger: self.ledger.clone(),
                    key: Path::from(key),
                    upload_id: on.upload_id.clone(),
                    parts: on.parts.to_vec(),
                    tail: BytesMut::from(&tail[..]),
                    tail_key: on.tail_key.to_owned(),
                }
            }
            Held::Elsewhere => return Err(elsewhere()),
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
        let done = match self.held(bytes) {
            Held::Local { root, staging_path } => {
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
            Held::S3(on) => {
                // Done before, and its record failed: the tail is gone then.
                let done = self.holds(key, length).await;
                let tail = match done {
                    true => Bytes::new(),
                    false => self.read_tail(on.tail_key, on.tail_bytes).await?,
                };
                let path = Path::from(key);
                let finished = bounded(Backend::Files, self.timeout, async {
                    if done {
                        return Ok(());
                    }
                    match on.upload_id {
                        None => self
                            .store
                            .put(&path, PutPayload::from(tail))
                            .await
                            .map(|_| ()),
                        Some(id) => {
                            let mut parts: Vec<_> = on
                                .parts
                                .iter()
                                .map(|p| object_store::multipart::PartId {
                                    content_id: p.etag.clone(),
                                })
                                .collect();
                            if !tail.is_empty() {
                                let last =
                                    on.s3.put_part(&path, id, parts.len(), tail.into()).await?;
                                parts.push(last);
                            }
                            on.s3.complete_multipart(&path, id, parts).await.map(|_| ())
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
                if let (Some(id), Some(ledger)) = (on.upload_id, &self.ledger) {
                    ledger.forget(key, id).await?;
                }
                self.delete(on.tail_key).await
            }
            Held::Elsewhere => Err(elsewhere()),
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
        match self.held(bytes) {
            Held::Local { root, staging_path } => {
                let path = root.join(staging_path);
                blocking(move || match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                })
                .await?;
                self.remove_empty_parents(staging_path);
                Ok(())
            }
            Held::S3(on) => {
                if let Some(id) = on.upload_id {
                    bounded(Backend::Files, self.timeout, abort_recorded(on.s3, key, id)).await?;
                    if let Some(ledger) = &self.ledger {
                        ledger.forget(key, id).await?;
                    }
                }
                self.delete(on.tail_key).await
            }
            Held::Elsewhere => Ok(()),
        }
    }
}
