//! Files that lie: a file's name, declared type and content must agree (PDF,
//! DOCX, PPTX by their signatures and parts, text as UTF-8 without NUL over
//! the whole stream), or the upload is a 415 naming both types and leaves
//! nothing behind; names with invisible formatting characters are a 422.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use reqwest::Response;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::fixtures::{self, DOCX, PPTX};
use crate::helpers::{assert_problem, files_under, wait_until, ScratchDir, TestApp};
use crate::servers::{free_port, s3_server, use_s3};

/// Asserts a refused upload: a 415 whose detail names both types, and
/// nothing stored, recorded or materialized. Answers the detail.
async fn refused(app: &TestApp, draft_id: &str, response: Response, names: &[&str]) -> String {
    let problem = assert_problem(response, 415).await;
    let detail = problem["detail"].as_str().unwrap().to_owned();
    for name in names {
        assert!(detail.contains(name), "{detail:?} names {name}");
    }
    assert_nothing_left(app, draft_id).await;
    detail
}

async fn assert_nothing_left(app: &TestApp, draft_id: &str) {
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    assert_eq!(app.file_row_count().await, 0);
    assert_eq!(
        app.course_count().await,
        0,
        "a refused first upload makes no course"
    );
    assert_eq!(app.draft(&app.user, draft_id).await["status"], "open");
}

/// Uploads `chunks` as the `file` part, each sent on its own after a pause,
/// so that the service reads them as separate chunks.
async fn upload_in_chunks(
    app: &TestApp,
    draft_id: &str,
    name: &str,
    content_type: &str,
    chunks: Vec<Vec<u8>>,
) -> Response {
    let total: usize = chunks.iter().map(Vec::len).sum();
    let body = stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok::<_, std::io::Error>(Bytes::from(chunk))
    });
    upload_stream(app, draft_id, name, content_type, total, body).await
}

/// Uploads `body`, of `total` bytes, as the `file` part.
async fn upload_stream<S>(
    app: &TestApp,
    draft_id: &str,
    name: &str,
    content_type: &str,
    total: usize,
    body: S,
) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static,
{
    let part = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::wrap_stream(body),
        total as u64,
    )
    .file_name(name.to_owned())
    .mime_str(content_type)
    .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    app.post_files(&app.user, draft_id, form).await
}

/// A body of 6 MiB of text (more than one 5 MiB part), then, once the
/// storage has started writing under `dir`, `last`; with its length.
fn text_then_once_stored(
    dir: PathBuf,
    last: &'static [u8],
) -> (
    usize,
    impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static,
) {
    let line = "Lesson plan, line by line.\n";
    let text: Vec<Bytes> = (0..6)
        .map(|_| Bytes::from(line.repeat((1 << 20) / line.len() + 1)))
        .collect();
    let total = text.iter().map(Bytes::len).sum::<usize>() + last.len();
    let body = stream::iter(text.into_iter().map(Ok)).chain(stream::once(async move {
        wait_until("a part reaches the storage", || async {
            !files_under(&dir).is_empty()
        })
        .await;
        Ok(Bytes::from_static(last))
    }));
    (total, body)
}

