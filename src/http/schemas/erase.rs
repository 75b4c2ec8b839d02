//! The OpenAPI schemas of an erase's types (`domain::erase`), field for
//! field, under the names the document gives them.

#![allow(dead_code)] // describes the wire format for the OpenAPI document

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Exactly one of `organizationId` and `userId`: a UUID, or the id the
/// identity provider's tokens give (`auth0|…`), mapped as draftd maps a
/// token's `sub` (UUIDv5 in the issuer's namespace).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EraseRequest {
    /// Erase the organization: every user's drafts and courses in it.
    #[schema(min_length = 1, example = "7c9e6679-7425-40de-944b-e07fc1f90ae7")]
    pub organization_id: Option<String>,
    /// Erase the user: the user's drafts and courses in every organization.
    #[schema(min_length = 1, example = "auth0|6541f1b1c5a4f1e3a2b1c0d9")]
    pub user_id: Option<String>,
    /// The issuer (`iss`) of the subject's tokens, whose namespace maps an id
    /// that is not a UUID; default `DRAFTD_JWT_ISSUER`, or none.
    pub issuer: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EraseScope {
    Organization,
    User,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EraseStatus {
    Running,
    /// Finished; the integrity check found nothing left.
    Done,
    /// Finished; the integrity check names what is left.
    Failed,
}

/// What a running erase is doing.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErasePhase {
    Counting,
    Courses,
    Drafts,
    Cleanup,
    Checking,
}

/// What the subject has, per store, at one moment.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EraseInventory {
    /// Course rows (Postgres), trashed or not, degraded-mode drafts included.
    pub courses: u64,
    /// File rows (Postgres).
    pub file_rows: u64,
    /// Stored objects under the subject's prefixes (file storage).
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Draft sessions (Redis).
    pub draft_keys: u64,
    /// The platform's keys of the subject and its courses (Redis), by
    /// `DRAFTD_CLEANUP_REDIS_PATTERNS`.
    pub pattern_keys: u64,
    /// Resumable (tus) uploads, finished or not (Postgres): their rows name
    /// the uploader and the file.
    pub tus_uploads: u64,
    /// Bytes the unfinished ones have staged (file storage: a staging file,
    /// or S3 parts and a tail).
    pub tus_bytes: u64,
    /// Cleanup jobs of the subject's courses still to run (Postgres).
    pub cleanup_jobs_pending: u64,
    /// Cleanup jobs of the subject's courses out of attempts (Postgres).
    pub cleanup_jobs_dead: u64,
    /// Lifecycle events of the subject's courses not yet delivered (Postgres).
    pub events_pending: u64,
    /// Lifecycle events of the subject's courses that are dead (Postgres).
    pub events_dead: u64,
}

/// One item's figures.
#[derive(Serialize, ToSchema)]
pub struct EraseTally {
    /// When the erase began (taken once: a resumed erase reports it too).
    pub before: u64,
    /// Removed by the erase; in a dry run, to be removed.
    pub removed: u64,
    /// Left at the end; in a dry run, 0.
    pub after: u64,
}

/// Before, removed and after, per item.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EraseCounts {
    pub courses: EraseTally,
    pub file_rows: EraseTally,
    pub objects: EraseTally,
    pub bytes: EraseTally,
    pub draft_keys: EraseTally,
    /// The platform's keys, by `DRAFTD_CLEANUP_REDIS_PATTERNS`.
    pub pattern_keys: EraseTally,
    pub tus_uploads: EraseTally,
    pub tus_bytes: EraseTally,
    pub cleanup_jobs_pending: EraseTally,
    pub cleanup_jobs_dead: EraseTally,
    /// Events still to deliver, the erase's own `course.deleted` included:
    /// on their way, they do not make the erase unclean.
    pub events_pending: EraseTally,
    pub events_dead: EraseTally,
}

/// What is left once the erase is done.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EraseIntegrity {
    /// Nothing left: every `after` is 0, but events pending.
    pub clean: bool,
    /// What is left, as `"<item>: <count>"`; empty when clean.
    pub leftovers: Vec<String>,
    /// Sweeps it took.
    pub rounds: u32,
    /// Dead cleanup jobs put back in the queue, once, before the check.
    pub redriven_jobs: u64,
    /// Dead events of the subject's courses put back in the outbox, once.
    pub redriven_events: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EraseReport {
    pub scope: EraseScope,
    pub subject_id: Uuid,
    pub dry_run: bool,
    pub counts: EraseCounts,
    pub integrity: EraseIntegrity,
    /// When the erase began; `null` in a dry run.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: u64,
}

/// Removed so far.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EraseProgress {
    pub phase: ErasePhase,
    /// The sweep under way (courses, drafts, cleanup, check).
    pub round: u32,
    pub courses: u64,
    pub file_rows: u64,
    pub draft_keys: u64,
}

/// An erase: its state, its progress, and once finished its report.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EraseState {
    pub id: Uuid,
    pub scope: EraseScope,
    pub subject_id: Uuid,
    pub status: EraseStatus,
    /// The counts before, once taken.
    pub before: Option<EraseInventory>,
    pub progress: EraseProgress,
    pub report: Option<EraseReport>,
    /// Why the last attempt stopped short; the erase resumes.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}
