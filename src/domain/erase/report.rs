//! An erase's figures: per item and store, the count before, removed and
//! after; the integrity check; the report as a table.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EraseProgress, EraseSubject};

/// One of the things an erase counts, and the store that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Courses,
    FileRows,
    Objects,
    Bytes,
    DraftKeys,
    PatternKeys,
    TusUploads,
    TusBytes,
    CleanupJobsPending,
    CleanupJobsDead,
    EventsPending,
    EventsDead,
}

impl Item {
    pub const ALL: [Item; 12] = [
        Item::Courses,
        Item::FileRows,
        Item::Objects,
        Item::Bytes,
        Item::DraftKeys,
        Item::PatternKeys,
        Item::TusUploads,
        Item::TusBytes,
        Item::CleanupJobsPending,
        Item::CleanupJobsDead,
        Item::EventsPending,
        Item::EventsDead,
    ];

    pub fn store(self) -> &'static str {
        match self {
            Self::Courses
            | Self::FileRows
            | Self::TusUploads
            | Self::CleanupJobsPending
            | Self::CleanupJobsDead
            | Self::EventsPending
            | Self::EventsDead => "postgres",
            Self::Objects | Self::Bytes | Self::TusBytes => "storage",
            Self::DraftKeys | Self::PatternKeys => "redis",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Courses => "courses",
            Self::FileRows => "file rows",
            Self::Objects => "objects",
            Self::Bytes => "bytes",
            Self::DraftKeys => "draft keys",
            Self::PatternKeys => "pattern keys",
            Self::TusUploads => "tus uploads",
            Self::TusBytes => "tus staged bytes",
            Self::CleanupJobsPending => "cleanup jobs pending",
            Self::CleanupJobsDead => "cleanup jobs dead",
            Self::EventsPending => "events pending",
            Self::EventsDead => "events dead",
        }
    }

    /// Whether a count left at the end makes the erase unclean. Pending
    /// events are not: they are the erase's own announcements
    /// (`course.deleted`) on their way, which the webhook worker delivers
    /// whenever the receiver answers; an erase does not wait on a third
    /// party. A dead one is: nobody will deliver it without an operator.
    pub fn is_leftover(self) -> bool {
        self != Self::EventsPending
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
    /// The platform's keys of the subject and its courses, by
    /// `DRAFTD_CLEANUP_REDIS_PATTERNS`.
    #[serde(default)]
    pub pattern_keys: T,
    /// Resumable (tus) uploads, finished or not: their rows hold the
    /// uploader and the file's name...
    #[serde(default)]
    pub tus_uploads: T,
    /// ...and the bytes unfinished ones have staged (a local staging file,
    /// or S3 parts and a tail).
    #[serde(default)]
    pub tus_bytes: T,
    /// Cleanup jobs of the subject's courses still to run...
    pub cleanup_jobs_pending: T,
    /// ...and out of attempts.
    pub cleanup_jobs_dead: T,
    /// Lifecycle events of the subject's courses not yet delivered...
    #[serde(default)]
    pub events_pending: T,
    /// ...and dead (out of attempts, or refused with 410).
    #[serde(default)]
    pub events_dead: T,
}

impl<T> PerItem<T> {
    pub fn from_fn(f: impl Fn(Item) -> T) -> Self {
        Self {
            courses: f(Item::Courses),
            file_rows: f(Item::FileRows),
            objects: f(Item::Objects),
            bytes: f(Item::Bytes),
            draft_keys: f(Item::DraftKeys),
            pattern_keys: f(Item::PatternKeys),
            tus_uploads: f(Item::TusUploads),
            tus_bytes: f(Item::TusBytes),
            cleanup_jobs_pending: f(Item::CleanupJobsPending),
            cleanup_jobs_dead: f(Item::CleanupJobsDead),
            events_pending: f(Item::EventsPending),
            events_dead: f(Item::EventsDead),
        }
    }

    pub fn get(&self, item: Item) -> &T {
        match item {
            Item::Courses => &self.courses,
            Item::FileRows => &self.file_rows,
            Item::Objects => &self.objects,
            Item::Bytes => &self.bytes,
            Item::DraftKeys => &self.draft_keys,
            Item::PatternKeys => &self.pattern_keys,
            Item::TusUploads => &self.tus_uploads,
            Item::TusBytes => &self.tus_bytes,
            Item::CleanupJobsPending => &self.cleanup_jobs_pending,
            Item::CleanupJobsDead => &self.cleanup_jobs_dead,
            Item::EventsPending => &self.events_pending,
            Item::EventsDead => &self.events_dead,
        }
    }
}

/// What the subject has in every store at one moment.
pub type Inventory = PerItem<u64>;

impl Inventory {
    /// Each count that is not zero and makes an erase unclean
    /// ([`Item::is_leftover`]), as `"<item>: <count>"`.
    pub fn leftovers(&self) -> Vec<String> {
        Item::ALL
            .iter()
            .filter(|item| item.is_leftover() && *self.get(**item) > 0)
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

/// The end of the report: whatever is still there once the erase is done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integrity {
    /// Nothing left: every `after` is 0, but events on their way.
    pub clean: bool,
    /// What is left, as `"<item>: <count>"`; empty when clean.
    pub leftovers: Vec<String>,
    /// Sweeps it took (something written behind the erase needs another).
    pub rounds: u32,
    /// Dead cleanup jobs put back in the queue once, before the check.
    pub redriven_jobs: u64,
    /// Dead events of the subject's courses put back in the outbox once.
    #[serde(default)]
    pub redriven_events: u64,
}

/// What an erase put back in its queues, once, so that it could finish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redriven {
    pub jobs: u64,
    pub events: u64,
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
        redriven: Redriven,
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
                redriven_jobs: redriven.jobs,
                redriven_events: redriven.events,
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

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn inventory(n: u64) -> Inventory {
        PerItem::from_fn(|_| n)
    }

    #[test]
    fn a_finished_report_matches_its_prediction_when_everything_went() {
        let subject = EraseSubject::organization(Uuid::new_v4().into());
        let before = inventory(3);
        let progress = EraseProgress {
            round: 1,
            courses: 3,
            file_rows: 3,
            draft_keys: 3,
            ..EraseProgress::default()
        };
        let now = Utc::now();
        let done = EraseReport::finished(
            subject,
            &before,
            &progress,
            &inventory(0),
            Redriven::default(),
            now,
            now,
        );
        assert_eq!(done.counts, EraseReport::predicted(subject, &before).counts);
        assert!(done.integrity.clean);

        let left = PerItem {
            objects: 1,
            ..inventory(0)
        };
        let failed = EraseReport::finished(
            subject,
            &before,
            &progress,
            &left,
            Redriven::default(),
            now,
            now,
        );
        assert_eq!(failed.integrity.leftovers, ["objects: 1"]);
        assert_eq!(failed.counts.objects.removed, 2);
        assert!(failed.to_string().contains("LEFT objects: 1"));
    }

    #[test]
    fn announcements_on_their_way_leave_an_erase_clean_but_dead_ones_do_not() {
        let on_their_way = PerItem {
            events_pending: 4,
            ..inventory(0)
        };
        assert!(on_their_way.leftovers().is_empty());
        let dead = PerItem {
            events_dead: 1,
            ..on_their_way
        };
        assert_eq!(dead.leftovers(), ["events dead: 1"]);
    }
}
