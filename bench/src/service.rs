//! A draftd process for a benchmark: release binary, fresh database, own port.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use draftd::http::auth::{mint, Claims};
use tokio::process::{Child, Command};
use tokio_postgres::NoTls;
use uuid::Uuid;

pub const SECRET: &str = "a-benchmark-secret-that-is-long-enough";
pub const PG_SERVER: &str = "postgres://draftd@127.0.0.1:5490";
/// A Redis database of the benchmarks' own, emptied before a run: the tests use 0.
/// `DRAFTD_BENCH_REDIS_URL` (`redis://127.0.0.1:<port>/<db>`) names another, say
/// a redis-server of the run's own, so that nobody else's load or data shares it.
pub static REDIS_URL: LazyLock<String> = LazyLock::new(|| {
    std::env::var("DRAFTD_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6390/9".into())
});

/// The port and the database number of [`REDIS_URL`], for redis-benchmark.
pub fn redis_port_and_db() -> (String, String) {
    let address = REDIS_URL.rsplit('@').next().unwrap_or_default();
    let address = address.trim_start_matches("redis://");
    let (host_port, db) = address.split_once('/').unwrap_or((address, "0"));
    let port = host_port.rsplit_once(':').map_or("6379", |(_, port)| port);
    (port.to_owned(), db.to_owned())
}

pub struct Service {
    child: Child,
    pub base: String,
    pub upload_dir: PathBuf,
    port: u16,
    database_url: String,
    settings: Vec<(String, String)>,
    /// Where its log goes, when a benchmark reads it.
    log: Option<PathBuf>,
}

/// A fresh, empty database; returns its URL.
pub async fn fresh_database(name: &str) -> anyhow::Result<String> {
    let (admin, connection) =
        tokio_postgres::connect(&format!("{PG_SERVER}/postgres"), NoTls).await?;
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    Ok(format!("{PG_SERVER}/{name}"))
}

pub async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

impl Service {
    /// Starts `target/release/draftd serve` on `database_url` with `settings`.
    pub async fn start(database_url: &str, settings: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_logged(database_url, settings, None).await
    }

    /// [`Service::start`], its log (stdout) appended to `log` when given.
    pub async fn start_logged(
        database_url: &str,
        settings: &[(&str, &str)],
        log: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let upload_dir = std::env::temp_dir().join(format!("draftd-bench-{}", Uuid::new_v4()));
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let child = spawn(port, database_url, &upload_dir, &settings, log.as_deref()).await?;
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            upload_dir,
            port,
            database_url: database_url.to_owned(),
            settings,
            log,
        })
    }

    /// Kills the process (SIGKILL: a crash, nothing cleaned up) and starts it
    /// again on the same port, database and storage.
    pub async fn crash_and_restart(&mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        self.child = spawn(
            self.port,
            &self.database_url,
            &self.upload_dir,
            &self.settings,
            self.log.as_deref(),
        )
        .await?;
        Ok(())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// CPU time the process used so far (user + system), from /proc.
    pub fn cpu(&self) -> Duration {
        self.child.id().map_or(Duration::ZERO, cpu_of)
    }

    /// Resident memory now, in MiB.
    pub fn rss_mib(&self) -> f64 {
        let Some(pid) = self.child.id() else {
            return 0.0;
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.upload_dir);
    }
}

async fn spawn(
    port: u16,
    database_url: &str,
    upload_dir: &std::path::Path,
    settings: &[(String, String)],
    log: Option<&std::path::Path>,
) -> anyhow::Result<Child> {
    let mut command = Command::new(binary());
    command
        .arg("serve")
        .env("DRAFTD_BIND", format!("127.0.0.1:{port}"))
        .env("DRAFTD_DATABASE_URL", database_url)
        .env("DRAFTD_REDIS_URL", REDIS_URL.as_str())
        .env("DRAFTD_JWT_SECRET", SECRET)
        .env("DRAFTD_UPLOAD_DIR", upload_dir)
        .env("DRAFTD_LOG", "warn")
        .env("DRAFTD_JANITOR_CRON", "off")
        .env("DRAFTD_ORPHAN_SWEEP_CRON", "off")
        .env("DRAFTD_MAX_UPLOAD_BYTES", (64u64 << 20).to_string())
        .envs(settings.iter().map(|(name, value)| (name, value)))
        .stdout(log_file(log))
        .kill_on_drop(true);
    let child = command.spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    // Liveness, not readiness: a benchmark may run it with Redis away.
    while !client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        anyhow::ensure!(Instant::now() < deadline, "draftd did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(child)
}

/// Where the service's log goes: `log`, else `BENCH_SERVICE_LOG`, appended;
/// else nowhere.
fn log_file(log: Option<&std::path::Path>) -> Stdio {
    log.map(|path| path.as_os_str().to_owned())
        .or_else(|| std::env::var_os("BENCH_SERVICE_LOG"))
        .and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
        })
        .map_or_else(Stdio::null, Stdio::from)
}

/// CPU time process `pid` used so far (user + system), from /proc.
pub fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which ends with ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The pid of the Redis server `conn` talks to.
pub async fn redis_pid(conn: &mut deadpool_redis::Connection) -> anyhow::Result<u32> {
    redis_info(conn, "server", "process_id").await
}

/// One field of a section of `INFO`, parsed.
pub async fn redis_info<T: std::str::FromStr>(
    conn: &mut deadpool_redis::Connection,
    section: &str,
    field: &str,
) -> anyhow::Result<T> {
    let info: String = deadpool_redis::redis::cmd("INFO")
        .arg(section)
        .query_async(conn)
        .await?;
    info.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("INFO {section} names no {field}"))
}

/// How many connections to `port` on loopback are established now: the
/// server's side of each, from /proc/net/tcp (local address, then state; 01
/// is ESTABLISHED).
pub fn connections_to(port: u16) -> usize {
    let local = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[1].ends_with(&local) && fields[3] == "01"
        })
        .count()
}

fn binary() -> PathBuf {
    std::env::var_os("DRAFTD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/draftd"))
}

/// A new user of one organization: its id and a token.
pub fn new_user(organization: Uuid) -> (Uuid, String) {
    let user = Uuid::new_v4();
    let claims = user_claims(user, organization);
    (user, mint(SECRET, &claims).expect("a token signs"))
}

/// The claims of a token of `user` in `organization`, valid for a day.
pub fn user_claims(user: Uuid, organization: Uuid) -> Claims {
    Claims {
        sub: Some(user),
        org_id: Some(organization),
        role: None,
        exp: chrono::Utc::now().timestamp() + 24 * 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    }
}

pub fn service_token() -> String {
    let claims = Claims {
        sub: None,
        org_id: None,
        role: Some("service_role".into()),
        exp: chrono::Utc::now().timestamp() + 24 * 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    };
    mint(SECRET, &claims).expect("a token signs")
}

/// Empties the benchmarks' Redis database.
pub async fn flush_redis() -> anyhow::Result<()> {
    let pool = deadpool_redis::Config::from_url(REDIS_URL.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let mut conn = pool.get().await?;
    deadpool_redis::redis::cmd("FLUSHDB")
        .query_async::<()>(&mut conn)
        .await?;
    Ok(())
}
