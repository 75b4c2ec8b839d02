//! Faults: a store that goes away, several replicas, a graceful shutdown.

use std::process::Stdio;
use std::time::Duration;

use deadpool_redis::redis;
use futures_util::future::join_all;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, json_of, wait_until, ScratchDir, TestApp};
use crate::proxy::Proxy;
use crate::servers::{free_port, redis_server};

/// Postgres goes away during materialize, submit and upload: 503, nothing
/// half-written; once it is back, a retry gives exactly one course.
#[tokio::test]
async fn a_postgres_outage_answers_503_writes_nothing_and_a_retry_gives_one_course() {
    // `app` sees the database directly; `faulty` serves the same database
    // and storage, its Postgres behind a proxy we can cut.
    let app = TestApp::spawn().await;
    let proxy = Proxy::start("127.0.0.1:5490".parse().unwrap()).await;
    let (_, database) = app.config.database_url.rsplit_once('/').unwrap();
    let url = format!("postgres://draftd@127.0.0.1:{}/{database}", proxy.port);
    let upload_dir = app.config.upload_dir.clone();
    let faulty = TestApp::spawn_with(|c| {
        c.database_url = url;
        c.upload_dir = upload_dir;
        c.store_timeout_ms = 500;
    })
    .await;

    let id = &faulty
        .draft_id(&faulty.user, json!({"topic": "Through the outage"}))
        .await;
    proxy.cut();
    let materialize = faulty.draft_action(&faulty.user, id, "materialize").await;
    assert_eq!(materialize.headers()["retry-after"], "1");
    assert_problem(materialize, 503).await;
    let upload = faulty
        .upload_text(&faulty.user, id, "a.txt", b"bytes")
        .await;
    assert_problem(upload, 503).await;
    // A submit that fails after freezing the draft leaves it read-only until
    // the submit is repeated: no autosave can be acknowledged and left out.
    assert_problem(faulty.draft_action(&faulty.user, id, "submit").await, 503).await;
    // Nothing half-written: no row (seen through the direct connection), no file.
    assert_eq!(app.course_count().await, 0);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());

    proxy.restore();
    let retried = faulty.draft_action(&faulty.user, id, "submit").await;
    assert_eq!(retried.status(), 201);
    let again = faulty.draft_action(&faulty.user, id, "submit").await;
    assert_eq!(again.status(), 200);
    assert_eq!(app.course_count().await, 1);
    let course = app
        .db
        .query_one("SELECT status, title FROM courses", &[])
        .await
        .unwrap();
    assert_eq!(
        (course.get::<_, String>(0), course.get::<_, String>(1)),
        ("submitted".into(), "Through the outage".into())
    );
}

