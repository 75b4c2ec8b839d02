//! Where resumable uploads keep their bytes, and for how long: S3 parts and a
//! tail between requests, a PATCH cut off keeping what it stored, the orphan
//! sweep, which leaves an unfinished upload alone until it expires, and what
//! ends one (an erase); what a PATCH costs (the write rate).

use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write as _;

use crate::helpers::{files_under, wait_until, ScratchDir, TestApp};
use crate::servers::{free_port, s3_server, use_s3, ServerProcess};
use crate::tus_steps::{created_url, header, text, OwnRedis};

const MIB: usize = 1024 * 1024;

/// A test's own S3 server, then its root directory, removed when dropped.
pub(crate) struct S3 {
    _server: ServerProcess,
    pub(crate) root: ScratchDir,
}

/// An app storing on an S3 server of its own, with Redis database `db`.
pub(crate) async fn on_s3(db: OwnRedis) -> (TestApp, S3) {
    let root = ScratchDir::new("s3");
    let port = free_port();
    let server = s3_server(&root, port).await;
    let app = TestApp::spawn_with(|c| {
        db.apply(c);
        use_s3(c, port);
    })
    .await;
    (
        app,
        S3 {
            _server: server,
            root,
        },
    )
}

/// Asserts that the orphan sweep finds no `what` and no expired upload.
async fn assert_sweep_takes_nothing(app: &TestApp, what: &str) {
    let report = app.admin(Method::POST, "/api/v1/admin/orphans/sweep").await;
    assert_eq!(
        (report[what].as_u64(), report["expiredUploads"].as_u64()),
        (Some(0), Some(0)),
        "{report}"
    );
}

/// Moves every upload's expiry into the past.
async fn expire_uploads(app: &TestApp) {
    app.db
        .execute(
            "UPDATE tus_uploads SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .expect("expire uploads");
}

#[tokio::test]
async fn on_s3_parts_and_a_tail_carry_an_upload_across_patches() {
    let (app, s3) = on_s3(OwnRedis::take().await).await;
    let id = &app.draft_id(&app.user, json!({})).await;
    // 13 MiB in PATCHes of 3 MiB: tails of 3, 1 (after a part), 4, 2 (after
    // another) MiB, then the last part from the tail.
    let content = text(13 * MIB + 12345);
    let url = created_url(
        app.tus_create(&app.user, id, content.len(), "big.txt", "text/plain")
            .await,
    );
    let mut offset = 0;
    let mut parts_seen = Vec::new();
    while offset < 3 * 3 * MIB {
        let end = offset + 3 * MIB;
        let response = app
            .tus_patch(&app.user, &url, offset, &content[offset..end])
            .await;
        assert_eq!(response.status(), 204);
        offset = end;
        assert_eq!(app.tus_offset(&app.user, &url).await, offset as u64);
        let (parts, tail): (i64, i64) = {
            let row = app
                .db
                .query_one(
                    "SELECT jsonb_array_length(s3_parts)::bigint, tail_bytes FROM tus_uploads",
                    &[],
                )
                .await
                .unwrap();
            (row.get(0), row.get(1))
        };
        assert_eq!(parts as usize * 5 * MIB + tail as usize, offset);
        parts_seen.push(parts);
    }
    assert_eq!(parts_seen, [0, 1, 1]);
    assert_eq!(
        app.count("SELECT count(*) FROM multipart_uploads").await,
        1,
        "recorded before its first part"
    );
    // An unexpired upload is no residue, however old its parts.
    app.db
        .execute(
            "UPDATE multipart_uploads SET started_at = now() - interval '2 days'",
            &[],
        )
        .await
        .unwrap();
    assert_sweep_takes_nothing(&app, "incompleteUploads").await;

    let last = app
        .tus_patch(&app.user, &url, offset, &content[offset..])
        .await;
    assert_eq!(last.status(), 204);
    let location = header(&last, "draftd-file-location");
    let download = app.call(Method::GET, &location, &app.user).await;
    let bytes = download.bytes().await.unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        hex::encode(Sha256::digest(&content))
    );
    app.assert_first_file(id, &content).await;
    assert_eq!(app.count("SELECT count(*) FROM multipart_uploads").await, 0);
    // s3s-fs keeps its own bookkeeping beside the bucket's directory.
    let objects: Vec<_> = files_under(&s3.root.join("draftd"));
    assert_eq!(objects.len(), 1, "the file alone, no tail: {objects:?}");
}

