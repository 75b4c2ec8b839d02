//! Configuration: every knob is a `DRAFTD_*` environment variable (or the
//! matching command-line flag) with a default that works against the project's
//! local Redis and Postgres (`scripts/services.sh`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::domain::draft::DraftLimits;
use crate::domain::key_pattern::{KeyPattern, NoPlaceholder};

pub mod cors;
mod durations;
pub mod events;
pub mod identity;
mod storage;
pub mod tus;
pub mod webhook;

/// The HS256 secret used in dev mode when none is configured. Public on purpose:
/// dev mode must never face the internet.
/// The most clock leeway an operator may allow: skew is seconds, not hours.
pub const MAX_JWT_LEEWAY_SECS: u64 = 300;

pub const DEV_JWT_SECRET: &str = "draftd-dev-secret-do-not-use-in-production";

/// Shortest secret accepted outside dev mode: HS256 wants at least 256 bits.
const MIN_SECRET_BYTES: usize = 32;

/// PDF, DOCX, PPTX, plain text and Markdown.
const DEFAULT_UPLOAD_TYPES: &str = "application/pdf,\
application/vnd.openxmlformats-officedocument.wordprocessingml.document,\
application/vnd.openxmlformats-officedocument.presentationml.presentation,\
text/plain,text/markdown";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StorageKind {
    Local,
    S3,
}

