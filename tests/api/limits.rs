//! Invariants 7 and 12: what a store cannot hold is refused at the boundary,
//! and nothing a caller sends strands a draft or grows without bound.

use deadpool_redis::redis::AsyncCommands;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, draft_key, TestApp};
use crate::records::Record;
use crate::steps::statuses;

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
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "Fine topic"})).await;
    let mut redis = app.redis().await;
    let key = draft_key(&app.user, id);
    let mut record = Record::read(&mut redis, &key).await.unwrap();
    record.set_field("description", "\"bad\\u0000byte\"");
    record.write(&mut redis, &key).await;

    let problem = assert_problem(app.draft_action(&app.user, id, "submit").await, 422).await;
    assert!(problem["errors"]["description"].is_array(), "{problem}");
    assert_eq!(app.course_count().await, 0);
    save_then_submit(app, id, json!({"description": "mended"}), "still editable").await;
}

/// Autosaves `form` into the draft, asserting 200 (failing with `what`), then
/// submits it, asserting 201.
async fn save_then_submit(app: &TestApp, id: &str, form: Value, what: &str) {
    let response = app.patch_draft(&app.user, id, form, None).await;
    assert_eq!(response.status(), 200, "{what}");
    app.action_json(&app.user, id, "submit", 201).await;
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
    let id = &app
        .draft_id(&app.user, json!({"topic": "Refused by Postgres"}))
        .await;

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
    let accepted = json!({"topic": "Accepted topic"});
    save_then_submit(&app, id, accepted, "editable again").await;
}

#[tokio::test]
async fn writes_past_the_rate_are_429_with_retry_after_and_change_nothing() {
    let app = TestApp::spawn_with(|c| c.write_rate_limit = 3).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.new_draft(&app.user, json!({})).await["id"].clone());
    }
    let refused = app.create_draft(&app.user, json!({})).await;
    assert!(refused.headers().get("retry-after").is_some());
    assert_problem(refused, 429).await;
    // Deletes count too, and a refused one deletes nothing.
    let id = ids[0].as_str().unwrap();
    let refused = app.delete_draft(&app.user, id).await;
    assert_problem(refused, 429).await;
    assert_eq!(app.draft(&app.user, id).await["id"], ids[0]);
    // Another user has a window of their own.
    let other = crate::helpers::new_user();
    assert_eq!(app.create_draft(&other, json!({})).await.status(), 201);
}

#[tokio::test]
async fn with_redis_down_the_write_rate_is_counted_in_the_process() {
    let app = TestApp::spawn_with(|c| {
        c.redis_url = "redis://127.0.0.1:1".into();
        c.write_rate_limit = 2;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            app.new_draft(&app.user, json!({})).await["store"],
            "postgres"
        );
    }
    assert_problem(app.create_draft(&app.user, json!({})).await, 429).await;
    assert_eq!(app.course_count().await, 2);
}

#[tokio::test]
async fn racing_uploads_cannot_pass_the_files_per_course_quota_together() {
    let app = TestApp::spawn_with(|c| c.max_files_per_course = 3).await;
    let id = &app.draft_id(&app.user, json!({"topic": "Full"})).await;
    let names: Vec<String> = (0..8).map(|i| format!("f{i}.txt")).collect();
    let uploads = names
        .iter()
        .map(|name| app.upload_text(&app.user, id, name, b"notes"));
    let answers = futures_util::future::join_all(uploads).await;
    let mut statuses = statuses(&answers);
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 201, 409, 409, 409, 409, 409]);
    for response in answers {
        if response.status() == 409 {
            let problem = assert_problem(response, 409).await;
            assert_eq!(problem["type"], "urn:draftd:problem:quota-exceeded");
            assert_eq!(problem["limit"], 3);
        }
    }
    assert_eq!(app.file_row_count().await, 3);
    assert_eq!(app.stored_files().len(), 3, "refused uploads left no bytes");
}

