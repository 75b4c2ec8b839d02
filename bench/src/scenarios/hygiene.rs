//! Benchmark 5: the hygiene simulation.

use std::fmt::Write as _;
use std::time::Duration;

use deadpool_redis::redis;
use draftd::stores::redis::keys::draft_key;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{client, select_i64, upload};
use crate::service::{connect, fresh_database, new_user, service_token, Service, REDIS_URL};

/// Benchmark 5: The product's purpose, simulated: 10,000 form visits, then past the TTL.
pub async fn hygiene(quick: bool) -> anyhow::Result<String> {
    let visits = if quick { 1000 } else { 10_000 };
    let url = fresh_database("draftd_bench_hygiene").await?;
    let ttl_secs = 3;
    let service = Service::start(
        &url,
        &[
            ("DRAFTD_DRAFT_TTL_SECS", "3"),
            ("DRAFTD_CLEANUP_POLL_MS", "100"),
        ],
    )
    .await?;
    let db = connect(&url).await?;
    let http = client();
    let org = Uuid::new_v4();
    let base = service.base.clone();

    // 60% leave at once, 20% upload a file then leave, 20% submit.
    let outcomes = stream::iter(0..visits)
        .map(|i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let (user, token) = new_user(org);
                let draft: Value = http
                    .post(format!("{base}/api/v1/drafts"))
                    .bearer_auth(&token)
                    .send()
                    .await?
                    .json()
                    .await?;
                let id = draft["id"].as_str().unwrap_or_default().to_owned();
                let url = format!("{base}/api/v1/drafts/{id}");
                match i % 10 {
                    6 | 7 => {
                        anyhow::ensure!(
                            upload(&http, &url, &token, b"an outline".to_vec()).await,
                            "upload failed"
                        );
                    }
                    8 | 9 => {
                        http.patch(&url)
                            .bearer_auth(&token)
                            .header("content-type", "application/merge-patch+json")
                            .body(json!({"formData": {"topic": format!("Course {i}")}}).to_string())
                            .send()
                            .await?;
                        let submitted = http
                            .post(format!("{url}/submit"))
                            .bearer_auth(&token)
                            .send()
                            .await?;
                        anyhow::ensure!(submitted.status().is_success(), "submit failed");
                    }
                    _ => {}
                }
                anyhow::Ok((user, id))
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let drafts: Vec<(Uuid, String)> = outcomes.into_iter().collect::<Result<_, _>>()?;
    let rows_before = select_i64(&db, "SELECT count(*) FROM courses").await?;

    // Past the TTL: wait until Redis has expired every draft.
    let redis = deadpool_redis::Config::from_url(REDIS_URL)
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let mut conn = redis.get().await?;
    tokio::time::sleep(Duration::from_secs(ttl_secs)).await;
    while live_drafts(&mut conn, &drafts).await? > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report: Value = http
        .post(format!("{base}/api/v1/admin/janitor/run"))
        .bearer_auth(service_token())
        .send()
        .await?
        .json()
        .await?;
    let pending = "SELECT count(*) FROM cleanup_jobs WHERE status = 'pending'";
    while select_i64(&db, pending).await? > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows_after = select_i64(&db, "SELECT count(*) FROM courses").await?;
    let submitted = select_i64(
        &db,
        "SELECT count(*) FROM courses WHERE status = 'submitted'",
    )
    .await?;
    let files = count_files(&service.upload_dir);
    let keys_left = live_drafts(&mut conn, &drafts).await?;
    let dead = select_i64(
        &db,
        "SELECT count(*) FROM cleanup_jobs WHERE status = 'dead'",
    )
    .await?;
    service.stop().await;

    let old_garbage = (visits as i64 - submitted) as f64 / visits as f64 * 100.0;
    let before_garbage = (rows_before - submitted) as f64 / rows_before.max(1) as f64 * 100.0;
    let after_garbage = (rows_after - submitted) as f64 / rows_after.max(1) as f64 * 100.0;
    let mut doc = String::from("## 5. The hygiene simulation\n\n");
    writeln!(
        doc,
        "{visits} visits of the form: 60% leave at once, 20% upload a file and leave, 20% fill in a topic \
         and submit. Then time passes the TTL (the service runs with a {ttl_secs} s TTL; the run waits until \
         Redis has expired every draft), the janitor runs (it deleted {} courses) and the cleanup worker \
         finishes ({dead} jobs dead).\n\n\
         | | course rows | of which garbage (never submitted) | files stored | Redis draft keys |\n|---|---|---|---|---|\n\
         | old design: a row per visit | {visits} | {:.0}% | | |\n\
         | draftd, before the janitor | {rows_before} | {before_garbage:.0}% | | |\n\
         | draftd, after janitor and cleanup | {rows_after} | {after_garbage:.0}% | {files} | {keys_left} |\n",
        report["deleted"], old_garbage,
    )?;
    writeln!(doc, "\nWhat is left is the {submitted} submitted courses, and their files: none of them uploaded one.\n")?;
    Ok(doc)
}

async fn live_drafts(
    conn: &mut deadpool_redis::Connection,
    drafts: &[(Uuid, String)],
) -> anyhow::Result<usize> {
    // An id that is not a UUID (a create that failed) names no draft.
    let keys: Vec<String> = drafts
        .iter()
        .filter_map(|(user, id)| Some(draft_key(*user, id.parse().ok()?)))
        .collect();
    if keys.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.exists(key);
    }
    let exists: Vec<bool> = pipe.query_async(conn).await?;
    Ok(exists.into_iter().filter(|e| *e).count())
}

fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}
