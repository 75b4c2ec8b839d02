//! Materialize and submit (invariants 1, 2, 3): one course row per draft,
//! only when it becomes real.

use std::collections::HashSet;

use futures_util::future::join_all;
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, TestApp};
use crate::steps::{assert_status_counts, statuses};

async fn json_of(response: Response) -> Value {
    response.json().await.expect("JSON body")
}

/// POSTs the draft's `action`, asserting a 422 whose errors name `fields`,
/// in order.
async fn assert_refused_naming(app: &TestApp, id: &str, action: &str, fields: &[&str]) {
    let refused = app.draft_action(&app.user, id, action).await;
    let problem = assert_problem(refused, 422).await;
    let named: Vec<&str> = problem["errors"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(named, fields, "{action}: {problem}");
}

#[tokio::test]
async fn materialize_creates_the_row_once_and_keeps_the_draft_editable() {
    let (app, draft) = TestApp::with_draft(json!({"topic": "Основы Rust"})).await;
    let id = draft["id"].as_str().unwrap();

    let first = app.draft_action(&app.user, id, "materialize").await;
    assert_eq!(first.status(), 201);
    let first = json_of(first).await;
    assert!(
        first["courseSlug"]
            .as_str()
            .unwrap()
            .starts_with("osnovy-rust-"),
        "{first}"
    );
    assert_eq!(first["status"], "draft");
    let again = app.draft_action(&app.user, id, "materialize").await;
    assert_eq!(again.status(), 200);
    assert_eq!(json_of(again).await, first);
    assert_eq!(app.course_count().await, 1);

    let materialized = app.draft(&app.user, id).await;
    assert_eq!(materialized["status"], "materialized");
    assert_eq!(materialized["courseId"], first["courseId"]);
    assert_eq!(materialized["courseSlug"], first["courseSlug"]);
    let saved = app
        .patch_draft(&app.user, id, json!({"description": "still editing"}), None)
        .await;
    assert_eq!(saved.status(), 200);

    let course = app.course_of(&app.user, &first).await;
    assert_eq!(course["materializedBy"], "materialize");
    assert_eq!(course["draftSessionId"], draft["id"]);
    assert_eq!(course["status"], "draft");
    assert_eq!(course["files"], json!([]));
}

#[tokio::test]
async fn submit_validates_strictly_and_refuses_without_writing() {
    let (app, draft) =
        TestApp::with_draft(json!({"topic": "Ru", "email": "ivan@", "language": "x"})).await;
    let id = draft["id"].as_str().unwrap();

    assert_refused_naming(&app, id, "submit", &["email", "language", "topic"]).await;
    assert_eq!(app.course_count().await, 0);
    assert_eq!(
        app.draft(&app.user, id).await,
        draft,
        "the draft is as it was, and editable"
    );
    assert_eq!(
        app.patch_draft(&app.user, id, json!({"topic": "Rust"}), None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_dry_run_of_submit_checks_strictly_and_changes_nothing() {
    let (app, draft) = TestApp::with_draft(json!({"topic": "Ru", "email": "ivan@"})).await;
    let id = draft["id"].as_str().unwrap();

    assert_refused_naming(&app, id, "submit?dryRun=true", &["email", "topic"]).await;

    let patched = app
        .patch_draft(&app.user, id, json!({"topic": "Rust", "email": null}), None)
        .await;
    assert_eq!(patched.status(), 200);
    let passed = app.draft_action(&app.user, id, "submit?dryRun=true").await;
    assert_eq!(passed.status(), 204);
    assert_eq!(app.course_count().await, 0);
    let after = app.draft(&app.user, id).await;
    assert_eq!(after["status"], "open", "the draft is not submitted");
    assert_eq!(after["version"], 2);
}

#[tokio::test]
async fn submit_writes_the_final_data_ends_the_draft_and_repeats_safely() {
    let (app, id) = &TestApp::with_draft_id(
        json!({"topic": "  Основы Rust  ", "email": "a@b.ru", "language": "ru"}),
    )
    .await;

    let submitted = app.draft_action(&app.user, id, "submit").await;
    assert_eq!(submitted.status(), 201);
    let submitted = json_of(submitted).await;
    assert_eq!(submitted["status"], "submitted");
    let repeated = app.draft_action(&app.user, id, "submit").await;
    assert_eq!(repeated.status(), 200);
    assert_eq!(json_of(repeated).await, submitted);

    let course = app.course_of(&app.user, &submitted).await;
    assert_eq!(course["title"], "Основы Rust");
    assert_eq!(course["materializedBy"], "submit");
    assert!(course["submittedAt"].is_string());
    assert_eq!(
        course["formData"],
        json!({"topic": "Основы Rust", "email": "a@b.ru", "language": "ru"})
    );

    // The draft answers that it was submitted, is read-only and no longer listed.
    let ended = app.draft(&app.user, id).await;
    assert_eq!(ended["status"], "submitted");
    assert_eq!(ended["courseId"], submitted["courseId"]);
    let patch = app
        .patch_draft(&app.user, id, json!({"topic": "changed"}), None)
        .await;
    assert_problem(patch, 409).await;
    app.assert_no_drafts(&app.user).await;
    assert_eq!(app.course_count().await, 1);
}

#[tokio::test]
async fn autosave_after_an_upload_goes_on_and_submit_writes_the_latest_data() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "First title"})).await;

    let uploaded = app
        .upload_text(&app.user, id, "plan.txt", b"lesson plan")
        .await;
    assert_eq!(uploaded.status(), 201);
    for (i, topic) in ["Second title", "Final title"].iter().enumerate() {
        let saved = app
            .patch_draft(
                &app.user,
                id,
                json!({"topic": topic, "estimatedLessons": i + 5}),
                None,
            )
            .await;
        assert_eq!(saved.status(), 200);
    }
    let submitted = json_of(app.draft_action(&app.user, id, "submit").await).await;

    let course = app.course_of(&app.user, &submitted).await;
    assert_eq!(
        course["formData"],
        json!({"topic": "Final title", "estimatedLessons": 6})
    );
    assert_eq!(course["title"], "Final title");
    assert_eq!(course["materializedBy"], "upload");
    assert!(submitted["courseSlug"]
        .as_str()
        .unwrap()
        .starts_with("final-title-"));
    assert_eq!(course["files"].as_array().unwrap().len(), 1);
    assert_eq!(app.course_count().await, 1);
}

