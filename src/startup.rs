//! Builds the application: stores, state, HTTP server. Tests start it on port 0.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::config::Config;
use crate::domain::draft::DraftLimits;
use crate::domain::{Courses, DraftSessions};
use crate::http::auth::Authenticator;
use crate::http::request_id::{self, RequestSpan};
use crate::http::{routes, AppState};
use crate::stores::courses::PgCourses;
use crate::stores::postgres::Postgres;
use crate::stores::redis_sessions::RedisSessions;

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connects the stores, applies migrations and binds the listener. Redis
    /// may be down at start: readiness reports it, and the pool reconnects.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let authenticator = Authenticator::new(config.jwt_secret()?);
        let postgres = Postgres::connect(
            &config.database_url,
            config.pool_size,
            config.store_timeout(),
        )?;
        postgres.migrate().await?;
        let redis =
            RedisSessions::connect(&config.redis_url, config.pool_size, config.store_timeout())?;
        let courses = Courses::new(
            redis.clone(),
            PgCourses::new(postgres.clone()),
            config.file_storage()?,
            config.upload_rules(),
        );
        let drafts = DraftSessions::new(
            redis.clone(),
            DraftLimits {
                ttl: config.draft_ttl(),
                max_per_user: config.max_drafts_per_user,
            },
        );
        let state = web::Data::new(AppState {
            drafts,
            courses,
            authenticator,
            redis,
            postgres,
            max_body_bytes: config.max_body_bytes,
            max_upload_bytes: config.max_upload_bytes,
        });

        let listener = TcpListener::bind(&config.bind)?;
        let port = listener.local_addr()?.port();
        let mut server = HttpServer::new(move || {
            App::new()
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
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
