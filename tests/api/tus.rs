//! Resumable uploads, tus 1.0.0: the protocol (creation, HEAD, PATCH,
//! termination), the rules of a multipart upload, and the file a finished
//! upload becomes, exactly once.

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::fixtures;
use crate::helpers::{assert_problem, files_under, new_user, TestApp};
use crate::tus_steps::{created_url, header, text, OwnRedis, TUS};

#[tokio::test]
async fn an_upload_in_several_patches_becomes_one_file_and_materializes_once() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "Resumable"})).await;
    let options = app
        .tus_call(
            Method::OPTIONS,
            &app.user,
            &format!("/api/v1/drafts/{id}/uploads"),
        )
        .await;
    assert_eq!(options.status(), 204);
    assert_eq!(header(&options, "tus-version"), TUS);
    assert_eq!(
        header(&options, "tus-extension"),
        "creation,termination,expiration"
    );
    assert_eq!(
        header(&options, "tus-max-size"),
        app.config.max_upload_bytes.to_string()
    );

    let content = fixtures::pdf();
    let created = app
        .tus_create(&app.user, id, content.len(), "План.pdf", "application/pdf")
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "tus-resumable"), TUS);
    assert!(header(&created, "upload-expires").ends_with(" GMT"));
    let url = header(&created, "location");
    assert!(
        url.starts_with(&format!("/api/v1/drafts/{id}/uploads/")),
        "{url}"
    );
    assert_eq!(app.course_count().await, 0, "creation writes no course");

    let head = app.tus_call(Method::HEAD, &app.user, &url).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "upload-offset"), "0");
    assert_eq!(header(&head, "upload-length"), content.len().to_string());
    assert_eq!(header(&head, "cache-control"), "no-store");
    assert_eq!(header(&head, "tus-resumable"), TUS);

    let third = content.len() / 3;
    let expires = app.draft(&app.user, id).await["expiresAt"].clone();
    let first = app.tus_patch(&app.user, &url, 0, &content[..third]).await;
    assert_eq!(first.status(), 204);
    let refreshed = app.draft(&app.user, id).await;
    assert!(
        refreshed["expiresAt"].as_str() > expires.as_str(),
        "a PATCH keeps the draft alive"
    );
    assert_eq!(refreshed["version"], 1, "without changing it");
    assert_eq!(header(&first, "upload-offset"), third.to_string());
    assert!(first.headers().get("draftd-file-id").is_none());
    let stale = app.tus_patch(&app.user, &url, 0, &content[..third]).await;
    assert_eq!(
        assert_problem(stale, 409).await["type"],
        "urn:draftd:problem:offset-mismatch"
    );
    let second = app
        .tus_patch(&app.user, &url, third, &content[third..2 * third])
        .await;
    assert_eq!(second.status(), 204);
    assert_eq!(app.tus_offset(&app.user, &url).await, 2 * third as u64);

    let last = app
        .tus_patch(&app.user, &url, 2 * third, &content[2 * third..])
        .await;
    assert_eq!(last.status(), 204);
    assert_eq!(header(&last, "upload-offset"), content.len().to_string());
    let file_id = header(&last, "draftd-file-id");
    let location = header(&last, "draftd-file-location");
    assert_eq!(app.course_count().await, 1);
    assert_eq!(app.file_row_count().await, 1);
    let draft = app.draft(&app.user, id).await;
    assert_eq!(draft["status"], "materialized");
    let course = app.course_of(&app.user, &draft).await;
    assert_eq!(course["materializedBy"], "upload");
    let file = &course["files"][0];
    assert_eq!(file["id"], file_id.as_str());
    assert_eq!(file["originalName"], "План.pdf");
    assert_eq!(file["sha256"], hex::encode(Sha256::digest(&content)));
    let download = app.call(Method::GET, &location, &app.user).await;
    assert_eq!(download.bytes().await.unwrap().to_vec(), content);
    // Where a multipart upload's file goes: {orgId}/{courseId}/{fileId}.
    let expected = app
        .config
        .upload_dir
        .join(app.user.org.to_string())
        .join(draft["courseId"].as_str().unwrap())
        .join(&file_id);
    assert_eq!(app.stored_files(), [expected]);

    // A retried last PATCH (its answer was lost) finds the same file.
    let again = app.tus_patch(&app.user, &url, content.len(), b"").await;
    assert_eq!(again.status(), 204);
    assert_eq!(header(&again, "draftd-file-id"), file_id);
    assert_eq!(app.file_row_count().await, 1);
    let head = app.tus_call(Method::HEAD, &app.user, &url).await;
    assert_eq!(header(&head, "upload-offset"), content.len().to_string());
    assert_eq!(header(&head, "draftd-file-id"), file_id);
    let ended = app.tus_call(Method::DELETE, &app.user, &url).await;
    assert_problem(ended, 409).await;
}

