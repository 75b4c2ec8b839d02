//! Load generation: an open-loop generator (requests leave on schedule,
//! whatever the answers do, and latency counts from the scheduled instant, so
//! a stalled server cannot hide its queueing) and a closed-loop sampler.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies in microseconds, and how many calls failed.
#[derive(Clone)]
pub struct Sample {
    pub histogram: Histogram<u64>,
    pub errors: u64,
    pub elapsed: Duration,
}

impl Sample {
    fn new() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            errors: 0,
            elapsed: Duration::ZERO,
        }
    }

    /// No calls yet: a sample to [`Sample::merge`] others into.
    pub fn empty() -> Self {
        Self::new()
    }

    /// Adds `other`'s calls to these.
    pub fn merge(&mut self, other: &Sample) {
        let _ = self.histogram.add(&other.histogram);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
    }

    /// A percentile in milliseconds.
    pub fn ms(&self, percentile: f64) -> f64 {
        self.histogram.value_at_quantile(percentile / 100.0) as f64 / 1000.0
    }

    pub fn throughput(&self) -> f64 {
        self.histogram.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn record(&mut self, started: Instant, ok: bool) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let _ = self.histogram.record(micros.max(1));
        if !ok {
            self.errors += 1;
        }
    }
}

/// `clients` clients, each calling `op(client)` once per `interval`, phases
/// spread evenly, for `duration`. Calls still running at the end are awaited.
pub async fn open_loop<F, Fut>(
    clients: usize,
    interval: Duration,
    duration: Duration,
    op: F,
) -> Sample
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    open_loop_while(clients, interval, |elapsed| elapsed < duration, op).await
}

/// tokio's timer resolution.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// Like [`open_loop`], for as long as `go_on(elapsed)` says.
pub async fn open_loop_while<F, Fut>(
    clients: usize,
    interval: Duration,
    go_on: impl Fn(Duration) -> bool,
    op: F,
) -> Sample
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let sample = Arc::new(Mutex::new(Sample::new()));
    let start = tokio::time::Instant::now();
    let gap = interval / clients as u32;
    let mut tasks = Vec::new();
    for i in 0.. {
        let due = start + gap * i as u32;
        if !go_on(due - start) {
            break;
        }
        // A timer fires on a millisecond tick, up to a tick late: wake a tick
        // early, and count from the send if it is early, else from the
        // scheduled instant (a late generator's wait counts).
        tokio::time::sleep_until(due.checked_sub(TIMER_TICK).unwrap_or(start)).await;
        let call = op(i % clients);
        let sample = sample.clone();
        let counted_from = due.into_std().min(Instant::now());
        tasks.push(tokio::spawn(async move {
            let ok = call.await;
            sample
                .lock()
                .expect("not poisoned")
                .record(counted_from, ok);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let mut sample = sample.lock().expect("not poisoned").clone();
    sample.elapsed = start.elapsed();
    sample
}

/// `calls` calls one after another.
pub async fn closed_loop<F, Fut>(calls: usize, mut op: F) -> Sample
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut sample = Sample::new();
    let start = Instant::now();
    for i in 0..calls {
        let started = Instant::now();
        let ok = op(i).await;
        sample.record(started, ok);
    }
    sample.elapsed = start.elapsed();
    sample
}

impl Sample {
    /// A sample of durations measured elsewhere.
    pub fn from_durations(durations: &[Duration]) -> Self {
        let mut sample = Self::new();
        for d in durations {
            let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
            let _ = sample.histogram.record(micros.max(1));
        }
        sample
    }
}
