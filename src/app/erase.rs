//! Erasing an organization or a user: starting an erase (or joining the one
//! running for that subject), a dry run, an erase's state, the CLI's run to
//! the end, and the bar on the subject's writes while it runs and, after it,
//! for every token issued (`iat`) before it finished.
//!
//! Every write is checked against the bar, autosave included, so the check
//! makes no store call: each replica keeps the barred subjects in memory,
//! refreshed from Postgres every [`BAR_REFRESH`], and the replica that
//! starts an erase bars its subject at once. The same loop resumes erasures
//! whose worker died.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::AppError;
use crate::domain::erase::{EraseReport, EraseScope, EraseState, EraseStatus, EraseSubject};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::{Owner, StoreError};
use crate::jobs::erase::Eraser;
use crate::stores::postgres::erasures::PgErasures;
use crate::stores::postgres::tus::PgTus;

/// How stale a replica's bar may be. An erase's last sweep comes at least
/// twice this long after its start.
pub const BAR_REFRESH: Duration = Duration::from_secs(1);
/// How often running erasures nobody works on are looked for.
const RESUME_EVERY: Duration = Duration::from_secs(60);
/// How often the CLI reads an erase another process works on.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub struct Erasures {
    store: PgErasures,
    /// The subject's unfinished resumable uploads end when its erase starts.
    uploads: PgTus,
    eraser: Eraser,
    bars: Bars,
    /// Where erasures run: not a request's worker, which a shutdown stops first.
    runtime: Handle,
}

impl Erasures {
    pub fn new(store: PgErasures, uploads: PgTus, eraser: Eraser, runtime: Handle) -> Self {
        Self {
            store,
            uploads,
            eraser,
            bars: Bars::default(),
            runtime,
        }
    }

    /// Whether `owner`'s writes are refused: its organization or its user is
    /// being erased, or was after `owner`'s token was issued (a token without
    /// `iat` is refused by any erase).
    pub fn refuses_writes(&self, owner: Owner) -> bool {
        self.bars.refuses(owner)
    }

    /// Starts erasing `subject`, or joins its running erase; the work goes
    /// on in the background.
    pub async fn start(&self, subject: EraseSubject) -> Result<EraseState, AppError> {
        let (state, started) = self.store.start(subject).await?;
        self.bars.add(subject);
        self.uploads.expire_subject(subject).await?;
        if started {
            tracing::info!(erase = %state.id, subject = %subject, "erase requested");
        }
        self.spawn_run(state.id);
        Ok(state)
    }

    /// A dry run: the report erasing `subject` would give, changing nothing.
    pub async fn predict(&self, subject: EraseSubject) -> Result<EraseReport, AppError> {
        Ok(self.eraser.predict(subject).await?)
    }

    pub async fn state(&self, id: Uuid) -> Result<EraseState, AppError> {
        self.store.find(id).await?.ok_or(AppError::NotFound)
    }

    /// The CLI's erase: starts (or joins) the subject's erase and works on
    /// it here until it ends. While another process works on it, follows it,
    /// and takes over if that process dies. `on_progress` sees it as it goes.
    pub async fn run_to_end(
        &self,
        subject: EraseSubject,
        mut on_progress: impl FnMut(&EraseState),
    ) -> Result<EraseState, AppError> {
        let (state, _) = self.store.start(subject).await?;
        self.uploads.expire_subject(subject).await?;
        on_progress(&state);
        let (watch, mut seen) = watch::channel(None);
        loop {
            let run = self.eraser.run(state.id, &watch);
            tokio::pin!(run);
            let outcome = loop {
                tokio::select! {
                    outcome = &mut run => break outcome,
                    Ok(()) = seen.changed() => {
                        let now = seen.borrow_and_update().clone();
                        if let Some(now) = now {
                            on_progress(&now);
                        }
                    }
                }
            };
            if let Some(done) = outcome? {
                return Ok(done);
            }
            tokio::time::sleep(FOLLOW_POLL).await;
            let now = self.state(state.id).await?;
            on_progress(&now);
            if now.status != EraseStatus::Running {
                return Ok(now);
            }
        }
    }

    /// Works on erase `id` in the background, unless another process does.
    fn spawn_run(&self, id: Uuid) {
        let eraser = self.eraser.clone();
        self.runtime.spawn(async move {
            let (watch, _) = watch::channel(None);
            if let Err(e) = eraser.run(id, &watch).await {
                tracing::warn!(erase = %id, error = %e, "erase stopped; it will be resumed");
            }
        });
    }

