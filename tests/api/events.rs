//! A draft's event stream (`GET /api/v1/drafts/{id}/events`): changes made
//! through one replica reach a stream on another, in order; submit and
//! discard end it; the token's expiry and a SIGTERM end it too; streams are
//! bounded per user and in all, and every slot comes back.

use std::time::Duration;

use draftd::http::auth::Claims;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{
    assert_problem, new_user, token_for, wait_until, ScratchDir, TestApp, TestUser,
};
use crate::servers::{free_port, redis_server};
use crate::sse::{EventReader, Frame};

impl TestApp {
    /// Opens the draft's event stream and reads its hello.
    pub async fn stream(&self, user: &TestUser, id: &str) -> (EventReader, Value) {
        let response = self.open_stream(user, id).await;
        let mut reader = EventReader::new(response);
        let (event, hello) = reader.event().await;
        assert_eq!(event, "hello");
        (reader, hello)
    }

    pub async fn open_stream(&self, user: &TestUser, id: &str) -> reqwest::Response {
        self.call(Method::GET, &format!("/api/v1/drafts/{id}/events"), user)
            .await
    }
}

/// The app, with heartbeats every second.
async fn app_with(adjust: impl FnOnce(&mut draftd::config::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.events.heartbeat_secs = 1;
        adjust(c);
    })
    .await
}

#[tokio::test]
async fn changes_through_one_replica_reach_a_stream_on_another_in_order() {
    let app = app_with(|_| {}).await;
    let replica = app_with(|_| {}).await;
    let user = &app.user;
    let draft = app.new_draft(user, json!({"topic": "Live"})).await;
    let id = draft["id"].as_str().unwrap();

    let (mut stream, hello) = replica.stream(user, id).await;
    assert_eq!(hello, json!({"version": 1, "status": "open"}));
    assert_eq!(
        app.draft(user, id).await["expiresAt"],
        draft["expiresAt"],
        "a stream is a read: it keeps no draft alive"
    );

    let saved = app
        .patch_draft(user, id, json!({"topic": "Live, again"}), Some("\"1\""))
        .await;
    assert_eq!(saved.status(), 200);
    let saved = app
        .patch_draft(user, id, json!({"description": "d", "topic": null}), None)
        .await;
    assert_eq!(saved.status(), 200);
    let first = stream.frame().await.unwrap();
    assert_eq!(
        first,
        Frame::Event {
            event: "saved".into(),
            id: Some("2".into()),
            data: r#"{"type":"saved","version":2,"patch":{"topic":"Live, again"}}"#.into()
        }
    );
    let (event, second) = stream.event().await;
    assert_eq!(event, "saved");
    assert_eq!(
        second,
        json!({"type": "saved", "version": 3, "patch": {"description": "d", "topic": null}})
    );

    // With nothing to tell, a heartbeat.
    assert_eq!(
        stream.frame().await,
        Some(Frame::Comment("keep-alive".into()))
    );

    let materialized = app.draft_action(user, id, "materialize").await;
    assert_eq!(materialized.status(), 201);
    let course: Value = materialized.json().await.unwrap();
    let (event, data) = stream.event().await;
    assert_eq!(event, "materialized");
    assert_eq!(
        data,
        json!({"type": "materialized", "version": 3,
               "courseId": course["courseId"], "courseSlug": course["courseSlug"]})
    );

    // A second stream, opened now, says where the draft is.
    let (mut other, hello) = app.stream(user, id).await;
    assert_eq!(hello, json!({"version": 3, "status": "materialized"}));

    let saved = app
        .patch_draft(user, id, json!({"topic": "Final"}), None)
        .await;
    assert_eq!(saved.status(), 200);
    assert_eq!(stream.event().await.1["version"], 4);
    assert_eq!(other.event().await.1["version"], 4);
    let submitted = app.draft_action(user, id, "submit").await;
    assert_eq!(submitted.status(), 200);
    for stream in [&mut stream, &mut other] {
        let (event, data) = stream.event().await;
        assert_eq!(event, "submitted");
        assert_eq!(
            data,
            json!({"type": "submitted", "version": 4, "courseId": course["courseId"]})
        );
        stream.assert_ends().await;
    }

    // The stream of a submitted draft says so and ends.
    let (mut late, hello) = app.stream(user, id).await;
    assert_eq!(hello, json!({"version": 4, "status": "submitted"}));
    late.assert_ends().await;
}

