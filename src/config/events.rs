//! Draft event streams: `DRAFTD_EVENTS_*`.

use std::time::Duration;

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct EventsConfig {
    /// Event streams one user may have open at once (429 past it).
    #[arg(long = "events-per-user", env = "DRAFTD_EVENTS_PER_USER", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub per_user: u64,

    /// Event streams open at once in the whole process (429 past it).
    #[arg(long = "events-max", env = "DRAFTD_EVENTS_MAX", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max: u64,

    /// Seconds between two heartbeats (`: keep-alive` comments) of an event
    /// stream, so that proxies and clients see it alive.
    #[arg(long = "events-heartbeat-secs", env = "DRAFTD_EVENTS_HEARTBEAT_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_secs: u64,
}

impl EventsConfig {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs)
    }
}
