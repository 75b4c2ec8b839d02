//! The benchmarks. Each returns its section of docs/benchmarks.md.
//!
//! One file per benchmark; this module holds what more than one of them uses.

mod autosave_load;
mod autosave_throughput;
mod call_latencies;
mod capacity;
mod degraded_mode;
mod hygiene;
mod janitor_at_scale;
mod low_load_tail;
mod memory_per_draft;
mod purge_at_scale;
mod redis_cost;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::StatusCode;
use reqwest::Client;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::connections::Connections;
use crate::load::Sample;
use crate::service::{new_user, Service};

pub use autosave_load::autosave_load;
pub use autosave_throughput::autosave_throughput;
pub use call_latencies::call_latencies;
pub use capacity::capacity;
pub use degraded_mode::degraded_mode;
pub use hygiene::hygiene;
pub use janitor_at_scale::janitor_at_scale;
pub use low_load_tail::low_load_tail;
pub use memory_per_draft::memory_per_draft;
pub use purge_at_scale::purge_at_scale;
pub use redis_cost::redis_cost;

const AUTOSAVE_INTERVAL: Duration = Duration::from_secs(3);

/// The limit's autosave script: a fixed copy of the service's
/// (src/stores/redis/lua/patch.lua as it was when copied), kept here so that
/// making the service's script heavier cannot lower the bar it is measured
/// against. Update it only on purpose, when the limit should move. It works on
/// the layout of its time, a hash per draft: it runs on drafts planted in that
/// layout ([`plant_reference_draft`]), not on the service's.
const REFERENCE_PATCH: &str = include_str!("../reference/patch.lua");

/// Plants at `key`, for an hour, a draft of `form` in the reference script's
/// layout (a hash with `f:<field>` form fields).
async fn plant_reference_draft(
    conn: &mut deadpool_redis::Connection,
    key: &str,
    form: &Value,
) -> anyhow::Result<()> {
    use deadpool_redis::redis::AsyncCommands;

    let mut fields: Vec<(String, String)> = [
        ("org", Uuid::new_v4().to_string()),
        ("v", "1".into()),
        ("st", "open".into()),
        ("ca", "1764300000000".into()),
        ("ua", "1764300000000".into()),
        ("ea", "1764386400000".into()),
    ]
    .map(|(name, value)| (name.to_owned(), value))
    .into();
    if let Value::Object(form) = form {
        fields.extend(form.iter().map(|(k, v)| (format!("f:{k}"), v.to_string())));
    }
    conn.hset_multiple::<_, _, _, ()>(key, &fields).await?;
    conn.expire::<_, ()>(key, 3600).await?;
    Ok(())
}

/// A typical form: what the memory and throughput benchmarks store.
fn typical_form() -> Value {
    json!({"topic": "Основы Rust для аналитиков", "description": "d".repeat(400), "language": "ru",
           "estimatedLessons": 12, "lessonDuration": 45, "formats": ["video", "quiz"]})
}

fn client() -> Client {
    Client::builder()
        .pool_max_idle_per_host(4096)
        // Below the server's 5 s keep-alive: never reuse a connection it is closing.
        .pool_idle_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client builds")
}

/// A simulated typist: a user with one open draft.
struct Typist {
    user: Uuid,
    token: String,
    draft: Uuid,
}

/// One typist per user, each with a new draft, created `64` at a time.
async fn typists(service: &Service, count: usize) -> anyhow::Result<Vec<Arc<Typist>>> {
    typists_with(service, count, &json!({"topic": "Benchmark course"})).await
}

