//! The oracle: every store against what the history allows.
//!
//! - acknowledged ⊆ present ⊆ acknowledged ∪ undecided;
//! - nothing of a doomed draft or an erased subject anywhere, and its events
//!   end with its one `course.deleted` (SPEC invariants 9 and 13);
//! - a live course holds the acknowledged, undeleted uploads (and perhaps
//!   undecided ones), byte for byte; the quota accounting (file rows and
//!   upload reservations) equals the bytes present;
//! - every S3 part belongs to a recorded upload;
//! - a live draft's field holds a write no acknowledged write of that field
//!   overtook in real time (TTL expiry is out of the run: drafts live 24 h);
//! - no 5xx outside an injected fault, no request past its timeout.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use reqwest::Method;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::client::Api;
use crate::facts::{server_error, DraftFacts, Facts, Reason};
use crate::history::{Answer, Call};
use crate::snapshot::Snapshot;

/// What kind of broken promise: the summary counts them by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A course row, file row or stored object of a doomed draft or an
    /// erased subject: the cases 1 (discard), 2 (permanent delete)
    /// and 3 (user erase), and the same for an organization erase.
    Revived(ReasonKey),
    /// A Redis key, tus upload or staging file left behind (cases 4, 5).
    Leftover,
    /// Events after a course's `course.deleted`, or not exactly one of it.
    Events,
    /// An acknowledged draft, course or file missing.
    Lost,
    /// A stored file that differs from what was sent, or that nobody sent.
    Bytes,
    /// A field holding a value an acknowledged write had overtaken.
    Stale,
    ServerError,
    Hang,
}

/// `Reason`, ordered, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReasonKey {
    Discard,
    DeleteForever,
    EraseUser,
    EraseOrg,
}

impl From<Reason> for ReasonKey {
    fn from(r: Reason) -> ReasonKey {
        match r {
            Reason::Discard => ReasonKey::Discard,
            Reason::DeleteForever => ReasonKey::DeleteForever,
            Reason::EraseUser => ReasonKey::EraseUser,
            Reason::EraseOrg => ReasonKey::EraseOrg,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Complaint {
    pub kind: Kind,
    pub text: String,
}

impl fmt::Display for Complaint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.text)
    }
}

pub struct Oracle<'a> {
    pub facts: &'a Facts,
    pub snapshot: &'a Snapshot,
    pub root: &'a Path,
    pub complaints: Vec<Complaint>,
    /// How many things each check looked at (the soak report's "checks run").
    pub checked: std::collections::BTreeMap<&'static str, usize>,
}

