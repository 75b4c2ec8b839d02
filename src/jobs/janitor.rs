//! The janitor: deletes draft courses nobody used and nobody touched for the
//! TTL, in bounded batches, skipping any whose draft session is still alive.
//! One replica at a time: the run holds a Postgres advisory lock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::stores::cleanup::{self, DeletionReason};
use crate::stores::courses::janitor_candidates;
use crate::stores::postgres::Postgres;
use crate::stores::redis_sessions::RedisSessions;
use crate::stores::StoreError;

/// The advisory lock every replica's janitor takes; any constant will do.
pub const JANITOR_LOCK: i64 = 0x6472_6166_7464_0002;
/// Course ids a report lists at most.
const REPORTED_IDS: usize = 1000;

#[derive(Debug, Clone, Copy)]
pub struct JanitorSettings {
    /// No activity for this long makes an unused draft stale.
    pub ttl: Duration,
    pub batch_size: i64,
    pub max_attempts: i32,
}

/// What a run found and did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JanitorReport {
    pub dry_run: bool,
    /// Another replica held the lock: this run did nothing.
    pub locked_elsewhere: bool,
    /// Drafts with no activity since this instant were stale.
    pub cutoff: Option<DateTime<Utc>>,
    /// Stale unused drafts found.
    pub candidates: u64,
    /// Deleted (or, in a dry run, to delete).
    pub deleted: u64,
    /// Stale-looking drafts kept because their draft session is alive.
    pub skipped_alive: u64,
    /// Files whose bytes were queued for removal.
    pub files_queued: u64,
    /// Draft sessions queued for removal from Redis.
    pub keys_queued: u64,
    pub batches: u64,
    pub duration_ms: u64,
    /// The deleted courses (the first 1000).
    pub course_ids: Vec<Uuid>,
}

#[derive(Clone)]
pub struct Janitor {
    db: Postgres,
    redis: RedisSessions,
    settings: JanitorSettings,
    wake_cleanup: Arc<Notify>,
}

impl Janitor {
    pub fn new(
        db: Postgres,
        redis: RedisSessions,
        settings: JanitorSettings,
        wake_cleanup: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            redis,
            settings,
            wake_cleanup,
        }
    }

    /// One run, unless another replica's run holds the lock.
    pub async fn run(&self, dry_run: bool) -> Result<JanitorReport, StoreError> {
        let started = Instant::now();
        let mut report = JanitorReport {
            dry_run,
            ..JanitorReport::default()
        };
        let mut client = self.db.pool().get().await?;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&JANITOR_LOCK])
            .await?
            .try_get(0)?;
        if !locked {
            report.locked_elsewhere = true;
            tracing::info!(
                dry_run,
                "janitor.locked: another replica's janitor is running"
            );
            metrics::counter!("draftd_janitor_runs_total", "outcome" => "locked").increment(1);
            return Ok(report);
        }
        let swept = self.sweep(&mut client, &mut report).await;
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&JANITOR_LOCK])
            .await;
        if unlocked.is_err() {
            // Closing the session releases the lock for certain.
            drop(deadpool_postgres::Object::take(client));
        }
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match swept {
            Ok(()) => {
                tracing::info!(
                    dry_run,
                    cutoff = ?report.cutoff,
                    candidates = report.candidates,
                    deleted = report.deleted,
                    skipped_alive = report.skipped_alive,
                    files_queued = report.files_queued,
                    keys_queued = report.keys_queued,
                    batches = report.batches,
                    duration_ms = report.duration_ms,
                    "janitor.completed"
                );
                let outcome = if dry_run { "dry_run" } else { "completed" };
                metrics::counter!("draftd_janitor_runs_total", "outcome" => outcome).increment(1);
                if !dry_run {
                    metrics::counter!("draftd_janitor_deleted_total").increment(report.deleted);
                    metrics::counter!("draftd_janitor_skipped_alive_total")
                        .increment(report.skipped_alive);
                    self.wake_cleanup.notify_one();
                }
                metrics::histogram!("draftd_janitor_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
                Ok(report)
            }
            Err(e) => {
                tracing::error!(error = %e, deleted = report.deleted, "janitor.failed");
                metrics::counter!("draftd_janitor_runs_total", "outcome" => "failed").increment(1);
                Err(e)
            }
        }
    }

    /// Batch after batch, each its own short transaction, oldest first.
    async fn sweep(
        &self,
        client: &mut deadpool_postgres::Object,
        report: &mut JanitorReport,
    ) -> Result<(), StoreError> {
        let cutoff: DateTime<Utc> = client
            .query_one(
                "SELECT now() - make_interval(secs => $1)",
                &[&self.settings.ttl.as_secs_f64()],
            )
            .await?
            .try_get(0)?;
        report.cutoff = Some(cutoff);
        let mut after = None;
        loop {
            let tx = client.transaction().await?;
            let batch = janitor_candidates(
                &tx,
                cutoff,
                after,
                self.settings.batch_size,
                !report.dry_run,
            )
            .await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = Some((last.updated_at, last.id));
            report.batches += 1;
            report.candidates += batch.len() as u64;

            // A draft session still alive means someone may come back to it.
            let sessions: Vec<_> = batch
                .iter()
                .filter_map(|c| c.draft_session_id.map(|draft| (c.owner_id, draft)))
                .collect();
            let alive = self.redis.alive(&sessions).await?;
            let doomed: Vec<Uuid> = batch
                .iter()
                .filter(|c| {
                    c.draft_session_id
                        .is_none_or(|draft| !alive.contains(&(c.owner_id, draft)))
                })
                .map(|c| c.id)
                .collect();
            report.skipped_alive += (batch.len() - doomed.len()) as u64;

            if report.dry_run {
                let files: i64 = tx
                    .query_one(
                        "SELECT count(*) FROM course_files WHERE course_id = ANY($1)",
                        &[&doomed],
                    )
                    .await?
                    .try_get(0)?;
                tx.rollback().await?;
                report.files_queued += files as u64;
                report.keys_queued += batch
                    .iter()
                    .filter(|c| c.draft_session_id.is_some() && doomed.contains(&c.id))
                    .count() as u64;
                record(report, &doomed);
            } else {
                let deleted = cleanup::delete_courses(
                    &tx,
                    &doomed,
                    None,
                    DeletionReason::Janitor,
                    self.settings.max_attempts,
                )
                .await?;
                tx.commit().await?;
                report.files_queued += deleted.files as u64;
                report.keys_queued += deleted.sessions as u64;
                record(report, &deleted.course_ids);
            }
            if (batch.len() as i64) < self.settings.batch_size {
                break;
            }
        }
        Ok(())
    }
}

fn record(report: &mut JanitorReport, ids: &[Uuid]) {
    report.deleted += ids.len() as u64;
    let room = REPORTED_IDS.saturating_sub(report.course_ids.len());
    report.course_ids.extend(ids.iter().take(room));
}
