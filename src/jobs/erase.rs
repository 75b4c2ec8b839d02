//! The erase of an organization or a user (the operator's full clean-up, a
//! data-subject erasure request). Every course of the subject, trashed or
//! not, degraded-mode drafts included, goes through the one deletion path in
//! batches, each its own transaction; every draft session goes from Redis;
//! then, once the cleanup jobs have carried out what the deletions queued
//! (files, draft keys), a check counts what is left in every store.
//!
//! Nothing should appear behind it: the subject's writes are refused (the
//! bar in `app`, and a trigger on `courses`). But a replica learns of the
//! bar up to a refresh late, so the erase sweeps again until a sweep at
//! least `settle` after its start finds nothing, a bounded number of times.
//!
//! One process works on an erase at a time: it holds the erase's advisory
//! lock on a session of its own, which dies with the process. A rerun takes
//! over where a killed one stopped: the counts before are taken once, and
//! what was removed is recorded as it goes.

mod inventory;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::try_join_all;
use tokio::sync::watch;
use uuid::Uuid;

use crate::domain::cleanup::{tasks, CleanupPolicy};
use crate::domain::erase::{
    ErasePhase, EraseReport, EraseState, EraseStatus, EraseSubject, Redriven,
};
use crate::domain::event::DELIVERY_TASK;
use crate::domain::key_pattern::KeyPattern;
use crate::domain::tus::TusStatus;
use crate::domain::StoreError;
use crate::jobs::queue::{Queue, Runner};
use crate::stores::files::FileStorage;
use crate::stores::postgres::erasures::{EraseLock, PgErasures};
use crate::stores::postgres::files::PgFiles;
use crate::stores::postgres::tus::PgTus;
use crate::stores::postgres::JobQueue;
use crate::stores::redis::RedisDrafts;

/// Sweeps after which an erase that still finds something reports it.
const ROUNDS: u32 = 5;
/// The longest wait for the subject's cleanup jobs in one sweep.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a sweep looks again at jobs another worker holds or that wait
/// out a backoff.
const POLL: Duration = Duration::from_millis(100);
/// Cleanup steps run side by side while an erase waits for its jobs.
const DRAIN_WORKERS: usize = 4;
/// Storage keys checked against file rows at once.
const KEYS_PER_CHECK: usize = 1000;

#[derive(Debug, Clone)]
pub struct EraseSettings {
    /// Courses deleted per transaction.
    pub batch_size: i64,
    /// What each deletion records for the cleanup tasks.
    pub cleanup: CleanupPolicy,
    /// The platform's keys (`DRAFTD_CLEANUP_REDIS_PATTERNS`): those of the
    /// subject's courses, and those of the subject itself.
    pub patterns: Arc<[KeyPattern]>,
    /// How long after its start an erase may make its last sweep: by then
    /// every replica refuses the subject's writes.
    pub settle: Duration,
}

/// Where a run publishes the erase as it goes, for a CLI's progress line.
pub type EraseWatch = watch::Sender<Option<EraseState>>;

/// The stores an erase counts and empties.
#[derive(Clone)]
pub struct EraseStores {
    pub erasures: PgErasures,
    pub queue: JobQueue,
    pub file_rows: PgFiles,
    pub redis: RedisDrafts,
    pub files: FileStorage,
    pub tus: PgTus,
}

#[derive(Clone)]
pub struct Eraser {
    stores: EraseStores,
    runner: Runner,
    settings: EraseSettings,
}

impl Eraser {
    pub fn new(stores: EraseStores, runner: Runner, settings: EraseSettings) -> Self {
        Self {
            stores,
            runner,
            settings,
        }
    }

    /// A dry run: what erasing `subject` would remove, counted now.
    pub async fn predict(&self, subject: EraseSubject) -> Result<EraseReport, StoreError> {
        let before = self.inventory(subject, None).await?;
        metrics::counter!("draftd_erasures_total", "outcome" => "dry_run").increment(1);
        Ok(EraseReport::predicted(subject, &before))
    }

    /// Works on erase `id` until it ends, unless another process holds it
    /// (`None`). An erase that ended already answers as it is. On an error
    /// the erase stays running, to be resumed.
    pub async fn run(
        &self,
        id: Uuid,
        watch: &EraseWatch,
    ) -> Result<Option<EraseState>, StoreError> {
        let Some(mut lock) = self.stores.erasures.lock(id).await? else {
            return Ok(None);
        };
        let outcome = self.hold(&mut lock, watch).await;
        lock.release().await;
        outcome.map(Some)
    }

