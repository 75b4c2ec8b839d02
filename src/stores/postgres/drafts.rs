//! Degraded mode: drafts kept in Postgres, opened while Redis was unreachable.
//!
//! Such a draft lives in a course row of its own (`draft_version` set): the
//! row's form data is the draft's, and its `updated_at` is the draft's TTL
//! clock, the same clock the janitor reads, so an abandoned one is deleted like
//! any unused draft course. It stays in Postgres for its whole life, even once
//! Redis is back: one store per draft, so a draft id is never in both. A write
//! that keeps the draft as it was moves `updated_at` but keeps the draft's
//! updatedAt in `draft_updated_at` (NULL: the same as `updated_at`).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::courses::insert_or_get;
use super::fence;
use super::lock::OWNER_LOCK_CLASS;
use super::rows::{course_from, COURSE_COLUMNS};
use super::status::COURSE_DRAFT;
use super::Postgres;
use crate::domain::course::{course_id_for, title_from, NewCourse};
use crate::domain::draft::{Autosave, CreateOutcome, NewDraft, PatchOutcome, Saved, StoreResult};
use crate::domain::ids::DraftId;
use crate::domain::{
    Course, CourseStatus, Draft, DraftBackend, DraftLimits, DraftStatus, DraftStore,
    MaterializedBy, Owner, StoreError,
};

/// The columns a draft is read from.
const DRAFT_COLUMNS: &str = "draft_version, draft_updated_at";

/// Moves the TTL clock of a draft that stays as it was: its updatedAt is kept.
const KEEP_ALIVE: &str =
    "draft_updated_at = COALESCE(draft_updated_at, updated_at), updated_at = now()";

/// Rows holding a live draft of user $1 in organization $2 (TTL $3, in seconds).
const LIVE: &str = "owner_id = $1 AND organization_id = $2 AND draft_version IS NOT NULL \
    AND updated_at > now() - make_interval(secs => $3)";

#[derive(Clone)]
pub struct PgDrafts {
    db: Postgres,
    ttl: Duration,
    /// The TTL as the queries take it, in seconds.
    ttl_secs: f64,
    max_per_user: u32,
}

impl PgDrafts {
    /// Drafts in `db`, held to `limits`' TTL and cap (its autosave rate is
    /// Redis's alone: a draft here is written only while Redis is down or
    /// once it was).
    pub fn new(db: Postgres, limits: DraftLimits) -> Self {
        Self {
            db,
            ttl: limits.ttl,
            ttl_secs: limits.ttl.as_secs_f64(),
            max_per_user: limits.max_per_user,
        }
    }

    /// The parameters of [`LIVE`] for `owner`, then the draft id as $4.
    fn live<'a>(&'a self, owner: &'a Owner, id: &'a DraftId) -> [&'a (dyn ToSql + Sync); 4] {
        [&owner.user_id, &owner.organization_id, &self.ttl_secs, id]
    }

    /// The drafts of the rows `condition` (what follows `WHERE`) selects.
    async fn select(
        &self,
        condition: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Draft>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT {COURSE_COLUMNS}, {DRAFT_COLUMNS} FROM courses \
                             WHERE {condition}"
                        ),
                        params,
                    )
                    .await?;
                rows.iter().map(|row| self.draft_from(row)).collect()
            })
            .await
    }

    fn draft_from(&self, row: &Row) -> Result<Draft, StoreError> {
        let version: i64 = row.try_get("draft_version")?;
        let kept: Option<DateTime<Utc>> = row.try_get("draft_updated_at")?;
        let mut draft = self.draft_of(course_from(row)?, version);
        // A submit changes the draft (its status): then `updated_at` is its time.
        if let (Some(kept), DraftStatus::Materialized) = (kept, draft.status) {
            draft.updated_at = kept;
        }
        Ok(draft)
    }

    /// The draft a course row holds, at `version`.
    fn draft_of(&self, course: Course, version: i64) -> Draft {
        Draft {
            id: course
                .draft_session_id
                .unwrap_or_else(|| course.id.as_uuid().into()),
            organization_id: course.organization_id,
            version: version.unsigned_abs(),
            // The row is the draft's course: it is materialized from the start.
            status: match course.status {
                CourseStatus::Submitted => DraftStatus::Submitted,
                CourseStatus::Draft => DraftStatus::Materialized,
            },
            created_at: course.created_at,
            updated_at: course.updated_at,
            expires_at: TimeDelta::from_std(self.ttl)
                .ok()
                .and_then(|ttl| course.updated_at.checked_add_signed(ttl))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            course_id: Some(course.id),
            course_trashed: course.is_trashed(),
            course_slug: Some(course.slug),
            form_data: course.form_data,
            store: DraftStore::Postgres,
        }
    }
}

impl DraftBackend for PgDrafts {
    fn holds(&self, draft: &Draft) -> bool {
        draft.store == DraftStore::Postgres
    }