/// Like [`typists`], each draft holding `form`.
async fn typists_with(
    service: &Service,
    count: usize,
    form: &Value,
) -> anyhow::Result<Vec<Arc<Typist>>> {
    let http = client();
    let org = Uuid::new_v4();
    let created = stream::iter(0..count)
        .map(|_| {
            let http = http.clone();
            let url = format!("{}/api/v1/drafts", service.base);
            async move {
                let (user, token) = new_user(org);
                let draft: Value = http
                    .post(url)
                    .bearer_auth(&token)
                    .json(&json!({ "formData": form }))
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

/// The typist's draft in the reference script's layout, in the user's slot.
fn reference_key(typist: &Typist) -> String {
    format!("bench:raw:draft:{{{}}}:{}", typist.user, typist.draft)
}

/// Plants each typist's draft in the reference script's layout, and opens
/// the multiplexed connection the raw side saves on: one, as draftd has per
/// thread (a pool would PING each connection it hands out, a second round
/// trip per call).
async fn reference_drafts(
    redis: &deadpool_redis::Pool,
    crowd: &[Arc<Typist>],
) -> anyhow::Result<deadpool_redis::redis::aio::MultiplexedConnection> {
    let mut conn = redis.get().await?;
    for t in crowd {
        let form = json!({"topic": "Benchmark course"});
        plant_reference_draft(&mut conn, &reference_key(t), &form).await?;
    }
    Ok(
        deadpool_redis::redis::Client::open(crate::service::REDIS_URL.as_str())?
            .get_multiplexed_async_connection()
            .await?,
    )
}

/// The limit's save: the reference script straight on Redis, with the
/// arguments of typist's `i`th save; `true` if it answered.
fn raw_save(
    mut conn: deadpool_redis::redis::aio::MultiplexedConnection,
    script: Arc<deadpool_redis::redis::Script>,
    typist: &Typist,
    i: usize,
) -> impl std::future::Future<Output = bool> + Send + 'static {
    use draftd::stores::redis::keys::{index_key, rate_key};

    let value = keystrokes(i);
    let (key, user, draft) = (reference_key(typist), typist.user, typist.draft);
    async move {
        let mut call = script.prepare_invoke();
        call.key(key)
            .key(index_key(user.into()))
            .key(rate_key(user.into()))
            .arg(draft.to_string())
            .arg(86_400_000u64)
            .arg("")
            .arg(120)
            .arg(60_000)
            .arg(2)
            .arg("description")
            .arg(value["description"].to_string())
            .arg("estimatedLessons")
            .arg(value["estimatedLessons"].to_string());
        call.invoke_async::<Vec<String>>(&mut conn).await.is_ok()
    }
}

/// Keystrokes typed so far, by every typist of every scenario.
static TYPED: AtomicUsize = AtomicUsize::new(0);

/// The next autosave's fields, different from every save before it, as a
/// typist's are: a save that repeated its draft's text would change nothing,
/// so it would cost less and announce no event.
fn next_keystrokes() -> Value {
    keystrokes(TYPED.fetch_add(1, Ordering::Relaxed))
}

/// What a typist's autosave sends: a field or two, as after a pause in typing.
fn keystrokes(i: usize) -> Value {
    json!({"description": format!("Lesson plan draft {i}: {}", "x".repeat(80)), "estimatedLessons": i % 100 + 1})
}

/// Opens a draft of the typical form for `token`'s user; its id.
async fn typical_draft(http: &Client, base: &str, token: &str) -> anyhow::Result<String> {
    let draft: Value = http
        .post(format!("{base}/api/v1/drafts"))
        .bearer_auth(token)
        .json(&json!({ "formData": typical_form() }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(draft["id"].as_str().unwrap_or_default().to_owned())
}

/// A typist's autosave in the closed loops: the description sent again
/// whole (400 characters), and a number.
fn whole_description(i: usize) -> Value {
    let mut description = "d".repeat(390);
    write!(description, "{i:010}").ok();
    json!({"description": description, "estimatedLessons": i % 100 + 1})
}

/// The keep-alive connections the typists' saves take turns on, as a proxy
/// in front of the service would hold them.
const CONNECTIONS: usize = 64;

/// A typist's autosave through draftd, as the page sends it (no draft
/// back: `Prefer: return=minimal`), on the typist's own one of
/// `connections`; `true` if it was saved.
fn autosave(
    connections: &Arc<Connections>,
    typist: &Typist,
    i: usize,
) -> impl std::future::Future<Output = bool> + Send + 'static {
    let body = json!({"formData": next_keystrokes()}).to_string();
    let request = hyper::Request::patch(format!("/api/v1/drafts/{}", typist.draft))
        .header(AUTHORIZATION, format!("Bearer {}", typist.token))
        .header(CONTENT_TYPE, "application/merge-patch+json")
        .header("prefer", "return=minimal")
        .body(Full::new(Bytes::from(body)));
    answered_with(connections, i, request, StatusCode::NO_CONTENT)
}

/// `GET /healthz` on the typist's one of `connections`: what any call costs
/// through the generator and the service's HTTP layer, with no store behind
/// it; `true` if it answered 200.
fn healthz(
    connections: &Arc<Connections>,
    i: usize,
) -> impl std::future::Future<Output = bool> + Send + 'static {
    let request = hyper::Request::get("/healthz").body(Full::new(Bytes::new()));
    answered_with(connections, i, request, StatusCode::OK)
}

/// Sends `request` on connection `i`; `true` if it was answered `expected`.
fn answered_with(
    connections: &Arc<Connections>,
    i: usize,
    request: hyper::http::Result<hyper::Request<Full<Bytes>>>,
    expected: StatusCode,
) -> impl std::future::Future<Output = bool> + Send + 'static {
    let connections = connections.clone();
    async move {
        match request {
            Ok(request) => connections.send(i, request).await == Some(expected),
            Err(_) => false,
        }
    }
}

async fn upload(http: &Client, draft_url: &str, token: &str, content: Vec<u8>) -> bool {
    upload_file(http, draft_url, token, content).await.is_ok()
}

/// Uploads `content` as a text file to the draft; the file's JSON.
async fn upload_file(
    http: &Client,
    draft_url: &str,
    token: &str,
    content: Vec<u8>,
) -> anyhow::Result<Value> {
    let part = reqwest::multipart::Part::bytes(content)
        .file_name("notes.txt")
        .mime_str("text/plain")?;
    let response = http
        .post(format!("{draft_url}/files"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 201,
        "upload answered {}",
        response.status()
    );
    Ok(response.json().await?)
}

/// Waits until `condition` holds, checking every `every`; fails, naming
/// `what`, after `limit`.
async fn wait_for<F, Fut>(
    what: &str,
    limit: Duration,
    every: Duration,
    condition: F,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = std::time::Instant::now() + limit;
    while !condition().await? {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "gave up after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(every).await;
    }
    Ok(())
}

fn sample_of(durations: &[Duration]) -> Sample {
    let mut sample = Sample::from_durations(durations);
    sample.elapsed = durations.iter().sum();
    sample
}

/// The ids of every course.
async fn course_ids(db: &tokio_postgres::Client) -> anyhow::Result<Vec<Uuid>> {
    let rows = db.query("SELECT id FROM courses", &[]).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// The one bigint that `sql` selects.
async fn select_i64(db: &tokio_postgres::Client, sql: &str) -> anyhow::Result<i64> {
    Ok(db.query_one(sql, &[]).await?.get(0))
}
