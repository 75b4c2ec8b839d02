//! What a run did and found, for the console and for docs/soak.md.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::history::{Answer, Call, Effect};
use crate::oracle::{Complaint, Kind, ReasonKey};

/// An operation's kind: its method and route, ids left out.
pub fn op_kind(call: &Call) -> String {
    let mut words = call.label.split(' ');
    let method = words.next().unwrap_or_default();
    let path = words.next().unwrap_or_default();
    let route: Vec<&str> = path
        .split('?')
        .next()
        .unwrap_or_default()
        .split('/')
        .map(|seg| {
            if seg.parse::<uuid::Uuid>().is_ok() {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    match &call.effect {
        Effect::Fault => "fault".into(),
        Effect::Erase { dry_run: true, .. } => format!("{method} {} (dry run)", route.join("/")),
        _ if path.contains("permanent=true") => {
            format!("{method} {}?permanent=true", route.join("/"))
        }
        _ => format!("{method} {}", route.join("/")),
    }
}

pub fn ops_by_kind(calls: &[Call]) -> BTreeMap<String, (usize, usize, usize)> {
    let mut kinds: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for call in calls {
        let entry = kinds.entry(op_kind(call)).or_default();
        entry.0 += 1;
        if call.answer.ok() {
            entry.1 += 1;
        }
        if call.answer.undecided() {
            entry.2 += 1;
        }
    }
    kinds
}

/// The cases 1-3: a late write revived what a discard, a permanent
/// delete or a user erase had acknowledged deleting.
pub fn cases(complaints: &[Complaint]) -> [usize; 3] {
    let mut found = [0; 3];
    for c in complaints {
        match c.kind {
            Kind::Revived(ReasonKey::Discard) => found[0] += 1,
            Kind::Revived(ReasonKey::DeleteForever) => found[1] += 1,
            Kind::Revived(ReasonKey::EraseUser) => found[2] += 1,
            _ => {}
        }
    }
    found
}

pub fn summary(seed: u64, calls: &[Call], complaints: &[Complaint]) -> String {
    let mut out = String::new();
    let undecided = calls.iter().filter(|c| c.answer.undecided()).count();
    let timed_out = calls
        .iter()
        .filter(|c| c.answer == Answer::TimedOut)
        .count();
    let faults = calls
        .iter()
        .filter(|c| matches!(c.effect, Effect::Fault))
        .count();
    let _ = writeln!(
        out,
        "seed {seed}: {} requests ({undecided} undecided, {timed_out} timed out), {faults} faults, {} complaints",
        calls.len(),
        complaints.len()
    );
    let mut by_kind: BTreeMap<Kind, usize> = BTreeMap::new();
    for c in complaints {
        *by_kind.entry(c.kind).or_default() += 1;
    }
    for (kind, n) in by_kind {
        let _ = writeln!(out, "  {n:>4} x {kind:?}");
    }
    let [discard, delete, erase] = cases(complaints);
    let _ = writeln!(
        out,
        "  cases: 1 (after discard) {discard}, 2 (after permanent delete) {delete}, 3 (after user erase) {erase}"
    );
    out
}

/// The calls a complaint is about, and the faults: the history to read first.
pub fn history_excerpt(calls: &[Call], limit: usize) -> String {
    let mut out = String::new();
    let start = calls.len().saturating_sub(limit);
    if start > 0 {
        let _ = writeln!(out, "  … {start} earlier calls");
    }
    for call in &calls[start..] {
        let _ = writeln!(out, "  {call}");
    }
    out
}
