//! The trash in Postgres: moving an owner's course there and back, the
//! owner's lists, and the purge's queries.
//!
//! A restore and the purge decide on the row under its lock: the restore
//! takes a course whose `purge_at` is still ahead, the purge one whose
//! `purge_at` has passed, and whichever commits second sees the first's
//! change. So exactly one of them wins.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

use super::cleanup::delete_courses;
use super::outbox::record;
use super::rows::{course_from, from_row, parsed, COURSE_COLUMNS};
use super::status::COURSE_DRAFT;
use super::{PgCourses, Postgres};
use crate::domain::cleanup::{CleanupPolicy, Deleted, DeletionReason, Erasable};
use crate::domain::course::TrashOutcome;
use crate::domain::event::EventKind;
use crate::domain::ids::CourseId;
use crate::domain::page::{Cursor, Page, PageRequest};
use crate::domain::{Course, CourseList, CourseSummary, Owner, StoreError};

const SUMMARY_COLUMNS: &str = "id, draft_session_id, status, title, slug, created_at, \
    updated_at, submitted_at, trashed_at, purge_at, \
    (SELECT count(*) FROM course_files f WHERE f.course_id = c.id) AS file_count";

impl PgCourses {
    /// Moves the owner's course to the trash until `retention` has passed.
    /// A course in the trash already stays as it is.
    pub async fn trash(
        &self,
        owner: Owner,
        id: CourseId,
        retention: Duration,
    ) -> Result<TrashOutcome, StoreError> {
        let moved = self
            .update_one(
                owner,
                id,
                EventKind::CourseTrashed,
                "trashed_at = now(), purge_at = now() + make_interval(secs => $4)",
                "trashed_at IS NULL",
                &[&retention.as_secs_f64()],
            )
            .await?;
        match moved {
            Some(course) => Ok(TrashOutcome::Done(Box::new(course))),
            None => Ok(self
                .find(owner, id)
                .await?
                .map_or(TrashOutcome::Missing, |course| {
                    TrashOutcome::Done(Box::new(course))
                })),
        }
    }

    /// Brings the owner's course back from the trash, unless its retention
    /// has ended. A course not in the trash stays as it is.
    pub async fn restore(&self, owner: Owner, id: CourseId) -> Result<TrashOutcome, StoreError> {
        let restored = self
            .update_one(
                owner,
                id,
                EventKind::CourseRestored,
                "trashed_at = NULL, purge_at = NULL",
                "trashed_at IS NOT NULL AND purge_at > now()",
                &[],
            )
            .await?;
        match restored {
            Some(course) => Ok(TrashOutcome::Done(Box::new(course))),
            None => Ok(match self.find(owner, id).await? {
                Some(course) if !course.is_trashed() => TrashOutcome::Done(Box::new(course)),
                // Gone, or in the trash past its retention: the purge's now.
                _ => TrashOutcome::Missing,
            }),
        }
    }

    /// Updates the owner's course if `condition` holds, recording `event`;
    /// `extra` are the parameters from $4 on.
    async fn update_one(
        &self,
        owner: Owner,
        id: CourseId,
        event: EventKind,
        set: &str,
        condition: &str,
        extra: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Course>, StoreError> {
        let mut params: Vec<&(dyn ToSql + Sync)> =
            vec![&id, &owner.user_id, &owner.organization_id];
        params.extend_from_slice(extra);
        self.db
            .call(|client| async move {
                let row = client
                    .query_opt(
                        &format!(
                            "WITH changed AS (
                                 UPDATE courses SET {set} WHERE id = $1 AND owner_id = $2
                                   AND organization_id = $3 AND {condition} RETURNING *
                             ), event AS ({})
                             SELECT {COURSE_COLUMNS} FROM changed",
                            record(event, "changed", None)
                        ),
                        &params,
                    )
                    .await?;
                row.as_ref().map(course_from).transpose()
            })
            .await
    }

