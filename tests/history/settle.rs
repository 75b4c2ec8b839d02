//! Quiescence: after the last request, every job runs until nothing is
//! pending, so that what the oracle reads is the end state, not a moment of
//! the cleanup.

use std::time::Duration;

use reqwest::Method;

use crate::client::Api;
use crate::replicas::TRASH_RETENTION_SECS;

async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.map(|r| r.get(0)).unwrap_or(-1)
}

async fn admin(api: &Api, path: &str) {
    let _ = api.send(api.admin(Method::POST, path)).await;
}

/// Waits until `sql` counts 0, at most `limit`; says whether it did.
async fn until_zero(db: &tokio_postgres::Client, sql: &str, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if count(db, sql).await == 0 {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the jobs to quiescence; returns what did not settle.
pub async fn settle(api: &Api, db: &tokio_postgres::Client) -> Vec<String> {
    let started = tokio::time::Instant::now();
    let unsettled = settle_steps(api, db).await;
    println!("settled in {:.1} s", started.elapsed().as_secs_f64());
    unsettled
}

/// A replica SIGKILLed while it held jobs leaves them leased (five minutes
/// for a cleanup job) before another replica may take them (and an erase
/// waits for its subject's jobs). The history does not wait out the lease:
/// it moves time forward for the jobs, as if the lease had ended.
async fn end_leases(db: &tokio_postgres::Client) {
    let _ = db
        .execute(
            "UPDATE jobs SET run_after = now() WHERE status = 'pending' AND run_after > now()",
            &[],
        )
        .await;
}

async fn settle_steps(api: &Api, db: &tokio_postgres::Client) -> Vec<String> {
    api.replicas.ensure_up().await;
    end_leases(db).await;
    let mut unsettled = Vec::new();
    // An erase interrupted (its replica killed, a store away) is resumed
    // by a replica at its start, or by any within a minute: restarting the
    // replicas is the operator's way to have it finish now.
    let running = "SELECT count(*) FROM erasures WHERE status = 'running'";
    if !until_zero(db, running, Duration::from_secs(10)).await {
        end_leases(db).await;
        println!("an erase is still running: restarting the replicas");
        for replica in 0..api.replicas.len() {
            api.replicas.kill(replica).await;
            api.replicas.restart(replica).await;
        }
        if !until_zero(db, running, Duration::from_secs(60)).await {
            unsettled.push("an erase still running 60 s after the replicas restarted".to_owned());
        }
    }
    // Every trashed course's retention has ended: the purge erases them all,
    // and the orphan sweep (grace 1 s) removes what crashes and cut uploads left.
    tokio::time::sleep(Duration::from_secs(TRASH_RETENTION_SECS.max(2))).await;
    for _ in 0..2 {
        end_leases(db).await;
        admin(api, "/api/v1/admin/cleanup/retry").await;
        admin(api, "/api/v1/admin/purge/run").await;
        admin(api, "/api/v1/admin/orphans/sweep").await;
        until_zero(
            db,
            "SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%' AND status = 'pending'",
            Duration::from_secs(30),
        )
        .await;
    }
    for (what, sql) in [
        (
            "cleanup jobs pending",
            "SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%' AND status = 'pending'",
        ),
        (
            "events pending",
            "SELECT count(*) FROM jobs WHERE task = 'webhook.delivery' AND status = 'pending'",
        ),
    ] {
        if !until_zero(db, sql, Duration::from_secs(30)).await {
            unsettled.push(format!("{what} after 30 s: {}", count(db, sql).await));
        }
    }
    for (what, sql) in [
        (
            "dead cleanup jobs",
            "SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%' AND status = 'dead'",
        ),
        (
            "dead events",
            "SELECT count(*) FROM jobs WHERE task = 'webhook.delivery' AND status = 'dead'",
        ),
    ] {
        let n = count(db, sql).await;
        if n != 0 {
            unsettled.push(format!("{what}: {n}"));
        }
    }
    unsettled
}
