//! The settings that are lengths of time, as durations.

use std::time::Duration;

use super::Config;
use crate::http::timed_body::BodyTimeouts;

/// Redis calls a request makes at most after its body has arrived (a new
/// draft: count the write, create it). What a request records in Postgres is
/// fenced there and needs no wait (docs/ARCHITECTURE.md, "The deletion
/// fence").
const STORE_CALLS_AFTER_BODY: u32 = 2;

impl Config {
    pub fn draft_ttl(&self) -> Duration {
        Duration::from_secs(self.draft_ttl_secs)
    }

    pub fn body_timeouts(&self) -> BodyTimeouts {
        BodyTimeouts {
            idle: Duration::from_secs(self.body_idle_timeout_secs),
            deadline: Duration::from_secs(self.body_deadline_secs),
        }
    }

    pub fn trash_retention(&self) -> Duration {
        Duration::from_secs(self.trash_retention_secs)
    }

    pub fn store_timeout(&self) -> Duration {
        Duration::from_millis(self.store_timeout_ms)
    }

    /// The longest a request can go on writing to Redis: its body's
    /// deadline, then the Redis calls it makes after the body, each under
    /// the store timeout. An erase waits this long before its last sweep.
    pub fn longest_request(&self) -> Duration {
        Duration::from_secs(self.body_deadline_secs) + self.store_timeout() * STORE_CALLS_AFTER_BODY
    }

    pub fn write_rate_window(&self) -> Duration {
        Duration::from_secs(self.write_rate_window_secs)
    }
}