    /// A page of the owner's courses (by creation) or trash (by deletion),
    /// newest first. A draft kept in its row (degraded mode) is a draft, not
    /// yet a course, until it is submitted.
    pub async fn list(
        &self,
        owner: Owner,
        list: CourseList,
        page: PageRequest,
    ) -> Result<Page<CourseSummary>, StoreError> {
        let (order, filter) = match list {
            CourseList::Live => (
                "created_at",
                format!(
                    "trashed_at IS NULL AND (draft_version IS NULL OR status <> {COURSE_DRAFT})"
                ),
            ),
            CourseList::Trash => ("trashed_at", "trashed_at IS NOT NULL".to_owned()),
        };
        let keyset = if page.after.is_some() {
            format!("AND ({order}, id) < ($3, $4)")
        } else {
            "AND $3::timestamptz IS NULL AND $4::uuid IS NULL".into()
        };
        // One more than the page: whether a next page exists.
        let limit = i64::try_from(page.limit)
            .unwrap_or(i64::MAX)
            .saturating_add(1);
        let (after_at, after_id) = (page.after.map(|c| c.at), page.after.map(|c| c.id));
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT {SUMMARY_COLUMNS} FROM courses c \
                             WHERE owner_id = $1 AND organization_id = $2 AND {filter} {keyset} \
                             ORDER BY {order} DESC, id DESC LIMIT $5"
                        ),
                        &[
                            &owner.user_id,
                            &owner.organization_id,
                            &after_at,
                            &after_id,
                            &limit,
                        ],
                    )
                    .await?;
                let mut items = rows
                    .iter()
                    .map(summary_from)
                    .collect::<Result<Vec<_>, _>>()?;
                let next = if items.len() > page.limit {
                    items.truncate(page.limit);
                    items.last().map(|last| Cursor {
                        at: match list {
                            CourseList::Live => last.created_at,
                            CourseList::Trash => last.trashed_at.unwrap_or(last.created_at),
                        },
                        id: last.id.as_uuid(),
                    })
                } else {
                    None
                };
                Ok(Page { items, next })
            })
            .await
    }
}

fn summary_from(row: &Row) -> Result<CourseSummary, StoreError> {
    Ok(from_row!(row, CourseSummary {
        id, draft_session_id, title, slug, created_at, updated_at, submitted_at, file_count,
        trashed_at, purge_at,
    }; status: parsed(row, "status")?))
}

/// The purge's candidate query, through `courses_purge_idx`: courses whose
/// retention ended, after the keyset ($1, $2) = (purge_at, id), due first,
/// $3 of them. Shared with the benchmark that explains its plan.
pub const PURGE_CANDIDATES: &str = "SELECT id, purge_at FROM courses WHERE purge_at <= now()
    AND (purge_at, id) > ($1, $2) ORDER BY purge_at, id LIMIT $3";

/// A course the purge found due.
#[derive(Debug, Clone, Copy)]
pub struct PurgeCandidate {
    pub id: CourseId,
    pub purge_at: DateTime<Utc>,
}

impl Postgres {
    /// Courses whose retention ended, after the keyset `after`, due first.
    pub async fn purge_candidates(
        &self,
        after: Option<(DateTime<Utc>, CourseId)>,
        limit: i64,
    ) -> Result<Vec<PurgeCandidate>, StoreError> {
        let (after_at, after_id) =
            after.unwrap_or((DateTime::UNIX_EPOCH, CourseId::from(Uuid::nil())));
        self.call(|client| async move {
            let rows = client
                .query(PURGE_CANDIDATES, &[&after_at, &after_id, &limit])
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(PurgeCandidate {
                        id: row.try_get("id")?,
                        purge_at: row.try_get("purge_at")?,
                    })
                })
                .collect()
        })
        .await
    }

    /// The files, and their bytes, of these courses: a dry run's figures.
    pub async fn count_files(&self, ids: &[CourseId]) -> Result<(i64, i64), StoreError> {
        self.call(|client| async move {
            let row = client
                .query_one(
                    "SELECT count(*), coalesce(sum(size_bytes), 0)::bigint FROM course_files
                     WHERE course_id = ANY($1)",
                    &[&ids],
                )
                .await?;
            Ok((row.try_get(0)?, row.try_get(1)?))
        })
        .await
    }

    /// Erases one course whose retention ended, in a transaction of its own,
    /// unless a restore came first.
    pub async fn purge_one(
        &self,
        id: CourseId,
        policy: CleanupPolicy,
    ) -> Result<Deleted, StoreError> {
        self.call(|mut client| async move {
            let tx = client.transaction().await?;
            let deleted = delete_courses(
                &tx,
                &[id],
                None,
                Erasable::Expired,
                DeletionReason::Purge,
                policy,
            )
            .await?;
            tx.commit().await?;
            Ok(deleted)
        })
        .await
    }
}
