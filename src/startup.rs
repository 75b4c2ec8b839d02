//! Builds the application: stores, use cases, background jobs, HTTP server.
//! The one place that names concrete types and wires them; nothing imports it
//! but `main` and the tests. Tests start it on port 0; the CLI's one-off
//! commands use [`Services`].

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App as HttpApp, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::app::erase::Upkeep;
use crate::app::DraftEvents;
use crate::config::Config;
use crate::http::request_id::{self, RequestSpan};
use crate::http::{cors, loopback, metrics, routes, AppState};
use crate::jobs::{Background, Jobs, Schedules};

mod identity;
mod queue;
mod services;

use self::identity::authenticator;
pub use self::services::Services;

/// The use cases and the jobs, wired to the stores. Connecting applies
/// migrations.
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