#[tokio::test]
async fn discard_ends_the_stream_with_discarded() {
    let app = app_with(|_| {}).await;
    let id = app.draft_id(&app.user, json!({})).await;
    let (mut stream, _) = app.stream(&app.user, &id).await;
    assert_eq!(app.delete_draft(&app.user, &id).await.status(), 204);
    assert_eq!(
        stream.event().await,
        ("discarded".into(), json!({"type": "discarded"}))
    );
    stream.assert_ends().await;
    assert_problem(app.open_stream(&app.user, &id).await, 410).await;
}

#[tokio::test]
async fn a_foreign_or_missing_draft_has_no_stream() {
    let app = app_with(|_| {}).await;
    let id = app.draft_id(&app.user, json!({})).await;
    let same_user_other_org = token_for(Claims {
        sub: Some(app.user.id),
        org_id: Some(Uuid::new_v4()),
        role: None,
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    });
    for user in [&new_user(), &same_user_other_org] {
        let foreign = assert_problem(app.open_stream(user, &id).await, 404).await;
        let missing = assert_problem(
            app.open_stream(user, &Uuid::new_v4().to_string()).await,
            404,
        )
        .await;
        assert_eq!(foreign, missing);
    }
    assert_problem(app.open_stream(&app.user, "not-a-uuid").await, 404).await;
}

#[tokio::test]
async fn streams_are_bounded_per_user_and_in_all_and_a_closed_one_frees_its_slot() {
    let app = app_with(|c| {
        c.events.per_user = 2;
        c.events.max = 3;
    })
    .await;
    let (a, b, c) = (&app.user, &new_user(), &new_user());
    let draft_of = |user| app.draft_id(user, json!({}));
    let (da, db, dc) = (draft_of(a).await, draft_of(b).await, draft_of(c).await);

    let first = app.stream(a, &da).await;
    let _second = app.stream(a, &da).await;
    let refused = app.open_stream(a, &da).await;
    assert_eq!(refused.headers()["retry-after"], "10");
    let problem = assert_problem(refused, 429).await;
    assert_eq!(problem["type"], "urn:draftd:problem:too-many-streams");
    assert!(problem["detail"].as_str().unwrap().contains("this user"));

    let _third = app.stream(b, &db).await;
    let problem = assert_problem(app.open_stream(c, &dc).await, 429).await;
    assert!(problem["detail"].as_str().unwrap().contains("the service"));

    drop(first);
    wait_until("the closed stream's slot is free", || async {
        app.open_stream(c, &dc).await.status() == 200
    })
    .await;
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = app_with(|_| {}).await;
    let id = app.draft_id(&app.user, json!({})).await;
    let short = token_for(Claims {
        sub: Some(app.user.id),
        org_id: Some(app.user.org),
        role: None,
        exp: chrono::Utc::now().timestamp() + 2,
        iat: Some(chrono::Utc::now().timestamp()),
    });
    let (mut stream, _) = app.stream(&short, &id).await;
    assert_eq!(stream.event().await, ("expired".into(), json!({})));
    stream.assert_ends().await;
}

#[tokio::test]
async fn a_lost_subscriber_connection_ends_every_stream_and_the_next_reconnects() {
    let port = free_port();
    let dir = ScratchDir::new("live");
    let _redis = redis_server(port, &dir, &[]).await;
    let app = app_with(|c| c.redis_url = format!("redis://127.0.0.1:{port}")).await;
    let (first, second) = (
        app.draft_id(&app.user, json!({})).await,
        app.draft_id(&app.user, json!({})).await,
    );
    let (mut a, _) = app.stream(&app.user, &first).await;
    let (mut b, _) = app.stream(&app.user, &second).await;
    let killed: i64 = deadpool_redis::redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "pubsub"])
        .query_async(&mut app.redis().await)
        .await
        .unwrap();
    assert_eq!(killed, 1, "one subscriber connection for both streams");
    a.assert_ends().await;
    b.assert_ends().await;

    let (mut again, hello) = app.stream(&app.user, &first).await;
    assert_eq!(hello["version"], 1);
    let saved = app.patch_draft(&app.user, &first, json!({"topic": "Back"}), None);
    assert_eq!(saved.await.status(), 200);
    assert_eq!(again.event().await.1["version"], 2);
}