    async fn hold(
        &self,
        lock: &mut EraseLock,
        watch: &EraseWatch,
    ) -> Result<EraseState, StoreError> {
        let mut state = lock.load().await?;
        if state.status != EraseStatus::Running {
            return Ok(state);
        }
        tracing::info!(erase = %state.id, subject = %state.subject,
            resumed = state.before.is_some(), "erase.started");
        let started = Instant::now();
        let report = match self.work(lock, &mut state, watch).await {
            Ok(report) => report,
            Err(e) => {
                if let Err(record) = lock.record_error(&e.to_string()).await {
                    tracing::warn!(erase = %state.id, error = %record, "could not record an erase's error");
                }
                tracing::warn!(erase = %state.id, error = %e, "erase.interrupted: the next run resumes it");
                metrics::counter!("draftd_erasures_total", "outcome" => "interrupted").increment(1);
                return Err(e);
            }
        };
        let status = if report.integrity.clean {
            EraseStatus::Done
        } else {
            EraseStatus::Failed
        };
        lock.finish(status, &report, &state.progress).await?;
        log_completed(state.id, status, &report);
        metrics::counter!("draftd_erasures_total", "outcome" => status.as_str()).increment(1);
        metrics::histogram!("draftd_erase_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let state = lock.load().await?;
        watch.send_replace(Some(state.clone()));
        Ok(state)
    }

    /// Counts before (once), then sweeps until one finds nothing left.
    async fn work(
        &self,
        lock: &mut EraseLock,
        state: &mut EraseState,
        watch: &EraseWatch,
    ) -> Result<EraseReport, StoreError> {
        let subject = state.subject;
        let before = match state.before {
            Some(before) => before,
            None => {
                self.enter(lock, state, watch, ErasePhase::Counting).await?;
                let before = self.inventory(subject, Some(state.id)).await?;
                lock.store_before(&before).await?;
                state.before = Some(before);
                before
            }
        };
        let mut redriven = Redriven::default();
        loop {
            state.progress.round += 1;
            self.enter(lock, state, watch, ErasePhase::Courses).await?;
            let (batch, policy) = (self.settings.batch_size, self.settings.cleanup);
            // No wake: the erase runs its cleanup jobs itself (the drain
            // below), and its events go at the runner's next poll, after
            // the erase has redriven its courses' dead ones.
            while lock
                .delete_batch(subject, batch, policy, &mut state.progress)
                .await?
                > 0
            {
                watch.send_replace(Some(state.clone()));
            }

            // The courses are gone for good: their draft sessions may go.
            self.enter(lock, state, watch, ErasePhase::Drafts).await?;
            let mut drafts = self.stores.redis.scan_subject(subject).await?;
            while let Some(page) = drafts.next_page().await? {
                if page.is_empty() {
                    continue;
                }
                state.progress.draft_keys += drafts.remove(&page).await?;
                lock.save_progress(&state.progress).await?;
                watch.send_replace(Some(state.clone()));
            }
            drafts.remove_user_keys().await?;
            self.stores.redis.remove_discarded(subject).await?;
            self.stores.redis.remove_idempotency_keys(subject).await?;
            self.remove_uploads(subject).await?;

            self.enter(lock, state, watch, ErasePhase::Cleanup).await?;
            let first = state.progress.round == 1;
            redriven.jobs += self.drain(subject, state.id, first).await?;
            if first {
                redriven.events = self.redrive_events(subject, state.id).await?;
            }
            self.remove_unreferenced(subject, state.id).await?;
            self.pattern_keys(subject, Some(state.id), true).await?;

            self.enter(lock, state, watch, ErasePhase::Checking).await?;
            let after = self.inventory(subject, Some(state.id)).await?;
            let wait = lock.settle_left(self.settings.settle).await?;
            let clean = after.leftovers().is_empty();
            if wait.is_zero() && (clean || state.progress.round >= ROUNDS) {
                return Ok(EraseReport::finished(
                    subject,
                    &before,
                    &state.progress,
                    &after,
                    redriven,
                    state.created_at,
                    Utc::now(),
                ));
            }
            // A replica may not refuse the subject's writes yet: sweep again
            // once every one does.
            tokio::time::sleep(wait.max(POLL)).await;
        }
    }

    /// Removes the subject's resumable uploads, finished or not: an
    /// unfinished one's staged bytes, then its row (the uploader and the
    /// file's name). Their draft sessions are gone, so a PATCH still in
    /// flight cannot finish one: it finds its row gone, or its draft.
    async fn remove_uploads(&self, subject: EraseSubject) -> Result<(), StoreError> {
        loop {
            let uploads = self
                .stores
                .tus
                .of_subject(subject, self.settings.batch_size)
                .await?;
            if uploads.is_empty() {
                return Ok(());
            }
            for upload in &uploads {
                if upload.status == TusStatus::Receiving {
                    self.stores
                        .files
                        .tus_discard(&upload.storage_key, &upload.bytes)
                        .await?;
                }
                self.stores.tus.delete(upload.id).await?;
            }
        }
    }

    /// Records the phase the erase enters, and publishes it.
    async fn enter(
        &self,
        lock: &mut EraseLock,
        state: &mut EraseState,
        watch: &EraseWatch,
        phase: ErasePhase,
    ) -> Result<(), StoreError> {
        state.progress.phase = phase;
        lock.save_progress(&state.progress).await?;
        watch.send_replace(Some(state.clone()));
        Ok(())
    }

    /// Runs the runner's cleanup steps until none of the subject's jobs is
    /// pending (another worker may hold some, or they wait out a backoff),
    /// for [`DRAIN_TIMEOUT`] at most. With `redrive`, dead ones go back in
    /// the queue, once. How many did.
    async fn drain(
        &self,
        subject: EraseSubject,
        erasure: Uuid,
        redrive: bool,
    ) -> Result<u64, StoreError> {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut redriven = 0;
        loop {
            // The runner's cleanup step, several at once: they claim jobs
            // with SKIP LOCKED, so they share a large erase's queue.
            try_join_all((0..DRAIN_WORKERS).map(|_| self.runner.run_due(Queue::Cleanup))).await?;
            let (pending, dead) = self
                .stores
                .erasures
                .job_counts(subject, Some(erasure))
                .await?;
            if pending == 0 && dead > 0 && redrive && redriven == 0 {
                let ids = self.stores.erasures.dead_jobs(subject, erasure).await?;
                redriven = self.stores.queue.retry_dead(tasks::ALL, Some(&ids)).await?;
                tracing::warn!(erase = %erasure, redriven, "erase: dead cleanup jobs put back in the queue");
                continue;
            }
            if pending == 0 || Instant::now() >= deadline {
                return Ok(redriven);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Puts the dead events of the subject's courses back in the queue, so
    /// that the courses' `course.deleted` are not held back behind them.
    async fn redrive_events(
        &self,
        subject: EraseSubject,
        erasure: Uuid,
    ) -> Result<u64, StoreError> {
        let ids = self.stores.erasures.dead_events(subject, erasure).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let redriven = self
            .stores
            .queue
            .retry_dead(&[DELIVERY_TASK], Some(&ids))
            .await?;
        tracing::warn!(erase = %erasure, redriven, "erase: dead events put back in the queue");
        Ok(redriven)
    }

    /// Objects under the subject's prefixes that no file row references and
    /// no job removes (an upload cut off by a crash) go too.
    async fn remove_unreferenced(
        &self,
        subject: EraseSubject,
        erasure: Uuid,
    ) -> Result<(), StoreError> {
        for prefix in self
            .stores
            .erasures
            .storage_prefixes(subject, Some(erasure))
            .await?
        {
            let keys: Vec<String> = self
                .stores
                .files
                .list_sized(&prefix)
                .await?
                .into_iter()
                .map(|(key, _)| key)
                .collect();
            for chunk in keys.chunks(KEYS_PER_CHECK) {
                let referenced = self.stores.file_rows.referenced_keys(chunk).await?;
                for key in chunk.iter().filter(|key| !referenced.contains(key)) {
                    self.stores.files.delete(key).await?;
                }
            }
        }
        Ok(())
    }
}

fn log_completed(id: Uuid, status: EraseStatus, report: &EraseReport) {
    let counts = &report.counts;
    tracing::info!(
        erase = %id,
        scope = report.subject.scope.as_str(),
        subject = %report.subject.id,
        status = status.as_str(),
        courses_before = counts.courses.before,
        courses_removed = counts.courses.removed,
        file_rows_removed = counts.file_rows.removed,
        objects_removed = counts.objects.removed,
        bytes_removed = counts.bytes.removed,
        draft_keys_removed = counts.draft_keys.removed,
        cleanup_jobs_left = counts.cleanup_jobs_pending.after + counts.cleanup_jobs_dead.after,
        events_pending = counts.events_pending.after,
        events_dead = counts.events_dead.after,
        leftovers = %report.integrity.leftovers.join(", "),
        rounds = report.integrity.rounds,
        duration_ms = report.duration_ms,
        "erase.completed"
    );
}
