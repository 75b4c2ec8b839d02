//! Lifecycle events (SPEC "Events", invariant 9): recorded with each change,
//! delivered to a real receiver signed per Standard Webhooks, at least once
//! and in order per course; retries, dead events, redrive, and a killed
//! service.

use draftd::config::Config;
use reqwest::Method;
use serde_json::{json, Value};

use crate::erase::{erase_to_end, member_of, Whose};
use crate::helpers::{json_of, wait_until, TestApp, TestUser};
use crate::receiver::{new_secret, verifies, Answer, Delivery, Receiver};
use crate::servers::{free_port, ServerProcess};

/// The app with its webhook pointed at `receiver`, signing with `secrets`.
pub(crate) async fn spawn_with_hook(
    receiver: &Receiver,
    secrets: &[&str],
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    TestApp::spawn_with(|c| {
        c.webhook.url = Some(receiver.url.clone());
        c.webhook.secret = Some(secrets.join(","));
        c.webhook.poll_ms = 50;
        c.webhook.backoff_ms = 200;
        adjust(c);
    })
    .await
}

/// The outbox, in order: (type, status, attempts).
async fn outbox(app: &TestApp) -> Vec<(String, String, i32)> {
    app.db
        .query(
            "SELECT payload->>'type', status, attempts FROM jobs WHERE task = 'webhook.delivery' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

fn kinds(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.kind().to_owned()).collect()
}

/// Creates a draft, uploads a file, submits, trashes, restores, deletes the
/// file and erases the course, all as `user`; returns the draft
/// id, the course id and the file id.
async fn full_lifecycle(app: &TestApp, user: &TestUser) -> (String, String, String) {
    let draft = app
        .draft_id(user, json!({"topic": "Rust for analysts"}))
        .await;
    let file: Value = app
        .upload_text(user, &draft, "notes.txt", b"vectors come from here")
        .await
        .json()
        .await
        .unwrap();
    let file_id = file["id"].as_str().unwrap().to_owned();
    let submitted = app.draft_action(user, &draft, "submit").await;
    assert_eq!(submitted.status(), 200);
    let course = submitted.json::<Value>().await.unwrap()["courseId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/courses/{course}");
    assert_eq!(app.call(Method::DELETE, &path, user).await.status(), 200);
    let restore = format!("{path}/restore");
    assert_eq!(app.call(Method::POST, &restore, user).await.status(), 200);
    let file_path = format!("/api/v1/drafts/{draft}/files/{file_id}");
    assert_eq!(
        app.call(Method::DELETE, &file_path, user).await.status(),
        204
    );
    let erase = format!("{path}?permanent=true");
    assert_eq!(app.call(Method::DELETE, &erase, user).await.status(), 204);
    (draft, course, file_id)
}

#[tokio::test]
async fn a_courses_life_arrives_in_order_signed_by_every_secret() {
    let receiver = Receiver::start(Answer::Status(204)).await;
    let ((old, old_key), (new, new_key)) = (new_secret(), new_secret());
    // Rotation: the new secret beside the old one; each signs.
    let app = spawn_with_hook(&receiver, &[&old, &new], |_| {}).await;
    let user = &app.user;
    let (draft, course, file) = full_lifecycle(&app, user).await;

    wait_until("seven events are delivered", || async {
        receiver.accepted().len() == 7
    })
    .await;
    let deliveries = receiver.deliveries();
    assert_eq!(
        kinds(&deliveries),
        [
            "course.materialized",
            "file.uploaded",
            "course.submitted",
            "course.trashed",
            "course.restored",
            "file.deleted",
            "course.deleted",
        ]
    );
    let statuses = [
        "draft",
        "draft",
        "submitted",
        "submitted",
        "submitted",
        "submitted",
        "submitted",
    ];
    let now = chrono::Utc::now().timestamp();
    for (delivery, status) in deliveries.iter().zip(statuses) {
        let kind = delivery.kind();
        assert!(verifies(delivery, &old_key), "{kind}: the old secret's");
        assert!(verifies(delivery, &new_key), "{kind}: the new secret's");
        assert_eq!(delivery.signature.split(' ').count(), 2);
        assert!((now - delivery.timestamp).abs() < 120, "{kind}: timestamp");
        let data = &delivery.body["data"];
        assert_eq!(data["courseId"], course, "{kind}");
        assert_eq!(data["organizationId"], user.org.to_string(), "{kind}");
        assert_eq!(data["userId"], user.id.to_string(), "{kind}");
        assert_eq!(data["draftSessionId"], draft, "{kind}");
        assert_eq!(data["status"], status, "{kind}");
        if kind.starts_with("file.") {
            assert_eq!(data["fileId"], file, "{kind}");
        } else {
            assert!(data.get("fileId").is_none(), "{kind}");
        }
        let at = delivery.body["timestamp"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    }
    let ids: std::collections::HashSet<&str> =
        deliveries.iter().map(|d| d.webhook_id.as_str()).collect();
    assert_eq!(ids.len(), 7, "one webhook-id per event");
    // The worker records a delivery once the receiver's answer is back.
    wait_until("the outbox records every event delivered", || async {
        outbox(&app)
            .await
            .iter()
            .all(|(_, status, _)| status == "done")
    })
    .await;
}

#[tokio::test]
async fn failures_back_off_then_die_and_hold_the_course_back_until_redriven() {
    let receiver = Receiver::start(Answer::Status(500)).await;
    let (secret, key) = new_secret();
    // The worker runs when the test says (or when a redrive wakes it).
    let app = spawn_with_hook(&receiver, &[&secret], |c| {
        c.webhook.max_attempts = 3;
        c.webhook.poll_ms = 3_600_000;
    })
    .await;
    let draft = app.draft_id(&app.user, json!({"topic": "Backoff"})).await;
    let made = app.draft_action(&app.user, &draft, "materialize").await;
    assert_eq!(made.status(), 201);

    // The stored next attempt moves further out after each failure.
    let gap = "SELECT attempts, status,
                   (extract(epoch FROM run_after - updated_at) * 1000)::float8
               FROM jobs WHERE task = 'webhook.delivery' ORDER BY id LIMIT 1";
    let due = "SELECT count(*) FROM jobs WHERE task = 'webhook.delivery' AND run_after <= now()";
    let mut gaps = Vec::new();
    for attempt in 1..=3 {
        wait_until("the event is due", || async { app.count(due).await == 1 }).await;
        let pass = app.run_webhooks().await;
        let row = app.db.query_one(gap, &[]).await.unwrap();
        let (attempts, status, ms): (i32, String, f64) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(attempts, attempt);
        if attempt < 3 {
            assert_eq!((pass.retried, status.as_str()), (1, "pending"));
            gaps.push(ms);
        } else {
            assert_eq!((pass.dead, status.as_str()), (1, "dead"));
        }
    }
    // 200 ms, then 400 ms, each with up to a quarter more (the jitter).
    assert!(
        (199.0..=251.0).contains(&gaps[0]) && (399.0..=501.0).contains(&gaps[1]),
        "the backoff doubles, with jitter: {gaps:?}"
    );

    // The course's next event waits behind the dead one.
    assert_eq!(
        app.draft_action(&app.user, &draft, "submit").await.status(),
        200
    );
    let pass = app.run_webhooks().await;
    assert_eq!((pass.done, pass.retried, pass.dead), (0, 0, 0));
    assert!(receiver
        .deliveries()
        .iter()
        .all(|d| d.kind() == "course.materialized"));
    let stats = app.admin(Method::GET, "/api/v1/admin/stats").await;
    assert_eq!(
        (&stats["webhookEventsPending"], &stats["webhookEventsDead"]),
        (&json!(1), &json!(1))
    );

    receiver.answer(Answer::Status(200));
    let retried = app.admin(Method::POST, "/api/v1/admin/cleanup/retry").await;
    assert_eq!(retried["eventsRetried"], 1);
    wait_until("both events are delivered", || async {
        receiver.accepted().len() == 2
    })
    .await;
    assert_eq!(
        kinds(&receiver.accepted()),
        ["course.materialized", "course.submitted"]
    );
    // Four deliveries of the first event: one id, one body, each signed.
    let first: Vec<Delivery> = receiver
        .deliveries()
        .into_iter()
        .filter(|d| d.kind() == "course.materialized")
        .collect();
    assert_eq!(first.len(), 4);
    assert!(first.iter().all(|d| d.webhook_id == first[0].webhook_id));
    assert!(first.iter().all(|d| d.raw == first[0].raw));
    assert!(first.iter().all(|d| verifies(d, &key)));
    // The worker records a delivery once the receiver's answer is back.
    wait_until("the stats count no pending or dead event", || async {
        let stats = app.admin(Method::GET, "/api/v1/admin/stats").await;
        (&stats["webhookEventsPending"], &stats["webhookEventsDead"]) == (&json!(0), &json!(0))
    })
    .await;
}

#[tokio::test]
async fn a_410_kills_the_delivery_at_once() {
    let receiver = Receiver::start(Answer::Status(410)).await;
    let (secret, _) = new_secret();
    let app = spawn_with_hook(&receiver, &[&secret], |c| {
        c.webhook.poll_ms = 3_600_000;
    })
    .await;
    let draft = app.draft_id(&app.user, json!({})).await;
    app.draft_action(&app.user, &draft, "materialize").await;
    let pass = app.run_webhooks().await;
    assert_eq!((pass.dead, pass.retried), (1, 0));
    assert_eq!(
        outbox(&app).await,
        [("course.materialized".into(), "dead".into(), 1)]
    );
    assert_eq!(receiver.deliveries().len(), 1);
}

#[tokio::test]
async fn an_erase_counts_its_courses_events_and_redrives_their_dead_ones() {
    let receiver = Receiver::start(Answer::Status(410)).await;
    let (secret, _) = new_secret();
    let app = spawn_with_hook(&receiver, &[&secret], |c| {
        c.webhook.poll_ms = 3_600_000;
    })
    .await;
    let user = &app.user;
    // Announcements that died (410): one of the organization's courses, and
    // one of another organization, which the erase must leave alone.
    let other = member_of(uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (dead, theirs) = (
        app.draft_id(user, json!({})).await,
        app.draft_id(&other, json!({})).await,
    );
    app.draft_action(user, &dead, "materialize").await;
    app.draft_action(&other, &theirs, "materialize").await;
    assert_eq!(app.run_webhooks().await.dead, 2);
    // And one still to deliver.
    let pending = app.draft_id(user, json!({})).await;
    app.draft_action(user, &pending, "materialize").await;

    let state = erase_to_end(&app, Whose::Org(user.org)).await;
    assert_eq!(state["status"], "done", "{state}");
    let report = &state["report"];
    let tally = |item: &str| {
        let t = &report["counts"][item];
        (t["before"].clone(), t["after"].clone())
    };
    assert_eq!(tally("eventsDead"), (json!(1), json!(0)), "{report}");
    // After: both announcements, and a course.deleted for each course.
    assert_eq!(tally("eventsPending"), (json!(1), json!(4)), "{report}");
    assert_eq!(report["integrity"]["clean"], true, "on their way: {report}");
    assert_eq!(report["integrity"]["redrivenEvents"], 1);

    receiver.answer(Answer::Status(204));
    assert_eq!(app.run_webhooks().await.done, 4);
    for draft in [&dead, &pending] {
        let of_course: Vec<String> = receiver
            .accepted()
            .iter()
            .filter(|d| d.body["data"]["draftSessionId"] == **draft)
            .map(|d| d.kind().to_owned())
            .collect();
        assert_eq!(of_course, ["course.materialized", "course.deleted"]);
    }
    let still_dead = app
        .count("SELECT count(*) FROM jobs WHERE task = 'webhook.delivery' AND status = 'dead'")
        .await;
    assert_eq!(still_dead, 1, "the other organization's event stays dead");
}

#[tokio::test]
async fn without_a_url_nothing_is_recorded() {
    let app = TestApp::spawn().await;
    full_lifecycle(&app, &app.user).await;
    let kept = app.draft_id(&app.user, json!({})).await;
    app.draft_action(&app.user, &kept, "materialize").await;
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE task = 'webhook.delivery'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM courses WHERE announced_at IS NOT NULL")
            .await,
        0
    );
    let stats = app.admin(Method::GET, "/api/v1/admin/stats").await;
    assert_eq!(stats["webhookEventsPending"], 0);
}

#[tokio::test]
async fn a_degraded_draft_is_announced_when_materialized_and_told_deleted() {
    let receiver = Receiver::start(Answer::Status(200)).await;
    let (secret, _) = new_secret();
    let app = spawn_with_hook(&receiver, &[&secret], |c| {
        c.redis_url = "redis://127.0.0.1:1".into();
        c.store_timeout_ms = 500;
        c.webhook.poll_ms = 3_600_000;
    })
    .await;
    // Opened in Postgres: its row exists, but nothing is announced yet.
    let unused = app.new_draft(&app.user, json!({})).await;
    let used = app.new_draft(&app.user, json!({})).await;
    assert_eq!(used["store"], "postgres");
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE task = 'webhook.delivery'")
            .await,
        0
    );

    let used = used["id"].as_str().unwrap();
    let made = app.draft_action(&app.user, used, "materialize").await;
    assert_eq!(made.status(), 200);
    for draft in [used, unused["id"].as_str().unwrap()] {
        assert_eq!(app.delete_draft(&app.user, draft).await.status(), 204);
    }
    // The deletions woke the runner too: its delivery or this step's.
    app.run_webhooks().await;
    wait_until("the used draft's two events are delivered", || async {
        receiver.accepted().len() >= 2
    })
    .await;
    assert_eq!(
        kinds(&receiver.accepted()),
        ["course.materialized", "course.deleted"],
        "the unused one was never announced, so it is not told deleted"
    );
    assert_eq!(receiver.accepted()[0].body["data"]["draftSessionId"], used);
}

#[tokio::test]
async fn a_service_killed_mid_delivery_delivers_after_restart() {
    let receiver = Receiver::start(Answer::Hold).await;
    let (secret, key) = new_secret();
    // The in-process app records nothing (no URL): only the binary does.
    let app = TestApp::spawn().await;
    let serve = |port: u16| {
        let mut command = app.serve_command(port);
        command
            .env("DRAFTD_WEBHOOK_URL", &receiver.url)
            .env("DRAFTD_WEBHOOK_SECRET", &secret)
            .env("DRAFTD_WEBHOOK_TIMEOUT_MS", "3000")
            .env("DRAFTD_WEBHOOK_POLL_MS", "50");
        command
    };
    let port = free_port();
    let mut service = ServerProcess::start(serve(port), port).await;
    let base = format!("http://127.0.0.1:{port}/api/v1/drafts");
    let client = reqwest::Client::new();
    let create = client
        .post(&base)
        .bearer_auth(&app.user.token)
        .json(&json!({"formData": {"topic": "Crash course"}}));
    let draft = json_of(create).await;
    let draft = draft["id"].as_str().unwrap();
    for action in ["materialize", "submit"] {
        let answer = client
            .post(format!("{base}/{draft}/{action}"))
            .bearer_auth(&app.user.token)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{action}");
    }
    wait_until("the receiver holds the first delivery", || async {
        receiver.deliveries().len() == 1
    })
    .await;
    service.stop(); // SIGKILL, mid-delivery
    receiver.answer(Answer::Status(200));

    let port = free_port();
    let _restarted = ServerProcess::start(serve(port), port).await;
    // The killed attempt's lease (2 x 3 s + the store timeout) runs out first.
    let delivered = "SELECT count(*) FROM jobs WHERE task = 'webhook.delivery' AND status = 'done'";
    wait_until("both events are delivered", || async {
        app.count(delivered).await == 2
    })
    .await;
    let deliveries = receiver.deliveries();
    assert_eq!(
        kinds(&deliveries),
        [
            "course.materialized",
            "course.materialized",
            "course.submitted"
        ]
    );
    assert_eq!(deliveries[0].webhook_id, deliveries[1].webhook_id);
    assert!(deliveries.iter().all(|d| verifies(d, &key)));
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE task = 'webhook.delivery'")
            .await,
        2
    );
}