#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "DRAFTD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Redis URL (`redis://` or `rediss://`), or a Redis Cluster's node URLs
    /// separated by commas.
    #[arg(
        long,
        env = "DRAFTD_REDIS_URL",
        default_value = "redis://127.0.0.1:6390"
    )]
    pub redis_url: String,

    /// Treat a single DRAFTD_REDIS_URL as a Redis Cluster's seed node.
    #[arg(long, env = "DRAFTD_REDIS_CLUSTER")]
    pub redis_cluster: bool,

    /// PEM file of the CAs that Redis (`rediss://`) and Postgres
    /// (`sslmode=require`) certificates must chain to (default: the system's).
    #[arg(long, env = "DRAFTD_TLS_CA_FILE")]
    pub tls_ca_file: Option<PathBuf>,

    /// Postgres URL.
    #[arg(
        long,
        env = "DRAFTD_DATABASE_URL",
        default_value = "postgres://draftd@127.0.0.1:5490/draftd"
    )]
    pub database_url: String,

    /// HS256 secret that signs access tokens (required unless DRAFTD_JWKS_URL
    /// is set or dev mode is on).
    #[arg(long, env = "DRAFTD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Clock leeway on a token's `exp` and `nbf`, in seconds: a token is taken
    /// this long after it expires and before it is valid (clock skew between
    /// the identity provider and draftd). None unless an operator sets it.
    #[arg(long, env = "DRAFTD_JWT_LEEWAY_SECS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(..=MAX_JWT_LEEWAY_SECS))]
    pub jwt_leeway_secs: u64,

    #[command(flatten)]
    pub identity: identity::IdentityConfig,

    /// Local development: allows the built-in JWT secret and serves demo-user
    /// tokens. Only on a loopback DRAFTD_BIND, and only to requests whose
    /// `Host` is a loopback name. Never in production.
    #[arg(long, env = "DRAFTD_DEV_MODE")]
    pub dev_mode: bool,

    /// Courses an erase of an organization or a user deletes per transaction.
    #[arg(long, env = "DRAFTD_ERASE_BATCH_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub erase_batch_size: i64,

    /// Draft lifetime since its last write, in seconds.
    #[arg(long, env = "DRAFTD_DRAFT_TTL_SECS", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub draft_ttl_secs: u64,

    /// Largest JSON request body, in bytes.
    #[arg(long, env = "DRAFTD_MAX_BODY_BYTES", default_value_t = 65_536)]
    pub max_body_bytes: usize,

    /// Live drafts per user.
    #[arg(long, env = "DRAFTD_MAX_DRAFTS_PER_USER", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_drafts_per_user: u32,

    /// Autosaves one user may send per rate window, across all their drafts.
    #[arg(long, env = "DRAFTD_AUTOSAVE_RATE_LIMIT", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub autosave_rate_limit: u32,

    /// The autosave rate window, in seconds.
    #[arg(long, env = "DRAFTD_AUTOSAVE_RATE_WINDOW_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub autosave_rate_window_secs: u64,

    /// Creates, submits, uploads and deletes one user may send per write window.
    #[arg(long, env = "DRAFTD_WRITE_RATE_LIMIT", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub write_rate_limit: u32,

    /// The write rate window, in seconds.
    #[arg(long, env = "DRAFTD_WRITE_RATE_WINDOW_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub write_rate_window_secs: u64,

    /// Uploads in flight per user.
    #[arg(long, env = "DRAFTD_UPLOADS_PER_USER", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub uploads_per_user: u64,

    /// Uploads in flight in the whole process.
    #[arg(long, env = "DRAFTD_UPLOADS_MAX", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub uploads_max: u64,

    /// Files one course may hold.
    #[arg(long, env = "DRAFTD_MAX_FILES_PER_COURSE", default_value_t = 20,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub max_files_per_course: i64,

    /// Bytes of files one organization may store.
    #[arg(long, env = "DRAFTD_ORG_STORAGE_BYTES", default_value_t = 10_737_418_240,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub org_storage_bytes: i64,

    /// Longest wait for Redis or Postgres before a request fails with 503, in ms.
    #[arg(long, env = "DRAFTD_STORE_TIMEOUT_MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub store_timeout_ms: u64,

    /// Connections per store pool.
    #[arg(long, env = "DRAFTD_POOL_SIZE", default_value_t = 32)]
    pub pool_size: usize,

    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "DRAFTD_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Where uploaded files go: `local` (a directory) or `s3` (a bucket).
    #[arg(long, env = "DRAFTD_STORAGE", value_enum, default_value_t = StorageKind::Local)]
    pub storage: StorageKind,

    /// Root directory of the local file storage.
    #[arg(long, env = "DRAFTD_UPLOAD_DIR", default_value = "./uploads")]
    pub upload_dir: PathBuf,

    /// Largest uploaded file, in bytes.
    #[arg(long, env = "DRAFTD_MAX_UPLOAD_BYTES", default_value_t = 104_857_600)]
    pub max_upload_bytes: u64,

    /// Accepted media types of uploads, comma-separated.
    #[arg(long, env = "DRAFTD_UPLOAD_CONTENT_TYPES", value_delimiter = ',', default_value = DEFAULT_UPLOAD_TYPES)]
    pub upload_content_types: Vec<String>,

    /// S3 bucket (with DRAFTD_STORAGE=s3).
    #[arg(long, env = "DRAFTD_S3_BUCKET", default_value = "draftd")]
    pub s3_bucket: String,

    /// S3 endpoint, for S3-compatible servers (default: AWS).
    #[arg(long, env = "DRAFTD_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    #[arg(long, env = "DRAFTD_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    #[arg(long, env = "DRAFTD_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    #[arg(long, env = "DRAFTD_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,

    /// Allow a plain-HTTP S3 endpoint (local test servers).
    #[arg(long, env = "DRAFTD_S3_ALLOW_HTTP")]
    pub s3_allow_http: bool,

    /// A request body may send nothing this long, in seconds, before it is cut off (408).
    #[arg(long, env = "DRAFTD_BODY_IDLE_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_idle_timeout_secs: u64,

    /// Longest time to receive one request body, in seconds (408 after it).
    #[arg(long, env = "DRAFTD_BODY_DEADLINE_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_deadline_secs: u64,

    /// Janitor schedule: six-field cron (seconds first, UTC), or `off`.
    #[arg(long, env = "DRAFTD_JANITOR_CRON", default_value = "0 0 * * * *")]
    pub janitor_cron: String,

    /// Courses the janitor deletes per transaction.
    #[arg(long, env = "DRAFTD_JANITOR_BATCH_SIZE", default_value_t = 500,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub janitor_batch_size: i64,

    /// How long a deleted course stays in the trash, restorable, in seconds.
    #[arg(long, env = "DRAFTD_TRASH_RETENTION_SECS", default_value_t = 2_592_000)]
    pub trash_retention_secs: u64,

    /// Trash purge schedule: six-field cron (seconds first, UTC), or `off`.
    #[arg(long, env = "DRAFTD_PURGE_CRON", default_value = "0 0 3 * * *")]
    pub purge_cron: String,

    /// Courses the purge takes per batch (each erased in its own transaction).
    #[arg(long, env = "DRAFTD_PURGE_BATCH_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub purge_batch_size: i64,

    /// Orphan sweep schedule: six-field cron (UTC), or `off`.
    #[arg(long, env = "DRAFTD_ORPHAN_SWEEP_CRON", default_value = "0 30 3 * * *")]
    pub orphan_sweep_cron: String,

    /// Age below which an unknown storage prefix is not yet an orphan, in seconds.
    #[arg(long, env = "DRAFTD_ORPHAN_GRACE_SECS", default_value_t = 3600)]
    pub orphan_grace_secs: u64,

    /// The platform's Redis keys of a course, organization or user, erased
    /// with it: comma-separated globs with `{courseId}`, `{orgId}` or `{userId}`.
    #[arg(long, env = "DRAFTD_CLEANUP_REDIS_PATTERNS", value_delimiter = ',')]
    pub cleanup_redis_patterns: Vec<String>,

    /// Attempts of a cleanup job before it is dead.
    #[arg(long, env = "DRAFTD_CLEANUP_MAX_ATTEMPTS", default_value_t = 3,
          value_parser = clap::value_parser!(i32).range(1..))]
    pub cleanup_max_attempts: i32,

    /// Wait after a cleanup job's first failure, in ms; doubles with each further one.
    #[arg(long, env = "DRAFTD_CLEANUP_BACKOFF_MS", default_value_t = 2000)]
    pub cleanup_backoff_ms: u64,

    /// How often the cleanup worker polls its queue, in ms.
    #[arg(long, env = "DRAFTD_CLEANUP_POLL_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cleanup_poll_ms: u64,

    #[command(flatten)]
    pub webhook: webhook::WebhookConfig,

    /// Origins whose pages may call the API from a browser, comma-separated
    /// (`https://app.example.com`). None: no CORS headers at all.
    #[arg(long, env = "DRAFTD_CORS_ORIGINS", default_value = "", hide_default_value = true,
          value_parser = cors::CorsOrigins::parse)]
    pub cors_origins: cors::CorsOrigins,

    #[command(flatten)]
    pub events: events::EventsConfig,

    #[command(flatten)]
    pub tus: tus::TusConfig,

    /// Log filter (tracing `EnvFilter` syntax).
    #[arg(long, env = "DRAFTD_LOG", default_value = "info")]
    pub log: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "set DRAFTD_JWT_SECRET or DRAFTD_JWKS_URL, or both \
         (or DRAFTD_DEV_MODE=true for local development)"
    )]
    MissingKeys,
    #[error("DRAFTD_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")]
    WeakSecret,
    #[error(
        "DRAFTD_DEV_MODE serves only on a loopback address (127.0.0.1, [::1], localhost), \
         not DRAFTD_BIND={0}"
    )]
    DevModeNotLoopback(String),
}

