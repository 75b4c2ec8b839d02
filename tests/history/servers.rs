//! The stores of this test's own: a redis-server it can stop and start again
//! on the same port and directory, a fresh database on a Postgres server of
//! its own (scripts/history.sh), an S3-protocol server, and a scratch
//! directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio_postgres::NoTls;
use uuid::Uuid;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Waits until something accepts connections on `port`, at most `limit`.
pub async fn wait_listening(port: u16, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A directory under the system's temp dir, removed when dropped unless the
/// run failed and `keep` was called (its logs explain the failure).
pub struct ScratchDir {
    pub path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    pub fn new(purpose: &str) -> ScratchDir {
        let path = std::env::temp_dir().join(format!("draftd-{purpose}-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("scratch dir");
        ScratchDir { path, keep: false }
    }

    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A redis-server whose every acknowledged write is on disk before the
/// answer (`appendfsync always`), so a restart loses nothing the service
/// acknowledged: a lost save after a restart is the service's fault.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    pub async fn start(dir: &Path) -> Redis {
        let mut redis = Redis {
            port: free_port(),
            dir: dir.to_path_buf(),
            child: None,
        };
        redis.spawn().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).expect("redis dir");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/services.sh installs it)");
        self.child = Some(child);
        assert!(
            wait_listening(self.port, Duration::from_secs(20)).await,
            "redis-server listens on {}",
            self.port
        );
    }

    /// A clean shutdown (SIGTERM: Redis's SHUTDOWN), then the same server
    /// again on the same port and data after `down`.
    pub async fn restart(&mut self, down: Duration) {
        self.stop();
        tokio::time::sleep(down).await;
        self.spawn().await;
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    pub async fn connection(&self) -> deadpool_redis::redis::aio::MultiplexedConnection {
        deadpool_redis::redis::Client::open(self.url())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis reachable")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The test's own Postgres server (HISTORY_POSTGRES_URL, which
/// scripts/history.sh starts and sets), or else the local one every test
/// shares (`cargo test --test history` run by hand).
fn server_url() -> String {
    if let Ok(own) = std::env::var("HISTORY_POSTGRES_URL") {
        return own.trim_end_matches('/').to_owned();
    }
    let shared = draftd::config::Config::defaults().database_url;
    let (server, _) = shared.rsplit_once('/').expect("database url has a path");
    server.to_owned()
}

/// A fresh database of this run on the shared server, dropped with it.
pub struct Database {
    pub url: String,
    name: String,
}

impl Database {
    pub async fn create() -> Database {
        let name = format!("draftd_history_{}", Uuid::new_v4().simple());
        let admin = connect(&format!("{}/postgres", server_url())).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the history database");
        Database {
            url: format!("{}/{name}", server_url()),
            name,
        }
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// Drops the database once the replicas are gone.
    pub async fn drop_now(self) {
        let admin = connect(&format!("{}/postgres", server_url())).await;
        let _ = admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("postgres reachable: run scripts/services.sh up");
    tokio::spawn(connection);
    client
}

/// A real S3-protocol server (s3s-fs, installed by `make test-tools`) on a
/// port of its own, serving `root`, whose bucket `draftd` is `root/draftd`.
pub struct S3Server {
    pub port: u16,
    pub root: PathBuf,
    child: Child,
}

impl S3Server {
    pub const BUCKET: &'static str = "draftd";
    pub const ACCESS_KEY: &'static str = "draftd";
    pub const SECRET_KEY: &'static str = "draftd-secret";

    pub async fn start(root: &Path) -> S3Server {
        std::fs::create_dir_all(root.join(Self::BUCKET)).expect("bucket dir");
        let port = free_port();
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", Self::ACCESS_KEY])
            .args(["--secret-key", Self::SECRET_KEY])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs runs (make test-tools installs it)");
        assert!(
            wait_listening(port, Duration::from_secs(20)).await,
            "s3s-fs listens on {port}"
        );
        S3Server {
            port,
            root: root.to_path_buf(),
            child,
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
