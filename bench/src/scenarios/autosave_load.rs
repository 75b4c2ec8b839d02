//! Benchmark 2: autosave at rising load.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::redis::Script;
use uuid::Uuid;

use super::{
    autosave, healthz, keystrokes, raw_save, reference_drafts, typists, AUTOSAVE_INTERVAL,
    CONNECTIONS, REFERENCE_PATCH,
};
use crate::connections::Connections;
use crate::load::{open_loop, Sample};
use crate::plot::{lines, Series};
use crate::service::{
    connect, connections_to, cpu_of, fresh_database, redis_pid, Service, REDIS_URL,
};

/// The p99 an autosave may reach.
const P99_LIMIT_MS: f64 = 5.0;
/// The load it must hold that p99 at: 24,000 typists, 8,000 autosaves a
/// second. The load rises past it until the p99 passes the limit.
const GOAL_TYPISTS: usize = 24_000;

/// The CPU time so far of the three processes that share the two cores: the
/// service, Redis, and this generator.
struct Cpu {
    at: Instant,
    service: Duration,
    redis: Duration,
    generator: Duration,
}

impl Cpu {
    fn now(service: &Service, redis_pid: u32) -> Cpu {
        Cpu {
            at: Instant::now(),
            service: service.cpu(),
            redis: cpu_of(redis_pid),
            generator: cpu_of(std::process::id()),
        }
    }

    /// Each process's share of one core since `self`, in percent: service,
    /// Redis, generator.
    fn shares_until(&self, end: &Cpu) -> [f64; 3] {
        let wall = (end.at - self.at).as_secs_f64().max(1e-3);
        [
            end.service.saturating_sub(self.service),
            end.redis.saturating_sub(self.redis),
            end.generator.saturating_sub(self.generator),
        ]
        .map(|used| used.as_secs_f64() / wall * 100.0)
    }
}

/// Runs `step` while counting the most connections to `port` seen at once.
async fn with_peak_connections<T>(
    port: u16,
    step: impl std::future::Future<Output = T>,
) -> (T, usize) {
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(connections_to(port), std::sync::atomic::Ordering::Relaxed);
                // Reading the kernel's whole table of TCP sockets costs the
                // generator's CPU: twice a second is enough for a fixed pool.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    let out = step.await;
    sampler.abort();
    (out, peak.load(std::sync::atomic::Ordering::Relaxed))
}

fn row(sample: &Sample) -> String {
    format!(
        "{:.0} | {:.2} | {:.2} | {:.2} | {}",
        sample.throughput(),
        sample.ms(50.0),
        sample.ms(99.0),
        sample.ms(99.9),
        sample.errors
    )
}

