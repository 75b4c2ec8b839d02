//! The webhook worker: delivers the outbox's lifecycle events to
//! `DRAFTD_WEBHOOK_URL`, signed per Standard Webhooks, at least once and in
//! order per course (only a course's first undelivered event is claimed, so a
//! dead one holds back the rest until redriven). Every replica runs one; they
//! share the outbox through `FOR UPDATE SKIP LOCKED` and a lease.

pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;
use tokio::sync::{watch, Notify};
use utoipa::ToSchema;

use crate::domain::event::{DeliveryOutcome, OutboxEvent, Verdict};
use crate::domain::StoreError;
use crate::stores::postgres::Outbox;
use sign::SigningSecret;

/// Events claimed (and delivered concurrently, each to a different course) at once.
const CLAIM_BATCH: i64 = 32;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: reqwest::Url,
    pub secrets: Vec<SigningSecret>,
    /// One attempt's limit, connection included.
    pub timeout: Duration,
    pub max_attempts: i32,
    /// Wait after the first failure; doubles with each further one.
    pub backoff: Duration,
    /// How often the outbox is polled.
    pub poll: Duration,
    /// The store timeout: the lease covers an attempt and its store calls.
    pub store_timeout: Duration,
}

/// What one pass over the due events did.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPass {
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
}

#[derive(Clone)]
pub struct WebhookWorker {
    outbox: Outbox,
    client: reqwest::Client,
    settings: Arc<WebhookSettings>,
    wake: Arc<Notify>,
}

/// How an attempt ended: the receiver's status, or why there was none.
enum Answer {
    Status(u16),
    Error(String),
}

impl WebhookWorker {
    pub fn new(outbox: Outbox, settings: WebhookSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirect is not an answer: the receiver's URL is configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("draftd-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            outbox,
            client,
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
        })
    }

    /// Starts a pass now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `stop` turns true: a pass whenever woken or every poll interval.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        super::run_passes("webhook", &self.wake, self.settings.poll, stop, || {
            self.pass()
        })
        .await;
    }

    /// Delivers the due events, removes old delivered ones, then sets the
    /// outbox's gauges (every replica reads the same outbox, so they agree).
    async fn pass(&self) -> Result<(), StoreError> {
        self.run_due().await?;
        self.outbox.prune_delivered().await?;
        let (pending, dead) = self.outbox.counts().await?;
        metrics::gauge!("draftd_webhook_events_pending").set(pending as f64);
        metrics::gauge!("draftd_webhook_events_dead").set(dead as f64);
        Ok(())
    }

    /// Attempts every event due now, each its course's first undelivered
    /// one, until none is due: the step the tests and the CLI call.
    pub async fn run_due(&self) -> Result<DeliveryPass, StoreError> {
        let mut pass = DeliveryPass::default();
        loop {
            let events = self.outbox.claim(CLAIM_BATCH, self.lease_secs()).await?;
            if events.is_empty() {
                return Ok(pass);
            }
            let answers = join_all(events.iter().map(|event| self.attempt(event))).await;
            for (event, answer) in events.iter().zip(answers) {
                let outcome = self.settle(event, answer).await?;
                metrics::counter!("draftd_webhook_deliveries_total", "outcome" => outcome.as_str())
                    .increment(1);
                match outcome {
                    DeliveryOutcome::Delivered => pass.delivered += 1,
                    DeliveryOutcome::Retried => pass.retried += 1,
                    DeliveryOutcome::Dead => pass.dead += 1,
                }
            }
        }
    }

    /// An attempt is bounded by the timeout; its lease covers it and the
    /// store calls around it, twice over.
    fn lease_secs(&self) -> f64 {
        (self.settings.timeout * 2 + self.settings.store_timeout).as_secs_f64()
    }

    /// One POST of the event, signed with every secret.
    async fn attempt(&self, event: &OutboxEvent) -> Answer {
        let body = event.body();
        let id = event.webhook_id.to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign::signature(&self.settings.secrets, &id, timestamp, &body);
        let sent = self
            .client
            .post(self.settings.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => Answer::Status(response.status().as_u16()),
            Err(e) if e.is_timeout() => Answer::Error(format!(
                "no answer within {} ms",
                self.settings.timeout.as_millis()
            )),
            Err(e) => Answer::Error(error_chain(&e)),
        }
    }

    /// Records an attempt's outcome: delivered, or due again later, or dead.
    async fn settle(
        &self,
        event: &OutboxEvent,
        answer: Answer,
    ) -> Result<DeliveryOutcome, StoreError> {
        let (verdict, error) = match answer {
            Answer::Status(status) => (Verdict::of_status(status), format!("answered {status}")),
            Answer::Error(error) => (Verdict::Failed, error),
        };
        let dead = match verdict {
            Verdict::Delivered => {
                self.outbox.delivered(event.id).await?;
                return Ok(DeliveryOutcome::Delivered);
            }
            Verdict::Gone => true,
            Verdict::Failed => event.attempts >= self.settings.max_attempts,
        };
        let backoff = backoff(self.settings.backoff, event.attempts);
        self.outbox
            .failed(event.id, &error, dead, backoff.as_secs_f64())
            .await?;
        if dead {
            tracing::error!(event = event.id, webhook_id = %event.webhook_id,
                course = %event.course_id, kind = event.kind.as_str(), attempt = event.attempts,
                error, "webhook delivery failed; the event is dead until redriven");
            Ok(DeliveryOutcome::Dead)
        } else {
            tracing::warn!(event = event.id, webhook_id = %event.webhook_id,
                course = %event.course_id, kind = event.kind.as_str(), attempt = event.attempts,
                error, retry_in_ms = backoff.as_millis() as u64,
                "webhook delivery failed; will retry");
            Ok(DeliveryOutcome::Retried)
        }
    }
}

/// The wait after the `attempts`-th failure: `base`, doubling, at most
/// [`MAX_BACKOFF`].
fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    base.saturating_mul(2u32.pow(exponent)).min(MAX_BACKOFF)
}

/// An error with its causes, for the log and the event's `last_error`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 4), Duration::from_secs(240));
        assert_eq!(backoff(base, 30), MAX_BACKOFF);
    }
}
