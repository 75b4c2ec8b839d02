//! Prometheus metrics: the recorder, the request middleware and `/metrics`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use metrics::SharedString;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::problem::NotLoopbackResponse;

/// The process's one recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ])
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours just
        // renders nothing, and metrics go to the other one.
        let _ = metrics::set_global_recorder(recorder);
        export_alerted_counters();
        start_upkeep(handle.clone());
        handle
    })
}

/// How often the recorder folds the samples it has queued into its
/// histograms.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// A recorder made by `build_recorder` queues every histogram sample until
/// its histograms are rendered: with no scrape, each request would keep a few
/// bytes for good. Upkeep folds them in; a thread of its own, as the recorder
/// lives as long as the process and needs no runtime.
fn start_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = started {
        tracing::error!(error = %e, "cannot start the metrics upkeep");
    }
}

/// The counters that alerts read (docs/alerts.yml), exported at 0 from the
/// start. Prometheus sees a series' first value as a start, not an increase:
/// a replica's first completed janitor run, or its first degraded draft,
/// would go unseen if the series appeared at 1. And a replica whose janitor
/// or purge never completes exports 0, which an alert can tell from nothing.
/// `increment(0)` leaves a counter that already runs as it is.
fn export_alerted_counters() {
    metrics::counter!("draftd_janitor_runs_total", "outcome" => "completed").increment(0);
    metrics::counter!("draftd_purge_runs_total", "outcome" => "completed").increment(0);
    for task in crate::domain::cleanup::tasks::ALL {
        for outcome in ["done", "retried", "dead"] {
            metrics::counter!("draftd_jobs_total", "task" => *task, "outcome" => outcome)
                .increment(0);
        }
    }
    metrics::counter!("draftd_degraded_drafts_total").increment(0);
}

/// The `method` label: one of the methods the API knows, or `other`. A client
/// can send any token as a method, and each would be a new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts requests and times them, by method, route and status.
/// Every label comes from a fixed set: the methods above, the route patterns
/// (or `unmatched`) and the status codes.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let response = next.call(req).await?;
    let request = response.request();
    let labels: [(&str, SharedString); 3] = [
        ("method", method_label(request.method()).into()),
        ("route", super::route_of(request).into()),
        ("status", response.status().as_u16().to_string().into()),
    ];
    metrics::counter!("draftd_http_requests_total", &labels).increment(1);
    metrics::histogram!("draftd_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 403, response = NotLoopbackResponse),
    ),
    security())]
pub async fn render() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle().render())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    fn thread_names() -> Vec<String> {
        std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
            .map(|name| name.trim().to_owned())
            .collect()
    }

    /// The upkeep is what keeps an unscraped process's memory flat; its
    /// effect, a few bytes a request, is too small to see in a test's RSS, so
    /// this checks that it runs. A new thread names itself once it starts.
    #[test]
    fn the_recorder_comes_with_its_upkeep_thread() {
        super::handle();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !thread_names().iter().any(|name| name == "metrics-upkeep") {
            assert!(
                Instant::now() < deadline,
                "no metrics-upkeep thread among {:?}",
                thread_names()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
