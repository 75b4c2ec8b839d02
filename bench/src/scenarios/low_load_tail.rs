//! Benchmark: the autosave's latency tail at low load, beside its floors.
//!
//! At a few hundred saves a second the machine is nearly idle, so the tail
//! is not queueing. Each load runs draftd's autosave, `GET /healthz` (the
//! generator and the HTTP layer, no store) and the reference script straight
//! on Redis, in short slices that alternate until each side has its samples,
//! so that whatever else the machine does falls on all three alike; the
//! whole is repeated. The service's own time for each save (its access log's
//! `elapsed_ms`, from the request's first middleware to its answer) splits
//! draftd's tail into the part inside the service and the part around it.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::Script;
use hdrhistogram::Histogram;

use super::{
    autosave, healthz, raw_save, reference_drafts, typists, Typist, AUTOSAVE_INTERVAL, CONNECTIONS,
    REFERENCE_PATCH,
};
use crate::connections::Connections;
use crate::load::{open_loop, Sample};
use crate::service::{fresh_database, Service, REDIS_URL};

/// Saves a second at each load: the low end of the range, and the top.
const LOADS: [usize; 2] = [100, 1000];
/// Each side's samples at each load, in each repeat.
const SAMPLES: u64 = 10_000;
const REPEATS: usize = 2;
/// One side's turn: short, so that the sides share the machine's moments
/// (at 1,000 a second a side's samples span ten turns, not two).
const SLICE: Duration = Duration::from_secs(1);

/// The sides of one load, their samples merged over the slices.
struct Sides {
    draftd: Sample,
    healthz: Sample,
    raw: Sample,
    /// draftd's autosave on connections opened anew at its slice's start.
    cold: Sample,
}

/// The cold side's samples: enough to see the share of a slice's saves that
/// open a connection (one per connection) in its p99.
const COLD_SAMPLES: u64 = 2_000;
/// The cold side's turn, longer: the share of its saves that open a
/// connection (64 a turn) stays what the earlier runs measured.
const COLD_SLICE: Duration = Duration::from_secs(5);

