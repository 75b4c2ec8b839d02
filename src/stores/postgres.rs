//! Postgres: the connection pool and the SQL migrations in `migrations/`.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{bounded, StoreError};

refinery::embed_migrations!("migrations");

/// Any constant will do, as long as every replica uses the same one.
const MIGRATION_LOCK: i64 = 0x6472_6166_7464_0001;

#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    timeout: Duration,
}

impl Postgres {
    /// Connects over TLS when the URL says `sslmode=require`, verifying the
    /// server's certificate against `tls_roots` (PEM) or the system's CAs.
    pub fn connect(
        url: &str,
        tls_roots: Option<&[u8]>,
        pool_size: usize,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = url.parse()?;
        let recycling = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if config.get_ssl_mode() == SslMode::Require {
            let tls = MakeRustlsConnect::new(super::tls::client_config(tls_roots)?);
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

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
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
        bounded("postgres", self.timeout, async {
            let client = self.pool.get().await?;
            client.simple_query("SELECT 1").await?;
            Ok::<_, StoreError>(())
        })
        .await
    }
}