impl Config {
    /// The defaults, as if no variable were set.
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: Config,
        }
        // Parsing no arguments and no environment cannot fail: every field has a default.
        let matches = <Wrapper as clap::CommandFactory>::command()
            .mut_args(|arg| arg.env(None::<&str>))
            .get_matches_from(["draftd"]);
        <Wrapper as clap::FromArgMatches>::from_arg_matches(&matches)
            .map(|w| w.config)
            .unwrap_or_else(|e| unreachable!("defaults always parse: {e}"))
    }

    /// The secret that signs and checks HS256 access tokens; none when the
    /// identity provider's key set alone signs them.
    pub fn jwt_secret(&self) -> Result<Option<&str>, ConfigError> {
        match (&self.jwt_secret, self.dev_mode) {
            (Some(secret), _) if secret.len() >= MIN_SECRET_BYTES => Ok(Some(secret)),
            (Some(_), false) => Err(ConfigError::WeakSecret),
            (Some(secret), true) => Ok(Some(secret)),
            (None, true) => Ok(Some(DEV_JWT_SECRET)),
            (None, false) if self.identity.jwks_url.is_some() => Ok(None),
            (None, false) => Err(ConfigError::MissingKeys),
        }
    }

    /// Dev mode hands out tokens and accepts a public secret: it may listen
    /// on loopback addresses only, never where another machine reaches it.
    pub fn check_dev_mode(&self) -> Result<(), ConfigError> {
        if !self.dev_mode {
            return Ok(());
        }
        let addresses: Vec<SocketAddr> = self
            .bind
            .to_socket_addrs()
            .map(Iterator::collect)
            .unwrap_or_default();
        if addresses.is_empty() || !addresses.iter().all(|a| a.ip().is_loopback()) {
            return Err(ConfigError::DevModeNotLoopback(self.bind.clone()));
        }
        Ok(())
    }

    /// The patterns of `DRAFTD_CLEANUP_REDIS_PATTERNS`; one without a
    /// placeholder is refused, since it would erase every course's keys.
    pub fn redis_patterns(&self) -> Result<Vec<KeyPattern>, NoPlaceholder> {
        self.cleanup_redis_patterns
            .iter()
            .flat_map(|list| list.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(KeyPattern::parse)
            .collect()
    }

    pub fn draft_limits(&self) -> DraftLimits {
        DraftLimits {
            ttl: self.draft_ttl(),
            max_per_user: self.max_drafts_per_user,
            autosaves_per_window: self.autosave_rate_limit,
            rate_window: Duration::from_secs(self.autosave_rate_window_secs),
        }
    }

    /// The CA certificates of DRAFTD_TLS_CA_FILE, if set.
    pub fn tls_roots(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.tls_ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("DRAFTD_TLS_CA_FILE {}: {e}", path.display()))
            })
            .transpose()
    }
}
