//! The trash purge: erases the courses whose retention ended, in batches, each
//! course in a transaction of its own, through the cleanup queue (their files
//! and keys go after the rows, by the cleanup jobs). One replica at a time:
//! the run holds a Postgres advisory lock. A course restored while the run
//! goes is left alone: the deletion re-checks `purge_at` under the row's lock.

use std::time::Instant;

use futures_util::{stream, StreamExt};
use serde::Serialize;
use utoipa::ToSchema;

use super::queue::Wake;
use crate::domain::cleanup::CleanupPolicy;
use crate::domain::StoreError;
use crate::stores::postgres::lock::PURGE_LOCK;
use crate::stores::postgres::Postgres;

/// Courses erased at once, each in its own transaction on its own
/// connection (of the pool's 32 by default). Each commit waits for its WAL
/// flush; commits that wait together share one, so more at once erase more
/// per second, until Postgres runs out of CPU (the purge benchmark).
pub const PARALLEL_ERASES: usize = 8;

#[derive(Debug, Clone, Copy)]
pub struct PurgeSettings {
    pub batch_size: i64,
    pub cleanup: CleanupPolicy,
}

/// What a run found and did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurgeReport {
    pub dry_run: bool,
    /// Another replica held the lock: this run did nothing.
    pub locked_elsewhere: bool,
    /// Courses past their retention when the run looked.
    pub candidates: u64,
    /// Erased (or, in a dry run, to erase).
    pub processed: u64,
    /// Whose erase failed; the next run takes them again.
    pub failed: u64,
    /// Files whose bytes were queued for removal, and their size.
    pub files: u64,
    pub bytes: u64,
    pub batches: u64,
    pub duration_ms: u64,
}

#[derive(Clone)]
pub struct Purge {
    db: Postgres,
    settings: PurgeSettings,
    wake: Wake,
}

impl Purge {
    pub fn new(db: Postgres, settings: PurgeSettings, wake: Wake) -> Self {
        Self { db, settings, wake }
    }

    /// One run, unless another replica's run holds the lock.
    pub async fn run(&self, dry_run: bool) -> Result<PurgeReport, StoreError> {
        let started = Instant::now();
        let mut report = PurgeReport {
            dry_run,
            ..PurgeReport::default()
        };
        let Some(lock) = self.db.try_lock(PURGE_LOCK).await? else {
            report.locked_elsewhere = true;
            tracing::info!(dry_run, "purge.locked: another replica's purge is running");
            metrics::counter!("draftd_purge_runs_total", "outcome" => "locked").increment(1);
            return Ok(report);
        };
        let purged = self.purge(&mut report).await;
        lock.release().await;
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match purged {
            Ok(()) => {
                tracing::info!(
                    dry_run,
                    candidates = report.candidates,
                    processed = report.processed,
                    failed = report.failed,
                    files = report.files,
                    bytes = report.bytes,
                    batches = report.batches,
                    duration_ms = report.duration_ms,
                    "purge.completed"
                );
                let outcome = if dry_run { "dry_run" } else { "completed" };
                metrics::counter!("draftd_purge_runs_total", "outcome" => outcome).increment(1);
                if !dry_run {
                    metrics::counter!("draftd_purge_courses_total", "result" => "erased")
                        .increment(report.processed);
                    metrics::counter!("draftd_purge_courses_total", "result" => "failed")
                        .increment(report.failed);
                    metrics::counter!("draftd_purge_files_total").increment(report.files);
                    metrics::counter!("draftd_purge_bytes_total").increment(report.bytes);
                    // Their cleanup jobs and course.deleted events are queued.
                    self.wake.wake();
                }
                metrics::histogram!("draftd_purge_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
                Ok(report)
            }
            Err(e) => {
                tracing::error!(error = %e, processed = report.processed, "purge.failed");
                metrics::counter!("draftd_purge_runs_total", "outcome" => "failed").increment(1);
                Err(e)
            }
        }
    }

    /// Batch after batch, due first. A course whose erase fails is counted
    /// and stays for the next run; the run goes on.
    async fn purge(&self, report: &mut PurgeReport) -> Result<(), StoreError> {
        let mut after = None;
        loop {
            let batch = self
                .db
                .purge_candidates(after, self.settings.batch_size)
                .await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = Some((last.purge_at, last.id));
            report.batches += 1;
            report.candidates += batch.len() as u64;
            if report.dry_run {
                let ids: Vec<_> = batch.iter().map(|c| c.id).collect();
                let (files, bytes) = self.db.count_files(&ids).await?;
                report.processed += ids.len() as u64;
                report.files += files.unsigned_abs();
                report.bytes += bytes.unsigned_abs();
            } else {
                let policy = self.settings.cleanup;
                let mut erases = stream::iter(batch.iter().map(|c| c.id).collect::<Vec<_>>())
                    .map(|id| {
                        let db = self.db.clone();
                        async move { db.purge_one(id, policy).await }
                    })
                    .buffer_unordered(PARALLEL_ERASES);
                while let Some(erased) = erases.next().await {
                    match erased {
                        Ok(deleted) => {
                            report.processed += deleted.course_ids.len() as u64;
                            report.files += deleted.files.unsigned_abs();
                            report.bytes += deleted.bytes.unsigned_abs();
                        }
                        Err(e) => {
                            report.failed += 1;
                            tracing::warn!(error = %e, "purge: a course's erase failed");
                        }
                    }
                }
            }
            if (batch.len() as i64) < self.settings.batch_size {
                break;
            }
        }
        Ok(())
    }
}