impl Oracle<'_> {
    fn count(&mut self, check: &'static str) {
        *self.checked.entry(check).or_default() += 1;
    }

    fn complain(&mut self, kind: Kind, text: String) {
        self.complaints.push(Complaint { kind, text });
    }

    pub fn check_calls(&mut self, calls: &[Call]) {
        for call in calls {
            self.count("answers (5xx, timeouts)");
            if call.answer == Answer::TimedOut {
                self.complain(Kind::Hang, format!("no answer within the timeout: {call}"));
            }
            if server_error(&call.answer) && !self.facts.during_fault(call) {
                self.complain(Kind::ServerError, format!("5xx outside any fault: {call}"));
            }
        }
    }

    /// Nothing of a doomed draft is left anywhere.
    pub fn check_doomed(&mut self) {
        let facts = self.facts;
        for d in facts.drafts.values() {
            let Some((reason, at)) = d.doomed else {
                continue;
            };
            self.count("deleted drafts and courses");
            let (draft, course) = (d.draft, d.draft.course());
            let what = format!(
                "draft {} (course {course}) after its {reason:?} was acknowledged at {:.3}s",
                draft.id,
                at.as_secs_f64()
            );
            let mut revived = Vec::new();
            if let Some(row) = self.snapshot.course(course, draft.id) {
                revived.push(format!("a course row (status {})", row.status));
            }
            let file_rows = self.snapshot.files_of(course).count();
            if file_rows > 0 {
                revived.push(format!("{file_rows} file row(s)"));
            }
            let prefix = format!("{}/{course}/", draft.org);
            let stored = self.snapshot.stored_under(&prefix).count();
            if stored > 0 {
                revived.push(format!("{stored} stored object(s) or staging file(s)"));
            }
            if !revived.is_empty() {
                self.complain(
                    Kind::Revived(reason.into()),
                    format!("{what}: {}", revived.join(", ")),
                );
            }
            let key = draftd::stores::redis::keys::draft_key(draft.user.into(), draft.id.into());
            if self.snapshot.redis_keys.contains(&key) {
                self.complain(Kind::Leftover, format!("{what}: Redis key {key}"));
            }
            let tus = self
                .snapshot
                .tus
                .iter()
                .filter(|t| t.draft == draft.id)
                .count();
            let staged = d
                .tus_uploads
                .iter()
                .filter(|u| {
                    self.snapshot
                        .stored
                        .iter()
                        .any(|p| p.starts_with(&format!(".tus/{u}")))
                })
                .count();
            if tus + staged > 0 {
                self.complain(
                    Kind::Leftover,
                    format!("{what}: {tus} tus upload row(s), {staged} tus staging file(s)"),
                );
            }
            self.check_events(course, reason, &what);
        }
    }

    /// Its events, by distinct id, end with its one `course.deleted`. A
    /// course announced again after it (`course.materialized`,
    /// `file.uploaded`) was revived, even if a later deletion took it again.
    fn check_events(&mut self, course: Uuid, reason: Reason, what: &str) {
        let events = self.snapshot.events_of(course);
        let Some(first_deleted) = events.iter().position(|k| *k == "course.deleted") else {
            if !events.is_empty() {
                self.complain(
                    Kind::Events,
                    format!("{what}: no course.deleted in {events:?}"),
                );
            }
            return;
        };
        let deleted = events.iter().filter(|k| **k == "course.deleted").count();
        if events[first_deleted..]
            .iter()
            .any(|k| *k != "course.deleted")
        {
            self.complain(
                Kind::Revived(reason.into()),
                format!("{what}: announced again after course.deleted: {events:?}"),
            );
        } else if deleted != 1 {
            self.complain(
                Kind::Events,
                format!("{what}: {deleted} course.deleted in {events:?}"),
            );
        }
    }

    /// Nothing of an erased user or organization is left.
    pub fn check_erased_subjects(&mut self) {
        let facts = self.facts;
        let erased = |user: Uuid, org: Uuid| {
            facts.user_erased(user).or_else(|| {
                facts
                    .erased_orgs
                    .contains_key(&org)
                    .then_some(Reason::EraseOrg)
            })
        };
        let snapshot = self.snapshot;
        self.count("erased subjects: rows, objects, keys");
        for row in &snapshot.courses {
            if let Some(reason) = erased(row.owner, row.org) {
                let files = snapshot.files_of(row.id).count();
                self.complain(
                    Kind::Revived(reason.into()),
                    format!(
                        "erased subject (user {}, org {}) owns course {} ({}, {files} file row(s))",
                        row.owner, row.org, row.id, row.status
                    ),
                );
            }
        }
        for row in &snapshot.tus {
            if erased(row.owner, row.org).is_some() {
                self.complain(
                    Kind::Leftover,
                    format!(
                        "erased user {} still has tus upload {} (draft {})",
                        row.owner, row.id, row.draft
                    ),
                );
            }
        }
        for org in facts.erased_orgs.keys() {
            let prefix = format!("{org}/");
            let left: Vec<_> = snapshot.stored_under(&prefix).collect();
            if !left.is_empty() {
                self.complain(
                    Kind::Revived(ReasonKey::EraseOrg),
                    format!("erased org {org} still has stored files {left:?}"),
                );
            }
        }
        for (user, org) in &facts.users {
            if erased(*user, *org).is_none() {
                continue;
            }
            let sessions = draftd::stores::redis::keys::user_sessions_pattern((*user).into());
            let sessions = sessions.trim_end_matches('*');
            let index = draftd::stores::redis::keys::index_key((*user).into());
            let left: Vec<_> = snapshot
                .redis_keys
                .iter()
                .filter(|k| k.starts_with(sessions) || **k == index)
                .collect();
            if !left.is_empty() {
                self.complain(
                    Kind::Leftover,
                    format!("erased user {user}: Redis keys {left:?}"),
                );
            }
        }
    }

    /// Every S3 part belongs to an upload on record, which a finish, an
    /// abort or the orphan sweep will end.
    pub fn check_unrecorded_parts(&mut self) {
        self.count("S3 parts on record");
        if !self.snapshot.unrecorded_parts.is_empty() {
            let parts = self.snapshot.unrecorded_parts.join(", ");
            self.complain(
                Kind::Leftover,
                format!("S3 parts of no recorded upload: {parts}"),
            );
        }
    }

    /// What the quotas count is what is there: an organization's file rows
    /// add up to the bytes stored under its prefix, and an unfinished
    /// upload reserves its whole length (what it has stored counts against
    /// it), a finished one nothing (its file row counts instead).
    pub fn check_quota_accounting(&mut self) {
        let snapshot = self.snapshot;
        let mut counted: HashMap<Uuid, u64> = HashMap::new();
        for file in &snapshot.files {
            if let Some(course) = snapshot.courses.iter().find(|c| c.id == file.course) {
                *counted.entry(course.org).or_default() += u64::try_from(file.size).unwrap_or(0);
            }
        }
        let orgs: std::collections::HashSet<Uuid> = counted
            .keys()
            .chain(snapshot.bytes_by_org.keys())
            .copied()
            .collect();
        for org in orgs {
            self.count("quota accounting");
            let (rows, stored) = (
                counted.get(&org).copied().unwrap_or(0),
                snapshot.bytes_by_org.get(&org).copied().unwrap_or(0),
            );
            if rows != stored {
                self.complain(
                    Kind::Bytes,
                    format!("org {org}: file rows count {rows} bytes, {stored} are stored"),
                );
            }
        }
        for up in &snapshot.tus {
            let due = if up.finished { 0 } else { up.length };
            if up.reserved != due {
                self.complain(
                    Kind::Bytes,
                    format!(
                        "tus upload {}: reserves {} bytes, not {due}",
                        up.id, up.reserved
                    ),
                );
            }
        }
    }

    /// Live courses hold what was acknowledged, byte for byte.
    pub fn check_live_courses(&mut self) {
        let facts = self.facts;
        for d in facts.drafts.values().filter(|d| live(facts, d)) {
            let course = d.draft.course();
            self.count("live courses: files and bytes");
            let what = format!("draft {} (course {course})", d.draft.id);
            let Some(row) = self.snapshot.course(course, d.draft.id) else {
                if d.course_acked {
                    self.complain(
                        Kind::Lost,
                        format!("{what}: acknowledged course row missing"),
                    );
                }
                continue;
            };
            let present: Vec<_> = self.snapshot.files_of(row.id).collect();
            for up in d.uploads.iter().filter(|u| u.acked) {
                let Some(file) = up.file else { continue };
                if !d.deleted_files.contains(&file) && !present.iter().any(|f| f.id == file) {
                    self.complain(
                        Kind::Lost,
                        format!("{what}: acknowledged file {file} missing"),
                    );
                }
            }
            for row in &present {
                if !d.uploads.iter().any(|u| u.sha256 == row.sha256) {
                    self.complain(
                        Kind::Bytes,
                        format!(
                            "{what}: file {} ({}) matches no upload sent",
                            row.id, row.sha256
                        ),
                    );
                }
                let on_disk = std::fs::read(self.root.join(&row.storage_key))
                    .map(|b| hex::encode(Sha256::digest(&b)))
                    .unwrap_or_else(|e| format!("unreadable: {e}"));
                if on_disk != row.sha256 {
                    self.complain(
                        Kind::Bytes,
                        format!(
                            "{what}: file {} stored as {on_disk}, recorded {}",
                            row.id, row.sha256
                        ),
                    );
                }
            }
        }
    }

    /// Live drafts show, per field, a write nothing acknowledged overtook.
    pub async fn check_live_drafts(&mut self, api: &Api, tokens: &HashMap<Uuid, String>) {
        let facts = self.facts;
        for d in facts.drafts.values().filter(|d| live(facts, d)) {
            let Some(token) = tokens.get(&d.draft.user) else {
                continue;
            };
            self.count("live drafts: fields");
            let path = format!("/api/v1/drafts/{}", d.draft.id);
            let reply = api.send(api.request(Method::GET, &path, token)).await;
            if reply.status() != Some(200) {
                self.complain(
                    Kind::Lost,
                    format!("draft {}: GET answers {:?}", d.draft.id, reply.answer),
                );
                continue;
            }
            for (field, writes) in &d.fields {
                let actual = reply.body["formData"][field].as_str().map(str::to_owned);
                let allowed: Vec<&String> = writes
                    .iter()
                    .filter(|w| !writes.iter().any(|o| o.acked && o.started > w.ended))
                    .map(|w| &w.value)
                    .collect();
                let fine = match &actual {
                    Some(v) => allowed.contains(&v),
                    None => !writes.iter().any(|w| w.acked),
                };
                if !fine {
                    self.complain(
                        Kind::Stale,
                        format!(
                            "draft {} field {field} = {actual:?}; allowed {allowed:?}",
                            d.draft.id
                        ),
                    );
                }
            }
        }
    }
}

/// Neither doomed nor possibly gone, nor of an erased subject.
fn live(facts: &Facts, d: &DraftFacts) -> bool {
    d.doomed.is_none() && !d.may_be_gone && facts.user_erased(d.draft.user).is_none()
}