    /// Opens a draft in its course row, unless the owner already has the
    /// maximum of live drafts here. An idempotency key is not kept here (a
    /// create sent again during an outage opens a second draft).
    async fn create(&self, owner: Owner, new: NewDraft<'_>) -> StoreResult<CreateOutcome> {
        let id = DraftId::new();
        let form_data = new.form.assignments_object();
        let new = &NewCourse {
            id: course_id_for(id),
            draft_session_id: id,
            owner,
            title: title_from(&form_data),
            form_data: &form_data,
            materialized_by: MaterializedBy::Degraded,
            draft_version: Some(1),
        };
        let max = self.max_per_user;
        self.db
            .call(|mut client| async move {
                let tx = client.transaction().await?;
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext($2::uuid::text))",
                    &[&OWNER_LOCK_CLASS, &owner.user_id],
                )
                .await?;
                let live: i64 = tx
                    .query_one(
                        // The cap is the user's, in every organization, as in Redis.
                        &format!(
                            "SELECT count(*) FROM courses WHERE status = {COURSE_DRAFT} \
                             AND owner_id = $1 AND draft_version IS NOT NULL \
                             AND updated_at > now() - make_interval(secs => $2)"
                        ),
                        &[&owner.user_id, &self.ttl_secs],
                    )
                    .await?
                    .try_get(0)?;
                if live >= i64::from(max) {
                    return Ok(CreateOutcome::TooManyDrafts);
                }
                let passed = match fence::pass(&tx, new.id, owner).await? {
                    Ok(passed) => passed,
                    Err(fence) => return Ok(CreateOutcome::Fenced(fence)),
                };
                let (course, _) = insert_or_get(&tx, &passed, new).await?;
                tx.commit().await?;
                Ok(CreateOutcome::Created(self.draft_of(course, 1)))
            })
            .await
    }

    /// The owner's live draft kept here.
    async fn get(&self, owner: Owner, id: DraftId) -> StoreResult<Option<Draft>> {
        let condition = format!("draft_session_id = $4 AND {LIVE}");
        let mut drafts = self.select(&condition, &self.live(&owner, &id)).await?;
        Ok(drafts.pop())
    }

    /// The owner's live, unsubmitted drafts kept here, most recently written first.
    async fn list(&self, owner: Owner) -> StoreResult<Vec<Draft>> {
        let condition = format!("status = {COURSE_DRAFT} AND {LIVE} ORDER BY updated_at DESC");
        let params: [&(dyn ToSql + Sync); 3] =
            [&owner.user_id, &owner.organization_id, &self.ttl_secs];
        self.select(&condition, &params).await
    }

    /// An autosave: merges the patch into the row's form, under the row's
    /// lock, so that it is atomic with a racing autosave or submit. It
    /// answers the draft, whatever the answer asked for.
    async fn patch(&self, owner: Owner, save: Autosave<'_>) -> StoreResult<PatchOutcome> {
        let Autosave {
            id,
            patch,
            precondition,
            ..
        } = save;
        self.db
            .call(|mut client| async move {
                let tx = client.transaction().await?;
                let current = tx
                    .query_opt(
                        &format!(
                            "SELECT status, draft_version, trashed_at IS NOT NULL AS trashed FROM courses \
                         WHERE draft_session_id = $4 AND {LIVE} FOR UPDATE"
                        ),
                        &self.live(&owner, &id),
                    )
                    .await?;
                let Some(current) = current else {
                    return Ok(PatchOutcome::Missing);
                };
                if current.try_get::<_, &str>("status")? != CourseStatus::Draft.as_str() {
                    return Ok(PatchOutcome::Submitted);
                }
                if current.try_get("trashed")? {
                    return Ok(PatchOutcome::Trashed);
                }
                let version: i64 = current.try_get("draft_version")?;
                let version = version.unsigned_abs();
                if !precondition.allows(version) {
                    return Ok(PatchOutcome::Stale { current: version });
                }
                let set = Value::Object(patch.assignments_object());
                let removals: Vec<&str> = patch.removals().to_vec();
                // jsonb equality is that of canonical JSON: a patch that leaves
                // the form as it was keeps the version and the draft's updatedAt.
                let row = tx
                    .query_one(
                        &format!(
                            "WITH merged AS (SELECT (form_data - $2::text[]) || $3::jsonb AS form, \
                                    (form_data - $2::text[]) || $3::jsonb = form_data AS same \
                                FROM courses WHERE draft_session_id = $1) \
                             UPDATE courses SET form_data = merged.form, \
                                draft_version = draft_version + CASE WHEN same THEN 0 ELSE 1 END, \
                                draft_updated_at = CASE WHEN same \
                                    THEN COALESCE(draft_updated_at, updated_at) END, \
                                updated_at = now() \
                             FROM merged WHERE draft_session_id = $1 \
                             RETURNING {COURSE_COLUMNS}, {DRAFT_COLUMNS}"
                        ),
                        &[&id, &removals, &set],
                    )
                    .await?;
                let draft = self.draft_from(&row)?;
                tx.commit().await?;
                Ok(PatchOutcome::Saved(Saved::Draft(draft)))
            })
            .await
    }

    /// Moves the row's TTL clock; the draft's updatedAt stays.
    async fn touch(&self, owner: Owner, draft: &Draft) -> StoreResult<bool> {
        self.db
            .call(|client| async move {
                let touched = client
                    .execute(
                        &format!(
                            "UPDATE courses SET {KEEP_ALIVE} \
                             WHERE draft_session_id = $4 AND {LIVE}"
                        ),
                        &self.live(&owner, &draft.id),
                    )
                    .await?;
                Ok(touched == 1)
            })
            .await
    }

    /// Deleting the course took the draft with it; after a submit, the draft
    /// is forgotten and its course stays, as a course only.
    async fn remove(&self, owner: Owner, draft: &Draft, course_deleted: bool) -> StoreResult<bool> {
        if course_deleted {
            return Ok(true);
        }
        self.db
            .call(|client| async move {
                let forgotten = client
                    .execute(
                        &format!(
                            "UPDATE courses SET draft_version = NULL \
                             WHERE draft_session_id = $4 AND {LIVE}"
                        ),
                        &self.live(&owner, &draft.id),
                    )
                    .await?;
                Ok(forgotten == 1)
            })
            .await
    }
}