async fn new_draft(app: &TestApp) -> String {
    let draft = app
        .new_draft(&app.user, json!({"topic": "Honest files"}))
        .await;
    draft["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn text_named_like_a_program_is_refused() {
    let app = TestApp::spawn().await;
    let id = new_draft(&app).await;

    let response = app
        .upload_text(&app.user, &id, "run.exe", b"echo hello\n")
        .await;
    let detail = refused(&app, &id, response, &["text/plain", ".exe"]).await;
    assert!(detail.contains(".txt"), "{detail:?} says what was expected");

    for (name, content_type, content) in [
        ("README", "text/plain", b"no extension".to_vec()),
        ("plan.docx", "application/pdf", fixtures::pdf()),
        ("notes.txt", "text/markdown", b"# notes".to_vec()),
        ("slides.docx", PPTX, fixtures::pptx()),
    ] {
        let response = app
            .upload(&app.user, &id, name, content_type, content)
            .await;
        refused(&app, &id, response, &[content_type]).await;
    }
}

#[tokio::test]
async fn html_declared_as_a_pdf_is_refused_naming_both_types() {
    let app = TestApp::spawn().await;
    let id = new_draft(&app).await;

    let html = b"<!DOCTYPE html>\n<html><body><script>fetch('/api/v1/courses')</script>%PDF-1.4</body></html>\n";
    let response = app
        .upload(&app.user, &id, "plan.pdf", "application/pdf", html.to_vec())
        .await;
    let detail = refused(&app, &id, response, &[]).await;
    assert_eq!(detail, "declared application/pdf, detected text/html");

    // The same, with the type left to the extension.
    let response = app
        .upload(
            &app.user,
            &id,
            "plan.pdf",
            "application/octet-stream",
            html.to_vec(),
        )
        .await;
    refused(&app, &id, response, &["application/pdf", "text/html"]).await;
}

#[tokio::test]
async fn a_pdf_named_docx_is_refused() {
    let app = TestApp::spawn().await;
    let id = new_draft(&app).await;

    // Its type taken from the name: the content is no Word document.
    let response = app
        .upload(
            &app.user,
            &id,
            "plan.docx",
            "application/octet-stream",
            fixtures::pdf(),
        )
        .await;
    let detail = refused(&app, &id, response, &[]).await;
    assert_eq!(detail, format!("declared {DOCX}, detected application/pdf"));

    // Declared a Word document too.
    let response = app
        .upload(&app.user, &id, "plan.docx", DOCX, fixtures::pdf())
        .await;
    refused(&app, &id, response, &[DOCX, "application/pdf"]).await;

    // A presentation or a plain ZIP under a Word document's name.
    let response = app
        .upload(&app.user, &id, "plan.docx", DOCX, fixtures::pptx())
        .await;
    refused(&app, &id, response, &[DOCX, PPTX]).await;
    let archive = fixtures::stored_zip(&[("notes.txt", b"notes")]);
    let response = app.upload(&app.user, &id, "plan.docx", DOCX, archive).await;
    refused(&app, &id, response, &[DOCX, "ZIP"]).await;
}

#[tokio::test]
async fn text_with_a_nul_or_invalid_utf8_is_refused_wherever_the_chunks_cut() {
    let app = TestApp::spawn().await;
    let id = new_draft(&app).await;

    let line = "Неделя 1: владение и заимствование — 소유권\n";
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        (
            "a NUL",
            vec![line.as_bytes().to_vec(), b"tail\0end\n".to_vec()],
            "a NUL byte",
        ),
        (
            // "€" is E2 82 AC: the chunks cut it after E2 and after 82, and
            // the byte that follows, "(", cannot finish it.
            "a code point broken across chunks",
            vec![b"price: \xE2".to_vec(), b"\x82".to_vec(), b"(\n".to_vec()],
            "invalid UTF-8",
        ),
        (
            "a lone continuation byte",
            vec![line.as_bytes().to_vec(), b"\x80\n".to_vec()],
            "invalid UTF-8",
        ),
        (
            "a code point the file ends inside",
            vec![line.as_bytes().to_vec(), b"\xF0\x9F".to_vec()],
            "ends inside a UTF-8 sequence",
        ),
    ];
    for (what, chunks, why) in cases {
        let response = upload_in_chunks(&app, &id, "notes.txt", "text/plain", chunks).await;
        let detail = refused(&app, &id, response, &["declared text/plain", why]).await;
        assert!(detail.contains("binary data"), "{what}: {detail}");
    }
}

#[tokio::test]
async fn a_mismatch_found_mid_stream_removes_what_was_written() {
    let app = TestApp::spawn().await;
    let id = new_draft(&app).await;

    let (total, body) = text_then_once_stored(app.config.upload_dir.clone(), b"\0");
    let response = upload_stream(&app, &id, "plan.md", "text/markdown", total, body).await;
    refused(
        &app,
        &id,
        response,
        &["declared text/markdown", "a NUL byte at byte"],
    )
    .await;
}

