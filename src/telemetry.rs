//! Structured logs: one JSON object per line, each carrying the fields of the
//! spans it happened in (a request's id, method, route and status).

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

/// Installs the global JSON logger. `filter` uses `EnvFilter` syntax.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // A closed request span logs one line with its status and timings: the access log.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(true)
        .flatten_event(true)
        .with_span_events(FmtSpan::CLOSE)
        .try_init();
}