/// With Redis unreachable, calls on drafts kept in Redis answer 503 fast; new
/// drafts open in Postgres (degraded mode) and work there, through autosave,
/// upload and submit; when Redis returns, the service recovers by itself and
/// the drafts kept in Postgres go on working.
#[tokio::test]
async fn while_redis_is_down_new_drafts_open_in_postgres_and_the_service_recovers() {
    let upstream: std::net::SocketAddr = "127.0.0.1:6390".parse().unwrap();
    let proxy = Proxy::start(upstream).await;
    let port = proxy.port;
    let app = TestApp::spawn_with(|c| {
        c.redis_url = format!("redis://127.0.0.1:{port}");
        c.store_timeout_ms = 500;
    })
    .await;
    let user = &app.user;
    let draft = app.new_draft(user, json!({"topic": "Before"})).await;
    assert_eq!(draft["store"], "redis");
    let id = draft["id"].as_str().unwrap();

    proxy.cut();
    let started = std::time::Instant::now();
    let response = app
        .patch_draft(user, id, json!({"topic": "During"}), None)
        .await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered in {:?}",
        started.elapsed()
    );
    assert_problem(app.get_draft(user, id).await, 503).await;
    assert_problem(app.call(Method::GET, "/api/v1/drafts", user).await, 503).await;
    assert_eq!(app.get_public("/readyz").await.status(), 503);

    // Degraded mode: the new draft opens in a course row of its own.
    let degraded = app
        .new_draft(user, json!({"topic": "During the outage"}))
        .await;
    assert_eq!(
        (
            &degraded["store"],
            &degraded["status"],
            &degraded["version"]
        ),
        (&json!("postgres"), &json!("materialized"), &json!(1))
    );
    let pg_id = degraded["id"].as_str().unwrap().to_owned();
    let row = app
        .db
        .query_one(
            "SELECT materialized_by, draft_version, status FROM courses WHERE draft_session_id = $1",
            &[&pg_id.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, i64>(1),
            row.get::<_, String>(2)
        ),
        ("degraded".into(), 1, "draft".into())
    );

    // Autosave against Postgres: If-Match, merge, null removes, concurrent
    // writes of different fields all survive.
    let saved = app
        .patch_draft(user, &pg_id, json!({"language": "ru"}), Some("\"1\""))
        .await;
    assert_eq!(saved.status(), 200);
    assert_eq!(saved.headers()["etag"], "\"2\"");
    assert_problem(
        app.patch_draft(user, &pg_id, json!({"language": "en"}), Some("\"1\""))
            .await,
        412,
    )
    .await;
    let fields = [
        "description",
        "targetAudience",
        "learningOutcomes",
        "writingStyle",
    ];
    let writes = fields.map(|field| app.patch_draft(user, &pg_id, json!({ field: field }), None));
    for response in join_all(writes).await {
        assert_eq!(response.status(), 200);
    }
    let removed = app
        .patch_draft(user, &pg_id, json!({"writingStyle": null}), None)
        .await;
    assert_eq!(removed.status(), 200);
    let read = app.draft(user, &pg_id).await;
    assert_eq!(read["version"], 7);
    assert_eq!(read["formData"]["language"], "ru");
    for field in &fields[..3] {
        assert_eq!(read["formData"][field], *field);
    }
    assert!(read["formData"].get("writingStyle").is_none());
    // Another user's request answers as for an id that exists nowhere: while
    // Redis cannot be asked, that is "unavailable".
    let stranger = crate::helpers::new_user();
    assert_problem(app.get_draft(&stranger, &pg_id).await, 503).await;
    let nowhere = uuid::Uuid::new_v4().to_string();
    assert_problem(app.get_draft(user, &nowhere).await, 503).await;

    // Upload and materialize use its course row: still one row for the draft.
    let upload = app.upload_text(user, &pg_id, "plan.txt", b"plan").await;
    assert_eq!(upload.status(), 201);
    let racing = (0..6).map(|_| app.draft_action(user, &pg_id, "materialize"));
    for response in join_all(racing).await {
        assert_eq!(response.status(), 200);
    }

    // Submit racing autosaves: the course holds the last acknowledged one.
    let autosaves = (0..10).map(|i| {
        let app = &app;
        let pg_id = &pg_id;
        async move {
            let response = app
                .patch_draft(
                    user,
                    pg_id,
                    json!({"description": format!("take {i}")}),
                    None,
                )
                .await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    });
    let (saves, submit) = tokio::join!(
        join_all(autosaves),
        app.draft_action(user, &pg_id, "submit")
    );
    assert_eq!(submit.status(), 200);
    let last = saves
        .iter()
        .filter(|(status, _)| *status == 200)
        .max_by_key(|(_, body)| body["version"].as_u64())
        .map(|(_, body)| body["formData"]["description"].clone());
    for (status, _) in &saves {
        assert!(*status == 200 || *status == 409, "{status}");
    }
    let course = app
        .db
        .query_one(
            "SELECT status, form_data->'description', (SELECT count(*) FROM courses) FROM courses \
             WHERE draft_session_id = $1",
            &[&pg_id.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(course.get::<_, String>(0), "submitted");
    assert_eq!(
        Some(course.get::<_, Value>(1)),
        last.or(Some(json!("description")))
    );
    assert_eq!(course.get::<_, i64>(2), 1, "one course row in all");
    let frozen = app
        .patch_draft(user, &pg_id, json!({"topic": "Too late"}), None)
        .await;
    assert_problem(frozen, 409).await;

    // More drafts of the outage: one abandoned, one discarded with its file.
    let abandoned = app.new_draft(user, json!({})).await;
    assert_eq!(abandoned["store"], "postgres");
    let quiet = app
        .new_draft(user, json!({"topic": "Quiet for a while"}))
        .await;
    let discarded_id = &app.draft_id(user, json!({})).await;
    let upload = app
        .upload_text(user, discarded_id, "draft.txt", b"draft")
        .await;
    assert_eq!(upload.status(), 201);

    proxy.restore();
    // The pool replaces the connections the outage broke: no request fails.
    let saved = app
        .patch_draft(user, id, json!({"topic": "After"}), None)
        .await;
    assert_eq!(saved.status(), 200);
    assert_eq!(app.draft(user, id).await["formData"]["topic"], "After");
    assert_eq!(app.new_draft(user, json!({})).await["store"], "redis");
    assert_problem(app.get_draft(&stranger, &pg_id).await, 404).await;
    // Drafts kept in Postgres stay there, listed with the others.
    let listed = app.get_json(user, "/api/v1/drafts").await;
    let stores: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["store"].as_str().unwrap())
        .collect();
    assert_eq!(
        stores,
        ["redis", "redis", "postgres", "postgres", "postgres"]
    );

    // Discarding takes the course and its file; discarding a submitted one
    // leaves its course.
    let deleted = app.delete_draft(user, discarded_id).await;
    assert_eq!(deleted.status(), 204);
    assert_problem(app.get_draft(user, discarded_id).await, 404).await;
    app.run_cleanup().await;
    assert_eq!(
        app.stored_files().len(),
        1,
        "only the submitted course's file"
    );
    let forgotten = app.delete_draft(user, &pg_id).await;
    assert_eq!(forgotten.status(), 204);
    assert_problem(app.get_draft(user, &pg_id).await, 404).await;
    let course = degraded["courseId"].as_str().unwrap();
    let kept = app
        .get_json(user, &format!("/api/v1/courses/{course}"))
        .await;
    assert_eq!(kept["status"], "submitted");

    // The janitor removes the abandoned one once it is stale, and keeps the
    // one written within the TTL (invariant 4).
    app.age_course(abandoned["courseId"].as_str().unwrap(), 25)
        .await;
    app.age_course(quiet["courseId"].as_str().unwrap(), 23)
        .await;
    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(report["deleted"], 1);
    assert_problem(
        app.get_draft(user, abandoned["id"].as_str().unwrap()).await,
        404,
    )
    .await;
    let quiet = app.draft(user, quiet["id"].as_str().unwrap()).await;
    assert_eq!(quiet["formData"]["topic"], "Quiet for a while");
    assert_eq!(app.course_count().await, 2);
}

/// A Redis that takes connections and never answers: no request hangs. The
/// first call waits out the store timeout; the calls right after it do not
/// ask Redis at all (the breaker), so degraded mode stays fast; new drafts
/// still open, in Postgres.
#[tokio::test]
async fn a_redis_that_never_answers_holds_no_request() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let _held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            sockets.push(socket);
        }
    });
    let app = TestApp::spawn_with(|c| {
        c.redis_url = format!("redis://127.0.0.1:{port}");
        // Long enough that the calls below fall inside the breaker's window.
        c.store_timeout_ms = 2000;
    })
    .await;
    let user = &app.user;
    let skipped = || async {
        let metrics = app.get_public("/metrics").await.text().await.unwrap();
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("draftd_redis_calls_skipped_total "))
            .map_or(0.0, |value| value.parse::<f64>().unwrap())
    };
    let skipped_before = skipped().await;
    /// Far above the store timeout: this only tells a bounded wait from a hang.
    async fn answered<F: std::future::Future>(call: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("the request does not hang")
    }

    let draft: Value =
        answered(app.create_draft(user, json!({"formData": {"topic": "Silent Redis"}})))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(draft["store"], "postgres");
    let id = draft["id"].as_str().unwrap();
    let saved = answered(app.patch_draft(user, id, json!({"language": "en"}), None)).await;
    assert_eq!(saved.status(), 200);
    let unknown = uuid::Uuid::new_v4().to_string();
    let read = answered(app.get_draft(user, &unknown)).await;
    assert_eq!(read.headers()["retry-after"], "1");
    assert_problem(read, 503).await;
    let ready = answered(app.get_public("/readyz")).await;
    assert_eq!(ready.status(), 503);
    // The autosave, the read and the probe did not wait for Redis.
    assert!(skipped().await >= skipped_before + 3.0);
}

