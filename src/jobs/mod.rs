//! Background work inside the service: the hourly janitor, the daily trash
//! purge and orphan sweep (cron, via tokio-cron-scheduler), the cleanup
//! worker and, with a webhook URL, the webhook worker (tasks).
//!
//! One file per job. Each exposes one step that the scheduler, the CLI, the
//! admin routes and the tests all call: [`Janitor::run`], [`Purge::run`],
//! [`OrphanSweep::run`], [`CleanupWorker::run_due`], [`erase::Eraser::run`]
//! (run on request and resumed by `app`), [`WebhookWorker::run_due`]. Jobs use
//! [`crate::domain`] and [`crate::stores`], nothing above them.

pub mod cleanup;
pub mod erase;
pub mod janitor;
pub mod orphans;
pub mod purge;
pub mod webhooks;

use std::future::Future;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler};

use cleanup::CleanupWorker;
use janitor::Janitor;
use orphans::OrphanSweep;
use purge::Purge;
use webhooks::WebhookWorker;

/// A cron expression that disables a scheduled job.
pub const OFF: &str = "off";

/// Every job, wired to its stores.
#[derive(Clone)]
pub struct Jobs {
    pub janitor: Janitor,
    pub purge: Purge,
    pub sweep: OrphanSweep,
    pub cleanup: CleanupWorker,
    /// Only while a webhook URL is configured.
    pub webhooks: Option<WebhookWorker>,
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
    worker: JoinHandle<()>,
    webhooks: Option<JoinHandle<()>>,
}

impl Background {
    /// Schedules the janitor, the purge and the orphan sweep, and starts the
    /// cleanup worker and the webhook worker.
    pub async fn start(jobs: &Jobs, schedules: &Schedules<'_>) -> anyhow::Result<Self> {
        let Jobs {
            janitor,
            purge,
            sweep,
            cleanup: worker,
            webhooks,
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
        let webhooks = webhooks.map(|w| tokio::spawn(w.run(stopped.clone())));
        let worker = tokio::spawn(worker.run(stopped));
        Ok(Self {
            scheduler,
            stop,
            worker,
            webhooks,
        })
    }

    /// Stops scheduling, lets the workers finish their current job or
    /// delivery, and waits.
    pub async fn shutdown(mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "scheduler did not shut down cleanly");
        }
        let _ = self.stop.send(true);
        let _ = self.worker.await;
        if let Some(webhooks) = self.webhooks {
            let _ = webhooks.await;
        }
    }
}

/// A queue worker's loop, until `stop` turns true: a pass whenever woken or
/// every `poll`. A failed pass is logged; the next one tries again.
async fn run_passes<F, Fut, E>(
    worker: &str,
    wake: &Notify,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
    pass: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    loop {
        if let Err(e) = pass().await {
            tracing::warn!(error = %e, "{worker} pass failed");
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}
