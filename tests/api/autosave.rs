//! Autosave (invariant 3): merge patches, concurrency, If-Match, TTL.

use std::collections::{HashMap, HashSet};

use deadpool_redis::redis::AsyncCommands;
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, draft_key, wait_until, TestApp};
use crate::records::Record;
use crate::steps::{assert_status_counts, statuses};

#[tokio::test]
async fn a_merge_patch_sets_removes_and_keeps_fields() {
    let (app, id) =
        &TestApp::with_draft_id(json!({"topic": "Rust", "email": "a@b.c", "formats": ["video"]}))
            .await;

    let response = app
        .patch_draft(
            &app.user,
            id,
            json!({"email": null, "formats": ["text", "quiz"], "lessonDuration": 45}),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let saved: Value = response.json().await.unwrap();
    assert_eq!(saved["version"], 2);
    assert_eq!(
        saved["formData"],
        json!({"topic": "Rust", "formats": ["text", "quiz"], "lessonDuration": 45})
    );
    // Acknowledged means visible to the next read.
    assert_eq!(app.draft(&app.user, id).await, saved);
}

/// Values holding the record's separators (`=`, spaces, the text `\n`, a
/// real newline) and other awkward text merge as written: each field stays
/// one line of the draft's record, in the order first set.
#[tokio::test]
async fn tricky_values_merge_intact_one_line_per_field() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "a=b c", "language": "en"})).await;
    let tricky = json!({
        "description": "x = y\\n is text; a real\nnewline, \"quotes\", \\ and Основы 🦀",
        "topic": "=== starts with equals ===",
        "formats": [],
        "language": null,
        "estimatedLessons": 3,
    });
    let saved: Value = app
        .patch_draft(&app.user, id, tricky.clone(), None)
        .await
        .json()
        .await
        .unwrap();
    let expected = json!({
        "topic": tricky["topic"],
        "description": tricky["description"],
        "formats": [],
        "estimatedLessons": 3,
    });
    assert_eq!(saved["formData"], expected);
    assert_eq!(app.draft(&app.user, id).await["formData"], expected);

    let record = Record::read(&mut app.redis().await, &draft_key(&app.user, id))
        .await
        .unwrap();
    let mut names: Vec<&str> = record
        .fields
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(names[0], "topic", "a field set again keeps its place");
    names[1..].sort_unstable();
    assert_eq!(
        names,
        ["topic", "description", "estimatedLessons", "formats"]
    );
    assert_eq!(record.get("v"), "2");
}

/// `Prefer: return=minimal`: 204, the new ETag, no body; the save is as
/// visible as with the full answer, and a refused one is still a problem.
#[tokio::test]
async fn a_minimal_autosave_answers_204_with_the_new_etag() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "Rust", "email": "a@b.c"})).await;
    let minimal = |form: Value, if_match: &str| {
        app.request(
            reqwest::Method::PATCH,
            &format!("/api/v1/drafts/{id}"),
            &app.user,
        )
        .header("content-type", "application/merge-patch+json")
        .header("prefer", "wait=5, return=minimal")
        .header("if-match", if_match)
        .body(json!({ "formData": form }).to_string())
        .send()
    };

    let response = minimal(json!({"email": null, "lessonDuration": 45}), "\"1\"")
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["etag"], "\"2\"");
    assert_eq!(response.headers()["preference-applied"], "return=minimal");
    assert!(response.bytes().await.unwrap().is_empty());
    let draft = app.draft(&app.user, id).await;
    assert_eq!(draft["version"], 2);
    assert_eq!(
        draft["formData"],
        json!({"topic": "Rust", "lessonDuration": 45})
    );

    // A stale version changes nothing and says why, minimal or not.
    let stale = minimal(json!({"topic": "Go"}), "\"1\"").await.unwrap();
    let problem = assert_problem(stale, 412).await;
    assert!(problem["detail"].as_str().is_some());
    assert_eq!(app.draft(&app.user, id).await, draft);

    // Without the preference the answer is the draft, as before.
    let full = app
        .patch_draft(&app.user, id, json!({"topic": "Go"}), None)
        .await;
    assert_eq!(full.status(), 200);
    assert!(full.headers().get("preference-applied").is_none());
    let saved: Value = full.json().await.unwrap();
    assert_eq!(saved["formData"]["topic"], "Go");
    assert_eq!(saved["version"], 3);
}

