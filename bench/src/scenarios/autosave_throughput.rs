//! Benchmark 1: autosave throughput, closed loop, beside raw Redis.
//!
//! The raw side is `redis-benchmark` running the fixed reference script
//! ([`REFERENCE_PATCH`]) on drafts of the layout it was written for; draftd's
//! side is `wrk` sending `PATCH`es of the same size to draftd's own drafts.
//! Both generators are C programs, so neither side pays more for its client.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use deadpool_redis::redis;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;
use tokio::process::Command;
use uuid::Uuid;

use super::{
    client, plant_reference_draft, typical_draft, typical_form, whole_description, REFERENCE_PATCH,
};
use crate::plot::{lines, Series};
use crate::service::{
    cpu_of, fresh_database, new_user, redis_pid, redis_port_and_db, Service, REDIS_URL,
};

const TYPISTS: usize = 1_000;

/// The sides, measured in turn at each concurrency.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Raw,
    /// What the page sends: `Prefer: return=minimal`.
    Minimal,
    /// The default answer: the whole draft.
    Representation,
    /// `GET /healthz` through the same wrk: the service's HTTP floor, with
    /// no token, body or store behind it.
    Healthz,
}

impl Side {
    const ALL: [Side; 4] = [
        Side::Raw,
        Side::Minimal,
        Side::Representation,
        Side::Healthz,
    ];

    fn name(self) -> &'static str {
        match self {
            Side::Raw => "raw Redis (reference script)",
            Side::Minimal => "draftd PATCH, return=minimal",
            Side::Representation => "draftd PATCH, full answer",
            Side::Healthz => "draftd GET /healthz",
        }
    }
}

/// One measured run: requests per second and CPU per request.
#[derive(Default, Clone, Copy)]
struct Run {
    per_sec: f64,
    service_us: f64,
    redis_us: f64,
    errors: u64,
}

