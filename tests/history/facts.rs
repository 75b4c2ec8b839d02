//! What the history allows, derived from its calls alone: which drafts and
//! subjects a deletion acknowledged (nothing of them may remain), which may
//! or may not be gone, and which writes each live thing must show.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use uuid::Uuid;

use crate::faults::SETTLE;
use crate::history::{Answer, Call, DraftRef, Effect};

/// The deletion that dooms a draft (SPEC invariant 13's "acknowledged").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Discard,
    DeleteForever,
    EraseUser,
    EraseOrg,
}

/// One write of a form field: the create's topic, or an autosave.
#[derive(Clone, Debug)]
pub struct FieldWrite {
    pub value: String,
    pub started: Duration,
    pub ended: Duration,
    pub acked: bool,
}

#[derive(Clone, Debug)]
pub struct UploadFact {
    pub sha256: String,
    pub file: Option<Uuid>,
    pub acked: bool,
}

#[derive(Debug)]
pub struct DraftFacts {
    pub draft: DraftRef,
    /// The deletion acknowledged first, and when its answer came.
    pub doomed: Option<(Reason, Duration)>,
    /// A deletion, a trash or an erase was at least tried: its course may be
    /// gone or in the trash, so only the doomed checks apply.
    pub may_be_gone: bool,
    /// A submit that may have come before a discard keeps the course.
    pub submits: Vec<(Duration, bool)>,
    pub course_acked: bool,
    pub uploads: Vec<UploadFact>,
    pub deleted_files: HashSet<Uuid>,
    pub fields: HashMap<&'static str, Vec<FieldWrite>>,
    pub tus_uploads: HashSet<Uuid>,
}

impl DraftFacts {
    fn new(draft: DraftRef) -> DraftFacts {
        DraftFacts {
            draft,
            doomed: None,
            may_be_gone: false,
            submits: Vec::new(),
            course_acked: false,
            uploads: Vec::new(),
            deleted_files: HashSet::new(),
            fields: HashMap::new(),
            tus_uploads: HashSet::new(),
        }
    }

    fn doom(&mut self, reason: Reason, at: Duration) {
        if self.doomed.is_none_or(|(_, first)| at < first) {
            self.doomed = Some((reason, at));
        }
    }
}

pub struct Facts {
    pub drafts: HashMap<Uuid, DraftFacts>,
    /// Subjects whose erase reported finished.
    pub erased_users: HashMap<Uuid, Duration>,
    pub erased_orgs: HashMap<Uuid, Duration>,
    /// Every user the history used, with its organization.
    pub users: HashMap<Uuid, Uuid>,
    /// When a 5xx or no answer is the injected fault's doing.
    pub fault_windows: Vec<(Duration, Duration)>,
}

