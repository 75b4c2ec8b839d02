//! Invariants 7 and 12: what a store cannot hold is refused at the boundary,
//! and nothing a caller sends strands a draft or grows without bound.

use deadpool_redis::redis::AsyncCommands;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, draft_key, TestApp};

#[tokio::test]
async fn a_nul_character_is_refused_naming_its_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let response = app
        .create_draft(&app.user, json!({"formData": {"topic": "a\u{0}b"}}))
        .await;
    let problem = assert_problem(response, 422).await;
    assert!(problem["errors"]["topic"].is_array(), "{problem}");

    let draft = app.new_draft(&app.user, json!({"topic": "Clean"})).await;
    let id = draft["id"].as_str().unwrap();
    let response = app
        .patch_draft(&app.user, id, json!({"formats": ["ok", "x\u{0}"]}), None)
        .await;
    let problem = assert_problem(response, 422).await;
    assert!(problem["errors"]["formats"].is_array(), "{problem}");
    assert_eq!(app.draft(&app.user, id).await, draft, "nothing changed");
}

/// A draft holding a NUL (written before the boundary refused it) fails
/// submit's validation, naming the field, and stays editable.
#[tokio::test]
async fn a_stored_nul_fails_submit_validation_without_stranding_the_draft() {
    let app = TestApp::spawn().await;
    let draft = app
        .new_draft(&app.user, json!({"topic": "Fine topic"}))
        .await;
    let id = draft["id"].as_str().unwrap();
    let mut redis = app.redis().await;
    let _: () = redis
        .hset(
            draft_key(&app.user, id),
            "f:description",
            "\"bad\\u0000byte\"",
        )
        .await
        .unwrap();

    let problem = assert_problem(app.draft_action(&app.user, id, "submit").await, 422).await;
    assert!(problem["errors"]["description"].is_array(), "{problem}");
    assert_eq!(app.course_count().await, 0);
    let response = app
        .patch_draft(&app.user, id, json!({"description": "mended"}), None)
        .await;
    assert_eq!(response.status(), 200, "still editable");
    assert_eq!(
        app.draft_action(&app.user, id, "submit").await.status(),
        201
    );
}

/// When Postgres refuses a submit's data for good (a data exception, here
/// raised by a trigger), the submit is a logged 500, not a 503 that invites
/// retries forever, and the draft it froze is editable again.
#[tokio::test]
async fn a_submit_postgres_refuses_leaves_the_draft_editable() {
    let app = TestApp::spawn().await;
    app.db
        .batch_execute(
            "CREATE FUNCTION refuse_title() RETURNS trigger AS $$ BEGIN
                 IF NEW.title = 'Refused by Postgres' THEN
                     RAISE EXCEPTION 'refused' USING ERRCODE = '22023';
                 END IF;
                 RETURN NEW;
             END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse_title BEFORE INSERT OR UPDATE ON courses
                 FOR EACH ROW EXECUTE FUNCTION refuse_title();",
        )
        .await
        .unwrap();
    let draft = app
        .new_draft(&app.user, json!({"topic": "Refused by Postgres"}))
        .await;
    let id = draft["id"].as_str().unwrap();

    let response = app.draft_action(&app.user, id, "submit").await;
    assert_eq!(response.status(), 500, "not a 503 that invites retries");
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(app.course_count().await, 0, "nothing half-written");

    let thawed = app.draft(&app.user, id).await;
    assert_eq!(thawed["status"], "open", "the draft is not stranded");
    let listed: Value = app.get_json(&app.user, "/api/v1/drafts").await;
    assert!(
        listed.to_string().contains(id),
        "back in the list: {listed}"
    );
    let response = app
        .patch_draft(&app.user, id, json!({"topic": "Accepted topic"}), None)
        .await;
    assert_eq!(response.status(), 200, "editable again");
    assert_eq!(
        app.draft_action(&app.user, id, "submit").await.status(),
        201
    );
}
