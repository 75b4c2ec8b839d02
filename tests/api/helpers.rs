//! One helper that starts the real service on a random port, against the real
//! Redis and a fresh Postgres database of its own.

use std::sync::OnceLock;

use deadpool_redis::redis::{self, aio::MultiplexedConnection};
use draftd::config::Config;
use draftd::http::auth::{mint, Claims};
use draftd::startup::Application;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
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
        let database_url = create_database(&config.database_url).await;
        config.database_url = database_url.clone();
        config.upload_dir = std::env::temp_dir().join(format!("draftd-test-{}", Uuid::new_v4()));
        // Tests run the jobs when they mean to; a scheduled sweep would reach
        // into the Redis that every test shares.
        config.janitor_cron = draftd::jobs::OFF.into();
        config.orphan_sweep_cron = draftd::jobs::OFF.into();
        config.cleanup_poll_ms = 100;
        adjust(&mut config);

        let app = Application::build(&config).await.expect("app starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());

        let (db, connection) = tokio_postgres::connect(&database_url, NoTls)
            .await
            .expect("test database reachable");
        tokio::spawn(connection);
        TestApp {
            address,
            config,
            client: reqwest::Client::new(),
            db,
            user: new_user(),
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

    /// Waits until the cleanup queue holds no pending job.
    pub async fn cleanup_settled(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self
            .count("SELECT count(*) FROM cleanup_jobs WHERE status = 'pending'")
            .await
            > 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "cleanup jobs still pending"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
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
        self.request(
            Method::POST,
            &format!("/api/v1/drafts/{draft_id}/files"),
            user,
        )
        .multipart(reqwest::multipart::Form::new().part("file", part))
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
        sub: Uuid::new_v4(),
        org_id: Some(Uuid::new_v4()),
        role: None,
        exp: chrono::Utc::now().timestamp() + 3600,
    })
}

/// An admin caller (`role: service_role`).
pub fn service_user() -> TestUser {
    token_for(Claims {
        sub: Uuid::new_v4(),
        org_id: None,
        role: Some("service_role".into()),
        exp: chrono::Utc::now().timestamp() + 3600,
    })
}

pub fn token_for(claims: Claims) -> TestUser {
    TestUser {
        id: claims.sub,
        org: claims.org_id.unwrap_or_default(),
        token: mint(SECRET, &claims).expect("token signs"),
    }
}

pub fn draft_key(user: &TestUser, id: &str) -> String {
    format!("draft:session:{{{}}}:{id}", user.id)
}

/// A fresh, empty database on the configured server; returns its URL.
async fn create_database(base_url: &str) -> String {
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

/// Waits for a condition that the service makes true; fails after 10 s.
pub async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Waits for an asynchronous condition; fails after 10 s.
pub async fn wait_until_async<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !condition().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting");
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A store server of a test's own (Redis, S3): a process killed when dropped.
pub struct ServerProcess(std::process::Child);

impl ServerProcess {
    /// Spawns `command` and waits until something listens on `port`.
    pub async fn start(mut command: std::process::Command, port: u16) -> Self {
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?}: {e} (make test installs it)"));
        let address = format!("127.0.0.1:{port}");
        wait_until_async(|| async { tokio::net::TcpStream::connect(&address).await.is_ok() }).await;
        ServerProcess(child)
    }

    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A redis-server of the test's own, on `port`, with its data in `dir`.
pub async fn redis_server(port: u16, dir: &std::path::Path, args: &[&str]) -> ServerProcess {
    std::fs::create_dir_all(dir).unwrap();
    let mut command = std::process::Command::new("redis-server");
    command
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .args(args);
    ServerProcess::start(command, port).await
}

/// A real S3-protocol server (s3s-fs) on loopback, serving `root`; its
/// bucket is `draftd`.
pub async fn s3_server(root: &std::path::Path, port: u16) -> ServerProcess {
    std::fs::create_dir_all(root.join("draftd")).unwrap();
    let mut command = std::process::Command::new("s3s-fs");
    command
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", "draftd", "--secret-key", "draftd-secret"])
        .arg(root);
    ServerProcess::start(command, port).await
}

/// Points `config` at the `s3_server` on `port`.
pub fn use_s3(config: &mut Config, port: u16) {
    config.storage = draftd::config::StorageKind::S3;
    config.s3_endpoint = Some(format!("http://127.0.0.1:{port}"));
    config.s3_allow_http = true;
    config.s3_access_key_id = Some("draftd".into());
    config.s3_secret_access_key = Some("draftd-secret".into());
}