/// Invariant 3: 50 concurrent autosaves over every field; none is lost.
#[tokio::test]
async fn fifty_concurrent_autosaves_of_all_fields_all_survive() {
    let (app, id) = &TestApp::with_draft_id(json!({})).await;

    let fields = [
        "topic",
        "description",
        "email",
        "writingStyle",
        "contentStrategy",
        "language",
        "targetAudience",
        "estimatedLessons",
        "estimatedSections",
        "lessonDuration",
        "learningOutcomes",
        "formats",
    ];
    let value_for = |field: &str, i: i64| match field {
        "estimatedLessons" | "estimatedSections" | "lessonDuration" => json!(i % 30 + 1),
        "formats" => json!([format!("format {i}")]),
        _ => json!(format!("{field} {i}")),
    };
    let mut written: HashMap<&str, HashSet<String>> = HashMap::new();
    let patches: Vec<Value> = (0..50)
        .map(|i| {
            let field = fields[i as usize % fields.len()];
            let value = value_for(field, i);
            written.entry(field).or_default().insert(value.to_string());
            json!({ field: value })
        })
        .collect();

    let responses = join_all(
        patches
            .into_iter()
            .map(|p| app.patch_draft(&app.user, id, p, None)),
    )
    .await;
    assert!(responses.iter().all(|r| r.status() == 200));

    let stored = app.draft(&app.user, id).await;
    assert_eq!(stored["version"], 51, "every autosave counted once");
    let form = stored["formData"].as_object().unwrap();
    for field in fields {
        let value = form
            .get(field)
            .unwrap_or_else(|| panic!("{field} was lost"));
        assert!(
            written[field].contains(&value.to_string()),
            "{field} holds {value}, never written"
        );
    }
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_412_and_changes_nothing() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "original"})).await;
    let saved = app
        .patch_draft(&app.user, id, json!({"topic": "second"}), Some("\"1\""))
        .await;
    assert_eq!(saved.status(), 200);
    let current = app.draft(&app.user, id).await;

    for stale in ["\"1\"", "W/\"2\"", "\"abc\"", "\"\"", "2"] {
        let refused = app
            .patch_draft(&app.user, id, json!({"topic": "lost"}), Some(stale))
            .await;
        let problem = assert_problem(refused, 412).await;
        assert_eq!(problem["currentVersion"], 2, "If-Match {stale}");
    }
    assert_eq!(app.draft(&app.user, id).await, current);

    let fresh = app
        .patch_draft(&app.user, id, json!({"topic": "third"}), Some("\"2\""))
        .await;
    assert_eq!(fresh.status(), 200);
    let any = app
        .patch_draft(&app.user, id, json!({"topic": "fourth"}), Some("*"))
        .await;
    assert_eq!(any.status(), 200);
}

#[tokio::test]
async fn of_racing_writes_with_the_same_if_match_exactly_one_wins() {
    let (app, id) = &TestApp::with_draft_id(json!({})).await;

    let responses = join_all((0..20).map(|i| {
        app.patch_draft(
            &app.user,
            id,
            json!({"topic": format!("tab {i}")}),
            Some("\"1\""),
        )
    }))
    .await;
    let statuses = statuses(&responses);
    assert_status_counts(&statuses, &[(200, 1), (412, 19)]);
    assert_eq!(app.draft(&app.user, id).await["version"], 2);
}

#[tokio::test]
async fn an_autosave_refreshes_the_ttl() {
    let (app, draft) = TestApp::with_draft(json!({})).await;
    let id = draft["id"].as_str().unwrap();
    let key = draft_key(&app.user, id);
    let mut redis = app.redis().await;
    // As if the draft had sat untouched for almost a day.
    let _: () = redis.pexpire(&key, 5_000).await.unwrap();

    let saved: Value = app
        .patch_draft(&app.user, id, json!({"topic": "still here"}), None)
        .await
        .json()
        .await
        .unwrap();
    let ttl: i64 = redis.pttl(&key).await.unwrap();
    assert!(ttl > 86_000_000, "ttl {ttl}");
    assert!(saved["expiresAt"].as_str().unwrap() > draft["expiresAt"].as_str().unwrap());
}

#[tokio::test]
async fn an_autosave_after_expiry_is_404_and_does_not_recreate_the_draft() {
    let app = TestApp::spawn_with(|c| c.draft_ttl_secs = 1).await;
    let draft = app
        .new_draft(&app.user, json!({"topic": "short-lived"}))
        .await;
    let id = draft["id"].as_str().unwrap();
    let key = draft_key(&app.user, id);
    let mut redis = app.redis().await;

    // Wait for Redis to expire the key (about a second).
    wait_until("the key expires", || {
        let mut redis = redis.clone();
        let key = &key;
        async move { !redis.exists::<_, bool>(key).await.unwrap() }
    })
    .await;

    let response = app
        .patch_draft(&app.user, id, json!({"topic": "too late"}), None)
        .await;
    assert_problem(response, 404).await;
    assert!(
        !redis.exists::<_, bool>(&key).await.unwrap(),
        "the draft came back"
    );
    assert_eq!(app.get_draft(&app.user, id).await.status(), 404);
}

/// One client cannot flood Redis: past the per-user rate, autosaves get 429
/// with Retry-After and change nothing; other users are not affected.
#[tokio::test]
async fn autosaves_past_the_per_user_rate_are_refused_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.autosave_rate_limit = 5).await;
    let id = &app.draft_id(&app.user, json!({})).await;
    for i in 0..5 {
        let saved = app
            .patch_draft(&app.user, id, json!({"estimatedLessons": i + 1}), None)
            .await;
        assert_eq!(saved.status(), 200);
    }
    let refused = app
        .patch_draft(&app.user, id, json!({"estimatedLessons": 99}), None)
        .await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let problem = assert_problem(refused, 429).await;
    assert_eq!(problem["type"], "urn:draftd:problem:rate-limited");
    assert_eq!(
        app.draft(&app.user, id).await["formData"]["estimatedLessons"],
        5
    );

    let other = crate::helpers::new_user();
    let theirs = app.new_draft(&other, json!({})).await;
    let saved = app
        .patch_draft(
            &other,
            theirs["id"].as_str().unwrap(),
            json!({"topic": "mine"}),
            None,
        )
        .await;
    assert_eq!(saved.status(), 200);
}
