//! The job queue's records, as the stores answer with them: a claimed job,
//! a job as an operator sees it, and its attempts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::ids::CourseId;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for its (next) attempt, or being attempted.
    Pending,
    /// It succeeded; kept a while by tasks that keep done jobs (webhook
    /// deliveries), removed at once by the others.
    Done,
    /// Out of attempts, or failed for good: waits for an operator's redrive
    /// (and holds back the later jobs of its ordering key until then).
    Dead,
}

super::string_enum!(JobStatus, "job status", {
    Pending => "pending",
    Done => "done",
    Dead => "dead",
});

/// A job the runner claimed: its lease runs until it is settled.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub payload: Value,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// A job as an operator sees it.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: i64,
    pub task: String,
    pub payload: Value,
    pub course_id: CourseId,
    pub status: JobStatus,
    pub attempts: i32,
    pub run_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The newest attempt's error, if it failed.
    pub last_error: Option<String>,
}

/// One attempt of a job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    /// The job's attempt count at the time (a redrive starts it again).
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The receiver's HTTP status, when there was one.
    pub status: Option<i16>,
    /// Why it failed; `None`: it succeeded.
    pub error: Option<String>,
}

/// Pending and dead jobs of a task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: i64,
    pub dead: i64,
}
