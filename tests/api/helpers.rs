//! One helper that starts the real service on a random port, against the real
//! Redis and a fresh Postgres database of its own.

use std::sync::OnceLock;

use deadpool_redis::redis::{self, aio::MultiplexedConnection};
use draftd::config::Config;
use draftd::http::auth::{mint, Claims};
use draftd::jobs::queue::{Pass, Queue};
use draftd::jobs::Jobs;
use draftd::startup::Application;
use draftd::stores::redis::keys;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tokio_postgres::types::FromSqlOwned;
use tokio_postgres::NoTls;
use uuid::Uuid;

pub const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

/// Base settings: the defaults, or `DRAFTD_REDIS_URL` / `DRAFTD_DATABASE_URL`
/// when set, so tests can run against other servers.
pub fn base_config() -> Config {
    let mut config = Config::defaults();
    if let Ok(url) = std::env::var("DRAFTD_REDIS_URL") {
        config.redis_url = url;
    }
    if let Ok(url) = std::env::var("DRAFTD_DATABASE_URL") {
        config.database_url = url;
    }
    config
}

fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            draftd::telemetry::init(&filter);
        }
    });
}

pub struct TestUser {
    pub id: Uuid,
    pub org: Uuid,
    pub token: String,
}

pub struct TestApp {
    pub address: String,
    pub config: Config,
    pub client: reqwest::Client,
    pub db: tokio_postgres::Client,
    pub user: TestUser,
    /// The app's jobs, to run the cleanup worker when a test means to.
    jobs: Jobs,
    /// The local storage the app made, unless `adjust` pointed it elsewhere.
    _uploads: ScratchDir,
    /// The database the app made (even if `adjust` pointed it elsewhere),
    /// dropped with it.
    created_database: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app with settings changed by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        init_logs();
        let mut config = base_config();
        config.bind = "127.0.0.1:0".into();
        config.jwt_secret = Some(SECRET.into());
        config.workers = 1;
        config.pool_size = 8;
        let created_database = create_database(&config.database_url).await;
        config.database_url = created_database.clone();
        let uploads = ScratchDir::new("test");
        config.upload_dir = uploads.to_path_buf();
        // Tests run the jobs when they mean to; a scheduled sweep would reach
        // into the Redis that every test shares.
        config.janitor_cron = draftd::jobs::OFF.into();
        config.orphan_sweep_cron = draftd::jobs::OFF.into();
        config.cleanup_poll_ms = 100;
        // The racing tests send one user's requests by the dozen: the limits
        // on writes and uploads in flight have tests of their own.
        config.write_rate_limit = 10_000;
        // An erase waits out the longest request (this deadline and the
        // store timeouts) before its last sweep.
        config.body_deadline_secs = 6;
        config.uploads_per_user = 64;
        adjust(&mut config);

        let app = Application::build(&config).await.expect("app starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let jobs = app.jobs().clone();
        tokio::spawn(app.run_until_stopped());

        let (db, connection) = tokio_postgres::connect(&created_database, NoTls)
            .await
            .expect("test database reachable");
        tokio::spawn(connection);
        TestApp {
            address,
            config,
            client: reqwest::Client::new(),
            db,
            user: new_user(),
            jobs,
            _uploads: uploads,
            created_database,
        }
    }