#[tokio::test]
async fn on_s3_termination_and_expiry_remove_parts_and_tail() {
    let (app, s3) = on_s3(OwnRedis::take().await).await;
    let id = &app.draft_id(&app.user, json!({})).await;
    let content = text(7 * MIB);
    let stored = || -> u64 {
        files_under(&s3.root)
            .iter()
            .filter_map(|path| std::fs::metadata(path).ok())
            .map(|meta| meta.len())
            .sum()
    };
    let mut urls = Vec::new();
    for _ in 0..2 {
        let url = created_url(
            app.tus_create(&app.user, id, content.len(), "a.txt", "text/plain")
                .await,
        );
        let response = app.tus_patch(&app.user, &url, 0, &content[..6 * MIB]).await;
        assert_eq!(response.status(), 204);
        urls.push(url);
    }
    assert!(stored() >= 12 * MIB as u64, "parts and tails are stored");
    assert_eq!(
        app.tus_call(Method::DELETE, &app.user, &urls[0])
            .await
            .status(),
        204
    );
    expire_uploads(&app).await;
    assert_eq!(
        app.tus_call(Method::HEAD, &app.user, &urls[1])
            .await
            .status(),
        404
    );
    let report = app.admin(Method::POST, "/api/v1/admin/orphans/sweep").await;
    assert_eq!(report["expiredUploads"], 1);
    assert_eq!(app.count("SELECT count(*) FROM tus_uploads").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM multipart_uploads").await, 0);
    assert!(stored() < MIB as u64, "{:?}", files_under(&s3.root));
}

#[tokio::test]
async fn the_sweep_leaves_an_unfinished_upload_until_it_expires() {
    let own = OwnRedis::take().await;
    let app = TestApp::spawn_with(|c| own.apply(c)).await;
    let id = &app.draft_id(&app.user, json!({})).await;
    let url = created_url(
        app.tus_create(&app.user, id, 100, "a.txt", "text/plain")
            .await,
    );
    assert_eq!(
        app.tus_patch(&app.user, &url, 0, &text(40)).await.status(),
        204
    );
    let staging = files_under(&app.config.upload_dir);
    assert_eq!(staging.len(), 1);
    // Older than any grace period: still not residue.
    std::fs::File::options()
        .write(true)
        .open(&staging[0])
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7 * 86400))
        .unwrap();
    assert_sweep_takes_nothing(&app, "residueFound").await;
    assert_eq!(files_under(&app.config.upload_dir), staging);
    assert_eq!(app.tus_offset(&app.user, &url).await, 40);

    expire_uploads(&app).await;
    let dry = app
        .admin(Method::POST, "/api/v1/admin/orphans/sweep?dryRun=true")
        .await;
    assert_eq!(dry["expiredUploads"], 1);
    assert_eq!(files_under(&app.config.upload_dir), staging);
    let report = app.admin(Method::POST, "/api/v1/admin/orphans/sweep").await;
    assert_eq!(report["expiredUploads"], 1);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    assert_eq!(app.count("SELECT count(*) FROM tus_uploads").await, 0);
    // Its reservation went with it: the quota counts nothing.
    assert_eq!(app.course_count().await, 0);
}

#[tokio::test]
async fn a_patch_cut_off_keeps_what_it_stored() {
    let (app, id) = &TestApp::with_draft_id(json!({})).await;
    let content = text(4 * MIB);
    let url = created_url(
        app.tus_create(&app.user, id, content.len(), "a.txt", "text/plain")
            .await,
    );
    let sent = 2 * MIB + 777;
    let socket = app.raw_patch(&url, &content, sent).await;
    wait_until("a first step is stored", || async {
        app.count("SELECT upload_offset FROM tus_uploads").await > 0
    })
    .await;
    let stored_first = app.count("SELECT upload_offset FROM tus_uploads").await as usize;
    // The upload is held while its PATCH streams.
    let meanwhile = app.tus_patch(&app.user, &url, 0, b"x").await;
    assert_eq!(meanwhile.status(), 423);
    assert_eq!(header(&meanwhile, "retry-after"), "1");
    drop(socket);
    wait_until("what arrived is stored and the upload released", || async {
        app.count("SELECT count(*) FROM tus_uploads WHERE lease_id IS NULL")
            .await
            == 1
    })
    .await;
    // What was stored stays: at least the first step, at most what was sent
    // (bytes still in the connection's buffers when it broke may be lost;
    // the client resumes from the offset HEAD answers).
    let offset = app.tus_offset(&app.user, &url).await as usize;
    assert!(
        stored_first <= offset && offset <= sent,
        "stored {offset} of {sent}"
    );
    app.finish_from(id, &url, &content, offset).await;
}

