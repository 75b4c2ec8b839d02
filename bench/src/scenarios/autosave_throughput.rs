//! Benchmark 1: autosave throughput, closed loop, beside raw Redis.
//!
//! The raw side is `redis-benchmark` running the fixed reference script
//! ([`REFERENCE_PATCH`]) on drafts of the layout it was written for; draftd's
//! side is `wrk` sending `PATCH`es of the same size to draftd's own drafts.
//! Both generators are C programs, so neither side pays more for its client.
//! The page's autosave is sent twice, with an HS256 token (the secret) and
//! with an ES256 token of the identity provider's key set, to the same drafts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deadpool_redis::redis;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;
use tokio::process::Command;
use uuid::Uuid;

use super::{
    client, plant_reference_draft, typical_draft, typical_form, whole_description, REFERENCE_PATCH,
};
use crate::identity_provider::IdentityProvider;
use crate::plot::{lines, Series};
use crate::service::{
    cpu_of, fresh_database, new_user, redis_pid, redis_port_and_db, user_claims, Service, REDIS_URL,
};

const TYPISTS: usize = 1_000;
const CONNECTIONS: [usize; 4] = [1, 10, 50, 100];

/// The sides, measured in turn at each concurrency, in this order.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Raw,
    /// What the page sends: `Prefer: return=minimal`, with an HS256 token.
    Minimal,
    /// The same, with an ES256 token signed by a key of the identity
    /// provider's set.
    Es256,
    /// The default answer: the whole draft.
    Representation,
    /// `GET /healthz` through the same wrk: the service's HTTP floor, with
    /// no token, body or store behind it.
    Healthz,
}

impl Side {
    const ALL: [Side; 5] = [
        Side::Raw,
        Side::Minimal,
        Side::Es256,
        Side::Representation,
        Side::Healthz,
    ];

