//! Postgres: courses and their files, the job queue, the events outbox,
//! degraded-mode drafts, the janitor's queries and erasures, one file each; here
//! the pool, the one way to make a call ([`Postgres::call`]) and the SQL
//! migrations in `migrations/`.

pub mod cleanup;
pub mod courses;
pub mod drafts;
pub mod erasures;
pub mod fence;
pub mod files;
mod ids;
pub mod janitor;
pub mod lock;
pub mod outbox;
pub mod queue;
mod rows;
mod status;
pub mod trash;
pub mod tus;
pub mod uploads;

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{bounded, Backend, StoreError};
use lock::MIGRATION_LOCK;

pub use courses::PgCourses;
pub use drafts::PgDrafts;
pub use queue::JobQueue;

refinery::embed_migrations!("migrations");

#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    timeout: Duration,
}

impl Postgres {
    /// Connects over TLS when the URL says `sslmode=require`, verifying the
    /// server's certificate against `tls_roots` (PEM) or the system's CAs.
    /// With `record_events`, every connection records lifecycle events (the
    /// setting [`outbox::EVENTS_SETTING`]).
    pub fn connect(
        url: &str,
        tls_roots: Option<&[u8]>,
        pool_size: usize,
        timeout: Duration,
        record_events: bool,
    ) -> anyhow::Result<Self> {
        let mut config: tokio_postgres::Config = url.parse()?;
        if record_events {
            let options = config.get_options().unwrap_or_default();
            let options = format!("{options} -c {}=on", outbox::EVENTS_SETTING);
            config.options(options.trim_start());
        }
        let recycling = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if config.get_ssl_mode() == SslMode::Require {
            let tls = MakeRustlsConnect::new(crate::stores::tls::client_config(tls_roots)?);
            Manager::from_config(config, tls, recycling)
        } else {
            Manager::from_config(config, NoTls, recycling)
        };
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()?;
        Ok(Self { pool, timeout })
    }

    /// Runs `call` with a pooled connection, the whole of it (waiting for
    /// the connection included) under the store timeout.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Object) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        bounded(Backend::Postgres, self.timeout, async {
            call(self.pool.get().await?).await
        })
        .await
    }

    /// A connection of its own, with no deadline: for a job that holds a
    /// session-level lock across many calls.
    pub(crate) async fn session(&self) -> Result<Object, StoreError> {
        bounded(Backend::Postgres, self.timeout, self.pool.get()).await
    }

    /// Applies pending migrations. Replicas starting together serialize on an
    /// advisory lock, so each migration runs once.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let mut client = self.pool.get().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let report = migrations::runner()
            .run_async(&mut **client)
            .await
            .map_err(anyhow::Error::from);
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await?;
        for migration in report?.applied_migrations() {
            tracing::info!(migration = %migration, "migration applied");
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(|client| async move {
            client.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
    }
}
