//! The load each window sends: the calibration's calls, the typists' saves,
//! their event streams, draft lists and tus uploads.

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

use super::UPLOAD_BYTES;
use crate::connections::Connections;
use crate::load::open_loop;
use crate::scenarios::{answered_with, next_keystrokes, wait_for, Typist, CONNECTIONS};

/// Calls of constant work into each process, `per_second` or each client's
/// next as soon as its last is answered: `GET /healthz` into the service
/// (its HTTP stack, without Redis) and an empty Lua script into Redis (its
/// scripting engine, as a save's function runs in it, without its keys).
/// Their code is most of the path an autosave wakes in each process, whose
/// caches a wake-up finds cold.
pub(super) async fn pings(
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
pub(super) async fn saves(
    connections: &Arc<Connections>,
    crowd: &[Arc<Typist>],
    interval: Duration,
    window: Duration,
) -> usize {
    if crowd.is_empty() {
        tokio::time::sleep(window).await;
        return 0;
    }
    let sample = open_loop(crowd.len(), interval, window, |i| {
        let typist = &crowd[i];
        let request = hyper::Request::patch(format!("/api/v1/drafts/{}", typist.draft))
            .header(AUTHORIZATION, format!("Bearer {}", typist.token))
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .header("prefer", "return=minimal")
            .body(Full::new(Bytes::from(
                json!({"formData": next_keystrokes()}).to_string(),
            )));
        answered_with(connections, i, request, StatusCode::NO_CONTENT)
    })
    .await;
    usize::try_from(sample.histogram.len().saturating_sub(sample.errors)).unwrap_or(0)
}

/// `per_second` lists of a typist's drafts a second, as the page asks on a visit.
pub(super) async fn lists(
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
pub(super) async fn uploads(
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
pub(super) struct Streams {
    address: String,
    open: Vec<tokio::task::JoinHandle<()>>,
    hellos: Arc<AtomicUsize>,
    events: Arc<AtomicU64>,
}

impl Streams {
    pub(super) fn new(address: String) -> Self {
        Self {
            address,
            open: Vec::new(),
            hellos: Arc::new(AtomicUsize::new(0)),
            events: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Opens the streams of `crowd` and waits for every hello.
    pub(super) async fn open(&mut self, crowd: &[Arc<Typist>]) -> anyhow::Result<()> {
        let want = self.hellos.load(Ordering::Relaxed) + crowd.len();
        for typist in crowd {
            let (address, typist) = (self.address.clone(), typist.clone());
            let (hellos, events) = (self.hellos.clone(), self.events.clone());
            self.open.push(tokio::spawn(async move {
                let _ = follow(&address, &typist, &hellos, &events).await;
            }));
        }
        wait_for(
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

    /// How many streams are open.
    pub(super) fn count(&self) -> usize {
        self.open.len()
    }

    pub(super) fn events(&self) -> u64 {
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
