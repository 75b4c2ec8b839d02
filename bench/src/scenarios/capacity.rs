//! Benchmark 10: capacity. The CPU that each operation costs the service and
//! Redis, and a model of it that carries why a request costs more in an idle
//! process than in a busy one: CPU = idle + Σ rate × work + (context switches
//! a second beyond idle) × the cost of one, a cost that grows with the
//! process's sleep between wake-ups. The switch cost is calibrated on calls
//! whose work is constant (the service's `GET /healthz`, an empty Lua script
//! in Redis) at three rates; the work terms are fitted at one load (1,000
//! typists, each saving at the page's measured cadence with its event stream
//! open); the model is then checked at other loads and at a mixed workload.
//! docs/capacity.md sizes deployments from these figures.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use deadpool_redis::redis::aio::MultiplexedConnection;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use reqwest::Client;
use serde_json::json;

use super::{answered_with, client, keystrokes, typical_form, typists_with, Typist, CONNECTIONS};
use crate::connections::Connections;
use crate::load::open_loop;
use crate::service::{cpu_of, fresh_database, redis_pid, Service, REDIS_URL};

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

fn save_interval() -> Duration {
    Duration::from_secs_f64(60.0 / SAVES_PER_MINUTE)
}

/// Operations a second, and streams open, of one workload. A save comes
/// back to its stream as a `saved` event: the two are one operation here.
#[derive(Clone, Copy, Default)]
struct Load {
    saves: f64,
    streams: f64,
    events: f64,
    lists: f64,
    uploads: f64,
    /// `GET /healthz` into the service, an empty script into Redis: the
    /// calibration's calls.
    pings: f64,
}

/// CPU in cores (seconds of CPU a second), of the service and of Redis.
type Cores = [f64; 2];

/// The CPU of one context switch (a sleep and a wake-up) of a process, in
/// seconds, by the time between its switches (the gap): measured at a few
/// gaps, linear in the gap's logarithm between them, level beyond them.
#[derive(Clone, Copy, Default)]
struct Wake {
    /// (gap in seconds, cost), the shortest gap first.
    points: [(f64, f64); 3],
}

impl Wake {
    /// The cost of a switch when the process switches `per_second` times a second.
    fn cost(&self, per_second: f64) -> f64 {
        let gap = (1.0 / per_second.max(1e-9)).ln();
        let points = self.points.map(|(gap, cost)| (gap.max(1e-9).ln(), cost));
        let [(first_gap, first), .., (last_gap, last)] = points;
        if gap <= first_gap {
            return first;
        }
        if gap >= last_gap {
            return last;
        }
        points
            .windows(2)
            .find(|pair| gap <= pair[1].0)
            .map_or(last, |pair| {
                let [(g0, c0), (g1, c1)] = [pair[0], pair[1]];
                c0 + (gap - g0) / (g1 - g0).max(1e-9) * (c1 - c0)
            })
    }
}

/// The model: the processes' idle CPU and switches, the cost of a switch,
/// and the work of each operation, in CPU seconds (a stream: per second open).
#[derive(Default)]
struct Model {
    idle: Cores,
    idle_switches: [f64; 2],
    wake: [Wake; 2],
    ping: Cores,
    save: Cores,
    stream: Cores,
    list: Cores,
    upload: Cores,
    /// A list's and an upload's CPU all told: their work and the switches
    /// they added to the saves' window they were measured beside.
    told: [Cores; 2],
}

impl Model {
    /// The CPU of `load` in a process that switches `switches` times a second.
    fn predict(&self, load: &Load, switches: [f64; 2]) -> Cores {
        [0, 1].map(|k| self.work(load)[k] + self.switching(switches, k))
    }

    /// Idle and the operations' work, without the switches.
    fn work(&self, l: &Load) -> Cores {
        [0, 1].map(|k| {
            self.idle[k]
                + l.saves * self.save[k]
                + l.streams * self.stream[k]
                + l.lists * self.list[k]
                + l.uploads * self.upload[k]
                + l.pings * self.ping[k]
        })
    }

