//! `make soak`: a phase with faults, then a phase without kills that samples
//! the replicas' memory, open files and Postgres connections; both checked
//! by the oracle; the report goes to docs/soak.md.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use crate::plan::Plan;
use crate::report::ops_by_kind;
use crate::run::{run, Outcome};
use crate::soak::{slopes, EVERY};
use crate::storage::StorageKind;

pub async fn soak(seconds: u64) {
    let half = (seconds / 2).max(30);
    let seed = crate::seeds::fresh();
    println!("soak: seed {seed}, {half} s with faults, then {half} s without kills, sampled");
    let with_faults = run(
        &Plan::generate(seed, half, true),
        Some(Duration::from_secs(half)),
        false,
    )
    .await;
    println!(
        "{}",
        crate::report::summary(seed, &with_faults.calls, &with_faults.complaints)
    );
    let quiet_seed = seed.wrapping_add(1);
    let quiet = run(
        &Plan::generate(quiet_seed, half, false),
        Some(Duration::from_secs(half)),
        true,
    )
    .await;
    println!(
        "{}",
        crate::report::summary(quiet_seed, &quiet.calls, &quiet.complaints)
    );
    let doc = document(seed, seconds, &with_faults, &quiet);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/soak.md");
    std::fs::write(&path, doc).expect("write docs/soak.md");
    println!("wrote {}", path.display());
    let mut complaints: Vec<_> = with_faults
        .complaints
        .iter()
        .chain(&quiet.complaints)
        .collect();
    complaints.sort_by_key(|c| c.kind);
    assert!(
        complaints.is_empty(),
        "the soak found {} complaints, first: {}",
        complaints.len(),
        complaints[0]
    );
}

/// The commit the soak ran on, and whether src/ had changes.
fn revision() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let dirty = !git(&["status", "--porcelain", "--", "src", "migrations"]).is_empty();
    format!(
        "{}{}",
        git(&["log", "-1", "--format=%h %s"]),
        if dirty {
            " (with uncommitted changes to src/)"
        } else {
            ""
        }
    )
}

fn document(seed: u64, seconds: u64, faulty: &Outcome, quiet: &Outcome) -> String {
    let mut d = String::new();
    let _ = writeln!(d, "# Soak\n");
    let _ = writeln!(
        d,
        "Written by `make soak` (`SOAK_SECONDS={seconds}`, seed {seed}): the history test \
         (tests/history) run for half the time with faults injected, then half without kills, \
         sampled every {} s. The two phases' seeds differ by one, so one stores files in a \
         directory and the other on an S3-protocol server. Each phase ends with the jobs run to quiescence and the oracle's checks.\n",
        EVERY.as_secs()
    );
    let _ = writeln!(d, "Code: `{}`.\n", revision());
    let phases = [
        ("with faults", faulty, seed),
        ("without kills", quiet, seed.wrapping_add(1)),
    ];
    for (name, outcome, seed) in phases {
        let storage = StorageKind::of_seed(seed);
        let _ = writeln!(d, "## Phase {name} (files on {storage:?})\n");
        let _ = writeln!(
            d,
            "| operation | sent | 2xx | undecided |\n|---|---:|---:|---:|"
        );
        let kinds: BTreeMap<_, _> = ops_by_kind(&outcome.calls);
        for (kind, (n, ok, undecided)) in &kinds {
            let _ = writeln!(d, "| `{kind}` | {n} | {ok} | {undecided} |");
        }
        let faults: Vec<_> = outcome
            .calls
            .iter()
            .filter(|c| matches!(c.effect, crate::history::Effect::Fault))
            .map(|c| c.label.clone())
            .collect();
        let _ = writeln!(d, "\nFaults injected: {}.", faults.len());
        for f in faults {
            let _ = writeln!(d, "- {f}");
        }
        let _ = writeln!(d, "\n| check | things checked |\n|---|---:|");
        for (check, n) in &outcome.checked {
            let _ = writeln!(d, "| {check} | {n} |");
        }
        let _ = writeln!(d, "\nComplaints: {}.", outcome.complaints.len());
        for c in outcome.complaints.iter().take(20) {
            let _ = writeln!(d, "- {c}");
        }
        let _ = writeln!(d);
    }
    let _ = writeln!(d, "## Slopes after warm-up (phase without kills)\n");
    let _ = writeln!(
        d,
        "Least-squares slopes over the samples after the first third of the phase \
         ({} samples in all).\n",
        quiet.samples.len()
    );
    let _ = writeln!(d, "| replica | RSS first → last (KiB) | RSS KiB/h | open files /h | Postgres connections /h |");
    let _ = writeln!(d, "|---|---|---:|---:|---:|");
    for (replica, rss, fds, conns, first, last) in slopes(&quiet.samples) {
        let _ = writeln!(
            d,
            "| {replica} | {first:.0} → {last:.0} | {rss:.0} | {fds:.1} | {conns:.1} |"
        );
    }
    d
}
