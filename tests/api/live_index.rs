//! The owner's index of live drafts (a sorted set scored by expiry), which
//! the list and the per-user cap read: a save moves a draft's entry only once
//! the draft's expiry passes the entry's score, and then a slack ahead (a
//! minute, or a tenth of a shorter TTL), so that a save every 3 s writes the
//! index about once a minute; an entry never ends before its draft.

use std::time::Duration;

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, AsyncCommands};
use draftd::stores::redis::keys::index_key;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, draft_key, TestApp, TestUser};
use crate::records::Record;

/// Draft `id`'s score in `user`'s index, in Unix ms, if it has an entry.
async fn score(redis: &mut MultiplexedConnection, user: &TestUser, id: &str) -> Option<i64> {
    let score: Option<f64> = redis.zscore(index_key(user.id.into()), id).await.unwrap();
    score.map(|s| s as i64)
}

/// When the key at `key` expires, in Unix ms by the Redis clock.
async fn expiry(redis: &mut MultiplexedConnection, key: &str) -> i64 {
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(redis).await.unwrap();
    let ttl: i64 = redis.pttl(key).await.unwrap();
    assert!(ttl > 0, "{key} has no expiry ({ttl})");
    secs * 1000 + micros / 1000 + ttl
}

/// Saves `form` into draft `id` (asserting 200).
async fn save(app: &TestApp, id: &str, form: Value) {
    let saved = app.patch_draft(&app.user, id, form, None).await;
    assert_eq!(saved.status(), 200);
}

