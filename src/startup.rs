//! Builds the application: stores, services, background jobs, HTTP server.
//! Tests start it on port 0; the CLI's one-off commands use [`Services`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use tokio::sync::Notify;
use tracing_actix_web::TracingLogger;

use crate::config::Config;
use crate::domain::admin::Admin;
use crate::domain::courses::CleanupHandle;
use crate::domain::{Courses, DraftSessions};
use crate::http::auth::Authenticator;
use crate::http::request_id::{self, RequestSpan};
use crate::http::{metrics, routes, AppState};
use crate::jobs::cleanup::{CleanupSettings, CleanupWorker};
use crate::jobs::janitor::{Janitor, JanitorSettings};
use crate::jobs::orphans::OrphanSweep;
use crate::jobs::Background;
use crate::stores::cleanup::CleanupQueue;
use crate::stores::courses::PgCourses;
use crate::stores::pg_drafts::PgDrafts;
use crate::stores::postgres::Postgres;
use crate::stores::redis::RedisSettings;
use crate::stores::redis_sessions::RedisSessions;

/// Every service, wired to its stores. Connecting applies migrations.
pub struct Services {
    pub redis: RedisSessions,
    pub postgres: Postgres,
    pub drafts: DraftSessions,
    pub courses: Courses,
    pub admin: Admin,
    pub janitor: Janitor,
    pub sweep: OrphanSweep,
    pub cleanup: CleanupWorker,
}

impl Services {
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let timeout = config.store_timeout();
        let tls_roots = config.tls_roots()?;
        let postgres = Postgres::connect(
            &config.database_url,
            tls_roots.as_deref(),
            config.pool_size,
            timeout,
        )?;
        postgres.migrate().await?;
        let redis = RedisSessions::connect(&RedisSettings {
            url: &config.redis_url,
            cluster: config.redis_cluster,
            tls_roots: tls_roots.as_deref(),
            pool_size: config.pool_size,
            timeout,
        })?;
        let files = config.file_storage()?;
        let pg_courses = PgCourses::new(postgres.clone());
        let drafts = DraftSessions::new(
            redis.clone(),
            PgDrafts::new(postgres.clone(), config.draft_ttl()),
            config.draft_limits(),
        );
        let queue = CleanupQueue::new(postgres.clone());
        let wake = Arc::new(Notify::new());
        let max_attempts = config.cleanup_max_attempts;

        Ok(Self {
            drafts: drafts.clone(),
            courses: Courses::new(
                drafts,
                pg_courses.clone(),
                files.clone(),
                config.upload_rules(),
                CleanupHandle {
                    max_attempts,
                    wake: wake.clone(),
                },
            ),
            admin: Admin::new(
                pg_courses.clone(),
                redis.clone(),
                queue.clone(),
                config.draft_ttl(),
            ),
            janitor: Janitor::new(
                postgres.clone(),
                redis.clone(),
                JanitorSettings {
                    ttl: config.draft_ttl(),
                    batch_size: config.janitor_batch_size,
                    max_attempts,
                },
                wake.clone(),
            ),
            sweep: OrphanSweep::new(
                pg_courses,
                files.clone(),
                redis.clone(),
                Duration::from_secs(config.orphan_grace_secs),
            ),
            cleanup: CleanupWorker::new(
                queue,
                files,
                redis.clone(),
                CleanupSettings {
                    max_attempts,
                    backoff: Duration::from_millis(config.cleanup_backoff_ms),
                    poll: Duration::from_millis(config.cleanup_poll_ms),
                },
                wake,
            ),
            redis,
            postgres,
        })
    }
}

pub struct Application {
    port: u16,
    server: Server,
    background: Background,
}

impl Application {
    /// Connects the stores, applies migrations, starts the background jobs and
    /// binds the listener. Redis may be down at start: readiness reports it,
    /// and the pool reconnects.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let authenticator = Authenticator::new(config.jwt_secret()?);
        metrics::handle();
        let services = Services::connect(config).await?;
        let background = Background::start(
            services.janitor.clone(),
            &config.janitor_cron,
            services.sweep.clone(),
            &config.orphan_sweep_cron,
            services.cleanup.clone(),
        )
        .await?;
        let state = web::Data::new(AppState {
            services,
            authenticator,
            max_body_bytes: config.max_body_bytes,
            max_upload_bytes: config.max_upload_bytes,
            dev_token_secret: config
                .dev_mode
                .then(|| config.jwt_secret().map(str::to_owned))
                .transpose()?,
        });

        let listener = TcpListener::bind(&config.bind)?;
        let port = listener.local_addr()?.port();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(metrics::track))
                .wrap(TracingLogger::<RequestSpan>::new())
                .wrap(from_fn(request_id::assign))
                .app_data(state.clone())
                .configure(routes)
        })
        .listen(listener)?;
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        tracing::info!(bind = %config.bind, port, "listening");
        Ok(Self {
            port,
            server: server.run(),
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM: then stops accepting, finishes the
    /// requests in flight, and stops the scheduler and the cleanup worker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.background.shutdown().await;
        tracing::info!("stopped");
        served
    }
}
