//! The record of S3 multipart uploads in progress: written before an
//! upload's first part, removed when it completes or is aborted. What stays
//! past the grace period belongs to a process that died mid-upload.

use chrono::{DateTime, Utc};

use super::Postgres;
use crate::domain::StoreError;

#[derive(Clone)]
pub struct UploadLedger {
    db: Postgres,
}

/// A recorded upload that never completed.
#[derive(Debug, Clone)]
pub struct StaleUpload {
    pub storage_key: String,
    pub upload_id: String,
    pub started_at: DateTime<Utc>,
}

impl UploadLedger {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    pub async fn record(&self, key: &str, id: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO multipart_uploads (storage_key, upload_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            key,
            id,
        )
        .await
    }

    pub async fn forget(&self, key: &str, id: &str) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM multipart_uploads WHERE storage_key = $1 AND upload_id = $2",
            key,
            id,
        )
        .await
    }

    /// Uploads started before `before` and never finished, but those of
    /// resumable uploads that have not expired.
    pub async fn stale(&self, before: DateTime<Utc>) -> Result<Vec<StaleUpload>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        // An unexpired resumable upload's parts are not residue.
                        "SELECT storage_key, upload_id, started_at FROM multipart_uploads m
                         WHERE started_at < $1 AND NOT EXISTS (
                             SELECT 1 FROM tus_uploads t WHERE t.s3_upload_id = m.upload_id
                             AND t.expires_at > now())
                         ORDER BY started_at LIMIT 10000",
                        &[&before],
                    )
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(StaleUpload {
                            storage_key: row.try_get("storage_key")?,
                            upload_id: row.try_get("upload_id")?,
                            started_at: row.try_get("started_at")?,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn execute(&self, sql: &str, key: &str, id: &str) -> Result<(), StoreError> {
        self.db
            .call(|client| async move {
                client.execute(sql, &[&key, &id]).await?;
                Ok(())
            })
            .await
    }
}