pub async fn autosave_throughput(quick: bool) -> anyhow::Result<String> {
    let db = fresh_database("draftd_bench_throughput").await?;
    // The autosave rate limit is lifted: a typist here saves far more often
    // than every 3 s. Logs at the service's default level.
    let service = Service::start(
        &db,
        &[
            ("DRAFTD_AUTOSAVE_RATE_LIMIT", "1000000000"),
            ("DRAFTD_LOG", "info"),
        ],
    )
    .await?;
    let redis = deadpool_redis::Config::from_url(REDIS_URL.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let mut conn = redis.get().await?;
    let targets = std::env::temp_dir().join(format!("draftd-bench-targets-{}", Uuid::new_v4()));
    write_targets(&service, &targets).await?;
    let sha = raw_drafts(&mut conn).await?;
    let mut bench = Bench {
        service: &service,
        targets: &targets,
        sha: &sha,
        redis_pid: redis_pid(&mut conn).await?,
        conn,
    };

    let seconds = if quick { 2 } else { 5 };
    let rounds = if quick { 1 } else { 2 };
    let connections = [1usize, 10, 50, 100];
    let mut runs = vec![[Run::default(); 4]; connections.len()];
    // Unmeasured: connections, caches and the service's pools warm up.
    for side in Side::ALL {
        measure(&mut bench, side, 50, 1).await?;
    }
    for _ in 0..rounds {
        for (c, &n) in connections.iter().enumerate() {
            for (s, side) in Side::ALL.into_iter().enumerate() {
                let run = measure(&mut bench, side, n, seconds).await?;
                eprintln!("  {n} connections, {}: {:.0}/s", side.name(), run.per_sec);
                let sum = &mut runs[c][s];
                sum.per_sec += run.per_sec / rounds as f64;
                sum.service_us += run.service_us / rounds as f64;
                sum.redis_us += run.redis_us / rounds as f64;
                sum.errors += run.errors;
            }
        }
    }
    drop(bench);
    service.stop().await;
    let _ = std::fs::remove_file(&targets);

    let series: Vec<Series> = Side::ALL
        .iter()
        .enumerate()
        .filter(|(_, side)| **side != Side::Healthz)
        .map(|(s, side)| Series {
            name: side.name().into(),
            points: connections
                .iter()
                .zip(&runs)
                .map(|(&n, run)| (n as f64, run[s].per_sec))
                .collect(),
        })
        .collect();
    lines(
        "docs/bench/autosave-throughput.svg",
        "Autosave throughput against connections (closed loop)",
        "connections",
        "autosaves per second",
        &series,
    )?;

    let mut doc = String::from("## 1. Autosave throughput, closed loop\n\n");
    writeln!(
        doc,
        "Each connection sends its next autosave as soon as the last one is answered. The raw side \
         is `redis-benchmark` running the reference script (`bench/src/reference/patch.lua`, a fixed \
         copy of the service's autosave script as it was before this benchmark existed) on {TYPISTS} \
         drafts of its layout; draftd's side is `wrk` sending `PATCH`es of the same fields to \
         {TYPISTS} drafts of {TYPISTS} users (a typical form; the description sent whole, 400 \
         characters, and a number), with `Prefer: return=minimal` as the page sends them, then \
         without it; then `GET /healthz` through the same wrk, the service's HTTP floor (no token, \
         body or store). The four alternate at each concurrency, {seconds} s each, {rounds} \
         round(s), averaged; the service logs at its default level with metrics on. CPU is per \
         request: the service's process and `redis-server`'s, from /proc. The generators share \
         the two cores.\n"
    )?;
    doc.push_str(
        "| connections | raw Redis /s | draftd minimal /s | ratio | draftd full /s | ratio | \
         service CPU µs/req (minimal, full, /healthz) | minimal ÷ /healthz | \
         Redis CPU µs/req (raw, minimal, full) | errors |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (&n, [raw, minimal, full, healthz]) in connections.iter().zip(&runs) {
        writeln!(
            doc,
            "| {n} | {:.0} | {:.0} | **{:.2}** | {:.0} | {:.2} | {:.0}, {:.0}, {:.0} | **{:.2}** | {:.1}, {:.1}, {:.1} | {} |",
            raw.per_sec,
            minimal.per_sec,
            minimal.per_sec / raw.per_sec.max(1.0),
            full.per_sec,
            full.per_sec / raw.per_sec.max(1.0),
            minimal.service_us,
            full.service_us,
            healthz.service_us,
            minimal.service_us / healthz.service_us.max(0.1),
            raw.redis_us,
            minimal.redis_us,
            full.redis_us,
            raw.errors + minimal.errors + full.errors + healthz.errors,
        )?;
    }
    doc.push_str("\n![Autosave throughput against connections](bench/autosave-throughput.svg)\n\n");
    Ok(doc)
}

/// Creates the typists' drafts and writes wrk's targets file.
async fn write_targets(service: &Service, path: &Path) -> anyhow::Result<()> {
    let http = client();
    let org = Uuid::new_v4();
    let lines: Vec<String> = stream::iter(0..TYPISTS)
        .map(|i| {
            let (http, base) = (http.clone(), service.base.clone());
            async move {
                let (_, token) = new_user(org);
                let id = typical_draft(&http, &base, &token).await?;
                let body = json!({ "formData": whole_description(i) });
                anyhow::Ok(format!("/api/v1/drafts/{id} {token} {body}"))
            }
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;
    std::fs::write(path, lines.join("\n") + "\n")?;
    Ok(())
}

/// Drafts of the reference script's layout (a hash with `f:<field>` form
/// fields), numbered as `redis-benchmark -r` numbers its keys; the script's SHA.
async fn raw_drafts(conn: &mut deadpool_redis::Connection) -> anyhow::Result<String> {
    let form = typical_form();
    for n in 0..TYPISTS {
        plant_reference_draft(conn, &raw_key(n), &form).await?;
    }
    Ok(redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(REFERENCE_PATCH)
        .query_async(conn)
        .await?)
}

/// What every run needs.
struct Bench<'a> {
    service: &'a Service,
    targets: &'a Path,
    sha: &'a str,
    redis_pid: u32,
    conn: deadpool_redis::Connection,
}

async fn measure(
    bench: &mut Bench<'_>,
    side: Side,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Run> {
    let Bench {
        service,
        targets,
        sha,
        redis_pid,
        ..
    } = *bench;
    let (service_before, redis_before) = (service.cpu(), cpu_of(redis_pid));
    let (requests, elapsed, errors) = match side {
        Side::Raw => {
            let saves_before = raw_saves(&mut bench.conn).await?;
            let (requests, elapsed) = raw(connections, seconds, sha).await?;
            let saves = raw_saves(&mut bench.conn).await? - saves_before;
            (requests, elapsed, requests.saturating_sub(saves))
        }
        Side::Minimal | Side::Representation | Side::Healthz => {
            wrk(connections, seconds, service, targets, side).await?
        }
    };
    let per_request = |spent: Duration| spent.as_secs_f64() * 1e6 / (requests.max(1) as f64);
    Ok(Run {
        per_sec: requests as f64 / elapsed,
        service_us: per_request(service.cpu().saturating_sub(service_before)),
        redis_us: per_request(cpu_of(redis_pid).saturating_sub(redis_before)),
        errors,
    })
}

/// `redis-benchmark` running the reference script on random raw drafts:
/// (requests, seconds).
async fn raw(connections: usize, seconds: u64, sha: &str) -> anyhow::Result<(u64, f64)> {
    // About `seconds` at the rates seen here (one connection waits a round
    // trip per call; more keep Redis busy).
    let per_sec = if connections == 1 { 10_000 } else { 40_000 };
    let requests = per_sec * seconds;
    let value = whole_description(7);
    let (port, db) = redis_port_and_db();
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port, "--dbnum", &db, "-q"])
        .args(["-c", &connections.to_string(), "-n", &requests.to_string()])
        .args(["-r", &TYPISTS.to_string()])
        .args(["EVALSHA", sha, "3"])
        .args([
            "bench:raw:draft:__rand_int__",
            "bench:raw:index:__rand_int__",
            "bench:raw:rate:__rand_int__",
        ])
        .arg(Uuid::new_v4().to_string())
        .args(["86400000", "", "1000000000", "60000", "2"])
        .args(["description", &value["description"].to_string()])
        .args(["estimatedLessons", &value["estimatedLessons"].to_string()])
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "redis-benchmark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // "EVALSHA ...: 41234.56 requests per second, p50=..." (the last of the
    // progress lines it rewrites with \r).
    let text = String::from_utf8_lossy(&output.stdout);
    let summary = text.rsplit('\r').next().unwrap_or_default();
    let per_sec: f64 = summary
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no rate in redis-benchmark's output {summary:?}"))?;
    Ok((requests, requests as f64 / per_sec))
}

/// The sum of the raw drafts' versions: it rises by one per script call that
/// saved (redis-benchmark does not count the calls a script refused).
async fn raw_saves(conn: &mut deadpool_redis::Connection) -> anyhow::Result<u64> {
    let mut pipe = redis::pipe();
    for n in 0..TYPISTS {
        pipe.hget(raw_key(n), "v");
    }
    let versions: Vec<u64> = pipe.query_async(conn).await?;
    Ok(versions.iter().sum())
}

fn raw_key(n: usize) -> String {
    format!("bench:raw:draft:{n:012}")
}

/// `wrk` sending the targets' autosaves, or `GET /healthz`: (requests,
/// seconds, non-2xx answers).
async fn wrk(
    connections: usize,
    seconds: u64,
    service: &Service,
    targets: &Path,
    side: Side,
) -> anyhow::Result<(u64, f64, u64)> {
    let threads = connections.min(2);
    let mut command = Command::new("wrk");
    command
        .args(["-t", &threads.to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{seconds}s")]);
    if side == Side::Healthz {
        command.arg(format!("{}/healthz", service.base));
    } else {
        let answer = if side == Side::Minimal {
            "minimal"
        } else {
            "full"
        };
        command
            .args(["-s", "bench/wrk/autosave.lua"])
            .arg(&service.base)
            .arg("--")
            .arg(targets)
            .arg(answer);
    }
    let output = command.output().await?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "wrk failed: {text}");
    // "  123456 requests in 5.00s, 12.34MB read"
    let (requests, elapsed) = text
        .lines()
        .find_map(|line| {
            let (count, rest) = line.trim().split_once(" requests in ")?;
            let secs = rest.split_once("s,")?.0;
            Some((count.parse::<u64>().ok()?, secs.parse::<f64>().ok()?))
        })
        .ok_or_else(|| anyhow::anyhow!("no request count in wrk's output: {text}"))?;
    let errors = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Ok((requests, elapsed, errors))
}
