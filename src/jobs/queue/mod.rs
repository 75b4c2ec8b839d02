//! The job queue: one typed queue for every task, shaped like crates.io's
//! `BackgroundJob`. A [`Task`] has a name, a serde payload (the job row's
//! `jsonb`), an optional ordering key, and `run`. One [`Runner`] claims a
//! task's due jobs (`FOR UPDATE SKIP LOCKED`, under a lease), runs them, and
//! settles each: done, retried after a [`backoff`] with jitter (or what the
//! receiver's `Retry-After` asked), or dead until redriven. Every attempt is
//! kept (the newest 20 per job).
//!
//! Task types: the cleanup steps ([`super::cleanup`], enqueued by every
//! deletion's SQL) and webhook deliveries ([`super::webhooks`], enqueued by
//! every change's SQL while a webhook URL is set).
//!
//! The runner uses the queue's store ([`crate::stores::postgres::JobQueue`])
//! and the domain's job records; task types bring their own context.

pub mod backoff;
mod runner;

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ids::CourseId;

pub use runner::Runner;

/// The queues a runner works side by side: a slow webhook receiver does not
/// hold up the cleanup. Each has its own loop and poll interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    Cleanup,
    Webhooks,
}

/// A type of job.
pub trait Task: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
    /// The job row's `task`: stable, stored.
    const NAME: &'static str;
    const QUEUE: Queue;
    /// Jobs claimed (and run) at once.
    const BATCH: i64 = 32;
    /// Done jobs stay a while (for an operator's look) instead of going at once.
    const KEEP_DONE: bool = false;

    /// What a run needs: the stores, a client.
    type Context: Clone + Send + Sync + 'static;

    /// The course the job is about.
    fn course_id(&self) -> CourseId;

    /// Jobs of one key run one at a time, in the order they were enqueued.
    fn ordering_key(&self) -> Option<Uuid> {
        None
    }

    fn run(&self, ctx: &Self::Context) -> impl Future<Output = Attempt> + Send;

    /// Runs a claimed batch, one attempt per task in order: one at a time,
    /// unless the task type does better together.
    fn run_batch(ctx: &Self::Context, tasks: &[Self]) -> impl Future<Output = Vec<Attempt>> + Send {
        async move {
            let mut attempts = Vec::with_capacity(tasks.len());
            for task in tasks {
                attempts.push(task.run(ctx).await);
            }
            attempts
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The receiver's HTTP status, when there was one.
    pub status: Option<u16>,
    /// How long it took, when the task timed it itself (a batch run
    /// together is timed by the runner, whole).
    pub took: Option<Duration>,
    pub outcome: Result<(), Failure>,
}

/// Why an attempt failed, and what the task asks of the retry.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: String,
    /// The receiver said when to come back (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// No retry can succeed: dead at once.
    pub fatal: bool,
}

impl Attempt {
    pub fn done() -> Self {
        Self {
            status: None,
            took: None,
            outcome: Ok(()),
        }
    }

    pub fn failed(error: impl std::fmt::Display) -> Self {
        Self {
            status: None,
            took: None,
            outcome: Err(Failure {
                error: error.to_string(),
                retry_after: None,
                fatal: false,
            }),
        }
    }

    pub fn of<E: std::fmt::Display>(result: Result<(), E>) -> Self {
        result.map_or_else(Self::failed, |()| Self::done())
    }
}

/// How a task type's jobs are retried and leased.
#[derive(Debug, Clone, Copy)]
pub struct TaskSettings {
    pub max_attempts: i32,
    /// Wait after the first failure; doubles with each further one.
    pub backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// How long a claimed job is its runner's before it falls due again
    /// (a runner that dies lets it go so).
    pub lease: Duration,
}

/// What one pass over the due jobs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pass {
    pub done: u64,
    pub retried: u64,
    pub dead: u64,
}

impl Pass {
    fn add(&mut self, other: Pass) {
        self.done += other.done;
        self.retried += other.retried;
        self.dead += other.dead;
    }
}

/// Starts the runner's passes now rather than at the next poll: whoever
/// enqueues calls it. Cheap to clone; every loop of the runner sees it.
#[derive(Debug, Clone)]
pub struct Wake(watch::Sender<u64>);

impl Wake {
    pub fn new() -> Self {
        Self(watch::channel(0).0)
    }

    pub fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

impl Default for Wake {
    fn default() -> Self {
        Self::new()
    }
}
