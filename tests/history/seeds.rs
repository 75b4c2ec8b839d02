//! Seeds that once failed, kept in `tests/history/seeds.txt` (committed) and
//! run first: a failure found once is looked for again on every run.

use std::io::Write;
use std::path::PathBuf;

fn file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/history/seeds.txt")
}

/// The stored seeds, oldest first (`#` starts a comment).
pub fn load() -> Vec<u64> {
    std::fs::read_to_string(file())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split('#').next())
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Appends `seed` with why it failed, unless it is there already.
pub fn remember(seed: u64, why: &str) {
    if load().contains(&seed) {
        return;
    }
    let line = format!("{seed} # {}\n", why.replace('\n', " "));
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file())
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// A fresh seed: HISTORY_SEED, or the clock's nanoseconds.
pub fn fresh() -> u64 {
    std::env::var("HISTORY_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}