    /// Starts the loop that refreshes the bar every [`BAR_REFRESH`] and
    /// resumes running erasures nobody works on, at once and every
    /// [`RESUME_EVERY`].
    pub fn start_upkeep(&self) -> Upkeep {
        let (stop, mut stopped) = watch::channel(false);
        let this = self.clone();
        let task = self.runtime.spawn(async move {
            let mut next_resume = Instant::now();
            let mut failing = false;
            loop {
                match this.refresh().await {
                    // Once per outage, not once a second.
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, "could not refresh the erased subjects; the bar stays as it was");
                        failing = true;
                    }
                    Err(_) => {}
                    Ok(()) => failing = false,
                }
                if Instant::now() >= next_resume {
                    this.resume().await;
                    next_resume = Instant::now() + RESUME_EVERY;
                }
                tokio::select! {
                    _ = tokio::time::sleep(BAR_REFRESH) => {}
                    _ = stopped.changed() => {}
                }
                if *stopped.borrow() {
                    break;
                }
            }
        });
        Upkeep { stop, task }
    }

    async fn refresh(&self) -> Result<(), StoreError> {
        let asked = Instant::now();
        let subjects = self.store.barred().await?;
        self.bars.replace(&subjects, asked);
        Ok(())
    }

    async fn resume(&self) {
        match self.store.running().await {
            Ok(ids) => ids.into_iter().for_each(|id| self.spawn_run(id)),
            Err(e) => tracing::warn!(error = %e, "could not look for erasures to resume"),
        }
    }
}

/// The bar's refresh loop; [`Upkeep::shutdown`] stops it.
pub struct Upkeep {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Upkeep {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The subjects whose writes this replica refuses.
#[derive(Clone, Default)]
struct Bars(Arc<RwLock<Barred>>);

/// When a subject's erase ended: `None` while one runs.
type ErasedAt = Option<DateTime<Utc>>;

#[derive(Default)]
struct Barred {
    organizations: HashMap<OrgId, ErasedAt>,
    users: HashMap<UserId, ErasedAt>,
    /// Bars this replica added, kept until a refresh that began after them
    /// (an earlier one may have missed the erase's row).
    added: Vec<(EraseSubject, Instant)>,
}

impl Barred {
    fn insert(&mut self, subject: EraseSubject, erased_at: ErasedAt) {
        match subject.scope {
            EraseScope::Organization => {
                self.organizations
                    .insert(subject.organization_id(), erased_at);
            }
            EraseScope::User => {
                self.users.insert(subject.user_id(), erased_at);
            }
        }
    }
}

/// Whether a token issued at `issued_at` is refused by an erase that ended
/// at `erased_at` (or runs): the same rule as the recording's fence in
/// Postgres.
fn refused_by(erased_at: ErasedAt, issued_at: Option<i64>) -> bool {
    match (erased_at, issued_at) {
        (Some(erased_at), Some(issued_at)) => issued_at <= erased_at.timestamp(),
        _ => true,
    }
}

impl Bars {
    fn refuses(&self, owner: Owner) -> bool {
        let barred = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let refuses = [
            barred.organizations.get(&owner.organization_id),
            barred.users.get(&owner.user_id),
        ]
        .into_iter()
        .flatten()
        .any(|erased_at| refused_by(*erased_at, owner.issued_at));
        refuses
    }

    fn add(&self, subject: EraseSubject) {
        let mut barred = self.0.write().unwrap_or_else(PoisonError::into_inner);
        barred.insert(subject, None);
        barred.added.push((subject, Instant::now()));
    }

    /// The subjects a refresh that began at `asked` read.
    fn replace(&self, subjects: &[(EraseSubject, ErasedAt)], asked: Instant) {
        let mut fresh = Barred::default();
        for (subject, erased_at) in subjects {
            fresh.insert(*subject, *erased_at);
        }
        let mut barred = self.0.write().unwrap_or_else(PoisonError::into_inner);
        fresh.added = std::mem::take(&mut barred.added);
        fresh.added.retain(|(_, at)| *at >= asked);
        for (subject, _) in fresh.added.clone() {
            fresh.insert(subject, None);
        }
        *barred = fresh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_added_here_outlives_a_refresh_that_began_before_it() {
        let bars = Bars::default();
        let owner = Owner::of(Uuid::new_v4().into(), Uuid::new_v4().into());
        let asked = Instant::now();
        bars.add(EraseSubject::organization(owner.organization_id));
        bars.replace(&[], asked);
        assert!(bars.refuses(owner));
        bars.replace(&[], Instant::now());
        assert!(!bars.refuses(owner));
        bars.replace(&[(EraseSubject::user(owner.user_id), None)], Instant::now());
        assert!(bars.refuses(owner));
        let colleague = Owner {
            user_id: Uuid::new_v4().into(),
            ..owner
        };
        assert!(!bars.refuses(colleague));
    }

    #[test]
    fn after_an_erase_only_tokens_issued_after_it_finished_write() {
        let bars = Bars::default();
        let finished = Utc::now();
        let at = |issued_at: Option<i64>| Owner {
            issued_at,
            ..Owner::of(Uuid::new_v4().into(), Uuid::new_v4().into())
        };
        let before = at(Some(finished.timestamp() - 60));
        let after = at(Some(finished.timestamp() + 1));
        let without_iat = at(None);
        let subjects: Vec<_> = [before, after, without_iat]
            .iter()
            .map(|owner| (EraseSubject::user(owner.user_id), Some(finished)))
            .collect();
        bars.replace(&subjects, Instant::now());
        assert!(bars.refuses(before));
        assert!(!bars.refuses(after));
        assert!(bars.refuses(without_iat));
    }
}
