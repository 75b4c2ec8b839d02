//! The janitor (invariants 4, 8): deletes exactly the stale unused drafts, one
//! replica at a time, never a course in use.

use std::collections::HashSet;

use deadpool_redis::redis::AsyncCommands;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{draft_key, new_user, service_user, TestApp, TestUser};

/// A draft with a course row (through an upload); returns (draft id, course id).
async fn materialized(app: &TestApp, user: &TestUser, topic: &str) -> (String, String) {
    let id = app.draft_id(user, json!({"topic": topic})).await;
    let file: Value = app
        .upload_text(user, &id, "notes.txt", b"notes")
        .await
        .json()
        .await
        .unwrap();
    (id, file["courseId"].as_str().unwrap().to_owned())
}

/// As if the draft session had expired in Redis.
async fn expire_session(app: &TestApp, user: &TestUser, draft_id: &str) {
    let mut redis = app.redis().await;
    let _: () = redis.del(draft_key(user, draft_id)).await.unwrap();
}

async fn course_ids(app: &TestApp) -> HashSet<String> {
    let rows = app
        .db
        .query("SELECT id::text FROM courses", &[])
        .await
        .unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test]
async fn the_janitor_deletes_exactly_the_stale_unused_drafts() {
    let app = TestApp::spawn().await;
    let user = &app.user;

    let (stale_draft, stale) = materialized(&app, user, "Abandoned").await;
    expire_session(&app, user, &stale_draft).await;
    app.age_course(&stale, 25).await;

    // Invariant 4: touched within the TTL, or its session alive, it stays.
    let (_, alive) = materialized(&app, user, "Stale-looking, session alive").await;
    app.age_course(&alive, 25).await;
    let (fresh_draft, fresh) = materialized(&app, user, "Fresh").await;
    expire_session(&app, user, &fresh_draft).await;
    app.age_course(&fresh, 23).await;
    let (submitted_draft, submitted) = materialized(&app, user, "Submitted").await;
    app.action_json(user, &submitted_draft, "submit", 200).await;
    expire_session(&app, user, &submitted_draft).await;
    app.age_course(&submitted, 25).await;
    let (generating_draft, generating) = materialized(&app, user, "Being generated").await;
    app.db
        .execute(
            "UPDATE courses SET generation_status = 'queued' WHERE id = $1::text::uuid",
            &[&generating],
        )
        .await
        .unwrap();
    expire_session(&app, user, &generating_draft).await;
    app.age_course(&generating, 25).await;

    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(report["dryRun"], false);
    assert_eq!(report["lockedElsewhere"], false);
    assert_eq!(report["candidates"], 2, "{report}");
    assert_eq!(report["deleted"], 1);
    assert_eq!(report["skippedAlive"], 1);
    assert_eq!(report["filesQueued"], 1);
    assert_eq!(report["keysQueued"], 1);
    assert_eq!(report["courseIds"], json!([stale]));
    let left = course_ids(&app).await;
    let expected: HashSet<String> = [alive, fresh, submitted, generating].into_iter().collect();
    assert_eq!(left, expected);

    // The deleted course's file goes too, by the cleanup worker.
    app.run_cleanup().await;
    let stored: Vec<String> = app
        .stored_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert!(
        stored.iter().all(|path| !path.contains(&stale)),
        "{stored:?}"
    );
}

