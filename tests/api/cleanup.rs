//! Course deletion and cleanup (invariant 6): the row, every file and every
//! Redis key go; a failing store delays that, never forgets it.

use std::time::{Duration, SystemTime};

use deadpool_redis::redis::AsyncCommands;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{
    assert_problem, draft_key, files_under, json_of, service_user, wait_until, ScratchDir, TestApp,
};
use crate::records::Record;
use crate::servers::{free_port, s3_server, use_s3};
use crate::tus_steps::OwnRedis;

/// A draft with a course holding two files; returns (draft id, course id).
async fn deletable_course(app: &TestApp) -> (String, String) {
    let files: [(&str, &[u8]); 2] = [("a.txt", b"bytes"), ("b.md", b"bytes")];
    let made = app.course_with_files(&app.user, "To delete", &files).await;
    (made.draft, made.course)
}

#[tokio::test]
async fn erasing_a_course_removes_its_row_files_and_redis_keys() {
    let app = TestApp::spawn().await;
    let (draft, course) = deletable_course(&app).await;
    let mut redis = app.redis().await;
    assert!(redis
        .exists::<_, bool>(draft_key(&app.user, &draft))
        .await
        .unwrap());

    let path = format!("/api/v1/courses/{course}");
    let erase = format!("{path}?permanent=true");
    let deleted = app.call(Method::DELETE, &erase, &app.user).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.course_count().await, 0);
    assert_eq!(app.file_row_count().await, 0);
    assert_problem(app.call(Method::GET, &path, &app.user).await, 404).await;

    app.run_cleanup().await;
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    assert!(!redis
        .exists::<_, bool>(draft_key(&app.user, &draft))
        .await
        .unwrap());
    let again = app.call(Method::DELETE, &erase, &app.user).await;
    assert_problem(again, 404).await;
}

#[tokio::test]
async fn discarding_a_materialized_draft_deletes_its_course_but_not_a_submitted_one() {
    let app = TestApp::spawn().await;
    let (draft, _) = deletable_course(&app).await;
    let discard = app.delete_draft(&app.user, &draft).await;
    assert_eq!(discard.status(), 204);
    assert_eq!(app.get_draft(&app.user, &draft).await.status(), 410);
    assert_eq!(app.course_count().await, 0);
    app.run_cleanup().await;
    assert!(app.stored_files().is_empty());

    let kept = app
        .new_draft(&app.user, json!({"topic": "Submitted stays"}))
        .await;
    let kept = kept["id"].as_str().unwrap();
    app.action_json(&app.user, kept, "submit", 201).await;
    let discard = app.delete_draft(&app.user, kept).await;
    assert_eq!(discard.status(), 204);
    assert_eq!(app.course_count().await, 1);
}

#[tokio::test]
async fn admin_stats_show_the_pollution_figures() {
    let app = TestApp::spawn().await;
    let (_, stale) = deletable_course(&app).await;
    app.age_course(&stale, 30).await;
    deletable_course(&app).await;
    let open = app.new_draft(&app.user, json!({})).await;
    app.action_json(&app.user, open["id"].as_str().unwrap(), "submit", 422)
        .await;

    let stats = app.admin(Method::GET, "/api/v1/admin/stats").await;
    assert_eq!(stats["totalDrafts"], 2);
    assert_eq!(stats["unusedDrafts"], 2);
    assert_eq!(stats["unusedPercentage"], 100.0);
    assert_eq!(stats["pendingCleanup"], 1);
    assert_eq!(stats["submittedCourses"], 0);
    assert!(stats["liveSessions"].as_u64().unwrap() >= 3);
    assert_eq!(stats["cleanupJobsDead"], 0);
}

#[tokio::test]
async fn metrics_count_requests_and_janitor_runs() {
    let app = TestApp::spawn().await;
    app.new_draft(&app.user, json!({})).await;
    app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    let text = app.get_public("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            "draftd_http_requests_total{method=\"POST\",route=\"/api/v1/drafts\",status=\"201\"}"
        ),
        "{text}"
    );
    assert!(text.contains("draftd_http_request_duration_seconds_bucket"));
    assert!(text.contains("draftd_janitor_runs_total{outcome=\"completed\"}"));
}

