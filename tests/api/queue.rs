//! The job queue (docs/operations.md, "The job queue"): backoff with jitter,
//! `Retry-After`, the purge waking the deliveries, every attempt kept and
//! shown, and the rows an old replica leaves during a rolling upgrade.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use draftd::domain::cleanup::{DeletionReason, DraftSession};

use crate::helpers::{service_user, wait_until, TestApp};
use crate::receiver::{new_secret, Answer, Receiver};
use crate::webhooks::spawn_with_hook;

/// The first delivery job's wait before its next attempt, in ms, as stored.
const FIRST_WAIT_MS: &str = "SELECT (extract(epoch FROM run_after - updated_at) * 1000)::float8
    FROM jobs WHERE task = 'webhook.delivery' ORDER BY id LIMIT 1";

async fn first_wait_ms(app: &TestApp) -> f64 {
    app.db.query_one(FIRST_WAIT_MS, &[]).await.unwrap().get(0)
}

/// An app whose runner delivers only when a test says so (or a wake).
async fn app_answering(
    answer: Answer,
    adjust: impl FnOnce(&mut draftd::config::Config),
) -> (Receiver, TestApp) {
    let receiver = Receiver::start(answer).await;
    let (secret, _) = new_secret();
    let app = spawn_with_hook(&receiver, &[&secret], |c| {
        c.webhook.poll_ms = 3_600_000;
        c.webhook.backoff_ms = 10_000;
        adjust(c);
    })
    .await;
    (receiver, app)
}

async fn materialize(app: &TestApp) -> String {
    let draft = app.draft_id(&app.user, json!({"topic": "Queues"})).await;
    let made = app.draft_action(&app.user, &draft, "materialize").await;
    assert_eq!(made.status(), 201);
    draft
}

#[tokio::test]
async fn deliveries_failing_together_come_back_apart_within_a_quarter_more() {
    let (_receiver, app) = app_answering(Answer::Status(500), |_| {}).await;
    for _ in 0..8 {
        materialize(&app).await;
    }
    // The runner's first pass at start may have taken the first one.
    app.run_webhooks().await;
    let failed = "SELECT count(*) FROM job_attempts WHERE status = 500";
    wait_until("every delivery failed once", || async {
        app.count(failed).await == 8
    })
    .await;
    let waits: Vec<f64> = app
        .column(
            "SELECT (extract(epoch FROM run_after - updated_at) * 1000)::float8
             FROM jobs WHERE task = 'webhook.delivery'",
        )
        .await;
    assert!(
        waits.iter().all(|w| (10_000.0..=12_501.0).contains(w)),
        "the backoff, and at most a quarter more: {waits:?}"
    );
    let distinct: std::collections::HashSet<i64> = waits.iter().map(|w| *w as i64).collect();
    assert!(distinct.len() >= 6, "not all at once: {waits:?}");
}

