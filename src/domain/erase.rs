//! Erasing everything of one organization or one user: whose data it is, the
//! figures an erase reports per store (before, removed, after), its progress
//! and its state. Pure: the stores count and the job erases; this says what
//! the figures are and how they read.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Owner;

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
    pub fn organization(id: Uuid) -> Self {
        Self {
            scope: EraseScope::Organization,
            id,
        }
    }

    pub fn user(id: Uuid) -> Self {
        Self {
            scope: EraseScope::User,
            id,
        }
    }

    /// Whether `owner`'s drafts and courses are this subject's.
    pub fn covers(self, owner: Owner) -> bool {
        match self.scope {
            EraseScope::Organization => owner.organization_id == self.id,
            EraseScope::User => owner.user_id == self.id,
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

/// One of the things an erase counts, and the store that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Courses,
    FileRows,
    Objects,
    Bytes,
    DraftKeys,
    CleanupJobsPending,
    CleanupJobsDead,
}

impl Item {
    pub const ALL: [Item; 7] = [
        Item::Courses,
        Item::FileRows,
        Item::Objects,
        Item::Bytes,
        Item::DraftKeys,
        Item::CleanupJobsPending,
        Item::CleanupJobsDead,
    ];

    pub fn store(self) -> &'static str {
        match self {
            Self::Courses | Self::FileRows | Self::CleanupJobsPending | Self::CleanupJobsDead => {
                "postgres"
            }
            Self::Objects | Self::Bytes => "storage",
            Self::DraftKeys => "redis",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Courses => "courses",
            Self::FileRows => "file rows",
            Self::Objects => "objects",
            Self::Bytes => "bytes",
            Self::DraftKeys => "draft keys",
            Self::CleanupJobsPending => "cleanup jobs pending",
            Self::CleanupJobsDead => "cleanup jobs dead",
        }
    }
}

/// One figure per [`Item`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerItem<T> {
    /// Course rows, trashed or not, degraded-mode drafts included.
    pub courses: T,
    pub file_rows: T,
    /// Stored objects under the subject's prefixes.
    pub objects: T,
    /// Their bytes.
    pub bytes: T,
    /// Draft sessions in Redis.
    pub draft_keys: T,
    /// Cleanup jobs of the subject's courses still to run...
    pub cleanup_jobs_pending: T,
    /// ...and out of attempts.
    pub cleanup_jobs_dead: T,
}

impl<T> PerItem<T> {
    pub fn from_fn(f: impl Fn(Item) -> T) -> Self {
        Self {
            courses: f(Item::Courses),
            file_rows: f(Item::FileRows),
            objects: f(Item::Objects),
            bytes: f(Item::Bytes),
            draft_keys: f(Item::DraftKeys),
            cleanup_jobs_pending: f(Item::CleanupJobsPending),
            cleanup_jobs_dead: f(Item::CleanupJobsDead),
        }
    }

    pub fn get(&self, item: Item) -> &T {
        match item {
            Item::Courses => &self.courses,
            Item::FileRows => &self.file_rows,
            Item::Objects => &self.objects,
            Item::Bytes => &self.bytes,
            Item::DraftKeys => &self.draft_keys,
            Item::CleanupJobsPending => &self.cleanup_jobs_pending,
            Item::CleanupJobsDead => &self.cleanup_jobs_dead,
        }
    }
}

/// What the subject has in every store at one moment.
pub type Inventory = PerItem<u64>;

impl Inventory {
    /// Each count that is not zero, as `"<item>: <count>"`.
    pub fn leftovers(&self) -> Vec<String> {
        Item::ALL
            .iter()
            .filter(|item| *self.get(**item) > 0)
            .map(|item| format!("{}: {}", item.label(), self.get(*item)))
            .collect()
    }
}

/// One item's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// When the erase began: taken once, so a resumed erase still says it.
    pub before: u64,
    /// Removed by this erase (in a dry run: would be).
    pub removed: u64,
    /// Left at the end (in a dry run: 0, the prediction).
    pub after: u64,
}

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

/// The end of the report: whatever is still there once the erase is done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integrity {
    /// Nothing left: every `after` is 0.
    pub clean: bool,
    /// What is left, as `"<item>: <count>"`; empty when clean.
    pub leftovers: Vec<String>,
    /// Sweeps it took (something written behind the erase needs another).
    pub rounds: u32,
    /// Dead cleanup jobs put back in the queue once, before the check.
    pub redriven_jobs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EraseReport {
    #[serde(flatten)]
    pub subject: EraseSubject,
    pub dry_run: bool,
    pub counts: PerItem<Tally>,
    pub integrity: Integrity,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// From the erase's start to its end, a resumed run's wait included.
    pub duration_ms: u64,
}