/// Invariant 2: 50 racing requests of every kind, one course row.
#[tokio::test]
async fn fifty_racing_materializes_submits_and_uploads_make_one_course() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "Race condition course"})).await;

    let requests = (0..50).map(|i| {
        let app = &app;
        async move {
            let response = match i % 3 {
                0 => app.draft_action(&app.user, id, "materialize").await,
                1 => app.draft_action(&app.user, id, "submit").await,
                _ => {
                    app.upload(
                        &app.user,
                        id,
                        &format!("file-{i}.txt"),
                        "text/plain",
                        vec![b'x'; 100 + i],
                    )
                    .await
                }
            };
            (
                i % 3,
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    });
    let results = join_all(requests).await;

    let mut course_ids = HashSet::new();
    let mut uploads_stored = 0;
    for (kind, status, body) in &results {
        match (kind, status) {
            (2, 201) => {
                uploads_stored += 1;
                course_ids.insert(body["courseId"].as_str().unwrap().to_owned());
            }
            // An upload that lands after the submit froze the draft.
            (2, 409) => {}
            (_, 200 | 201) => {
                course_ids.insert(body["courseId"].as_str().unwrap().to_owned());
            }
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert_eq!(course_ids.len(), 1, "every answer names the same course");
    assert_eq!(app.course_count().await, 1);
    assert_eq!(app.file_row_count().await, uploads_stored);
    assert_eq!(app.stored_files().len() as i64, uploads_stored);
    let created = results
        .iter()
        .filter(|(kind, status, _)| *kind != 2 && *status == 201)
        .count();
    assert!(
        created <= 1,
        "at most one materialize or submit created the row"
    );
}

#[tokio::test]
async fn racing_submits_make_one_course_and_one_201() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "Twenty tabs"})).await;

    let responses = join_all((0..20).map(|_| app.draft_action(&app.user, id, "submit"))).await;
    let statuses = statuses(&responses);
    assert_status_counts(&statuses, &[(201, 1), (200, 19)]);
    let mut ids = HashSet::new();
    for response in responses {
        ids.insert(
            json_of(response).await["courseId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(app.course_count().await, 1);
}

/// Invariant 3 across submit: an autosave acknowledged before submit's answer
/// is in the course, or was refused; never acknowledged and left out.
#[tokio::test]
async fn no_acknowledged_autosave_is_left_out_of_a_racing_submit() {
    let (app, id) =
        &TestApp::with_draft_id(json!({"topic": "Racing the submit", "estimatedLessons": 1})).await;

    let autosaves = (2..=30).map(|n| {
        let app = &app;
        async move {
            let response = app
                .patch_draft(&app.user, id, json!({"estimatedLessons": n}), None)
                .await;
            (n, response.status().as_u16())
        }
    });
    let (saves, submit) = tokio::join!(
        join_all(autosaves),
        app.draft_action(&app.user, id, "submit")
    );
    let submitted = json_of(submit).await;

    let course = app.course_of(&app.user, &submitted).await;
    let final_draft = app.draft(&app.user, id).await;
    // The course holds exactly what the frozen draft holds.
    assert_eq!(course["formData"], final_draft["formData"]);
    for (n, status) in saves {
        assert!(status == 200 || status == 409, "autosave {n}: {status}");
    }
}

/// Invariant 1 still holds with the new routes: reading files of an open
/// draft writes nothing.
#[tokio::test]
async fn listing_files_of_an_open_draft_writes_nothing() {
    let (app, draft) = TestApp::with_draft(json!({"topic": "Just looking"})).await;
    let path = format!("/api/v1/drafts/{}/files", draft["id"].as_str().unwrap());
    let files = app.call(Method::GET, &path, &app.user).await;
    assert_eq!(files.status(), 200);
    assert_eq!(json_of(files).await, json!([]));
    assert_eq!(app.course_count().await, 0);
}

#[tokio::test]
async fn a_course_with_no_free_slug_is_a_500_not_a_retry() {
    let (app, draft) = TestApp::with_draft(json!({"topic": "Taken slugs"})).await;
    let id = draft["id"].as_str().unwrap();
    let course = draftd::domain::course::course_id_for(id.parse().unwrap());
    // Both slugs the course could have belong to other courses already.
    for slug in draftd::domain::course::slug_candidates("Taken slugs", course) {
        app.db
            .execute(
                "INSERT INTO courses (id, owner_id, organization_id, slug, title)
                 VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), $1, 'x')",
                &[&slug],
            )
            .await
            .unwrap();
    }

    let refused = app.draft_action(&app.user, id, "materialize").await;

    assert!(
        refused.headers().get("retry-after").is_none(),
        "retrying would meet the same slugs"
    );
    let problem = assert_problem(refused, 500).await;
    assert_eq!(problem["type"], "urn:draftd:problem:internal", "{problem}");
    assert_eq!(app.course_count().await, 2, "no course for the draft");
}
