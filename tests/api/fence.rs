//! A deletion holds against writes in flight (invariant 13, issue 23), each
//! race forced in both orders. The late order: a write's body is held
//! half-sent until the service is seen storing it, the deletion is
//! acknowledged, then the rest is sent; the write loses (410 to a discard
//! or a delete, 403 to an erase) and leaves nothing. The early order: the
//! write is done first and the deletion takes it too. Either way nothing of
//! the course is left (row, file rows, objects, staging files, draft key)
//! and its events end with one `course.deleted`.

mod checks;
mod paused;

use reqwest::Method;
use serde_json::json;

use self::checks::{
    assert_erased, assert_lost, assert_nothing_left, events, materialized_draft, spawn_watched,
    start_erase, wait_until_swept, Announced,
};
use crate::erase::{await_erase, erase_to_end, Whose};
use crate::held::InFlight;
use crate::helpers::{assert_problem, new_user, service_user, wait_until, TestApp};
use crate::receiver::Receiver;
use crate::tus_steps::{created_url, header, text};

/// The two halves of a held multipart upload's file.
const FIRST: &[u8] = b"Week 1: ownership, ";
const REST: &[u8] = b"borrowing and lifetimes.\n";
/// The local storage's durable step of a tus PATCH: a first half this long
/// is stored (and its offset recorded) before the rest arrives.
const STEP: usize = 1 << 20;
/// Long enough to hold an erase that waits out the longest request, short
/// enough for a test.
const BODY_DEADLINE_SECS: u64 = 5;

/// What a test deletes: the draft (a discard) or its course, for good.
#[derive(Clone, Copy, Debug)]
enum Deletion {
    Discard,
    PermanentDelete,
}

impl Deletion {
    /// Deletes, asserting it is acknowledged.
    async fn run(self, app: &TestApp, draft: &str, course: Option<&str>) {
        let answer = match (self, course) {
            (Self::Discard, _) => app.delete_draft(&app.user, draft).await,
            (Self::PermanentDelete, Some(course)) => {
                let path = format!("/api/v1/courses/{course}?permanent=true");
                app.call(Method::DELETE, &path, &app.user).await
            }
            (Self::PermanentDelete, None) => unreachable!("a delete needs a course"),
        };
        assert_eq!(answer.status(), 204, "the {self:?} is acknowledged");
    }

    /// The problem a write that loses to it answers.
    fn lost_as(self) -> &'static str {
        match self {
            Self::Discard => "draft-discarded",
            Self::PermanentDelete => "course-deleted",
        }
    }
}

/// Whether the draft has its course before the race.
#[derive(Clone, Copy, PartialEq)]
enum Course {
    Materialized,
    NotYet,
}

async fn draft_with(app: &TestApp, course: Course) -> (String, Option<String>) {
    match course {
        Course::Materialized => {
            let (draft, course) = materialized_draft(app).await;
            (draft, Some(course))
        }
        Course::NotYet => {
            let draft = app
                .draft_id(&app.user, json!({"topic": "No course yet"}))
                .await;
            (draft, None)
        }
    }
}

/// The write that races a deletion: a multipart upload, or the tus PATCH
/// that finishes an upload (a durable step and 100 bytes more).
#[derive(Clone, Copy, Debug)]
enum Upload {
    Multipart,
    TusPatch,
}

impl Upload {
    /// Starts the upload to `draft` and holds it half-sent once the service
    /// is storing it.
    async fn hold(self, app: &TestApp, draft: &str) -> InFlight {
        match self {
            Self::Multipart => app.held_upload(&app.user, draft, FIRST, REST).await,
            Self::TusPatch => {
                let (content, url) = notes_upload(app, draft, STEP + 100).await;
                app.held_tus_patch(&app.user, &url, &content[..STEP], &content[STEP..])
                    .await
            }
        }
    }

    /// Uploads to `draft` whole, asserting that it makes the file.
    async fn complete(self, app: &TestApp, draft: &str) {
        match self {
            Self::Multipart => {
                let upload = app.upload_text(&app.user, draft, "early.txt", REST).await;
                assert_eq!(upload.status(), 201);
            }
            Self::TusPatch => {
                let (content, url) = notes_upload(app, draft, STEP + 100).await;
                let finished = app.tus_patch(&app.user, &url, 0, &content).await;
                assert_eq!(finished.status(), 204);
                header(&finished, "draftd-file-id");
            }
        }
    }
}

/// The late order: an upload held half-sent while `deletion` is
/// acknowledged loses (410) and leaves nothing.
async fn upload_held_across(upload: Upload, deletion: Deletion, course: Course) {
    let (app, receiver) = spawn_watched(|_| {}).await;
    let (draft, course_id) = draft_with(&app, course).await;
    let held = upload.hold(&app, &draft).await;

    deletion.run(&app, &draft, course_id.as_deref()).await;
    let late = held.finish().await;

    let what = format!("the {upload:?} held across the {deletion:?}");
    assert_lost(late, &what, 410, deletion.lost_as()).await;
    assert_nothing_left(&app, &draft).await;
    let announced = if course == Course::Materialized {
        Announced::Yes
    } else {
        Announced::No
    };
    announced.assert_end(&events(&app, &receiver).await);
}