/// The event due now, attempted once more, answered `answer`: its next wait.
async fn retry_answered(app: &TestApp, receiver: &Receiver, answer: Answer) -> f64 {
    receiver.answer(answer);
    app.db
        .execute("UPDATE jobs SET run_after = now()", &[])
        .await
        .unwrap();
    assert_eq!(app.run_webhooks().await.retried, 1);
    first_wait_ms(app).await
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_or_as_a_date_up_to_an_hour() {
    let (receiver, app) = app_answering(Answer::RetryAfter(429, "120".into()), |c| {
        c.webhook.max_attempts = 10;
    })
    .await;
    materialize(&app).await;
    let retry = |answer| retry_answered(&app, &receiver, answer);
    let near = |ms: f64, secs: f64| (ms / 1000.0 - secs).abs() < 2.0;

    let wait = retry(Answer::RetryAfter(429, "120".into())).await;
    assert!(near(wait, 120.0), "429 with seconds: {wait} ms");
    let date = (chrono::Utc::now() + chrono::Duration::seconds(600))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let wait = retry(Answer::RetryAfter(503, date)).await;
    assert!(near(wait, 600.0), "503 with an HTTP-date: {wait} ms");
    let wait = retry(Answer::RetryAfter(429, "86400".into())).await;
    assert!(near(wait, 3600.0), "capped at an hour: {wait} ms");
    // Without the header, or on another status, the backoff decides: 10 s
    // doubled per attempt, with up to a quarter more.
    for answer in [Answer::Status(429), Answer::RetryAfter(500, "1".into())] {
        let wait = retry(answer.clone()).await;
        let attempts: i32 = app
            .db
            .query_one("SELECT attempts FROM jobs", &[])
            .await
            .unwrap()
            .get(0);
        let base = 10_000.0 * f64::from(1 << (attempts - 1));
        assert!(
            (base..=base * 1.25 + 1.0).contains(&wait),
            "{answer:?}, attempt {attempts}: {wait} ms"
        );
    }
}

#[tokio::test]
async fn the_purge_wakes_the_deliveries_of_what_it_erased() {
    let (receiver, app) = app_answering(Answer::Status(204), |_| {}).await;
    let draft = materialize(&app).await;
    let course = app.draft_action(&app.user, &draft, "submit").await;
    let course = course.json::<Value>().await.unwrap()["courseId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/courses/{course}");
    assert_eq!(
        app.call(Method::DELETE, &path, &app.user).await.status(),
        200
    );
    app.set_purge_at(&course, -1.0).await;
    assert!(
        receiver.deliveries().is_empty(),
        "nothing woke the runner yet"
    );

    assert_eq!(app.run_purge(false).await.processed, 1);
    // The runner's own loop delivers, woken by the purge: its poll is an hour.
    wait_until("the purged course is told deleted", || async {
        receiver
            .accepted()
            .iter()
            .any(|d| d.kind() == "course.deleted")
    })
    .await;
    let kinds: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|d| d.kind().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "course.materialized",
            "course.submitted",
            "course.trashed",
            "course.deleted"
        ]
    );
}

