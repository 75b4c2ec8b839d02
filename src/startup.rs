//! Builds the application: stores, use cases, background jobs, HTTP server.
//! The one place that names concrete types and wires them; nothing imports it
//! but `main` and the tests. Tests start it on port 0; the CLI's one-off
//! commands use [`Services`].

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App as HttpApp, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::app::admin::Admin;
use crate::app::courses::{CleanupHandle, CourseLimits, CourseStores, TusLimits};
use crate::app::erase::{Erasures, Upkeep, BAR_REFRESH};
use crate::app::limits::{SlotKind, Slots, WriteRate};
use crate::app::{App, Courses, DraftEvents, DraftSessions};
use crate::config::Config;
use crate::domain::cleanup::CleanupPolicy;
use crate::domain::key_pattern::PatternScope;
use crate::http::request_id::{self, RequestSpan};
use crate::http::{cors, loopback, metrics, routes, AppState};
use crate::jobs::cleanup::CleanupContext;
use crate::jobs::erase::{EraseSettings, EraseStores, Eraser};
use crate::jobs::janitor::{Janitor, JanitorSettings};
use crate::jobs::orphans::OrphanSweep;
use crate::jobs::purge::{Purge, PurgeSettings};
use crate::jobs::queue::Wake;
use crate::jobs::{Background, Jobs, Schedules};
use crate::stores::postgres::erasures::PgErasures;
use crate::stores::postgres::files::PgFiles;
use crate::stores::postgres::outbox::EVENTS_SETTING;
use crate::stores::postgres::tus::PgTus;
use crate::stores::postgres::uploads::UploadLedger;
use crate::stores::postgres::{JobQueue, PgCourses, PgDrafts, Postgres};
use crate::stores::redis::{LiveHub, RedisDrafts, RedisSettings};

mod identity;
mod queue;

use self::identity::authenticator;
use self::queue::job_runner;

/// The use cases and the jobs, wired to the stores. Connecting applies
/// migrations.
pub struct Services {
    pub app: App,
    pub jobs: Jobs,
}

impl Services {
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let patterns = config
            .redis_patterns()
            .map_err(|e| anyhow::anyhow!("DRAFTD_CLEANUP_REDIS_PATTERNS: {e}"))?;
        let timeout = config.store_timeout();
        let tls_roots = config.tls_roots()?;
        let webhook = config.webhook.settings(timeout)?;
        let postgres = Postgres::connect(
            &config.database_url,
            tls_roots.as_deref(),
            config.pool_size,
            timeout,
            webhook.is_some(),
        )?;
        postgres.migrate().await?;
        if postgres.records_events().await? != webhook.is_some() {
            anyhow::bail!(
                "Postgres connections do not carry the setting {EVENTS_SETTING} as configured \
                 (a connection pooler that drops startup options?)"
            );
        }
        let redis_settings = RedisSettings {
            url: &config.redis_url,
            cluster: config.redis_cluster,
            tls_roots: tls_roots.as_deref(),
            pool_size: config.pool_size,
            timeout,
        };
        let redis = RedisDrafts::connect(&redis_settings)?;
        let live = LiveHub::new(&redis_settings, tokio::runtime::Handle::current())?;
        let files = config
            .file_storage()?
            .with_ledger(UploadLedger::new(postgres.clone()));
        let courses = PgCourses::new(postgres.clone());
        let file_rows = PgFiles::new(postgres.clone());
        let tus = PgTus::new(postgres.clone());
        let queue = JobQueue::new(postgres.clone());
        let writes = WriteRate::new(
            redis.clone(),
            config.write_rate_limit,
            config.write_rate_window(),
        );
        let drafts = DraftSessions::new(
            redis.clone(),
            PgDrafts::new(postgres.clone(), config.draft_ttl()),
            config.draft_limits(),
            writes.clone(),
        );
        let wake = Wake::new();
        let policy = CleanupPolicy {
            max_attempts: config.cleanup_max_attempts,
            redis_patterns: patterns.iter().any(|p| p.scope() == PatternScope::Course),
        };

        let jobs = Jobs {
            janitor: Janitor::new(
                postgres.clone(),
                redis.clone(),
                JanitorSettings {
                    ttl: config.draft_ttl(),
                    batch_size: config.janitor_batch_size,
                    cleanup: policy,
                },
                wake.clone(),
            ),
            purge: Purge::new(
                postgres.clone(),
                PurgeSettings {
                    batch_size: config.purge_batch_size,
                    cleanup: policy,
                },
                wake.clone(),
            ),
            sweep: OrphanSweep::new(
                courses.clone(),
                tus.clone(),
                files.clone(),
                redis.clone(),
                Duration::from_secs(config.orphan_grace_secs),
            ),
            queue: job_runner(
                &queue,
                CleanupContext::new(
                    queue.clone(),
                    file_rows.clone(),
                    files.clone(),
                    redis.clone(),
                    patterns.clone(),
                ),
                config,
                policy,
                webhook,
                wake.clone(),
            )?,
        };
        let eraser = Eraser::new(
            EraseStores {
                erasures: PgErasures::new(postgres.clone()),
                queue: queue.clone(),
                file_rows: file_rows.clone(),
                redis: redis.clone(),
                files: files.clone(),
                tus: tus.clone(),
            },
            jobs.queue.clone(),
            EraseSettings {
                batch_size: config.erase_batch_size,
                cleanup: policy,
                patterns: patterns.into(),
                // Every replica refuses the subject's writes by then, and
                // every request that started before is over.
                settle: BAR_REFRESH * 2 + config.longest_request(),
            },
        );
        let events = DraftEvents::new(
            drafts.clone(),
            live,
            Slots::new(
                SlotKind::EventStreams,
                config.events.per_user,
                config.events.max,
            ),
        );
        let app = App {
            events,
            drafts: drafts.clone(),
            courses: Courses::new(
                drafts,
                CourseStores {
                    courses: courses.clone(),
                    file_rows,
                    tus: tus.clone(),
                    files,
                },
                CourseLimits {
                    rules: config.upload_rules(),
                    quota: config.file_quota(),
                    writes,
                    uploads: Slots::new(
                        SlotKind::Uploads,
                        config.uploads_per_user,
                        config.uploads_max,
                    ),
                    resumable: TusLimits {
                        ttl: config.draft_ttl(),
                        idle: config.tus.idle(),
                        // A PATCH hears from its client at least every idle
                        // timeout, or its body is cut off.
                        lease: config.body_timeouts().idle + Duration::from_secs(30),
                        free_bytes: config.tus.free_bytes,
                    },
                },
                CleanupHandle { policy, wake },
                config.trash_retention(),
            ),
            erasures: Erasures::new(
                PgErasures::new(postgres.clone()),
                tus,
                eraser,
                tokio::runtime::Handle::current(),
            ),
            admin: Admin {
                postgres,
                courses,
                redis,
                queue,
                cleanup: policy,
                ttl: config.draft_ttl(),
                janitor: jobs.janitor.clone(),
                purge: jobs.purge.clone(),
                sweep: jobs.sweep.clone(),
                runner: jobs.queue.clone(),
            },
        };
        Ok(Self { app, jobs })
    }
}