impl EraseReport {
    /// A dry run: everything there now would be removed, and nothing left.
    pub fn predicted(subject: EraseSubject, before: &Inventory) -> Self {
        Self {
            subject,
            dry_run: true,
            counts: PerItem::from_fn(|item| Tally {
                before: *before.get(item),
                removed: *before.get(item),
                after: 0,
            }),
            integrity: Integrity {
                clean: true,
                ..Integrity::default()
            },
            started_at: None,
            finished_at: None,
            duration_ms: 0,
        }
    }

    /// A finished erase. Course and file rows removed are the erase's own
    /// count (rows written behind it included); objects, draft keys and
    /// cleanup jobs, which the cleanup worker removes too, are what went
    /// between before and after.
    pub fn finished(
        subject: EraseSubject,
        before: &Inventory,
        progress: &EraseProgress,
        after: &Inventory,
        redriven_jobs: u64,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) -> Self {
        let removed = |item: Item| match item {
            Item::Courses => progress.courses,
            Item::FileRows => progress.file_rows,
            _ => before.get(item).saturating_sub(*after.get(item)),
        };
        let leftovers = after.leftovers();
        Self {
            subject,
            dry_run: false,
            counts: PerItem::from_fn(|item| Tally {
                before: *before.get(item),
                removed: removed(item),
                after: *after.get(item),
            }),
            integrity: Integrity {
                clean: leftovers.is_empty(),
                leftovers,
                rounds: progress.round,
                redriven_jobs,
            },
            started_at: Some(started_at),
            finished_at: Some(finished_at),
            duration_ms: (finished_at - started_at)
                .num_milliseconds()
                .max(0)
                .unsigned_abs(),
        }
    }
}

/// The report as a table, per store and item, then the integrity check.
impl fmt::Display for EraseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(f, "dry run: erasing {} would remove", self.subject)?;
        } else {
            let seconds = self.duration_ms as f64 / 1000.0;
            writeln!(f, "erase of {} in {seconds:.1} s", self.subject)?;
        }
        writeln!(
            f,
            "{:<9} {:<21} {:>12} {:>12} {:>12}",
            "store", "item", "before", "removed", "after"
        )?;
        for item in Item::ALL {
            let tally = self.counts.get(item);
            writeln!(
                f,
                "{:<9} {:<21} {:>12} {:>12} {:>12}",
                item.store(),
                item.label(),
                tally.before,
                tally.removed,
                tally.after
            )?;
        }
        let sweeps = self.integrity.rounds;
        match (self.dry_run, self.integrity.clean) {
            (true, _) => write!(f, "integrity check: not run (dry run)"),
            (false, true) => write!(f, "integrity check: nothing left ({sweeps} sweeps)"),
            (false, false) => write!(
                f,
                "integrity check: LEFT {} ({sweeps} sweeps)",
                self.integrity.leftovers.join(", ")
            ),
        }
    }
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

    fn inventory(n: u64) -> Inventory {
        PerItem::from_fn(|_| n)
    }

    #[test]
    fn a_subject_covers_its_organization_or_its_user_only() {
        let owner = Owner {
            user_id: Uuid::new_v4(),
            organization_id: Uuid::new_v4(),
        };
        assert!(EraseSubject::organization(owner.organization_id).covers(owner));
        assert!(EraseSubject::user(owner.user_id).covers(owner));
        assert!(!EraseSubject::organization(owner.user_id).covers(owner));
        assert!(!EraseSubject::user(owner.organization_id).covers(owner));
    }

    #[test]
    fn a_finished_report_matches_its_prediction_when_everything_went() {
        let subject = EraseSubject::organization(Uuid::new_v4());
        let before = inventory(3);
        let progress = EraseProgress {
            round: 1,
            courses: 3,
            file_rows: 3,
            draft_keys: 3,
            ..EraseProgress::default()
        };
        let now = Utc::now();
        let done = EraseReport::finished(subject, &before, &progress, &inventory(0), 0, now, now);
        assert_eq!(done.counts, EraseReport::predicted(subject, &before).counts);
        assert!(done.integrity.clean);

        let left = PerItem {
            objects: 1,
            ..inventory(0)
        };
        let failed = EraseReport::finished(subject, &before, &progress, &left, 0, now, now);
        assert_eq!(failed.integrity.leftovers, ["objects: 1"]);
        assert_eq!(failed.counts.objects.removed, 2);
        assert!(failed.to_string().contains("LEFT objects: 1"));
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
