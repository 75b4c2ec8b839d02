//! The cleanup queue's records: what a deletion leaves to remove outside
//! Postgres (stored files, Redis keys), recorded in the deleting transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// What a cleanup job removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupKind {
    /// Every object under a course's prefix that no file row references.
    StoragePrefix,
    /// One object, unless a file row references it.
    StorageObject,
    /// A draft session's Redis keys, unless its course exists again.
    DraftSession,
    /// The platform's Redis keys of an erased course, by the configured
    /// patterns (target `{orgId}:{userId}:{courseId}`).
    RedisKeys,
}

super::string_enum!(CleanupKind, "cleanup job kind", {
    StoragePrefix => "storage_prefix",
    StorageObject => "storage_object",
    DraftSession => "draft_session",
    RedisKeys => "redis_keys",
});

/// What every deletion records for the cleanup worker.
#[derive(Debug, Clone, Copy)]
pub struct CleanupPolicy {
    /// Attempts each job gets before it is dead.
    pub max_attempts: i32,
    /// Patterns of the platform's keys are configured: an erased course's
    /// are erased too.
    pub redis_patterns: bool,
}

/// The target of a [`CleanupKind::RedisKeys`] job.
pub fn keys_target(organization_id: Uuid, user_id: Uuid, course_id: Uuid) -> String {
    format!("{organization_id}:{user_id}:{course_id}")
}

/// (organization, user, course) from a [`keys_target`].
pub fn parse_keys_target(target: &str) -> Option<(Uuid, Uuid, Uuid)> {
    let mut parts = target.split(':');
    let ids = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    parts.next().is_none().then_some(ids)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    /// Out of attempts: waits for an operator's retry.
    Dead,
}

super::string_enum!(JobStatus, "cleanup job status", {
    Pending => "pending",
    Dead => "dead",
});

/// Why something was deleted, as recorded on its cleanup jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletionReason {
    /// `DELETE /courses/{id}?permanent=true`.
    Owner,
    /// A materialized draft was discarded.
    Discard,
    /// Its organization or its user was erased.
    Erase,
    Janitor,
    /// One file of a course was deleted.
    File,
    /// The trash's retention ended.
    Purge,
}

super::string_enum!(DeletionReason, "deletion reason", {
    Owner => "owner",
    Discard => "discard",
    Erase => "erase",
    Janitor => "janitor",
    File => "file",
    Purge => "purge",
});

/// Which of the courses named a deletion may take: the condition is checked
/// on each row under its lock, so a racing change (a restore, a submit) that
/// commits first is seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erasable {
    /// Any of them.
    Any,
    /// Those not submitted, or in the trash: what discarding a draft takes.
    Unsubmitted,
    /// Those whose trash retention has ended: what the purge takes.
    Expired,
}

super::string_enum!(Erasable, "erasable condition", {
    Any => "any",
    Unsubmitted => "unsubmitted",
    Expired => "expired",
});

/// A cleanup job, as the worker and the admin see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupJob {
    pub id: i64,
    pub kind: CleanupKind,
    /// The storage prefix or key, or `{userId}:{draftId}` for a draft session.
    pub target: String,
    pub course_id: Uuid,
    pub reason: DeletionReason,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl CleanupJob {
    /// This attempt was the last one the job gets.
    pub fn is_last_attempt(&self) -> bool {
        self.attempts >= self.max_attempts
    }
}

/// The target of a [`CleanupKind::DraftSession`] job.
pub fn session_target(user_id: Uuid, draft_id: Uuid) -> String {
    format!("{user_id}:{draft_id}")
}

/// (user, draft) from a [`session_target`].
pub fn parse_session_target(target: &str) -> Option<(Uuid, Uuid)> {
    let (user, draft) = target.split_once(':')?;
    Some((user.parse().ok()?, draft.parse().ok()?))
}

/// What one deletion removed and queued.
#[derive(Debug, Clone, Default)]
pub struct Deleted {
    pub course_ids: Vec<Uuid>,
    /// File rows removed with the courses (their bytes are queued).
    pub files: i64,
    /// The bytes those files held.
    pub bytes: i64,
    /// Draft sessions queued for removal from Redis.
    pub sessions: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_from_their_sql_values() {
        for kind in CleanupKind::ALL {
            assert_eq!(kind.as_str().parse::<CleanupKind>(), Ok(*kind));
        }
        assert!("storage".parse::<CleanupKind>().is_err());
        let (user, draft) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            parse_session_target(&session_target(user, draft)),
            Some((user, draft))
        );
    }
}