#[tokio::test]
async fn a_dry_run_deletes_nothing_and_names_what_a_real_run_deletes() {
    let app = TestApp::spawn_with(|c| c.janitor_batch_size = 2).await;
    let mut doomed = HashSet::new();
    for i in 0..5 {
        let user = new_user();
        let (draft, course) = materialized(&app, &user, &format!("Abandoned {i}")).await;
        expire_session(&app, &user, &draft).await;
        app.age_course(&course, 30 + i).await;
        doomed.insert(course);
    }
    let (_, kept) = materialized(&app, &app.user, "Kept").await;

    let dry = app
        .admin(Method::POST, "/api/v1/admin/janitor/run?dryRun=true")
        .await;
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["deleted"], 5);
    assert_eq!(dry["batches"], 3, "batches of two: {dry}");
    assert_eq!(app.course_count().await, 6, "a dry run deletes nothing");
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%'")
            .await,
        0
    );

    let real = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(real["deleted"], 5);
    let named = |report: &Value| -> HashSet<String> {
        report["courseIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(named(&dry), doomed);
    assert_eq!(named(&real), doomed);
    assert_eq!(course_ids(&app).await, HashSet::from([kept]));
}

/// Takes or gives back (`pg_advisory_lock` or `_unlock`) the janitor's lock
/// in the test's own session, as another replica's run would.
async fn janitor_lock(app: &TestApp, function: &str) {
    let sql = format!("SELECT {function}($1)");
    app.db
        .execute(&sql, &[&draftd::jobs::janitor::JANITOR_LOCK])
        .await
        .unwrap();
}

/// Invariant 8: while one replica's run holds the lock, another's does nothing.
#[tokio::test]
async fn a_run_finding_the_lock_taken_does_nothing() {
    let app = TestApp::spawn().await;
    let (draft, course) = materialized(&app, &app.user, "Abandoned").await;
    expire_session(&app, &app.user, &draft).await;
    app.age_course(&course, 48).await;

    // Another replica, mid-run: a session holding the janitor's lock.
    janitor_lock(&app, "pg_advisory_lock").await;
    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(report["lockedElsewhere"], true);
    assert_eq!(report["deleted"], 0);
    assert_eq!(app.course_count().await, 1);

    janitor_lock(&app, "pg_advisory_unlock").await;
    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(report["deleted"], 1);
}

/// Invariant 8, for real: two app instances on one database run at once;
/// every stale course is deleted exactly once, and runs never overlap.
#[tokio::test]
async fn two_instances_running_the_janitor_at_once_never_overlap() {
    let app = TestApp::spawn().await;
    let database_url = app.config.database_url.clone();
    let other = TestApp::spawn_with(|c| c.database_url = database_url).await;
    for i in 0..40 {
        let user = new_user();
        let (draft, course) = materialized(&app, &user, &format!("Abandoned {i}")).await;
        expire_session(&app, &user, &draft).await;
        app.age_course(&course, 48).await;
    }

    let admin = service_user();
    let runs = (0..6).map(|i| {
        let target = if i % 2 == 0 { &app } else { &other };
        target
            .request(Method::POST, "/api/v1/admin/janitor/run", &admin)
            .send()
    });
    let mut deleted = 0;
    let mut ids = HashSet::new();
    for response in join_all(runs).await {
        let report: Value = response.unwrap().json().await.unwrap();
        deleted += report["deleted"].as_u64().unwrap();
        for id in report["courseIds"].as_array().unwrap() {
            assert!(
                ids.insert(id.as_str().unwrap().to_owned()),
                "{id} deleted twice"
            );
        }
    }
    assert_eq!(deleted, 40);
    assert_eq!(app.course_count().await, 0);
}

/// A janitor run racing uploads never deletes the course an upload lands in.
#[tokio::test]
async fn a_janitor_racing_uploads_never_deletes_their_course() {
    let app = TestApp::spawn().await;
    let mut drafts = Vec::new();
    for i in 0..10 {
        let (draft, course) = materialized(&app, &app.user, &format!("Racing {i}")).await;
        app.age_course(&course, 48).await;
        drafts.push(draft);
    }
    let uploads = drafts.iter().map(|draft| async {
        let response = app.upload_text(&app.user, draft, "more.txt", b"more").await;
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["courseId"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    let janitor = app.admin(Method::POST, "/api/v1/admin/janitor/run");
    let (landed, report) = tokio::join!(join_all(uploads), janitor);

    assert_eq!(report["deleted"], 0, "{report}");
    let left = course_ids(&app).await;
    for course in landed {
        assert!(
            left.contains(&course),
            "the course {course} an upload landed in is gone"
        );
    }
    app.run_cleanup().await;
    assert_eq!(
        app.stored_files().len(),
        20,
        "every file of every course is still there"
    );
}

#[tokio::test]
async fn the_candidate_query_uses_the_partial_index() {
    let app = TestApp::spawn().await;
    // Whatever the table's size, the index must be usable for the query: with
    // sequential scans priced out, the plan shows whether it is.
    app.db
        .batch_execute("SET enable_seqscan = off")
        .await
        .unwrap();
    let plan = app
        .db
        .query(
            &format!(
                "EXPLAIN {}",
                *draftd::stores::postgres::janitor::JANITOR_CANDIDATES
            ),
            &[
                &chrono::Utc::now(),
                &chrono::DateTime::UNIX_EPOCH,
                &uuid::Uuid::nil(),
                &500i64,
            ],
        )
        .await
        .unwrap();
    let plan: Vec<String> = plan.iter().map(|row| row.get(0)).collect();
    assert!(
        plan.iter()
            .any(|line| line.contains("courses_unused_drafts_idx")),
        "{}",
        plan.join("\n")
    );
}

#[tokio::test]
async fn admin_routes_need_service_role() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, "/api/v1/admin/stats"),
        (Method::POST, "/api/v1/admin/janitor/run"),
        (Method::POST, "/api/v1/admin/orphans/sweep"),
        (Method::POST, "/api/v1/admin/cleanup/retry"),
    ] {
        let response = app.call(method, path, &app.user).await;
        crate::helpers::assert_problem(response, 403).await;
    }
}

/// A connection of the test's own to the app's database, for holding locks.
async fn own_connection(app: &TestApp) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&app.config.database_url, tokio_postgres::NoTls)
            .await
            .expect("test database reachable");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn the_janitor_skips_a_stale_course_a_recording_is_writing_in() {
    let app = TestApp::spawn().await;
    let user = &app.user;
    let (draft, course) = materialized(&app, user, "Abandoned, but written in").await;
    expire_session(&app, user, &draft).await;
    app.age_course(&course, 25).await;

    // As a recording does, first thing: the course's fence lock, shared.
    let mut recording = own_connection(&app).await;
    let tx = recording.transaction().await.unwrap();
    let id: uuid::Uuid = course.parse().unwrap();
    tx.execute(
        "SELECT pg_advisory_xact_lock_shared($1, hashtext($2::uuid::text))",
        &[&draftd::stores::postgres::lock::FENCE_LOCK_CLASS, &id],
    )
    .await
    .unwrap();
    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(report["candidates"], 1, "{report}");
    assert_eq!(report["deleted"], 0, "in use, not garbage: {report}");
    assert!(course_ids(&app).await.contains(&course));

    tx.commit().await.unwrap();
    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(report["deleted"], 1, "{report}");
    assert!(!course_ids(&app).await.contains(&course));
}