    /// The CPU of process k's switches beyond idle's.
    fn switching(&self, switches: [f64; 2], k: usize) -> f64 {
        (switches[k] - self.idle_switches[k]).max(0.0) * self.wake[k].cost(switches[k])
    }
}

/// The processes whose CPU is read from /proc.
struct Meter<'a> {
    service: &'a Service,
    redis_pid: u32,
}

/// CPU in cores over a window, with what the window did.
struct Measured {
    cores: Cores,
    generator: f64,
    load: Load,
    /// Context switches a second, of the service's threads and of Redis's:
    /// how often they went to sleep and were woken (or preempted).
    switches: [f64; 2],
}

impl Meter<'_> {
    fn now(&self) -> [Duration; 3] {
        [
            self.service.cpu(),
            cpu_of(self.redis_pid),
            cpu_of(std::process::id()),
        ]
    }

    /// Context switches so far, of the service's threads and of Redis's.
    fn switches(&self) -> [u64; 2] {
        [
            self.service.pid().map_or(0, switches_of),
            switches_of(self.redis_pid),
        ]
    }

    /// Runs `work` and returns the cores each process used meanwhile, the
    /// switches a second of the service and Redis, and the wall time.
    async fn around<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> (T, [f64; 3], [f64; 2], f64) {
        let (start, before, switched) = (Instant::now(), self.now(), self.switches());
        let out = work.await;
        let (after, switches) = (self.now(), self.switches());
        let wall = start.elapsed().as_secs_f64().max(1e-3);
        let used = [0, 1, 2].map(|k| after[k].saturating_sub(before[k]).as_secs_f64() / wall);
        let rate = [0, 1].map(|k| switches[k].saturating_sub(switched[k]) as f64 / wall);
        (out, used, rate, wall)
    }
}

/// Voluntary and involuntary context switches so far of every thread of
/// process `pid`, from /proc.
fn switches_of(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.ends_with("ctxt_switches")
                        .then(|| value.trim().parse::<u64>().ok())?
                })
                .collect::<Vec<_>>()
        })
        .sum()
}

/// Calls of constant work into each process, `per_second` or each client's
/// next as soon as its last is answered: `GET /healthz` into the service
/// (its HTTP stack, without Redis) and an empty Lua script into Redis (its
/// scripting engine, as a save's function runs in it, without its keys).
/// Their code is most of the path an autosave wakes in each process, whose
/// caches a wake-up finds cold.
async fn pings(
    connections: &Arc<Connections>,
    redis: &MultiplexedConnection,
    per_second: Option<usize>,
    window: Duration,
) -> u64 {
    let empty = deadpool_redis::redis::Script::new("return 1");
    let call = |i: usize| {
        let request = hyper::Request::get("/healthz").body(Full::new(Bytes::new()));
        let healthz = answered_with(connections, i, request, StatusCode::OK);
        let (mut redis, empty) = (redis.clone(), empty.clone());
        async move {
            let ran = empty.invoke_async::<_, i64>(&mut redis).await;
            healthz.await && ran.is_ok()
        }
    };
    let Some(per_second) = per_second else {
        let deadline = Instant::now() + window;
        let clients = (0..CONNECTIONS).map(|i| async move {
            let mut answered = 0;
            while Instant::now() < deadline {
                answered += u64::from(call(i).await);
            }
            answered
        });
        return futures_util::future::join_all(clients)
            .await
            .into_iter()
            .sum();
    };
    let clients = CONNECTIONS.min(per_second);
    let interval = Duration::from_secs_f64(clients as f64 / per_second as f64);
    let sample = open_loop(clients, interval, window, call).await;
    sample.histogram.len() - sample.errors
}