#[tokio::test]
async fn without_redis_a_stream_is_refused_for_now() {
    let app = TestApp::spawn_without_redis().await;
    let id = app.draft_id(&app.user, json!({})).await; // kept in Postgres
    let refused = app.open_stream(&app.user, &id).await;
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_problem(refused, 503).await;
}

/// `draftd serve`, a process of its own: its metrics are its own.
struct Served {
    child: tokio::process::Child,
    app: TestApp,
}

impl Served {
    /// A process on `app`'s stores, reached through a copy of `app` that
    /// points at it.
    async fn start(app: TestApp) -> Served {
        let port = free_port();
        let child = tokio::process::Command::from(app.serve_command(port))
            .env("DRAFTD_EVENTS_HEARTBEAT_SECS", "1")
            // Slack for the cycles: a closed stream is counted out once the
            // service reads its EOF, a moment after the client closed it.
            .env("DRAFTD_EVENTS_PER_USER", "50")
            .env("DRAFTD_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("draftd starts");
        let mut app = app;
        app.address = format!("http://127.0.0.1:{port}");
        wait_until("the service starts", || async {
            app.client
                .get(format!("{}/healthz", app.address))
                .send()
                .await
                .is_ok()
        })
        .await;
        Served { child, app }
    }

    async fn open_streams(&self) -> f64 {
        let metrics = self.app.get_public("/metrics").await.text().await.unwrap();
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("draftd_event_streams_open "))
            .map_or(0.0, |value| value.parse().unwrap())
    }
}

#[tokio::test]
async fn connect_disconnect_cycles_leave_no_stream_and_no_subscription() {
    let served = Served::start(TestApp::spawn().await).await;
    let app = &served.app;
    let id = app.draft_id(&app.user, json!({})).await;
    for cycle in 0..200 {
        if cycle % 2 == 0 {
            drop(app.stream(&app.user, &id).await);
        } else {
            drop(app.open_stream(&app.user, &id).await);
        }
    }
    // Closing is the client's: the service learns of it when it reads the
    // socket, so its count is awaited.
    wait_until("no stream is open", || async {
        served.open_streams().await == 0.0
    })
    .await;
    let channel =
        draftd::stores::redis::keys::events_channel(app.user.id.into(), id.parse().unwrap());
    let redis = app.redis().await;
    wait_until("the draft's channel is unsubscribed", || {
        let (channel, mut redis) = (channel.clone(), redis.clone());
        async move {
            let counts: (String, i64) = deadpool_redis::redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&channel)
                .query_async(&mut redis)
                .await
                .unwrap();
            counts.1 == 0
        }
    })
    .await;
    // And the hub subscribes it again for the next stream.
    let (mut stream, _) = app.stream(&app.user, &id).await;
    let saved = app.patch_draft(&app.user, &id, json!({"topic": "Again"}), None);
    assert_eq!(saved.await.status(), 200);
    assert_eq!(stream.event().await.0, "saved");
}

#[tokio::test]
async fn sigterm_with_streams_open_exits_promptly() {
    let mut served = Served::start(TestApp::spawn().await).await;
    let app = &served.app;
    let id = app.draft_id(&app.user, json!({})).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(app.stream(&app.user, &id).await.0);
    }
    assert_eq!(served.open_streams().await, 3.0);

    let pid = served.child.id().unwrap().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    let exit = tokio::time::timeout(Duration::from_secs(5), served.child.wait())
        .await
        .expect("exits within 5 s of SIGTERM, not after the 30 s drain timeout")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    for stream in &mut streams {
        stream.assert_ends().await;
    }
}
