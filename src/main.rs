use anyhow::Context;
use clap::{Parser, Subcommand};
use utoipa::OpenApi;
use uuid::Uuid;

use draftd::config::Config;
use draftd::http::auth::{mint, Claims};
use draftd::http::openapi::ApiDoc;
use draftd::http::page::{DEMO_ORG, DEMO_USER};
use draftd::startup::{Application, Services};
use draftd::stores::postgres::Postgres;
use draftd::telemetry;

/// draftd: the create-course form's drafts, in Redis until they become real.
#[derive(Parser)]
#[command(name = "draftd", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, then serve the API.
    Serve {
        #[command(flatten)]
        config: Config,
    },
    /// Apply pending migrations and exit.
    Migrate {
        #[command(flatten)]
        config: Config,
    },
    /// Run the janitor once, then carry out the cleanup it queued.
    Janitor {
        #[command(flatten)]
        config: Config,
        /// Report what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Erase the courses whose trash retention ended, then carry out the
    /// cleanup it queued.
    PurgeTrash {
        #[command(flatten)]
        config: Config,
        /// Report what would be erased; erase nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove storage prefixes and draft sessions whose course does not exist.
    SweepOrphans {
        #[command(flatten)]
        config: Config,
        /// Report what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Put dead cleanup jobs and dead lifecycle events back in their queues
    /// and carry out what is due.
    RetryCleanup {
        #[command(flatten)]
        config: Config,
    },
    /// Print the OpenAPI document (as served at /openapi.json) and exit.
    Openapi,
    /// Print an access token signed with the configured (or dev) secret.
    DevToken {
        #[command(flatten)]
        config: Config,
        /// The user id (`sub`).
        #[arg(long, default_value_t = DEMO_USER)]
        user: Uuid,
        /// The organization id (`org_id`).
        #[arg(long, default_value_t = DEMO_ORG)]
        org: Uuid,
        /// `service_role` for an admin caller.
        #[arg(long)]
        role: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_secs: i64,
    },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve { config } => {
            telemetry::init(&config.log);
            let app = Application::build(&config).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate { config } => {
            telemetry::init(&config.log);
            let tls_roots = config.tls_roots()?;
            Postgres::connect(
                &config.database_url,
                tls_roots.as_deref(),
                1,
                config.store_timeout(),
                false,
            )?
            .migrate()
            .await
            .context("migrating")?;
        }
        Command::Janitor { config, dry_run } => {
            telemetry::init(&config.log);
            let jobs = Services::connect(&config).await?.jobs;
            let report = jobs.janitor.run(dry_run).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !dry_run {
                jobs.cleanup.run_due().await?;
            }
        }
        Command::PurgeTrash { config, dry_run } => {
            telemetry::init(&config.log);
            let jobs = Services::connect(&config).await?.jobs;
            let report = jobs.purge.run(dry_run).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !dry_run {
                jobs.cleanup.run_due().await?;
            }
        }
        Command::SweepOrphans { config, dry_run } => {
            telemetry::init(&config.log);
            let jobs = Services::connect(&config).await?.jobs;
            let report = jobs.sweep.run(dry_run).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::RetryCleanup { config } => {
            telemetry::init(&config.log);
            let services = Services::connect(&config).await?;
            let redriven = services.app.admin.retry_dead(None).await?;
            let pass = services.jobs.cleanup.run_due().await?;
            let deliveries = match &services.jobs.webhooks {
                Some(webhooks) => Some(webhooks.run_due().await?),
                None => None,
            };
            println!(
                "{}",
                serde_json::json!({
                    "retried": redriven.jobs,
                    "eventsRetried": redriven.events,
                    "pass": pass,
                    "deliveries": deliveries,
                })
            );
        }
        Command::Openapi => {
            println!("{}", ApiDoc::openapi().to_pretty_json()?);
        }
        Command::DevToken {
            config,
            user,
            org,
            role,
            ttl_secs,
        } => {
            let claims = Claims {
                sub: Some(user),
                org_id: Some(org),
                role,
                exp: chrono::Utc::now().timestamp() + ttl_secs,
            };
            println!("{}", mint(config.jwt_secret()?, &claims)?);
        }
    }
    Ok(())
}
