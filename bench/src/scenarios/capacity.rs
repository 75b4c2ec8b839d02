//! Benchmark 10: capacity. The CPU that each operation costs the service and
//! Redis, measured one kind of operation at a time (at the load of 1,000
//! typists, each saving at the page's measured cadence with its event stream
//! open), a linear model made of those costs, and the model's prediction
//! beside the measured CPU at other loads and at a mixed workload.
//! docs/capacity.md sizes deployments from these figures.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http_body_util::{BodyExt, Empty, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use reqwest::Client;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{answered_with, client, keystrokes, typical_form, Typist, CONNECTIONS};
use crate::connections::Connections;
use crate::load::open_loop;
use crate::service::{cpu_of, fresh_database, new_user, redis_pid, Service, REDIS_URL};

/// Autosaves per typist-minute: what e2e/tests/cadence.test.js measured the
/// page sending while a person types for half a minute with pauses (5 saves
/// in 29.9 s; 12.5 per minute of uninterrupted typing).
const SAVES_PER_MINUTE: f64 = 10.0;
/// The load the costs are measured at, and the loads the model is checked at.
const FIT_TYPISTS: usize = 1000;
const CHECK_TYPISTS: [usize; 2] = [300, 3000];
/// A file as the page sends it, by tus: a creation, then the bytes in one PATCH.
const UPLOAD_BYTES: usize = 256 << 10;
/// Draft lists and uploads a second: beside the fit load, and in the mixed workload.
const LISTS_PER_SECOND: [usize; 2] = [50, 30];
const UPLOADS_PER_SECOND: [usize; 2] = [2, 3];
/// A busy process: the 3,000 typists saving every 0.75 s, 4,000 saves a
/// second (a typist's limit is 120 a minute).
const BUSY_INTERVAL: Duration = Duration::from_millis(750);

fn save_interval() -> Duration {
    Duration::from_secs_f64(60.0 / SAVES_PER_MINUTE)
}

/// Operations a second, and streams open, of one workload.
#[derive(Clone, Copy, Default)]
struct Load {
    saves: f64,
    streams: f64,
    events: f64,
    lists: f64,
    uploads: f64,
}

/// CPU in cores (seconds of CPU a second), of the service and of Redis.
type Cores = [f64; 2];

/// What one of each costs, in CPU seconds (a stream: per second it is open),
/// and the processes' idle CPU.
#[derive(Default)]
struct Costs {
    idle: Cores,
    save: Cores,
    stream: Cores,
    event: Cores,
    list: Cores,
    upload: Cores,
}

