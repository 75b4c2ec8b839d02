//! What one user may do at once or per window, beyond the stores' own caps:
//! writes per window (creates, submits, uploads, deletes) and uploads in
//! flight. Every counter here is bounded by the users active in one window
//! or by the uploads in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use uuid::Uuid;

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
    counts: HashMap<Uuid, u32>,
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
        let (count, left) = match self.redis.count_write(owner.user_id, self.window).await {
            Ok(counted) => counted,
            Err(e) if e.is_unavailable() => self.count_here(owner.user_id),
            Err(e) => return Err(e.into()),
        };
        if count > u64::from(self.limit) {
            return Err(AppError::RateLimited { retry_after: left });
        }
        Ok(())
    }

    fn count_here(&self, user_id: Uuid) -> (u64, Duration) {
        let mut window = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        if window.started.elapsed() >= self.window {
            window.started = Instant::now();
            window.counts.clear();
        }
        let left = self.window.saturating_sub(window.started.elapsed());
        let count = window.counts.entry(user_id).or_insert(0);
        *count = count.saturating_add(1);
        (u64::from(*count), left)
    }
}

/// Uploads in flight, per user and in all.
#[derive(Clone)]
pub struct UploadSlots {
    per_user: usize,
    max: usize,
    in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
}

/// One upload's slot, given back when dropped.
pub struct UploadSlot {
    user_id: Uuid,
    in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl UploadSlots {
    pub fn new(per_user: usize, max: usize) -> Self {
        Self {
            per_user,
            max,
            in_flight: Arc::default(),
        }
    }

    /// A slot for one more upload of `owner`, if the limits allow it.
    pub fn take(&self, owner: Owner) -> Result<UploadSlot, AppError> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let total: usize = in_flight.values().sum();
        let mine = in_flight.get(&owner.user_id).copied().unwrap_or(0);
        if mine >= self.per_user || total >= self.max {
            return Err(AppError::TooManyUploads {
                per_user: mine >= self.per_user,
            });
        }
        in_flight.insert(owner.user_id, mine + 1);
        metrics::gauge!("draftd_uploads_in_flight").increment(1.0);
        Ok(UploadSlot {
            user_id: owner.user_id,
            in_flight: self.in_flight.clone(),
        })
    }

    /// Uploads in flight now, in all.
    pub fn in_flight(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        metrics::gauge!("draftd_uploads_in_flight").decrement(1.0);
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = in_flight.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_user_and_in_all_and_given_back() {
        let slots = UploadSlots::new(2, 3);
        let owner = |n| Owner {
            user_id: Uuid::from_u128(n),
            organization_id: Uuid::nil(),
        };
        let a1 = slots.take(owner(1)).unwrap();
        let _a2 = slots.take(owner(1)).unwrap();
        assert!(matches!(
            slots.take(owner(1)),
            Err(AppError::TooManyUploads { per_user: true })
        ));
        let _b1 = slots.take(owner(2)).unwrap();
        assert!(matches!(
            slots.take(owner(3)),
            Err(AppError::TooManyUploads { per_user: false })
        ));
        drop(a1);
        assert_eq!(slots.in_flight(), 2);
        assert!(slots.take(owner(3)).is_ok());
    }
}