/// One series' value in `/metrics`, if exported.
async fn metric(app: &TestApp, series: &str) -> Option<f64> {
    let text = app.get_public("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// What the alerts read (docs/alerts.yml): the counters they take an
/// increase of exist from the start, at 0 unless something counted; the
/// dead-jobs gauge follows the queue.
#[tokio::test]
async fn metrics_export_what_the_alerts_read() {
    let app = TestApp::spawn().await;
    for series in [
        "draftd_janitor_runs_total{outcome=\"completed\"}",
        "draftd_purge_runs_total{outcome=\"completed\"}",
        "draftd_jobs_total{task=\"cleanup.storage_prefix\",outcome=\"retried\"}",
        "draftd_jobs_total{task=\"cleanup.draft_session\",outcome=\"dead\"}",
        "draftd_degraded_drafts_total",
    ] {
        assert!(metric(&app, series).await.is_some(), "{series} is exported");
    }

    // Seven dead jobs for objects long gone, so that a retry completes them.
    app.db
        .execute(
            "INSERT INTO jobs (task, payload, course_id, status, attempts)
             SELECT 'cleanup.storage_object', jsonb_build_object('courseId', c,
                        'organizationId', c, 'key', 'gone/' || n, 'reason', 'file'),
                    c, 'dead', 3
             FROM generate_series(1, 7) AS n, LATERAL (SELECT gen_random_uuid() AS c) AS id",
            &[],
        )
        .await
        .unwrap();
    // The gauges are the process's, and every test's app sets them from its
    // own database after each pass: wait for counts only this one has.
    let dead = || metric(&app, "draftd_jobs_dead{task=\"cleanup.storage_object\"}");
    wait_until("the gauge shows 7 dead jobs", || async {
        dead().await == Some(7.0)
    })
    .await;

    let ids: Vec<i64> = app
        .column("SELECT id FROM jobs WHERE task LIKE 'cleanup.%' ORDER BY id LIMIT 3")
        .await;
    let retry = app
        .request(Method::POST, "/api/v1/admin/cleanup/retry", &service_user())
        .json(&json!({ "ids": ids }));
    let retried = json_of(retry).await;
    assert_eq!(retried["retried"], 3);
    wait_until("the gauge shows the 4 jobs still dead", || async {
        dead().await == Some(4.0)
    })
    .await;
    app.run_cleanup().await;
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%'")
            .await,
        4
    );
    assert!(
        metric(&app, "draftd_jobs_pending{task=\"cleanup.storage_object\"}")
            .await
            .is_some()
    );
}

#[tokio::test]
async fn the_orphan_sweep_removes_only_old_prefixes_without_a_course() {
    // A Redis database of its own: the sweep scans every draft session.
    let own = OwnRedis::take().await;
    let app = TestApp::spawn_with(|c| own.apply(c)).await;
    let mut redis = app.redis().await;
    let (draft, course) = deletable_course(&app).await;
    let org = app.user.org.to_string();
    let root = &app.config.upload_dir;
    let plant = |course: &str, age: Duration| {
        let dir = root.join(&org).join(course);
        std::fs::create_dir_all(&dir).unwrap();
        let file = std::fs::File::create(dir.join(Uuid::new_v4().to_string())).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    };
    let old_orphan = Uuid::new_v4().to_string();
    let new_orphan = Uuid::new_v4().to_string();
    plant(&old_orphan, Duration::from_secs(7200));
    plant(&new_orphan, Duration::from_secs(60));
    // Files of a live course are never orphans, however old.
    plant(&course, Duration::from_secs(7200));

    // A draft session still pointing at a course that no longer exists.
    let stray = app.new_draft(&app.user, json!({})).await;
    let stray_key = draft_key(&app.user, stray["id"].as_str().unwrap());
    let mut record = Record::read(&mut redis, &stray_key).await.unwrap();
    record.set("cid", Uuid::new_v4());
    record.write(&mut redis, &stray_key).await;

    let dry = app
        .admin(Method::POST, "/api/v1/admin/orphans/sweep?dryRun=true")
        .await;
    assert_eq!(
        (
            dry["orphanPrefixes"].as_u64(),
            dry["orphanSessions"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(app.stored_files().len(), 5);

    let report = app.admin(Method::POST, "/api/v1/admin/orphans/sweep").await;
    assert_eq!(report["prefixesChecked"], 3);
    assert_eq!(report["orphanPrefixes"], 1);
    assert_eq!(report["objectsRemoved"], 1);
    assert_eq!(report["orphanSessions"], 1);
    let stored: Vec<String> = app
        .stored_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(stored.len(), 4);
    assert!(stored.iter().all(|p| !p.contains(&old_orphan)));
    assert!(!redis.exists::<_, bool>(&stray_key).await.unwrap());
    assert!(redis
        .exists::<_, bool>(draft_key(&app.user, &draft))
        .await
        .unwrap());
}

/// The S3 backend end to end, and invariant 6 under a failing store: the job
/// is retried, goes dead, shows in stats, and a retry after recovery works.
#[tokio::test]
async fn with_s3_down_cleanup_retries_goes_dead_and_recovers_on_retry() {
    let port = free_port();
    let root = ScratchDir::new("s3");
    let mut s3 = s3_server(&root, port).await;
    let objects = || files_under(&root.join("draftd")).len();
    let app = TestApp::spawn_with(|c| {
        use_s3(c, port);
        c.store_timeout_ms = 1000;
        c.cleanup_backoff_ms = 50;
    })
    .await;

    let (_, course) = deletable_course(&app).await;
    assert_eq!(objects(), 2);
    let files: Value = app
        .get_json(&app.user, &format!("/api/v1/courses/{course}"))
        .await;
    let file_id = files["files"][0]["id"].as_str().unwrap();
    let download = app
        .request(
            Method::GET,
            &format!("/api/v1/courses/{course}/files/{file_id}"),
            &app.user,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"bytes");

    s3.stop();
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/courses/{course}?permanent=true"),
            &app.user,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleted.status(),
        204,
        "the row goes even while storage is down"
    );

    // Three attempts, then dead: listed in the stats, the bytes still there.
    wait_until("the cleanup job is dead", || async {
        app.count("SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%' AND status = 'dead'")
            .await
            == 1
    })
    .await;
    let stats = app.admin(Method::GET, "/api/v1/admin/stats").await;
    assert_eq!(stats["cleanupJobsDead"], 1);
    let dead = &stats["deadJobs"][0];
    assert_eq!(dead["kind"], "storage_prefix");
    assert_eq!(dead["attempts"], 3);
    assert!(dead["lastError"].is_string());
    assert_eq!(objects(), 2);

    let _s3 = s3_server(&root, port).await;
    let retried = app.admin(Method::POST, "/api/v1/admin/cleanup/retry").await;
    assert_eq!(retried["retried"], 1);
    app.run_cleanup().await;
    assert_eq!(objects(), 0, "the retry removed the files");
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%'")
            .await,
        0
    );
}
