//! `Idempotency-Key` on POST /api/v1/drafts: the same user (in the same
//! organization) and key within the draft TTL get the same draft back, so a
//! page that replays a create cut off when its tab closed opens one draft.

use futures_util::future::join_all;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::erase::{erase_to_end, member_of, Whose};
use crate::helpers::{assert_problem, TestApp, TestUser};
use deadpool_redis::redis::{self, AsyncCommands};

async fn create_with_key(app: &TestApp, user: &TestUser, key: &str, form: Value) -> Response {
    app.request(Method::POST, "/api/v1/drafts", user)
        .header("idempotency-key", key)
        .json(&json!({ "formData": form }))
        .send()
        .await
        .expect("request sent")
}

async fn live_drafts(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let page = app.get_json(user, "/api/v1/drafts").await;
    page["items"].as_array().expect("items").clone()
}

fn header(response: &Response, name: &str) -> String {
    response.headers()[name].to_str().expect("ascii").to_owned()
}

async fn idempotency_keys(app: &TestApp, user: Uuid) -> Vec<String> {
    let mut redis = app.redis().await;
    redis::cmd("KEYS")
        .arg(draftd::stores::redis::keys::user_idempotency_pattern(
            user.into(),
        ))
        .query_async(&mut redis)
        .await
        .expect("keys")
}

#[tokio::test]
async fn the_same_key_gets_the_same_draft_201_then_200_with_the_same_body() {
    let app = TestApp::spawn().await;
    let key = Uuid::new_v4().to_string();
    let first = create_with_key(&app, &app.user, &key, json!({"topic": "Rust"})).await;
    assert_eq!(first.status(), 201);
    let (location, etag) = (header(&first, "location"), header(&first, "etag"));
    let created: Value = first.json().await.unwrap();

    // Sent again, with another body even: the draft the key opened, as it is.
    let again = create_with_key(&app, &app.user, &key, json!({"topic": "Other"})).await;
    assert_eq!(again.status(), 200);
    assert_eq!(header(&again, "location"), location);
    assert_eq!(header(&again, "etag"), etag);
    assert_eq!(again.json::<Value>().await.unwrap(), created);
    assert_eq!(live_drafts(&app, &app.user).await.len(), 1);

    // A later save shows in the answer: the draft as it is now.
    let id = created["id"].as_str().unwrap();
    let saved = app
        .patch_draft(&app.user, id, json!({"description": "More"}), None)
        .await;
    assert_eq!(saved.status(), 200);
    let now = create_with_key(&app, &app.user, &key, json!({})).await;
    assert_eq!(now.status(), 200);
    assert_eq!(header(&now, "etag"), "\"2\"");
    let now: Value = now.json().await.unwrap();
    assert_eq!(now, app.draft(&app.user, id).await);

    // Another key, or none, opens another draft.
    let other = create_with_key(&app, &app.user, "another-key", json!({})).await;
    assert_eq!(other.status(), 201);
    assert_eq!(app.create_draft(&app.user, json!({})).await.status(), 201);
    assert_eq!(live_drafts(&app, &app.user).await.len(), 3);
}

#[tokio::test]
async fn concurrent_creates_with_one_key_open_one_draft() {
    let app = TestApp::spawn().await;
    let key = Uuid::new_v4().to_string();
    let answers =
        join_all((0..8).map(|_| create_with_key(&app, &app.user, &key, json!({"topic": "Race"}))))
            .await;
    let mut ids = Vec::new();
    let mut statuses = Vec::new();
    for answer in answers {
        statuses.push(answer.status().as_u16());
        let draft: Value = answer.json().await.unwrap();
        ids.push(draft["id"].as_str().unwrap().to_owned());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 201]);
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(live_drafts(&app, &app.user).await.len(), 1);
}