#[tokio::test]
async fn erasing_a_user_ends_their_unfinished_uploads() {
    let own = OwnRedis::take().await;
    let app = TestApp::spawn_with(|c| own.apply(c)).await;
    let id = &app.draft_id(&app.user, json!({})).await;
    let url = app.half_sent_upload(&app.user, id).await;
    let erase = app
        .request(
            Method::POST,
            "/api/v1/admin/erase",
            &crate::helpers::service_user(),
        )
        .json(&json!({"userId": app.user.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(erase.status(), 202);
    assert_eq!(
        app.tus_call(Method::HEAD, &app.user, &url).await.status(),
        404
    );
    let report = app.admin(Method::POST, "/api/v1/admin/orphans/sweep").await;
    assert_eq!(report["expiredUploads"], 1);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
}

#[tokio::test]
async fn patches_that_store_nothing_count_against_the_write_rate() {
    let app = TestApp::spawn_with(|c| c.write_rate_limit = 5).await;
    // Two writes: the draft and the upload.
    let id = &app.draft_id(&app.user, json!({})).await;
    let url = created_url(
        app.tus_create(&app.user, id, 10, "a.txt", "text/plain")
            .await,
    );
    for _ in 0..3 {
        assert_eq!(app.tus_patch(&app.user, &url, 0, b"").await.status(), 204);
    }
    let limited = app.tus_patch(&app.user, &url, 0, b"").await;
    assert_eq!(limited.status(), 429);
    // A spent budget refuses any PATCH before it stores a byte (the drip's
    // rule: tus_limits.rs).
    assert_eq!(
        app.tus_patch(&app.user, &url, 0, b"01234").await.status(),
        429
    );
    assert_eq!(app.tus_offset(&app.user, &url).await, 0);
}

#[tokio::test]
async fn an_upload_whose_last_bytes_were_stored_before_a_crash_finishes_on_head() {
    use draftd::domain::content::ContentCheck;
    use draftd::domain::tus::RunningHash;

    let (app, id) = &TestApp::with_draft_id(json!({})).await;
    let content = text(3000);
    let url = created_url(
        app.tus_create(&app.user, id, content.len(), "a.txt", "text/plain")
            .await,
    );
    assert_eq!(
        app.tus_patch(&app.user, &url, 0, &content[..1000])
            .await
            .status(),
        204
    );
    // What a process killed between storing the last step and recording the
    // file leaves: every byte stored and recorded, no file row.
    let staging = files_under(&app.config.upload_dir);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&staging[0])
        .unwrap()
        .write_all(&content[1000..])
        .unwrap();
    let mut hash = RunningHash::default();
    hash.update(&content);
    let mut check = ContentCheck::new("text/plain");
    check.feed(&content).unwrap();
    let check = serde_json::to_value(check.save()).unwrap();
    app.db
        .execute(
            "UPDATE tus_uploads SET upload_offset = $1, sha256_state = $2, content_check = $3",
            &[&(content.len() as i64), &hash.save(), &check],
        )
        .await
        .unwrap();
    assert_eq!(app.file_row_count().await, 0);

    let head = app.tus_call(Method::HEAD, &app.user, &url).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "upload-offset"), content.len().to_string());
    let file_id = header(&head, "draftd-file-id");
    let course = app.assert_first_file(id, &content).await;
    assert_eq!(course["files"][0]["id"], file_id.as_str());
    assert_eq!(app.file_row_count().await, 1);
}
