//! The runner: registered task types, their claim-run-settle step, and the
//! loops that run it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde_json::Value;
use tokio::sync::watch;

use super::backoff::{backoff, MAX_RETRY_AFTER};
use super::{Attempt, Failure, Pass, Queue, Task, TaskSettings, Wake};
use crate::domain::job::{Claimed, JobStatus};
use crate::domain::{Backend, StoreError};
use crate::stores::postgres::queue::Settlement;
use crate::stores::postgres::JobQueue;

/// How often a queue is polled unless set.
const DEFAULT_POLL: Duration = Duration::from_secs(1);

type RunBatch =
    dyn Fn(Vec<Value>) -> Pin<Box<dyn Future<Output = Vec<Attempt>> + Send>> + Send + Sync;

/// A task type, its context bound in.
struct Registered {
    name: &'static str,
    queue: Queue,
    batch: i64,
    keep_done: bool,
    settings: TaskSettings,
    run: Box<RunBatch>,
}

/// Claims, runs and settles the jobs of every registered task type.
#[derive(Clone)]
pub struct Runner {
    store: JobQueue,
    tasks: Vec<Arc<Registered>>,
    polls: HashMap<Queue, Duration>,
    wake: Wake,
}

impl Runner {
    pub fn new(store: JobQueue, wake: Wake) -> Self {
        Self {
            store,
            tasks: Vec::new(),
            polls: HashMap::new(),
            wake,
        }
    }

    /// Adds a task type, run with `ctx`. Within a queue, task types run in
    /// the order they were registered.
    pub fn register<T: Task>(mut self, ctx: T::Context, settings: TaskSettings) -> Self {
        let run = move |payloads: Vec<Value>| {
            let ctx = ctx.clone();
            Box::pin(async move { run_payloads::<T>(&ctx, payloads).await })
                as Pin<Box<dyn Future<Output = Vec<Attempt>> + Send>>
        };
        self.tasks.push(Arc::new(Registered {
            name: T::NAME,
            queue: T::QUEUE,
            batch: T::BATCH,
            keep_done: T::KEEP_DONE,
            settings,
            run: Box::new(run),
        }));
        self
    }

    /// How often `queue` is looked at when nothing wakes the runner.
    pub fn poll(mut self, queue: Queue, every: Duration) -> Self {
        self.polls.insert(queue, every);
        self
    }

    pub fn wake(&self) {
        self.wake.wake();
    }

    /// A handle that wakes this runner, for whoever enqueues.
    pub fn waker(&self) -> Wake {
        self.wake.clone()
    }

    /// Enqueues `task` and wakes the runner: work no change's SQL records
    /// (those enqueue in their own transaction). The job's id.
    pub async fn enqueue<T: Task>(&self, task: &T) -> Result<i64, StoreError> {
        let payload = serde_json::to_value(task)
            .map_err(|e| StoreError::corrupt(Backend::Postgres, e.to_string()))?;
        let id = self
            .store
            .push(T::NAME, &payload, task.course_id(), task.ordering_key())
            .await?;
        self.wake();
        Ok(id)
    }

    /// Whether a task type of `queue` is registered.
    pub fn serves(&self, queue: Queue) -> bool {
        self.tasks.iter().any(|t| t.queue == queue)
    }

