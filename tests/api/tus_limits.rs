//! What a resumable upload may cost (invariant 12): a drip of small PATCHes
//! is held to the write rate while a whole-file or MiB-chunked client never
//! meets it.

use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::{assert_problem, new_user, TestApp, TestUser};
use crate::tus_steps::{created_url, header, OwnRedis, TUS};

const MIB: usize = 1 << 20;

/// The write rate of these tests: the draft and the upload's creation spend
/// two of it.
const WRITES: u32 = 4;

async fn app_with_write_rate() -> TestApp {
    TestApp::spawn_with(|c| c.write_rate_limit = WRITES).await
}

/// A draft of `user` with an upload of 100 bytes created for it (two writes
/// spent): the upload's URL.
async fn drip_upload(app: &TestApp, user: &TestUser) -> String {
    let draft = app.draft_id(user, json!({})).await;
    created_url(
        app.tus_create(user, &draft, 100, "drip.txt", "text/plain")
            .await,
    )
}

/// A PATCH of one byte without `Upload-Offset`.
async fn patch_without_offset(app: &TestApp, user: &TestUser, url: &str) -> Response {
    app.request(Method::PATCH, url, user)
        .header("tus-resumable", TUS)
        .header("content-type", "application/offset+octet-stream")
        .body("b")
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn chunks_of_a_mib_or_the_whole_file_never_meet_the_write_rate() {
    let app = app_with_write_rate().await;
    let user = new_user();
    let draft = &app.draft_id(&user, json!({})).await;
    // 3.5 MiB in PATCHes of 1 MiB: three store 1 MiB, the last finishes.
    let content = vec![b'a'; 3 * MIB + MIB / 2];
    let url = created_url(
        app.tus_create(&user, draft, content.len(), "big.txt", "text/plain")
            .await,
    );
    let last = app.tus_send(&user, &url, &content, MIB).await;
    assert_eq!(last.status(), 204);
    assert!(last.headers().contains_key("draftd-file-id"));
    // Whole files, each in one PATCH, up to the rate's last write.
    let url = created_url(
        app.tus_create(&user, draft, 10, "whole.txt", "text/plain")
            .await,
    );
    let whole = app.tus_patch(&user, &url, 0, b"0123456789").await;
    assert_eq!(whole.status(), 204);
    assert!(whole.headers().contains_key("draftd-file-id"));
    // Only the creations spent the rate: the fourth write goes, the fifth not.
    let create = app
        .tus_create(&user, draft, 10, "more.txt", "text/plain")
        .await;
    assert_eq!(create.status(), 201);
    let create = app
        .tus_create(&user, draft, 10, "more.txt", "text/plain")
        .await;
    assert_problem(create, 429).await;
}

#[tokio::test]
async fn a_drip_of_small_patches_and_refused_ones_meets_the_write_rate_before_storing() {
    let (app, user) = (app_with_write_rate().await, new_user());
    let url = drip_upload(&app, &user).await;
    // Two writes spent; a refused PATCH (offset mismatch) costs one, a
    // PATCH storing one byte another.
    let mismatch = app.tus_patch(&user, &url, 7, b"a").await;
    assert_problem(mismatch, 409).await;
    let one = app.tus_patch(&user, &url, 0, b"a").await;
    assert_eq!(one.status(), 204);
    assert_eq!(header(&one, "upload-offset"), "1");

    // Spent: the next PATCH is refused before it stores anything, however
    // much it carries.
    let refused = app.tus_patch(&user, &url, 1, b"b").await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 429).await;
    assert_eq!(app.tus_offset(&user, &url).await, 1);
    let malformed = patch_without_offset(&app, &user, &url).await;
    assert_problem(malformed, 429).await;
    assert_eq!(app.tus_offset(&user, &url).await, 1);
}

#[tokio::test]
async fn patches_refused_by_their_headers_count_against_the_write_rate() {
    let (app, user) = (app_with_write_rate().await, new_user());
    let url = drip_upload(&app, &user).await;
    for _ in 0..2 {
        // No Upload-Offset: a 400 that counts.
        let malformed = patch_without_offset(&app, &user, &url).await;
        assert_problem(malformed, 400).await;
    }
    let spent = app.tus_patch(&user, &url, 0, &[b'a'; 100]).await;
    assert_problem(spent, 429).await;
    assert_eq!(app.tus_offset(&user, &url).await, 0);
}

// --- reservations ------------------------------------------------------------

