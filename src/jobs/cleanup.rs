//! The cleanup worker: carries out the jobs that course deletions recorded,
//! retrying failures with exponential backoff until a job is dead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{watch, Notify};
use utoipa::ToSchema;

use crate::domain::cleanup::{parse_keys_target, parse_session_target, CleanupJob, CleanupKind};
use crate::domain::key_pattern::{KeyPattern, PatternScope, Placeholder};
use crate::domain::{Backend, StoreError};
use crate::stores::files::FileStorage;
use crate::stores::postgres::files::PgFiles;
use crate::stores::postgres::CleanupQueue;
use crate::stores::redis::RedisDrafts;

/// Jobs claimed at once.
const CLAIM_BATCH: i64 = 32;
/// Courses whose platform keys one keyspace scan per pattern looks for.
const KEYS_BATCH: i64 = 1000;
/// How long a claimed job is the claimer's before it falls due again.
const LEASE_SECS: f64 = 300.0;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
pub struct CleanupSettings {
    pub max_attempts: i32,
    /// Wait after the first failure; doubles with each further one.
    pub backoff: Duration,
    /// How often the queue is polled when nothing wakes the worker.
    pub poll: Duration,
}

/// What one pass over the due jobs did.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CleanupPass {
    pub done: u64,
    pub retried: u64,
    pub dead: u64,
}

#[derive(Clone)]
pub struct CleanupWorker {
    queue: CleanupQueue,
    file_rows: PgFiles,
    files: FileStorage,
    redis: RedisDrafts,
    /// Patterns of the platform's keys of a course.
    patterns: Arc<[KeyPattern]>,
    settings: CleanupSettings,
    wake: Arc<Notify>,
}

impl CleanupWorker {
    pub fn new(
        queue: CleanupQueue,
        file_rows: PgFiles,
        files: FileStorage,
        redis: RedisDrafts,
        patterns: Vec<KeyPattern>,
        settings: CleanupSettings,
        wake: Arc<Notify>,
    ) -> Self {
        let patterns = patterns
            .into_iter()
            .filter(|p| p.scope() == PatternScope::Course)
            .collect();
        Self {
            queue,
            file_rows,
            files,
            redis,
            patterns,
            settings,
            wake,
        }
    }