    pub fn request(&self, method: Method, path: &str, user: &TestUser) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.address, path))
            .bearer_auth(&user.token)
    }

    /// Sends a bodiless request as `user`.
    pub async fn call(&self, method: Method, path: &str, user: &TestUser) -> Response {
        self.request(method, path, user)
            .send()
            .await
            .expect("request sent")
    }

    /// GETs a route that needs no token (health, metrics, the OpenAPI document).
    pub async fn get_public(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn create_draft(&self, user: &TestUser, body: Value) -> Response {
        self.request(Method::POST, "/api/v1/drafts", user)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a draft and returns its JSON, asserting 201.
    pub async fn new_draft(&self, user: &TestUser, form: Value) -> Value {
        let response = self
            .create_draft(user, serde_json::json!({ "formData": form }))
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("draft JSON")
    }

    pub async fn get_draft(&self, user: &TestUser, id: &str) -> Response {
        self.request(Method::GET, &format!("/api/v1/drafts/{id}"), user)
            .send()
            .await
            .expect("request sent")
    }

    /// The draft's JSON, asserting 200.
    pub async fn draft(&self, user: &TestUser, id: &str) -> Value {
        let response = self.get_draft(user, id).await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("draft JSON")
    }

    pub async fn patch_draft(
        &self,
        user: &TestUser,
        id: &str,
        form: Value,
        if_match: Option<&str>,
    ) -> Response {
        let mut request = self
            .request(Method::PATCH, &format!("/api/v1/drafts/{id}"), user)
            .header("content-type", "application/merge-patch+json")
            .body(serde_json::json!({ "formData": form }).to_string());
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send().await.expect("request sent")
    }

    /// GETs `path` as `user`, asserting 200; returns the JSON.
    pub async fn get_json(&self, user: &TestUser, path: &str) -> Value {
        let response = self
            .request(Method::GET, path, user)
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON body")
    }

    /// Calls an admin route as a service_role caller; returns its JSON.
    pub async fn admin(&self, method: Method, path: &str) -> Value {
        let response = self
            .request(method, path, &service_user())
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("admin JSON")
    }

    /// Moves a course's last activity `hours` into the past.
    pub async fn age_course(&self, course_id: &str, hours: i32) {
        let id: Uuid = course_id.parse().expect("course id");
        self.db
            .execute(
                "UPDATE courses SET updated_at = now() - make_interval(hours => $2) WHERE id = $1",
                &[&id, &hours],
            )
            .await
            .expect("age course");
    }

    /// Runs every due cleanup job now, then waits for any the service's own
    /// worker had claimed, until no job is pending.
    pub async fn run_cleanup(&self) {
        let queue = &self.jobs.queue;
        queue.run_due(Queue::Cleanup).await.expect("cleanup pass");
        let pending =
            "SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%' AND status = 'pending'";
        wait_until("no cleanup job is pending", || async {
            self.count(pending).await == 0
        })
        .await;
    }

    /// Runs the webhook worker's step once, now (the app has a webhook URL).
    pub async fn run_webhooks(&self) -> Pass {
        let queue = &self.jobs.queue;
        assert!(queue.serves(Queue::Webhooks), "a webhook URL");
        queue.run_due(Queue::Webhooks).await.expect("webhook pass")
    }

    /// Enqueues `task` on its own; the job's id.
    pub async fn enqueue<T: draftd::jobs::queue::Task>(&self, task: &T) -> i64 {
        self.jobs.queue.enqueue(task).await.expect("enqueue")
    }

    /// One pass of the runner's webhook loop, now: the due deliveries, then
    /// the pruning of done jobs past their week, then the gauges.
    pub async fn tick_webhooks(&self) -> Pass {
        let queue = &self.jobs.queue;
        queue.tick(Queue::Webhooks).await.expect("webhook pass")
    }

    /// Runs the trash purge once, now.
    pub async fn run_purge(&self, dry_run: bool) -> draftd::jobs::purge::PurgeReport {
        self.jobs.purge.run(dry_run).await.expect("purge run")
    }

    /// Moves the course's trash retention end `secs` seconds from now
    /// (negative: into the past).
    pub async fn set_purge_at(&self, course_id: &str, secs: f64) {
        let id: Uuid = course_id.parse().expect("course id");
        self.db
            .execute(
                "UPDATE courses SET purge_at = now() + make_interval(secs => $2) WHERE id = $1",
                &[&id, &secs],
            )
            .await
            .expect("set purge_at");
    }

    pub async fn course_count(&self) -> i64 {
        self.count("SELECT count(*) FROM courses").await
    }

    pub async fn file_row_count(&self) -> i64 {
        self.count("SELECT count(*) FROM course_files").await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db.query_one(sql, &[]).await.expect("count").get(0)
    }

    /// The first column of every row `sql` selects.
    pub async fn column<T: FromSqlOwned>(&self, sql: &str) -> Vec<T> {
        let rows = self.db.query(sql, &[]).await.expect("query");
        rows.iter().map(|row| row.get(0)).collect()
    }

    /// Every file under the upload directory (staging files included).
    pub fn stored_files(&self) -> Vec<std::path::PathBuf> {
        files_under(&self.config.upload_dir)
    }

    /// Uploads `content` as the `file` part of a multipart request.
    pub async fn upload(
        &self,
        user: &TestUser,
        draft_id: &str,
        name: &str,
        content_type: &str,
        content: Vec<u8>,
    ) -> Response {
        let part = reqwest::multipart::Part::bytes(content)
            .file_name(name.to_owned())
            .mime_str(content_type)
            .expect("valid mime");
        self.post_files(
            user,
            draft_id,
            reqwest::multipart::Form::new().part("file", part),
        )
        .await
    }

    /// POSTs a multipart `form` to the draft's files.
    pub async fn post_files(
        &self,
        user: &TestUser,
        draft_id: &str,
        form: reqwest::multipart::Form,
    ) -> Response {
        let path = format!("/api/v1/drafts/{draft_id}/files");
        self.request(Method::POST, &path, user)
            .multipart(form)
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs to one of the draft's actions (`materialize`, `submit`).
    pub async fn draft_action(&self, user: &TestUser, draft_id: &str, action: &str) -> Response {
        self.request(
            Method::POST,
            &format!("/api/v1/drafts/{draft_id}/{action}"),
            user,
        )
        .send()
        .await
        .expect("request sent")
    }

    pub async fn redis(&self) -> MultiplexedConnection {
        redis::Client::open(self.config.redis_url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis reachable")
    }
}

pub fn new_user() -> TestUser {
    token_for(Claims {
        sub: Some(Uuid::new_v4()),
        org_id: Some(Uuid::new_v4()),
        role: None,
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    })
}

/// An admin caller (`role: service_role`).
pub fn service_user() -> TestUser {
    token_for(Claims {
        sub: Some(Uuid::new_v4()),
        org_id: None,
        role: Some("service_role".into()),
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    })
}

pub fn token_for(claims: Claims) -> TestUser {
    TestUser {
        id: claims.sub.unwrap_or_default(),
        org: claims.org_id.unwrap_or_default(),
        token: mint(SECRET, &claims).expect("token signs"),
    }
}

/// The Redis key of `user`'s draft `id`, by the service's key schema.
pub fn draft_key(user: &TestUser, id: &str) -> String {
    keys::draft_key(user.id.into(), id.parse().expect("draft id"))
}

/// A fresh, empty database on the configured server; returns its URL.
pub async fn create_database(base_url: &str) -> String {
    let (server, _) = base_url.rsplit_once('/').expect("database url has a path");
    let name = format!("draftd_test_{}", Uuid::new_v4().simple());
    let (admin, connection) = tokio_postgres::connect(&format!("{server}/postgres"), NoTls)
        .await
        .expect("postgres reachable: run scripts/services.sh up");
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    format!("{server}/{name}")
}

impl Drop for TestApp {
    /// A test leaves no database behind. The app (a task of the test's
    /// runtime) may still hold connections: FORCE ends them. A test whose
    /// replica shares this database declares it later, so drops it first.
    fn drop(&mut self) {
        let url = self.created_database.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_database(&url))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database: {dropped:?}");
        }
    }
}

/// Drops the database of `url`, whoever is connected to it.
pub async fn drop_database(url: &str) -> std::io::Result<()> {
    let (server, name) = url.rsplit_once('/').expect("database url has a path");
    let (admin, connection) = tokio_postgres::connect(&format!("{server}/postgres"), NoTls)
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .map_err(std::io::Error::other)
}

/// Sends `request`; the answer's JSON, whatever its status.
pub async fn json_of(request: RequestBuilder) -> Value {
    let response = request.send().await.expect("request sent");
    response.json().await.expect("JSON body")
}

/// Asserts a problem response with `status`; returns its body.
pub async fn assert_problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem JSON");
    assert_eq!(body["status"], status);
    assert!(body["type"]
        .as_str()
        .is_some_and(|t| t.starts_with("urn:draftd:problem:")));
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// Waits until `condition` holds; fails, naming `what`, after 20 s.
pub async fn wait_until<F, Fut>(what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !condition().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// A fresh directory under the system's temp dir, removed with all it holds
/// when dropped: a test's files must not outlive it.
pub struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    pub fn new(purpose: &str) -> ScratchDir {
        ScratchDir(std::env::temp_dir().join(format!("draftd-{purpose}-{}", Uuid::new_v4())))
    }
}

impl std::ops::Deref for ScratchDir {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for ScratchDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