#[tokio::test]
async fn an_organization_cannot_store_past_its_bytes() {
    let app = TestApp::spawn_with(|c| c.org_storage_bytes = 10).await;
    let first = app.draft_id(&app.user, json!({"topic": "One"})).await;
    let second = app.draft_id(&app.user, json!({"topic": "Two"})).await;
    let ok = app.upload_text(&app.user, &first, "a.txt", b"123456").await;
    assert_eq!(ok.status(), 201);
    let refused = app
        .upload_text(&app.user, &second, "b.txt", b"123456")
        .await;
    let problem = assert_problem(refused, 409).await;
    assert_eq!(
        (problem["limit"].clone(), problem["used"].clone()),
        (json!(10), json!(6))
    );
    assert_eq!(
        app.course_count().await,
        1,
        "the refused first upload made no course"
    );
    assert_eq!(app.stored_files().len(), 1);
}

#[tokio::test]
async fn uploads_in_flight_are_bounded_per_user() {
    let app = TestApp::spawn_with(|c| c.uploads_per_user = 1).await;
    let id = app.draft_id(&app.user, json!({"topic": "Slow"})).await;

    // An upload whose body arrives only when the test says so.
    let (send, receive) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    let body = futures_util::stream::unfold(receive, |mut receive| async move {
        receive
            .recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), receive))
    });
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(body))
        .file_name("slow.txt")
        .mime_str("text/plain")
        .unwrap();
    let slow = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/drafts/{id}/files"),
            &app.user,
        )
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send();
    let slow = tokio::spawn(slow);
    send.send(b"first half ".to_vec()).await.unwrap();
    // The first upload holds the user's one slot while its body streams.
    // Its staging file shows that it is in, holding the user's one slot.
    crate::helpers::wait_until("the slow upload is being stored", || async {
        !app.stored_files().is_empty()
    })
    .await;
    let refused = app.upload_text(&app.user, &id, "fast.txt", b"fast").await;
    assert!(refused.headers().get("retry-after").is_some());
    assert_problem(refused, 429).await;
    send.send(b"second half".to_vec()).await.unwrap();
    drop(send);
    assert_eq!(slow.await.unwrap().unwrap().status(), 201);
    let fast = app.upload_text(&app.user, &id, "fast.txt", b"fast").await;
    assert_eq!(fast.status(), 201, "the slot was given back");
}

#[tokio::test]
async fn the_draft_list_comes_in_pages_of_summaries() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for i in 0..5 {
        let draft = app
            .new_draft(
                &app.user,
                json!({"topic": format!("Draft {i}"), "description": "long text"}),
            )
            .await;
        created.push(draft["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/drafts?limit=2".to_owned();
    loop {
        let page = app.get_json(&app.user, &path).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for item in items {
            assert_eq!(item["formData"], json!({}), "a summary has no form");
            assert!(item["topic"].as_str().unwrap().starts_with("Draft "));
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/drafts?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, each once");

    let full = app
        .get_json(&app.user, "/api/v1/drafts?include=formData&limit=1")
        .await;
    assert_eq!(full["items"][0]["formData"]["description"], "long text");
    for bad in [
        "limit=0",
        "limit=101",
        "cursor=nonsense",
        "include=everything",
    ] {
        let response = app
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/drafts?{bad}"),
                &app.user,
            )
            .await;
        assert_problem(response, 422).await;
    }
}

#[tokio::test]
async fn a_multipart_part_that_is_not_the_file_is_capped() {
    let (app, id) = &TestApp::with_draft_id(json!({})).await;
    let big = "x".repeat(app.config.max_body_bytes + 1);
    let form = reqwest::multipart::Form::new().text("note", big).part(
        "file",
        reqwest::multipart::Part::bytes(b"notes".to_vec())
            .file_name("a.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let response = app.post_files(&app.user, id, form).await;
    assert_problem(response, 413).await;
    assert_eq!(app.file_row_count().await, 0);
}

#[tokio::test]
async fn a_submitted_drafts_session_is_kept_briefly() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "Done soon"})).await;
    app.action_json(&app.user, id, "submit", 201).await;
    let mut redis = app.redis().await;
    let ttl_ms: i64 = redis.pttl(draft_key(&app.user, id)).await.unwrap();
    assert!((1..=600_000).contains(&ttl_ms), "{ttl_ms} ms");
    assert_eq!(app.draft(&app.user, id).await["status"], "submitted");
}
