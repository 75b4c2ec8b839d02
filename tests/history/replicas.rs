//! Two replicas of the service as real child processes of the `draftd`
//! binary, on fixed ports so that a killed one comes back where clients look
//! for it. Every job a test wants run is run through the admin routes; the
//! schedules are off, so nothing runs behind the history's back.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::servers::{free_port, wait_listening};

pub const SECRET: &str = "a-history-secret-that-is-long-enough-for-hs256";
/// Every request body is cut off after this long: a held body cannot outlive it.
pub const BODY_DEADLINE_SECS: u64 = 8;
/// A trashed course is purgeable this soon, so the purge runs within a history.
pub const TRASH_RETENTION_SECS: u64 = 3;

/// What every replica is started with.
#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub redis_url: String,
    /// `DRAFTD_STORAGE` and what goes with it (`Storage::env`).
    pub storage: Vec<(&'static str, String)>,
    pub webhook_url: String,
    pub webhook_secret: String,
    pub log_dir: PathBuf,
}

struct Replica {
    port: u16,
    up: AtomicBool,
    child: Mutex<Option<Child>>,
    starts: AtomicUsize,
}

#[derive(Clone)]
pub struct Replicas {
    settings: Arc<Settings>,
    all: Arc<Vec<Replica>>,
    next: Arc<AtomicUsize>,
}

impl Replicas {
    pub async fn start(settings: Settings, count: usize) -> Replicas {
        let all = (0..count)
            .map(|_| Replica {
                port: free_port(),
                up: AtomicBool::new(false),
                child: Mutex::new(None),
                starts: AtomicUsize::new(0),
            })
            .collect();
        let replicas = Replicas {
            settings: Arc::new(settings),
            all: Arc::new(all),
            next: Arc::default(),
        };
        // One at a time: the first applies the migrations.
        for i in 0..count {
            replicas.spawn(i).await;
        }
        replicas
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.all[i].port)
    }

    /// The next replica that is up, round robin (any, if none is).
    pub fn pick(&self) -> String {
        let n = self.all.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (first + k) % n)
            .find(|&i| self.all[i].up.load(Ordering::Relaxed))
            .map_or_else(|| self.base(first % n), |i| self.base(i))
    }

    pub fn pid(&self, i: usize) -> Option<u32> {
        self.all[i]
            .child
            .try_lock()
            .ok()
            .and_then(|c| c.as_ref().and_then(Child::id))
    }

    async fn spawn(&self, i: usize) {
        let replica = &self.all[i];
        let s = &self.settings;
        let start = replica.starts.fetch_add(1, Ordering::Relaxed);
        let log = std::fs::File::create(s.log_dir.join(format!("replica-{i}-{start}.log")))
            .expect("replica log file");
        let child = Command::new(env!("CARGO_BIN_EXE_draftd"))
            .arg("serve")
            .env("DRAFTD_BIND", format!("127.0.0.1:{}", replica.port))
            .env("DRAFTD_DATABASE_URL", &s.database_url)
            .env("DRAFTD_REDIS_URL", &s.redis_url)
            .env("DRAFTD_JWT_SECRET", SECRET)
            .envs(s.storage.iter().cloned())
            .env("DRAFTD_WORKERS", "2")
            .env("DRAFTD_POOL_SIZE", "8")
            .env("DRAFTD_LOG", "warn")
            .env("DRAFTD_BODY_DEADLINE_SECS", BODY_DEADLINE_SECS.to_string())
            .env(
                "DRAFTD_BODY_IDLE_TIMEOUT_SECS",
                BODY_DEADLINE_SECS.to_string(),
            )
            // The limits have tests of their own; here they would only
            // refuse the actors' writes before they race.
            .env("DRAFTD_WRITE_RATE_LIMIT", "1000000")
            .env("DRAFTD_AUTOSAVE_RATE_LIMIT", "1000000")
            .env("DRAFTD_UPLOADS_PER_USER", "64")
            .env("DRAFTD_UPLOADS_MAX", "512")
            .env("DRAFTD_MAX_DRAFTS_PER_USER", "100000")
            .env("DRAFTD_MAX_FILES_PER_COURSE", "10000")
            .env(
                "DRAFTD_TRASH_RETENTION_SECS",
                TRASH_RETENTION_SECS.to_string(),
            )
            // Jobs run when the history says so, through the admin routes.
            .env("DRAFTD_JANITOR_CRON", "off")
            .env("DRAFTD_PURGE_CRON", "off")
            .env("DRAFTD_ORPHAN_SWEEP_CRON", "off")
            .env("DRAFTD_ORPHAN_GRACE_SECS", "1")
            .env("DRAFTD_CLEANUP_POLL_MS", "200")
            .env("DRAFTD_CLEANUP_BACKOFF_MS", "200")
            .env("DRAFTD_WEBHOOK_URL", &s.webhook_url)
            .env("DRAFTD_WEBHOOK_SECRET", &s.webhook_secret)
            .env("DRAFTD_WEBHOOK_BACKOFF_MS", "200")
            .env("DRAFTD_WEBHOOK_POLL_MS", "200")
            .env("DRAFTD_WEBHOOK_TIMEOUT_MS", "2000")
            .env("DRAFTD_WEBHOOK_MAX_ATTEMPTS", "100")
            .stdout(Stdio::from(log.try_clone().expect("log file")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("the draftd binary starts");
        *replica.child.lock().await = Some(child);
        assert!(
            wait_listening(replica.port, Duration::from_secs(60)).await,
            "replica {i} listens (its log is under {})",
            s.log_dir.display()
        );
        replica.up.store(true, Ordering::Relaxed);
    }

    /// SIGKILL: no shutdown, requests in flight get no answer.
    pub async fn kill(&self, i: usize) {
        let replica = &self.all[i];
        replica.up.store(false, Ordering::Relaxed);
        if let Some(mut child) = replica.child.lock().await.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    pub async fn restart(&self, i: usize) {
        self.spawn(i).await;
    }

    /// Starts any replica that is down (after a fault was cut short).
    pub async fn ensure_up(&self) {
        for i in 0..self.all.len() {
            if !self.all[i].up.load(Ordering::Relaxed) {
                self.spawn(i).await;
            }
        }
    }

    pub async fn stop_all(&self) {
        for i in 0..self.all.len() {
            self.kill(i).await;
        }
    }
}
