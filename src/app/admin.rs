//! What an operator sees and does: the draft-pollution figures, the cleanup
//! queue and the events outbox, readiness, and the jobs (janitor, purge, orphan sweep) run on demand.

use std::time::Duration;

use serde::Serialize;

use super::AppError;
use crate::domain::cleanup::CleanupJob;
use crate::domain::StoreError;
use crate::jobs::cleanup::CleanupWorker;
use crate::jobs::janitor::Janitor;
use crate::jobs::orphans::OrphanSweep;
use crate::jobs::purge::Purge;
use crate::jobs::webhooks::WebhookWorker;
use crate::stores::postgres::{CleanupQueue, Outbox, PgCourses, Postgres};
use crate::stores::redis::RedisDrafts;

pub use crate::jobs::janitor::JanitorReport;
pub use crate::jobs::orphans::OrphanReport;
pub use crate::jobs::purge::PurgeReport;

/// Dead jobs listed at most.
const DEAD_LISTED: i64 = 100;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminStats {
    /// Course rows with status `draft`.
    pub total_drafts: i64,
    /// Draft rows never used by the generator.
    pub unused_drafts: i64,
    /// Unused drafts as a share of all drafts, in percent.
    pub unused_percentage: f64,
    /// Unused drafts with no activity for the TTL: the janitor's next work.
    pub pending_cleanup: i64,
    pub submitted_courses: i64,
    /// Courses in the trash, waiting for restore or purge.
    pub trashed_courses: i64,
    /// Draft sessions in Redis.
    pub live_sessions: u64,
    pub cleanup_jobs_pending: i64,
    pub cleanup_jobs_dead: i64,
    /// The most recent dead jobs, to look into and retry.
    pub dead_jobs: Vec<CleanupJob>,
    /// Lifecycle events waiting for delivery (or being delivered).
    pub webhook_events_pending: i64,
    /// Events out of attempts (or answered 410), holding back their course's
    /// later events until redriven.
    pub webhook_events_dead: i64,
}

/// What a retry put back in the queues.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Redriven {
    pub jobs: u64,
    pub events: u64,
}

/// Whether each store answers.
pub struct Readiness {
    pub redis: Result<(), StoreError>,
    pub postgres: Result<(), StoreError>,
}

#[derive(Clone)]
pub struct Admin {
    pub(crate) postgres: Postgres,
    pub(crate) courses: PgCourses,
    pub(crate) redis: RedisDrafts,
    pub(crate) queue: CleanupQueue,
    pub(crate) outbox: Outbox,
    pub(crate) ttl: Duration,
    pub(crate) janitor: Janitor,
    pub(crate) purge: Purge,
    pub(crate) sweep: OrphanSweep,
    pub(crate) cleanup: CleanupWorker,
    pub(crate) webhooks: Option<WebhookWorker>,
}

impl Admin {
    pub async fn stats(&self) -> Result<AdminStats, AppError> {
        let pollution = self.courses.pollution(self.ttl).await?;
        let (pending, dead) = self.queue.counts().await?;
        let dead_jobs = self.queue.dead(DEAD_LISTED).await?;
        let live_sessions = self.redis.count().await?;
        let (events_pending, events_dead) = self.outbox.counts().await?;
        Ok(AdminStats {
            total_drafts: pollution.total_drafts,
            unused_drafts: pollution.unused_drafts,
            unused_percentage: if pollution.total_drafts == 0 {
                0.0
            } else {
                (pollution.unused_drafts as f64 * 1000.0 / pollution.total_drafts as f64).round()
                    / 10.0
            },
            pending_cleanup: pollution.pending_cleanup,
            submitted_courses: pollution.submitted_courses,
            trashed_courses: pollution.trashed_courses,
            live_sessions,
            cleanup_jobs_pending: pending,
            cleanup_jobs_dead: dead,
            dead_jobs,
            webhook_events_pending: events_pending,
            webhook_events_dead: events_dead,
        })
    }

    /// Puts dead cleanup jobs (all, or those listed) back in the queue, and,
    /// unless jobs are listed, every dead event (with fresh attempts); wakes
    /// the workers.
    pub async fn retry_dead(&self, ids: Option<&[i64]>) -> Result<Redriven, AppError> {
        let jobs = self.queue.retry_dead(ids).await?;
        self.cleanup.wake();
        let events = match ids {
            Some(_) => 0,
            None => self.outbox.retry_dead(None).await?,
        };
        if let Some(webhooks) = &self.webhooks {
            webhooks.wake();
        }
        Ok(Redriven { jobs, events })
    }

    pub async fn run_janitor(&self, dry_run: bool) -> Result<JanitorReport, AppError> {
        Ok(self.janitor.run(dry_run).await?)
    }

    pub async fn run_purge(&self, dry_run: bool) -> Result<PurgeReport, AppError> {
        Ok(self.purge.run(dry_run).await?)
    }

    pub async fn sweep_orphans(&self, dry_run: bool) -> Result<OrphanReport, AppError> {
        Ok(self.sweep.run(dry_run).await?)
    }

    pub async fn readiness(&self) -> Readiness {
        let (redis, postgres) = tokio::join!(self.redis.ping(), self.postgres.ping());
        Readiness { redis, postgres }
    }
}
