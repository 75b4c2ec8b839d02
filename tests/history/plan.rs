//! The plan a seed fixes: every actor's operations, in one global list, and
//! the client-side barriers of the races. Server interleavings still vary;
//! the plan does not.

use crate::rng::Rng;
use crate::storage::StorageKind;

/// Organizations, user slots per organization, actors per user slot.
pub const ORGS: usize = 2;
pub const USERS_PER_ORG: usize = 2;
pub const ACTORS_PER_USER: usize = 2;
pub const USER_ACTORS: usize = ORGS * USERS_PER_ORG * ACTORS_PER_USER;
pub const ADMIN_ACTOR: usize = USER_ACTORS;
pub const FAULT_ACTOR: usize = USER_ACTORS + 1;
pub const ACTORS: usize = USER_ACTORS + 2;

/// The form fields the history writes: each write stores a value no other
/// write stores, so the oracle knows which write a value came from.
pub const FIELDS: [&str; 3] = ["topic", "description", "targetAudience"];

/// How a request body is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    Whole,
    /// In chunks with pauses between them.
    Slow,
    /// Cut mid-body: the connection is dropped.
    Cut,
}

/// The write in flight in a race.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    Multipart,
    TusPatch,
    Materialize,
    Submit,
}

/// The deletion acknowledged while the write is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleter {
    Discard,
    DeleteForever,
    Trash,
    EraseUser,
    EraseOrg,
}

#[derive(Clone, Debug)]
pub enum Op {
    Create,
    Autosave {
        draft: u32,
        field: usize,
        if_match: bool,
    },
    Upload {
        draft: u32,
        size: usize,
        mode: BodyMode,
    },
    TusCreate {
        draft: u32,
        size: usize,
    },
    /// Sends half of what is left, or all of it.
    TusPatch {
        upload: u32,
        all: bool,
        mode: BodyMode,
    },
    TusTerminate {
        upload: u32,
    },
    Materialize {
        draft: u32,
    },
    Submit {
        draft: u32,
    },
    Discard {
        draft: u32,
    },
    Trash {
        draft: u32,
    },
    Restore {
        draft: u32,
    },
    DeleteForever {
        draft: u32,
    },
    DeleteFile {
        file: u32,
    },
    Read {
        draft: u32,
    },
    /// A fresh draft (materialized first or not), a write to it held
    /// mid-way, the deletion acknowledged, then the write released.
    Race {
        writer: Writer,
        deleter: Deleter,
        materialize_first: bool,
        size: usize,
    },
    // The admin's.
    PurgeRun,
    JanitorRun,
    EraseDry {
        org: usize,
        user: Option<usize>,
    },
    EraseOrg {
        org: usize,
    },
    Stats,
    // The fault injector's.
    KillReplica {
        replica: usize,
        down_ms: u64,
    },
    RestartRedis {
        down_ms: u64,
    },
}

/// One operation of one actor, after a think time.
#[derive(Clone, Debug)]
pub struct Step {
    pub actor: usize,
    pub pause_ms: u64,
    pub op: Op,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub seed: u64,
    pub steps: Vec<Step>,
    /// Whether faults are injected (the soak's measuring phase has none).
    pub faults: bool,
    pub storage: StorageKind,
}

/// The user slot an actor acts for.
pub fn slot_of(actor: usize) -> usize {
    actor / ACTORS_PER_USER
}

/// The organization slot of a user slot.
pub fn org_of(slot: usize) -> usize {
    slot / USERS_PER_ORG
}