#[tokio::test]
async fn on_s3_a_mismatch_found_mid_stream_aborts_the_multipart_upload() {
    let port = free_port();
    let root = ScratchDir::new("s3");
    let _s3 = s3_server(&root, port).await;
    let app = TestApp::spawn_with(|c| use_s3(c, port)).await;
    let id = new_draft(&app).await;

    let (total, body) = text_then_once_stored(root.to_path_buf(), b"\xFF");
    let response = upload_stream(&app, &id, "plan.txt", "text/plain", total, body).await;
    refused(
        &app,
        &id,
        response,
        &["declared text/plain", "invalid UTF-8"],
    )
    .await;
    assert_eq!(
        files_under(&root),
        Vec::<PathBuf>::new(),
        "the multipart upload is aborted: no object, no part"
    );

    let response = app
        .upload(
            &app.user,
            &id,
            "plan.pdf",
            "application/pdf",
            fixtures::pdf(),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(files_under(&root.join("draftd")).len(), 1);
}

#[tokio::test]
async fn real_files_of_every_accepted_type_are_stored() {
    let app = TestApp::spawn().await;
    let id = new_draft(&app).await;

    let text = "# Неделя 1\nВладение — 소유권 🦀\n".repeat(500);
    let cases = [
        ("plan.pdf", "application/pdf", fixtures::pdf()),
        ("plan.docx", DOCX, fixtures::docx()),
        ("slides.pptx", PPTX, fixtures::pptx()),
        (
            "python-docx.docx",
            "application/octet-stream",
            fixtures::python_docx(),
        ),
        ("python-pptx.pptx", PPTX, fixtures::python_pptx()),
        ("notes.txt", "text/plain", b"Reading list\n".to_vec()),
        (
            "notes.text",
            "text/plain; charset=utf-8",
            text.clone().into_bytes(),
        ),
        ("plan.md", "text/markdown", text.clone().into_bytes()),
    ];
    for (name, content_type, content) in cases {
        let response = app
            .upload(&app.user, &id, name, content_type, content.clone())
            .await;
        assert_eq!(
            response.status(),
            201,
            "{name}: {:?}",
            response.text().await
        );
        let file: Value = response.json().await.unwrap();
        assert_eq!(
            file["sha256"],
            hex::encode(Sha256::digest(&content)),
            "{name}"
        );
    }
    let listed = app
        .get_json(&app.user, &format!("/api/v1/drafts/{id}/files"))
        .await;
    let types: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["contentType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "application/pdf",
            DOCX,
            PPTX,
            DOCX,
            PPTX,
            "text/plain",
            "text/plain",
            "text/markdown"
        ]
    );

    // Text whose code points are cut by the chunks the client sends.
    let bytes = text.as_bytes();
    let chunks = vec![
        bytes[..3].to_vec(),
        bytes[3..13].to_vec(),
        bytes[13..].to_vec(),
    ];
    assert!(
        std::str::from_utf8(&bytes[..3]).is_err() && std::str::from_utf8(&bytes[..13]).is_err()
    );
    let response = upload_in_chunks(&app, &id, "cut.md", "text/markdown", chunks).await;
    assert_eq!(response.status(), 201);
    assert_eq!(app.course_count().await, 1);
}

#[tokio::test]
async fn a_name_with_a_bidi_override_is_refused() {
    let app = TestApp::spawn().await;
    let id = new_draft(&app).await;

    // U+202E shows the rest of a name reversed: "invoice\u{202E}fdp.exe"
    // reads "invoiceexe.pdf". A zero-width space hides in a name as well.
    for name in [
        "invoice\u{202E}fdp.exe",
        "invoice\u{202E}exe.pdf",
        "plan\u{200B}.pdf",
    ] {
        let response = app
            .upload(&app.user, &id, name, "application/pdf", fixtures::pdf())
            .await;
        let problem = assert_problem(response, 422).await;
        let messages = problem["errors"]["file"].to_string();
        assert!(messages.contains("formatting"), "{name:?}: {problem}");
    }
    assert_nothing_left(&app, &id).await;
}

#[tokio::test]
async fn the_openapi_document_states_the_rule() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get_public("/openapi.json").await.json().await.unwrap();
    let upload = &doc["paths"]["/api/v1/drafts/{id}/files"]["post"];
    let description = upload["description"].as_str().unwrap_or_default();
    for rule in [
        "415",
        "%PDF-",
        "[Content_Types].xml",
        "UTF-8 without NUL",
        "bidi",
    ] {
        assert!(description.contains(rule), "{rule:?} in {description:?}");
    }
}