impl Facts {
    pub fn derive(calls: &[Call]) -> Facts {
        let mut facts = Facts {
            drafts: HashMap::new(),
            erased_users: HashMap::new(),
            erased_orgs: HashMap::new(),
            users: HashMap::new(),
            fault_windows: Vec::new(),
        };
        let mut discards = Vec::new();
        let mut erases_tried = Vec::new();
        for call in calls {
            let ok = call.answer.ok();
            let maybe = call.answer.maybe();
            if let Effect::Create {
                user,
                org,
                topic,
                draft,
            } = &call.effect
            {
                facts.users.insert(*user, *org);
                if let Some(id) = draft {
                    let d = DraftRef {
                        id: *id,
                        user: *user,
                        org: *org,
                    };
                    let entry = facts.draft(d);
                    entry.fields.entry("topic").or_default().push(FieldWrite {
                        value: topic.clone(),
                        started: call.started,
                        ended: call.ended,
                        acked: true,
                    });
                }
                continue;
            }
            match &call.effect {
                Effect::Erase {
                    user,
                    org,
                    dry_run: false,
                } => {
                    if maybe {
                        erases_tried.push((*user, *org));
                    }
                    if ok {
                        if let Some(u) = user {
                            facts.erased_users.insert(*u, call.ended);
                        }
                        if let Some(o) = org {
                            facts.erased_orgs.insert(*o, call.ended);
                        }
                    }
                }
                Effect::Fault => facts
                    .fault_windows
                    .push((call.started, call.ended + SETTLE)),
                _ => {}
            }
            let Some(d) = draft_of(&call.effect) else {
                continue;
            };
            let entry = facts.draft(d);
            match &call.effect {
                Effect::Save { field, value, .. } if maybe => {
                    entry.fields.entry(field).or_default().push(FieldWrite {
                        value: value.clone(),
                        started: call.started,
                        ended: call.ended,
                        acked: ok,
                    });
                }
                Effect::Upload { sha256, file, .. } if maybe => {
                    entry.uploads.push(UploadFact {
                        sha256: sha256.clone(),
                        file: *file,
                        acked: ok,
                    });
                    entry.course_acked |= ok;
                }
                // Only the last byte makes a file; but a HEAD may finish an
                // upload whose bytes all arrived before a crash (issue 23), so
                // any PATCH sent makes its file possible, not promised.
                Effect::TusPatch {
                    sha256,
                    finishes,
                    file,
                    upload,
                    ..
                } if maybe => {
                    let acked = ok && *finishes;
                    entry.uploads.push(UploadFact {
                        sha256: sha256.clone(),
                        file: *file,
                        acked,
                    });
                    entry.course_acked |= acked;
                    entry.tus_uploads.insert(*upload);
                }
                Effect::TusCreate {
                    upload: Some(id), ..
                }
                | Effect::TusPatch { upload: id, .. }
                | Effect::TusTerminate { upload: id, .. } => {
                    entry.tus_uploads.insert(*id);
                }
                Effect::Materialize { .. } => entry.course_acked |= ok,
                Effect::Submit { .. } if maybe => {
                    entry.course_acked |= ok;
                    entry.submits.push((call.started, ok));
                }
                Effect::DeleteFile { file, .. } if maybe => {
                    entry.deleted_files.insert(*file);
                }
                Effect::Discard { .. } if maybe => {
                    entry.may_be_gone = true;
                    if ok {
                        discards.push((d.id, call.ended));
                    }
                }
                Effect::DeleteForever { .. } | Effect::Trash { .. } if maybe => {
                    entry.may_be_gone = true;
                    if ok && matches!(call.effect, Effect::DeleteForever { .. }) {
                        entry.doom(Reason::DeleteForever, call.ended);
                    }
                }
                _ => {}
            }
        }
        // A discard keeps a course submitted before it (SPEC: "a submitted
        // course stays"); a submit racing it may have won, so it dooms only
        // drafts no submit could have reached first.
        for (id, at) in discards {
            let entry = facts
                .drafts
                .get_mut(&id)
                .expect("a discarded draft is known");
            if entry.submits.iter().all(|(started, _)| *started > at) {
                entry.doom(Reason::Discard, at);
            }
        }
        for entry in facts.drafts.values_mut() {
            let d = entry.draft;
            if let Some(at) = facts.erased_users.get(&d.user) {
                entry.doom(Reason::EraseUser, *at);
            }
            if let Some(at) = facts.erased_orgs.get(&d.org) {
                entry.doom(Reason::EraseOrg, *at);
            }
            if erases_tried
                .iter()
                .any(|(u, o)| *u == Some(d.user) || *o == Some(d.org))
            {
                entry.may_be_gone = true;
            }
        }
        facts
    }

    fn draft(&mut self, d: DraftRef) -> &mut DraftFacts {
        self.drafts
            .entry(d.id)
            .or_insert_with(|| DraftFacts::new(d))
    }

    /// Whether a call overlaps a fault's window.
    pub fn during_fault(&self, call: &Call) -> bool {
        self.fault_windows
            .iter()
            .any(|(from, to)| call.started <= *to && call.ended >= *from)
    }

    pub fn user_erased(&self, user: Uuid) -> Option<Reason> {
        if self.erased_users.contains_key(&user) {
            return Some(Reason::EraseUser);
        }
        let org = self.users.get(&user)?;
        self.erased_orgs
            .contains_key(org)
            .then_some(Reason::EraseOrg)
    }
}

pub fn draft_of(effect: &Effect) -> Option<DraftRef> {
    match effect {
        Effect::Save { draft, .. }
        | Effect::Upload { draft, .. }
        | Effect::TusCreate { draft, .. }
        | Effect::TusPatch { draft, .. }
        | Effect::TusTerminate { draft, .. }
        | Effect::Materialize { draft }
        | Effect::Submit { draft }
        | Effect::Discard { draft }
        | Effect::Trash { draft }
        | Effect::Restore { draft }
        | Effect::DeleteForever { draft }
        | Effect::DeleteFile { draft, .. }
        | Effect::Read { draft } => Some(*draft),
        _ => None,
    }
}

/// Whether the answer is a server error.
pub fn server_error(answer: &Answer) -> bool {
    matches!(answer, Answer::Status(s) if (500..600).contains(s))
}
