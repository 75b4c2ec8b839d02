//! Benchmark 5: the janitor on a large table, with and without its partial index.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use draftd::stores::postgres::janitor::JANITOR_CANDIDATES;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{autosave, client, select_i64, typists, AUTOSAVE_INTERVAL, CONNECTIONS};
use crate::connections::Connections;
use crate::load::{open_loop, open_loop_while};
use crate::service::{connect, fresh_database, service_token, Service};

/// Fills `courses` with `total` rows of which `stale` are stale unused drafts.
async fn fill_courses(db: &tokio_postgres::Client, total: i64, stale: i64) -> anyhow::Result<()> {
    db.batch_execute("TRUNCATE courses CASCADE; TRUNCATE cleanup_jobs; TRUNCATE jobs CASCADE")
        .await?;
    // Every tenth row an unused draft (stale for the first `stale` of them),
    // every tenth plus one a draft in generation, the rest submitted.
    db.execute(
        "INSERT INTO courses (id, draft_session_id, owner_id, organization_id, slug, title,
                              status, generation_status, updated_at, created_at)
         SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
                '00000000-0000-4000-8000-0000000000a1', 'course-' || i, 'Course ' || i,
                CASE WHEN i % 10 IN (0, 1) THEN 'draft' ELSE 'submitted' END,
                CASE WHEN i % 10 = 1 THEN 'completed' END,
                CASE WHEN i % 10 = 0 AND i / 10 < $2::bigint THEN now() - interval '3 days' - make_interval(secs => i::int)
                     ELSE now() - make_interval(mins => (i % 600)::int) END,
                now() - interval '30 days'
         FROM generate_series(0, $1::bigint - 1) AS i",
        &[&total, &stale],
    )
    .await?;
    db.batch_execute("VACUUM ANALYZE courses").await?;
    Ok(())
}

/// The janitor's batch size, for the service and for the candidate query's `EXPLAIN`.
const BATCH_SIZE: i64 = 500;
/// The service's draft TTL (its default): the janitor's cutoff is this long ago.
const DRAFT_TTL: Duration = Duration::from_secs(86_400);

