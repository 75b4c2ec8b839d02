//! The visits of the hygiene simulation: what each does, and so what must be
//! left of it; and what is left of its users in Redis. One home for the
//! benchmark (scenarios/hygiene.rs) and its small version in `make test`
//! (tests/api/hygiene.rs includes this file).

use std::collections::HashSet;

use deadpool_redis::redis::{self, aio::ConnectionLike, RedisResult};
use uuid::Uuid;

/// What one visit of the create-course form does; each is a new user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Opens the form and leaves.
    Leave,
    /// Uploads a file (the draft becomes a course row) and leaves.
    UploadAndLeave,
    /// Fills in a topic and submits, having uploaded a file or not; then `then`.
    Submit { file: bool, then: Then },
}

/// What a user who submitted does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Keep,
    /// Deletes the course: it waits in the trash for the purge.
    Trash,
    Restore,
    /// The user's account is erased.
    EraseAccount,
    TrashThenEraseAccount,
}

/// The mix [`Visit::of`] makes, in words.
pub const MIX: &str = "60% leave at once, 20% upload a file and leave, 20% fill in a topic and \
    submit (half of them with a file); of those who submit, 40% keep the course, 20% delete it, \
    20% delete it and then restore it, 10% have their account erased and 10% delete the course \
    and then have their account erased";

impl Visit {
    /// Visit `i` of the mix [`MIX`] describes; any ten consecutive
    /// hundreds of visits hold it exactly.
    pub fn of(i: usize) -> Self {
        let then = match i / 10 % 10 {
            0..=3 => Then::Keep,
            4 | 5 => Then::Trash,
            6 | 7 => Then::Restore,
            8 => Then::EraseAccount,
            _ => Then::TrashThenEraseAccount,
        };
        match i % 10 {
            0..=5 => Visit::Leave,
            6 | 7 => Visit::UploadAndLeave,
            n => Visit::Submit { file: n == 8, then },
        }
    }

    fn then(self) -> Option<Then> {
        match self {
            Visit::Submit { then, .. } => Some(then),
            _ => None,
        }
    }

    pub fn uploads(self) -> bool {
        matches!(
            self,
            Visit::UploadAndLeave | Visit::Submit { file: true, .. }
        )
    }

    /// Makes a course row (before any delete).
    pub fn makes_course(self) -> bool {
        self != Visit::Leave
    }

    pub fn trashes(self) -> bool {
        matches!(
            self.then(),
            Some(Then::Trash | Then::Restore | Then::TrashThenEraseAccount)
        )
    }

    pub fn restores(self) -> bool {
        self.then() == Some(Then::Restore)
    }

    pub fn erases_account(self) -> bool {
        matches!(
            self.then(),
            Some(Then::EraseAccount | Then::TrashThenEraseAccount)
        )
    }

    /// Leaves its course in the trash until the purge erases it.
    pub fn purged(self) -> bool {
        self.then() == Some(Then::Trash)
    }

    /// Leaves an unused draft course: the janitor's once the TTL has passed.
    pub fn unused(self) -> bool {
        self == Visit::UploadAndLeave
    }

    /// What is left of it at the end: a submitted course, kept or restored.
    pub fn kept(self) -> bool {
        matches!(self.then(), Some(Then::Keep | Then::Restore))
    }

    /// The lifecycle events its course records, in order, by the end: the
    /// course appears (by the upload, or by the submit), changes, and is
    /// announced deleted once, however it was erased (janitor, purge, the
    /// account's erase), unless it is kept.
    pub fn events(self) -> Vec<&'static str> {
        if !self.makes_course() {
            return Vec::new();
        }
        let steps = [
            (true, "course.materialized"),
            (self.uploads(), "file.uploaded"),
            (self.then().is_some(), "course.submitted"),
            (self.trashes(), "course.trashed"),
            (self.restores(), "course.restored"),
            (!self.kept(), "course.deleted"),
        ];
        steps
            .into_iter()
            .filter_map(|(happens, kind)| happens.then_some(kind))
            .collect()
    }
}

/// The Redis keys of `users`, each with its user: every key of a user
/// carries the user id in braces (its hash tag). Found by a SCAN of the
/// draft keys, since a shared Redis holds others' keys too.
pub async fn keys_of(
    redis: &mut impl ConnectionLike,
    users: &HashSet<Uuid>,
) -> RedisResult<Vec<(Uuid, String)>> {
    let mut found = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(draftd::stores::redis::keys::ALL_PATTERN)
            .arg("COUNT")
            .arg(1000)
            .query_async(redis)
            .await?;
        found.extend(batch.into_iter().filter_map(|key| {
            let (_, tagged) = key.split_once('{')?;
            let user: Uuid = tagged.split_once('}')?.0.parse().ok()?;
            users.contains(&user).then_some((user, key))
        }));
        if next == 0 {
            return Ok(found);
        }
        cursor = next;
    }
}

/// One delivery a webhook receiver accepted (2xx), as it came.
pub struct Accepted {
    pub webhook_id: String,
    pub kind: String,
    pub course: String,
}

/// What a receiver was told over a run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Announced {
    /// Events, one per `webhook-id`.
    pub events: usize,
    /// Deliveries accepted: an event delivered twice (at least once) counts twice.
    pub deliveries: usize,
    /// Courses announced deleted, each once.
    pub deleted: usize,
}

/// Checks the events each course's receiver got against what its visit
/// records ([`Visit::events`]): per course, the events in order, each
/// `webhook-id` counted once however often it was delivered, and nothing
/// about any other course.
pub fn check_events<'a>(
    courses: impl IntoIterator<Item = (String, Visit)>,
    accepted: impl IntoIterator<Item = &'a Accepted>,
) -> Result<Announced, String> {
    use std::collections::HashMap;

    let mut announced = Announced::default();
    let mut seen = HashSet::new();
    let mut told: HashMap<String, Vec<&str>> = HashMap::new();
    for delivery in accepted {
        announced.deliveries += 1;
        if seen.insert(delivery.webhook_id.as_str()) {
            announced.events += 1;
            announced.deleted += usize::from(delivery.kind == "course.deleted");
            told.entry(delivery.course.clone())
                .or_default()
                .push(delivery.kind.as_str());
        }
    }
    for (course, visit) in courses {
        let got = told.remove(&course).unwrap_or_default();
        if got != visit.events() {
            return Err(format!(
                "course {course} ({visit:?}): told {got:?}, expected {:?}",
                visit.events()
            ));
        }
    }
    match told.into_iter().next() {
        Some((course, got)) => Err(format!("told {got:?} of course {course}, of no visit")),
        None => Ok(announced),
    }
}
