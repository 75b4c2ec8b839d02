//! The cleanup steps: what a deletion leaves to remove outside Postgres
//! (stored files, Redis keys), recorded as typed jobs of the queue in the
//! deleting transaction. Each step's fields are its job's payload.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::{CourseId, DraftId, OrgId, UserId};

/// What a cleanup job removes: the task type is `cleanup.{kind}`.
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
    /// patterns.
    RedisKeys,
}

super::string_enum!(CleanupKind, "cleanup job kind", {
    StoragePrefix => "storage_prefix",
    StorageObject => "storage_object",
    DraftSession => "draft_session",
    RedisKeys => "redis_keys",
});

impl CleanupKind {
    /// Its task type in the job queue.
    pub fn task(self) -> &'static str {
        match self {
            Self::StoragePrefix => tasks::STORAGE_PREFIX,
            Self::StorageObject => tasks::STORAGE_OBJECT,
            Self::DraftSession => tasks::DRAFT_SESSION,
            Self::RedisKeys => tasks::PLATFORM_KEYS,
        }
    }

    /// The kind of a cleanup task type.
    pub fn of_task(task: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.task() == task)
    }
}

/// The job queue's names of the cleanup task types: stored in `jobs.task`.
pub mod tasks {
    pub const STORAGE_PREFIX: &str = "cleanup.storage_prefix";
    pub const STORAGE_OBJECT: &str = "cleanup.storage_object";
    pub const DRAFT_SESSION: &str = "cleanup.draft_session";
    pub const PLATFORM_KEYS: &str = "cleanup.redis_keys";
    /// Every one of them.
    pub const ALL: &[&str] = &[STORAGE_PREFIX, STORAGE_OBJECT, DRAFT_SESSION, PLATFORM_KEYS];
}

/// What every deletion records for the cleanup tasks.
#[derive(Debug, Clone, Copy)]
pub struct CleanupPolicy {
    /// Attempts each cleanup job gets before it is dead.
    pub max_attempts: i32,
    /// Patterns of the platform's keys are configured: an erased course's
    /// are erased too.
    pub redis_patterns: bool,
}

/// Why something was deleted, as recorded on its cleanup jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// Every unreferenced object under a course's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoragePrefix {
    pub course_id: CourseId,
    pub organization_id: OrgId,
    pub reason: DeletionReason,
}

impl StoragePrefix {
    /// `{orgId}/{courseId}`: where the course's files are stored.
    pub fn prefix(&self) -> String {
        format!("{}/{}", self.organization_id, self.course_id)
    }
}

/// One stored object, unless a file row references it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageObject {
    pub course_id: CourseId,
    pub organization_id: OrgId,
    /// The object's storage key, as its file row held it.
    pub key: String,
    pub reason: DeletionReason,
}

/// A draft session's Redis keys, unless its course exists again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftSession {
    pub course_id: CourseId,
    pub user_id: UserId,
    pub draft_id: DraftId,
    pub reason: DeletionReason,
}

/// The platform's Redis keys of an erased course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformKeys {
    pub course_id: CourseId,
    pub organization_id: OrgId,
    pub user_id: UserId,
    pub reason: DeletionReason,
}

/// A cleanup job's step, read back from its kind and payload: what an
/// operator is shown of a dead one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupStep {
    StoragePrefix(StoragePrefix),
    StorageObject(StorageObject),
    DraftSession(DraftSession),
    PlatformKeys(PlatformKeys),
}

impl CleanupStep {
    pub fn from_payload(kind: CleanupKind, payload: Value) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            CleanupKind::StoragePrefix => Self::StoragePrefix(serde_json::from_value(payload)?),
            CleanupKind::StorageObject => Self::StorageObject(serde_json::from_value(payload)?),
            CleanupKind::DraftSession => Self::DraftSession(serde_json::from_value(payload)?),
            CleanupKind::RedisKeys => Self::PlatformKeys(serde_json::from_value(payload)?),
        })
    }

    /// What it removes, in a word for a person: the prefix, the key, the
    /// `{userId}:{draftId}` of a session, `{orgId}:{userId}:{courseId}`.
    pub fn target(&self) -> String {
        match self {
            Self::StoragePrefix(step) => step.prefix(),
            Self::StorageObject(step) => step.key.clone(),
            Self::DraftSession(s) => format!("{}:{}", s.user_id, s.draft_id),
            Self::PlatformKeys(k) => format!("{}:{}:{}", k.organization_id, k.user_id, k.course_id),
        }
    }

    pub fn reason(&self) -> DeletionReason {
        match self {
            Self::StoragePrefix(step) => step.reason,
            Self::StorageObject(step) => step.reason,
            Self::DraftSession(step) => step.reason,
            Self::PlatformKeys(step) => step.reason,
        }
    }
}

/// What one deletion removed and queued.
#[derive(Debug, Clone, Default)]
pub struct Deleted {
    pub course_ids: Vec<CourseId>,
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
    }

    /// The payload the deleting SQL builds (stores/postgres/cleanup.rs)
    /// reads back as the step's type.
    #[test]
    fn steps_read_back_from_their_payloads() {
        let (user, draft, course) = (
            uuid::Uuid::new_v4(),
            uuid::Uuid::new_v4(),
            uuid::Uuid::new_v4(),
        );
        let payload = serde_json::json!({
            "courseId": course, "userId": user, "draftId": draft, "reason": "janitor",
        });
        let step = CleanupStep::from_payload(CleanupKind::DraftSession, payload);
        let step = step.map_err(|e| e.to_string());
        assert_eq!(
            step.as_ref().map(CleanupStep::target),
            Ok(format!("{user}:{draft}"))
        );
        assert_eq!(step.map(|s| s.reason()), Ok(DeletionReason::Janitor));
        let bad = serde_json::json!({"courseId": course});
        assert!(CleanupStep::from_payload(CleanupKind::StoragePrefix, bad).is_err());
    }
}
