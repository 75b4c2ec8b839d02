//! Benchmark 10: capacity. The CPU that each operation costs the service and
//! Redis, and a model of it that carries why a request costs more in an idle
//! process than in a busy one: CPU = idle + Σ rate × work + (context switches
//! a second beyond idle) × the cost of one, a cost that grows with the
//! process's sleep between wake-ups. The switch cost is calibrated on calls
//! whose work is constant (the service's `GET /healthz`, an empty Lua script
//! in Redis) at three rates; the work terms are fitted at one load (1,000
//! typists, each saving at the page's measured cadence); the model is then
//! checked at other loads and at a mixed workload. Every typist's event
//! stream is open throughout, and the windows take turns in rounds.
//! docs/capacity.md sizes deployments from these figures.

mod meter;
mod model;
mod report;
mod traffic;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::aio::MultiplexedConnection;
use reqwest::Client;

use super::{client, typical_form, typists_with, Typist, CONNECTIONS};
use crate::connections::Connections;
use crate::service::{fresh_database, redis_info, redis_pid, Service, REDIS_URL};
use meter::Meter;
use model::{Cores, Load, Measured, Role, Term};
use report::report;
use traffic::{pings, saves, Streams};

/// Autosaves per typist-minute: what e2e/tests/cadence.test.js measured the
/// page sending while a person types for half a minute with pauses (5 saves
/// in 29.9 s; 12.5 per minute of uninterrupted typing).
const SAVES_PER_MINUTE: f64 = 10.0;

/// The load the work terms are fitted at, and the loads the model is checked at.
const FIT_TYPISTS: usize = 1000;

const CHECK_TYPISTS: [usize; 2] = [300, 3000];

/// `GET /healthz` into the service and an empty script into Redis a second:
/// the switch cost's calibration, from a sleepy process to a busy one (their
/// work is measured as fast as they are answered).
const CALIBRATION_RATES: [usize; 3] = [50, 500, 4000];

/// A file as the page sends it, by tus: a creation, then the bytes in one PATCH.
const UPLOAD_BYTES: usize = 256 << 10;

/// Draft lists and uploads a second: beside the fit load (uploads enough for
/// their CPU to stand out of a window's noise), and in the mixed workload.
const LISTS_PER_SECOND: [usize; 2] = [50, 30];

const UPLOADS_PER_SECOND: [usize; 2] = [10, 3];

/// A busy process: the 3,000 typists saving every 0.75 s, 4,000 saves a
/// second (a typist's limit is 120 a minute).
const BUSY_INTERVAL: Duration = Duration::from_millis(750);

/// Turns of every window in order, a third of each window's time a turn, so
/// that whatever else the machine does meanwhile falls on them alike.
const ROUNDS: u32 = 3;

fn save_interval() -> Duration {
    Duration::from_secs_f64(60.0 / SAVES_PER_MINUTE)
}

/// Redis's `used_memory`, in bytes.
async fn redis_memory(conn: &mut deadpool_redis::Connection) -> anyhow::Result<f64> {
    redis_info(conn, "memory", "used_memory").await
}

/// The measurements, in order, and what they found.
struct Run {
    windows: Vec<(String, Role, Measured)>,
    /// An open stream's CPU a second, all told: its heartbeats, their switches.
    stream_idle: Cores,
    stream_open: Cores,
    create: Cores,
    redis_bytes_per_draft: f64,
    redis_bytes_per_stream: f64,
    service_kib_per_stream: f64,
    window: Duration,
}

/// Benchmark 10: Capacity: the CPU per operation, a model of it, checked.
pub async fn capacity(quick: bool) -> anyhow::Result<String> {
    let db = fresh_database("draftd_bench_capacity").await?;
    let service = Service::start(&db, &[("DRAFTD_EVENTS_MAX", "10000")]).await?;
    let run = measure(&service, Duration::from_secs(if quick { 15 } else { 30 })).await;
    service.stop().await;
    report(&run?)
}

/// What a window's load is made of, and what it measures with.
struct Bench<'a> {
    meter: Meter<'a>,
    connections: Arc<Connections>,
    redis: MultiplexedConnection,
    http: Client,
    base: String,
    /// Drafts that receive the uploads, each its first file, in turn.
    targets: Arc<(AtomicUsize, Vec<Arc<Typist>>)>,
    streams: Streams,
    window: Duration,
}

impl Bench<'_> {
    /// A window of `crowd` each saving every `interval`, and `lists` and
    /// `uploads` a second beside them.
    async fn run(
        &self,
        interval: Duration,
        crowd: &[Arc<Typist>],
        [lists, uploads]: [usize; 2],
    ) -> Measured {
        let events = self.streams.events();
        let (base, window) = (self.base.as_str(), self.window);
        let ((typed, listed, uploaded), used, switches, wall) = self
            .meter
            .around(async {
                tokio::join!(
                    saves(&self.connections, crowd, interval, window),
                    traffic::lists(&self.http, base, crowd, lists, window),
                    traffic::uploads(&self.http, base, &self.targets, uploads, window),
                )
            })
            .await;
        let load = Load {
            saves: typed as f64 / wall,
            streams: self.streams.count() as f64,
            events: (self.streams.events() - events) as f64 / wall,
            lists: listed as f64 / wall,
            uploads: uploaded as f64 / wall,
            pings: 0.0,
        };
        Measured {
            cores: [used[0], used[1]],
            generator: used[2],
            load,
            switches,
            wall,
        }
    }

    /// A window of `per_second` calls of constant work into each process,
    /// or of as many as are answered.
    async fn calibrate(&self, per_second: Option<usize>) -> Measured {
        let (called, used, switches, wall) = self
            .meter
            .around(pings(
                &self.connections,
                &self.redis,
                per_second,
                self.window,
            ))
            .await;
        Measured {
            cores: [used[0], used[1]],
            generator: used[2],
            load: Load {
                pings: called as f64 / wall,
                streams: self.streams.count() as f64,
                ..Load::default()
            },
            switches,
            wall,
        }
    }
}

