//! Uploads: streamed to storage, one course row, nothing left behind by a
//! refused or broken upload.

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::fixtures;
use crate::helpers::{assert_problem, wait_until, TestApp};

#[tokio::test]
async fn the_first_upload_makes_the_course_and_the_file_downloads_safely() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "Files"})).await;
    let content = fixtures::pdf();

    let response = app
        .upload(
            &app.user,
            id,
            "План курса.pdf",
            "application/pdf",
            content.clone(),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let file: Value = response.json().await.unwrap();
    assert_eq!(file["originalName"], "План курса.pdf");
    assert_eq!(file["contentType"], "application/pdf");
    assert_eq!(file["sizeBytes"], content.len());
    assert_eq!(file["sha256"], hex::encode(Sha256::digest(&content)));
    assert_eq!(app.course_count().await, 1);

    // Stored under {orgId}/{courseId}/{fileId}, from ids only.
    let stored = app.stored_files();
    let expected = app
        .config
        .upload_dir
        .join(app.user.org.to_string())
        .join(file["courseId"].as_str().unwrap())
        .join(file["id"].as_str().unwrap());
    assert_eq!(stored, [expected]);

    let second = app
        .upload(
            &app.user,
            id,
            "notes.md",
            "application/octet-stream",
            b"# notes".to_vec(),
        )
        .await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["contentType"], "text/markdown");
    assert_eq!(second["courseId"], file["courseId"]);
    assert_eq!(app.course_count().await, 1);

    let download = app.call(Method::GET, &location, &app.user).await;
    assert_eq!(download.status(), 200);
    let headers = download.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    assert_eq!(download.bytes().await.unwrap().to_vec(), content);

    let files_path = format!("/api/v1/drafts/{id}/files");
    let listed = app.get_json(&app.user, &files_path).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn deleting_a_file_removes_its_row_and_its_bytes() {
    let (app, id) = &TestApp::with_draft_id(json!({})).await;
    let file: Value = app
        .upload_text(&app.user, id, "a.txt", b"a")
        .await
        .json()
        .await
        .unwrap();

    let path = format!("/api/v1/drafts/{id}/files/{}", file["id"].as_str().unwrap());
    let deleted = app.call(Method::DELETE, &path, &app.user).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.file_row_count().await, 0);
    // The bytes go by the cleanup worker.
    app.run_cleanup().await;
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    let again = app.call(Method::DELETE, &path, &app.user).await;
    assert_problem(again, 404).await;
}

#[tokio::test]
async fn refused_uploads_leave_nothing_behind() {
    let app = TestApp::spawn_with(|c| c.max_upload_bytes = 1024).await;
    let id = &app.draft_id(&app.user, json!({"topic": "Refusals"})).await;

    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        ("big.txt", "text/plain", vec![b'x'; 1025], 413),
        ("image.png", "image/png", b"png".to_vec(), 415),
        ("tool.exe", "application/octet-stream", b"MZ".to_vec(), 415),
        ("../../etc/passwd", "text/plain", b"root".to_vec(), 422),
        ("/etc/passwd", "text/plain", b"root".to_vec(), 422),
        ("..\\..\\boot.ini", "text/plain", b"x".to_vec(), 422),
        // A NUL byte cannot even stand in a part's headers: a malformed body.
        ("nul\0byte.txt", "text/plain", b"x".to_vec(), 400),
        ("", "text/plain", b"x".to_vec(), 422),
        ("empty.txt", "text/plain", Vec::new(), 422),
    ];
    for (name, content_type, content, status) in cases {
        let response = app.upload(&app.user, id, name, content_type, content).await;
        assert_eq!(response.status(), status, "{name:?}");
        let problem = assert_problem(response, status).await;
        if status == 422 {
            assert!(problem["errors"]["file"].is_array(), "{name:?}: {problem}");
        }
    }
    let not_multipart = app
        .request(
            Method::POST,
            &format!("/api/v1/drafts/{id}/files"),
            &app.user,
        )
        .json(&json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(not_multipart, 415).await;
    let no_file_part = app
        .request(
            Method::POST,
            &format!("/api/v1/drafts/{id}/files"),
            &app.user,
        )
        .multipart(reqwest::multipart::Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    assert_problem(no_file_part, 422).await;

    assert_eq!(
        app.course_count().await,
        0,
        "a refused first upload makes no course"
    );
    assert_eq!(app.file_row_count().await, 0);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    assert_eq!(app.draft(&app.user, id).await["status"], "open");
}

#[tokio::test]
async fn an_upload_that_breaks_off_leaves_nothing_behind() {
    let (app, id) = &TestApp::with_draft_id(json!({})).await;

    // A raw request that promises 20 MB and sends 6 MB (more than one 5 MB
    // part, so the storage has started writing), then hangs up.
    let boundary = "draftd-test-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    );
    let address = app.address.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /api/v1/drafts/{id}/files HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        app.user.token,
        20 * 1024 * 1024
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    socket
        .write_all(&vec![b'x'; 6 * 1024 * 1024])
        .await
        .unwrap();
    wait_until("the upload reaches the storage", || async {
        !app.stored_files().is_empty()
    })
    .await;
    drop(socket);

    wait_until("the partial file is removed", || async {
        app.stored_files().is_empty()
    })
    .await;
    assert_eq!(app.file_row_count().await, 0);
    assert_eq!(app.course_count().await, 0);
}
