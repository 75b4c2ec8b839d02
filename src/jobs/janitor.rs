//! The janitor: deletes draft courses nobody used and nobody touched for the
//! TTL, in bounded batches, skipping any whose draft session is still alive.
//! One replica at a time: the run holds a Postgres advisory lock.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::queue::Wake;
use crate::domain::cleanup::CleanupPolicy;
use crate::domain::ids::CourseId;
use crate::domain::{StoreError, UserDraft};
use crate::stores::postgres::janitor::JanitorLock;
use crate::stores::postgres::Postgres;
use crate::stores::redis::RedisDrafts;

pub use crate::stores::postgres::lock::JANITOR_LOCK;
/// Course ids a report lists at most.
const REPORTED_IDS: usize = 1000;

#[derive(Debug, Clone, Copy)]
pub struct JanitorSettings {
    /// No activity for this long makes an unused draft stale.
    pub ttl: Duration,
    pub batch_size: i64,
    pub cleanup: CleanupPolicy,
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
    /// Tombstones of the deletion fence past the draft TTL, removed.
    pub tombstones_pruned: u64,
    pub duration_ms: u64,
    /// The deleted courses (the first 1000).
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub course_ids: Vec<CourseId>,
}

#[derive(Clone)]
pub struct Janitor {
    db: Postgres,
    redis: RedisDrafts,
    settings: JanitorSettings,
    wake: Wake,
}

impl Janitor {
    pub fn new(db: Postgres, redis: RedisDrafts, settings: JanitorSettings, wake: Wake) -> Self {
        Self {
            db,
            redis,
            settings,
            wake,
        }
    }

    /// One run, unless another replica's run holds the lock.
    pub async fn run(&self, dry_run: bool) -> Result<JanitorReport, StoreError> {
        let started = Instant::now();
        let mut report = JanitorReport {
            dry_run,
            ..JanitorReport::default()
        };
        let Some(mut lock) = self.db.lock_janitor().await? else {
            report.locked_elsewhere = true;
            tracing::info!(
                dry_run,
                "janitor.locked: another replica's janitor is running"
            );
            metrics::counter!("draftd_janitor_runs_total", "outcome" => "locked").increment(1);
            return Ok(report);
        };
        let swept = self.sweep(&mut lock, &mut report).await;
        lock.release().await;
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
                    tombstones_pruned = report.tombstones_pruned,
                    duration_ms = report.duration_ms,
                    "janitor.completed"
                );
                let outcome = if dry_run { "dry_run" } else { "completed" };
                metrics::counter!("draftd_janitor_runs_total", "outcome" => outcome).increment(1);
                if !dry_run {
                    metrics::counter!("draftd_janitor_deleted_total").increment(report.deleted);
                    metrics::counter!("draftd_janitor_skipped_alive_total")
                        .increment(report.skipped_alive);
                    self.wake.wake();
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
        lock: &mut JanitorLock,
        report: &mut JanitorReport,
    ) -> Result<(), StoreError> {
        let cutoff = lock.cutoff(self.settings.ttl).await?;
        report.cutoff = Some(cutoff);
        let mut after = None;
        loop {
            let batch = lock.batch().await?;
            let candidates = batch
                .candidates(cutoff, after, self.settings.batch_size, !report.dry_run)
                .await?;
            let Some(last) = candidates.last() else {
                break;
            };
            after = Some((last.updated_at, last.id));
            report.batches += 1;
            report.candidates += candidates.len() as u64;

            // A draft session still alive means someone may come back to it.
            let sessions: Vec<_> = candidates
                .iter()
                .filter_map(|c| {
                    let user = c.owner_id;
                    c.draft_session_id.map(|draft| UserDraft { user, draft })
                })
                .collect();
            let alive = self.redis.alive(&sessions).await?;
            let doomed: Vec<_> = candidates
                .iter()
                .filter(|c| {
                    c.draft_session_id.is_none_or(|draft| {
                        !alive.contains(&UserDraft {
                            user: c.owner_id,
                            draft,
                        })
                    })
                })
                .collect();
            report.skipped_alive += (candidates.len() - doomed.len()) as u64;
            let ids: Vec<CourseId> = doomed.iter().map(|c| c.id).collect();

            if report.dry_run {
                report.files_queued += batch.count_files(&ids).await?.unsigned_abs();
                report.keys_queued += doomed
                    .iter()
                    .filter(|c| c.draft_session_id.is_some())
                    .count() as u64;
                record(report, &ids);
            } else {
                let deleted = batch.delete(&ids, self.settings.cleanup).await?;
                report.files_queued += deleted.files.unsigned_abs();
                report.keys_queued += deleted.sessions.unsigned_abs();
                record(report, &deleted.course_ids);
            }
            if (candidates.len() as i64) < self.settings.batch_size {
                break;
            }
        }
        if !report.dry_run {
            report.tombstones_pruned = lock
                .prune_tombstones(self.settings.ttl, self.settings.batch_size)
                .await?;
        }
        Ok(())
    }
}

fn record(report: &mut JanitorReport, ids: &[CourseId]) {
    report.deleted += ids.len() as u64;
    let room = REPORTED_IDS.saturating_sub(report.course_ids.len());
    report.course_ids.extend(ids.iter().take(room));
}