async fn measure(service: &Service, window: Duration) -> anyhow::Result<Run> {
    let redis = deadpool_redis::Config::from_url(REDIS_URL.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let mut conn = redis.get().await?;
    let high = CHECK_TYPISTS[1];
    let meter = Meter {
        service,
        redis_pid: redis_pid(&mut conn).await?,
    };
    let memory_before = redis_memory(&mut conn).await?;
    let (crowd, used, _, wall) = meter
        .around(typists_with(service, high, &typical_form()))
        .await;
    let crowd = crowd?;
    let create = [used[0] * wall / high as f64, used[1] * wall / high as f64];
    let redis_bytes_per_draft = (redis_memory(&mut conn).await? - memory_before) / high as f64;
    let upload_count =
        (UPLOADS_PER_SECOND[0] + UPLOADS_PER_SECOND[1]) * window.as_secs() as usize + 20;
    let mut bench = Bench {
        meter,
        connections: Arc::new(Connections::new(&service.address(), CONNECTIONS)?),
        redis: deadpool_redis::redis::Client::open(REDIS_URL.as_str())?
            .get_multiplexed_async_connection()
            .await?,
        http: client(),
        base: service.base.clone(),
        targets: Arc::new((
            AtomicUsize::new(0),
            typists_with(service, upload_count, &typical_form()).await?,
        )),
        streams: Streams::new(service.address()),
        window: window / ROUNDS,
    };
    // Unmeasured: connections, caches and the scripts warm up.
    let (fit, warm_up) = (&crowd[..FIT_TYPISTS], Duration::from_secs(5));
    saves(&bench.connections, fit, save_interval(), warm_up).await;

    // Every typist's stream is open throughout, as the pages hold them: an
    // idle stream costs next to nothing (a heartbeat each 15 s), while
    // closing thousands between rounds leaves work that lands in the next
    // round's first turns.
    let idle = bench.run(save_interval(), &[], [0, 0]).await.cores;
    let (rss, memory) = (service.rss_mib(), redis_memory(&mut conn).await?);
    let (opened, used, _, wall) = bench.meter.around(bench.streams.open(&crowd)).await;
    opened?;
    let opened = high as f64;
    let stream_open = [used[0] * wall / opened, used[1] * wall / opened];
    let service_kib_per_stream = (service.rss_mib() - rss) * 1024.0 / opened;
    let redis_bytes_per_stream = (redis_memory(&mut conn).await? - memory) / opened;

    let mut windows: Vec<(String, Role, Measured)> = Vec::new();
    for round in 1..=ROUNDS {
        eprintln!("  round {round} of {ROUNDS}");
        let turns = bench.round(&crowd).await;
        if windows.is_empty() {
            windows = turns;
        } else {
            for ((_, _, all), (_, _, turn)) in windows.iter_mut().zip(&turns) {
                all.merge(turn);
            }
        }
    }
    let streams_idle = windows[0].2.cores;
    let stream_idle = [0, 1].map(|k| (streams_idle[k] - idle[k]) / opened);
    Ok(Run {
        windows,
        stream_idle,
        stream_open,
        create,
        redis_bytes_per_draft,
        redis_bytes_per_stream,
        service_kib_per_stream,
        window,
    })
}

impl Bench<'_> {
    /// One turn of every window, in order, every typist's stream open.
    async fn round(&self, crowd: &[Arc<Typist>]) -> Vec<(String, Role, Measured)> {
        let [low, high] = CHECK_TYPISTS;
        let (fit, cadence, none) = (&crowd[..FIT_TYPISTS], save_interval(), [0, 0]);
        let mut windows = vec![(
            format!("{high} streams open, idle"),
            Role::Idle,
            self.run(cadence, &[], none).await,
        )];
        let name = "`GET /healthz` and the empty script as fast as answered".to_owned();
        windows.push((name, Role::CallWork, self.calibrate(None).await));
        for rate in CALIBRATION_RATES {
            let name = format!("{rate} `GET /healthz` and {rate} empty scripts a second");
            windows.push((name, Role::Calibration, self.calibrate(Some(rate)).await));
        }
        let busy = format!(
            "{high} typists saving every {} ms",
            BUSY_INTERVAL.as_millis()
        );
        let typing = [
            (
                format!("{low} typists saving"),
                Role::Check,
                cadence,
                &crowd[..low],
                none,
            ),
            (
                format!("{FIT_TYPISTS} typists saving"),
                Role::Fit(Term::Save),
                cadence,
                fit,
                none,
            ),
            (
                "… and draft lists".to_owned(),
                Role::Fit(Term::List),
                cadence,
                fit,
                [LISTS_PER_SECOND[0], 0],
            ),
            (
                format!("… and uploads of {} KiB", UPLOAD_BYTES >> 10),
                Role::Fit(Term::Upload),
                cadence,
                fit,
                [0, UPLOADS_PER_SECOND[0]],
            ),
            (
                format!("{high} typists saving"),
                Role::Check,
                cadence,
                crowd,
                none,
            ),
            (
                format!("{high} typists saving, lists and uploads"),
                Role::Check,
                cadence,
                crowd,
                [LISTS_PER_SECOND[1], UPLOADS_PER_SECOND[1]],
            ),
            (busy, Role::Check, BUSY_INTERVAL, crowd, none),
        ];
        for (name, role, interval, typists, beside) in typing {
            windows.push((name, role, self.run(interval, typists, beside).await));
        }
        windows
    }
}
