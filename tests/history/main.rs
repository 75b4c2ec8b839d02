//! The randomized history test of issue 23: concurrent actors against two
//! real replicas, faults injected, every request recorded, then an oracle
//! that checks every store against what the history allows.
//!
//! Not part of `cargo test --all-targets` (Cargo.toml: `test = false`); its
//! own `make test` stage runs it through scripts/history.sh, which gives it a
//! Postgres server of its own. Environment:
//! - HISTORY_SEED: replay one seed (stored seeds are then skipped);
//! - HISTORY_SECONDS: history time of a fresh seed (default 50);
//! - HISTORY_SHRINK_SECONDS: time allowed for shrinking a failure (default 60);
//! - SOAK_SECONDS: run the soak instead (`make soak`) and write docs/soak.md;
//! - HISTORY_POSTGRES_URL: its Postgres server (without a database name).
//!
//! Files go to a directory of the run's own (even seeds) or to an S3-protocol
//! server of its own (odd seeds): storage.rs.
//!
//! Out of the run, on purpose: TTL expiry (drafts live 24 h, longer than any
//! run); the quota limits (the quota accounting is checked). Degraded mode
//! happens only around a Redis restart, and a draft made then is checked
//! like any other (through the API, which reads both stores).

mod actors;
mod admin;
mod body;
mod client;
mod facts;
mod faults;
mod history;
mod oracle;
mod people;
mod plan;
mod races;
// The API tests' webhook receiver; this test uses only part of it.
#[allow(dead_code)]
#[path = "../api/receiver.rs"]
mod receiver;
mod replicas;
mod report;
mod rng;
mod run;
mod seeds;
mod servers;
mod settle;
mod shrink;
mod snapshot;
mod soak;
mod soak_report;
mod storage;
mod tus;

use std::time::Duration;

use crate::plan::Plan;
use crate::run::{run, Outcome};

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// Stored seeds run first, briefly each; at most this many, newest first.
const STORED_SEEDS: usize = 2;
const STORED_SECONDS: u64 = 15;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_hold_against_deletions_in_flight() {
    if let Ok(soak) = std::env::var("SOAK_SECONDS") {
        soak_report::soak(soak.trim().parse().unwrap_or(1200)).await;
        return;
    }
    let replay = std::env::var("HISTORY_SEED").is_ok();
    if !replay {
        let stored = seeds::load();
        for &seed in stored.iter().rev().take(STORED_SEEDS) {
            check(seed, STORED_SECONDS, false).await;
        }
    }
    check(seeds::fresh(), env_secs("HISTORY_SECONDS", 50), true).await;
}

/// Runs one seed; on a failure shrinks it (when `shrink`), remembers the
/// seed and fails the test with the seed, the history and the complaints.
async fn check(seed: u64, seconds: u64, shrink: bool) {
    let plan = Plan::generate(seed, seconds, true);
    println!(
        "history: seed {seed}, {seconds} s, files on {:?} (replay: HISTORY_SEED={seed})",
        plan.storage
    );
    let outcome = run(&plan, Some(Duration::from_secs(seconds)), false).await;
    println!(
        "{}",
        report::summary(seed, &outcome.calls, &outcome.complaints)
    );
    // The most telling complaint first: a revival before a leftover, …
    let Some(first) = outcome.complaints.iter().min_by_key(|c| c.kind).cloned() else {
        return;
    };
    seeds::remember(
        seed,
        &first.to_string().chars().take(120).collect::<String>(),
    );
    let mut shown: Outcome = outcome;
    let mut steps = shown.executed.len();
    if shrink {
        let budget = Duration::from_secs(env_secs("HISTORY_SHRINK_SECONDS", 60));
        println!(
            "shrinking ({} steps, {} s at most)…",
            steps,
            budget.as_secs()
        );
        let (smaller, found) = shrink::shrink(&plan, &shown, first.kind, budget).await;
        if let Some(found) = found {
            steps = smaller.steps.len();
            shown = found;
        }
    }
    let complaint = shown
        .complaints
        .iter()
        .find(|c| c.kind == first.kind)
        .unwrap_or(&first);
    let about = complaint
        .text
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|w| w.parse::<uuid::Uuid>().is_ok());
    let relevant: Vec<_> = shown
        .calls
        .iter()
        .filter(|c| {
            about.is_some_and(|id| c.label.contains(id))
                || matches!(
                    c.effect,
                    history::Effect::Fault | history::Effect::Erase { dry_run: false, .. }
                )
        })
        .cloned()
        .collect();
    let mut complaints = String::new();
    let mut sorted = shown.complaints.clone();
    sorted.sort_by_key(|c| c.kind);
    for c in sorted.iter().take(15) {
        complaints.push_str(&format!("  {c}\n"));
    }
    panic!(
        "seed {seed} breaks a promise ({} complaints; shrunk to {steps} steps). Replay: HISTORY_SEED={seed}\n\
         complaints:\n{complaints}history of {} (with erases and faults):\n{}replica logs: {}",
        shown.complaints.len(),
        about.unwrap_or("the first complaint"),
        report::history_excerpt(&relevant, 60),
        shown.logs.as_deref().unwrap_or("-"),
    );
}