#[tokio::test]
async fn a_key_is_the_users_in_one_organization() {
    let app = TestApp::spawn().await;
    let user = Uuid::new_v4();
    let (here, there) = (
        member_of(user, Uuid::new_v4()),
        member_of(user, Uuid::new_v4()),
    );
    let stranger = member_of(Uuid::new_v4(), here.org);
    let mut ids = Vec::new();
    for who in [&here, &there, &stranger] {
        let answer = create_with_key(&app, who, "shared-key", json!({})).await;
        assert_eq!(answer.status(), 201);
        ids.push(answer.json::<Value>().await.unwrap()["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn the_key_lives_as_long_as_the_draft_ttl() {
    let app = TestApp::spawn().await;
    let answer = create_with_key(&app, &app.user, "ttl-key", json!({})).await;
    assert_eq!(answer.status(), 201);
    let id = answer.json::<Value>().await.unwrap()["id"].clone();
    let key = draftd::stores::redis::keys::idempotency_key(
        app.user.id.into(),
        app.user.org.into(),
        "ttl-key",
    );
    let mut redis = app.redis().await;
    let named: String = redis.get(&key).await.unwrap();
    assert_eq!(json!(named), id);
    let ttl: i64 = redis.pttl(&key).await.unwrap();
    let draft_ttl = i64::try_from(app.config.draft_ttl_secs).unwrap() * 1000;
    assert!(ttl > draft_ttl - 60_000 && ttl <= draft_ttl, "{ttl}");
}

#[tokio::test]
async fn a_key_whose_draft_was_discarded_answers_410_and_one_whose_draft_expired_opens_a_new_one() {
    let app = TestApp::spawn().await;
    let discarded = create_with_key(&app, &app.user, "discarded", json!({})).await;
    let id = discarded.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = app
        .call(Method::DELETE, &format!("/api/v1/drafts/{id}"), &app.user)
        .await;
    assert_eq!(deleted.status(), 204);
    let again = create_with_key(&app, &app.user, "discarded", json!({})).await;
    let problem = assert_problem(again, 410).await;
    assert_eq!(problem["type"], "urn:draftd:problem:draft-discarded");

    // Expired: the draft's key is gone, its idempotency key not yet.
    let first = create_with_key(&app, &app.user, "expired", json!({})).await;
    let old = first.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut redis = app.redis().await;
    let _: () = redis
        .del(crate::helpers::draft_key(&app.user, &old))
        .await
        .unwrap();
    let renewed = create_with_key(&app, &app.user, "expired", json!({})).await;
    assert_eq!(renewed.status(), 201);
    let new = renewed.json::<Value>().await.unwrap()["id"].clone();
    assert_ne!(new, json!(old));
    let replayed = create_with_key(&app, &app.user, "expired", json!({})).await;
    assert_eq!(replayed.status(), 200);
    assert_eq!(replayed.json::<Value>().await.unwrap()["id"], new);
}

#[tokio::test]
async fn a_replay_at_the_cap_gets_its_draft_and_a_new_key_gets_429() {
    let app = TestApp::spawn_with(|config| config.max_drafts_per_user = 1).await;
    assert_eq!(
        create_with_key(&app, &app.user, "first", json!({}))
            .await
            .status(),
        201
    );
    assert_eq!(
        create_with_key(&app, &app.user, "first", json!({}))
            .await
            .status(),
        200
    );
    assert_problem(
        create_with_key(&app, &app.user, "second", json!({})).await,
        429,
    )
    .await;
}

#[tokio::test]
async fn a_malformed_key_is_a_400_and_opens_nothing() {
    let app = TestApp::spawn().await;
    let long = "k".repeat(201);
    for key in ["", "two words", long.as_str(), "tab\there"] {
        let answer = create_with_key(&app, &app.user, key, json!({})).await;
        assert_problem(answer, 400).await;
    }
    let two = app
        .request(Method::POST, "/api/v1/drafts", &app.user)
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(two, 400).await;
    assert_eq!(
        create_with_key(&app, &app.user, &"k".repeat(200), json!({}))
            .await
            .status(),
        201
    );
    assert_eq!(live_drafts(&app, &app.user).await.len(), 1);
}

#[tokio::test]
async fn erasing_a_user_removes_their_idempotency_keys() {
    let app = TestApp::spawn().await;
    let user = member_of(Uuid::new_v4(), Uuid::new_v4());
    let other = member_of(Uuid::new_v4(), user.org);
    for who in [&user, &other] {
        let answer = create_with_key(&app, who, "erase-me", json!({})).await;
        assert_eq!(answer.status(), 201);
    }
    assert_eq!(idempotency_keys(&app, user.id).await.len(), 1);
    let state = erase_to_end(&app, Whose::User(user.id)).await;
    assert_eq!(state["status"], "done", "{state:#}");
    assert!(idempotency_keys(&app, user.id).await.is_empty());
    assert_eq!(idempotency_keys(&app, other.id).await.len(), 1);

    erase_to_end(&app, Whose::Org(user.org)).await;
    assert!(idempotency_keys(&app, other.id).await.is_empty());
}

#[tokio::test]
async fn the_openapi_document_names_the_header_and_the_repeat_answer() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get_public("/openapi.json").await.json().await.unwrap();
    let create = &doc["paths"]["/api/v1/drafts"]["post"];
    let parameters = create["parameters"].as_array().expect("parameters");
    assert!(parameters
        .iter()
        .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
    for status in ["200", "201", "400", "410"] {
        assert!(create["responses"][status].is_object(), "{status}");
    }
}
