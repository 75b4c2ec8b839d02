//! Courses and their files in Postgres.
//!
//! `courses.draft_session_id` is unique, and every write that makes a draft
//! real is an insert that yields to an existing row: however many requests race,
//! one draft gets one course row.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::{Map, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;
use uuid::Uuid;

use super::cleanup::{self, DeletionReason};
use super::postgres::Postgres;
use super::{bounded, StoreError};
use crate::domain::course::{slug_candidates, Course, CourseFile, MaterializedBy};

pub(super) const COURSE_COLUMNS: &str = "id, draft_session_id, organization_id, slug, title, status, \
    generation_status, materialized_by, materialized_at, submitted_at, created_at, updated_at, form_data";

const FILE_COLUMNS: &str =
    "id, course_id, storage_key, original_name, content_type, size_bytes, sha256, created_at";

/// A course to create for a draft, unless the draft already has one.
pub struct NewCourse<'a> {
    pub id: Uuid,
    pub draft_session_id: Uuid,
    pub owner_id: Uuid,
    pub organization_id: Uuid,
    pub title: &'a str,
    pub form_data: &'a Map<String, Value>,
    pub materialized_by: MaterializedBy,
    /// The version of a draft kept in the course row itself (degraded mode):
    /// stored when the row is created, and the version a submit requires.
    /// `None` for a draft kept in Redis.
    pub draft_version: Option<i64>,
}

/// What a submit did.
pub enum SubmitOutcome {
    /// The course is submitted (by this call, or by an earlier one whose data
    /// stands); `true` if this call created the row.
    Submitted(Box<Course>, bool),
    /// The draft kept in the row changed since it was validated.
    Changed,
}

/// A stored file to record.
pub struct NewFile<'a> {
    pub id: Uuid,
    pub storage_key: &'a str,
    pub original_name: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
}

#[derive(Clone)]
pub struct PgCourses {
    db: Postgres,
}

impl PgCourses {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Makes sure the draft's course exists. `true` if this call created it.
    pub async fn materialize(&self, new: &NewCourse<'_>) -> Result<(Course, bool), StoreError> {
        bounded("postgres", self.db.timeout(), async {
            let client = self.db.pool().get().await?;
            insert_or_get(&client, new).await
        })
        .await
    }

    /// Makes sure the draft's course exists and records a file in it, atomically.
    pub async fn materialize_with_file(
        &self,
        new: &NewCourse<'_>,
        file: &NewFile<'_>,
    ) -> Result<(Course, CourseFile, bool), StoreError> {
        bounded("postgres", self.db.timeout(), async {
            let mut client = self.db.pool().get().await?;
            let tx = client.transaction().await?;
            let (course, created) = insert_or_get(&tx, new).await?;
            let row = tx
                .query_one(
                    &format!(
                        "INSERT INTO course_files (id, course_id, storage_key, original_name, \
                         content_type, size_bytes, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         RETURNING {FILE_COLUMNS}"
                    ),
                    &[
                        &file.id,
                        &course.id,
                        &file.storage_key,
                        &file.original_name,
                        &file.content_type,
                        &file.size_bytes,
                        &file.sha256,
                    ],
                )
                .await?;
            tx.execute(
                "UPDATE courses SET updated_at = now() WHERE id = $1",
                &[&course.id],
            )
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>((course, file_from(&row)?, created))
        })
        .await
    }

    /// Makes sure the draft's course exists and marks it submitted with the
    /// final form, atomically. A course submitted before stays as it was.
    pub async fn submit(&self, new: &NewCourse<'_>) -> Result<SubmitOutcome, StoreError> {
        bounded("postgres", self.db.timeout(), async {
            let mut client = self.db.pool().get().await?;
            let mut tx = client.transaction().await?;
            let (course, created) = insert_or_get(&tx, new).await?;
            let form = Value::Object(new.form_data.clone());
            let mut submitted = None;
            // The slug follows the final topic; the id suffix keeps it unique.
            for slug in slug_candidates(new.title, course.id) {
                let attempt = tx.savepoint("slug").await?;
                let result = attempt
                    .query_opt(
                        &format!(
                            "UPDATE courses SET status = 'submitted', submitted_at = now(), \
                             updated_at = now(), title = $2, slug = $3, form_data = $4 \
                             WHERE id = $1 AND status = 'draft' \
                             AND draft_version IS NOT DISTINCT FROM $5 RETURNING {COURSE_COLUMNS}"
                        ),
                        &[&course.id, &new.title, &slug, &form, &new.draft_version],
                    )
                    .await;
                match result {
                    // Dropping the savepoint rolls it back.
                    Err(e) if is_slug_conflict(&e) => continue,
                    other => {
                        submitted = Some(other?);
                        attempt.commit().await?;
                        break;
                    }
                }
            }
            let outcome = match submitted.flatten() {
                Some(row) => SubmitOutcome::Submitted(Box::new(course_from(&row)?), created),
                None => {
                    let current = tx
                        .query_one(
                            &format!("SELECT {COURSE_COLUMNS} FROM courses WHERE id = $1"),
                            &[&course.id],
                        )
                        .await?;
                    let current = course_from(&current)?;
                    if current.status == "draft" {
                        SubmitOutcome::Changed
                    } else {
                        // Submitted before: the first submit's data stands.
                        SubmitOutcome::Submitted(Box::new(current), created)
                    }
                }
            };
            tx.commit().await?;
            Ok::<_, StoreError>(outcome)
        })
        .await
    }