    /// The task types of `queue`, by name.
    pub fn task_names(&self, queue: Queue) -> Vec<&'static str> {
        self.of(queue).map(|t| t.name).collect()
    }

    fn of(&self, queue: Queue) -> impl Iterator<Item = &Arc<Registered>> {
        self.tasks.iter().filter(move |t| t.queue == queue)
    }

    /// Runs until `stop` turns true: each queue its own loop, a pass
    /// whenever woken or every poll interval.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let mut queues: Vec<Queue> = Vec::new();
        for task in &self.tasks {
            if !queues.contains(&task.queue) {
                queues.push(task.queue);
            }
        }
        join_all(queues.into_iter().map(|q| self.run_queue(q, stop.clone()))).await;
    }

    async fn run_queue(&self, queue: Queue, mut stop: watch::Receiver<bool>) {
        let mut woken = self.wake.subscribe();
        let poll = self.polls.get(&queue).copied().unwrap_or(DEFAULT_POLL);
        // The first pass waits for a wake or a poll interval like the others:
        // a starting replica does not race the steps a test or the CLI runs.
        // The interval keeps its beat through wakes, so a busy queue is still
        // pruned and counted every poll interval.
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // A wake means jobs were enqueued here: run them, and leave the
            // pruning and the gauges to the interval.
            let polled = tokio::select! {
                Ok(()) = woken.changed() => false,
                _ = every.tick() => true,
                _ = stop.changed() => false,
            };
            if *stop.borrow() {
                break;
            }
            let pass = match polled {
                true => self.tick(queue).await,
                false => self.run_due(queue).await,
            };
            if let Err(e) = pass {
                tracing::warn!(error = %e, queue = ?queue, "job queue pass failed");
            }
        }
    }

    /// One pass of the loop: the due jobs, then the done jobs past their
    /// keeping, then the gauges (every replica reads the same queue, so
    /// they agree).
    pub async fn tick(&self, queue: Queue) -> Result<Pass, StoreError> {
        let pass = self.run_due(queue).await?;
        self.store.prune_done().await?;
        for (task, counts) in self.store.counts_by_task(&self.task_names(queue)).await? {
            metrics::gauge!("draftd_jobs_pending", "task" => task.clone())
                .set(counts.pending as f64);
            metrics::gauge!("draftd_jobs_dead", "task" => task).set(counts.dead as f64);
        }
        Ok(pass)
    }

    /// Runs every job of `queue` due now, until none is: the step the
    /// tests, the CLI and the erase call.
    pub async fn run_due(&self, queue: Queue) -> Result<Pass, StoreError> {
        // Rows an old replica left (a rolling upgrade) join the queue first.
        while self.store.adopt_legacy().await? > 0 {}
        let mut pass = Pass::default();
        for task in self.of(queue) {
            pass.add(self.run_task(task).await?);
        }
        Ok(pass)
    }

    async fn run_task(&self, task: &Registered) -> Result<Pass, StoreError> {
        let mut pass = Pass::default();
        let lease = task.settings.lease.as_secs_f64();
        loop {
            let jobs = self.store.claim(task.name, task.batch, lease).await?;
            if jobs.is_empty() {
                return Ok(pass);
            }
            let (started_at, started) = (Utc::now(), Instant::now());
            let payloads = jobs.iter().map(|job| job.payload.clone()).collect();
            let attempts = (task.run)(payloads).await;
            let took = started.elapsed();
            for (job, attempt) in jobs.iter().zip(attempts) {
                let status = self.settle(task, job, attempt, started_at, took).await?;
                match status {
                    JobStatus::Done => pass.done += 1,
                    JobStatus::Pending => pass.retried += 1,
                    JobStatus::Dead => pass.dead += 1,
                }
            }
        }
    }

    /// Records an attempt: done, due again after a backoff (or what the
    /// receiver asked for), or dead.
    async fn settle(
        &self,
        task: &Registered,
        job: &Claimed,
        attempt: Attempt,
        started_at: DateTime<Utc>,
        batch_took: Duration,
    ) -> Result<JobStatus, StoreError> {
        let settings = &task.settings;
        let (status, wait, error) = match attempt.outcome {
            Ok(()) => (JobStatus::Done, Duration::ZERO, None),
            Err(Failure { error, fatal, .. }) if fatal || job.attempts >= settings.max_attempts => {
                (JobStatus::Dead, Duration::ZERO, Some(error))
            }
            Err(Failure {
                error, retry_after, ..
            }) => {
                let wait = retry_after.map_or_else(
                    || backoff(settings, job.id, job.attempts),
                    |asked| asked.min(MAX_RETRY_AFTER),
                );
                (JobStatus::Pending, wait, Some(error))
            }
        };
        let took = attempt.took.unwrap_or(batch_took);
        let settlement = Settlement {
            status,
            retry_in_secs: wait.as_secs_f64(),
            keep_done: task.keep_done,
            started_at,
            duration_ms: i32::try_from(took.as_millis()).unwrap_or(i32::MAX),
            http_status: attempt.status.and_then(|s| i16::try_from(s).ok()),
            error,
        };
        self.store.settle(job, &settlement).await?;
        log(task.name, job, &settlement, wait);
        let outcome = match status {
            JobStatus::Done => "done",
            JobStatus::Pending => "retried",
            JobStatus::Dead => "dead",
        };
        metrics::counter!("draftd_jobs_total", "task" => task.name, "outcome" => outcome)
            .increment(1);
        Ok(status)
    }
}

fn log(task: &str, job: &Claimed, settled: &Settlement, wait: Duration) {
    let error = settled.error.as_deref().unwrap_or_default();
    match settled.status {
        JobStatus::Done => {}
        JobStatus::Pending => tracing::warn!(
            task,
            job = job.id,
            attempt = job.attempts,
            error,
            retry_in_ms = wait.as_millis() as u64,
            "job failed; will retry"
        ),
        JobStatus::Dead => tracing::error!(
            task,
            job = job.id,
            attempt = job.attempts,
            error,
            "job is dead until redriven"
        ),
    }
}

/// Reads the payloads as `T` and runs them as a batch; a payload that does
/// not read is dead at once (no retry will read it).
async fn run_payloads<T: Task>(ctx: &T::Context, payloads: Vec<Value>) -> Vec<Attempt> {
    let mut tasks = Vec::with_capacity(payloads.len());
    let mut unread = Vec::with_capacity(payloads.len());
    for payload in payloads {
        match serde_json::from_value::<T>(payload) {
            Ok(task) => {
                tasks.push(task);
                unread.push(None);
            }
            Err(e) => unread.push(Some(Attempt {
                status: None,
                took: None,
                outcome: Err(Failure {
                    error: format!("a {} payload that does not read: {e}", T::NAME),
                    retry_after: None,
                    fatal: true,
                }),
            })),
        }
    }
    let mut ran = T::run_batch(ctx, &tasks).await.into_iter();
    unread
        .into_iter()
        .map(|slot| {
            slot.or_else(|| ran.next())
                .unwrap_or_else(|| Attempt::failed("the task answered no attempt"))
        })
        .collect()
}
