//! The CPU and the context switches of the service, Redis and this generator
//! over a window, from /proc.

use std::time::{Duration, Instant};

use crate::service::{cpu_of, Service};

/// The processes whose CPU is read from /proc.
pub(super) struct Meter<'a> {
    pub(super) service: &'a Service,
    pub(super) redis_pid: u32,
}

impl Meter<'_> {
    pub(super) fn now(&self) -> [Duration; 3] {
        [
            self.service.cpu(),
            cpu_of(self.redis_pid),
            cpu_of(std::process::id()),
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
        let (start, before, switched) = (Instant::now(), self.now(), self.switches());
        let out = work.await;
        let (after, switches) = (self.now(), self.switches());
        let wall = start.elapsed().as_secs_f64().max(1e-3);
        let used = [0, 1, 2].map(|k| after[k].saturating_sub(before[k]).as_secs_f64() / wall);
        let rate = [0, 1].map(|k| switches[k].saturating_sub(switched[k]) as f64 / wall);
        (out, used, rate, wall)
    }
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