/// The early order: an upload done first goes with what `deletion` deletes.
async fn upload_done_before(upload: Upload, deletion: Deletion, course: Course) {
    let (app, receiver) = spawn_watched(|_| {}).await;
    let (draft, course_id) = draft_with(&app, course).await;
    upload.complete(&app, &draft).await;

    deletion.run(&app, &draft, course_id.as_deref()).await;

    assert_nothing_left(&app, &draft).await;
    Announced::Yes.assert_end(&events(&app, &receiver).await);
}

/// A race of an upload with a deletion in both orders: a module of two
/// tests, one for each.
macro_rules! race_in_both_orders {
    ($race:ident, $upload:expr, $deletion:expr, $course:expr) => {
        mod $race {
            use super::*;

            #[tokio::test]
            async fn an_upload_held_across_it_answers_410_and_leaves_nothing() {
                upload_held_across($upload, $deletion, $course).await;
            }

            #[tokio::test]
            async fn an_upload_done_before_it_goes_with_what_it_deletes() {
                upload_done_before($upload, $deletion, $course).await;
            }
        }
    };
}

/// An app whose erase waits out a request deadline short enough for a test.
async fn spawn_for_erase() -> (TestApp, Receiver) {
    spawn_watched(|c| c.body_deadline_secs = BODY_DEADLINE_SECS).await
}

/// A created tus upload of `len` bytes of text to `draft`: its content and
/// URL.
async fn notes_upload(app: &TestApp, draft: &str, len: usize) -> (Vec<u8>, String) {
    let content = text(len);
    let url = created_url(
        app.tus_create(&app.user, draft, content.len(), "notes.txt", "text/plain")
            .await,
    );
    (content, url)
}

/// Erases the app's user while `held` waits half-sent, and sends the rest
/// once the erase has swept `draft` but still runs: the write loses (403)
/// and the erase leaves nothing of the user.
async fn hold_across_an_erase(app: &TestApp, draft: &str, held: InFlight, what: &str) {
    let erase = start_erase(app).await;
    wait_until_swept(app, draft).await;
    let when_sent = app.get_json(&service_user(), &erase).await;
    let late = held.finish().await;

    assert_lost(late, what, 403, "forbidden").await;
    assert_eq!(
        when_sent["status"], "running",
        "the rest was sent while the erase ran: {when_sent}"
    );
    assert_erased(app, &await_erase(app, &erase).await, draft).await;
}

// Case 1: a multipart upload across the discard of its materialized draft.
race_in_both_orders!(
    the_discard_of_its_draft,
    Upload::Multipart,
    Deletion::Discard,
    Course::Materialized
);

// Case 2: a multipart upload across a permanent delete of the course.
race_in_both_orders!(
    a_permanent_delete,
    Upload::Multipart,
    Deletion::PermanentDelete,
    Course::Materialized
);

// Case 3: a multipart upload across an erase of its user.

#[tokio::test]
async fn an_upload_held_across_an_erase_of_its_user_answers_403_and_leaves_nothing() {
    let (app, receiver) = spawn_for_erase().await;
    let (draft, _course) = materialized_draft(&app).await;
    let upload = app.held_upload(&app.user, &draft, FIRST, REST).await;

    hold_across_an_erase(&app, &draft, upload, "the upload held across the erase").await;
    Announced::Yes.assert_end(&events(&app, &receiver).await);
}

/// The order of the issue: the erase reports done, then the rest arrives.
/// The erase now waits out the longest request, so the held upload's
/// deadline cuts it off (or the fence refuses it) before the erase ends.
#[tokio::test]
async fn an_upload_held_until_an_erase_of_its_user_ends_never_lands() {
    let (app, receiver) = spawn_watched(|c| c.body_deadline_secs = 8).await;
    let (draft, _course) = materialized_draft(&app).await;
    let upload = app.held_upload(&app.user, &draft, FIRST, REST).await;

    let erase = start_erase(&app).await;
    let service = service_user();
    wait_until("the erase ends or the held upload is answered", || async {
        upload.answered() || app.get_json(&service, &erase).await["status"] != "running"
    })
    .await;
    let late = upload.finish().await;

    let seen = late.status().as_u16();
    let body = late.text().await.unwrap_or_default();
    assert!(
        matches!(seen, 403 | 408),
        "the upload held until the erase ended answered {seen}, not 403 or 408: {body}"
    );
    assert_erased(&app, &await_erase(&app, &erase).await, &draft).await;
    Announced::Yes.assert_end(&events(&app, &receiver).await);
}

