//! The job queue's runner, wired: which task types it runs, how often.

use std::time::Duration;

use crate::config::Config;
use crate::domain::cleanup::CleanupPolicy;
use crate::jobs::cleanup::{self, CleanupContext};
use crate::jobs::queue::{Queue, Runner, Wake};
use crate::jobs::webhooks::{self, WebhookSettings};
use crate::stores::postgres::JobQueue;

/// The job queue's runner with every task type registered: the cleanup
/// steps, and webhook deliveries while a URL is configured.
pub(super) fn job_runner(
    queue: &JobQueue,
    cleanup: CleanupContext,
    config: &Config,
    policy: CleanupPolicy,
    webhook: Option<WebhookSettings>,
    wake: Wake,
) -> anyhow::Result<Runner> {
    let runner = Runner::new(queue.clone(), wake).poll(
        Queue::Cleanup,
        Duration::from_millis(config.cleanup_poll_ms),
    );
    let backoff = Duration::from_millis(config.cleanup_backoff_ms);
    let runner = cleanup::register(runner, cleanup, policy, backoff);
    match webhook {
        Some(settings) => webhooks::register(runner, settings),
        None => Ok(runner),
    }
}