#[tokio::test]
async fn tombstones_go_after_the_draft_ttl_once_their_course_is_cleaned_up() {
    let app = TestApp::spawn().await;
    let user = &app.user;
    let tombstones = "SELECT count(*) FROM course_tombstones";
    let (_, cleaned) = materialized(&app, user, "Cleaned up").await;
    let (_, pending) = materialized(&app, user, "Cleanup pending").await;
    for course in [&cleaned, &pending] {
        let path = format!("/api/v1/courses/{course}?permanent=true");
        assert_eq!(app.call(Method::DELETE, &path, user).await.status(), 204);
    }
    app.run_cleanup().await;
    assert_eq!(app.count(tombstones).await, 2);
    // One course's cleanup is still owed (a dead job, say): its draft session
    // may still name it, so its tombstone stays.
    app.db
        .execute(
            "INSERT INTO cleanup_jobs (kind, target, course_id, reason, max_attempts, status)
             VALUES ('storage_object', 'a/b', $1::text::uuid, 'owner', 3, 'dead')",
            &[&pending],
        )
        .await
        .unwrap();

    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(
        report["tombstonesPruned"], 0,
        "younger than the TTL: {report}"
    );
    app.db
        .execute(
            "UPDATE course_tombstones SET erased_at = now() - interval '25 hours'",
            &[],
        )
        .await
        .unwrap();
    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(report["tombstonesPruned"], 1, "{report}");
    let left = app
        .db
        .query_one("SELECT course_id::text FROM course_tombstones", &[])
        .await
        .unwrap();
    assert_eq!(left.get::<_, String>(0), pending);
}
