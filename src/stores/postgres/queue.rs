//! The job queue in Postgres (`jobs`, `job_attempts`): the runner's claim and
//! settle, an operator's redrive and counts, and the pruning of done jobs.
//! Jobs are enqueued by the SQL of the change that makes them, in its
//! transaction ([`enqueue`]), so none is lost or made for a change undone.

mod legacy;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::rows::{from_row, parsed};
use super::status::{JOB_DEAD, JOB_DONE, JOB_PENDING};
use super::Postgres;
use crate::domain::ids::CourseId;
use crate::domain::job::{AttemptRecord, Claimed, Counts, JobRecord, JobStatus};
use crate::domain::StoreError;

/// Attempts kept per job: older ones go as new ones come.
pub const ATTEMPTS_KEPT: i64 = 20;
/// Done jobs of tasks that keep them are removed after this many days.
const DONE_KEPT_DAYS: i32 = 7;
/// Done jobs removed per statement.
const PRUNE_BATCH: i64 = 1000;

const JOB_COLUMNS: &str = "j.id, j.task, j.payload, j.course_id, j.status, j.attempts, \
    j.run_after, j.created_at, j.finished_at, \
    (SELECT a.error FROM job_attempts a WHERE a.job_id = j.id ORDER BY a.id DESC LIMIT 1) \
    AS last_error";

/// An INSERT of one `task` job for each row of `source`, with the payload,
/// course and ordering key given as SQL over `s` (the source's alias): the
/// one shape every enqueuing statement embeds.
pub(super) fn enqueue(
    task: &str,
    source: &str,
    payload: &str,
    course: &str,
    ordering_key: &str,
) -> String {
    format!(
        "INSERT INTO jobs (task, payload, course_id, ordering_key)
         SELECT '{task}', {payload}, {course}, {ordering_key} FROM {source} s"
    )
}

/// How a settled attempt is recorded.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub status: JobStatus,
    /// A pending job's wait before its next attempt.
    pub retry_in_secs: f64,
    /// A done job is kept (its task keeps done jobs) rather than removed.
    pub keep_done: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub http_status: Option<i16>,
    pub error: Option<String>,
}

/// Claims due jobs of a task ([`JobQueue::claim`]).
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET attempts = attempts + 1, updated_at = now(),
             run_after = now() + make_interval(secs => $3)
         WHERE id IN (
             SELECT id FROM jobs j
             WHERE task = $1 AND status = {JOB_PENDING} AND run_after <= now()
               AND (ordering_key IS NULL OR (NOT EXISTS (SELECT 1 FROM jobs p
                       WHERE p.ordering_key = j.ordering_key AND p.id < j.id
                         AND p.status <> {JOB_DONE}) AND {}))
             ORDER BY run_after, id LIMIT $2
             FOR UPDATE SKIP LOCKED)
         RETURNING id, payload, attempts",
        legacy::NO_EARLIER_EVENT
    )
});

/// Pending and dead jobs of each task ([`JobQueue::counts_by_task`]): each
/// count an index-only scan of its partial index, so done jobs kept a week
/// are not read.
static COUNTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT t.task,
             (SELECT count(*) FROM jobs j
              WHERE j.task = t.task AND j.status = {JOB_PENDING}) AS pending,
             (SELECT count(*) FROM jobs j
              WHERE j.task = t.task AND j.status = {JOB_DEAD}) AS dead
         FROM unnest($1::text[]) AS t(task)"
    )
});

/// A batch of jobs done long enough ago ([`JobQueue::prune_done`]).
static PRUNE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM jobs WHERE id IN (
             SELECT id FROM jobs WHERE status = {JOB_DONE}
               AND finished_at < now() - make_interval(days => $1)
             LIMIT $2)"
    )
});

