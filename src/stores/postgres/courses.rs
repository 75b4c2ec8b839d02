//! Courses in Postgres.
//!
//! `courses.draft_session_id` is unique, and every write that makes a draft
//! real is an insert that yields to an existing row: however many requests race,
//! one draft gets one course row.

use std::collections::HashSet;

use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::error::SqlState;

use super::cleanup::delete_courses;
use super::fence;
use super::outbox::{announce, record};
use super::rows::{course_from, COURSE_COLUMNS};
use super::status::{COURSE_DRAFT, COURSE_SUBMITTED};
use super::Postgres;
use crate::domain::cleanup::{CleanupPolicy, DeletionReason, Erasable};
use crate::domain::course::{slug_candidates, NewCourse, SubmitOutcome};
use crate::domain::event::EventKind;
use crate::domain::fence::Fence;
use crate::domain::ids::CourseId;
use crate::domain::{Backend, Course, CourseStatus, Owner, StoreError};

#[derive(Clone)]
pub struct PgCourses {
    pub(super) db: Postgres,
}

/// Course counts behind the admin stats.
#[derive(Debug, Clone, Copy)]
pub struct Pollution {
    pub total_drafts: i64,
    pub unused_drafts: i64,
    /// Unused drafts with no activity for the TTL: the janitor's work.
    pub pending_cleanup: i64,
    pub submitted_courses: i64,
    /// Courses in the trash, waiting for restore or purge.
    pub trashed_courses: i64,
}

impl PgCourses {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Makes sure the draft's course exists, and is announced. `true` if
    /// this call created it. The fence may refuse it.
    pub async fn materialize(
        &self,
        new: &NewCourse<'_>,
    ) -> Result<Result<(Course, bool), Fence>, StoreError> {
        self.db
            .call(|mut client| async move {
                let tx = client.transaction().await?;
                let passed = match fence::pass(&tx, new.id, new.owner).await? {
                    Ok(passed) => passed,
                    Err(fence) => return Ok(Err(fence)),
                };
                let made = insert_or_get(&tx, &passed, new).await?;
                announce(&tx, made.0.id).await?;
                tx.commit().await?;
                Ok(Ok(made))
            })
            .await
    }