/// In degraded mode the per-user cap still holds, however many creates race.
#[tokio::test]
async fn racing_creates_in_degraded_mode_keep_the_cap() {
    let proxy = Proxy::start("127.0.0.1:6390".parse().unwrap()).await;
    let port = proxy.port;
    let app = TestApp::spawn_with(|c| {
        c.redis_url = format!("redis://127.0.0.1:{port}");
        c.max_drafts_per_user = 3;
    })
    .await;
    proxy.cut();
    let creates = (0..8).map(|_| app.create_draft(&app.user, json!({})));
    let mut statuses: Vec<u16> = join_all(creates)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 201, 429, 429, 429, 429, 429]);
    assert_eq!(app.course_count().await, 3);
}

/// Two replicas on one Redis, one Postgres and one storage behave as one.
#[tokio::test]
async fn two_replicas_behave_as_one() {
    let a = TestApp::spawn().await;
    let (database_url, upload_dir) = (a.config.database_url.clone(), a.config.upload_dir.clone());
    let b = TestApp::spawn_with(|c| {
        c.database_url = database_url;
        c.upload_dir = upload_dir;
    })
    .await;
    let user = &a.user;

    let draft = a.new_draft(user, json!({"topic": "Replicated"})).await;
    let id = draft["id"].as_str().unwrap();
    assert_eq!(b.draft(user, id).await, draft);
    assert_eq!(
        b.patch_draft(user, id, json!({"language": "ru"}), Some("\"1\""))
            .await
            .status(),
        200
    );
    assert_problem(
        a.patch_draft(user, id, json!({"language": "en"}), Some("\"1\""))
            .await,
        412,
    )
    .await;

    let racing = (0..30).map(|i| {
        let replica = if i % 2 == 0 { &a } else { &b };
        async move {
            let response = match i % 3 {
                0 => replica.draft_action(user, id, "materialize").await,
                _ => {
                    replica
                        .upload(user, id, &format!("f{i}.txt"), "text/plain", b"x".to_vec())
                        .await
                }
            };
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (
                status,
                body["courseId"].as_str().unwrap_or_default().to_owned(),
            )
        }
    });
    let results = join_all(racing).await;
    assert!(
        results
            .iter()
            .all(|(status, _)| *status == 200 || *status == 201),
        "{results:?}"
    );
    let ids: std::collections::HashSet<_> = results.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(a.course_count().await, 1);
    assert_eq!(a.file_row_count().await, 20);

    let course = ids.into_iter().next().unwrap();
    let deleted = b
        .call(
            Method::DELETE,
            &format!("/api/v1/courses/{course}?permanent=true"),
            user,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    a.run_cleanup().await;
    assert!(a.stored_files().is_empty());
}

/// SIGTERM: the service stops accepting, finishes the upload in flight, and
/// stops its scheduler and cleanup worker, then exits cleanly.
#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    let app = TestApp::spawn().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let upload_dir = ScratchDir::new("shutdown");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_draftd"))
        .arg("serve")
        .env("DRAFTD_BIND", format!("127.0.0.1:{port}"))
        .env("DRAFTD_DATABASE_URL", &app.config.database_url)
        .env("DRAFTD_REDIS_URL", &app.config.redis_url)
        .env("DRAFTD_JWT_SECRET", crate::helpers::SECRET)
        .env("DRAFTD_UPLOAD_DIR", &*upload_dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_until("the service starts", || async {
        client.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
    let draft = json_of(
        client
            .post(format!("{base}/api/v1/drafts"))
            .bearer_auth(&app.user.token),
    )
    .await;
    let id = draft["id"].as_str().unwrap().to_owned();

    // An upload whose body arrives in two halves; SIGTERM falls between them.
    let (second_half, body_rest) = tokio::sync::oneshot::channel::<()>();
    let chunk = vec![b'x'; 6 << 20];
    let body = futures_util::stream::once({
        let chunk = chunk.clone();
        async move { Ok::<_, std::io::Error>(bytes::Bytes::from(chunk)) }
    })
    .chain(futures_util::stream::once(async move {
        let _ = body_rest.await;
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 6 << 20]))
    }));
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), 12 << 20)
            .file_name("big.txt")
            .mime_str("text/plain")
            .unwrap();
    let upload = tokio::spawn({
        let (client, url, token) = (
            client.clone(),
            format!("{base}/api/v1/drafts/{id}/files"),
            app.user.token.clone(),
        );
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .multipart(reqwest::multipart::Form::new().part("file", part))
                .send()
                .await
        }
    });
    let staged = upload_dir.to_path_buf();
    wait_until("the upload reaches the storage", || async {
        std::fs::read_dir(&staged)
            .map(|d| d.count() > 0)
            .unwrap_or(false)
    })
    .await;

    let pid = child.id().unwrap().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    // Stops accepting: a new connection is refused.
    let address = format!("127.0.0.1:{port}");
    wait_until("the service refuses connections", || async {
        tokio::net::TcpStream::connect(&address).await.is_err()
    })
    .await;
    let _ = second_half.send(());

    let response = upload.await.unwrap().unwrap();
    assert_eq!(response.status(), 201, "the upload in flight completes");
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut log = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stdout.take().unwrap(), &mut log)
        .await
        .unwrap();
    assert!(log.contains("\"message\":\"stopped\""), "{log}");
    assert_eq!(app.file_row_count().await, 1);
}