/// A claimed job's attempt and outcome ([`JobQueue::settle`]).
const SETTLE: &str = "WITH job AS (
        SELECT id FROM jobs WHERE id = $1 AND attempts = $2 FOR UPDATE
    ), attempt AS (
        INSERT INTO job_attempts
            (job_id, attempt, started_at, duration_ms, status, error)
        SELECT id, $2, $5, $6, $7, $8 FROM job WHERE NOT $9
    ), trimmed AS (
        DELETE FROM job_attempts WHERE id IN (
            SELECT a.id FROM job_attempts a JOIN job ON a.job_id = job.id
            ORDER BY a.id DESC OFFSET $10)
    ), removed AS (
        DELETE FROM jobs WHERE id IN (SELECT id FROM job) AND $9
    )
    UPDATE jobs SET status = $3, updated_at = now(),
        run_after = now() + make_interval(secs => $4),
        finished_at = CASE WHEN $3 = 'done' THEN now() END
    WHERE id IN (SELECT id FROM job) AND NOT $9";

#[derive(Clone)]
pub struct JobQueue {
    db: Postgres,
}

impl JobQueue {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Enqueues one job on its own, outside a change's transaction (the
    /// jobs a change makes are enqueued by its SQL, [`enqueue`]); its id.
    pub async fn push(
        &self,
        task: &str,
        payload: &Value,
        course_id: CourseId,
        ordering_key: Option<Uuid>,
    ) -> Result<i64, StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_one(
                        "INSERT INTO jobs (task, payload, course_id, ordering_key)
                         VALUES ($1, $2, $3, $4) RETURNING id",
                        &[&task, payload, &course_id, &ordering_key],
                    )
                    .await?;
                Ok(row.try_get(0)?)
            })
            .await
    }

    /// Claims up to `limit` due jobs of `task` for `lease_secs`, counting an
    /// attempt. A job with an ordering key is claimed only while it is its
    /// key's first unfinished job, so a key's jobs run one at a time, in
    /// order, and a dead one holds back the rest.
    pub async fn claim(
        &self,
        task: &str,
        limit: i64,
        lease_secs: f64,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.db
            .call(|client| async move {
                // Prepared once per connection: the runner claims on every wake.
                let claim = client.prepare_cached(CLAIM.as_str()).await?;
                let rows = client.query(&claim, &[&task, &limit, &lease_secs]).await?;
                rows.iter()
                    .map(|row| {
                        Ok(Claimed {
                            id: row.try_get("id")?,
                            payload: row.try_get("payload")?,
                            attempts: row.try_get("attempts")?,
                        })
                    })
                    .collect()
            })
            .await
    }

    /// Records a claimed job's attempt and its outcome, in one statement:
    /// the attempt (the newest [`ATTEMPTS_KEPT`] stay), then the job done
    /// (kept or removed), due again later, or dead. Nothing if the job's
    /// lease ran out and another claim counted an attempt since.
    pub async fn settle(&self, job: &Claimed, s: &Settlement) -> Result<(), StoreError> {
        let removed = s.status == JobStatus::Done && !s.keep_done;
        let status = s.status.as_str();
        self.db
            .call(|client| async move {
                let settle = client.prepare_cached(SETTLE).await?;
                client
                    .execute(
                        &settle,
                        &[
                            &job.id,
                            &job.attempts,
                            &status,
                            &s.retry_in_secs,
                            &s.started_at,
                            &s.duration_ms,
                            &s.http_status,
                            &s.error,
                            &removed,
                            // The new attempt makes it ATTEMPTS_KEPT.
                            &(ATTEMPTS_KEPT - 1),
                        ],
                    )
                    .await?;
                Ok(())
            })
            .await
    }

    /// Puts dead jobs of `tasks` (all, or those listed) back in the queue,
    /// due now, with fresh attempts; how many.
    pub async fn retry_dead(&self, tasks: &[&str], ids: Option<&[i64]>) -> Result<u64, StoreError> {
        self.db
            .call(|client| async move {
                Ok(client
                    .execute(
                        &format!(
                            "UPDATE jobs SET status = {JOB_PENDING}, attempts = 0, run_after = now(),
                                 updated_at = now()
                             WHERE status = {JOB_DEAD} AND task = ANY($1)
                               AND ($2::bigint[] IS NULL OR id = ANY($2))"
                        ),
                        &[&tasks, &ids],
                    )
                    .await?)
            })
            .await
    }

    /// Pending and dead jobs of `tasks`, together.
    pub async fn counts(&self, tasks: &[&str]) -> Result<Counts, StoreError> {
        let by_task = self.counts_by_task(tasks).await?;
        Ok(by_task
            .iter()
            .fold(Counts::default(), |sum, (_, c)| Counts {
                pending: sum.pending + c.pending,
                dead: sum.dead + c.dead,
            }))
    }

    /// Pending and dead jobs of each of `tasks` (those with none included).
    pub async fn counts_by_task(
        &self,
        tasks: &[&str],
    ) -> Result<Vec<(String, Counts)>, StoreError> {
        self.db
            .call(|client| async move {
                let counts = client.prepare_cached(COUNTS.as_str()).await?;
                let rows = client.query(&counts, &[&tasks]).await?;
                rows.iter()
                    .map(|row| {
                        let counts = Counts {
                            pending: row.try_get("pending")?,
                            dead: row.try_get("dead")?,
                        };
                        Ok((row.try_get("task")?, counts))
                    })
                    .collect()
            })
            .await
    }

    /// The most recently dead jobs of `tasks`.
    pub async fn dead(&self, tasks: &[&str], limit: i64) -> Result<Vec<JobRecord>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs j WHERE j.status = {JOB_DEAD} AND j.task = ANY($1)
             ORDER BY j.updated_at DESC LIMIT $2"
        );
        self.db
            .call(|client| async move {
                let rows = client.query(&sql, &[&tasks, &limit]).await?;
                rows.iter().map(record_from).collect()
            })
            .await
    }

    /// The job of `task` whose payload's `field` is `value`, with its
    /// attempts, newest first.
    pub async fn find_by(
        &self,
        task: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<(JobRecord, Vec<AttemptRecord>)>, StoreError> {
        let sql =
            format!("SELECT {JOB_COLUMNS} FROM jobs j WHERE j.task = $1 AND j.payload->>$2 = $3");
        self.db
            .call(|client| async move {
                let Some(row) = client.query_opt(&sql, &[&task, &field, &value]).await? else {
                    return Ok(None);
                };
                let job = record_from(&row)?;
                let rows = client
                    .query(
                        "SELECT attempt, started_at, duration_ms, status, error
                         FROM job_attempts WHERE job_id = $1 ORDER BY id DESC",
                        &[&job.id],
                    )
                    .await?;
                let attempts = rows.iter().map(attempt_from).collect::<Result<_, _>>()?;
                Ok(Some((job, attempts)))
            })
            .await
    }

    /// Removes a batch of jobs done more than 7 days ago (their attempts go
    /// with them); how many.
    pub async fn prune_done(&self) -> Result<u64, StoreError> {
        self.db
            .call(|client| async move {
                let prune = client.prepare_cached(PRUNE.as_str()).await?;
                Ok(client
                    .execute(&prune, &[&DONE_KEPT_DAYS, &PRUNE_BATCH])
                    .await?)
            })
            .await
    }

    /// Whether a course row with this id exists (again).
    pub async fn course_exists(&self, id: CourseId) -> Result<bool, StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM courses WHERE id = $1)",
                        &[&id],
                    )
                    .await?;
                Ok(row.try_get(0)?)
            })
            .await
    }
}

fn record_from(row: &tokio_postgres::Row) -> Result<JobRecord, StoreError> {
    Ok(from_row!(row, JobRecord {
        id, task, payload, course_id, attempts, run_after, created_at, finished_at, last_error,
    }; status: parsed(row, "status")?))
}

fn attempt_from(row: &tokio_postgres::Row) -> Result<AttemptRecord, StoreError> {
    Ok(AttemptRecord {
        attempt: row.try_get("attempt")?,
        started_at: row.try_get("started_at")?,
        duration_ms: row.try_get("duration_ms")?,
        status: row.try_get("status")?,
        error: row.try_get("error")?,
    })
}