    fn name(self) -> &'static str {
        match self {
            Side::Raw => "raw Redis (reference script)",
            Side::Minimal => "draftd PATCH, return=minimal",
            Side::Es256 => "draftd PATCH, return=minimal, ES256 token",
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

/// Every run, by round, connection count and side.
struct Runs(Vec<Vec<[Run; Side::ALL.len()]>>);

impl Runs {
    /// The mean of the rounds' runs (errors summed).
    fn mean(&self, connections: usize, side: Side) -> Run {
        let rounds = self.0.len().max(1) as f64;
        let mut sum = Run::default();
        for round in &self.0 {
            let run = round[connections][side as usize];
            sum.per_sec += run.per_sec / rounds;
            sum.service_us += run.service_us / rounds;
            sum.redis_us += run.redis_us / rounds;
            sum.errors += run.errors;
        }
        sum
    }

    /// The mean over rounds of the service's CPU per request on `side` over
    /// that on `baseline` in the same round.
    fn cpu_ratio(&self, connections: usize, side: Side, baseline: Side) -> f64 {
        let ratios = self.0.iter().map(|round| {
            let [run, base] = [side, baseline].map(|s| round[connections][s as usize]);
            run.service_us / base.service_us.max(0.1)
        });
        ratios.sum::<f64>() / self.0.len().max(1) as f64
    }
}

/// wrk's targets files: the same drafts, bodies and users, with an HS256
/// token and with an ES256 one.
struct Targets {
    hs256: PathBuf,
    es256: PathBuf,
}

pub async fn autosave_throughput(quick: bool) -> anyhow::Result<String> {
    let db = fresh_database("draftd_bench_throughput").await?;
    let idp = IdentityProvider::start()?;
    // One instance takes both kinds of token, as a deployment moving from
    // the secret to the provider's keys does: each token's row is measured
    // against the same process's /healthz, in the same round. The autosave
    // rate limit is lifted: a typist here saves far more often than every
    // 3 s. Logs at the service's default level.
    let service = Service::start(
        &db,
        &[
            ("DRAFTD_AUTOSAVE_RATE_LIMIT", "1000000000"),
            ("DRAFTD_LOG", "info"),
            ("DRAFTD_JWKS_URL", &idp.url),
        ],
    )
    .await?;
    let redis = deadpool_redis::Config::from_url(REDIS_URL.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let mut conn = redis.get().await?;
    let stem = std::env::temp_dir().join(format!("draftd-bench-targets-{}", Uuid::new_v4()));
    let targets = Targets {
        hs256: stem.with_extension("hs256"),
        es256: stem.with_extension("es256"),
    };
    write_targets(&service, &idp, &targets).await?;
    let sha = raw_drafts(&mut conn).await?;
    let mut bench = Bench {
        service: &service,
        targets: &targets,
        sha: &sha,
        redis_pid: redis_pid(&mut conn).await?,
        conn,
    };

    let seconds = if quick { 2 } else { 5 };
    let rounds = if quick { 1 } else { 3 };
    // Unmeasured: connections, caches and the service's pools warm up, and
    // every token is checked once.
    for side in Side::ALL {
        let warm = measure(&mut bench, side, 50, 1).await?;
        anyhow::ensure!(warm.errors == 0, "{}: {} errors", side.name(), warm.errors);
    }
    let mut runs = Runs(Vec::new());
    for _ in 0..rounds {
        let mut round = vec![[Run::default(); Side::ALL.len()]; CONNECTIONS.len()];
        for (c, &n) in CONNECTIONS.iter().enumerate() {
            for side in Side::ALL {
                let run = measure(&mut bench, side, n, seconds).await?;
                eprintln!("  {n} connections, {}: {:.0}/s", side.name(), run.per_sec);
                round[c][side as usize] = run;
            }
        }
        runs.0.push(round);
    }
    drop(bench);
    service.stop().await;
    idp.stop().await;
    let _ = std::fs::remove_file(&targets.hs256);
    let _ = std::fs::remove_file(&targets.es256);

    plot(&runs)?;
    section(&runs, seconds, rounds)
}

fn plot(runs: &Runs) -> anyhow::Result<()> {
    let series: Vec<Series> = Side::ALL
        .into_iter()
        .filter(|side| *side != Side::Healthz)
        .map(|side| Series {
            name: side.name().into(),
            points: CONNECTIONS
                .iter()
                .enumerate()
                .map(|(c, &n)| (n as f64, runs.mean(c, side).per_sec))
                .collect(),
        })
        .collect();
    lines(
        "docs/bench/autosave-throughput.svg",
        "Autosave throughput against connections (closed loop)",
        "connections",
        "autosaves per second",
        &series,
    )
}

fn section(runs: &Runs, seconds: u64, rounds: usize) -> anyhow::Result<String> {
    let mut doc = String::from("## 1. Autosave throughput, closed loop\n\n");
    writeln!(
        doc,
        "Each connection sends its next autosave as soon as the last one is answered. The raw side \
         is `redis-benchmark` running the reference script (`bench/src/reference/patch.lua`, a fixed \
         copy of the service's autosave script as it was before this benchmark existed) on {TYPISTS} \
         drafts of its layout; draftd's side is `wrk` sending `PATCH`es of the same fields to \
         {TYPISTS} drafts of {TYPISTS} users (a typical form; the description sent whole, 400 \
         characters ending in the save's own number, so that every save changes its draft, and a \
         number), with `Prefer: return=minimal` as the page sends them, then \
         the same with an ES256 token instead of the HS256 one, then without the header; then \
         `GET /healthz` through the same wrk, the service's HTTP floor (no token, body or store). \
         The five alternate at each concurrency, {seconds} s each, {rounds} round(s), averaged; \
         a ratio to /healthz is taken in each round and the rounds' ratios averaged. The service \
         logs at its default level with metrics on. CPU is per request: the service's process and \
         `redis-server`'s, from /proc. The generators share the two cores.\n"
    )?;
    doc.push_str(
        "| connections | raw Redis /s | draftd minimal /s | ratio | draftd full /s | ratio | \
         service CPU µs/req (minimal, full, /healthz) | minimal ÷ /healthz | \
         Redis CPU µs/req (raw, minimal, full) | errors |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (c, &n) in CONNECTIONS.iter().enumerate() {
        let [raw, minimal, es256, full, healthz] = Side::ALL.map(|side| runs.mean(c, side));
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
            runs.cpu_ratio(c, Side::Minimal, Side::Healthz),
            raw.redis_us,
            minimal.redis_us,
            full.redis_us,
            raw.errors + minimal.errors + es256.errors + full.errors + healthz.errors,
        )?;
    }
    tokens_table(&mut doc, runs)?;
    doc.push_str("\n![Autosave throughput against connections](bench/autosave-throughput.svg)\n\n");
    Ok(doc)
}

/// The autosave by the kind of token that carries it.
fn tokens_table(doc: &mut String, runs: &Runs) -> anyhow::Result<()> {
    writeln!(
        doc,
        "\nBy token: the same autosave (`return=minimal`, the same drafts, bodies and users) with \
         an HS256 token checked with `DRAFTD_JWT_SECRET`, and with an ES256 token (with a `kid`) \
         signed by a P-256 key that the benchmark draws and serves as a key set over HTTP on \
         loopback, at the service's `DRAFTD_JWKS_URL`. One service instance takes both, so both \
         rows are against the /healthz of the same process and round. Each of the {TYPISTS} \
         tokens of a kind has its signature checked once, in the warm-up; after that a save's \
         token is a hit of the verified-token cache, which for an ES256 token also looks up that \
         its key is still the one the set holds under its `kid`.\n"
    )?;
    doc.push_str(
        "| connections | token | autosaves /s | service CPU µs/req | /healthz µs/req | \
         ÷ /healthz | CPU ÷ HS256's |\n|---|---|---|---|---|---|---|\n",
    );
    for (c, &n) in CONNECTIONS.iter().enumerate() {
        let healthz = runs.mean(c, Side::Healthz);
        for (token, side) in [("HS256", Side::Minimal), ("ES256", Side::Es256)] {
            let run = runs.mean(c, side);
            let to_hs256 = if side == Side::Minimal {
                "1".to_owned()
            } else {
                format!("{:.2}", runs.cpu_ratio(c, side, Side::Minimal))
            };
            writeln!(
                doc,
                "| {n} | {token} | {:.0} | {:.0} | {:.0} | **{:.2}** | {to_hs256} |",
                run.per_sec,
                run.service_us,
                healthz.service_us,
                runs.cpu_ratio(c, side, Side::Healthz),
            )?;
        }
    }
    Ok(())
}

/// Creates the typists' drafts and writes wrk's targets files: one line per
/// typist, the same draft and body in both, the token of the file's kind
/// (bench/wrk/autosave.lua numbers each save in the body's ten digits).
async fn write_targets(
    service: &Service,
    idp: &IdentityProvider,
    targets: &Targets,
) -> anyhow::Result<()> {
    let http = client();
    let org = Uuid::new_v4();
    let lines: Vec<(String, String)> = stream::iter(0..TYPISTS)
        .map(|i| {
            let (http, base) = (http.clone(), service.base.clone());
            let (user, token) = new_user(org);
            let es256 = idp.token(&user_claims(user, org));
            async move {
                let es256 = es256?;
                let id = typical_draft(&http, &base, &token).await?;
                let body = json!({ "formData": whole_description(i) });
                let line = |token: &str| format!("/api/v1/drafts/{id} {token} {body}");
                anyhow::Ok((line(&token), line(&es256)))
            }
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;
    let (hs256, es256): (Vec<String>, Vec<String>) = lines.into_iter().unzip();
    std::fs::write(&targets.hs256, hs256.join("\n") + "\n")?;
    std::fs::write(&targets.es256, es256.join("\n") + "\n")?;
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
    targets: &'a Targets,
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
        Side::Minimal | Side::Es256 | Side::Representation | Side::Healthz => {
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
    targets: &Targets,
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
        let (targets, answer): (&Path, _) = match side {
            Side::Es256 => (&targets.es256, "minimal"),
            Side::Minimal => (&targets.hs256, "minimal"),
            _ => (&targets.hs256, "full"),
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
