//! Shrinking a failure: the seed fixes the plan, not the server's
//! interleavings, so each smaller candidate (the run's steps with a half,
//! then a quarter, … left out) is run a few times, and kept if one of its
//! runs breaks the same promise.

use std::time::{Duration, Instant};

use crate::oracle::Kind;
use crate::plan::Plan;
use crate::run::{run, Outcome};

/// Runs per candidate: a race that lost once may win the next time.
const TRIES: usize = 2;

pub async fn shrink(
    plan: &Plan,
    failed: &Outcome,
    kind: Kind,
    budget: Duration,
) -> (Plan, Option<Outcome>) {
    let started = Instant::now();
    let mut best = Plan {
        seed: plan.seed,
        steps: failed
            .executed
            .iter()
            .map(|&i| plan.steps[i].clone())
            .collect(),
        faults: plan.faults,
        storage: plan.storage,
    };
    let mut best_outcome = None;
    let mut chunk = best.steps.len() / 2;
    while chunk > 0 && started.elapsed() < budget {
        let mut at = 0;
        let mut shrunk = false;
        while at < best.steps.len() && started.elapsed() < budget {
            let mut candidate = best.clone();
            let end = (at + chunk).min(candidate.steps.len());
            candidate.steps.drain(at..end);
            if let Some(outcome) = fails_alike(&candidate, kind).await {
                println!("  shrunk to {} steps", candidate.steps.len());
                best = candidate;
                best_outcome = Some(outcome);
                shrunk = true;
            } else {
                at += chunk;
            }
        }
        if !shrunk {
            chunk /= 2;
        }
    }
    (best, best_outcome)
}

async fn fails_alike(candidate: &Plan, kind: Kind) -> Option<Outcome> {
    for _ in 0..TRIES {
        let outcome = run(candidate, None, false).await;
        if outcome.complaints.iter().any(|c| c.kind == kind) {
            return Some(outcome);
        }
    }
    None
}