    /// Starts a pass now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `stop` turns true: a pass whenever woken or every poll interval.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        super::run_passes("cleanup", &self.wake, self.settings.poll, stop, || {
            self.pass()
        })
        .await;
    }

    /// Carries out the due jobs, then sets the queue's gauges (which every
    /// replica reads from the same queue, so they agree).
    async fn pass(&self) -> Result<(), StoreError> {
        self.run_due().await?;
        let (pending, dead) = self.queue.counts().await?;
        metrics::gauge!("draftd_cleanup_jobs_pending").set(pending as f64);
        metrics::gauge!("draftd_cleanup_jobs_dead").set(dead as f64);
        Ok(())
    }

    /// Carries out every job due now.
    pub async fn run_due(&self) -> Result<CleanupPass, StoreError> {
        let mut pass = CleanupPass::default();
        // The platform's keys first, many courses per keyspace scan.
        loop {
            let jobs = self
                .queue
                .claim(Some(CleanupKind::RedisKeys), KEYS_BATCH, LEASE_SECS)
                .await?;
            if jobs.is_empty() {
                break;
            }
            let erased = self.erase_platform_keys(&jobs).await;
            for job in jobs {
                self.settle(&job, erased.as_ref().map(|_| ()), &mut pass)
                    .await?;
            }
        }
        loop {
            let jobs = self.queue.claim(None, CLAIM_BATCH, LEASE_SECS).await?;
            if jobs.is_empty() {
                return Ok(pass);
            }
            for job in jobs {
                let executed = self.execute(&job).await;
                self.settle(&job, executed.as_ref().map(|_| ()), &mut pass)
                    .await?;
            }
        }
    }

    /// Records a job's outcome: done, or retried later, or dead.
    async fn settle(
        &self,
        job: &CleanupJob,
        outcome: Result<(), &StoreError>,
        pass: &mut CleanupPass,
    ) -> Result<(), StoreError> {
        let e = match outcome {
            Ok(()) => {
                self.queue.complete(job.id).await?;
                pass.done += 1;
                metrics::counter!("draftd_cleanup_jobs_total", "outcome" => "done").increment(1);
                return Ok(());
            }
            Err(e) => e,
        };
        let dead = job.is_last_attempt();
        self.queue
            .fail(job, &e.to_string(), self.backoff(job.attempts))
            .await?;
        if dead {
            pass.dead += 1;
            tracing::error!(job = job.id, kind = job.kind.as_str(), target = job.target, error = %e,
                "cleanup job is dead after {} attempts", job.attempts);
        } else {
            pass.retried += 1;
            tracing::warn!(job = job.id, kind = job.kind.as_str(), target = job.target, error = %e,
                attempt = job.attempts, "cleanup job failed; will retry");
        }
        let outcome = if dead { "dead" } else { "retried" };
        metrics::counter!("draftd_cleanup_jobs_total", "outcome" => outcome).increment(1);
        Ok(())
    }

    /// Erases the platform's keys of these erased courses: one keyspace
    /// scan per pattern for the whole batch.
    async fn erase_platform_keys(&self, jobs: &[CleanupJob]) -> Result<u64, StoreError> {
        let mut owners = HashMap::new();
        for job in jobs {
            let (org, user, course) =
                parse_keys_target(&job.target).ok_or_else(|| bad_target(job))?;
            owners.insert(course, (org, user));
        }
        let mut removed = 0;
        for pattern in self.patterns.iter() {
            removed += self
                .redis
                .unlink_matching(pattern, |ids| {
                    let owner = ids.get(&Placeholder::Course).and_then(|c| owners.get(c));
                    owner.is_some_and(|(org, user)| {
                        ids.get(&Placeholder::Organization).is_none_or(|o| o == org)
                            && ids.get(&Placeholder::User).is_none_or(|u| u == user)
                    })
                })
                .await?;
        }
        tracing::info!(
            courses = owners.len(),
            patterns = self.patterns.len(),
            keys_removed = removed,
            "cleanup.platform_keys"
        );
        metrics::counter!("draftd_cleanup_platform_keys_removed_total").increment(removed);
        Ok(removed)
    }

    fn backoff(&self, attempts: i32) -> f64 {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        (self.settings.backoff * 2u32.pow(exponent))
            .min(MAX_BACKOFF)
            .as_secs_f64()
    }

    async fn execute(&self, job: &CleanupJob) -> Result<(), StoreError> {
        match job.kind {
            // Only what no file row references: a course re-created with the
            // same id (an upload right after the janitor) keeps its files.
            CleanupKind::StoragePrefix => {
                let keys = self.files.list(&job.target).await?;
                self.delete_unreferenced(keys).await
            }
            CleanupKind::StorageObject => self.delete_unreferenced(vec![job.target.clone()]).await,
            CleanupKind::DraftSession => {
                if self.queue.course_exists(job.course_id).await? {
                    return Ok(());
                }
                let (user, draft) =
                    parse_session_target(&job.target).ok_or_else(|| bad_target(job))?;
                self.redis.delete(user, draft).await.map(|_| ())
            }
            CleanupKind::RedisKeys => self
                .erase_platform_keys(std::slice::from_ref(job))
                .await
                .map(|_| ()),
        }
    }

    async fn delete_unreferenced(&self, keys: Vec<String>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let referenced = self.file_rows.referenced_keys(&keys).await?;
        for key in keys.iter().filter(|key| !referenced.contains(key)) {
            self.files.delete(key).await?;
        }
        Ok(())
    }
}

fn bad_target(job: &CleanupJob) -> StoreError {
    StoreError::corrupt(
        Backend::Postgres,
        format!("cleanup job {} has a bad target {:?}", job.id, job.target),
    )
}
