use std::io::IsTerminal;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use utoipa::OpenApi;
use uuid::Uuid;

use draftd::config::Config;
use draftd::domain::erase::{EraseState, EraseSubject, ProgressLine};
use draftd::domain::identity::external_id;
use draftd::http::auth::{mint, Claims};
use draftd::http::openapi::ApiDoc;
use draftd::http::page::{DEMO_ORG, DEMO_USER};
use draftd::jobs::queue::Queue;
use draftd::jobs::Jobs;
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
    /// Erase everything of one organization or one user: courses, files,
    /// draft sessions. Shows progress on stderr and waits until done, then
    /// prints the report (a table, or JSON with --json) and exits non-zero if
    /// its integrity check names anything left. Run again after a crash, it
    /// resumes the same erase.
    Erase {
        #[command(flatten)]
        config: Config,
        #[command(flatten)]
        subject: EraseTarget,
        /// Report what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
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

/// Whose data `draftd erase` removes: exactly one of the two.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct EraseTarget {
    /// The organization, with every user's drafts and courses in it: a UUID,
    /// or the id the identity provider's tokens give.
    #[arg(long)]
    org: Option<String>,
    /// The user, in every organization: a UUID, or the `sub` the identity
    /// provider's tokens give (`auth0|…`), mapped in the namespace of
    /// DRAFTD_JWT_ISSUER as a token's is.
    #[arg(long)]
    user: Option<String>,
}

/// See Cargo.toml: glibc's malloc and free were a tenth of an autosave's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve { config } => {
            telemetry::init(&config.log);
            let app = Application::build(&config).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate { config } => migrate(&config).await?,
        Command::Janitor { config, dry_run } => {
            let jobs = jobs(&config).await?;
            print_json(&jobs.janitor.run(dry_run).await?)?;
            if !dry_run {
                jobs.queue.run_due(Queue::Cleanup).await?;
            }
        }
        Command::PurgeTrash { config, dry_run } => {
            let jobs = jobs(&config).await?;
            print_json(&jobs.purge.run(dry_run).await?)?;
            if !dry_run {
                jobs.queue.run_due(Queue::Cleanup).await?;
            }
        }
        Command::SweepOrphans { config, dry_run } => {
            print_json(&jobs(&config).await?.sweep.run(dry_run).await?)?;
        }
        Command::RetryCleanup { config } => {
            telemetry::init(&config.log);
            let services = Services::connect(&config).await?;
            println!("{}", retry_cleanup(&services).await?);
        }
        Command::Erase {
            config,
            subject,
            dry_run,
            json,
        } => erase(&config, subject, dry_run, json).await?,
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
            let now = chrono::Utc::now().timestamp();
            let claims = Claims {
                sub: Some(user),
                org_id: Some(org),
                role,
                exp: now + ttl_secs,
                iat: Some(now),
            };
            let secret = config.jwt_secret()?.ok_or_else(|| {
                anyhow::anyhow!("dev-token signs with DRAFTD_JWT_SECRET, and none is set")
            })?;
            println!("{}", mint(secret, &claims)?);
        }
    }
    Ok(())
}

/// The jobs, for a command that runs one once.
async fn jobs(config: &Config) -> anyhow::Result<Jobs> {
    telemetry::init(&config.log);
    Ok(Services::connect(config).await?.jobs)
}

fn print_json(report: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(report)?);
    Ok(())
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
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
    .context("migrating")
}

/// `draftd erase`: its report on stdout, its progress and logs on stderr.
async fn erase(
    config: &Config,
    target: EraseTarget,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    telemetry::init_stderr(&config.log);
    let issuer = config.identity.jwt_issuer.as_deref().unwrap_or_default();
    let id = |raw: &str| external_id(issuer, raw).context("an id is a non-empty string");
    let subject = match (target.org.as_deref(), target.user.as_deref()) {
        (Some(org), None) => EraseSubject::organization(id(org)?.into()),
        (None, Some(user)) => EraseSubject::user(id(user)?.into()),
        _ => anyhow::bail!("name one of --org and --user"),
    };
    let erasures = Services::connect(config).await?.app.erasures;
    let report = if dry_run {
        erasures.predict(subject).await?
    } else {
        let mut progress = Progress::new();
        let state = erasures
            .run_to_end(subject, |state| progress.show(state))
            .await;
        progress.end();
        let state = state.context(
            "the erase stopped short; it stays running: run the same command again to resume it",
        )?;
        state
            .report
            .with_context(|| format!("erase {} ended without a report", state.id))?
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if !report.integrity.clean {
        anyhow::bail!(
            "left after the erase: {}",
            report.integrity.leftovers.join(", ")
        );
    }
    Ok(())
}

/// An erase's progress on stderr: one line rewritten in place on a terminal,
/// a line per change otherwise (a log, a pipe).
struct Progress {
    terminal: bool,
    last: String,
}

impl Progress {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last: String::new(),
        }
    }

    fn show(&mut self, state: &EraseState) {
        let line = ProgressLine(state).to_string();
        if line == self.last {
            return;
        }
        if self.terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
        self.last = line;
    }

    fn end(&self) {
        if self.terminal && !self.last.is_empty() {
            eprintln!();
        }
    }
}

/// `draftd retry-cleanup`: every dead job and event back in the queue, then
/// one pass of each queue now; what it did, as JSON.
async fn retry_cleanup(services: &Services) -> anyhow::Result<serde_json::Value> {
    let redriven = services.app.admin.retry_dead(None).await?;
    let queue = &services.jobs.queue;
    let pass = queue.run_due(Queue::Cleanup).await?;
    let deliveries = match queue.serves(Queue::Webhooks) {
        true => Some(queue.run_due(Queue::Webhooks).await?),
        false => None,
    };
    Ok(serde_json::json!({
        "retried": redriven.jobs,
        "eventsRetried": redriven.events,
        "pass": pass,
        "deliveries": deliveries,
    }))
}