    /// The owner's course.
    pub async fn find(&self, owner_id: Uuid, id: Uuid) -> Result<Option<Course>, StoreError> {
        bounded("postgres", self.db.timeout(), async {
            let client = self.db.pool().get().await?;
            let row = client
                .query_opt(
                    &format!(
                        "SELECT {COURSE_COLUMNS} FROM courses WHERE id = $1 AND owner_id = $2"
                    ),
                    &[&id, &owner_id],
                )
                .await?;
            row.as_ref().map(course_from).transpose()
        })
        .await
    }

    /// The files of the owner's course, oldest first.
    pub async fn files(
        &self,
        owner_id: Uuid,
        course_id: Uuid,
    ) -> Result<Vec<CourseFile>, StoreError> {
        bounded("postgres", self.db.timeout(), async {
            let client = self.db.pool().get().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {FILE_COLUMNS} FROM course_files f WHERE course_id = $1 \
                         AND EXISTS (SELECT 1 FROM courses c WHERE c.id = $1 AND c.owner_id = $2) \
                         ORDER BY created_at, id"
                    ),
                    &[&course_id, &owner_id],
                )
                .await?;
            rows.iter().map(file_from).collect()
        })
        .await
    }

    /// One file of the owner's course.
    pub async fn file(
        &self,
        owner_id: Uuid,
        course_id: Uuid,
        file_id: Uuid,
    ) -> Result<Option<CourseFile>, StoreError> {
        bounded("postgres", self.db.timeout(), async {
            let client = self.db.pool().get().await?;
            let row = client
                .query_opt(
                    &format!(
                        "SELECT {FILE_COLUMNS} FROM course_files f WHERE id = $1 AND course_id = $2 \
                         AND EXISTS (SELECT 1 FROM courses c WHERE c.id = $2 AND c.owner_id = $3)"
                    ),
                    &[&file_id, &course_id, &owner_id],
                )
                .await?;
            row.as_ref().map(file_from).transpose()
        })
        .await
    }

    /// Deletes one file's row and queues its bytes for removal, atomically.
    pub async fn delete_file(
        &self,
        owner_id: Uuid,
        course_id: Uuid,
        file_id: Uuid,
        max_attempts: i32,
    ) -> Result<bool, StoreError> {
        bounded("postgres", self.db.timeout(), async {
            let client = self.db.pool().get().await?;
            cleanup::delete_file(&client, owner_id, course_id, file_id, max_attempts).await
        })
        .await
    }

    /// Deletes the owner's course and queues its cleanup, atomically.
    pub async fn delete(
        &self,
        owner_id: Uuid,
        id: Uuid,
        reason: DeletionReason,
        max_attempts: i32,
    ) -> Result<bool, StoreError> {
        bounded("postgres", self.db.timeout(), async {
            let mut client = self.db.pool().get().await?;
            let tx = client.transaction().await?;
            let deleted =
                cleanup::delete_courses(&tx, &[id], Some(owner_id), reason, max_attempts).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(!deleted.course_ids.is_empty())
        })
        .await
    }

    /// Of these course ids, the ones that exist.
    pub async fn existing(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashSet<Uuid>, StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        bounded("postgres", self.db.timeout(), async {
            let client = self.db.pool().get().await?;
            let rows = client
                .query("SELECT id FROM courses WHERE id = ANY($1)", &[&ids])
                .await?;
            rows.iter()
                .map(|row| row.try_get(0).map_err(StoreError::from))
                .collect()
        })
        .await
    }

    /// The draft-pollution figures of the team's dashboard.
    pub async fn pollution(&self, ttl: std::time::Duration) -> Result<Pollution, StoreError> {
        bounded("postgres", self.db.timeout(), async {
            let client = self.db.pool().get().await?;
            let row = client
                .query_one(
                    "SELECT count(*) FILTER (WHERE status = 'draft') AS total,
                         count(*) FILTER (WHERE status = 'draft' AND generation_status IS NULL) AS unused,
                         count(*) FILTER (WHERE status = 'draft' AND generation_status IS NULL
                             AND updated_at < now() - make_interval(secs => $1)) AS pending,
                         count(*) FILTER (WHERE status = 'submitted') AS submitted
                     FROM courses",
                    &[&ttl.as_secs_f64()],
                )
                .await?;
            Ok::<_, StoreError>(Pollution {
                total_drafts: row.try_get("total")?,
                unused_drafts: row.try_get("unused")?,
                pending_cleanup: row.try_get("pending")?,
                submitted_courses: row.try_get("submitted")?,
            })
        })
        .await
    }
}

