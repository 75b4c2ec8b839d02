//! Benchmark 3: latency of each call, one at a time.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use reqwest::{Client, RequestBuilder};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{client, keystrokes, sample_of, upload};
use crate::load::{closed_loop, Sample};
use crate::plot::{lines, Series};
use crate::service::{fresh_database, new_user, Service};

/// Benchmark 3: Latency of each call, one at a time, beside a baseline (`GET /healthz`).
pub async fn call_latencies(quick: bool) -> anyhow::Result<String> {
    let db = fresh_database("draftd_bench_calls").await?;
    let service = Service::start(&db, &[]).await?;
    let calls = if quick { 100 } else { 1000 };
    let large_calls: usize = std::env::var("BENCH_LARGE_UPLOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 10 } else { 1000 });
    let http = client();
    let base = service.base.clone();
    let org = Uuid::new_v4();
    let one_mb = vec![b'a'; 1 << 20];
    let fifty_mb = vec![b'b'; 50 << 20];

    let names = [
        "baseline GET /healthz",
        "create",
        "fetch",
        "autosave",
        "materialize",
        "submit",
        "upload 1 MB",
    ];
    let mut samples: Vec<Sample> = Vec::new();
    let mut durations: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    // Interleaved: one of each call per round, so noise spreads over all.
    let mut failed_rounds = 0;
    for i in 0..calls {
        // A user per round, as a form is a user's: the per-user autosave rate stays far off.
        let (_, token) = new_user(org);
        if !round(i, &http, &base, &token, &one_mb, &mut durations).await {
            failed_rounds += 1;
        }
    }

    eprintln!("  {failed_rounds} of {calls} rounds failed");
    // A user per upload too: one user's thousand uploads in a few minutes
    // would meet the per-user write rate.
    let large = closed_loop(large_calls, |_| {
        let (http, base, fifty_mb) = (http.clone(), base.clone(), fifty_mb.clone());
        let (_, token) = new_user(org);
        async move {
            let Some(draft) = create_draft(&http, &base, &token, None).await else {
                return false;
            };
            let url = draft_url(&base, &draft);
            let ok = upload(&http, &url, &token, fifty_mb).await;
            let _ = http.delete(&url).bearer_auth(&token).send().await;
            ok
        }
    })
    .await;
    service.stop().await;

    for slot in &durations {
        samples.push(sample_of(slot));
    }
    let mut doc = String::from("## 3. Latency of each call\n\n");
    writeln!(
        doc,
        "One call at a time over keep-alive connections, {calls} rounds of every call in turn (a round: \
         `GET /healthz`, create, fetch, autosave, materialize, submit, then a 1 MB upload to a second \
         draft that is discarded after), so the baseline sees the same noise as the rest; then \
         {large_calls} uploads of 50 MB, each to a new draft discarded after. {failed_rounds} of {calls} rounds failed.\n"
    )?;
    doc.push_str("| call | p50 ms | p99 ms | p99.9 ms | p50 / baseline p50 | team's target | met at p99 |\n|---|---|---|---|---|---|---|\n");
    let baseline = samples[0].ms(50.0).max(0.001);
    let targets = [None, Some(50.0), None, Some(100.0), Some(500.0), None, None];
    let mut series = Vec::new();
    for ((name, sample), target) in names.iter().zip(&samples).zip(targets) {
        writeln!(
            doc,
            "| {name} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} |",
            sample.ms(50.0),
            sample.ms(99.0),
            sample.ms(99.9),
            sample.ms(50.0) / baseline,
            target.map_or("".into(), |t| format!("< {t} ms")),
            target.map_or("", |t| if sample.ms(99.0) < t { "yes" } else { "no" }),
        )?;
        series.push(percentile_curve(name, sample));
    }
    writeln!(
        doc,
        "| upload 50 MB | {:.2} | {:.2} | {:.2} | {:.1} | | |\n\n{} of {large_calls} large uploads failed.\n",
        large.ms(50.0),
        large.ms(99.0),
        large.ms(99.9),
        large.ms(50.0) / baseline,
        large.errors
    )?;
    // The 50 MB upload stays out of the plot: at ~100 times the others it would flatten them.
    lines(
        "docs/bench/call-latency.svg",
        "Latency distribution of each call",
        "1 / (1 - percentile): 2 = p50, 100 = p99, 1000 = p99.9",
        "latency, ms",
        &series,
    )?;
    doc.push_str("![Latency distribution of each call](bench/call-latency.svg)\n\n");
    Ok(doc)
}

/// One round of every call, each timed into its slot of `durations`.
async fn round(
    i: usize,
    http: &Client,
    base: &str,
    token: &str,
    one_mb: &[u8],
    durations: &mut [Vec<Duration>],
) -> bool {
    let ok = timed_call(&mut durations[0], 200, || {
        http.get(format!("{base}/healthz"))
    })
    .await;
    let t = Instant::now();
    let body = json!({"formData": {"topic": format!("Course {i}"), "language": "ru"}});
    let Some(draft) = create_draft(http, base, token, Some(&body)).await else {
        return false;
    };
    durations[1].push(t.elapsed());
    let url = draft_url(base, &draft);
    let fetched = timed_call(&mut durations[2], 200, || http.get(&url).bearer_auth(token)).await;
    let saved = timed_call(&mut durations[3], 200, || {
        http.patch(&url)
            .bearer_auth(token)
            .header("content-type", "application/merge-patch+json")
            .body(json!({"formData": keystrokes(i)}).to_string())
    })
    .await;
    let materialized = timed_call(&mut durations[4], 201, || {
        http.post(format!("{url}/materialize")).bearer_auth(token)
    })
    .await;
    let submitted = timed_call(&mut durations[5], 200, || {
        http.post(format!("{url}/submit")).bearer_auth(token)
    })
    .await;
    let Some(other) = create_draft(http, base, token, None).await else {
        return false;
    };
    let other_url = draft_url(base, &other);
    let t = Instant::now();
    let uploaded = upload(http, &other_url, token, one_mb.to_vec()).await;
    durations[6].push(t.elapsed());
    // Discarding takes the course and its file with it.
    let _ = http.delete(&other_url).bearer_auth(token).send().await;
    ok && fetched && saved && materialized && submitted && uploaded
}

/// Builds and sends one request, timed into `slot`; `true` if it answered `status`.
async fn timed_call(
    slot: &mut Vec<Duration>,
    status: u16,
    request: impl FnOnce() -> RequestBuilder,
) -> bool {
    let t = Instant::now();
    let ok = request().send().await.is_ok_and(|r| r.status() == status);
    slot.push(t.elapsed());
    ok
}

/// Creates a draft, with `body` if given; the draft, or `None` if the call failed.
async fn create_draft(
    http: &Client,
    base: &str,
    token: &str,
    body: Option<&Value>,
) -> Option<Value> {
    let mut request = http
        .post(format!("{base}/api/v1/drafts"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let r = request.send().await.ok()?;
    Some(r.json().await.unwrap_or_default())
}

fn draft_url(base: &str, draft: &Value) -> String {
    format!(
        "{base}/api/v1/drafts/{}",
        draft["id"].as_str().unwrap_or_default()
    )
}

fn percentile_curve(name: &str, sample: &Sample) -> Series {
    Series {
        name: name.into(),
        points: [50.0, 75.0, 90.0, 95.0, 99.0, 99.9]
            .iter()
            .map(|p| (1.0 / (1.0 - p / 100.0), sample.ms(*p).max(0.01)))
            .collect(),
    }
}