/// The ids the owner's list shows.
async fn listed(app: &TestApp) -> Vec<String> {
    let list = app.call(Method::GET, "/api/v1/drafts", &app.user).await;
    assert_eq!(list.status(), 200);
    let list: Value = list.json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    items
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_save_within_the_slack_leaves_the_index_as_it_is() {
    let app = TestApp::spawn().await;
    let id = &app.draft_id(&app.user, json!({"topic": "Rust"})).await;
    let key = draft_key(&app.user, id);
    let index = index_key(app.user.id.into());
    let mut redis = app.redis().await;

    let written = score(&mut redis, &app.user, id).await.unwrap();
    let ahead = written - expiry(&mut redis, &key).await;
    assert!(
        (59_000..=60_100).contains(&ahead),
        "the entry is {ahead} ms ahead"
    );
    for i in 0..5 {
        save(&app, id, json!({"estimatedLessons": i + 1})).await;
        assert_eq!(score(&mut redis, &app.user, id).await, Some(written));
        let draft_ends = expiry(&mut redis, &key).await;
        assert!(written >= draft_ends, "the entry ends before its draft");
        assert!(expiry(&mut redis, &index).await >= draft_ends);
    }
    assert_eq!(listed(&app).await, vec![id.clone()]);
}

#[tokio::test]
async fn a_save_past_the_slack_moves_the_entry_a_slack_ahead() {
    // A 10 s TTL: the slack is a tenth of it.
    let app = TestApp::spawn_with(|c| c.draft_ttl_secs = 10).await;
    let id = &app.draft_id(&app.user, json!({"topic": "Rust"})).await;
    let key = draft_key(&app.user, id);
    let mut redis = app.redis().await;
    let written = score(&mut redis, &app.user, id).await.unwrap();
    let ahead = written - expiry(&mut redis, &key).await;
    assert!(
        (900..=1_100).contains(&ahead),
        "the entry is {ahead} ms ahead"
    );

    save(&app, id, json!({"estimatedLessons": 1})).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    save(&app, id, json!({"estimatedLessons": 2})).await;

    let moved = score(&mut redis, &app.user, id).await.unwrap();
    let ahead = moved - expiry(&mut redis, &key).await;
    assert!(moved > written, "the entry stayed");
    assert!(
        (900..=1_100).contains(&ahead),
        "the entry is {ahead} ms ahead"
    );
    assert_eq!(listed(&app).await, vec![id.clone()]);
}

/// An entry outliving its draft by up to the slack: the list skips it (the
/// record is gone); the cap counts it until its score passes.
#[tokio::test]
async fn an_entry_outliving_its_draft_is_not_listed_and_is_counted_until_its_score() {
    let app = TestApp::spawn_with(|c| c.max_drafts_per_user = 2).await;
    let gone = &app.draft_id(&app.user, json!({})).await;
    let kept = &app.draft_id(&app.user, json!({})).await;
    let mut redis = app.redis().await;
    save(&app, gone, json!({"topic": "soon gone"})).await;

    // The draft expires (its key goes), its entry a slack later.
    let _: () = redis.del(draft_key(&app.user, gone)).await.unwrap();
    assert_eq!(listed(&app).await, vec![kept.clone()]);
    let full = app.create_draft(&app.user, json!({})).await;
    assert_problem(full, 429).await;

    // The slack passes.
    let index = index_key(app.user.id.into());
    let _: () = redis.zadd(&index, gone, 1).await.unwrap();
    assert_eq!(app.create_draft(&app.user, json!({})).await.status(), 201);
    assert_eq!(score(&mut redis, &app.user, gone).await, None);
}

/// A thawed draft's entry is back at its expiry with no slack, and its
/// record says so (`ix`, as thaw.lua writes both); its next save moves it
/// again, ahead of the draft, and the record follows.
#[tokio::test]
async fn an_entry_behind_its_draft_moves_on_the_next_save() {
    let app = TestApp::spawn().await;
    let id = &app.draft_id(&app.user, json!({})).await;
    let key = draft_key(&app.user, id);
    let mut redis = app.redis().await;
    let behind = expiry(&mut redis, &key).await - 1;
    let _: () = redis
        .zadd(index_key(app.user.id.into()), id, behind)
        .await
        .unwrap();
    let mut record = Record::read(&mut redis, &key).await.unwrap();
    record.set("ix", behind);
    record.write(&mut redis, &key).await;

    save(&app, id, json!({"topic": "moves"})).await;
    let moved = score(&mut redis, &app.user, id).await.unwrap();
    assert!(moved >= expiry(&mut redis, &key).await + 59_000, "{moved}");
    let record = Record::read(&mut redis, &key).await.unwrap();
    assert_eq!(record.get("ix"), moved.to_string());
}

/// Every script that writes a draft's entry writes its score into the
/// record (`ix`) in the same call, so that a save reads no index.
#[tokio::test]
async fn the_record_says_its_entrys_score_after_each_write() {
    let app = TestApp::spawn().await;
    let id = &app.draft_id(&app.user, json!({})).await;
    let key = draft_key(&app.user, id);
    let mut redis = app.redis().await;
    let says = |record: Option<Record>| record.map(|r| r.get("ix").to_owned());
    let created = score(&mut redis, &app.user, id).await.unwrap();
    assert_eq!(
        says(Record::read(&mut redis, &key).await),
        Some(created.to_string())
    );

    save(&app, id, json!({"topic": "within the slack"})).await;
    assert_eq!(score(&mut redis, &app.user, id).await, Some(created));
    assert_eq!(
        says(Record::read(&mut redis, &key).await),
        Some(created.to_string())
    );
}

/// A record written before the header had `ix` (nine fields, for a TTL
/// after the rollout) is saved as before: the save reads the index, keeps
/// the draft's entry, and writes the record with `ix` from then on.
#[tokio::test]
async fn a_record_without_the_index_score_is_saved_and_gains_it() {
    let app = TestApp::spawn().await;
    let id = &app
        .draft_id(&app.user, json!({"topic": "kept", "language": "en"}))
        .await;
    let key = draft_key(&app.user, id);
    let mut redis = app.redis().await;
    let record = Record::read(&mut redis, &key).await.unwrap();
    let older = record.clone().without_index_score();
    assert!(!older.has_index_score());
    older.write(&mut redis, &key).await;
    // Its entry gone too: only the index can say so.
    let _: () = redis.zrem(index_key(app.user.id.into()), id).await.unwrap();

    save(&app, id, json!({"language": "ru", "estimatedLessons": 3})).await;
    let saved = Record::read(&mut redis, &key).await.unwrap();
    assert!(saved.has_index_score(), "{saved}");
    let entry = score(&mut redis, &app.user, id).await.unwrap();
    assert_eq!(saved.get("ix"), entry.to_string());
    assert!(entry >= expiry(&mut redis, &key).await, "{entry}");
    assert_eq!(saved.get("v"), "2");
    // The fields in place, the new one last.
    let mut expected = record.clone();
    expected.set_field("language", "\"ru\"");
    expected.set_field("estimatedLessons", "3");
    assert_eq!(saved.fields, expected.fields);
    let draft = app
        .get_json(&app.user, &format!("/api/v1/drafts/{id}"))
        .await;
    assert_eq!(
        draft["formData"],
        json!({"topic": "kept", "language": "ru", "estimatedLessons": 3})
    );
    assert_eq!(listed(&app).await, vec![id.clone()]);
}