impl Plan {
    /// Enough steps for `seconds` of history at the actors' pace; a run
    /// stops at its deadline, and only the steps run count.
    pub fn generate(seed: u64, seconds: u64, faults: bool) -> Plan {
        let mut rng = Rng::new(seed);
        let mut steps = Vec::new();
        let per_actor = (seconds * 6).max(20) as usize;
        let mut actors: Vec<Rng> = (0..ACTORS).map(|_| rng.fork()).collect();
        for round in 0..per_actor {
            for (actor, rng) in actors.iter_mut().enumerate() {
                let step = match actor {
                    ADMIN_ACTOR if round % 3 == 0 => admin_step(rng),
                    FAULT_ACTOR if faults && round % 50 == 25 => fault_step(rng),
                    ADMIN_ACTOR | FAULT_ACTOR => continue,
                    _ => user_step(actor, rng),
                };
                steps.push(step);
            }
        }
        Plan {
            seed,
            steps,
            faults,
            storage: StorageKind::of_seed(seed),
        }
    }
}

fn body_mode(rng: &mut Rng) -> BodyMode {
    [BodyMode::Whole, BodyMode::Slow, BodyMode::Cut][rng.weighted(&[60, 25, 15])]
}

fn size(rng: &mut Rng) -> usize {
    rng.range(1 << 10, 96 << 10) as usize
}

fn user_step(actor: usize, rng: &mut Rng) -> Step {
    let draft = rng.next_u64() as u32;
    // Weights: autosaves and uploads dominate, as on the page; deletions and
    // the forced races come often enough that every run crosses them.
    let weights = [10, 22, 12, 5, 6, 2, 5, 4, 4, 3, 3, 2, 2, 4, 7];
    let op = match rng.weighted(&weights) {
        0 => Op::Create,
        1 => Op::Autosave {
            draft,
            field: rng.below(FIELDS.len() as u64) as usize,
            if_match: rng.chance(30),
        },
        2 => Op::Upload {
            draft,
            size: size(rng),
            mode: body_mode(rng),
        },
        3 => Op::TusCreate {
            draft,
            size: size(rng),
        },
        4 => Op::TusPatch {
            upload: draft,
            all: rng.chance(50),
            mode: if rng.chance(20) {
                BodyMode::Cut
            } else {
                BodyMode::Whole
            },
        },
        5 => Op::TusTerminate { upload: draft },
        6 => Op::Materialize { draft },
        7 => Op::Submit { draft },
        8 => Op::Discard { draft },
        9 => Op::Trash { draft },
        10 => Op::Restore { draft },
        11 => Op::DeleteForever { draft },
        12 => Op::DeleteFile {
            file: rng.next_u64() as u32,
        },
        13 => Op::Read { draft },
        _ => Op::Race {
            writer: [
                Writer::Multipart,
                Writer::TusPatch,
                Writer::Materialize,
                Writer::Submit,
            ][rng.weighted(&[50, 20, 15, 15])],
            deleter: [
                Deleter::Discard,
                Deleter::DeleteForever,
                Deleter::Trash,
                Deleter::EraseUser,
                Deleter::EraseOrg,
            ][rng.weighted(&[35, 30, 15, 14, 6])],
            materialize_first: rng.chance(50),
            size: size(rng),
        },
    };
    Step {
        actor,
        pause_ms: rng.range(20, 250),
        op,
    }
}

fn admin_step(rng: &mut Rng) -> Step {
    let org = rng.below(ORGS as u64) as usize;
    let op = match rng.weighted(&[30, 20, 30, 3, 17]) {
        0 => Op::PurgeRun,
        1 => Op::JanitorRun,
        2 => Op::EraseDry {
            org,
            user: rng
                .chance(50)
                .then(|| org * USERS_PER_ORG + rng.below(USERS_PER_ORG as u64) as usize),
        },
        3 => Op::EraseOrg { org },
        _ => Op::Stats,
    };
    Step {
        actor: ADMIN_ACTOR,
        pause_ms: rng.range(300, 1200),
        op,
    }
}

fn fault_step(rng: &mut Rng) -> Step {
    let op = if rng.chance(60) {
        Op::KillReplica {
            replica: rng.below(2) as usize,
            down_ms: rng.range(300, 2000),
        }
    } else {
        Op::RestartRedis {
            down_ms: rng.range(100, 1000),
        }
    };
    Step {
        actor: FAULT_ACTOR,
        pause_ms: rng.range(4000, 10_000),
        op,
    }
}