/// Benchmark 5: The janitor on a large table, with and without the partial index, while
/// the service keeps answering autosaves.
pub async fn janitor_at_scale(quick: bool) -> anyhow::Result<String> {
    let (total, stale) = if quick {
        (100_000i64, 10_000i64)
    } else {
        (1_000_000, 100_000)
    };
    let url = fresh_database("draftd_bench_janitor").await?;
    let batch_size = BATCH_SIZE.to_string();
    let service = Service::start(&url, &[("DRAFTD_JANITOR_BATCH_SIZE", &batch_size)]).await?;
    let db = connect(&url).await?;
    let http = client();
    let connections = Arc::new(Connections::new(&service.address(), CONNECTIONS)?);
    let admin = service_token();
    let typist_count = 600; // 200 autosaves per second
    let crowd = typists(&service, typist_count).await?;

    let mut doc = String::from("## 5. The janitor at scale\n\n");
    writeln!(
        doc,
        "{total} course rows, of which {stale} are stale unused drafts (every draft has an expired \
         draft session, so each is checked in Redis too), deleted in batches of 500. Meanwhile {typist_count} \
         typists autosave (200 req/s, open loop); their p99 while the janitor runs is set beside their p99 \
         in a window of the same length right after, with the janitor idle.\n\n\
         | index | janitor s | rows/s | candidate query ms (first batch) | autosave p99 ms, janitor idle | autosave p99 ms, janitor running |\n|---|---|---|---|---|---|"
    )?;
    let mut sizes = String::new();
    let mut plans = String::new();
    for with_index in [true, false] {
        fill_courses(&db, total, stale).await?;
        if with_index {
            let partial =
                select_i64(&db, "SELECT pg_relation_size('courses_unused_drafts_idx')").await?;
            db.batch_execute("CREATE INDEX courses_full_bench_idx ON courses (updated_at, id)")
                .await?;
            let full = select_i64(&db, "SELECT pg_relation_size('courses_full_bench_idx')").await?;
            db.batch_execute("DROP INDEX courses_full_bench_idx")
                .await?;
            writeln!(
                sizes,
                "The partial index is {:.1} MiB; a full index on the same columns would be {:.1} MiB ({:.0}x).\n",
                partial as f64 / 1048576.0,
                full as f64 / 1048576.0,
                full as f64 / partial.max(1) as f64
            )?;
        } else {
            db.batch_execute("DROP INDEX courses_unused_drafts_idx; ANALYZE courses")
                .await?;
        }
        // The service's own candidate query, bound as its first batch binds it:
        // everything older than the TTL, from the start of the keyset.
        let cutoff = SystemTime::now() - DRAFT_TTL;
        let (after_time, after_id) = (SystemTime::UNIX_EPOCH, Uuid::nil());
        let first_batch: [&(dyn ToSql + Sync); 4] = [&cutoff, &after_time, &after_id, &BATCH_SIZE];
        let plan: Value = db
            .query_one(
                &format!("EXPLAIN (ANALYZE, FORMAT JSON) {}", *JANITOR_CANDIDATES),
                &first_batch,
            )
            .await?
            .get(0);
        let text_plan: Vec<String> = db
            .query(
                &format!("EXPLAIN (ANALYZE, COSTS OFF) {}", *JANITOR_CANDIDATES),
                &first_batch,
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        writeln!(
            plans,
            "{}:\n\n```\n{}\n```\n",
            if with_index {
                "With the partial index"
            } else {
                "Without it"
            },
            text_plan.join("\n")
        )?;
        let query_ms = plan[0]["Execution Time"].as_f64().unwrap_or_default();
        let node = plan[0]["Plan"]["Plans"][0]["Node Type"]
            .as_str()
            .unwrap_or_default()
            .to_owned();

        let running = Arc::new(AtomicBool::new(true));
        let load = tokio::spawn({
            let (crowd, connections, running) =
                (crowd.clone(), connections.clone(), running.clone());
            async move {
                open_loop_while(
                    typist_count,
                    AUTOSAVE_INTERVAL,
                    |_| running.load(Ordering::Relaxed),
                    |i| autosave(&connections, &crowd[i], i),
                )
                .await
            }
        });
        let started = Instant::now();
        let report: Value = http
            .post(format!("{}/api/v1/admin/janitor/run", service.base))
            .bearer_auth(&admin)
            .timeout(Duration::from_secs(600))
            .send()
            .await?
            .json()
            .await?;
        let took = started.elapsed();
        running.store(false, Ordering::Relaxed);
        let during = load.await?;
        // The same load with the janitor idle, for comparison.
        let idle = open_loop(
            typist_count,
            AUTOSAVE_INTERVAL,
            took.max(Duration::from_secs(3)),
            |i| autosave(&connections, &crowd[i], i),
        )
        .await;
        let deleted = report["deleted"].as_f64().unwrap_or_default();
        writeln!(
            doc,
            "| {} | {:.2} | {:.0} | {query_ms:.2} ({node}) | {:.2} | {:.2} |",
            if with_index {
                "partial (updated_at, id)"
            } else {
                "none"
            },
            took.as_secs_f64(),
            deleted / took.as_secs_f64(),
            idle.ms(99.0),
            during.ms(99.0),
        )?;
        eprintln!(
            "  index {with_index}: {deleted} deleted in {:.2} s",
            took.as_secs_f64()
        );
    }
    doc.push('\n');
    doc.push_str(&sizes);
    writeln!(
        doc,
        "The candidate query of the first batch, `EXPLAIN ANALYZE`:\n"
    )?;
    doc.push_str(&plans);
    service.stop().await;
    Ok(doc)
}
