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
    fn pids(&self) -> [u32; 3] {
        [
            self.service.pid().unwrap_or(0),
            self.redis_pid,
            std::process::id(),
        ]
    }

    /// Context switches so far, of the service's threads and of Redis's.
    pub(super) fn switches(&self) -> [u64; 2] {
        [
            self.service.pid().map_or(0, switches_of),
            switches_of(self.redis_pid),
        ]
    }

    /// Runs `work` and returns the cores each process used meanwhile, the
    /// switches a second of the service and Redis, and the wall time.
    pub(super) async fn around<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> (T, [f64; 3], [f64; 2], f64) {
        let start = Instant::now();
        let (before, switched) = (self.pids().map(threads_cpu), self.switches());
        let out = work.await;
        let (after, switches) = (self.pids().map(threads_cpu), self.switches());
        let wall = start.elapsed().as_secs_f64().max(1e-3);
        let used = [0, 1, 2].map(|k| {
            let ns: u64 = (after[k].iter())
                .map(|(tid, ns)| ns.saturating_sub(before[k].get(tid).copied().unwrap_or(0)))
                .sum();
            ns as f64 / 1e9 / wall
        });
        let rate = [0, 1].map(|k| switches[k].saturating_sub(switched[k]) as f64 / wall);
        (out, used, rate, wall)
    }
}

/// The CPU time so far of each thread of process `pid`, in nanoseconds,
/// from the scheduler's own count (`schedstat`): `/proc/<pid>/stat` counts
/// 10 ms ticks, more than a process near idle uses in a second. A thread that ends within a window takes its time in the window with it
/// (the runtime's blocking threads, after 10 s idle).
fn threads_cpu(pid: u32) -> HashMap<u32, u64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return HashMap::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            Some((tid, stat.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

/// Voluntary and involuntary context switches so far of every thread of
/// process `pid`, from /proc.
fn switches_of(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.ends_with("ctxt_switches")
                        .then(|| value.trim().parse::<u64>().ok())?
                })
                .collect::<Vec<_>>()
        })
        .sum()
}
