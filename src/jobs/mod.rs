//! Background work inside the service: the hourly janitor, the daily trash
//! purge and orphan sweep (cron, via tokio-cron-scheduler), and the job
//! queue's runner ([`queue`]), whose task types are the cleanup steps
//! ([`cleanup`]) and, with a webhook URL, webhook deliveries ([`webhooks`]).
//!
//! One file per job. Each exposes one step that the scheduler, the CLI, the
//! admin routes and the tests all call: [`Janitor::run`], [`Purge::run`],
//! [`OrphanSweep::run`], [`Runner::run_due`], [`erase::Eraser::run`] (run on
//! request and resumed by `app`). Jobs use [`crate::domain`] and
//! [`crate::stores`], nothing above them.

pub mod cleanup;
pub mod erase;
pub mod janitor;
pub mod orphans;
pub mod purge;
pub mod queue;
pub mod webhooks;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler};

use janitor::Janitor;
use orphans::OrphanSweep;
use purge::Purge;
use queue::Runner;

/// A cron expression that disables a scheduled job.
pub const OFF: &str = "off";

/// Every job, wired to its stores.
#[derive(Clone)]
pub struct Jobs {
    pub janitor: Janitor,
    pub purge: Purge,
    pub sweep: OrphanSweep,
    /// The job queue's runner: cleanup steps, and webhook deliveries while a
    /// webhook URL is configured.
    pub queue: Runner,
}

/// When the scheduled jobs run: six-field cron expressions (UTC), or [`OFF`].
pub struct Schedules<'a> {
    pub janitor: &'a str,
    pub purge: &'a str,
    pub sweep: &'a str,
}

/// The running background work; [`Background::shutdown`] stops it cleanly.
pub struct Background {
    scheduler: JobScheduler,
    stop: watch::Sender<bool>,
    runner: JoinHandle<()>,
}

impl Background {
    /// Schedules the janitor, the purge and the orphan sweep, and starts the
    /// job queue's runner.
    pub async fn start(jobs: &Jobs, schedules: &Schedules<'_>) -> anyhow::Result<Self> {
        let Jobs {
            janitor,
            purge,
            sweep,
            queue,
        } = jobs.clone();
        let Schedules {
            janitor: janitor_cron,
            purge: purge_cron,
            sweep: sweep_cron,
        } = *schedules;
        let scheduler = JobScheduler::new().await?;
        if purge_cron != OFF {
            let job = Job::new_async(purge_cron, move |_, _| {
                let purge = purge.clone();
                Box::pin(async move {
                    // The run logs its own outcome; a failure waits for the next tick.
                    let _ = purge.run(false).await;
                })
            })
            .map_err(|e| anyhow::anyhow!("DRAFTD_PURGE_CRON {purge_cron:?}: {e}"))?;
            scheduler.add(job).await?;
        }
        if janitor_cron != OFF {
            let job = Job::new_async(janitor_cron, move |_, _| {
                let janitor = janitor.clone();
                Box::pin(async move {
                    // The run logs its own outcome; a failure waits for the next tick.
                    let _ = janitor.run(false).await;
                })
            })
            .map_err(|e| anyhow::anyhow!("DRAFTD_JANITOR_CRON {janitor_cron:?}: {e}"))?;
            scheduler.add(job).await?;
        }
        if sweep_cron != OFF {
            let job = Job::new_async(sweep_cron, move |_, _| {
                let sweep = sweep.clone();
                Box::pin(async move {
                    if let Err(e) = sweep.run(false).await {
                        tracing::error!(error = %e, "orphan sweep failed");
                    }
                })
            })
            .map_err(|e| anyhow::anyhow!("DRAFTD_ORPHAN_SWEEP_CRON {sweep_cron:?}: {e}"))?;
            scheduler.add(job).await?;
        }
        scheduler.start().await?;
        let (stop, stopped) = watch::channel(false);
        let runner = tokio::spawn(queue.run(stopped));
        Ok(Self {
            scheduler,
            stop,
            runner,
        })
    }

    /// Stops scheduling, lets the runner finish its current jobs, and waits.
    pub async fn shutdown(mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "scheduler did not shut down cleanly");
        }
        let _ = self.stop.send(true);
        let _ = self.runner.await;
    }
}