/// Benchmark 2: Autosave at rising load, beside the limit (the autosave script, as fixed
/// in [`REFERENCE_PATCH`], straight on Redis) and the old design's write-through (an
/// UPDATE per save).
pub async fn autosave_load(quick: bool) -> anyhow::Result<String> {
    let db = fresh_database("draftd_bench_autosave").await?;
    let service = Service::start(&db, &[]).await?;
    let steps: Vec<usize> = match std::env::var("BENCH_TYPISTS") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) if quick => vec![300, 1500],
        Err(_) => vec![300, 1500, 3000, 6000, 12000, 18000, 24000, 36000],
    };
    let window = Duration::from_secs(if quick { 3 } else { 8 });
    let max = steps.iter().copied().max().unwrap_or(300);
    let crowd = typists(&service, max).await?;

    let pg = Arc::new(connect(&db).await?);
    pg.batch_execute(
        "CREATE TABLE autosave_bench (id uuid PRIMARY KEY, form_data jsonb NOT NULL DEFAULT '{}',
             updated_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let rows: Vec<Uuid> = pg
        .query(
            "INSERT INTO autosave_bench (id) SELECT gen_random_uuid() FROM generate_series(1, $1::bigint) RETURNING id",
            &[&(max as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let rows = Arc::new(rows);
    // 32 connections, each with the UPDATE prepared on it.
    let mut pg_clients = Vec::new();
    for _ in 0..32 {
        let client = connect(&db).await?;
        let update = client
            .prepare("UPDATE autosave_bench SET form_data = form_data || $2::jsonb, updated_at = now() WHERE id = $1")
            .await?;
        pg_clients.push((client, update));
    }
    let pg_clients = Arc::new(pg_clients);
    let redis = deadpool_redis::Config::from_url(REDIS_URL.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    // The fixed reference, not the service's script: see REFERENCE_PATCH. It
    // saves into a copy of each typist's draft in its own layout.
    let script = Arc::new(Script::new(REFERENCE_PATCH));
    let raw_conn = reference_drafts(&redis, &crowd).await?;
    let connections = Arc::new(Connections::new(&service.address(), CONNECTIONS)?);
    let redis_pid = redis_pid(&mut redis.get().await?).await?;

    let mut table = String::from(
        "| typists | offered req/s | system | achieved req/s | p50 ms | p99 ms | p99.9 ms | errors | p99 ÷ raw Redis p99 | service CPU | Redis CPU | generator CPU | peak connections | service RSS MiB |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut series: Vec<Series> = [
        "draftd PATCH",
        "draftd GET /healthz (no store)",
        "raw Redis (same script)",
        "Postgres UPDATE per save",
    ]
    .iter()
    .map(|name| Series {
        name: (*name).into(),
        points: Vec::new(),
    })
    .collect();
    let mut knee = None;
    let mut at_goal = None;
    // The first load at which `GET /healthz`'s and raw Redis's p99 passed the limit.
    let mut first_over_limit: [Option<f64>; 2] = [None, None];
    // A first, unmeasured step warms up connections and caches on every side.
    for (k, &n) in [steps[0]].iter().chain(&steps).enumerate() {
        let warm_up = k == 0;
        let offered = n as f64 / AUTOSAVE_INTERVAL.as_secs_f64();
        let crowd_now = crowd[..n].to_vec();
        let before = Cpu::now(&service, redis_pid);
        let (draftd, peak) = with_peak_connections(
            service.port(),
            open_loop(n, AUTOSAVE_INTERVAL, window, |i| {
                autosave(&connections, &crowd_now[i], i)
            }),
        )
        .await;
        let draftd_cpu = before.shares_until(&Cpu::now(&service, redis_pid));
        let rss = service.rss_mib();

        let before = Cpu::now(&service, redis_pid);
        let floor = open_loop(n, AUTOSAVE_INTERVAL, window, |i| healthz(&connections, i)).await;
        let floor_cpu = before.shares_until(&Cpu::now(&service, redis_pid));

        let before = Cpu::now(&service, redis_pid);
        let raw = open_loop(n, AUTOSAVE_INTERVAL, window, |i| {
            raw_save(raw_conn.clone(), script.clone(), &crowd_now[i], i)
        })
        .await;
        let raw_cpu = before.shares_until(&Cpu::now(&service, redis_pid));

        let before = Cpu::now(&service, redis_pid);
        let write_through = open_loop(n, AUTOSAVE_INTERVAL, window, |i| {
            let (clients, rows) = (pg_clients.clone(), rows.clone());
            let id = rows[i];
            let value = keystrokes(i);
            async move {
                let (client, update) = &clients[i % clients.len()];
                client.execute(update, &[&id, &value]).await.is_ok()
            }
        })
        .await;
        let write_through_cpu = before.shares_until(&Cpu::now(&service, redis_pid));

        if warm_up {
            continue;
        }
        let cpu = |[service, redis, generator]: [f64; 3]| {
            format!("{service:.0}% | {redis:.0}% | {generator:.0}%")
        };
        let draftd_use = format!("{} | {peak} | {rss:.0}", cpu(draftd_cpu));
        let floor_use = format!("{} | | ", cpu(floor_cpu));
        let raw_use = format!("{} | | ", cpu(raw_cpu));
        let write_through_use = format!("{} | | ", cpu(write_through_cpu));
        for (system, sample, usage) in [
            ("draftd", &draftd, draftd_use.as_str()),
            ("draftd GET /healthz", &floor, floor_use.as_str()),
            ("raw Redis", &raw, raw_use.as_str()),
            (
                "Postgres write-through",
                &write_through,
                write_through_use.as_str(),
            ),
        ] {
            let ratio = sample.ms(99.0) / raw.ms(99.0).max(0.001);
            writeln!(
                table,
                "| {n} | {offered:.0} | {system} | {} | {ratio:.1} | {usage} |",
                row(sample)
            )?;
        }
        for (s, sample) in series
            .iter_mut()
            .zip([&draftd, &floor, &raw, &write_through])
        {
            s.points.push((offered, sample.ms(99.0).max(0.01)));
        }
        eprintln!(
            "  {n} typists ({offered:.0}/s): draftd p99 {:.2} ms ({:.0}/s; CPU {}; {peak} connections), GET /healthz {:.2} ms, raw Redis {:.2} ms, Postgres {:.2} ms",
            draftd.ms(99.0),
            draftd.throughput(),
            cpu(draftd_cpu),
            floor.ms(99.0),
            raw.ms(99.0),
            write_through.ms(99.0)
        );
        if n == GOAL_TYPISTS {
            at_goal = Some((draftd.ms(99.0), floor.ms(99.0), raw.ms(99.0)));
        }
        for (first, sample) in first_over_limit.iter_mut().zip([&floor, &raw]) {
            if sample.ms(99.0) > P99_LIMIT_MS {
                *first = first.or(Some(offered));
            }
        }
        if draftd.ms(99.0) > P99_LIMIT_MS {
            knee = knee.or(Some((n, offered)));
            if n >= GOAL_TYPISTS {
                break;
            }
        }
    }
    lines(
        "docs/bench/autosave-p99.svg",
        "Autosave p99 latency against offered load",
        "offered autosaves per second",
        "p99 latency, ms",
        &series,
    )?;
    service.stop().await;

    let mut doc = String::from("## 2. Autosave at realistic load, open loop\n\n");
    writeln!(
        doc,
        "Open loop: N simulated typists, each with its own draft and user, send a merge patch every 3 s \
         (phases spread evenly), as the page sends it (`Prefer: return=minimal`), over {CONNECTIONS} \
         keep-alive connections that the typists take turns on, as a proxy in front of the service \
         holds them (typist i on connection i mod {CONNECTIONS}); latency counts from the scheduled send, \
         so queueing, the generator's included, shows (the generator wakes a timer tick early, and counts \
         from its send when that is earlier). Beside each side: the CPU of the service, of Redis and of \
         the generator (% of one core; the machine has two), and the most connections to the service \
         seen at once (sampled twice a second). The generator runs on one thread of its own. Each step \
         runs {} s per system, the four alternating: draftd's `PATCH` over HTTP; draftd's `GET /healthz` \
         on the same connections, the floor of any call through this generator and the service's HTTP \
         layer with no store behind it (a patch adds the hop to Redis and back); the limit, the same \
         Lua script straight on Redis from the same generator; the alternative, the old design's \
         write-through `UPDATE` of a Postgres row per save (32 connections). The generator shares the two \
         cores with the service, Redis and Postgres, and an HTTP client costs it more than a Redis one, so \
         near the top the machine, not the service alone, runs out; the ratio to raw Redis, measured in the \
         same step, is the figure to compare across runs. {} {}\n",
        window.as_secs(),
        match at_goal {
            Some((draftd, floor, raw)) => format!(
                "At {GOAL_TYPISTS} typists ({:.0} req/s) draftd's p99 was {draftd:.2} ms (the goal: at most \
                 {P99_LIMIT_MS} ms), `GET /healthz`'s {floor:.2} ms, raw Redis's {raw:.2} ms.",
                GOAL_TYPISTS as f64 / AUTOSAVE_INTERVAL.as_secs_f64()
            ),
            None => format!("The run did not reach {GOAL_TYPISTS} typists."),
        },
        match knee {
            Some((n, offered)) => format!("draftd's p99 first passed {P99_LIMIT_MS} ms at {n} typists ({offered:.0} req/s)."),
            None => format!("draftd's p99 stayed under {P99_LIMIT_MS} ms up to the last step."),
        } + &first_over_limit
            .iter()
            .zip(["`GET /healthz`'s", "Raw Redis's"])
            .map(|(first, whose)| match first {
                Some(offered) => format!(" {whose} first passed it at {offered:.0} req/s."),
                None => format!(" {whose} stayed under it."),
            })
            .collect::<String>()
    )?;
    doc.push_str(&table);
    doc.push_str("\n![Autosave p99 against load](bench/autosave-p99.svg)\n\n");
    Ok(doc)
}
