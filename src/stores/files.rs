//! File storage behind one interface, `object_store`'s `ObjectStore`: a local
//! directory by default, or an S3-compatible bucket. Keys are
//! `{orgId}/{courseId}/{fileId}`, built from ids only: a client's file name
//! never becomes part of a path.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use sha2::{Digest, Sha256};

mod residue;
mod tus;

pub use residue::Residue;
pub use tus::TusWriter;

use super::postgres::uploads::{StaleUpload, UploadLedger};
use super::recorded_upload::{abort_recorded, RecordedUpload};
use super::{bounded, Backend, StoreError};

/// Size of the parts an upload is written in; S3 wants at least 5 MiB.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts in flight at once: with the part being filled, bounds an upload's memory.
const PARTS_IN_FLIGHT: usize = 2;

/// Where an S3-compatible bucket is and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub allow_http: bool,
}

#[derive(Clone)]
pub struct FileStorage {
    store: Arc<dyn ObjectStore>,
    /// The S3 backend, for uploads whose id is recorded in `ledger`.
    s3: Option<Arc<AmazonS3>>,
    ledger: Option<UploadLedger>,
    /// The root directory, for the local backend.
    local_root: Option<PathBuf>,
    timeout: Duration,
}

/// What a finished upload stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

/// Where an upload's parts go: `object_store`'s writer, or, on S3 with a
/// ledger, one whose id is recorded.
enum Writer {
    Plain(WriteMultipart),
    Recorded(RecordedUpload),
}

impl Writer {
    fn put(&mut self, chunk: Bytes) {
        match self {
            Self::Plain(writer) => writer.put(chunk),
            Self::Recorded(writer) => writer.put(chunk),
        }
    }

    async fn wait_for_capacity(&mut self, parts: usize) -> Result<(), StoreError> {
        match self {
            Self::Plain(writer) => Ok(writer.wait_for_capacity(parts).await?),
            Self::Recorded(writer) => writer.wait_for_capacity(parts).await,
        }
    }

    async fn finish(self) -> Result<(), StoreError> {
        match self {
            Self::Plain(writer) => writer.finish().await.map(|_| ()).map_err(Into::into),
            Self::Recorded(writer) => writer.finish().await,
        }
    }

    async fn abort(self) -> Result<(), StoreError> {
        match self {
            Self::Plain(writer) => Ok(writer.abort().await?),
            Self::Recorded(writer) => writer.abort().await,
        }
    }
}

