//! The lock on one erase, and what only its holder does: take the counts
//! before, delete the subject's courses batch by batch, record progress,
//! finish.

use std::time::Duration;

use deadpool_postgres::Object;
use uuid::Uuid;

use crate::domain::ids::{CourseId, OrgId};

use super::{column, json, state_from, ERASE_LOCK_CLASS, STATE_COLUMNS};
use crate::domain::cleanup::{CleanupPolicy, DeletionReason, Erasable};
use crate::domain::erase::{
    EraseProgress, EraseReport, EraseState, EraseStatus, EraseSubject, Inventory,
};
use crate::domain::{Backend, StoreError};
use crate::stores::postgres::cleanup::delete_courses;

/// The connection of the process working on an erase, holding its lock.
/// Dropped without [`EraseLock::release`] (a cancelled task), the connection
/// is closed rather than pooled, so that the lock goes with it.
pub struct EraseLock {
    id: Uuid,
    client: Option<Object>,
}

impl Drop for EraseLock {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

impl EraseLock {
    pub(super) fn new(id: Uuid, client: Object) -> Self {
        Self {
            id,
            client: Some(client),
        }
    }

    fn client(&mut self) -> Result<&mut Object, StoreError> {
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::corrupt(Backend::Postgres, "the erase lock was released"))
    }

    /// The erase, as stored.
    pub async fn load(&mut self) -> Result<EraseState, StoreError> {
        let id = self.id;
        let row = self
            .client()?
            .query_one(
                &format!("SELECT {STATE_COLUMNS} FROM erasures WHERE id = $1"),
                &[&id],
            )
            .await?;
        state_from(&row)
    }

    /// Records the counts before; they are taken once.
    pub async fn store_before(&mut self, before: &Inventory) -> Result<(), StoreError> {
        let (id, before) = (self.id, json(before)?);
        self.client()?
            .execute(
                "UPDATE erasures SET before = $2, updated_at = now() WHERE id = $1",
                &[&id, &before],
            )
            .await?;
        Ok(())
    }

    pub async fn save_progress(&mut self, progress: &EraseProgress) -> Result<(), StoreError> {
        let (id, progress) = (self.id, json(progress)?);
        self.client()?
            .execute(
                "UPDATE erasures SET progress = $2, updated_at = now() WHERE id = $1",
                &[&id, &progress],
            )
            .await?;
        Ok(())
    }

    /// Deletes up to `limit` of the subject's courses, the one way courses
    /// are deleted (their cleanup jobs queued), records them as this erase's,
    /// and adds them to `progress`, all in one transaction. How many went.
    pub async fn delete_batch(
        &mut self,
        subject: EraseSubject,
        limit: i64,
        policy: CleanupPolicy,
        progress: &mut EraseProgress,
    ) -> Result<u64, StoreError> {
        let id = self.id;
        let column = column(subject.scope);
        let tx = self.client()?.transaction().await?;
        let rows = tx
            .query(
                &format!(
                    // Not locked here: the deletion takes each course's
                    // fence first, then its row, as every deletion does.
                    "SELECT id, organization_id FROM courses WHERE {column} = $1
                     LIMIT $2"
                ),
                &[&subject.id, &limit],
            )
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut organizations = Vec::with_capacity(rows.len());
        for row in &rows {
            ids.push(row.try_get::<_, CourseId>(0)?);
            organizations.push(row.try_get::<_, OrgId>(1)?);
        }
        let deleted = delete_courses(
            &tx,
            &ids,
            None,
            Erasable::Any,
            DeletionReason::Erase,
            policy,
        )
        .await?;
        tx.execute(
            "INSERT INTO erased_courses (erasure_id, course_id, organization_id)
             SELECT $1, course, organization FROM unnest($2::uuid[], $3::uuid[])
                 AS batch (course, organization)
             ON CONFLICT DO NOTHING",
            &[&id, &ids, &organizations],
        )
        .await?;
        let count = deleted.course_ids.len() as u64;
        progress.courses += count;
        progress.file_rows += deleted.files.unsigned_abs();
        tx.execute(
            "UPDATE erasures SET progress = $2, updated_at = now() WHERE id = $1",
            &[&id, &json(progress)?],
        )
        .await?;
        tx.commit().await?;
        Ok(count)
    }

    /// How long until `settle` has passed since the erase began, by the
    /// database's clock.
    pub async fn settle_left(&mut self, settle: Duration) -> Result<Duration, StoreError> {
        let id = self.id;
        let left: f64 = self
            .client()?
            .query_one(
                "SELECT greatest(0, extract(epoch FROM
                     created_at + make_interval(secs => $2) - now()))::float8
                 FROM erasures WHERE id = $1",
                &[&id, &settle.as_secs_f64()],
            )
            .await?
            .try_get(0)?;
        Ok(Duration::try_from_secs_f64(left).unwrap_or(settle))
    }

    /// Ends the erase with its report; the record of its courses goes.
    pub async fn finish(
        &mut self,
        status: EraseStatus,
        report: &EraseReport,
        progress: &EraseProgress,
    ) -> Result<(), StoreError> {
        let id = self.id;
        let (report, progress) = (json(report)?, json(progress)?);
        let tx = self.client()?.transaction().await?;
        tx.execute(
            "UPDATE erasures SET status = $2, report = $3, progress = $4, last_error = NULL,
                 finished_at = now(), updated_at = now()
             WHERE id = $1",
            &[&id, &status.as_str(), &report, &progress],
        )
        .await?;
        tx.execute("DELETE FROM erased_courses WHERE erasure_id = $1", &[&id])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Why this attempt stopped; the erase stays running, to be resumed.
    pub async fn record_error(&mut self, error: &str) -> Result<(), StoreError> {
        let id = self.id;
        self.client()?
            .execute(
                "UPDATE erasures SET last_error = $2, updated_at = now() WHERE id = $1",
                &[&id, &error],
            )
            .await?;
        Ok(())
    }

    pub async fn release(mut self) {
        let id = self.id;
        let Some(client) = self.client.take() else {
            return;
        };
        if client
            .execute(
                "SELECT pg_advisory_unlock($1, hashtext($2::uuid::text))",
                &[&ERASE_LOCK_CLASS, &id],
            )
            .await
            .is_err()
        {
            // Closing the session releases the lock for certain.
            drop(Object::take(client));
        }
    }
}
