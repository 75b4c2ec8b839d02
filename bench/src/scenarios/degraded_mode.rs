//! Benchmark 6: degraded mode, drafts in Postgres while Redis is down.

use std::fmt::Write as _;
use std::time::Instant;

use serde_json::{json, Value};
use uuid::Uuid;

use super::{client, keystrokes, sample_of};
use crate::service::{fresh_database, new_user, Service};

/// Benchmark 6: degraded mode. The same calls on a service with Redis, one whose
/// Redis refuses every connection and one whose Redis takes connections and
/// never answers (drafts open in Postgres in both), in turns.
pub async fn degraded_mode(quick: bool) -> anyhow::Result<String> {
    let db = fresh_database("draftd_bench_degraded").await?;
    // A Redis that takes connections and never answers, as behind a partition.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let silent_url = format!("redis://127.0.0.1:{}", silent.local_addr()?.port());
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            sockets.push(socket);
        }
    });
    let services = [
        ("with Redis", Service::start(&db, &[]).await?, "redis", 404),
        // Nothing listens on port 1: every Redis call is refused at once.
        (
            "Redis refusing",
            Service::start(&db, &[("DRAFTD_REDIS_URL", "redis://127.0.0.1:1")]).await?,
            "postgres",
            503,
        ),
        (
            "Redis silent",
            Service::start(&db, &[("DRAFTD_REDIS_URL", &silent_url)]).await?,
            "postgres",
            503,
        ),
    ];
    let rounds = if quick { 100 } else { 1000 };
    let http = client();
    let org = Uuid::new_v4();
    let names = ["create", "fetch", "autosave", "fetch, unknown id"];
    let mut durations = vec![vec![Vec::new(); names.len()]; services.len()];
    let mut unexpected = 0;
    for i in 0..rounds {
        let (_, token) = new_user(org);
        for (side, (_, service, store, unknown_status)) in services.iter().enumerate() {
            let base = &service.base;
            let mut timed = |slot: usize, started: Instant, ok: bool| {
                durations[side][slot].push(started.elapsed());
                unexpected += usize::from(!ok);
            };
            let t = Instant::now();
            let draft: Value = http
                .post(format!("{base}/api/v1/drafts"))
                .bearer_auth(&token)
                .json(&json!({"formData": {"topic": format!("Course {i}")}}))
                .send()
                .await?
                .json()
                .await?;
            timed(0, t, draft["store"] == *store);
            let url = format!(
                "{base}/api/v1/drafts/{}",
                draft["id"].as_str().unwrap_or_default()
            );
            let t = Instant::now();
            let fetched = http.get(&url).bearer_auth(&token).send().await?;
            timed(1, t, fetched.status() == 200);
            let t = Instant::now();
            let saved = http
                .patch(&url)
                .bearer_auth(&token)
                .header("content-type", "application/merge-patch+json")
                .body(json!({"formData": keystrokes(i)}).to_string())
                .send()
                .await?;
            timed(2, t, saved.status() == 200);
            let t = Instant::now();
            let unknown = http
                .get(format!("{base}/api/v1/drafts/{}", Uuid::new_v4()))
                .bearer_auth(&token)
                .send()
                .await?;
            timed(3, t, unknown.status() == *unknown_status);
        }
    }
    let labels: Vec<&str> = services.iter().map(|(label, ..)| *label).collect();
    for (_, service, _, _) in services {
        service.stop().await;
    }
    held.abort();

    let mut doc = String::from("## 7. Degraded mode: drafts in Postgres while Redis is down\n\n");
    writeln!(
        doc,
        "{rounds} rounds, one call at a time, each round on three services in turn: one with Redis; \
         one whose Redis refuses every connection; one whose Redis takes connections and never \
         answers, as behind a network partition. Without Redis, drafts open in Postgres and each \
         call first tries Redis, then Postgres; with a silent Redis, a call that waits out a \
         timeout opens the breaker, and Redis is skipped for the next store timeout (2 s), so only \
         the calls that probe it again are slow (they show in p99.9). The last call reads an id \
         that exists nowhere: 404 with Redis, 503 without it (it might be in Redis). Calls that \
         answered otherwise than expected: {unexpected}.\n"
    )?;
    doc.push_str("| call | Redis | p50 ms | p99 ms | p99.9 ms | p50 ÷ with Redis p50 |\n|---|---|---|---|---|---|\n");
    for (slot, name) in names.iter().enumerate() {
        let baseline = sample_of(&durations[0][slot]).ms(50.0).max(0.001);
        for (side, label) in labels.iter().enumerate() {
            let sample = sample_of(&durations[side][slot]);
            writeln!(
                doc,
                "| {name} | {label} | {:.2} | {:.2} | {:.2} | {:.1} |",
                sample.ms(50.0),
                sample.ms(99.0),
                sample.ms(99.9),
                sample.ms(50.0) / baseline,
            )?;
        }
    }
    doc.push('\n');
    Ok(doc)
}