#[tokio::test]
async fn an_upload_done_before_an_erase_of_its_user_is_erased_with_it() {
    let (app, receiver) = spawn_for_erase().await;
    let (draft, _course) = materialized_draft(&app).await;
    let upload = app.upload_text(&app.user, &draft, "early.txt", REST).await;
    assert_eq!(upload.status(), 201);

    let state = erase_to_end(&app, Whose::User(app.user.id)).await;

    assert_erased(&app, &state, &draft).await;
    Announced::Yes.assert_end(&events(&app, &receiver).await);
}

// Case 4: a tus PATCH that finishes its upload across a discard.
race_in_both_orders!(
    a_discard_across_a_finishing_tus_patch,
    Upload::TusPatch,
    Deletion::Discard,
    Course::Materialized
);

// Case 5: an erase of a user with unfinished tus uploads.

#[tokio::test]
async fn a_tus_patch_held_across_an_erase_of_its_user_answers_403_and_leaves_nothing() {
    let (app, _receiver) = spawn_for_erase().await;
    let draft = app.draft_id(&app.user, json!({"topic": "Erased"})).await;
    let (content, url) = notes_upload(&app, &draft, 2 * STEP).await;
    let patch = app
        .held_tus_patch(
            &app.user,
            &url,
            &content[..STEP],
            &content[STEP..STEP + 100],
        )
        .await;

    hold_across_an_erase(&app, &draft, patch, "the PATCH held across the erase").await;
}

#[tokio::test]
async fn an_erase_ends_its_users_unfinished_tus_uploads_for_good() {
    let (app, _receiver) = spawn_for_erase().await;
    let draft = app.draft_id(&app.user, json!({"topic": "Erased"})).await;
    let (content, url) = notes_upload(&app, &draft, 2 * STEP).await;
    let half = app.tus_patch(&app.user, &url, 0, &content[..STEP]).await;
    assert_eq!(half.status(), 204);

    let state = erase_to_end(&app, Whose::User(app.user.id)).await;
    assert_erased(&app, &state, &draft).await;

    // The rest, sent later, revives nothing.
    let late = app.tus_patch(&app.user, &url, STEP, &content[STEP..]).await;
    assert_lost(late, "a PATCH after the erase", 403, "forbidden").await;
    assert_erased(&app, &state, &draft).await;
}

// A discard of a draft that has no course yet, across its first upload.
race_in_both_orders!(
    the_discard_of_a_draft_without_a_course,
    Upload::Multipart,
    Deletion::Discard,
    Course::NotYet
);

// After a discard: the draft's tombstone.

#[tokio::test]
async fn a_discarded_draft_answers_its_owner_410_and_anyone_else_404() {
    let app = TestApp::spawn().await;
    let draft = app.draft_id(&app.user, json!({"topic": "Discarded"})).await;
    assert_eq!(app.delete_draft(&app.user, &draft).await.status(), 204);

    let read = app.get_draft(&app.user, &draft).await;
    assert_lost(read, "GET of the discarded draft", 410, "draft-discarded").await;
    let saved = app
        .patch_draft(&app.user, &draft, json!({"topic": "Back"}), None)
        .await;
    assert_lost(
        saved,
        "PATCH of the discarded draft",
        410,
        "draft-discarded",
    )
    .await;

    let stranger = new_user();
    assert_problem(app.get_draft(&stranger, &draft).await, 404).await;
    let patched = app
        .patch_draft(&stranger, &draft, json!({"topic": "Mine"}), None)
        .await;
    assert_problem(patched, 404).await;
    assert_nothing_left(&app, &draft).await;
}

#[tokio::test]
async fn every_later_write_naming_a_discarded_draft_answers_410_and_makes_nothing() {
    let app = TestApp::spawn().await;
    let draft = app.draft_id(&app.user, json!({"topic": "Discarded"})).await;
    let (content, url) = notes_upload(&app, &draft, 100).await;
    assert_eq!(app.delete_draft(&app.user, &draft).await.status(), 204);

    for action in ["materialize", "submit"] {
        let late = app.draft_action(&app.user, &draft, action).await;
        assert_lost(late, action, 410, "draft-discarded").await;
    }
    let upload = app.upload_text(&app.user, &draft, "late.txt", REST).await;
    assert_lost(upload, "an upload", 410, "draft-discarded").await;
    let created = app
        .tus_create(&app.user, &draft, 100, "late.txt", "text/plain")
        .await;
    assert_lost(created, "a tus creation", 410, "draft-discarded").await;
    let patch = app.tus_patch(&app.user, &url, 0, &content).await;
    assert_lost(patch, "a PATCH of its upload", 410, "draft-discarded").await;
    // The upload's staged bytes (none here) are the sweep's, as any
    // expired upload's.
    assert_eq!(app.course_count().await, 0, "course rows");
    assert_eq!(app.file_row_count().await, 0, "file rows");
}