/// A Redis with a password works through DRAFTD_REDIS_URL; a wrong one is
/// reported by readiness, not a crash.
#[tokio::test]
async fn a_redis_password_works_through_the_url() {
    let port = free_port();
    let dir = ScratchDir::new("redis");
    let _redis = redis_server(port, &dir, &["--requirepass", "s3cret-pass"]).await;
    let app =
        TestApp::spawn_with(|c| c.redis_url = format!("redis://:s3cret-pass@127.0.0.1:{port}"))
            .await;
    let id = &app
        .draft_id(&app.user, json!({"topic": "Behind a password"}))
        .await;
    assert_eq!(
        app.patch_draft(&app.user, id, json!({"language": "ru"}), None)
            .await
            .status(),
        200
    );

    let wrong = TestApp::spawn_with(|c| {
        c.redis_url = format!("redis://:wrong@127.0.0.1:{port}");
        c.store_timeout_ms = 500;
    })
    .await;
    let ready = wrong.get_public("/readyz").await;
    assert_eq!(ready.status(), 503);
    let list = wrong.call(Method::GET, "/api/v1/drafts", &wrong.user).await;
    assert_problem(list, 503).await;
}

/// Redis restarts with the project's persistence (AOF): every acknowledged
/// autosave is there afterwards.
#[tokio::test]
async fn acknowledged_autosaves_survive_a_redis_restart() {
    let port = free_port();
    let dir = ScratchDir::new("redis");
    // As scripts/services.sh starts the project's Redis.
    let aof = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let mut redis = redis_server(port, &dir, &aof).await;
    let app = TestApp::spawn_with(|c| {
        c.redis_url = format!("redis://127.0.0.1:{port}");
        c.store_timeout_ms = 500;
    })
    .await;
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let draft = app
            .new_draft(&app.user, json!({"topic": format!("Draft {i}")}))
            .await;
        let id = draft["id"].as_str().unwrap().to_owned();
        let saved = app
            .patch_draft(&app.user, &id, json!({"estimatedLessons": i + 1}), None)
            .await;
        assert_eq!(saved.status(), 200);
        acknowledged.push((id, i + 1));
    }

    // A clean restart, as an operator or a deployment does it.
    let stopped = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "shutdown"])
        .status()
        .unwrap();
    assert!(stopped.success());
    redis.stop();
    let _redis = redis_server(port, &dir, &aof).await;

    // Redis answers LOADING until it has replayed its append-only file.
    let url = format!("redis://127.0.0.1:{port}");
    wait_until("Redis answers after loading its AOF", || async {
        let ping = async {
            let mut conn = redis::Client::open(url.as_str())?
                .get_multiplexed_async_connection()
                .await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        ping.await.is_ok()
    })
    .await;
    for (id, lessons) in acknowledged {
        let response = app.get_draft(&app.user, &id).await;
        assert_eq!(response.status(), 200, "{id}");
        let draft: Value = response.json().await.unwrap();
        assert_eq!(draft["formData"]["estimatedLessons"], lessons, "{id}");
        assert_eq!(draft["version"], 2);
    }
}

/// Redis goes away between an upload's record and its draft's link to the
/// course: the file is in, so the upload answers 201 (a 503 would have the
/// client send the file again), and the draft learns its course at its next
/// write.
#[tokio::test]
async fn an_upload_recorded_as_redis_goes_away_answers_201() {
    let proxy = Proxy::start("127.0.0.1:6390".parse().unwrap()).await;
    let port = proxy.port;
    let app = TestApp::spawn_with(|c| {
        c.redis_url = format!("redis://127.0.0.1:{port}");
        c.store_timeout_ms = 500;
    })
    .await;
    let draft = app.draft_id(&app.user, json!({"topic": "Recorded"})).await;
    let upload = app
        .held_upload(&app.user, &draft, b"Week 1: ", b"ownership.\n")
        .await;

    proxy.cut();
    let answer = upload.finish().await;

    assert_eq!(answer.status(), 201, "the file is recorded");
    assert_eq!(app.file_row_count().await, 1);
    proxy.restore();
    let made = app.action_json(&app.user, &draft, "materialize", 200).await;
    assert_eq!(
        app.draft(&app.user, &draft).await["courseId"],
        made["courseId"]
    );
}
