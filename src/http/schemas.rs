//! The OpenAPI schemas of what the API sends. A type whose module derives
//! `utoipa::ToSchema` on it (a course, its files) is its own schema, and is
//! re-exported here; the others are described here, field for field, under
//! the same names; the values the API sends are the domain's own, serialized
//! with serde. The form's schema is built from the domain's table of its
//! fields ([`form`]). The schemathesis run in `make test` checks every response
//! against these.

#![allow(dead_code)] // describes the wire format for the OpenAPI document

pub mod erase;
mod form;

pub use crate::domain::course::{CourseFile, CourseRef, CourseSummary, CourseWithFiles};
pub use form::FormData;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DraftStatus {
    /// Only in Redis.
    Open,
    /// A course row exists; the form is still being edited.
    Materialized,
    /// The form was submitted; the draft is read-only.
    Submitted,
}

/// Which store holds a draft.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DraftStore {
    /// Every draft, normally.
    Redis,
    /// Degraded mode: opened while Redis was unreachable, the draft lives in
    /// its course row, for its whole life.
    Postgres,
}

/// A draft session as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// Rises by one on every change; the ETag is derived from it.
    pub version: u64,
    pub status: DraftStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the draft disappears unless written again.
    pub expires_at: DateTime<Utc>,
    pub course_id: Option<Uuid>,
    pub course_slug: Option<String>,
    /// The draft's course is in the trash: the draft is read-only (409 on
    /// changes) until the course is restored.
    pub course_trashed: bool,
    pub form_data: FormData,
    /// Where the draft is kept: `postgres` for a draft opened while Redis was
    /// unreachable.
    pub store: DraftStore,
}

/// A draft in a list: the draft, its `formData` empty unless
/// `?include=formData`, and its form's topic.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DraftSummary {
    #[serde(flatten)]
    pub draft: Draft,
    /// The form's topic, to name the draft by.
    pub topic: Option<String>,
}

/// A page of drafts.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DraftPage {
    pub items: Vec<DraftSummary>,
    /// Pass it as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// A page of courses, or of the trash.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CoursePage {
    pub items: Vec<CourseSummary>,
    /// Pass it as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// A cleanup job, as the admin sees it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CleanupJob {
    pub id: i64,
    /// `storage_prefix`, `storage_object`, `draft_session` or `redis_keys`.
    pub kind: String,
    /// What it removes: a storage prefix or key, `{userId}:{draftId}` for a
    /// draft session, `{orgId}:{userId}:{courseId}` for platform keys.
    pub target: String,
    pub course_id: Uuid,
    /// `owner`, `discard`, `erase`, `janitor`, `file` or `purge`.
    pub reason: String,
    /// `pending` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
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
    /// Events out of attempts (or answered 410 Gone): they hold back their
    /// course's later events until `POST /api/v1/admin/cleanup/retry`.
    pub webhook_events_dead: i64,
}

/// One delivery attempt of a lifecycle event.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    /// The event's attempt count at the time (a redrive starts it again).
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i16>,
    /// Why it failed (`answered 500`, `no answer within 5000 ms`, a
    /// connection error); null when it delivered the event.
    pub error: Option<String>,
}

/// A lifecycle event with its delivery attempts.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// The event's `webhook-id`.
    pub id: Uuid,
    /// `course.materialized`, `course.submitted`, `course.trashed`,
    /// `course.restored`, `course.deleted`, `file.uploaded` or `file.deleted`.
    #[serde(rename = "type")]
    pub kind: String,
    pub course_id: Uuid,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub occurred_at: DateTime<Utc>,
    /// A pending event's next attempt.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The body's `data`, as delivered.
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// The newest first, at most 20.
    pub attempts: Vec<DeliveryAttempt>,
}
