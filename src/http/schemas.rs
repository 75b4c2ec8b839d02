//! The OpenAPI schemas of the domain's types. The domain knows nothing of
//! OpenAPI, so its types are described here, field for field, under the
//! same names; the values the API sends are the domain's own, serialized
//! with serde. The admin's figures, a use case's own answer, derive their
//! schema in `app/admin.rs` and are re-exported here. The form's schema is
//! built from the domain's table of its fields ([`form`]). The schemathesis run in `make test` checks every response
//! against these.

#![allow(dead_code)] // describes the wire format for the OpenAPI document

pub mod erase;
mod form;

pub use crate::app::admin::AdminStats;
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

/// Where a course is in its life.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CourseStatus {
    Draft,
    Submitted,
}

/// What made a draft real.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MaterializedBy {
    Submit,
    Upload,
    /// An explicit `POST /materialize`.
    Materialize,
    /// Opened while Redis was unreachable: the draft itself lives in the row.
    Degraded,
}

/// A course row, as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Course {
    pub id: Uuid,
    pub draft_session_id: Option<Uuid>,
    pub organization_id: Uuid,
    pub slug: String,
    pub title: String,
    pub status: CourseStatus,
    pub generation_status: Option<String>,
    pub materialized_by: Option<MaterializedBy>,
    pub materialized_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the course is in the trash.
    pub trashed_at: Option<DateTime<Utc>>,
    /// When a trashed course is erased for good; restorable until then.
    pub purge_at: Option<DateTime<Utc>>,
    pub form_data: FormData,
}

/// A course as the owner's lists show it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseSummary {
    pub id: Uuid,
    pub draft_session_id: Option<Uuid>,
    pub status: CourseStatus,
    pub title: String,
    pub slug: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub file_count: i64,
    /// In the trash list only: when it was deleted.
    pub trashed_at: Option<DateTime<Utc>>,
    /// In the trash list only: when it is erased for good.
    pub purge_at: Option<DateTime<Utc>>,
}

/// A course with its files.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseWithFiles {
    #[serde(flatten)]
    pub course: Course,
    pub files: Vec<CourseFile>,
}

/// An uploaded file's metadata.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseFile {
    pub id: Uuid,
    pub course_id: Uuid,
    /// The name the client gave; never used as a path.
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

/// The answer of materialize and submit: which course the draft is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseRef {
    pub course_id: Uuid,
    pub course_slug: String,
    pub status: CourseStatus,
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
