//! The values the statements name in their text, as SQL literals taken from
//! the domain's enums (`sql()`): one home for each, never a bound parameter
//! where a partial index's predicate names it. `WHERE status = 'draft'` lets
//! the planner use `courses_unused_drafts_idx … WHERE status = 'draft' AND
//! generation_status IS NULL` (migrations V1, V4) in every plan; `status = $1`
//! leaves a generic plan, which cannot know `$1`, without it. The same holds
//! for `tus_uploads … WHERE status = 'receiving'` (V12, V15), `erasures …
//! WHERE status = 'running'` (V8) and the job queue's `pending`, `done` and
//! `dead` (V16).

use crate::domain::erase::{EraseScope, EraseStatus};
use crate::domain::job::JobStatus;
use crate::domain::tus::TusStatus;
use crate::domain::CourseStatus;

pub(super) const COURSE_DRAFT: &str = CourseStatus::Draft.sql();
pub(super) const COURSE_SUBMITTED: &str = CourseStatus::Submitted.sql();
pub(super) const TUS_RECEIVING: &str = TusStatus::Receiving.sql();
pub(super) const ERASE_RUNNING: &str = EraseStatus::Running.sql();
pub(super) const SCOPE_ORGANIZATION: &str = EraseScope::Organization.sql();
pub(super) const SCOPE_USER: &str = EraseScope::User.sql();
pub(super) const JOB_PENDING: &str = JobStatus::Pending.sql();
pub(super) const JOB_DONE: &str = JobStatus::Done.sql();
pub(super) const JOB_DEAD: &str = JobStatus::Dead.sql();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_the_stored_values_quoted() {
        assert_eq!(COURSE_DRAFT, "'draft'");
        assert_eq!(TUS_RECEIVING, "'receiving'");
        let values = [
            COURSE_DRAFT,
            COURSE_SUBMITTED,
            TUS_RECEIVING,
            ERASE_RUNNING,
            SCOPE_ORGANIZATION,
            SCOPE_USER,
            JOB_PENDING,
            JOB_DONE,
            JOB_DEAD,
        ];
        for value in values {
            let inner = &value[1..value.len() - 1];
            assert!(value.starts_with('\'') && value.ends_with('\''), "{value}");
            assert!(
                inner.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{value} needs no escaping"
            );
        }
    }

    /// The partial indexes' predicates, as the migrations declare them, are
    /// what the statements write with these literals.
    #[test]
    fn the_migrations_partial_indexes_name_these_literals() {
        let migration = |sql: &str, predicate: String| {
            assert!(sql.contains(&predicate), "{predicate}");
        };
        let janitor = include_str!("../../../migrations/V4__janitor_index_keyset.sql");
        let predicate = format!("WHERE status = {COURSE_DRAFT} AND generation_status IS NULL");
        migration(janitor, predicate);
        let owners = include_str!("../../../migrations/V15__tus_owner_reservations.sql");
        migration(owners, format!("WHERE status = {TUS_RECEIVING}"));
        let erasures = include_str!("../../../migrations/V8__erasures.sql");
        migration(erasures, format!("WHERE status = {ERASE_RUNNING}"));
        let jobs = include_str!("../../../migrations/V16__job_queue.sql");
        migration(jobs, format!("WHERE status = {JOB_PENDING}"));
        migration(jobs, format!("WHERE status = {JOB_DEAD}"));
        migration(jobs, format!("WHERE status = {JOB_DONE}"));
    }
}