/// The typists' saves, each every `interval`, typist i on connection i; how
/// many were answered 204.
async fn saves(
    connections: &Arc<Connections>,
    crowd: &[Arc<Typist>],
    interval: Duration,
    window: Duration,
) -> usize {
    if crowd.is_empty() {
        tokio::time::sleep(window).await;
        return 0;
    }
    let sequence = Arc::new(AtomicUsize::new(0));
    let sample = open_loop(crowd.len(), interval, window, |i| {
        let typist = &crowd[i];
        // Each save changes the field, as typing does.
        let n = sequence.fetch_add(1, Ordering::Relaxed);
        let request = hyper::Request::patch(format!("/api/v1/drafts/{}", typist.draft))
            .header(AUTHORIZATION, format!("Bearer {}", typist.token))
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .header("prefer", "return=minimal")
            .body(Full::new(Bytes::from(
                json!({"formData": keystrokes(n)}).to_string(),
            )));
        answered_with(connections, i, request, StatusCode::NO_CONTENT)
    })
    .await;
    usize::try_from(sample.histogram.len().saturating_sub(sample.errors)).unwrap_or(0)
}

/// `per_second` lists of a typist's drafts a second, as the page asks on a visit.
async fn lists(
    http: &Client,
    base: &str,
    crowd: &[Arc<Typist>],
    per_second: usize,
    window: Duration,
) -> u64 {
    if per_second == 0 {
        return 0;
    }
    let sample = open_loop(per_second, Duration::from_secs(1), window, |i| {
        let typist = crowd[i % crowd.len()].clone();
        let request = http
            .get(format!("{base}/api/v1/drafts?include=formData&limit=100"))
            .bearer_auth(&typist.token);
        async move { request.send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    sample.histogram.len() - sample.errors
}

/// `per_second` uploads a second, each the first file of a draft of its own
/// (which makes the draft's course): a tus creation, then the bytes.
async fn uploads(
    http: &Client,
    base: &str,
    targets: &Arc<(AtomicUsize, Vec<Arc<Typist>>)>,
    per_second: usize,
    window: Duration,
) -> u64 {
    if per_second == 0 {
        return 0;
    }
    let sample = open_loop(per_second, Duration::from_secs(1), window, |_| {
        let next = targets.0.fetch_add(1, Ordering::Relaxed);
        let typist = targets.1.get(next).cloned();
        let (http, base) = (http.clone(), base.to_owned());
        async move {
            match typist {
                Some(typist) => tus_upload(&http, &base, &typist).await.is_ok(),
                None => false,
            }
        }
    })
    .await;
    sample.histogram.len() - sample.errors
}

async fn tus_upload(http: &Client, base: &str, typist: &Typist) -> anyhow::Result<()> {
    let created = http
        .post(format!("{base}/api/v1/drafts/{}/uploads", typist.draft))
        .bearer_auth(&typist.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", UPLOAD_BYTES.to_string())
        // filename notes.txt, filetype text/plain
        .header(
            "upload-metadata",
            "filename bm90ZXMudHh0,filetype dGV4dC9wbGFpbg==",
        )
        .send()
        .await?;
    anyhow::ensure!(
        created.status() == 201,
        "tus creation answered {}",
        created.status()
    );
    let location = created
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default();
    let url = if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location.to_owned()
    };
    let sent = http
        .patch(url)
        .bearer_auth(&typist.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(vec![b'a'; UPLOAD_BYTES])
        .send()
        .await?;
    anyhow::ensure!(sent.status() == 204, "tus PATCH answered {}", sent.status());
    Ok(())
}

/// Open event streams, each on a connection of its own, as a page holds one.
struct Streams {
    address: String,
    open: Vec<tokio::task::JoinHandle<()>>,
    hellos: Arc<AtomicUsize>,
    events: Arc<AtomicU64>,
}

impl Streams {
    fn new(address: String) -> Self {
        Self {
            address,
            open: Vec::new(),
            hellos: Arc::new(AtomicUsize::new(0)),
            events: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Opens the streams of `crowd` and waits for every hello.
    async fn open(&mut self, crowd: &[Arc<Typist>]) -> anyhow::Result<()> {
        let want = self.hellos.load(Ordering::Relaxed) + crowd.len();
        for typist in crowd {
            let (address, typist) = (self.address.clone(), typist.clone());
            let (hellos, events) = (self.hellos.clone(), self.events.clone());
            self.open.push(tokio::spawn(async move {
                let _ = follow(&address, &typist, &hellos, &events).await;
            }));
        }
        super::wait_for(
            "every stream said hello",
            Duration::from_secs(60),
            Duration::from_millis(50),
            || {
                let hellos = self.hellos.clone();
                async move { Ok(hellos.load(Ordering::Relaxed) >= want) }
            },
        )
        .await
    }

    fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        self.open.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

/// Reads a draft's event stream until it ends, counting its hello and its `saved` events.
async fn follow(
    address: &str,
    typist: &Typist,
    hellos: &AtomicUsize,
    events: &AtomicU64,
) -> anyhow::Result<()> {
    let tcp = tokio::net::TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    let request = hyper::Request::get(format!("/api/v1/drafts/{}/events", typist.draft))
        .header(HOST, address)
        .header(AUTHORIZATION, format!("Bearer {}", typist.token))
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    anyhow::ensure!(
        response.status() == 200,
        "events answered {}",
        response.status()
    );
    let mut body = response.into_body();
    let mut greeted = false;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        if !greeted && data.windows(12).any(|w| w == b"event: hello") {
            greeted = true;
            hellos.fetch_add(1, Ordering::Relaxed);
        }
        let saved = data.windows(12).filter(|w| *w == b"event: saved").count();
        events.fetch_add(saved as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Redis's `used_memory`, in bytes.
async fn redis_memory(conn: &mut deadpool_redis::Connection) -> anyhow::Result<f64> {
    let info: String = deadpool_redis::redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await?;
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("INFO memory names no used_memory"))
}

/// What a window is for.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Idle,
    /// Calls of constant work as fast as they are answered: their work.
    CallWork,
    /// The same calls at a rate: the switch cost at the rate's gap.
    Calibration,
    /// Fits the work of the operation it adds.
    Fit(Term),
    Check,
}

#[derive(Clone, Copy, PartialEq)]
enum Term {
    Stream,
    Save,
    List,
    Upload,
}

/// The measurements, in order, and what they found.
struct Run {
    windows: Vec<(String, Role, Measured)>,
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
    /// A window of `crowd` each saving every `interval` (with its stream
    /// open if `streamed`), and `lists` and `uploads` a second beside them.
    async fn run(
        &self,
        interval: Duration,
        crowd: &[Arc<Typist>],
        streamed: bool,
        [lists, uploads]: [usize; 2],
    ) -> Measured {
        let events = self.streams.events();
        let (base, window) = (self.base.as_str(), self.window);
        let ((typed, listed, uploaded), used, switches, wall) = self
            .meter
            .around(async {
                tokio::join!(
                    saves(&self.connections, crowd, interval, window),
                    self::lists(&self.http, base, crowd, lists, window),
                    self::uploads(&self.http, base, &self.targets, uploads, window),
                )
            })
            .await;
        let load = Load {
            saves: typed as f64 / wall,
            streams: if streamed { crowd.len() as f64 } else { 0.0 },
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
                ..Load::default()
            },
            switches,
        }
    }
}

async fn measure(service: &Service, window: Duration) -> anyhow::Result<Run> {
    let redis = deadpool_redis::Config::from_url(REDIS_URL.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let mut conn = redis.get().await?;
    let [low, high] = CHECK_TYPISTS;
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
        window,
    };
    let (fit, cadence, none) = (&crowd[..FIT_TYPISTS], save_interval(), [0, 0]);
    // Unmeasured: connections, caches and the scripts warm up.
    saves(&bench.connections, fit, cadence, Duration::from_secs(5)).await;

    let mut windows = Vec::new();
    eprintln!("  idle; the switch cost's calibration; {low} typists with their streams");
    windows.push((
        "idle".into(),
        Role::Idle,
        bench.run(cadence, &[], false, none).await,
    ));
    let name = "`GET /healthz` and the empty script as fast as answered".to_owned();
    windows.push((name, Role::CallWork, bench.calibrate(None).await));
    for rate in CALIBRATION_RATES {
        let name = format!("{rate} `GET /healthz` and {rate} empty scripts a second");
        windows.push((name, Role::Calibration, bench.calibrate(Some(rate)).await));
    }
    bench.streams.open(&crowd[..low]).await?;
    let name = format!("{low} typists, a stream each");
    let m = bench.run(cadence, &crowd[..low], true, none).await;
    windows.push((name, Role::Check, m));

    let (rss, memory) = (service.rss_mib(), redis_memory(&mut conn).await?);
    let (opened, used, _, wall) = bench
        .meter
        .around(bench.streams.open(&crowd[low..FIT_TYPISTS]))
        .await;
    opened?;
    let added = (FIT_TYPISTS - low) as f64;
    let stream_open = [used[0] * wall / added, used[1] * wall / added];
    let service_kib_per_stream = (service.rss_mib() - rss) * 1024.0 / added;
    let redis_bytes_per_stream = (redis_memory(&mut conn).await? - memory) / added;
    eprintln!("  {FIT_TYPISTS} streams idle; their typists saving; with lists; with uploads");
    let mut idle = bench.run(cadence, &[], false, none).await;
    idle.load.streams = FIT_TYPISTS as f64;
    let name = format!("{FIT_TYPISTS} streams open, idle");
    windows.push((name, Role::Fit(Term::Stream), idle));
    let name = format!("{FIT_TYPISTS} typists, a stream each");
    let m = bench.run(cadence, fit, true, none).await;
    windows.push((name, Role::Fit(Term::Save), m));
    let m = bench
        .run(cadence, fit, true, [LISTS_PER_SECOND[0], 0])
        .await;
    windows.push(("… and draft lists".into(), Role::Fit(Term::List), m));
    let name = format!("… and uploads of {} KiB", UPLOAD_BYTES >> 10);
    let m = bench
        .run(cadence, fit, true, [0, UPLOADS_PER_SECOND[0]])
        .await;
    windows.push((name, Role::Fit(Term::Upload), m));

    bench.streams.open(&crowd[FIT_TYPISTS..high]).await?;
    eprintln!("  {high} typists with their streams; with lists and uploads; busy");
    let name = format!("{high} typists, a stream each");
    windows.push((
        name,
        Role::Check,
        bench.run(cadence, &crowd, true, none).await,
    ));
    let mixed = [LISTS_PER_SECOND[1], UPLOADS_PER_SECOND[1]];
    let name = format!("{high} typists, a stream each, lists and uploads");
    windows.push((
        name,
        Role::Check,
        bench.run(cadence, &crowd, true, mixed).await,
    ));
    let name = format!(
        "{high} typists saving every {} ms, a stream each",
        BUSY_INTERVAL.as_millis()
    );
    let m = bench.run(BUSY_INTERVAL, &crowd, true, none).await;
    windows.push((name, Role::Check, m));
    Ok(Run {
        windows,
        stream_open,
        create,
        redis_bytes_per_draft,
        redis_bytes_per_stream,
        service_kib_per_stream,
        window,
    })
}

/// The model: idle from the idle window; the calls' work where they come
/// as fast as answered, and the switch cost at each of their rates; then
/// each operation's work from the fitting window that adds it: what the
/// window measured less what the model so far explains (with the window's
/// own switches), per operation.
fn fit(windows: &[(String, Role, Measured)]) -> Model {
    let mut model = Model::default();
    let mut calibration = Vec::new();
    for (_, role, m) in windows {
        match role {
            Role::Idle => (model.idle, model.idle_switches) = (m.cores, m.switches),
            Role::CallWork => {
                let calls = m.load.pings.max(1e-9);
                model.ping = [0, 1].map(|k| (m.cores[k] - model.idle[k]) / calls);
            }
            Role::Calibration => calibration.push(m),
            _ => {}
        }
    }
    if let [sleepy, hot, hotter] = calibration[..] {
        for k in 0..2 {
            model.wake[k] = calibrate(&model, k, [hotter, hot, sleepy]);
        }
    }
    let mut saves_switches = [0.0; 2];
    for (_, role, m) in windows {
        let Role::Fit(term) = role else { continue };
        let l = m.load;
        let (without, rate) = match term {
            Term::Stream => (Load { streams: 0.0, ..l }, l.streams),
            Term::Save => (Load { saves: 0.0, ..l }, l.saves),
            Term::List => (Load { lists: 0.0, ..l }, l.lists),
            Term::Upload => (Load { uploads: 0.0, ..l }, l.uploads),
        };
        let per = |known: Cores| [0, 1].map(|k| (m.cores[k] - known[k]) / rate.max(1e-9));
        let cost = per(model.predict(&without, m.switches));
        let told = per(model.predict(&without, saves_switches));
        match term {
            Term::Stream => model.stream = cost,
            Term::Save => (model.save, saves_switches) = (cost, m.switches),
            Term::List => (model.list, model.told[0]) = (cost, told),
            Term::Upload => (model.upload, model.told[1]) = (cost, told),
        }
    }
    model
}

/// Process k's switch cost at each rate of calls of known work: what the
/// window used beyond idle and the calls' work, per switch beyond idle's.
fn calibrate(model: &Model, k: usize, windows: [&Measured; 3]) -> Wake {
    Wake {
        points: windows.map(|m| {
            let beyond = m.cores[k] - model.idle[k] - m.load.pings * model.ping[k];
            let switches = (m.switches[k] - model.idle_switches[k]).max(1e-9);
            (1.0 / m.switches[k].max(1e-9), beyond / switches)
        }),
    }
}

fn report(run: &Run) -> anyhow::Result<String> {
    let model = fit(&run.windows);
    let mut doc = String::from(
        "## 10. Capacity: the CPU of each operation, a model with its context switches, checked\n\n",
    );
    writeln!(
        doc,
        "What sizes a deployment ([capacity.md](capacity.md)): the CPU that each operation costs the \
         service and Redis, read from /proc (10 ms ticks) over windows of {} s, with the context switches \
         of every thread of each process. Typists save at the page's cadence, {SAVES_PER_MINUTE} autosaves \
         a typist-minute (measured by `e2e/tests/cadence.test.js`), open loop over {CONNECTIONS} keep-alive \
         connections, their drafts a typical form, each typist's event stream open on a connection of its \
         own, as the page holds it (each save comes back to it as a `saved` event: a save here is the save \
         and its event); a draft list is the page's (`GET /api/v1/drafts?include=formData&limit=100`); an \
         upload is the first file of a draft (which makes its course), {} KiB by tus, a creation and one \
         PATCH.\n\n\
         The model is CPU = idle + Σ rate × work + (switches/s − idle's) × the cost of a switch, per \
         process. A request that finds a process asleep wakes it, and the wake-up costs more than the \
         request's work when the process is idle; a busy process serves several requests a wake-up. The \
         switch cost is calibrated apart, on calls of constant work (`GET /healthz` into the service, which \
         answers without Redis, and an empty Lua script, `return 1` by `EVALSHA`, into Redis: the HTTP \
         stack and the scripting engine an autosave runs in, whose caches a wake-up finds cold): first as \
         fast as they are answered, where a process is woken for many calls at once, which gives their \
         work (the CPU beyond idle per call, its few switches in); then at {:?} a second, where what a \
         window used beyond idle and the calls' work, per switch beyond idle's, is the cost of a switch at \
         that window's time between switches. Between those times the cost is linear in the time's \
         logarithm, and level beyond them. The work terms are then fitted at one load, {FIT_TYPISTS} typists: \
         each fitting window adds one kind of operation, and its work is what the window measured less \
         what the model explains (with the window's own switches), per operation. The switches a second are \
         an input: each window's measured ones. The other windows check the model: {} and {} typists with \
         their streams, {} typists with lists and uploads beside them, and a busy process, the {} typists \
         saving every {} ms. The service, Redis, Postgres (not measured: uploads write a course row and a \
         file row) and this generator (one thread) share the machine's two cores ({}).\n",
        run.window.as_secs(),
        UPLOAD_BYTES >> 10,
        CALIBRATION_RATES,
        CHECK_TYPISTS[0],
        CHECK_TYPISTS[1],
        CHECK_TYPISTS[1],
        CHECK_TYPISTS[1],
        BUSY_INTERVAL.as_millis(),
        cpu_model(),
    )?;
    doc.push_str("| term | service | Redis |\n|---|---|---|\n");
    let us = |c: Cores| format!("{:.1} µs | {:.1} µs", c[0] * 1e6, c[1] * 1e6);
    let [w0, w1] = model.wake;
    let switch_cost = |i: usize| {
        let rate = CALIBRATION_RATES[CALIBRATION_RATES.len() - 1 - i];
        (
            format!("a switch, at {rate} calls a second (one every: service, Redis)"),
            format!(
                "{} ({:.2}, {:.2} ms)",
                us([w0.points[i].1, w1.points[i].1]),
                w0.points[i].0 * 1e3,
                w1.points[i].0 * 1e3
            ),
        )
    };
    let rows = [
        ("idle CPU, a second".to_owned(), us(model.idle)),
        (
            "idle switches, a second".to_owned(),
            format!(
                "{:.0} | {:.0}",
                model.idle_switches[0], model.idle_switches[1]
            ),
        ),
        (
            "work: a `GET /healthz`, an empty script (as fast as answered)".to_owned(),
            us(model.ping),
        ),
        switch_cost(0),
        switch_cost(1),
        switch_cost(2),
        (
            "work: autosave and its `saved` event".to_owned(),
            us(model.save),
        ),
        (
            "work: event stream open, a second".to_owned(),
            us(model.stream),
        ),
        ("work: draft list".to_owned(), us(model.list)),
        (
            "work: upload (tus creation and one PATCH)".to_owned(),
            us(model.upload),
        ),
        (
            "draft list, all told (its work and its switches)".to_owned(),
            us(model.told[0]),
        ),
        ("upload, all told".to_owned(), us(model.told[1])),
        (
            "event stream opened (connect, subscribe, hello), all told".to_owned(),
            us(run.stream_open),
        ),
        (
            "draft created (typical form; 64 at a time, closed loop), all told".to_owned(),
            us(run.create),
        ),
    ];
    for (name, value) in rows {
        writeln!(doc, "| {name} | {value} |")?;
    }
    writeln!(
        doc,
        "\nMemory: {:.0} bytes of Redis `used_memory` per draft ({} typical drafts, a user each, their \
         index and rate keys included); per open stream {:.0} bytes of Redis (its channel) and {:.1} KiB \
         of the service's resident memory (RSS, as {} streams opened).\n",
        run.redis_bytes_per_draft,
        CHECK_TYPISTS[1],
        run.redis_bytes_per_stream,
        run.service_kib_per_stream,
        FIT_TYPISTS - CHECK_TYPISTS[0],
    )?;
    windows_table(&mut doc, run, &model)?;
    Ok(doc)
}

/// Each window's load, its CPU beside the model's, and a save's apparent cost.
fn windows_table(doc: &mut String, run: &Run, model: &Model) -> anyhow::Result<()> {
    doc.push_str(
        "| window | role | saves/s | streams | events/s | lists/s | uploads/s | calls/s | switches/s, service, Redis | service CPU measured | predicted | error | Redis CPU measured | predicted | error | generator CPU | µs a save, service, Redis | switches a save, service, Redis |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut costs = Vec::new();
    for (name, role, m) in &run.windows {
        // The calls' work is their CPU per call with their few switches in.
        let predicted = match role {
            Role::CallWork => model.work(&m.load),
            _ => model.predict(&m.load, m.switches),
        };
        let (l, s) = (&m.load, m.switches);
        let error = |k: usize| (predicted[k] - m.cores[k]) / m.cores[k].max(1e-9) * 100.0;
        let label = match role {
            Role::Idle => "idle",
            Role::CallWork => "calls' work",
            Role::Calibration => "switch cost",
            Role::Fit(_) => "fit",
            Role::Check => "**check**",
        };
        // A save's apparent cost: the window's CPU less the work of its
        // other operations, per save (the switches left in); and its
        // switches beyond idle's.
        let per_save = if l.saves > 0.0 {
            let rest = model.work(&Load { saves: 0.0, ..*l });
            let switches = [0, 1].map(|k| (s[k] - model.idle_switches[k]) / l.saves);
            if *role == Role::Check {
                let cost = [0, 1].map(|k| model.save[k] + switches[k] * model.wake[k].cost(s[k]));
                costs.push(format!(
                    "{name} ({:.0} saves/s; {:.1} and {:.1} switches a save): {:.0} and {:.0} µs",
                    l.saves,
                    switches[0],
                    switches[1],
                    cost[0] * 1e6,
                    cost[1] * 1e6
                ));
            }
            format!(
                "{:.0}, {:.0} | {:.1}, {:.1}",
                (m.cores[0] - rest[0]) / l.saves * 1e6,
                (m.cores[1] - rest[1]) / l.saves * 1e6,
                switches[0],
                switches[1]
            )
        } else {
            " | ".into()
        };
        writeln!(
            doc,
            "| {name} | {label} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} | {:.0}, {:.0} | {:.1}% | {:.1}% | {:+.0}% | {:.1}% | {:.1}% | {:+.0}% | {:.0}% | {per_save} |",
            l.saves, l.streams, l.events, l.lists, l.uploads, l.pings, s[0], s[1],
            m.cores[0] * 100.0, predicted[0] * 100.0, error(0),
            m.cores[1] * 100.0, predicted[1] * 100.0, error(1),
            m.generator * 100.0,
        )?;
        eprintln!(
            "  {name} ({label}): service {:.1}% (model {:.1}%, {:+.0}%), Redis {:.1}% (model {:.1}%, {:+.0}%)",
            m.cores[0] * 100.0, predicted[0] * 100.0, error(0),
            m.cores[1] * 100.0, predicted[1] * 100.0, error(1)
        );
    }
    doc.push_str(
        "\nCPU in % of one core; error = (predicted − measured) ÷ measured; the model predicts each \
         window from its load and its measured switches. A fitting or calibrating window matches the model \
         by construction (the calls' work is their CPU with their switches in). A save's µs: the window's CPU less idle and the work of its other operations, \
         per save, its switches' cost left in; its switches: those of every thread of the process beyond \
         the idle rate, per save.\n",
    );
    writeln!(
        doc,
        "\nFor sizing, the model's cost of a save with its event (service, Redis), at each check's \
         switches: {}.\n",
        costs.join("; ")
    )?;
    Ok(())
}

/// The processor's name, from /proc/cpuinfo.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map_or_else(
            || "an unnamed processor".into(),
            |name| name.trim_start_matches([' ', '\t', ':']).to_owned(),
        )
}
