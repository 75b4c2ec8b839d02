//! Erasing everything of one organization or one user: whose data it is,
//! the figures an erase reports per store (before, removed, after: see
//! [`report`]), its progress and its state. Pure: the stores count and the
//! job erases; this says what the figures are and how they read.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids::{OrgId, UserId};
use super::Owner;

pub mod report;

pub use report::{EraseReport, Integrity, Inventory, Item, PerItem, Redriven, Tally};

/// Whose data an erase removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EraseScope {
    Organization,
    User,
}

super::string_enum!(EraseScope, "erase scope", {
    Organization => "organization",
    User => "user",
});

/// One organization, or one user in every organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EraseSubject {
    pub scope: EraseScope,
    #[serde(rename = "subjectId")]
    pub id: Uuid,
}

impl EraseSubject {
    pub fn organization(id: OrgId) -> Self {
        Self {
            scope: EraseScope::Organization,
            id: id.as_uuid(),
        }
    }

    pub fn user(id: UserId) -> Self {
        Self {
            scope: EraseScope::User,
            id: id.as_uuid(),
        }
    }

    /// The subject's id as a user's, for a user's erase.
    pub fn user_id(self) -> UserId {
        self.id.into()
    }

    /// The subject's id as an organization's, for an organization's erase.
    pub fn organization_id(self) -> OrgId {
        self.id.into()
    }

    /// Whether `owner`'s drafts and courses are this subject's.
    pub fn covers(self, owner: Owner) -> bool {
        match self.scope {
            EraseScope::Organization => owner.organization_id.as_uuid() == self.id,
            EraseScope::User => owner.user_id.as_uuid() == self.id,
        }
    }
}

impl fmt::Display for EraseSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.scope, self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EraseStatus {
    Running,
    /// Finished, and the integrity check found nothing left.
    Done,
    /// Finished, and the integrity check names what is left.
    Failed,
}

super::string_enum!(EraseStatus, "erase status", {
    Running => "running",
    Done => "done",
    Failed => "failed",
});

/// What a running erase is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErasePhase {
    /// Taking the counts before.
    #[default]
    Counting,
    /// Deleting course rows, a batch per transaction.
    Courses,
    /// Removing draft sessions from Redis.
    Drafts,
    /// Waiting for the cleanup worker to remove files and keys.
    Cleanup,
    /// Counting what is left.
    Checking,
}

super::string_enum!(ErasePhase, "erase phase", {
    Counting => "counting",
    Courses => "courses",
    Drafts => "drafts",
    Cleanup => "cleanup",
    Checking => "checking",
});

/// Removed so far, kept with the erase so that a resumed one goes on
/// counting: the courses and file rows its batches deleted, the draft
/// sessions its sweeps removed (the cleanup worker removes those of
/// materialized drafts too). A new erase's is empty (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EraseProgress {
    pub phase: ErasePhase,
    /// The sweep under way; a sweep is courses, drafts, cleanup, check.
    pub round: u32,
    pub courses: u64,
    pub file_rows: u64,
    pub draft_keys: u64,
}

/// An erase as the admin route and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EraseState {
    pub id: Uuid,
    #[serde(flatten)]
    pub subject: EraseSubject,
    pub status: EraseStatus,
    /// The counts before, once taken.
    pub before: Option<Inventory>,
    pub progress: EraseProgress,
    /// Once finished.
    pub report: Option<EraseReport>,
    /// Why the last attempt stopped short; the erase resumes.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One line of progress: `courses 120/403, file rows 40/400, draft keys 0/3
/// (courses, sweep 1)`.
pub struct ProgressLine<'a>(pub &'a EraseState);

impl fmt::Display for ProgressLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.0;
        let progress = &state.progress;
        let of = |item: Item| {
            state
                .before
                .as_ref()
                .map_or_else(|| "?".to_owned(), |b| b.get(item).to_string())
        };
        write!(
            f,
            "erase {} of {}: courses {}/{}, file rows {}/{}, draft keys {}/{} ({}, sweep {})",
            state.id,
            state.subject,
            progress.courses,
            of(Item::Courses),
            progress.file_rows,
            of(Item::FileRows),
            progress.draft_keys,
            of(Item::DraftKeys),
            progress.phase,
            progress.round,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_covers_its_organization_or_its_user_only() {
        let owner = Owner::of(Uuid::new_v4().into(), Uuid::new_v4().into());
        assert!(EraseSubject::organization(owner.organization_id).covers(owner));
        assert!(EraseSubject::user(owner.user_id).covers(owner));
        assert!(!EraseSubject::organization(owner.user_id.as_uuid().into()).covers(owner));
        assert!(!EraseSubject::user(owner.organization_id.as_uuid().into()).covers(owner));
    }

    #[test]
    fn values_read_back_from_their_stored_text() {
        for scope in EraseScope::ALL {
            assert_eq!(scope.as_str().parse::<EraseScope>(), Ok(*scope));
        }
        for status in EraseStatus::ALL {
            assert_eq!(status.as_str().parse::<EraseStatus>(), Ok(*status));
        }
    }
}
