//! Draft sessions: the form's half-written data, one per open form, owned by
//! one user and kept alive by writes for the configured TTL.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::StoreError;
use super::form::FormPatch;
use super::idempotency::Idempotency;
use super::ids::{CourseId, DraftId, OrgId, UserId};

/// Who acts: every draft belongs to one user of one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub user_id: UserId,
    pub organization_id: OrgId,
    /// When the caller's token was issued (`iat`, Unix seconds): an erased
    /// subject writes again only with a token issued after its erase.
    pub issued_at: Option<i64>,
}

impl Owner {
    /// The owner of a job's or an admin's work, which no token carries.
    pub fn of(user_id: UserId, organization_id: OrgId) -> Self {
        Self {
            user_id,
            organization_id,
            issued_at: None,
        }
    }
}

/// One user's draft session: the two ids its Redis key is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserDraft {
    pub user: UserId,
    pub draft: DraftId,
}

/// A draft session as a scan of every user's drafts finds it: whose it is,
/// and the course it became, if its record tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRef {
    pub user: UserId,
    pub draft: DraftId,
    pub course: Option<CourseId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DraftStatus {
    /// Only in Redis.
    Open,
    /// A course row exists; the form is still being edited.
    Materialized,
    /// The form was submitted; the draft is read-only.
    Submitted,
}

super::string_enum!(DraftStatus, "draft status", {
    Open => "open",
    Materialized => "materialized",
    Submitted => "submitted",
});

/// Which store holds a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DraftStore {
    /// Every draft, normally.
    Redis,
    /// Degraded mode: opened while Redis was unreachable, the draft lives in
    /// its course row, for its whole life.
    Postgres,
}

/// A draft session as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    pub id: DraftId,
    pub organization_id: OrgId,
    /// Rises by one on every change; the ETag is derived from it.
    pub version: u64,
    pub status: DraftStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the draft disappears unless written again.
    pub expires_at: DateTime<Utc>,
    pub course_id: Option<CourseId>,
    pub course_slug: Option<String>,
    /// The draft's course is in the trash: the draft is read-only until the
    /// course is restored.
    pub course_trashed: bool,
    pub form_data: Map<String, Value>,
    /// Where the draft is kept: `postgres` for a draft opened while Redis was
    /// unreachable.
    pub store: DraftStore,
}

/// What a conditional write expects to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`, or `If-Match: *`.
    None,
    /// The draft must be at one of these versions. Empty when no tag the
    /// client sent can match (weak or malformed ones): the write is refused.
    AnyOf(Vec<u64>),
}

impl Precondition {
    /// Whether a draft at `version` meets the precondition.
    pub fn allows(&self, version: u64) -> bool {
        match self {
            Self::None => true,
            Self::AnyOf(versions) => versions.contains(&version),
        }
    }
}

/// How long a submitted draft's session stays, at most: it only answers
/// "submitted" to the form's other open tabs, and it leaves the live-draft cap.
pub const SUBMITTED_SESSION_TTL: Duration = Duration::from_secs(600);

/// Limits applied to every user's drafts.
#[derive(Debug, Clone, Copy)]
pub struct DraftLimits {
    pub ttl: Duration,
    pub max_per_user: u32,
    /// Autosaves a user may send per `rate_window`, across all their drafts.
    pub autosaves_per_window: u32,
    pub rate_window: Duration,
}

/// What a draft store answers to a new draft.
pub enum CreateOutcome {
    Created(Draft),
    /// The create's idempotency key already names this draft.
    Existing(DraftId),
    /// The owner already has the maximum of live drafts.
    TooManyDrafts,
    /// Its organization or user is erased (a draft kept in Postgres checks).
    Fenced(super::fence::Fence),
}

/// What an autosave answers with, as the caller asked (RFC 7240
/// `Prefer: return=`): the saved draft, or only its new version, which spares
/// the store reading the draft back and the service encoding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Return {
    Representation,
    Minimal,
}

/// A saved autosave: the draft, or its new version when that was all the
/// caller asked for (a store may answer the draft anyway).
pub enum Saved {
    Draft(Draft),
    Version(u64),
}

impl Saved {
    pub fn version(&self) -> u64 {
        match self {
            Self::Draft(draft) => draft.version,
            Self::Version(version) => *version,
        }
    }
}

/// What a draft store answers to an autosave.
pub enum PatchOutcome {
    Saved(Saved),
    /// Expired, discarded or never there.
    Missing,
    /// `If-Match` named another version.
    Stale {
        current: u64,
    },
    /// The draft was submitted: it is read-only.
    Submitted,
    /// The draft's course is in the trash: read-only until restored.
    Trashed,
    /// The owner autosaved too often; the window ends in this long.
    RateLimited {
        retry_after: Duration,
    },
}

/// What a draft store answers to submit's freeze.
pub enum FreezeOutcome {
    /// Read-only from now on, at the version that passed validation.
    Frozen,
    AlreadySubmitted,
    /// An autosave came first: validate again.
    Changed,
    Missing,
}

/// A new draft, as its owner asked for it: its initial form, and the
/// create's idempotency key (a store may ignore it: Postgres, in degraded
/// mode, does).
#[derive(Clone, Copy)]
pub struct NewDraft<'a> {
    pub form: &'a FormPatch,
    pub idempotency: Option<&'a Idempotency>,
}

/// An autosave of one draft, as its owner sent it: which draft, the merge
/// patch, the `If-Match` it is held to, and the answer asked for.
#[derive(Clone, Copy)]
pub struct Autosave<'a> {
    pub id: DraftId,
    pub patch: &'a FormPatch,
    pub precondition: &'a Precondition,
    pub answer: Return,
}

/// What a draft store answers with.
pub type StoreResult<T> = Result<T, StoreError>;

/// A store that keeps draft sessions: Redis, and Postgres for the drafts
/// opened while Redis was unreachable (degraded mode). Each store holds the
/// [`DraftLimits`] it applies. Every call is the owner's: a draft of another
/// user, or of the same user in another organization, is missing. A step
/// only one store takes (submit's freeze, the discard tombstone, the trash
/// mark) is that store's own method.
pub trait DraftBackend: Send + Sync {
    /// Whether `draft` is one of this store's (a [`Draft`] names its store).
    fn holds(&self, draft: &Draft) -> bool;

    /// Opens a draft, under a new id, unless the owner has the maximum of
    /// live drafts or the idempotency key names a draft already.
    fn create(
        &self,
        owner: Owner,
        new: NewDraft<'_>,
    ) -> impl Future<Output = StoreResult<CreateOutcome>> + Send;

    fn get(
        &self,
        owner: Owner,
        id: DraftId,
    ) -> impl Future<Output = StoreResult<Option<Draft>>> + Send;

    /// The owner's live drafts.
    fn list(&self, owner: Owner) -> impl Future<Output = StoreResult<Vec<Draft>>> + Send;

    /// An autosave, atomic with any racing write; refreshes the TTL.
    fn patch(
        &self,
        owner: Owner,
        save: Autosave<'_>,
    ) -> impl Future<Output = StoreResult<PatchOutcome>> + Send;

    /// Keeps the draft alive for its TTL without changing it (a resumable
    /// upload's PATCH). `false` if it is gone.
    fn touch(&self, owner: Owner, draft: &Draft) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Removes the draft, its owner's discard; `false` if there was none.
    /// `course_deleted`: the draft's course row went just before. The owner
    /// is told it was discarded for the draft TTL after, where the store can.
    fn remove(
        &self,
        owner: Owner,
        draft: &Draft,
        course_deleted: bool,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
