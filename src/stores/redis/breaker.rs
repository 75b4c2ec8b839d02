//! After a Redis call fails slowly, the calls of the next store timeout fail
//! at once instead of each waiting it out: while Redis is partitioned away,
//! new drafts go to Postgres and the rest answer 503 without delay. Only a
//! slow failure opens it: a refused connection fails fast by itself, and one
//! broken pooled connection must not send every draft elsewhere.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::domain::{Backend, StoreError};
use crate::stores::bounded;

/// A failure this slow was a timeout at some layer (connecting, the response,
/// the pool, or the store timeout): Redis answers in about a millisecond.
const SLOW_FAILURE: Duration = Duration::from_millis(250);

pub struct Breaker {
    since: Instant,
    /// Milliseconds after `since` until which calls fail at once.
    open_until: AtomicU64,
    /// Every call's deadline, and how long the breaker stays open.
    timeout: Duration,
}

impl Breaker {
    pub fn new(timeout: Duration) -> Self {
        Self {
            since: Instant::now(),
            open_until: 0.into(),
            timeout,
        }
    }

    /// Runs a call under the store timeout, unless the breaker is open.
    pub async fn call<T, E: Into<StoreError>>(
        &self,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, StoreError> {
        if self.is_open() {
            metrics::counter!("draftd_redis_calls_skipped_total").increment(1);
            return Err(StoreError::Skipped {
                backend: Backend::Redis,
                window: self.timeout,
            });
        }
        let started = Instant::now();
        let result = bounded(Backend::Redis, self.timeout, call).await;
        if result.is_err() && started.elapsed() >= SLOW_FAILURE {
            self.open();
        }
        result
    }

    fn now_ms(&self) -> u64 {
        millis(self.since.elapsed())
    }

    fn is_open(&self) -> bool {
        self.now_ms() < self.open_until.load(Ordering::Relaxed)
    }

    fn open(&self) {
        let until = self.now_ms().saturating_add(millis(self.timeout));
        self.open_until.fetch_max(until, Ordering::Relaxed);
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