#[tokio::test]
async fn an_events_attempts_are_kept_twenty_at_most_shown_and_pruned_with_it() {
    let (receiver, app) = app_answering(Answer::Status(500), |c| {
        c.webhook.max_attempts = 25;
        c.webhook.backoff_ms = 0;
    })
    .await;
    materialize(&app).await;
    // Each failure is due again at once: one step runs all 25 attempts.
    assert_eq!(app.run_webhooks().await.dead, 1);
    let id = receiver.deliveries()[0].webhook_id.clone();
    let path = format!("/api/v1/admin/webhooks/events/{id}");
    let event = app.admin(Method::GET, &path).await;
    assert_eq!(
        (event["id"].as_str(), event["type"].as_str()),
        (Some(id.as_str()), Some("course.materialized"))
    );
    assert_eq!(event["status"], "dead");
    assert_eq!(event["data"]["userId"], app.user.id.to_string());
    let attempts = event["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 20, "the newest 20 of 25");
    assert_eq!(
        (
            attempts[0]["attempt"].as_i64(),
            attempts[19]["attempt"].as_i64()
        ),
        (Some(25), Some(6))
    );
    for attempt in attempts {
        assert_eq!(
            (attempt["status"].as_i64(), attempt["error"].as_str()),
            (Some(500), Some("answered 500"))
        );
        assert!(attempt["durationMs"].as_i64().is_some_and(|ms| ms >= 0));
        assert!(attempt["startedAt"].is_string());
    }

    // Redriven and delivered: the success is an attempt too.
    receiver.answer(Answer::Status(204));
    app.admin(Method::POST, "/api/v1/admin/cleanup/retry").await;
    // The redrive woke the runner too: its delivery or this step's.
    app.run_webhooks().await;
    let done = "SELECT count(*) FROM jobs WHERE status = 'done'";
    wait_until("the event is delivered", || async {
        app.count(done).await == 1
    })
    .await;
    let event = app.admin(Method::GET, &path).await;
    assert_eq!(event["status"], "delivered");
    assert!(event["deliveredAt"].is_string());
    assert_eq!(event["attempts"][0]["status"], 204);
    assert!(event["attempts"][0]["error"].is_null());
    assert_eq!(event["attempts"].as_array().map(Vec::len), Some(20));

    // Unknown, or not a service caller.
    let unknown = format!("/api/v1/admin/webhooks/events/{}", Uuid::new_v4());
    assert_eq!(
        app.call(Method::GET, &unknown, &service_user())
            .await
            .status(),
        404
    );
    assert_eq!(app.call(Method::GET, &path, &app.user).await.status(), 403);
    let malformed = "/api/v1/admin/webhooks/events/not-a-uuid";
    assert_eq!(
        app.call(Method::GET, malformed, &service_user())
            .await
            .status(),
        404
    );

    // A week later the event goes, and its attempts with it.
    app.db
        .execute(
            "UPDATE jobs SET finished_at = now() - interval '8 days'",
            &[],
        )
        .await
        .unwrap();
    app.tick_webhooks().await;
    assert_eq!(
        app.call(Method::GET, &path, &service_user()).await.status(),
        404
    );
    assert_eq!(app.count("SELECT count(*) FROM job_attempts").await, 0);
}

/// A rolling upgrade: rows an old replica wrote to the old tables are moved
/// into the queue and run, a course's events in their order across both.
#[tokio::test]
async fn rows_an_old_replica_left_are_carried_out_in_order() {
    let (receiver, app) = app_answering(Answer::Status(204), |_| {}).await;
    let draft = materialize(&app).await;
    let course: Uuid = app.draft(&app.user, &draft).await["courseId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // An old replica recorded an event of the course and holds its lease.
    let legacy: Uuid = app
        .db
        .query_one(
            "INSERT INTO webhook_events (course_id, type, data, next_attempt_at)
             VALUES ($1, 'course.trashed', jsonb_build_object('courseId', $2::text),
                     now() + interval '1 hour')
             RETURNING webhook_id",
            &[&course, &course.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        app.draft_action(&app.user, &draft, "submit").await.status(),
        200
    );
    app.run_webhooks().await;
    let kinds = || {
        receiver
            .accepted()
            .iter()
            .map(|d| d.kind().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(),
        ["course.materialized"],
        "the leased old event holds the course back"
    );

    // Its lease ends (the old replica is gone): it moves in, keeps its place.
    app.db
        .execute("UPDATE webhook_events SET next_attempt_at = now()", &[])
        .await
        .unwrap();
    app.run_webhooks().await;
    assert_eq!(
        kinds(),
        ["course.materialized", "course.trashed", "course.submitted"]
    );
    assert_eq!(receiver.accepted()[1].webhook_id, legacy.to_string());

    // A dead cleanup job of the old replica shows as before, its error kept.
    let key = format!("{}/{course}/{}", app.user.org, Uuid::new_v4());
    app.db
        .execute(
            "INSERT INTO cleanup_jobs (kind, target, course_id, reason, status, attempts,
                                       max_attempts, last_error)
             VALUES ('storage_object', $2, $1, 'file', 'dead', 3, 3, 'disk full')",
            &[&course, &key],
        )
        .await
        .unwrap();
    app.run_cleanup().await;
    let stats = app.admin(Method::GET, "/api/v1/admin/stats").await;
    let dead = &stats["deadJobs"][0];
    assert_eq!(
        (dead["kind"].as_str(), dead["target"].as_str()),
        (Some("storage_object"), Some(key.as_str()))
    );
    assert_eq!(
        (dead["reason"].as_str(), dead["lastError"].as_str()),
        (Some("file"), Some("disk full"))
    );
    assert_eq!(stats["cleanupJobsDead"], 1);
    let left = "SELECT (SELECT count(*) FROM cleanup_jobs) + (SELECT count(*) FROM webhook_events)";
    assert_eq!(app.count(left).await, 0);
}

/// A task enqueued from Rust (the trait's name, payload, course and
/// ordering key) runs like one a change's SQL enqueued.
#[tokio::test]
async fn a_task_enqueued_on_its_own_runs_like_the_others() {
    let app = TestApp::spawn().await;
    let draft: Uuid = app
        .draft_id(&app.user, json!({"topic": "Enqueued"}))
        .await
        .parse()
        .unwrap();
    let step = DraftSession {
        course_id: Uuid::new_v4().into(),
        user_id: app.user.id.into(),
        draft_id: draft.into(),
        reason: DeletionReason::Janitor,
    };
    let id = app.enqueue(&step).await;
    let row = app
        .db
        .query_one(
            "SELECT task, payload, ordering_key FROM jobs WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "cleanup.draft_session");
    assert_eq!(row.get::<_, Value>(1)["draftId"], draft.to_string());
    assert_eq!(row.get::<_, Option<Uuid>>(2), None);
    app.run_cleanup().await;
    let gone = app.get_draft(&app.user, &draft.to_string()).await;
    assert_eq!(gone.status(), 404, "its Redis keys went");
}