/// Why `put_stream` stored nothing; `E` is the body stream's error.
#[derive(Debug, thiserror::Error)]
pub enum PutError<E> {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the file is empty")]
    Empty,
    /// The body stream failed: the client broke off, or whoever feeds the
    /// stream refused its content.
    #[error("the upload broke off: {0}")]
    Body(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FileStorage {
    pub fn local(root: impl Into<PathBuf>, timeout: Duration) -> anyhow::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        let store = LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            s3: None,
            ledger: None,
            local_root: Some(root),
            timeout,
        })
    }

    pub fn s3(settings: &S3Settings, timeout: Duration) -> anyhow::Result<Self> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_allow_http(settings.allow_http)
            // Few quick retries inside a call: the cleanup queue retries for longer.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: timeout,
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(key) = &settings.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let s3 = Arc::new(builder.build()?);
        Ok(Self {
            store: s3.clone(),
            s3: Some(s3),
            ledger: None,
            local_root: None,
            timeout,
        })
    }

    /// Records S3 uploads in progress in `ledger`, so that the orphan sweep
    /// can abort those a killed process never finished.
    pub fn with_ledger(mut self, ledger: UploadLedger) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Streams `body` to `key` without holding it in memory, up to `max_bytes`.
    /// On any failure, an error item of `body` included, the partial object
    /// is removed.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        body: S,
        max_bytes: u64,
    ) -> Result<Stored, PutError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let path = Path::from(key);
        let mut writer = match (&self.s3, &self.ledger) {
            (Some(s3), Some(ledger)) => {
                let started = RecordedUpload::start(s3.clone(), ledger.clone(), path, PART_BYTES);
                Writer::Recorded(bounded(Backend::Files, self.timeout, started).await?)
            }
            _ => {
                let upload = self.store.put_multipart(&path);
                let upload = bounded(Backend::Files, self.timeout, upload).await?;
                Writer::Plain(WriteMultipart::new_with_chunk_size(upload, PART_BYTES))
            }
        };
        let written = self.write_all(&mut writer, body, max_bytes).await;
        let outcome = match written {
            Ok(stored) => match bounded(Backend::Files, self.timeout, writer.finish()).await {
                Ok(_) => return Ok(stored),
                Err(e) => PutError::Store(e),
            },
            Err(e) => {
                if let Err(abort) = bounded(Backend::Files, self.timeout, writer.abort()).await {
                    tracing::warn!(key, error = %abort, "could not abort a failed upload");
                }
                e
            }
        };
        self.remove_empty_parents(key);
        Err(outcome)
    }

    async fn write_all<E>(
        &self,
        writer: &mut Writer,
        body: impl Stream<Item = Result<Bytes, E>>,
        max_bytes: u64,
    ) -> Result<Stored, PutError<E>> {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(PutError::Body)?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(PutError::TooLarge(max_bytes));
            }
            hasher.update(&chunk);
            bounded(
                Backend::Files,
                self.timeout,
                writer.wait_for_capacity(PARTS_IN_FLIGHT),
            )
            .await?;
            writer.put(chunk);
        }
        if size == 0 {
            return Err(PutError::Empty);
        }
        Ok(Stored {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// The object's bytes, as a stream.
    pub async fn open(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
        let result = bounded(
            Backend::Files,
            self.timeout,
            self.store.get(&Path::from(key)),
        )
        .await?;
        Ok(result.into_stream().map_err(StoreError::from).boxed())
    }

    /// Deletes one object; one that is already gone counts as deleted.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let deleted = bounded(Backend::Files, self.timeout, async {
            match self.store.delete(&Path::from(key)).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other,
            }
        })
        .await;
        self.remove_empty_parents(key);
        deleted
    }

    /// Keys of every object under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_with_times(Some(prefix))
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }

    /// Every object under `prefix` (or in the store), with its last change.
    pub async fn list_with_times(
        &self,
        prefix: Option<&str>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let listed = self.list_objects(prefix).await?;
        Ok(listed
            .into_iter()
            .map(|meta| (meta.location.to_string(), meta.last_modified))
            .collect())
    }

    /// Every object under `prefix`, with its size in bytes.
    pub async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let listed = self.list_objects(Some(prefix)).await?;
        Ok(listed
            .into_iter()
            .map(|meta| (meta.location.to_string(), meta.size))
            .collect())
    }

    async fn list_objects(
        &self,
        prefix: Option<&str>,
    ) -> Result<Vec<object_store::ObjectMeta>, StoreError> {
        let prefix = prefix.map(Path::from);
        bounded(Backend::Files, self.timeout, async {
            match self.store.list(prefix.as_ref()).try_collect().await {
                Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
                other => other,
            }
        })
        .await
    }

    /// Recorded S3 uploads started before `before` and never finished.
    pub async fn stale_uploads(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<StaleUpload>, StoreError> {
        match &self.ledger {
            Some(ledger) if self.s3.is_some() => ledger.stale(before).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Aborts a stale recorded upload (its parts go) and forgets it.
    pub async fn abort_stale(&self, upload: &StaleUpload) -> Result<(), StoreError> {
        let (Some(s3), Some(ledger)) = (&self.s3, &self.ledger) else {
            return Ok(());
        };
        let aborted = abort_recorded(s3, &upload.storage_key, &upload.upload_id);
        bounded(Backend::Files, self.timeout, aborted).await?;
        ledger.forget(&upload.storage_key, &upload.upload_id).await
    }

    /// The local backend leaves the directories an aborted upload created.
    fn remove_empty_parents(&self, key: &str) {
        let Some(root) = &self.local_root else { return };
        let mut dir = root.join(key);
        while dir.pop() && dir != *root {
            if std::fs::remove_dir(&dir).is_err() {
                break;
            }
        }
    }
}