#[tokio::test]
async fn protocol_mistakes_are_refused_and_change_nothing() {
    let (app, id) = &TestApp::with_draft_id(json!({})).await;
    let path = format!("/api/v1/drafts/{id}/uploads");
    let no_version = app
        .request(Method::POST, &path, &app.user)
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&no_version, "tus-version"), TUS);
    assert_problem(no_version, 412).await;
    let deferred = app
        .request(Method::POST, &path, &app.user)
        .header("tus-resumable", TUS)
        .header("upload-defer-length", "1")
        .send()
        .await
        .unwrap();
    assert_problem(deferred, 400).await;
    let no_length = app.tus_call(Method::POST, &app.user, &path).await;
    assert_problem(no_length, 400).await;

    let url = created_url(
        app.tus_create(&app.user, id, 10, "a.txt", "text/plain")
            .await,
    );
    let wrong_type = app
        .request(Method::PATCH, &url, &app.user)
        .header("tus-resumable", TUS)
        .header("upload-offset", "0")
        .header("content-type", "application/octet-stream")
        .body("0123456789")
        .send()
        .await
        .unwrap();
    assert_problem(wrong_type, 415).await;
    let no_offset = app
        .request(Method::PATCH, &url, &app.user)
        .header("tus-resumable", TUS)
        .header("content-type", "application/offset+octet-stream")
        .body("0123456789")
        .send()
        .await
        .unwrap();
    assert_problem(no_offset, 400).await;
    let past_length = app.tus_patch(&app.user, &url, 0, b"0123456789ABC").await;
    assert_problem(past_length, 413).await;
    assert_eq!(app.tus_offset(&app.user, &url).await, 0);
    let unversioned_head = app.call(Method::HEAD, &url, &app.user).await;
    assert_eq!(unversioned_head.status(), 412);
    assert_eq!(app.course_count().await, 0);
}

#[tokio::test]
async fn the_rules_of_multipart_uploads_apply_at_creation() {
    let app = TestApp::spawn_with(|c| {
        c.max_upload_bytes = 1000;
        c.max_files_per_course = 2;
        c.org_storage_bytes = 1500;
    })
    .await;
    let id = &app.draft_id(&app.user, json!({})).await;
    let too_large = app
        .tus_create(&app.user, id, 1001, "a.txt", "text/plain")
        .await;
    assert_problem(too_large, 413).await;
    let png = app
        .tus_create(&app.user, id, 10, "a.png", "image/png")
        .await;
    assert_problem(png, 415).await;
    let disguised = app
        .tus_create(&app.user, id, 10, "run.exe", "text/plain")
        .await;
    assert_problem(disguised, 415).await;
    let path_name = app
        .tus_create(&app.user, id, 10, "../a.txt", "text/plain")
        .await;
    assert_problem(path_name, 422).await;
    let empty = app
        .tus_create(&app.user, id, 0, "a.txt", "text/plain")
        .await;
    assert_problem(empty, 422).await;

    // The size is reserved at creation: two 800-byte uploads pass 1500.
    let first = created_url(
        app.tus_create(&app.user, id, 800, "a.txt", "text/plain")
            .await,
    );
    let full = app
        .tus_create(&app.user, id, 800, "b.txt", "text/plain")
        .await;
    let problem = assert_problem(full, 409).await;
    assert_eq!(problem["type"], "urn:draftd:problem:quota-exceeded");
    assert_eq!(problem["used"], 800);
    // ... and so is a file of the course: a multipart upload meets it too.
    let _second = created_url(
        app.tus_create(&app.user, id, 100, "b.txt", "text/plain")
            .await,
    );
    let third = app.upload_text(&app.user, id, "c.txt", b"c").await;
    assert_problem(third, 409).await;

    // Termination gives the reservation back.
    let ended = app.tus_call(Method::DELETE, &app.user, &first).await;
    assert_eq!(ended.status(), 204);
    let after = app
        .tus_create(&app.user, id, 800, "b.txt", "text/plain")
        .await;
    assert_eq!(after.status(), 201);
    assert_eq!(app.course_count().await, 0);
}