    /// Makes sure the draft's course exists (announced) and marks it
    /// submitted with the final form, atomically. A course submitted before
    /// stays as it was.
    pub async fn submit(&self, new: &NewCourse<'_>) -> Result<SubmitOutcome, StoreError> {
        self.db
            .call(|mut client| async move {
                let mut tx = client.transaction().await?;
                let passed = match fence::pass(&tx, new.id, new.owner).await? {
                    Ok(passed) => passed,
                    Err(fence) => return Ok(SubmitOutcome::Fenced(fence)),
                };
                let (course, created) = insert_or_get(&tx, &passed, new).await?;
                announce(&tx, course.id).await?;
                let form = Value::Object(new.form_data.clone());
                let update = format!(
                    "WITH submitted AS (
                         UPDATE courses SET status = {COURSE_SUBMITTED}, submitted_at = now(),
                             updated_at = now(), title = $2, slug = $3, form_data = $4
                         WHERE id = $1 AND status = {COURSE_DRAFT} AND trashed_at IS NULL
                           AND draft_version IS NOT DISTINCT FROM $5
                         RETURNING *
                     ), event AS ({})
                     SELECT {COURSE_COLUMNS} FROM submitted",
                    record(EventKind::CourseSubmitted, "submitted", None)
                );
                let mut submitted = None;
                // The slug follows the final topic; the id suffix keeps it unique.
                for slug in slug_candidates(new.title, course.id) {
                    let attempt = tx.savepoint("slug").await?;
                    let result = attempt
                        .query_opt(
                            &update,
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
                        if current.is_trashed() {
                            SubmitOutcome::Trashed
                        } else if current.status == CourseStatus::Draft {
                            SubmitOutcome::Changed
                        } else {
                            // Submitted before: the first submit's data stands.
                            SubmitOutcome::Submitted(Box::new(current), created)
                        }
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            })
            .await
    }

    /// What fences the course for `owner`, if anything: a deletion of it,
    /// or an erase of its subject (see [`fence::pass`]).
    pub async fn fence(&self, id: CourseId, owner: Owner) -> Result<Option<Fence>, StoreError> {
        self.db
            .call(|client| async move { fence::read(&client, id, owner).await })
            .await
    }

    /// The owner's course.
    pub async fn find(&self, owner: Owner, id: CourseId) -> Result<Option<Course>, StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_opt(
                        &format!(
                            "SELECT {COURSE_COLUMNS} FROM courses \
                             WHERE id = $1 AND owner_id = $2 AND organization_id = $3"
                        ),
                        &[&id, &owner.user_id, &owner.organization_id],
                    )
                    .await?;
                row.as_ref().map(course_from).transpose()
            })
            .await
    }

    /// Deletes the owner's course, if `condition` allows, and queues its
    /// cleanup, atomically.
    pub async fn delete(
        &self,
        owner: Owner,
        id: CourseId,
        condition: Erasable,
        reason: DeletionReason,
        policy: CleanupPolicy,
    ) -> Result<bool, StoreError> {
        self.db
            .call(|mut client| async move {
                let tx = client.transaction().await?;
                let deleted =
                    delete_courses(&tx, &[id], Some(owner), condition, reason, policy).await?;
                tx.commit().await?;
                Ok(!deleted.course_ids.is_empty())
            })
            .await
    }

    /// Of these course ids, the ones that exist.
    pub async fn existing(&self, ids: &[CourseId]) -> Result<HashSet<CourseId>, StoreError> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        self.db
            .call(|client| async move {
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
        self.db
            .call(|client| async move {
                let row = client
                    .query_one(
                        &format!(
                            "SELECT count(*) FILTER (WHERE status = {COURSE_DRAFT}) AS total,
                                 count(*) FILTER (WHERE status = {COURSE_DRAFT}
                                     AND generation_status IS NULL) AS unused,
                                 count(*) FILTER (WHERE status = {COURSE_DRAFT}
                                     AND generation_status IS NULL
                                     AND updated_at < now() - make_interval(secs => $1)) AS pending,
                                 count(*) FILTER (WHERE status = {COURSE_SUBMITTED}) AS submitted,
                                 count(*) FILTER (WHERE trashed_at IS NOT NULL) AS trashed
                             FROM courses"
                        ),
                        &[&ttl.as_secs_f64()],
                    )
                    .await?;
                Ok(Pollution {
                    total_drafts: row.try_get("total")?,
                    unused_drafts: row.try_get("unused")?,
                    pending_cleanup: row.try_get("pending")?,
                    submitted_courses: row.try_get("submitted")?,
                    trashed_courses: row.try_get("trashed")?,
                })
            })
            .await
    }
}

/// Inserts the draft's course unless it has one, and returns the course,
/// locked for the rest of the transaction (so that a trash or a delete waits
/// for what the caller records in it). Only behind the course's fence.
/// The insert yields on any unique constraint; a separate statement then reads
/// the draft's course, and under READ COMMITTED it sees a row that a racing
/// transaction committed while the insert waited. If the draft has no course,
/// the slug was taken: the next candidate is tried.
pub(super) async fn insert_or_get(
    client: &impl GenericClient,
    _fence: &fence::Passed,
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
                    &new.owner.user_id,
                    &new.owner.organization_id,
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
                &format!(
                    "SELECT {COURSE_COLUMNS} FROM courses \
                     WHERE draft_session_id = $1 AND owner_id = $2 AND organization_id = $3 \
                     FOR NO KEY UPDATE"
                ),
                &[
                    &new.draft_session_id,
                    &new.owner.user_id,
                    &new.owner.organization_id,
                ],
            )
            .await?;
        if let Some(row) = existing {
            return Ok((course_from(&row)?, false));
        }
    }
    // Not an outage: retrying would meet the same slugs.
    Err(StoreError::rejected(
        Backend::Postgres,
        format!(
            "no free slug for the course of draft {}",
            new.draft_session_id
        ),
    ))
}

fn is_slug_conflict(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::UNIQUE_VIOLATION && db.constraint() == Some("courses_slug_key")
    })
}
