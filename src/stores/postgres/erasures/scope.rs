//! Which rows are an erased subject's: the `courses` column that names it, the
//! targets of its cleanup jobs, its courses, and the two queues of work per
//! course an erase waits on.

use crate::domain::erase::{EraseScope, EraseSubject};
use crate::stores::postgres::status::{EVENT_DEAD, EVENT_PENDING, JOB_DEAD, JOB_PENDING};

/// The two queues of work per course an erase waits on, both with
/// `course_id` and a `status` of `pending` or `dead`.
#[derive(Clone, Copy)]
pub(super) enum Queue {
    CleanupJobs,
    Events,
}

impl Queue {
    pub(super) fn table(self) -> &'static str {
        match self {
            Self::CleanupJobs => "cleanup_jobs",
            Self::Events => "webhook_events",
        }
    }

    /// Its `pending` and `dead` statuses, as SQL literals.
    pub(super) fn statuses(self) -> (&'static str, &'static str) {
        match self {
            Self::CleanupJobs => (JOB_PENDING, JOB_DEAD),
            Self::Events => (EVENT_PENDING, EVENT_DEAD),
        }
    }
}

/// The `courses` column that names the subject.
pub(super) fn column(scope: EraseScope) -> &'static str {
    match scope {
        EraseScope::Organization => "organization_id",
        EraseScope::User => "owner_id",
    }
}

/// A `LIKE` pattern for the targets of the subject's cleanup jobs: an
/// organization's storage keys (`{orgId}/…`), a user's draft sessions
/// (`{userId}:…`). A course is the subject's if one of its jobs matches.
pub(super) fn job_targets(subject: EraseSubject) -> String {
    match subject.scope {
        EraseScope::Organization => format!("{}/%", subject.id),
        EraseScope::User => format!("{}:%", subject.id),
    }
}

/// Ids of the subject's courses: those in the table, those erase $2 deleted,
/// and those its cleanup jobs name ($3, [`job_targets`]).
pub(super) fn subject_courses(scope: EraseScope) -> String {
    format!(
        "SELECT id FROM courses WHERE {} = $1
         UNION SELECT course_id FROM erased_courses WHERE erasure_id = $2
         UNION SELECT course_id FROM cleanup_jobs WHERE target LIKE $3",
        column(scope)
    )
}
