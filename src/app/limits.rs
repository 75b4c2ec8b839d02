//! What one user may do at once or per window, beyond the stores' own caps:
//! writes per window (creates, submits, uploads, deletes), and things in
//! progress: uploads in flight and open event streams. Every counter here is
//! bounded by the users active in one window or by the slots in use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::ids::UserId;

use super::AppError;
use crate::domain::Owner;
use crate::stores::redis::RedisDrafts;

/// Writes per window, counted in Redis so that every replica shares the
/// count; while Redis fails, in this process (degraded mode goes on, each
/// replica then counting on its own).
#[derive(Clone)]
pub struct WriteRate {
    redis: RedisDrafts,
    limit: u32,
    window: Duration,
    local: Arc<Mutex<LocalWindow>>,
}

/// A fixed window's counts, all forgotten when the window ends.
struct LocalWindow {
    started: Instant,
    counts: HashMap<UserId, u32>,
}

impl WriteRate {
    pub fn new(redis: RedisDrafts, limit: u32, window: Duration) -> Self {
        Self {
            redis,
            limit,
            window,
            local: Arc::new(Mutex::new(LocalWindow {
                started: Instant::now(),
                counts: HashMap::new(),
            })),
        }
    }

    /// Counts one write of `owner`; `RateLimited` past the limit.
    pub async fn count(&self, owner: Owner) -> Result<(), AppError> {
        let (count, left) = self.tally(owner, true).await?;
        if count > u64::from(self.limit) {
            return Err(AppError::RateLimited { retry_after: left });
        }
        Ok(())
    }

    /// Refuses (`RateLimited`) a write of `owner` whose window is spent,
    /// counting nothing: for a write that learns its cost only when it ends
    /// (a tus PATCH), then [`WriteRate::spend`]s it.
    pub async fn check(&self, owner: Owner) -> Result<(), AppError> {
        let (count, left) = self.tally(owner, false).await?;
        if count >= u64::from(self.limit) {
            return Err(AppError::RateLimited { retry_after: left });
        }
        Ok(())
    }

    /// Counts one write of `owner` that was done already: never refused.
    pub async fn spend(&self, owner: Owner) -> Result<(), AppError> {
        self.tally(owner, true).await.map(drop)
    }

    /// The count of `owner`'s writes in this window, one more if `spend`,
    /// and how long the window has left.
    async fn tally(&self, owner: Owner, spend: bool) -> Result<(u64, Duration), AppError> {
        match self
            .redis
            .count_write(owner.user_id, self.window, spend)
            .await
        {
            Ok(counted) => Ok(counted),
            Err(e) if e.is_unavailable() => Ok(self.count_here(owner.user_id, spend)),
            Err(e) => Err(e.into()),
        }
    }

    fn count_here(&self, user_id: UserId, spend: bool) -> (u64, Duration) {
        let mut window = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        if window.started.elapsed() >= self.window {
            window.started = Instant::now();
            window.counts.clear();
        }
        let left = self.window.saturating_sub(window.started.elapsed());
        if !spend {
            return (
                u64::from(window.counts.get(&user_id).copied().unwrap_or(0)),
                left,
            );
        }
        let count = window.counts.entry(user_id).or_insert(0);
        *count = count.saturating_add(1);
        (u64::from(*count), left)
    }
}

/// What a pool of [`Slots`] bounds: each kind has its own caps, gauge and
/// refusal counter, and its own problem type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// Uploads in flight (`DRAFTD_UPLOADS_PER_USER`, `DRAFTD_UPLOADS_MAX`).
    Uploads,
    /// Open event streams (`DRAFTD_EVENTS_PER_USER`, `DRAFTD_EVENTS_MAX`).
    EventStreams,
}

impl SlotKind {
    /// The gauge of slots taken now.
    fn gauge(self) -> &'static str {
        match self {
            Self::Uploads => "draftd_uploads_in_flight",
            Self::EventStreams => "draftd_event_streams_open",
        }
    }

    /// The counter of refusals, labelled `scope` = `user` or `process`.
    fn refused(self) -> &'static str {
        match self {
            Self::Uploads => "draftd_uploads_refused_total",
            Self::EventStreams => "draftd_event_streams_refused_total",
        }
    }
}

/// Things in progress (uploads in flight, open event streams), bounded per
/// user and in all.
#[derive(Clone)]
pub struct Slots {
    kind: SlotKind,
    per_user: usize,
    max: usize,
    in_use: Arc<Mutex<HashMap<UserId, usize>>>,
}

/// One slot, given back when dropped.
pub struct Slot {
    kind: SlotKind,
    user_id: UserId,
    in_use: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl Slots {
    pub fn new(kind: SlotKind, per_user: u64, max: u64) -> Self {
        Self {
            kind,
            per_user: usize::try_from(per_user).unwrap_or(usize::MAX),
            max: usize::try_from(max).unwrap_or(usize::MAX),
            in_use: Arc::default(),
        }
    }

    /// A slot for one more of `owner`'s, if the limits allow it.
    pub fn take(&self, owner: Owner) -> Result<Slot, AppError> {
        let mut in_use = self.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        let total: usize = in_use.values().sum();
        let mine = in_use.get(&owner.user_id).copied().unwrap_or(0);
        if mine >= self.per_user || total >= self.max {
            let per_user = mine >= self.per_user;
            let scope = if per_user { "user" } else { "process" };
            metrics::counter!(self.kind.refused(), "scope" => scope).increment(1);
            return Err(AppError::AtCapacity {
                kind: self.kind,
                per_user,
            });
        }
        in_use.insert(owner.user_id, mine + 1);
        metrics::gauge!(self.kind.gauge()).increment(1.0);
        Ok(Slot {
            kind: self.kind,
            user_id: owner.user_id,
            in_use: self.in_use.clone(),
        })
    }

    /// Slots taken now, in all.
    pub fn in_use(&self) -> usize {
        self.in_use
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        metrics::gauge!(self.kind.gauge()).decrement(1.0);
        let mut in_use = self.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = in_use.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                in_use.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_user_and_in_all_and_given_back() {
        let slots = Slots::new(SlotKind::Uploads, 2, 3);
        let owner = |n| Owner {
            user_id: uuid::Uuid::from_u128(n).into(),
            organization_id: uuid::Uuid::nil().into(),
            issued_at: None,
        };
        let a1 = slots.take(owner(1)).unwrap();
        let _a2 = slots.take(owner(1)).unwrap();
        assert!(matches!(
            slots.take(owner(1)),
            Err(AppError::AtCapacity {
                kind: SlotKind::Uploads,
                per_user: true
            })
        ));
        let _b1 = slots.take(owner(2)).unwrap();
        assert!(matches!(
            slots.take(owner(3)),
            Err(AppError::AtCapacity {
                kind: SlotKind::Uploads,
                per_user: false
            })
        ));
        drop(a1);
        assert_eq!(slots.in_use(), 2);
        assert!(slots.take(owner(3)).is_ok());
    }
}
