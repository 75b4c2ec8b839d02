//! Reading rows into the domain's types: the column lists and their parsers,
//! one of each per table.

use serde_json::Value;
use tokio_postgres::Row;

use crate::domain::cleanup::CleanupJob;
use crate::domain::{Backend, Course, CourseFile, StoreError};

pub(super) const COURSE_COLUMNS: &str = "id, draft_session_id, organization_id, slug, title, \
    status, generation_status, materialized_by, materialized_at, submitted_at, created_at, \
    updated_at, trashed_at, purge_at, form_data";

pub(super) const FILE_COLUMNS: &str =
    "id, course_id, storage_key, original_name, content_type, size_bytes, sha256, created_at";

pub(super) const JOB_COLUMNS: &str = "id, kind, target, course_id, reason, status, attempts, \
    max_attempts, run_after, last_error, created_at";

/// A text column holding one of an enum's values.
pub(super) fn parsed<T: std::str::FromStr<Err = crate::domain::UnknownValue>>(
    row: &Row,
    column: &str,
) -> Result<T, StoreError> {
    row.try_get::<_, &str>(column)?
        .parse()
        .map_err(|e: crate::domain::UnknownValue| {
            StoreError::corrupt(Backend::Postgres, e.to_string())
        })
}

pub(super) fn course_from(row: &Row) -> Result<Course, StoreError> {
    let form_data = match row.try_get::<_, Value>("form_data")? {
        Value::Object(map) => map,
        other => {
            return Err(StoreError::corrupt(
                Backend::Postgres,
                format!("form_data is not an object: {other}"),
            ))
        }
    };
    let materialized_by: Option<&str> = row.try_get("materialized_by")?;
    Ok(Course {
        id: row.try_get("id")?,
        draft_session_id: row.try_get("draft_session_id")?,
        organization_id: row.try_get("organization_id")?,
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        status: parsed(row, "status")?,
        generation_status: row.try_get("generation_status")?,
        materialized_by: materialized_by.and_then(|by| by.parse().ok()),
        materialized_at: row.try_get("materialized_at")?,
        submitted_at: row.try_get("submitted_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        trashed_at: row.try_get("trashed_at")?,
        purge_at: row.try_get("purge_at")?,
        form_data,
    })
}

pub(super) fn file_from(row: &Row) -> Result<CourseFile, StoreError> {
    Ok(CourseFile {
        id: row.try_get("id")?,
        course_id: row.try_get("course_id")?,
        storage_key: row.try_get("storage_key")?,
        original_name: row.try_get("original_name")?,
        content_type: row.try_get("content_type")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn job_from(row: &Row) -> Result<CleanupJob, StoreError> {
    Ok(CleanupJob {
        id: row.try_get("id")?,
        kind: parsed(row, "kind")?,
        target: row.try_get("target")?,
        course_id: row.try_get("course_id")?,
        reason: parsed(row, "reason")?,
        status: parsed(row, "status")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        run_after: row.try_get("run_after")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
    })
}
