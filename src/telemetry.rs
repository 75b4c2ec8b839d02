//! Structured logs: one JSON object per line, each carrying the fields of the
//! span it happened in (a request's id and method). A request's last line,
//! `close`, adds its route, status and time.
//!
//! One kind of line is held in check: actix-http logs every HTTP/1 connection
//! it gives up on (a malformed or oversized request head, a body cut off) as an
//! ERROR of its own, one line per bad request, so any client could flood the
//! log. Those become one WARN a second at most, counting the ones held back,
//! and the counter `draftd_http_protocol_errors_total`.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Where actix-http's HTTP/1 dispatcher and decoder log.
const HTTP1_TARGET: &str = "actix_http::h1";

/// Installs the global JSON logger. `filter` uses `EnvFilter` syntax.
pub fn init(filter: &str) {
    init_to(filter, std::io::stdout);
}

/// The same logger writing to stderr: for a command whose stdout is its
/// answer (`draftd erase`).
pub fn init_stderr(filter: &str) {
    init_to(filter, std::io::stderr);
}

fn init_to<W>(filter: &str, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Each line carries the fields of the span it happened in: a request's
    // id and method. Spans do not nest here, so the list of them would only
    // repeat it.
    let json = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(ProtocolErrors::new(Duration::from_secs(1)))
        .try_init();
}

/// At most one line per period; counts the ones it holds back.
#[derive(Debug)]
pub struct RateLimit {
    period: Duration,
    state: Mutex<LimitState>,
}

#[derive(Debug, Default)]
struct LimitState {
    last: Option<Instant>,
    held_back: u64,
}

impl RateLimit {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            state: Mutex::default(),
        }
    }

    /// `Some(n)`: write a line now, `n` were held back since the last one;
    /// `None`: hold this one back.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.period)
        {
            state.held_back += 1;
            return None;
        }
        state.last = Some(now);
        Some(std::mem::take(&mut state.held_back))
    }
}

/// Turns actix-http's per-connection errors into rate-limited warnings.
struct ProtocolErrors {
    limit: RateLimit,
}

impl ProtocolErrors {
    fn new(period: Duration) -> Self {
        Self {
            limit: RateLimit::new(period),
        }
    }
}

fn is_protocol_error(metadata: &Metadata<'_>) -> bool {
    metadata.is_event()
        && *metadata.level() <= Level::WARN
        && metadata.target().starts_with(HTTP1_TARGET)
}

impl<S: Subscriber> Layer<S> for ProtocolErrors {
    /// Drops the original event for every layer; writes a warning in its
    /// place when the rate allows.
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        if !is_protocol_error(event.metadata()) {
            return true;
        }
        metrics::counter!("draftd_http_protocol_errors_total").increment(1);
        if let Some(held_back) = self.limit.admit(Instant::now()) {
            let mut message = Message::default();
            event.record(&mut message);
            tracing::warn!(
                target: "draftd::http",
                error = %message.0,
                held_back,
                "an HTTP/1 connection was closed on a protocol error (a malformed \
                 request, most often); at most one such line a second"
            );
        }
        false
    }
}

/// The `message` field of an event.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_period_and_the_count_of_the_rest() {
        let limit = RateLimit::new(Duration::from_secs(1));
        let start = Instant::now();
        assert_eq!(limit.admit(start), Some(0));
        for ms in [1, 10, 500, 999] {
            assert_eq!(limit.admit(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(limit.admit(start + Duration::from_millis(1000)), Some(4));
        assert_eq!(limit.admit(start + Duration::from_millis(1500)), None);
        assert_eq!(limit.admit(start + Duration::from_millis(2100)), Some(1));
        assert_eq!(limit.admit(start + Duration::from_secs(60)), Some(0));
    }

    #[test]
    fn a_clock_going_backwards_holds_back() {
        let limit = RateLimit::new(Duration::from_secs(1));
        let start = Instant::now() + Duration::from_secs(10);
        assert_eq!(limit.admit(start), Some(0));
        assert_eq!(limit.admit(start - Duration::from_secs(5)), None);
    }
}