#[tokio::test]
async fn another_users_upload_answers_404_and_termination_removes_the_bytes() {
    let (app, id) = &TestApp::with_draft_id(json!({})).await;
    let content = text(3000);
    let url = created_url(
        app.tus_create(&app.user, id, content.len(), "a.txt", "text/plain")
            .await,
    );
    let first = app.tus_patch(&app.user, &url, 0, &content[..1000]).await;
    assert_eq!(first.status(), 204);
    let staging: Vec<_> = files_under(&app.config.upload_dir);
    assert_eq!(staging.len(), 1, "{staging:?}");
    assert_eq!(std::fs::metadata(&staging[0]).unwrap().len(), 1000);

    let stranger = new_user();
    let same_user_other_org = crate::helpers::token_for(draftd::http::auth::Claims {
        sub: Some(app.user.id),
        org_id: Some(uuid::Uuid::new_v4()),
        role: None,
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    });
    for user in [&stranger, &same_user_other_org] {
        for method in [Method::HEAD, Method::DELETE] {
            let response = app.tus_call(method, user, &url).await;
            assert_eq!(response.status(), 404);
        }
        let patch = app.tus_patch(user, &url, 1000, &content[1000..]).await;
        assert_problem(patch, 404).await;
    }
    let missing =
        url.rsplit_once('/').unwrap().0.to_owned() + "/" + &uuid::Uuid::new_v4().to_string();
    assert_eq!(
        app.tus_call(Method::HEAD, &app.user, &missing)
            .await
            .status(),
        404
    );
    assert_eq!(app.tus_offset(&app.user, &url).await, 1000);

    let ended = app.tus_call(Method::DELETE, &app.user, &url).await;
    assert_eq!(ended.status(), 204);
    assert_eq!(header(&ended, "tus-resumable"), TUS);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    assert_eq!(app.count("SELECT count(*) FROM tus_uploads").await, 0);
    assert_eq!(
        app.tus_call(Method::HEAD, &app.user, &url).await.status(),
        404
    );
    assert_problem(
        app.tus_patch(&app.user, &url, 1000, &content[1000..]).await,
        404,
    )
    .await;
}

#[tokio::test]
async fn content_that_is_not_its_type_is_refused_and_nothing_is_left() {
    let (app, id) = &TestApp::with_draft_id(json!({})).await;
    // Refused at the end: HTML declared as a PDF.
    let html = b"<!DOCTYPE html><html><body>%PDF-1.4</body></html>".to_vec();
    let url = created_url(
        app.tus_create(&app.user, id, html.len(), "a.pdf", "application/pdf")
            .await,
    );
    let refused = app.tus_send(&app.user, &url, &html, 20).await;
    let problem = assert_problem(refused, 415).await;
    assert_eq!(
        problem["detail"],
        "declared application/pdf, detected text/html"
    );
    assert_eq!(
        app.tus_call(Method::HEAD, &app.user, &url).await.status(),
        404
    );

    // Refused midway, at the PATCH that brings a NUL into a text.
    let mut content = text(5000);
    content[3000] = 0;
    let url = created_url(
        app.tus_create(&app.user, id, content.len(), "a.txt", "text/plain")
            .await,
    );
    assert_eq!(
        app.tus_patch(&app.user, &url, 0, &content[..2000])
            .await
            .status(),
        204
    );
    let refused = app
        .tus_patch(&app.user, &url, 2000, &content[2000..4000])
        .await;
    let problem = assert_problem(refused, 415).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("NUL"),
        "{problem}"
    );

    assert_eq!(app.course_count().await, 0);
    assert_eq!(app.file_row_count().await, 0);
    assert_eq!(app.count("SELECT count(*) FROM tus_uploads").await, 0);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
}

#[tokio::test]
async fn discarding_the_draft_ends_its_uploads() {
    let own = OwnRedis::take().await;
    let app = TestApp::spawn_with(|c| own.apply(c)).await;
    let id = &app.draft_id(&app.user, json!({})).await;
    let url = app.half_sent_upload(&app.user, id).await;
    let discarded = app
        .call(Method::DELETE, &format!("/api/v1/drafts/{id}"), &app.user)
        .await;
    assert_eq!(discarded.status(), 204);
    assert_eq!(
        app.tus_call(Method::HEAD, &app.user, &url).await.status(),
        404
    );
    let report: Value = app.admin(Method::POST, "/api/v1/admin/orphans/sweep").await;
    assert_eq!(report["expiredUploads"], 1);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
}