impl Costs {
    fn predict(&self, load: &Load) -> Cores {
        let terms = [
            (1.0, self.idle),
            (load.saves, self.save),
            (load.streams, self.stream),
            (load.events, self.event),
            (load.lists, self.list),
            (load.uploads, self.upload),
        ];
        let side = |k: usize| terms.iter().map(|(rate, cost)| rate * cost[k]).sum();
        [side(0), side(1)]
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
    fn now(&self) -> (Instant, [Duration; 3]) {
        (
            Instant::now(),
            [
                self.service.cpu(),
                cpu_of(self.redis_pid),
                cpu_of(std::process::id()),
            ],
        )
    }

    /// Context switches so far, of the service's threads and of Redis's.
    fn switches(&self) -> [u64; 2] {
        [
            self.service.pid().map_or(0, switches_of),
            switches_of(self.redis_pid),
        ]
    }

    /// Runs `work` and returns the cores each process used meanwhile, and the wall time.
    async fn around<T>(&self, work: impl std::future::Future<Output = T>) -> (T, [f64; 3], f64) {
        let (start, before) = self.now();
        let out = work.await;
        let (end, after) = self.now();
        let wall = (end - start).as_secs_f64().max(1e-3);
        let used = [0, 1, 2].map(|k| after[k].saturating_sub(before[k]).as_secs_f64() / wall);
        (out, used, wall)
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

/// Typists with a typical form each (their own user), created 64 at a time.
async fn typists(service: &Service, count: usize) -> anyhow::Result<Vec<Arc<Typist>>> {
    let http = client();
    let org = Uuid::new_v4();
    let created = stream::iter(0..count)
        .map(|_| {
            let (http, url) = (http.clone(), format!("{}/api/v1/drafts", service.base));
            async move {
                let (user, token) = new_user(org);
                let draft: Value = http
                    .post(url)
                    .bearer_auth(&token)
                    .json(&json!({ "formData": typical_form() }))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let draft = draft["id"].as_str().unwrap_or_default().parse()?;
                anyhow::Ok(Arc::new(Typist { user, token, draft }))
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    created.into_iter().collect()
}

/// The typists' saves, each every `interval`, typist i on connection i; how
/// many were answered 204.
async fn saves(
    connections: &Arc<Connections>,
    crowd: &[Arc<Typist>],
    interval: Duration,
    window: Duration,
) -> usize {
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

/// The measurements, in order, and what they found.
struct Run {
    windows: Vec<(String, Measured)>,
    stream_open: Cores,
    create: Cores,
    redis_bytes_per_draft: f64,
    redis_bytes_per_stream: f64,
    service_kib_per_stream: f64,
    window: Duration,
}

/// Benchmark 10: Capacity: the CPU per operation, a linear model of it, checked.
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
    http: Client,
    base: String,
    /// Drafts that receive the uploads, each its first file, in turn.
    targets: Arc<(AtomicUsize, Vec<Arc<Typist>>)>,
    streams: Streams,
    window: Duration,
}

impl Bench<'_> {
    /// A window of `crowd` saving at the cadence (each with its stream
    /// open if `streamed`), and `lists` and `uploads` a second beside them.
    async fn run(
        &self,
        crowd: &[Arc<Typist>],
        streamed: bool,
        lists: usize,
        uploads: usize,
    ) -> Measured {
        self.run_at(save_interval(), crowd, streamed, lists, uploads)
            .await
    }

    /// [`Bench::run`] with each typist saving every `interval`.
    async fn run_at(
        &self,
        interval: Duration,
        crowd: &[Arc<Typist>],
        streamed: bool,
        lists: usize,
        uploads: usize,
    ) -> Measured {
        let events = self.streams.events();
        let switched = self.meter.switches();
        let (base, window) = (self.base.as_str(), self.window);
        let ((typed, listed, uploaded), used, wall) = self
            .meter
            .around(async {
                tokio::join!(
                    async {
                        if crowd.is_empty() {
                            tokio::time::sleep(window).await;
                            return 0;
                        }
                        saves(&self.connections, crowd, interval, window).await
                    },
                    async {
                        if lists == 0 {
                            return 0;
                        }
                        self::lists(&self.http, base, crowd, lists, window).await
                    },
                    async {
                        if uploads == 0 {
                            return 0;
                        }
                        self::uploads(&self.http, base, &self.targets, uploads, window).await
                    },
                )
            })
            .await;
        let load = Load {
            saves: typed as f64 / wall,
            streams: if streamed { crowd.len() as f64 } else { 0.0 },
            events: (self.streams.events() - events) as f64 / wall,
            lists: listed as f64 / wall,
            uploads: uploaded as f64 / wall,
        };
        let now = self.meter.switches();
        Measured {
            cores: [used[0], used[1]],
            generator: used[2],
            load,
            switches: [0, 1].map(|k| now[k].saturating_sub(switched[k]) as f64 / wall),
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
    let (crowd, used, wall) = meter.around(typists(service, high)).await;
    let crowd = crowd?;
    let create = [used[0] * wall / high as f64, used[1] * wall / high as f64];
    let redis_bytes_per_draft = (redis_memory(&mut conn).await? - memory_before) / high as f64;
    let upload_count =
        (UPLOADS_PER_SECOND[0] + UPLOADS_PER_SECOND[1]) * window.as_secs() as usize + 20;
    let mut bench = Bench {
        meter,
        connections: Arc::new(Connections::new(&service.address(), CONNECTIONS)?),
        http: client(),
        base: service.base.clone(),
        targets: Arc::new((AtomicUsize::new(0), typists(service, upload_count).await?)),
        streams: Streams::new(service.address()),
        window,
    };
    let fit = &crowd[..FIT_TYPISTS];
    let mut windows = Vec::new();
    // Unmeasured: connections, caches and the scripts warm up.
    saves(
        &bench.connections,
        fit,
        save_interval(),
        Duration::from_secs(5),
    )
    .await;

    eprintln!(
        "  idle; {FIT_TYPISTS} typists' saves without streams; {low} typists with their streams"
    );
    windows.push(("idle".into(), bench.run(&[], false, 0, 0).await));
    let name = format!("{FIT_TYPISTS} typists' saves, no stream");
    windows.push((name, bench.run(fit, false, 0, 0).await));
    bench.streams.open(&crowd[..low]).await?;
    windows.push((
        format!("{low} typists, a stream each"),
        bench.run(&crowd[..low], true, 0, 0).await,
    ));

    let (rss, memory) = (service.rss_mib(), redis_memory(&mut conn).await?);
    let (opened, used, wall) = bench
        .meter
        .around(bench.streams.open(&crowd[low..FIT_TYPISTS]))
        .await;
    opened?;
    let added = (FIT_TYPISTS - low) as f64;
    let stream_open = [used[0] * wall / added, used[1] * wall / added];
    let service_kib_per_stream = (service.rss_mib() - rss) * 1024.0 / added;
    let redis_bytes_per_stream = (redis_memory(&mut conn).await? - memory) / added;
    eprintln!("  {FIT_TYPISTS} streams idle; their typists saving; with lists; with uploads");
    let mut idle = bench.run(&[], false, 0, 0).await;
    idle.load.streams = FIT_TYPISTS as f64;
    windows.push((format!("{FIT_TYPISTS} streams open, idle"), idle));
    windows.push((
        format!("{FIT_TYPISTS} typists, a stream each"),
        bench.run(fit, true, 0, 0).await,
    ));
    let [lists, uploads] = [LISTS_PER_SECOND[0], UPLOADS_PER_SECOND[0]];
    windows.push((
        "… and draft lists".into(),
        bench.run(fit, true, lists, 0).await,
    ));
    let name = format!("… and uploads of {} KiB", UPLOAD_BYTES >> 10);
    windows.push((name, bench.run(fit, true, 0, uploads).await));

    bench.streams.open(&crowd[FIT_TYPISTS..high]).await?;
    eprintln!("  {high} typists with their streams; then with lists and uploads");
    windows.push((
        format!("{high} typists, a stream each"),
        bench.run(&crowd, true, 0, 0).await,
    ));
    let [lists, uploads] = [LISTS_PER_SECOND[1], UPLOADS_PER_SECOND[1]];
    let name = format!("{high} typists, a stream each, lists and uploads");
    windows.push((name, bench.run(&crowd, true, lists, uploads).await));
    let name = format!(
        "{high} typists saving every {} ms, a stream each",
        BUSY_INTERVAL.as_millis()
    );
    windows.push((name, bench.run_at(BUSY_INTERVAL, &crowd, true, 0, 0).await));
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

/// Which windows fit the model; the rest check it.
const FITTING: [usize; 6] = [0, 1, 3, 4, 5, 6];

/// The costs, each from the window that adds its operation: what the window
/// measured less what the costs found before it explain, per operation.
fn fit(windows: &[(String, Measured)]) -> Costs {
    let at = |k: usize| &windows[k].1;
    let mut costs = Costs {
        idle: at(0).cores,
        ..Costs::default()
    };
    let per = |costs: &Costs, m: &Measured, without: Load, rate: f64| -> Cores {
        let known = costs.predict(&without);
        [0, 1].map(|k| (m.cores[k] - known[k]) / rate.max(1e-9))
    };
    let l = at(1).load;
    costs.save = per(&costs, at(1), Load { saves: 0.0, ..l }, l.saves);
    let l = at(3).load;
    costs.stream = per(&costs, at(3), Load { streams: 0.0, ..l }, l.streams);
    let l = at(4).load;
    costs.event = per(&costs, at(4), Load { events: 0.0, ..l }, l.events);
    let l = at(5).load;
    costs.list = per(&costs, at(5), Load { lists: 0.0, ..l }, l.lists);
    let l = at(6).load;
    costs.upload = per(&costs, at(6), Load { uploads: 0.0, ..l }, l.uploads);
    costs
}

fn report(run: &Run) -> anyhow::Result<String> {
    let costs = fit(&run.windows);
    let mut doc =
        String::from("## 10. Capacity: the CPU of each operation, a linear model, checked\n\n");
    writeln!(
        doc,
        "What sizes a deployment ([capacity.md](capacity.md)): the CPU that each operation costs the \
         service and Redis, read from /proc (10 ms ticks) over windows of {} s. Typists save at the page's \
         cadence, {SAVES_PER_MINUTE} autosaves a typist-minute (measured by `e2e/tests/cadence.test.js`), \
         open loop over {CONNECTIONS} keep-alive connections, their drafts a typical form, each typist's \
         event stream open on a connection of its own, as the page holds it (each save comes back to it as \
         a `saved` event); a draft list is the page's (`GET /api/v1/drafts?include=formData&limit=100`); an \
         upload is the first file of a draft (which makes its course), {} KiB by tus, a creation and one \
         PATCH. The model is CPU = idle + Σ rate × cost, fitted at {FIT_TYPISTS} typists: each fitting \
         window adds one kind of operation, and its cost is what the window measured less what the costs \
         before it explain, per operation: idle; saves without streams; streams open and idle (heartbeats \
         every 15 s); the typists saving with their streams (the events delivered); then draft lists, then \
         uploads, each beside the typists. The other windows check the model: {} and {} typists with their \
         streams, {} typists with lists and uploads beside them, and a busy process: the {} typists \
         saving every {} ms. The service, Redis, Postgres (not \
         measured: uploads write a course row and a file row) and this generator (one thread) share the \
         machine's two cores ({}).\n",
        run.window.as_secs(),
        UPLOAD_BYTES >> 10,
        CHECK_TYPISTS[0],
        CHECK_TYPISTS[1],
        CHECK_TYPISTS[1],
        CHECK_TYPISTS[1],
        BUSY_INTERVAL.as_millis(),
        cpu_model(),
    )?;
    doc.push_str("| operation | service CPU µs | Redis CPU µs |\n|---|---|---|\n");
    let us = |c: Cores| format!("{:.1} | {:.1}", c[0] * 1e6, c[1] * 1e6);
    for (name, cost) in [
        ("idle, per second", costs.idle),
        ("autosave", costs.save),
        ("`saved` event delivered to a stream", costs.event),
        ("event stream open, per second", costs.stream),
        (
            "event stream opened (connect, subscribe, hello)",
            run.stream_open,
        ),
        (
            "draft created (typical form; 64 at a time, closed loop)",
            run.create,
        ),
        ("draft list", costs.list),
        ("upload (tus creation and one PATCH)", costs.upload),
    ] {
        writeln!(doc, "| {name} | {} |", us(cost))?;
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
    doc.push_str(
        "| window | role | saves/s | streams | events/s | lists/s | uploads/s | service CPU measured | predicted | error | Redis CPU measured | predicted | error | generator CPU | µs a save and its event, service, Redis | context switches a save, service, Redis |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let idle_switches = run.windows[0].1.switches;
    for (k, (name, m)) in run.windows.iter().enumerate() {
        let predicted = costs.predict(&m.load);
        let l = &m.load;
        let error = |k: usize| (predicted[k] - m.cores[k]) / m.cores[k].max(1e-9) * 100.0;
        let role = if FITTING.contains(&k) {
            "fit"
        } else {
            "**check**"
        };
        // A save's cost at this window's rate: what the window measured less
        // the model's other terms; and its context switches beyond idle's.
        let per_save = if l.saves > 0.0 {
            let rest = costs.predict(&Load {
                saves: 0.0,
                events: 0.0,
                ..*l
            });
            let switches = |k: usize| (m.switches[k] - idle_switches[k]) / l.saves;
            format!(
                "{:.0}, {:.0} | {:.1}, {:.1}",
                (m.cores[0] - rest[0]) / l.saves * 1e6,
                (m.cores[1] - rest[1]) / l.saves * 1e6,
                switches(0),
                switches(1)
            )
        } else {
            " | ".into()
        };
        writeln!(
            doc,
            "| {name} | {role} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1}% | {:.1}% | {:+.0}% | {:.1}% | {:.1}% | {:+.0}% | {:.0}% | {per_save} |",
            l.saves, l.streams, l.events, l.lists, l.uploads,
            m.cores[0] * 100.0, predicted[0] * 100.0, error(0),
            m.cores[1] * 100.0, predicted[1] * 100.0, error(1),
            m.generator * 100.0,
        )?;
        eprintln!(
            "  {name} ({role}): service {:.1}% (model {:.1}%, {:+.0}%), Redis {:.1}% (model {:.1}%, {:+.0}%)",
            m.cores[0] * 100.0, predicted[0] * 100.0, error(0),
            m.cores[1] * 100.0, predicted[1] * 100.0, error(1)
        );
    }
    doc.push_str(
        "\nCPU in % of one core; error = (predicted − measured) ÷ measured. A fitting window matches \
         the model by construction. A save's µs: the window's CPU less the model's other terms, per \
         save; its context switches: those of every thread of the process beyond the idle window's \
         rate, per save.\n\n",
    );
    Ok(doc)
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
