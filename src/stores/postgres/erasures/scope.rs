//! Which rows are an erased subject's: the `courses` column that names it,
//! the payload field of its cleanup jobs, its courses, and the two kinds of
//! jobs per course an erase waits on.

use crate::domain::erase::EraseScope;

/// The two kinds of jobs per course an erase waits on.
#[derive(Clone, Copy)]
pub(super) enum Work {
    Cleanup,
    Events,
}

impl Work {
    /// The condition on `jobs.task`.
    pub(super) fn tasks(self) -> &'static str {
        match self {
            Self::Cleanup => "task LIKE 'cleanup.%'",
            Self::Events => "task = 'webhook.delivery'",
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

/// The field of a cleanup job's payload that names the subject.
fn payload_field(scope: EraseScope) -> &'static str {
    match scope {
        EraseScope::Organization => "organizationId",
        EraseScope::User => "userId",
    }
}

/// Ids of the subject's courses: those in the table, those erase $2 deleted,
/// and those its cleanup jobs name ($3, the subject's id as text).
pub(super) fn subject_courses(scope: EraseScope) -> String {
    format!(
        "SELECT id FROM courses WHERE {} = $1
         UNION SELECT course_id FROM erased_courses WHERE erasure_id = $2
         UNION SELECT course_id FROM jobs WHERE task LIKE 'cleanup.%'
             AND payload->>'{}' = $3",
        column(scope),
        payload_field(scope),
    )
}
