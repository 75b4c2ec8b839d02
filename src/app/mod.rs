//! The use cases: what the API offers, over the stores and the jobs.
//!
//! - [`drafts`]: draft sessions, Redis first and Postgres in degraded mode;
//! - [`courses`]: materialize, submit, upload, read, list, trash, restore and
//!   erase courses;
//! - [`admin`]: the operator's figures, and the jobs run on demand;
//! - [`erase`]: erasing an organization or a user, and the bar on their writes;
//! - [`events`]: a draft's event stream, its changes as they happen.
//!
//! It may use [`crate::domain`], [`crate::stores`] and [`crate::jobs`]; it
//! knows nothing of HTTP. [`AppError`] is its one error type, which the HTTP
//! layer maps to problem responses.

pub mod admin;
pub mod courses;
pub mod drafts;
pub mod erase;
pub mod events;
pub mod limits;

pub use admin::Admin;
pub use courses::Courses;
pub use drafts::DraftSessions;
pub use erase::Erasures;
pub use events::DraftEvents;

use crate::domain::fence::Fence;
use crate::domain::tus::TusError;
use crate::domain::upload::UploadError;
use crate::domain::{FieldErrors, StoreError};

/// Every use case, wired to its stores: what the HTTP layer is given.
#[derive(Clone)]
pub struct App {
    pub drafts: DraftSessions,
    pub courses: Courses,
    pub admin: Admin,
    pub erasures: Erasures,
    pub events: DraftEvents,
}

/// The use cases' one error type.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Missing, expired, or someone else's: the same answer for all three.
    #[error("draft not found")]
    NotFound,
    #[error("draft is at version {current}")]
    VersionMismatch { current: u64 },
    #[error("at most {limit} live drafts per user")]
    TooManyDrafts { limit: u32 },
    #[error("the draft was submitted and can no longer change")]
    Submitted,
    #[error("the course is in the trash; restore it to change it")]
    Trashed,
    /// Its owner discarded the draft (or the write lost the race with that).
    #[error("the draft was discarded")]
    Discarded,
    /// The course was erased while the write was in flight, or before.
    #[error("the course was deleted")]
    CourseDeleted,
    /// The organization or user is being erased, or was after the token was
    /// issued.
    #[error("the organization or user is erased")]
    Erased,
    #[error("invalid fields")]
    Invalid(FieldErrors),
    #[error("too many requests; retry in {retry_after:?}")]
    RateLimited { retry_after: std::time::Duration },
    /// Too many uploads in flight or event streams open, the user's own
    /// (`per_user`) or in all.
    #[error("too many {kind:?} at once")]
    AtCapacity {
        kind: limits::SlotKind,
        per_user: bool,
    },
    #[error("the course holds {limit} files already")]
    TooManyFiles { limit: i64 },
    #[error("the organization stores {used} bytes; this file would pass its {limit}")]
    StorageFull { limit: i64, used: i64 },
    #[error(
        "your unfinished uploads hold {used} bytes reserved and not yet sent; this one would \
         pass the {limit} one user may hold (DRAFTD_RESERVED_BYTES_PER_USER): send, finish or \
         terminate them first (an upload storing nothing lapses after DRAFTD_TUS_IDLE_SECS)"
    )]
    ReservationsFull { limit: i64, used: i64 },
    /// Autosaves kept changing the draft while it was being submitted.
    #[error("the draft kept changing; retry")]
    Busy,
    #[error("invalid upload")]
    Upload(#[from] UploadError),
    /// A resumable upload's request broke its protocol, or met another.
    #[error("resumable upload: {0}")]
    Tus(#[from] TusError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Fence> for AppError {
    fn from(fence: Fence) -> Self {
        match fence {
            Fence::Discarded => Self::Discarded,
            Fence::CourseDeleted => Self::CourseDeleted,
            Fence::SubjectErased => Self::Erased,
        }
    }
}
