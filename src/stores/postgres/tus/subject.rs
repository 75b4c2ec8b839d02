//! The uploads of an erase's subject (an organization or a user): what its
//! erase counts, ends and removes.

use super::PgTus;
use crate::domain::erase::{EraseScope, EraseSubject};
use crate::domain::tus::TusUpload;
use crate::domain::StoreError;
use crate::stores::postgres::rows::{tus_upload_from as upload_from, TUS_COLUMNS};
use crate::stores::postgres::status::TUS_RECEIVING;

impl PgTus {
    /// Up to `limit` uploads of an organization or a user, finished or not,
    /// whoever holds them: what its erase removes.
    pub async fn of_subject(
        &self,
        subject: EraseSubject,
        limit: i64,
    ) -> Result<Vec<TusUpload>, StoreError> {
        let column = subject_column(subject);
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT {TUS_COLUMNS} FROM tus_uploads WHERE {column} = $1 LIMIT $2"
                        ),
                        &[&subject.id, &limit],
                    )
                    .await?;
                rows.iter().map(upload_from).collect()
            })
            .await
    }

    /// The uploads of an organization or a user, and the bytes the
    /// unfinished ones have staged.
    pub async fn count_subject(&self, subject: EraseSubject) -> Result<(u64, u64), StoreError> {
        let column = subject_column(subject);
        self.db
            .call(|client| async move {
                let row = client
                    .query_one(
                        &format!(
                            "SELECT count(*), coalesce(sum(upload_offset) FILTER \
                             (WHERE status = {TUS_RECEIVING}), 0)::bigint \
                             FROM tus_uploads WHERE {column} = $1"
                        ),
                        &[&subject.id],
                    )
                    .await?;
                let (uploads, bytes): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
                Ok((uploads.unsigned_abs(), bytes.unsigned_abs()))
            })
            .await
    }

    /// Ends every unfinished upload of an organization or a user now (it is
    /// being erased; its writes are barred from here on).
    pub async fn expire_subject(&self, subject: EraseSubject) -> Result<(), StoreError> {
        let column = subject_column(subject);
        self.execute(
            &format!(
                "UPDATE tus_uploads SET expires_at = least(expires_at, now()) WHERE {column} = $1"
            ),
            &[&subject.id],
        )
        .await?;
        Ok(())
    }
}

/// The column that names an erase's subject.
fn subject_column(subject: EraseSubject) -> &'static str {
    match subject.scope {
        EraseScope::Organization => "organization_id",
        EraseScope::User => "owner_id",
    }
}
