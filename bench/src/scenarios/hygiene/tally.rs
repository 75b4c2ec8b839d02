//! What the hygiene simulation finds left in every store, against what its
//! visits predict.

use std::collections::HashSet;
use std::path::Path;

use uuid::Uuid;

use super::visit::Outcome;
use crate::visits::{keys_of, Visit};

/// What is left, in every store; or what should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub courses: i64,
    pub never_submitted: i64,
    pub trashed: i64,
    pub file_rows: i64,
    pub objects: i64,
    pub draft_keys: i64,
}

impl Tally {
    /// What the visits leave where `has_row` names the visits whose course
    /// is left and `has_key` those whose draft key is.
    pub fn expected(
        outcomes: &[Outcome],
        has_row: impl Fn(Visit) -> bool,
        has_key: impl Fn(Visit) -> bool,
    ) -> Self {
        let count =
            |f: &dyn Fn(Visit) -> bool| outcomes.iter().filter(|o| f(o.visit)).count() as i64;
        let files = count(&|v| has_row(v) && v.uploads());
        Self {
            courses: count(&|v| has_row(v) && v.makes_course()),
            never_submitted: count(&|v| has_row(v) && v.unused()),
            trashed: count(&|v| has_row(v) && v.purged()),
            file_rows: files,
            objects: files,
            draft_keys: count(&has_key),
        }
    }

    pub fn row(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {} ({:.0}%) | {} | {} | {} | {} |",
            self.courses,
            self.never_submitted,
            self.never_submitted as f64 / self.courses.max(1) as f64 * 100.0,
            self.trashed,
            self.file_rows,
            self.objects,
            self.draft_keys
        )
    }
}

/// Where to count: the database, the upload directory, Redis, and whose keys.
pub struct Stores<'a> {
    pub db: &'a tokio_postgres::Client,
    pub upload_dir: &'a Path,
    pub redis: deadpool_redis::Pool,
    pub users: HashSet<Uuid>,
    pub erased: HashSet<Uuid>,
}

impl Stores<'_> {
    /// Counts what is left, and checks that it is what `expected` says and
    /// that no key of an erased user is left.
    pub async fn check(&self, stage: &str, expected: Tally) -> anyhow::Result<Tally> {
        let row = self
            .db
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE status = 'draft'),
                        count(*) FILTER (WHERE trashed_at IS NOT NULL),
                        (SELECT count(*) FROM course_files)
                 FROM courses",
                &[],
            )
            .await?;
        let keys = self.keys().await?;
        let of_erased = keys
            .iter()
            .filter(|(user, _)| self.erased.contains(user))
            .count();
        let found = Tally {
            courses: row.get(0),
            never_submitted: row.get(1),
            trashed: row.get(2),
            file_rows: row.get(3),
            objects: count_files(self.upload_dir) as i64,
            draft_keys: sessions(&keys) as i64,
        };
        eprintln!("  {stage}: {found:?}");
        anyhow::ensure!(
            found == expected && of_erased == 0,
            "{stage}: found {found:?} and {of_erased} keys of erased users; expected {expected:?} and none"
        );
        Ok(found)
    }

    /// The Redis keys of the visits' users, each with its user.
    pub async fn keys(&self) -> anyhow::Result<Vec<(Uuid, String)>> {
        Ok(keys_of(&mut self.redis.get().await?, &self.users).await?)
    }
}

/// How many of `keys` are draft sessions.
pub fn sessions(keys: &[(Uuid, String)]) -> usize {
    keys.iter()
        .filter(|(_, key)| draftd::stores::redis::keys::parse_draft_key(key).is_some())
        .count()
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}
