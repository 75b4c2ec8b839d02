//! Uploads that end: those past their expiry, for the sweep, and a
//! discarded draft's, ended at once.

use crate::domain::ids::DraftId;

use super::PgTus;
use crate::domain::tus::TusUpload;
use crate::domain::{Owner, StoreError};
use crate::stores::postgres::rows::{tus_upload_from as upload_from, TUS_COLUMNS};

impl PgTus {
    /// Uploads past their expiry that no request holds, oldest first.
    pub async fn expired(&self, limit: i64) -> Result<Vec<TusUpload>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT {TUS_COLUMNS} FROM tus_uploads WHERE expires_at <= now() \
                             AND (lease_until IS NULL OR lease_until < now()) \
                             ORDER BY expires_at LIMIT $1"
                        ),
                        &[&limit],
                    )
                    .await?;
                rows.iter().map(upload_from).collect()
            })
            .await
    }

    /// Ends the draft's unfinished uploads now (it was discarded): they
    /// answer 404 and their bytes go with the orphan sweep.
    pub async fn expire_draft(&self, owner: Owner, draft_id: DraftId) -> Result<(), StoreError> {
        self.execute(
            "UPDATE tus_uploads SET expires_at = least(expires_at, now()) \
             WHERE draft_session_id = $1 AND owner_id = $2 AND organization_id = $3",
            &[&draft_id, &owner.user_id, &owner.organization_id],
        )
        .await?;
        Ok(())
    }
}
