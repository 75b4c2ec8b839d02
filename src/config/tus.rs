//! Resumable (tus) uploads: `DRAFTD_TUS_*` and what one user may hold reserved.

use std::time::Duration;

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct TusConfig {
    /// A tus PATCH storing at least this many bytes, or finishing its upload,
    /// is not counted as a write; every other PATCH, and every refused one,
    /// is (`DRAFTD_WRITE_RATE_LIMIT`): a client sending chunks under it is
    /// rate-limited.
    #[arg(long = "tus-free-bytes", env = "DRAFTD_TUS_FREE_BYTES", default_value_t = 1_048_576,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub free_bytes: u64,

    /// Bytes one user may hold reserved by unfinished uploads and not yet
    /// sent (their sizes less their offsets); a creation that would pass it
    /// is a 409 `quota-exceeded`.
    #[arg(long = "reserved-bytes-per-user", env = "DRAFTD_RESERVED_BYTES_PER_USER",
          default_value_t = 1_073_741_824, value_parser = clap::value_parser!(i64).range(1..))]
    pub reserved_bytes_per_user: i64,

    /// An unfinished upload storing nothing this long, in seconds, expires
    /// (if its draft's TTL has not ended it first), releasing its reservation;
    /// only stored bytes move this clock. Longer than DRAFTD_BODY_DEADLINE_SECS,
    /// or a slow PATCH may outlive its upload.
    #[arg(long = "tus-idle-secs", env = "DRAFTD_TUS_IDLE_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_secs: u64,
}

impl TusConfig {
    pub fn idle(&self) -> Duration {
        Duration::from_secs(self.idle_secs)
    }
}
