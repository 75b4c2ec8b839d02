//! Resumable (tus) uploads: `DRAFTD_TUS_*` and what one user may hold reserved.

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
}