#[tokio::test]
async fn erasing_the_course_ends_its_unfinished_uploads() {
    let own = OwnRedis::take().await;
    let app = TestApp::spawn_with(|c| own.apply(c)).await;
    let id = &app.draft_id(&app.user, json!({})).await;
    let first = created_url(
        app.tus_create(&app.user, id, 4, "a.txt", "text/plain")
            .await,
    );
    let unfinished = created_url(
        app.tus_create(&app.user, id, 10, "b.txt", "text/plain")
            .await,
    );
    assert_eq!(
        app.tus_patch(&app.user, &unfinished, 0, b"01234")
            .await
            .status(),
        204
    );
    assert_eq!(
        app.tus_patch(&app.user, &first, 0, b"abcd").await.status(),
        204
    );
    let course = app.draft(&app.user, id).await["courseId"]
        .as_str()
        .unwrap()
        .to_owned();
    let erased = app
        .call(
            Method::DELETE,
            &format!("/api/v1/courses/{course}?permanent=true"),
            &app.user,
        )
        .await;
    assert_eq!(erased.status(), 204);
    assert_eq!(
        app.tus_call(Method::HEAD, &app.user, &unfinished)
            .await
            .status(),
        404
    );
    app.run_cleanup().await;
    let report = app.admin(Method::POST, "/api/v1/admin/orphans/sweep").await;
    assert_eq!(
        report["expiredUploads"], 2,
        "the unfinished one and the receipt"
    );
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
}

/// tus core: a POST with `X-HTTP-Method-Override: PATCH` or `DELETE` is that
/// method (tus-js-client's `overridePatchMethod`); a POST naming anything
/// else, or nothing, is refused and never runs as a POST.
#[tokio::test]
async fn a_post_overriding_its_method_is_a_patch_or_a_delete_and_nothing_else() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "Overridden"})).await;
    let content = text(3000);
    let post = |url: String, method: Option<&'static str>, offset: usize, bytes: Vec<u8>| {
        let mut request = app
            .request(Method::POST, &url, &app.user)
            .header("tus-resumable", TUS)
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(bytes);
        if let Some(method) = method {
            request = request.header("x-http-method-override", method);
        }
        request.send()
    };
    let url = created_url(
        app.tus_create(&app.user, id, content.len(), "notes.txt", "text/plain")
            .await,
    );

    for method in [
        None,
        Some("GET"),
        Some("HEAD"),
        Some("POST"),
        Some("PUT"),
        Some("patch"),
    ] {
        let response = post(url.clone(), method, 0, content[..1000].to_vec())
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        assert!(status == 400 || status == 405, "{method:?}: {status}");
        assert_problem(response, status).await;
        assert_eq!(
            app.tus_offset(&app.user, &url).await,
            0,
            "{method:?} stored nothing"
        );
    }

    let first = post(url.clone(), Some("PATCH"), 0, content[..1000].to_vec())
        .await
        .expect("an answer");
    assert_eq!(first.status(), 204);
    assert_eq!(header(&first, "upload-offset"), "1000");
    assert_eq!(app.tus_offset(&app.user, &url).await, 1000);
    let last = post(url.clone(), Some("PATCH"), 1000, content[1000..].to_vec())
        .await
        .expect("an answer");
    assert_eq!(last.status(), 204);
    assert_eq!(header(&last, "upload-offset"), "3000");
    let file = header(&last, "draftd-file-id");
    let files = app
        .get_json(&app.user, &format!("/api/v1/drafts/{id}/files"))
        .await;
    assert!(files.to_string().contains(&file), "{files}");

    let other = created_url(
        app.tus_create(&app.user, id, content.len(), "more.txt", "text/plain")
            .await,
    );
    let terminated = post(other.clone(), Some("DELETE"), 0, Vec::new())
        .await
        .expect("an answer");
    assert_eq!(terminated.status(), 204);
    let head = app.tus_call(Method::HEAD, &app.user, &other).await;
    assert_eq!(head.status(), 404);
}
