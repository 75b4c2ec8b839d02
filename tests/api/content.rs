//! Files that lie: a name whose extension is not its declared type's is a
//! 415 naming both and leaves nothing behind; names with invisible formatting
//! characters are a 422.

use reqwest::Response;
use serde_json::json;

use crate::helpers::{assert_problem, TestApp};

const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";

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
        .upload(
            &app.user,
            &id,
            "run.exe",
            "text/plain",
            b"echo hello\n".to_vec(),
        )
        .await;
    let detail = refused(&app, &id, response, &["text/plain", ".exe"]).await;
    assert!(detail.contains(".txt"), "{detail:?} says what was expected");

    for (name, content_type, content) in [
        ("README", "text/plain", b"no extension".to_vec()),
        (
            "plan.docx",
            "application/pdf",
            b"%PDF-1.4\n%%EOF\n".to_vec(),
        ),
        ("notes.txt", "text/markdown", b"# notes".to_vec()),
        ("slides.docx", PPTX, b"PK\x03\x04".to_vec()),
    ] {
        let response = app
            .upload(&app.user, &id, name, content_type, content)
            .await;
        refused(&app, &id, response, &[content_type]).await;
    }
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
            .upload(
                &app.user,
                &id,
                name,
                "application/pdf",
                b"%PDF-1.4\n%%EOF\n".to_vec(),
            )
            .await;
        let problem = assert_problem(response, 422).await;
        let messages = problem["errors"]["file"].to_string();
        assert!(messages.contains("formatting"), "{name:?}: {problem}");
    }
    assert_nothing_left(&app, &id).await;
}
