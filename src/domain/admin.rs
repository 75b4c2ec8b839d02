//! What an operator sees: the draft-pollution figures and the cleanup queue.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::DomainError;
use crate::stores::cleanup::{CleanupJob, CleanupQueue};
use crate::stores::courses::PgCourses;
use crate::stores::redis_sessions::RedisSessions;

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
    /// Draft sessions in Redis.
    pub live_sessions: u64,
    pub cleanup_jobs_pending: i64,
    pub cleanup_jobs_dead: i64,
    /// The most recent dead jobs, to look into and retry.
    pub dead_jobs: Vec<CleanupJob>,
}

#[derive(Clone)]
pub struct Admin {
    courses: PgCourses,
    redis: RedisSessions,
    queue: CleanupQueue,
    ttl: Duration,
}

impl Admin {
    pub fn new(
        courses: PgCourses,
        redis: RedisSessions,
        queue: CleanupQueue,
        ttl: Duration,
    ) -> Self {
        Self {
            courses,
            redis,
            queue,
            ttl,
        }
    }

    pub async fn stats(&self) -> Result<AdminStats, DomainError> {
        let pollution = self.courses.pollution(self.ttl).await?;
        let (pending, dead) = self.queue.counts().await?;
        let dead_jobs = self.queue.dead(DEAD_LISTED).await?;
        let live_sessions = self.redis.count().await?;
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
            live_sessions,
            cleanup_jobs_pending: pending,
            cleanup_jobs_dead: dead,
            dead_jobs,
        })
    }

    /// Puts dead cleanup jobs (all, or those listed) back in the queue.
    pub async fn retry_dead(&self, ids: Option<&[i64]>) -> Result<u64, DomainError> {
        Ok(self.queue.retry_dead(ids).await?)
    }
}