pub struct Application {
    port: u16,
    server: Server,
    background: Background,
    upkeep: Upkeep,
    /// The task that fetches the identity provider's key set, if one is configured.
    keys: Option<tokio::task::JoinHandle<()>>,
    jobs: Jobs,
}

impl Application {
    /// Connects the stores, applies migrations, starts the background jobs and
    /// binds the listener. Redis may be down at start: readiness reports it,
    /// and the pool reconnects. Dev mode starts on a loopback address only.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        config.check_dev_mode()?;
        // First: the key set's counters are exported from the start.
        metrics::handle();
        let (authenticator, jwks) = authenticator(config)?;
        let services = Services::connect(config).await?;
        let schedules = Schedules {
            janitor: &config.janitor_cron,
            purge: &config.purge_cron,
            sweep: &config.orphan_sweep_cron,
        };
        let background = Background::start(&services.jobs, &schedules).await?;
        let upkeep = services.app.erasures.start_upkeep();
        let stopping = stop_signal(services.app.events.clone());
        let state = web::Data::new(AppState {
            app: services.app,
            authenticator,
            max_body_bytes: config.max_body_bytes,
            max_upload_bytes: config.max_upload_bytes,
            body_timeouts: config.body_timeouts(),
            events_heartbeat: config.events.heartbeat(),
            dev_token_secret: config
                .dev_mode
                .then(|| config.jwt_secret())
                .transpose()?
                .flatten()
                .map(str::to_owned),
        });

        let listener = TcpListener::bind(&config.bind)?;
        let port = listener.local_addr()?.port();
        let dev_mode = config.dev_mode;
        let origins = config.cors_origins.clone();
        if !origins.is_empty() {
            tracing::info!(origins = %origins, "allowing calls from other origins");
        }
        let mut server = HttpServer::new(move || {
            // Innermost: a refused request is still counted and logged. Then
            // CORS, around every answer the app gives (problems and the dev
            // mode refusal too); the log and the metrics outside it never
            // answer on their own, and so see its preflights as well.
            HttpApp::new()
                .wrap(Condition::new(
                    dev_mode,
                    from_fn(loopback::require_loopback_host),
                ))
                .wrap(Condition::new(
                    !origins.is_empty(),
                    cors::layer(origins.iter()),
                ))
                .wrap(Condition::new(
                    !origins.is_empty(),
                    from_fn(cors::refusal_as_problem),
                ))
                .wrap(from_fn(metrics::track))
                .wrap(TracingLogger::<RequestSpan>::new())
                .wrap(from_fn(request_id::assign))
                .app_data(state.clone())
                .configure(routes)
        })
        .shutdown_signal(stopping)
        // A client's EOF ends its connection at once: an event stream whose
        // tab closed gives its slot back now, not after a heartbeat fails to
        // be written. (Browsers and HTTP clients never half-close a request.)
        .h1_allow_half_closed(false)
        .listen(listener)?;
        if config.workers > 0 {
            server = server.workers(config.workers);
        }
        tracing::info!(bind = %config.bind, port, "listening");
        let keys = jwks.map(|jwks| tokio::spawn(jwks.run()));
        Ok(Self {
            port,
            server: server.run(),
            background,
            upkeep,
            keys,
            jobs: services.jobs,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The jobs, to run a step of one now (as the tests do).
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// Serves until SIGINT or SIGTERM: then ends every event stream, stops
    /// accepting, finishes the requests in flight, and stops the scheduler
    /// and the cleanup worker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some(keys) = self.keys {
            keys.abort();
        }
        self.background.shutdown().await;
        self.upkeep.shutdown().await;
        tracing::info!("stopped");
        served
    }
}

/// Resolves on SIGTERM or SIGINT, once every event stream has been told to
/// end: actix's graceful shutdown that follows waits for the requests in
/// flight, and a stream would otherwise hold it for its whole timeout.
async fn stop_signal(events: DraftEvents) {
    let interrupted = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminated = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminated = std::future::pending::<()>();
    tokio::select! {
        () = interrupted => tracing::info!("SIGINT received"),
        () = terminated => tracing::info!("SIGTERM received"),
    }
    let streams = events.open_streams();
    events.stop();
    tracing::info!(
        streams,
        "stopping: event streams ended; finishing the requests in flight"
    );
}
