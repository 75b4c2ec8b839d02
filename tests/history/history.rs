//! The history: every request sent, what it meant to do, when it started and
//! ended, and its answer, or none. An unanswered request (the replica was
//! killed, the body cut, the client gave up) is undecided: it may or may not
//! have happened, and the oracle allows both.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Who a request speaks for: a user of an organization, and its token.
#[derive(Clone, Debug)]
pub struct Ident {
    pub user: Uuid,
    pub org: Uuid,
    pub token: String,
}

/// A draft as the history knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DraftRef {
    pub id: Uuid,
    pub user: Uuid,
    pub org: Uuid,
}

impl DraftRef {
    pub fn course(&self) -> Uuid {
        draftd::domain::course::course_id_for(self.id.into()).as_uuid()
    }
}

/// What a request meant to do, with the ids the oracle needs.
#[derive(Clone, Debug)]
pub enum Effect {
    Create {
        user: Uuid,
        org: Uuid,
        topic: String,
        draft: Option<Uuid>,
    },
    Save {
        draft: DraftRef,
        field: &'static str,
        value: String,
    },
    Upload {
        draft: DraftRef,
        sha256: String,
        file: Option<Uuid>,
    },
    TusCreate {
        draft: DraftRef,
        upload: Option<Uuid>,
    },
    /// A PATCH; `finishes` when it carries the last byte.
    TusPatch {
        draft: DraftRef,
        upload: Uuid,
        sha256: String,
        finishes: bool,
        file: Option<Uuid>,
    },
    TusTerminate {
        draft: DraftRef,
        upload: Uuid,
    },
    Materialize {
        draft: DraftRef,
    },
    Submit {
        draft: DraftRef,
    },
    Discard {
        draft: DraftRef,
    },
    Trash {
        draft: DraftRef,
    },
    Restore {
        draft: DraftRef,
    },
    DeleteForever {
        draft: DraftRef,
    },
    DeleteFile {
        draft: DraftRef,
        file: Uuid,
    },
    Read {
        draft: DraftRef,
    },
    /// An erase of a user or an organization, acknowledged once its job
    /// reported it finished.
    Erase {
        user: Option<Uuid>,
        org: Option<Uuid>,
        dry_run: bool,
    },
    /// A read or a job that changes nothing the oracle models directly.
    Admin,
    Fault,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// No answer: killed, cut, refused mid-way. May or may not have happened.
    Undecided(String),
    /// The client's timeout fired: undecided, and a complaint of its own.
    TimedOut,
}

impl Answer {
    pub fn ok(&self) -> bool {
        matches!(self, Answer::Status(s) if (200..300).contains(s))
    }

    pub fn undecided(&self) -> bool {
        !matches!(self, Answer::Status(_))
    }

    /// Happened, or may have.
    pub fn maybe(&self) -> bool {
        self.ok() || self.undecided()
    }
}

#[derive(Clone, Debug)]
pub struct Call {
    pub actor: usize,
    /// The plan's step it belongs to.
    pub step: usize,
    pub effect: Effect,
    pub label: String,
    pub started: Duration,
    pub ended: Duration,
    pub answer: Answer,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let answer = match &self.answer {
            Answer::Status(s) => s.to_string(),
            Answer::Undecided(why) => format!("undecided ({why})"),
            Answer::TimedOut => "timed out".into(),
        };
        write!(
            f,
            "[{:>7.3}-{:>7.3}] actor {} step {}: {} -> {}",
            self.started.as_secs_f64(),
            self.ended.as_secs_f64(),
            self.actor,
            self.step,
            self.label,
            answer
        )
    }
}

/// Shared by every actor; appended to as answers arrive.
#[derive(Clone)]
pub struct Recorder {
    epoch: Instant,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            epoch: Instant::now(),
            calls: Arc::default(),
        }
    }

    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    pub fn record(&self, call: Call) {
        self.calls.lock().expect("recorder lock").push(call);
    }

    pub fn calls(&self) -> Vec<Call> {
        let mut calls = self.calls.lock().expect("recorder lock").clone();
        calls.sort_by_key(|c| c.started);
        calls
    }
}
