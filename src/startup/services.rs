//! Every store connected, and every use case and job built on them: what
//! `serve` runs and what each CLI command that runs a job once needs.

use std::time::Duration;

use super::queue::job_runner;
use crate::app::admin::Admin;
use crate::app::courses::{CleanupHandle, CourseLimits, CourseStores, TusLimits};
use crate::app::drafts::Fallback;
use crate::app::erase::{Erasures, BAR_REFRESH};
use crate::app::limits::{SlotKind, Slots, WriteRate};
use crate::app::{App, Courses, DraftEvents, DraftSessions};
use crate::config::Config;
use crate::domain::cleanup::CleanupPolicy;
use crate::domain::key_pattern::{KeyPattern, PatternScope};
use crate::jobs::cleanup::CleanupContext;
use crate::jobs::erase::{EraseSettings, EraseStores, Eraser};
use crate::jobs::janitor::{Janitor, JanitorSettings};
use crate::jobs::orphans::OrphanSweep;
use crate::jobs::purge::{Purge, PurgeSettings};
use crate::jobs::queue::Wake;
use crate::jobs::webhooks::WebhookSettings;
use crate::jobs::Jobs;
use crate::stores::files::FileStorage;
use crate::stores::postgres::erasures::PgErasures;
use crate::stores::postgres::files::PgFiles;
use crate::stores::postgres::outbox::EVENTS_SETTING;
use crate::stores::postgres::tus::PgTus;
use crate::stores::postgres::uploads::UploadLedger;
use crate::stores::postgres::{JobQueue, PgCourses, PgDrafts, Postgres};
use crate::stores::redis::{LiveHub, RedisDrafts, RedisSettings};

pub struct Services {
    pub app: App,
    pub jobs: Jobs,
}

impl Services {
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let stores = Stores::connect(config).await?;
        let jobs = stores.jobs(config)?;
        let app = stores.app(config, &jobs);
        Ok(Self { app, jobs })
    }
}

/// The stores, connected and migrated, and what the use cases and jobs
/// share of them.
struct Stores {
    postgres: Postgres,
    redis: RedisDrafts,
    live: LiveHub,
    files: FileStorage,
    courses: PgCourses,
    file_rows: PgFiles,
    tus: PgTus,
    queue: JobQueue,
    writes: WriteRate,
    drafts: DraftSessions,
    patterns: Vec<KeyPattern>,
    webhook: Option<WebhookSettings>,
    policy: CleanupPolicy,
    wake: Wake,
}

impl Stores {
    async fn connect(config: &Config) -> anyhow::Result<Self> {
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
        let limits = config.draft_limits();
        let redis = RedisDrafts::connect(&redis_settings, limits)?;
        let writes = WriteRate::new(
            redis.clone(),
            config.write_rate_limit,
            config.write_rate_window(),
        );
        Ok(Self {
            live: LiveHub::new(&redis_settings, tokio::runtime::Handle::current())?,
            files: config
                .file_storage()?
                .with_ledger(UploadLedger::new(postgres.clone())),
            courses: PgCourses::new(postgres.clone()),
            file_rows: PgFiles::new(postgres.clone()),
            tus: PgTus::new(postgres.clone()),
            queue: JobQueue::new(postgres.clone()),
            drafts: DraftSessions::new(
                Fallback::new(redis.clone(), PgDrafts::new(postgres.clone(), limits)),
                limits,
                writes.clone(),
            ),
            writes,
            policy: CleanupPolicy {
                max_attempts: config.cleanup_max_attempts,
                redis_patterns: patterns.iter().any(|p| p.scope() == PatternScope::Course),
            },
            patterns,
            webhook,
            wake: Wake::new(),
            postgres,
            redis,
        })
    }

    /// The scheduled jobs and the job queue's runner.
    fn jobs(&self, config: &Config) -> anyhow::Result<Jobs> {
        let cleanup = CleanupContext::new(
            self.queue.clone(),
            self.file_rows.clone(),
            self.files.clone(),
            self.redis.clone(),
            self.patterns.clone(),
        );
        Ok(Jobs {
            janitor: Janitor::new(
                self.postgres.clone(),
                self.redis.clone(),
                JanitorSettings {
                    ttl: config.draft_ttl(),
                    batch_size: config.janitor_batch_size,
                    cleanup: self.policy,
                },
                self.wake.clone(),
            ),
            purge: Purge::new(
                self.postgres.clone(),
                PurgeSettings {
                    batch_size: config.purge_batch_size,
                    cleanup: self.policy,
                },
                self.wake.clone(),
            ),
            sweep: OrphanSweep::new(
                self.courses.clone(),
                self.tus.clone(),
                self.files.clone(),
                self.redis.clone(),
                Duration::from_secs(config.orphan_grace_secs),
            ),
            queue: job_runner(
                &self.queue,
                cleanup,
                config,
                self.policy,
                self.webhook.clone(),
                self.wake.clone(),
            )?,
        })
    }

    /// The use cases.
    fn app(self, config: &Config, jobs: &Jobs) -> App {
        let events = DraftEvents::new(
            self.drafts.clone(),
            self.live.clone(),
            Slots::new(
                SlotKind::EventStreams,
                config.events.per_user,
                config.events.max,
            ),
        );
        App {
            events,
            drafts: self.drafts.clone(),
            courses: self.courses_use_cases(config),
            erasures: Erasures::new(
                PgErasures::new(self.postgres.clone()),
                self.tus.clone(),
                self.eraser(config, jobs),
                tokio::runtime::Handle::current(),
            ),
            admin: Admin {
                postgres: self.postgres,
                courses: self.courses,
                redis: self.redis,
                queue: self.queue,
                cleanup: self.policy,
                ttl: config.draft_ttl(),
                janitor: jobs.janitor.clone(),
                purge: jobs.purge.clone(),
                sweep: jobs.sweep.clone(),
                runner: jobs.queue.clone(),
            },
        }
    }

    fn courses_use_cases(&self, config: &Config) -> Courses {
        Courses::new(
            self.drafts.clone(),
            CourseStores {
                courses: self.courses.clone(),
                file_rows: self.file_rows.clone(),
                tus: self.tus.clone(),
                files: self.files.clone(),
            },
            CourseLimits {
                rules: config.upload_rules(),
                quota: config.file_quota(),
                writes: self.writes.clone(),
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
            CleanupHandle {
                policy: self.policy,
                wake: self.wake.clone(),
            },
            config.trash_retention(),
        )
    }

    fn eraser(&self, config: &Config, jobs: &Jobs) -> Eraser {
        Eraser::new(
            EraseStores {
                erasures: PgErasures::new(self.postgres.clone()),
                queue: self.queue.clone(),
                file_rows: self.file_rows.clone(),
                redis: self.redis.clone(),
                files: self.files.clone(),
                tus: self.tus.clone(),
            },
            jobs.queue.clone(),
            EraseSettings {
                batch_size: config.erase_batch_size,
                cleanup: self.policy,
                patterns: self.patterns.clone().into(),
                // Every replica refuses the subject's writes by then, and
                // every request that started before is over.
                settle: BAR_REFRESH * 2 + config.longest_request(),
            },
        )
    }
}
