//! The soak's measurements: every 10 s, each replica's resident memory and
//! open files (from /proc) and the run database's Postgres connections, and
//! their slopes after warm-up (a leak shows as a slope that does not flatten).

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::replicas::Replicas;

pub const EVERY: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct Sample {
    pub at_secs: f64,
    pub replica: usize,
    pub rss_kib: f64,
    pub fds: f64,
    pub pg_connections: f64,
}

pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    pub fn start(replicas: Replicas, database_url: String) -> Sampler {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
                .await
                .expect("postgres for sampling");
            tokio::spawn(connection);
            let name = database_url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let started = tokio::time::Instant::now();
            let mut samples = Vec::new();
            loop {
                let pg_connections: i64 = db
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                        &[&name],
                    )
                    .await
                    .map(|r| r.get(0))
                    .unwrap_or(-1);
                for replica in 0..replicas.len() {
                    let Some(pid) = replicas.pid(replica) else {
                        continue;
                    };
                    samples.push(Sample {
                        at_secs: started.elapsed().as_secs_f64(),
                        replica,
                        rss_kib: rss_kib(pid),
                        fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
                            .map_or(-1.0, |d| d.count() as f64),
                        pg_connections: pg_connections as f64,
                    });
                }
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tokio::time::sleep(EVERY) => {}
                }
            }
            samples
        });
        Sampler { stop, task }
    }

    pub async fn stop(self) -> Vec<Sample> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

fn rss_kib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(-1.0)
}

/// Least-squares slope of `y` over `x`, per hour.
pub fn slope_per_hour(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let num: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let den: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if den == 0.0 {
        0.0
    } else {
        num / den * 3600.0
    }
}

/// The slopes after warm-up (the first third of the phase), per replica:
/// (replica, RSS KiB/h, fds/h, connections/h, first and last RSS).
pub fn slopes(samples: &[Sample]) -> Vec<(usize, f64, f64, f64, f64, f64)> {
    let end = samples.iter().map(|s| s.at_secs).fold(0.0, f64::max);
    let warm = end / 3.0;
    let mut out = Vec::new();
    for replica in 0..2 {
        let mine: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.replica == replica && s.at_secs >= warm)
            .collect();
        let line = |f: fn(&Sample) -> f64| -> Vec<(f64, f64)> {
            mine.iter().map(|s| (s.at_secs, f(s))).collect()
        };
        out.push((
            replica,
            slope_per_hour(&line(|s| s.rss_kib)),
            slope_per_hour(&line(|s| s.fds)),
            slope_per_hour(&line(|s| s.pg_connections)),
            mine.first().map_or(0.0, |s| s.rss_kib),
            mine.last().map_or(0.0, |s| s.rss_kib),
        ));
    }
    out
}