/// Course counts behind the admin stats.
#[derive(Debug, Clone, Copy)]
pub struct Pollution {
    pub total_drafts: i64,
    pub unused_drafts: i64,
    /// Unused drafts with no activity for the TTL: the janitor's work.
    pub pending_cleanup: i64,
    pub submitted_courses: i64,
}

/// A course the janitor may delete.
#[derive(Debug, Clone)]
pub struct JanitorCandidate {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub draft_session_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// The janitor's candidate query: $1 cutoff, $2 and $3 the keyset (updated_at,
/// id) to start after, $4 the batch size. Its condition implies the partial
/// index's, so the index serves it (a test checks the plan).
pub const JANITOR_CANDIDATES: &str =
    "SELECT id, owner_id, draft_session_id, updated_at FROM courses
    WHERE status = 'draft' AND generation_status IS NULL AND updated_at < $1
      AND (updated_at, id) > ($2, $3)
    ORDER BY updated_at, id LIMIT $4";

/// Unused drafts with no activity since `cutoff`, after the keyset `after`,
/// oldest first, through the partial index. With `lock`, the rows are locked
/// (`FOR UPDATE SKIP LOCKED`): rows another transaction holds are skipped, and
/// a row changed meanwhile by an upload or submit is re-checked against the
/// condition and dropped.
pub async fn janitor_candidates(
    client: &impl GenericClient,
    cutoff: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
    lock: bool,
) -> Result<Vec<JanitorCandidate>, StoreError> {
    let (after_time, after_id) = after.unwrap_or((DateTime::UNIX_EPOCH, Uuid::nil()));
    let sql = format!(
        "{JANITOR_CANDIDATES} {}",
        if lock { "FOR UPDATE SKIP LOCKED" } else { "" }
    );
    let rows = client
        .query(&sql, &[&cutoff, &after_time, &after_id, &limit])
        .await?;
    rows.iter()
        .map(|row| {
            Ok(JanitorCandidate {
                id: row.try_get("id")?,
                owner_id: row.try_get("owner_id")?,
                draft_session_id: row.try_get("draft_session_id")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
        .collect()
}

/// Inserts the draft's course unless it has one, and returns the course.
/// The insert yields on any unique constraint; a separate statement then reads
/// the draft's course, and under READ COMMITTED it sees a row that a racing
/// transaction committed while the insert waited. If the draft has no course,
/// the slug was taken: the next candidate is tried.
pub(super) async fn insert_or_get(
    client: &impl GenericClient,
    new: &NewCourse<'_>,
) -> Result<(Course, bool), StoreError> {
    let form = Value::Object(new.form_data.clone());
    for slug in slug_candidates(new.title, new.id) {
        let inserted = client
            .query_opt(
                &format!(
                    "INSERT INTO courses (id, draft_session_id, owner_id, organization_id, slug, \
                     title, form_data, materialized_by, materialized_at, draft_version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), $9) \
                     ON CONFLICT DO NOTHING RETURNING {COURSE_COLUMNS}"
                ),
                &[
                    &new.id,
                    &new.draft_session_id,
                    &new.owner_id,
                    &new.organization_id,
                    &slug,
                    &new.title,
                    &form,
                    &new.materialized_by.as_str(),
                    &new.draft_version,
                ],
            )
            .await?;
        if let Some(row) = inserted {
            return Ok((course_from(&row)?, true));
        }
        let existing = client
            .query_opt(
                &format!("SELECT {COURSE_COLUMNS} FROM courses WHERE draft_session_id = $1 AND owner_id = $2"),
                &[&new.draft_session_id, &new.owner_id],
            )
            .await?;
        if let Some(row) = existing {
            return Ok((course_from(&row)?, false));
        }
    }
    Err(StoreError::Postgres(format!(
        "no free slug for the course of draft {}",
        new.draft_session_id
    )))
}

fn is_slug_conflict(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::UNIQUE_VIOLATION && db.constraint() == Some("courses_slug_key")
    })
}

pub(super) fn course_from(row: &Row) -> Result<Course, StoreError> {
    let form_data = match row.try_get::<_, Value>("form_data")? {
        Value::Object(map) => map,
        other => {
            return Err(StoreError::Corrupt {
                store: "postgres",
                detail: format!("form_data is not an object: {other}"),
            })
        }
    };
    let materialized_by: Option<String> = row.try_get("materialized_by")?;
    Ok(Course {
        id: row.try_get("id")?,
        draft_session_id: row.try_get("draft_session_id")?,
        organization_id: row.try_get("organization_id")?,
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        status: row.try_get("status")?,
        generation_status: row.try_get("generation_status")?,
        materialized_by: materialized_by.as_deref().and_then(MaterializedBy::parse),
        materialized_at: row.try_get("materialized_at")?,
        submitted_at: row.try_get("submitted_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        form_data,
    })
}

fn file_from(row: &Row) -> Result<CourseFile, StoreError> {
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
