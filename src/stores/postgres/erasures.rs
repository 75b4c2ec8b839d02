//! Erasures in Postgres: their rows (one running per subject), the lock the
//! one process working on an erase holds, the subject's courses deleted in
//! batches through [`delete_courses`], and the counts of what the subject
//! still has in Postgres.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::lock::ERASE_LOCK_CLASS;
use super::rows::parsed;
use super::status::{ERASE_RUNNING, JOB_DEAD, JOB_PENDING};
use super::Postgres;
use crate::domain::erase::{EraseScope, EraseState, EraseSubject};
use crate::domain::{Backend, StoreError};

mod lock;
mod scope;

pub use lock::EraseLock;
use scope::{column, subject_courses, Work};

const STATE_COLUMNS: &str = "id, scope, subject_id, status, before, progress, report, \
    last_error, created_at, updated_at, finished_at";

fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::corrupt(Backend::Postgres, e.to_string()))
}

fn from_json<T: DeserializeOwned>(row: &Row, column: &str) -> Result<Option<T>, StoreError> {
    row.try_get::<_, Option<serde_json::Value>>(column)?
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| StoreError::corrupt(Backend::Postgres, format!("erasures.{column}: {e}")))
}

fn state_from(row: &Row) -> Result<EraseState, StoreError> {
    let parse = |column: &str| -> Result<String, StoreError> { Ok(row.try_get(column)?) };
    let corrupt =
        |e: crate::domain::UnknownValue| StoreError::corrupt(Backend::Postgres, e.to_string());
    Ok(EraseState {
        id: row.try_get("id")?,
        subject: EraseSubject {
            scope: parse("scope")?.parse().map_err(corrupt)?,
            id: row.try_get("subject_id")?,
        },
        status: parse("status")?.parse().map_err(corrupt)?,
        before: from_json(row, "before")?,
        progress: from_json(row, "progress")?.unwrap_or_default(),
        report: from_json(row, "report")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

#[derive(Clone)]
pub struct PgErasures {
    db: Postgres,
}

impl PgErasures {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// The subject's running erase, or a new one: `true` if this call began it.
    pub async fn start(&self, subject: EraseSubject) -> Result<(EraseState, bool), StoreError> {
        let scope = subject.scope.as_str();
        self.db
            .call(|client| async move {
                // The running one may finish between the two statements: try again.
                for _ in 0..3 {
                    let inserted = client
                        .query_opt(
                            &format!(
                                "INSERT INTO erasures (id, scope, subject_id) VALUES ($1, $2, $3)
                                 ON CONFLICT (scope, subject_id) WHERE status = {ERASE_RUNNING} DO NOTHING
                                 RETURNING {STATE_COLUMNS}"
                            ),
                            &[&Uuid::new_v4(), &scope, &subject.id],
                        )
                        .await?;
                    if let Some(row) = inserted {
                        return Ok((state_from(&row)?, true));
                    }
                    let running = client
                        .query_opt(
                            &format!(
                                "SELECT {STATE_COLUMNS} FROM erasures
                                 WHERE scope = $1 AND subject_id = $2 AND status = {ERASE_RUNNING}"
                            ),
                            &[&scope, &subject.id],
                        )
                        .await?;
                    if let Some(row) = running {
                        return Ok((state_from(&row)?, false));
                    }
                }
                Err(StoreError::failed(
                    Backend::Postgres,
                    format!("no erase of {subject} could be started or found"),
                ))
            })
            .await
    }

    pub async fn find(&self, id: Uuid) -> Result<Option<EraseState>, StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_opt(
                        &format!("SELECT {STATE_COLUMNS} FROM erasures WHERE id = $1"),
                        &[&id],
                    )
                    .await?;
                row.as_ref().map(state_from).transpose()
            })
            .await
    }

    /// Every running erase, whoever works on it (or nobody, since it died).
    pub async fn running(&self) -> Result<Vec<Uuid>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!("SELECT id FROM erasures WHERE status = {ERASE_RUNNING}"),
                        &[],
                    )
                    .await?;
                rows.iter()
                    .map(|row| row.try_get(0).map_err(StoreError::from))
                    .collect()
            })
            .await
    }

    /// Every erased subject: `None` while an erase of it runs, else when its
    /// last erase finished (its tokens issued before are refused).
    pub async fn barred(&self) -> Result<Vec<(EraseSubject, Option<DateTime<Utc>>)>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT scope, subject_id, bool_or(status = {ERASE_RUNNING}) AS running,
                                 max(finished_at) AS finished_at
                             FROM erasures GROUP BY scope, subject_id"
                        ),
                        &[],
                    )
                    .await?;
                rows.iter()
                    .map(|row| {
                        let subject = EraseSubject {
                            scope: parsed(row, "scope")?,
                            id: row.try_get("subject_id")?,
                        };
                        let running: bool = row.try_get("running")?;
                        let finished = row.try_get("finished_at")?;
                        Ok((subject, if running { None } else { finished }))
                    })
                    .collect()
            })
            .await
    }

    /// The course rows and file rows the subject has.
    pub async fn course_counts(&self, subject: EraseSubject) -> Result<(u64, u64), StoreError> {
        let column = column(subject.scope);
        self.db
            .call(|client| async move {
                let row = client
                    .query_one(
                        &format!(
                            "SELECT (SELECT count(*) FROM courses WHERE {column} = $1),
                                (SELECT count(*) FROM course_files f
                                 JOIN courses c ON c.id = f.course_id WHERE c.{column} = $1)"
                        ),
                        &[&subject.id],
                    )
                    .await?;
                let (courses, files): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
                Ok((courses.unsigned_abs(), files.unsigned_abs()))
            })
            .await
    }

    /// Pending and dead cleanup jobs of the subject's courses, those that
    /// `erasure` deleted included.
    pub async fn job_counts(
        &self,
        subject: EraseSubject,
        erasure: Option<Uuid>,
    ) -> Result<(u64, u64), StoreError> {
        self.pending_and_dead(Work::Cleanup, subject, erasure).await
    }

    /// Undelivered and dead lifecycle events of the subject's courses, those
    /// that `erasure` deleted included.
    pub async fn event_counts(
        &self,
        subject: EraseSubject,
        erasure: Option<Uuid>,
    ) -> Result<(u64, u64), StoreError> {
        self.pending_and_dead(Work::Events, subject, erasure).await
    }

    /// Ids of the dead cleanup jobs of the subject's courses.
    pub async fn dead_jobs(
        &self,
        subject: EraseSubject,
        erasure: Uuid,
    ) -> Result<Vec<i64>, StoreError> {
        self.dead(Work::Cleanup, subject, erasure).await
    }

    /// Ids of the dead events of the subject's courses.
    pub async fn dead_events(
        &self,
        subject: EraseSubject,
        erasure: Uuid,
    ) -> Result<Vec<i64>, StoreError> {
        self.dead(Work::Events, subject, erasure).await
    }

    async fn pending_and_dead(
        &self,
        work: Work,
        subject: EraseSubject,
        erasure: Option<Uuid>,
    ) -> Result<(u64, u64), StoreError> {
        let courses = subject_courses(subject.scope);
        let subject_id = subject.id.to_string();
        let tasks = work.tasks();
        self.db
            .call(|client| async move {
                let row = client
                    .query_one(
                        &format!(
                            "SELECT count(*) FILTER (WHERE status = {JOB_PENDING}),
                                count(*) FILTER (WHERE status = {JOB_DEAD})
                             FROM jobs WHERE {tasks} AND course_id IN ({courses})"
                        ),
                        &[&subject.id, &erasure, &subject_id],
                    )
                    .await?;
                let (pending, dead): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
                Ok((pending.unsigned_abs(), dead.unsigned_abs()))
            })
            .await
    }

    async fn dead(
        &self,
        work: Work,
        subject: EraseSubject,
        erasure: Uuid,
    ) -> Result<Vec<i64>, StoreError> {
        let courses = subject_courses(subject.scope);
        let subject_id = subject.id.to_string();
        let tasks = work.tasks();
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT id FROM jobs
                             WHERE status = {JOB_DEAD} AND {tasks} AND course_id IN ({courses})"
                        ),
                        &[&subject.id, &Some(erasure), &subject_id],
                    )
                    .await?;
                rows.iter()
                    .map(|row| row.try_get(0).map_err(StoreError::from))
                    .collect()
            })
            .await
    }

    /// The storage prefixes that hold the subject's files: the organization's
    /// own, or the user's courses' (`{orgId}/{courseId}`), those the user's
    /// erase deleted and those named by the user's cleanup jobs included.
    /// The subject's courses, and those `erasure` already deleted.
    pub async fn course_ids(
        &self,
        subject: EraseSubject,
        erasure: Option<Uuid>,
    ) -> Result<HashSet<Uuid>, StoreError> {
        let column = column(subject.scope);
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT id FROM courses WHERE {column} = $1
                             UNION SELECT course_id FROM erased_courses WHERE erasure_id = $2"
                        ),
                        &[&subject.id, &erasure],
                    )
                    .await?;
                rows.iter()
                    .map(|row| row.try_get(0).map_err(StoreError::from))
                    .collect()
            })
            .await
    }

    pub async fn storage_prefixes(
        &self,
        subject: EraseSubject,
        erasure: Option<Uuid>,
    ) -> Result<Vec<String>, StoreError> {
        if subject.scope == EraseScope::Organization {
            return Ok(vec![subject.id.to_string()]);
        }
        let subject_id = subject.id.to_string();
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        "SELECT organization_id::text || '/' || id::text FROM courses
                         WHERE owner_id = $1
                         UNION SELECT organization_id::text || '/' || course_id::text
                         FROM erased_courses WHERE erasure_id = $2
                         UNION SELECT (payload->>'organizationId') || '/' || course_id::text
                         FROM jobs WHERE task IN ('cleanup.storage_prefix', 'cleanup.storage_object')
                           AND course_id IN (SELECT course_id FROM jobs
                               WHERE task LIKE 'cleanup.%' AND payload->>'userId' = $3)",
                        &[&subject.id, &erasure, &subject_id],
                    )
                    .await?;
                rows.iter()
                    .map(|row| row.try_get(0).map_err(StoreError::from))
                    .collect()
            })
            .await
    }

    /// The lock on erase `id`, unless another process holds it. A
    /// session-level lock: it lasts until [`EraseLock::release`], or until
    /// the connection closes, as it does when the process dies.
    pub async fn lock(&self, id: Uuid) -> Result<Option<EraseLock>, StoreError> {
        let client = self.db.session().await?;
        let locked: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2::uuid::text))",
                &[&ERASE_LOCK_CLASS, &id],
            )
            .await?
            .try_get(0)?;
        Ok(locked.then(|| EraseLock::new(id, client)))
    }
}