pub async fn low_load_tail(quick: bool) -> anyhow::Result<String> {
    let samples = if quick { 1_000 } else { SAMPLES };
    let db = fresh_database("draftd_bench_tail").await?;
    let log = std::env::temp_dir().join(format!("draftd-bench-tail-{}.log", uuid::Uuid::new_v4()));
    let service = Service::start_logged(&db, &[("DRAFTD_LOG", "info")], Some(log.clone())).await?;
    let max = LOADS.iter().max().copied().unwrap_or(100) * AUTOSAVE_INTERVAL.as_secs() as usize;
    let crowd = typists(&service, max).await?;
    let redis = deadpool_redis::Config::from_url(REDIS_URL.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let raw_conn = reference_drafts(&redis, &crowd).await?;
    let script = Arc::new(Script::new(REFERENCE_PATCH));
    let connections = Arc::new(Connections::new(&service.address(), CONNECTIONS)?);

    let mut rows = String::new();
    // An unmeasured slice of each side warms connections and caches.
    let _ = run_load(&connections, &crowd[..300], &raw_conn, &script, 1).await;
    for repeat in 1..=REPEATS {
        for rate in LOADS {
            let typists = &crowd[..rate * AUTOSAVE_INTERVAL.as_secs() as usize];
            let log_start = std::fs::metadata(&log).map_or(0, |m| m.len());
            let sides = run_load(&connections, typists, &raw_conn, &script, samples).await;
            let inside = service_times(&log, log_start)?;
            eprintln!(
                "  {rate}/s, repeat {repeat}: draftd p99 {:.2} ms, /healthz {:.2} ms, raw Redis {:.2} ms",
                sides.draftd.ms(99.0),
                sides.healthz.ms(99.0),
                sides.raw.ms(99.0)
            );
            row(&mut rows, rate, repeat, &sides, &inside)?;
        }
    }
    service.stop().await;
    let _ = std::fs::remove_file(&log);
    report(&rows, samples)
}

/// The three sides at the load `typists` make, slice by slice, until each
/// has `samples`.
async fn run_load(
    connections: &Arc<Connections>,
    typists: &[Arc<Typist>],
    raw_conn: &deadpool_redis::redis::aio::MultiplexedConnection,
    script: &Arc<Script>,
    samples: u64,
) -> Sides {
    let n = typists.len();
    let mut sides = Sides {
        draftd: Sample::empty(),
        healthz: Sample::empty(),
        raw: Sample::empty(),
        cold: Sample::empty(),
    };
    let save = |i: usize| autosave(connections, &typists[i], i);
    while [&sides.draftd, &sides.healthz, &sides.raw]
        .iter()
        .any(|side| side.histogram.len() < samples)
    {
        // Each slice of the HTTP sides starts on open connections, as a
        // proxy's busy ones stay: the server closes one idle past its
        // keep-alive (5 s), about as long as the other sides' slices.
        warm(connections).await;
        sides
            .draftd
            .merge(&open_loop(n, AUTOSAVE_INTERVAL, SLICE, save).await);
        let floor = open_loop(n, AUTOSAVE_INTERVAL, SLICE, |i| healthz(connections, i)).await;
        sides.healthz.merge(&floor);
        let raw = open_loop(n, AUTOSAVE_INTERVAL, SLICE, |i| {
            raw_save(raw_conn.clone(), script.clone(), &typists[i], i)
        })
        .await;
        sides.raw.merge(&raw);
        if sides.cold.histogram.len() < samples.min(COLD_SAMPLES) {
            connections.close_all().await;
            sides
                .cold
                .merge(&open_loop(n, AUTOSAVE_INTERVAL, COLD_SLICE, save).await);
        }
    }
    sides
}

/// One `GET /healthz` on each connection, unmeasured: each is open after.
async fn warm(connections: &Arc<Connections>) {
    futures_util::future::join_all((0..CONNECTIONS).map(|i| healthz(connections, i))).await;
}

/// The service's own time for each autosave logged after byte `from` of
/// `log`, in µs.
fn service_times(log: &std::path::Path, from: u64) -> anyhow::Result<Histogram<u64>> {
    let text = std::fs::read(log)?;
    let mut times = Histogram::new_with_bounds(1, 60_000_000, 3)?;
    let start = usize::try_from(from).unwrap_or(usize::MAX).min(text.len());
    for line in text[start..].split(|&b| b == b'\n') {
        let Ok(entry) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        // The access line: its fields at the top level (a flattened event).
        if entry["route"] == "/api/v1/drafts/{id}" && entry["status"] == 204 {
            if let Some(ms) = entry["elapsed_ms"].as_f64() {
                let _ = times.record(((ms * 1000.0) as u64).max(1));
            }
        }
    }
    Ok(times)
}

fn row(
    out: &mut String,
    rate: usize,
    repeat: usize,
    sides: &Sides,
    inside: &Histogram<u64>,
) -> anyhow::Result<()> {
    let (draftd, healthz, raw) = (&sides.draftd, &sides.healthz, &sides.raw);
    let bound = healthz.ms(99.0) + raw.ms(99.0);
    let inside_ms = |q: f64| inside.value_at_quantile(q) as f64 / 1000.0;
    writeln!(
        out,
        "| {rate} | {repeat} | {} | {:.2} | **{:.2}** | {:.2} | {:.2} | {:.2} | {:.2} | **{bound:.2}** | {} | {:.2} | {:.2} | {} |",
        draftd.histogram.len(),
        draftd.ms(50.0),
        draftd.ms(99.0),
        draftd.ms(99.9),
        sides.cold.ms(99.0),
        healthz.ms(99.0),
        raw.ms(99.0),
        if draftd.ms(99.0) <= bound { "yes" } else { "no" },
        inside_ms(0.5),
        inside_ms(0.99),
        draftd.errors + healthz.errors + raw.errors + sides.cold.errors,
    )?;
    Ok(())
}

fn report(rows: &str, samples: u64) -> anyhow::Result<String> {
    let mut doc = String::from("## 11. The autosave's tail at low load\n\n");
    writeln!(
        doc,
        "Open loop as in section 2 (typists saving every 3 s over {CONNECTIONS} keep-alive \
         connections, latency from the scheduled send), at {} saves a second. At each load three \
         sides take turns in {} s slices until each has at least {samples} samples: draftd's \
         autosave, `GET /healthz` on the same connections (the generator and the HTTP layer, no \
         store), and the reference script straight on Redis from the same generator. Before each \
         draftd slice every connection is used once, unmeasured: the service closes a connection \
         idle past its keep-alive (5 s), and a proxy's connections at these rates are never idle \
         that long. A fourth side, up to {COLD_SAMPLES} samples, is draftd's autosave with every \
         connection closed before its {} s slice, as section 2 measures a step that follows the \
         others: one save in {CONNECTIONS} per connection opens it anew. The goal: draftd's p99 at most \
         `/healthz`'s p99 plus raw Redis's, of the same load and repeat. The service's own time \
         per save is its access log's `elapsed_ms` (from its first middleware to the answer): \
         what is not in it was spent outside the service's handling, in the kernel, the \
         scheduler or the generator. {REPEATS} repeats.\n",
        LOADS.map(|l| l.to_string()).join(" and "),
        SLICE.as_secs(),
        COLD_SLICE.as_secs(),
    )?;
    doc.push_str(
        "| saves/s | repeat | draftd samples | draftd p50 ms | draftd p99 ms | draftd p99.9 ms | \
         draftd p99 on new connections ms | /healthz p99 ms | raw Redis p99 ms | /healthz p99 + raw p99 | within | in the service p50 ms | \
         in the service p99 ms | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    doc.push_str(rows);
    doc.push('\n');
    Ok(doc)
}
