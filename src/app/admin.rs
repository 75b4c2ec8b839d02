//! What an operator sees and does: the draft-pollution figures, the job
//! queue (cleanup jobs, lifecycle events and their attempts), readiness, and the jobs (janitor, purge, orphan sweep) run on demand.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppError;
use crate::domain::cleanup::{tasks, CleanupKind, CleanupPolicy, CleanupStep};
use crate::domain::event::{DeliveryStatus, OutboxEvent, DELIVERY_TASK};
use crate::domain::ids::CourseId;
use crate::domain::job::{AttemptRecord, JobRecord, JobStatus};
use crate::domain::StoreError;
use crate::jobs::janitor::Janitor;
use crate::jobs::orphans::OrphanSweep;
use crate::jobs::purge::Purge;
use crate::jobs::queue::Runner;
use crate::stores::postgres::{JobQueue, PgCourses, Postgres};
use crate::stores::redis::RedisDrafts;

pub use crate::jobs::janitor::JanitorReport;
pub use crate::jobs::orphans::OrphanReport;
pub use crate::jobs::purge::PurgeReport;

/// Dead jobs listed at most.
const DEAD_LISTED: i64 = 100;

#[derive(Debug, Clone, Serialize, ToSchema)]
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
    pub dead_jobs: Vec<DeadJob>,
    /// Lifecycle events waiting for delivery (or being delivered).
    pub webhook_events_pending: i64,
    /// Events out of attempts (or answered 410 Gone): they hold back their
    /// course's later events until `POST /api/v1/admin/cleanup/retry`.
    pub webhook_events_dead: i64,
}

/// A cleanup job, as the admin sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CleanupJob)]
pub struct DeadJob {
    pub id: i64,
    /// `storage_prefix`, `storage_object`, `draft_session` or `redis_keys`.
    pub kind: String,
    /// What it removes: a storage prefix or key, `{userId}:{draftId}` for a
    /// draft session, `{orgId}:{userId}:{courseId}` for platform keys.
    pub target: String,
    #[schema(value_type = Uuid)]
    pub course_id: CourseId,
    /// `owner`, `discard`, `erase`, `janitor`, `file` or `purge`.
    pub reason: String,
    /// `pending` or `dead`.
    #[schema(value_type = String)]
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A lifecycle event with its delivery attempts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// Its `webhook-id`.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub course_id: CourseId,
    pub status: DeliveryStatus,
    pub occurred_at: DateTime<Utc>,
    /// A pending event's next attempt (or its running attempt's lease end).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub data: Map<String, Value>,
    /// The newest first, at most 20.
    pub attempts: Vec<AttemptRecord>,
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
    pub(crate) queue: JobQueue,
    pub(crate) cleanup: CleanupPolicy,
    pub(crate) ttl: Duration,
    pub(crate) janitor: Janitor,
    pub(crate) purge: Purge,
    pub(crate) sweep: OrphanSweep,
    pub(crate) runner: Runner,
}

impl Admin {
    pub async fn stats(&self) -> Result<AdminStats, AppError> {
        let pollution = self.courses.pollution(self.ttl).await?;
        let jobs = self.queue.counts(tasks::ALL).await?;
        let dead_jobs = self.queue.dead(tasks::ALL, DEAD_LISTED).await?;
        let live_sessions = self.redis.count().await?;
        let events = self.queue.counts(&[DELIVERY_TASK]).await?;
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
            cleanup_jobs_pending: jobs.pending,
            cleanup_jobs_dead: jobs.dead,
            dead_jobs: dead_jobs
                .into_iter()
                .map(|job| self.dead_job(job))
                .collect(),
            webhook_events_pending: events.pending,
            webhook_events_dead: events.dead,
        })
    }

    /// Puts dead cleanup jobs (all, or those listed) back in the queue, and,
    /// unless jobs are listed, every dead event (with fresh attempts); wakes
    /// the runner.
    pub async fn retry_dead(&self, ids: Option<&[i64]>) -> Result<Redriven, AppError> {
        let jobs = self.queue.retry_dead(tasks::ALL, ids).await?;
        let events = match ids {
            Some(_) => 0,
            None => self.queue.retry_dead(&[DELIVERY_TASK], None).await?,
        };
        self.runner.wake();
        Ok(Redriven { jobs, events })
    }

    /// The event whose `webhook-id` is `id`, with its attempts.
    pub async fn webhook_event(&self, id: Uuid) -> Result<WebhookEvent, AppError> {
        let found = self
            .queue
            .find_by(DELIVERY_TASK, "webhookId", &id.to_string())
            .await?;
        let (job, attempts) = found.ok_or(AppError::NotFound)?;
        let event: OutboxEvent = serde_json::from_value(job.payload)
            .map_err(|e| StoreError::corrupt(crate::domain::Backend::Postgres, e.to_string()))?;
        Ok(WebhookEvent {
            id: event.webhook_id,
            kind: event.kind.as_str().to_owned(),
            course_id: event.course_id,
            status: job.status.into(),
            occurred_at: event.occurred_at,
            next_attempt_at: (job.status == JobStatus::Pending).then_some(job.run_after),
            delivered_at: job.finished_at,
            data: event.data,
            attempts,
        })
    }

    /// What an operator is shown of a dead cleanup job: its step read back
    /// from its payload (or the payload as it is, if it does not read).
    fn dead_job(&self, job: JobRecord) -> DeadJob {
        let kind = CleanupKind::of_task(&job.task);
        let raw = job.payload.to_string();
        let step = kind.and_then(|kind| CleanupStep::from_payload(kind, job.payload).ok());
        DeadJob {
            id: job.id,
            kind: kind.map_or(job.task.clone(), |k| k.as_str().to_owned()),
            target: step.as_ref().map_or(raw, CleanupStep::target),
            course_id: job.course_id,
            reason: step.map_or_else(String::new, |s| s.reason().as_str().to_owned()),
            status: job.status,
            attempts: job.attempts,
            max_attempts: self.cleanup.max_attempts,
            run_after: job.run_after,
            last_error: job.last_error,
            created_at: job.created_at,
        }
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
