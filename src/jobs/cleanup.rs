//! The cleanup task types: what course deletions queue for removal outside
//! Postgres (stored objects, Redis keys), each a [`Task`] of the job queue,
//! retried with backoff until dead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::queue::{Attempt, Queue, Runner, Task, TaskSettings};
use crate::domain::cleanup::{
    tasks, CleanupPolicy, DraftSession, PlatformKeys, StorageObject, StoragePrefix,
};
use crate::domain::ids::CourseId;
use crate::domain::key_pattern::{KeyPattern, PatternScope, Placeholder};
use crate::domain::StoreError;
use crate::stores::files::FileStorage;
use crate::stores::postgres::files::PgFiles;
use crate::stores::postgres::JobQueue;
use crate::stores::redis::RedisDrafts;

/// Courses whose platform keys one keyspace scan per pattern looks for.
const KEYS_BATCH: i64 = 1000;
/// How long a claimed job is its runner's before it falls due again.
const LEASE: Duration = Duration::from_secs(300);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What the cleanup tasks run with.
#[derive(Clone)]
pub struct CleanupContext {
    queue: JobQueue,
    file_rows: PgFiles,
    files: FileStorage,
    redis: RedisDrafts,
    /// Patterns of the platform's keys of a course.
    patterns: Arc<[KeyPattern]>,
}

impl CleanupContext {
    pub fn new(
        queue: JobQueue,
        file_rows: PgFiles,
        files: FileStorage,
        redis: RedisDrafts,
        patterns: Vec<KeyPattern>,
    ) -> Self {
        let patterns = patterns
            .into_iter()
            .filter(|p| p.scope() == PatternScope::Course)
            .collect();
        Self {
            queue,
            file_rows,
            files,
            redis,
            patterns,
        }
    }

    /// Deletes those of `keys` that no file row references: a course
    /// re-created with the same id (an upload right after the janitor)
    /// keeps its files.
    async fn delete_unreferenced(&self, keys: Vec<String>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let referenced = self.file_rows.referenced_keys(&keys).await?;
        for key in keys.iter().filter(|key| !referenced.contains(key)) {
            self.files.delete(key).await?;
        }
        Ok(())
    }

    /// Erases the platform's keys of these erased courses: one keyspace
    /// scan per pattern for the whole batch.
    async fn erase_platform_keys(&self, courses: &[PlatformKeys]) -> Result<u64, StoreError> {
        let owners: HashMap<Uuid, (Uuid, Uuid)> = courses
            .iter()
            .map(|c| {
                let (org, user) = (c.organization_id.as_uuid(), c.user_id.as_uuid());
                (c.course_id.as_uuid(), (org, user))
            })
            .collect();
        let mut removed = 0;
        for pattern in self.patterns.iter() {
            removed += self
                .redis
                .unlink_matching(pattern, |ids| {
                    let owner = ids.get(&Placeholder::Course).and_then(|c| owners.get(c));
                    owner.is_some_and(|(org, user)| {
                        ids.get(&Placeholder::Organization).is_none_or(|o| o == org)
                            && ids.get(&Placeholder::User).is_none_or(|u| u == user)
                    })
                })
                .await?;
        }
        tracing::info!(
            courses = owners.len(),
            patterns = self.patterns.len(),
            keys_removed = removed,
            "cleanup.platform_keys"
        );
        metrics::counter!("draftd_cleanup_platform_keys_removed_total").increment(removed);
        Ok(removed)
    }
}

/// Registers the cleanup task types: the platform's keys first, many
/// courses per keyspace scan.
pub fn register(
    runner: Runner,
    ctx: CleanupContext,
    policy: CleanupPolicy,
    backoff: Duration,
) -> Runner {
    let settings = TaskSettings {
        max_attempts: policy.max_attempts,
        backoff,
        max_backoff: MAX_BACKOFF,
        lease: LEASE,
    };
    runner
        .register::<PlatformKeys>(ctx.clone(), settings)
        .register::<StoragePrefix>(ctx.clone(), settings)
        .register::<StorageObject>(ctx.clone(), settings)
        .register::<DraftSession>(ctx, settings)
}

/// What every cleanup task's [`Task`] says alike: its stored name, the
/// cleanup queue, its context, and the course its payload names.
macro_rules! cleanup_task {
    ($name:expr) => {
        const NAME: &'static str = $name;
        const QUEUE: Queue = Queue::Cleanup;
        type Context = CleanupContext;

        fn course_id(&self) -> CourseId {
            self.course_id
        }
    };
}

impl Task for StoragePrefix {
    cleanup_task!(tasks::STORAGE_PREFIX);

    async fn run(&self, ctx: &CleanupContext) -> Attempt {
        let removed = async {
            let keys = ctx.files.list(&self.prefix()).await?;
            ctx.delete_unreferenced(keys).await
        };
        Attempt::of(removed.await)
    }
}

impl Task for StorageObject {
    cleanup_task!(tasks::STORAGE_OBJECT);

    async fn run(&self, ctx: &CleanupContext) -> Attempt {
        Attempt::of(ctx.delete_unreferenced(vec![self.key.clone()]).await)
    }
}

impl Task for DraftSession {
    cleanup_task!(tasks::DRAFT_SESSION);

    /// Unless its course exists again: then the draft names it still.
    async fn run(&self, ctx: &CleanupContext) -> Attempt {
        let removed = async {
            if ctx.queue.course_exists(self.course_id).await? {
                return Ok(());
            }
            ctx.redis
                .delete(self.user_id, self.draft_id)
                .await
                .map(|_| ())
        };
        Attempt::of(removed.await)
    }
}

impl Task for PlatformKeys {
    cleanup_task!(tasks::PLATFORM_KEYS);
    const BATCH: i64 = KEYS_BATCH;

    async fn run(&self, ctx: &CleanupContext) -> Attempt {
        let erased = ctx.erase_platform_keys(std::slice::from_ref(self)).await;
        Attempt::of(erased.map(|_| ()))
    }

    /// One scan per pattern for the whole batch: each job shares its outcome.
    async fn run_batch(ctx: &CleanupContext, tasks: &[Self]) -> Vec<Attempt> {
        let attempt = Attempt::of(ctx.erase_platform_keys(tasks).await.map(|_| ()));
        vec![attempt; tasks.len()]
    }
}
