//! Webhook deliveries: a task type of the job queue that POSTs each
//! lifecycle event to `DRAFTD_WEBHOOK_URL`, signed per Standard Webhooks, at
//! least once and in order per course (the course is the ordering key: a
//! dead event holds back the rest until redriven). A 429 or 503 with
//! `Retry-After` is tried again when the receiver asked (an hour at most).

pub mod sign;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use uuid::Uuid;

use super::queue::backoff::retry_after;
use super::queue::{Attempt, Failure, Queue, Runner, Task, TaskSettings};
use crate::domain::error::chain;
use crate::domain::event::{OutboxEvent, Verdict, DELIVERY_TASK};
use crate::domain::ids::CourseId;
use sign::SigningSecret;

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
    /// How often the queue is polled.
    pub poll: Duration,
    /// The store timeout: the lease covers an attempt and its store calls.
    pub store_timeout: Duration,
}

/// What a delivery runs with.
#[derive(Clone)]
pub struct WebhookContext {
    client: reqwest::Client,
    settings: Arc<WebhookSettings>,
}

/// Registers the delivery task type, polled every `settings.poll`.
pub fn register(runner: Runner, settings: WebhookSettings) -> anyhow::Result<Runner> {
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        // A redirect is not an answer: the receiver's URL is configured.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("draftd-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let task = TaskSettings {
        max_attempts: settings.max_attempts,
        backoff: settings.backoff,
        max_backoff: MAX_BACKOFF,
        // An attempt is bounded by the timeout; its lease covers it and the
        // store calls around it, twice over.
        lease: settings.timeout * 2 + settings.store_timeout,
    };
    let poll = settings.poll;
    let ctx = WebhookContext {
        client,
        settings: Arc::new(settings),
    };
    Ok(runner
        .register::<OutboxEvent>(ctx, task)
        .poll(Queue::Webhooks, poll))
}

impl Task for OutboxEvent {
    const NAME: &'static str = DELIVERY_TASK;
    const QUEUE: Queue = Queue::Webhooks;
    /// Delivered events stay a week, for an operator's look.
    const KEEP_DONE: bool = true;
    type Context = WebhookContext;

    fn course_id(&self) -> CourseId {
        self.course_id
    }

    fn ordering_key(&self) -> Option<Uuid> {
        Some(self.course_id.as_uuid())
    }

    async fn run(&self, ctx: &WebhookContext) -> Attempt {
        let started = Instant::now();
        let mut attempt = deliver(ctx, self).await;
        attempt.took = Some(started.elapsed());
        attempt
    }

    /// Each event of a batch is its course's first: they go at once.
    async fn run_batch(ctx: &WebhookContext, events: &[Self]) -> Vec<Attempt> {
        join_all(events.iter().map(|event| event.run(ctx))).await
    }
}

/// One POST of the event, signed with every secret, and what its answer means.
async fn deliver(ctx: &WebhookContext, event: &OutboxEvent) -> Attempt {
    let body = event.body();
    let id = event.webhook_id.to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign::signature(&ctx.settings.secrets, &id, timestamp, &body);
    let sent = ctx
        .client
        .post(ctx.settings.url.clone())
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) if e.is_timeout() => {
            let ms = ctx.settings.timeout.as_millis();
            return Attempt::failed(format!("no answer within {ms} ms"));
        }
        Err(e) => return Attempt::failed(chain(&e)),
    };
    let status = response.status().as_u16();
    let failure = |retry_after, fatal| Failure {
        error: format!("answered {status}"),
        retry_after,
        fatal,
    };
    let outcome = match Verdict::of_status(status) {
        Verdict::Delivered => Ok(()),
        Verdict::Gone => Err(failure(None, true)),
        Verdict::Busy => {
            let asked = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, chrono::Utc::now()));
            Err(failure(asked, false))
        }
        Verdict::Failed => Err(failure(None, false)),
    };
    Attempt {
        status: Some(status),
        took: None,
        outcome,
    }
}
