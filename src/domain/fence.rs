//! The deletion fence (SPEC invariant 13): once a draft, a course or a
//! subject is deleted, a write that was in flight, or comes later, records
//! nothing of it. What a recording found in its way decides the answer.

use super::cleanup::DeletionReason;

/// Why a write may not record anything of its course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    /// The draft was discarded.
    Discarded,
    /// The course was erased: deleted for good, purged from the trash, or
    /// taken by the janitor.
    CourseDeleted,
    /// Its organization or user is being erased, or was after the caller's
    /// token was issued.
    SubjectErased,
}

impl Fence {
    /// The fence a course's tombstone stands for.
    pub fn of(reason: DeletionReason) -> Self {
        match reason {
            DeletionReason::Discard => Self::Discarded,
            DeletionReason::Erase => Self::SubjectErased,
            DeletionReason::Owner
            | DeletionReason::Janitor
            | DeletionReason::File
            | DeletionReason::Purge => Self::CourseDeleted,
        }
    }
}