/// An upload's expiry, as Postgres holds it.
async fn expires_at(app: &TestApp, url: &str) -> chrono::DateTime<chrono::Utc> {
    let id: uuid::Uuid = url.rsplit('/').next().unwrap().parse().unwrap();
    app.db
        .query_one("SELECT expires_at FROM tus_uploads WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn one_user_holds_at_most_its_bound_reserved_and_unsent() {
    let app = TestApp::spawn_with(|c| c.tus.reserved_bytes_per_user = 1000).await;
    let user = new_user();
    let draft = &app.draft_id(&user, json!({})).await;
    let first = created_url(
        app.tus_create(&user, draft, 600, "a.txt", "text/plain")
            .await,
    );
    let refused = app
        .tus_create(&user, draft, 600, "b.txt", "text/plain")
        .await;
    let problem = assert_problem(refused, 409).await;
    assert_eq!(problem["type"], "urn:draftd:problem:quota-exceeded");
    assert_eq!(problem["limit"], 1000);
    assert_eq!(problem["used"], 600);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("DRAFTD_RESERVED_BYTES_PER_USER"),
        "{detail}"
    );
    assert_eq!(app.count("SELECT count(*) FROM tus_uploads").await, 1);

    // Another member of the organization is not held back by it.
    let colleague = crate::erase::member_of(uuid::Uuid::new_v4(), user.org);
    let theirs = &app.draft_id(&colleague, json!({})).await;
    let created = app
        .tus_create(&colleague, theirs, 600, "c.txt", "text/plain")
        .await;
    assert_eq!(created.status(), 201);

    // What is sent is no longer unsent: 300 stored, 300 + 600 fit.
    let sent = app.tus_patch(&user, &first, 0, &[b'a'; 300]).await;
    assert_eq!(sent.status(), 204);
    let created = app
        .tus_create(&user, draft, 600, "b.txt", "text/plain")
        .await;
    assert_eq!(created.status(), 201);
    // A terminated upload releases what it held.
    let terminated = app.tus_call(Method::DELETE, &user, &first).await.status();
    assert_eq!(terminated, 204);
    let created = app
        .tus_create(&user, draft, 400, "d.txt", "text/plain")
        .await;
    assert_eq!(created.status(), 201);
}

#[tokio::test]
async fn an_idle_upload_lapses_releasing_its_reservation_and_only_stored_bytes_keep_it() {
    let own = OwnRedis::take().await;
    let app = TestApp::spawn_with(|c| {
        own.apply(c);
        c.tus.reserved_bytes_per_user = 1000;
        c.tus.idle_secs = 3;
    })
    .await;
    let user = new_user();
    let draft = &app.draft_id(&user, json!({})).await;
    let before = chrono::Utc::now();
    let created = app
        .tus_create(&user, draft, 600, "a.txt", "text/plain")
        .await;
    assert_eq!(created.status(), 201);
    // The idle time ends before the draft's TTL (24 h): it is the expiry.
    let announced = chrono::DateTime::parse_from_rfc2822(&header(&created, "upload-expires"))
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!(
        announced <= before + chrono::Duration::seconds(4),
        "{announced}"
    );
    let url = created.headers()["location"].to_str().unwrap().to_owned();
    let created_expiry = expires_at(&app, &url).await;

    // A PATCH that stores nothing, a refused one: the idle clock stays.
    assert_eq!(app.tus_patch(&user, &url, 0, b"").await.status(), 204);
    assert_problem(app.tus_patch(&user, &url, 9, b"a").await, 409).await;
    assert_eq!(expires_at(&app, &url).await, created_expiry);
    // Stored bytes move it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let stored = app.tus_patch(&user, &url, 0, &[b'a'; 100]).await;
    assert_eq!(stored.status(), 204);
    let moved = expires_at(&app, &url).await;
    assert!(moved > created_expiry, "{moved} after {created_expiry}");
    let told = chrono::DateTime::parse_from_rfc2822(&header(&stored, "upload-expires")).unwrap();
    assert!(
        told > announced,
        "the PATCH tells {told}, the creation told {announced}"
    );

    // Idle past it: the upload is gone (404), its reservation released.
    crate::helpers::wait_until("the upload lapses", || async {
        app.tus_call(Method::HEAD, &user, &url).await.status() == 404
    })
    .await;
    assert_problem(app.tus_patch(&user, &url, 100, b"b").await, 404).await;
    let again = app
        .tus_create(&user, draft, 1000, "b.txt", "text/plain")
        .await;
    assert_eq!(again.status(), 201);
    // Its bytes go with the orphan sweep.
    let staged = |app: &TestApp| {
        app.stored_files()
            .iter()
            .filter(|path| path.to_string_lossy().contains(".tus"))
            .count()
    };
    assert_eq!(staged(&app), 1);
    let report = app.admin(Method::POST, "/api/v1/admin/orphans/sweep").await;
    assert_eq!(report["expiredUploads"], 1, "{report}");
    assert_eq!(staged(&app), 0, "{:?}", app.stored_files());
}
