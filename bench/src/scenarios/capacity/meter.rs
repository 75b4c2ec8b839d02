//! The CPU and the context switches of the service, Redis and this generator
//! over a window, from /proc.

use std::collections::HashMap;
use std::time::Instant;

use crate::service::Service;

/// The processes whose CPU is read from /proc.
pub(super) struct Meter<'a> {
    pub(super) service: &'a Service,
    pub(super) redis_pid: u32,
}

impl Meter<'_> {
    /// The service's, Redis's and this generator's.
    fn pids(&self) -> [u32; 3] {
        [
            self.service.pid().unwrap_or(0),
            self.redis_pid,
            std::process::id(),
        ]
    }

    /// Runs `work` and returns the cores each process used meanwhile, the
    /// switches a second of the service and Redis, and the wall time.
    pub(super) async fn around<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> (T, [f64; 3], [f64; 2], f64) {
        let start = Instant::now();
        let before = self.pids().map(threads);
        let out = work.await;
        let after = self.pids().map(threads);
        let wall = start.elapsed().as_secs_f64().max(1e-3);
        let used = [0, 1, 2].map(|k| since(&before[k], &after[k]));
        let cores = used.map(|u| u.ns as f64 / 1e9 / wall);
        let switches = [0, 1].map(|k| used[k].switches as f64 / wall);
        (out, cores, switches, wall)
    }
}

/// What a thread has used so far.
#[derive(Clone, Copy, Default)]
struct Used {
    /// CPU, from the scheduler's own count (`schedstat`): `/proc/<pid>/stat`
    /// counts 10 ms ticks, more than a process near idle uses in a second.
    ns: u64,
    /// Voluntary and involuntary context switches.
    switches: u64,
}

/// Each thread of process `pid`, by id.
fn threads(pid: u32) -> HashMap<u32, Used> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return HashMap::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse().ok()?;
            let schedstat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            let switches = (status.lines())
                .filter_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.ends_with("ctxt_switches")
                        .then(|| value.trim().parse::<u64>().ok())?
                })
                .sum();
            let ns = schedstat.split_whitespace().next()?.parse().ok()?;
            Some((tid, Used { ns, switches }))
        })
        .collect()
}

/// What the threads used between two readings, thread by thread: a thread
/// that ended between them takes its use in the window with it (the
/// runtime's blocking threads end after 10 s idle), and one that began
/// counts from nothing.
fn since(before: &HashMap<u32, Used>, after: &HashMap<u32, Used>) -> Used {
    after.iter().fold(Used::default(), |sum, (tid, now)| {
        let then = before.get(tid).copied().unwrap_or_default();
        Used {
            ns: sum.ns + now.ns.saturating_sub(then.ns),
            switches: sum.switches + now.switches.saturating_sub(then.switches),
        }
    })
}
