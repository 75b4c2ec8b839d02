//! The early order of a race forced inside Postgres: a recording paused
//! within its transaction, past the fence, when a discard is asked for. The
//! test holds what the recording needs next: the organization's upload lock
//! (a file's recording), or the course's id, inserted and not yet committed
//! (a materialize). The discard must wait for the recording (it needs the
//! fence exclusively), then take what it recorded; were the fence broken,
//! the discard would answer at once and the recording would bring the
//! course back after it.

use std::future::Future;

use draftd::domain::course::course_id_for;
use draftd::stores::postgres::lock::ORGANIZATION_LOCK_CLASS;
use reqwest::Response;
use serde_json::json;
use tokio_postgres::NoTls;

use super::checks::{assert_nothing_left, events, spawn_watched, Announced};
use crate::helpers::{wait_until, TestApp};
use crate::tus_steps::{created_url, header, text};

#[tokio::test]
async fn a_first_upload_paused_in_its_recording_holds_off_a_discard_that_then_takes_it() {
    let (app, receiver) = spawn_watched(|_| {}).await;
    let draft = app.draft_id(&app.user, json!({"topic": "Paused"})).await;
    let upload = app.upload(
        &app.user,
        &draft,
        "notes.txt",
        "text/plain",
        b"Recorded while a discard waits.\n".to_vec(),
    );

    let pause = Pause::organization(&app).await;
    let (recorded, discarded) = race(&app, pause, &draft, upload).await;

    assert_eq!(
        recorded.status(),
        201,
        "the upload was past the fence first"
    );
    assert_eq!(discarded.status(), 204);
    assert_nothing_left(&app, &draft).await;
    Announced::Yes.assert_end(&events(&app, &receiver).await);
}

#[tokio::test]
async fn a_tus_finish_paused_in_its_recording_holds_off_a_discard_that_then_takes_it() {
    let (app, receiver) = spawn_watched(|_| {}).await;
    let draft = app.draft_id(&app.user, json!({"topic": "Paused"})).await;
    let content = text(4096);
    let url = created_url(
        app.tus_create(&app.user, &draft, content.len(), "notes.txt", "text/plain")
            .await,
    );
    let finish = app.tus_patch(&app.user, &url, 0, &content);

    let pause = Pause::organization(&app).await;
    let (finished, discarded) = race(&app, pause, &draft, finish).await;

    assert_eq!(
        finished.status(),
        204,
        "the finish was past the fence first"
    );
    header(&finished, "draftd-file-id");
    assert_eq!(discarded.status(), 204);
    assert_nothing_left(&app, &draft).await;
    Announced::Yes.assert_end(&events(&app, &receiver).await);
}

#[tokio::test]
async fn a_materialize_paused_in_its_recording_holds_off_a_discard_that_then_takes_it() {
    let (app, receiver) = spawn_watched(|_| {}).await;
    let draft = app.draft_id(&app.user, json!({"topic": "Paused"})).await;
    let materialize = app.draft_action(&app.user, &draft, "materialize");

    let pause = Pause::course_insert(&app, &draft).await;
    let (made, discarded) = race(&app, pause, &draft, materialize).await;

    assert_eq!(
        made.status(),
        201,
        "the materialize was past the fence first"
    );
    assert_eq!(discarded.status(), 204);
    assert_nothing_left(&app, &draft).await;
    Announced::Yes.assert_end(&events(&app, &receiver).await);
}

#[tokio::test]
async fn a_submit_paused_in_its_recording_holds_off_a_discard_which_leaves_the_submitted_course() {
    let (app, receiver) = spawn_watched(|_| {}).await;
    let draft = app.draft_id(&app.user, json!({"topic": "Paused"})).await;
    let submit = app.draft_action(&app.user, &draft, "submit");

    let pause = Pause::course_insert(&app, &draft).await;
    let (submitted, discarded) = race(&app, pause, &draft, submit).await;

    // As if the submit came first, then the discard: a submitted course
    // stays when its draft is discarded (SPEC).
    assert_eq!(
        submitted.status(),
        201,
        "the submit was past the fence first"
    );
    assert_eq!(discarded.status(), 204);
    app.run_cleanup().await;
    let status = app
        .db
        .query_one("SELECT status FROM courses", &[])
        .await
        .expect("the submitted course stays");
    assert_eq!(status.get::<_, String>(0), "submitted");
    let events = events(&app, &receiver).await;
    assert!(!events.iter().any(|e| e == "course.deleted"), "{events:?}");
}

/// Runs `recording` paused by `pause`, discards `draft`
/// meanwhile, and checks that the discard waits for the recording; the two
/// answers.
async fn race(
    app: &TestApp,
    pause: Pause,
    draft: &str,
    recording: impl Future<Output = Response>,
) -> (Response, Response) {
    let discard = async {
        wait_until("the recording waits, past the fence", || async {
            waiting_for_locks(app).await >= 1
        })
        .await;
        let discard = app.delete_draft(&app.user, draft);
        tokio::pin!(discard);
        let waits = async {
            wait_until("the discard waits for the recording", || async {
                waiting_for_locks(app).await >= 2
            })
            .await;
        };
        tokio::select! {
            answer = &mut discard => panic!(
                "the discard answered {} while a recording was past the fence",
                answer.status()
            ),
            () = waits => {}
        }
        pause.release().await;
        discard.await
    };
    tokio::join!(recording, discard)
}

/// Backends of the app's database waiting for a lock.
async fn waiting_for_locks(app: &TestApp) -> i64 {
    app.count(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .await
}

/// What the recording waits for, held by a session of the test's own.
struct Pause {
    session: tokio_postgres::Client,
    release: &'static str,
}

impl Pause {
    async fn session(app: &TestApp) -> tokio_postgres::Client {
        let (session, connection) = tokio_postgres::connect(&app.config.database_url, NoTls)
            .await
            .expect("postgres reachable");
        tokio::spawn(connection);
        session
    }

    /// The organization's upload lock, which a file's recording takes.
    async fn organization(app: &TestApp) -> Pause {
        let session = Self::session(app).await;
        session
            .execute(
                "SELECT pg_advisory_lock($1, hashtext($2::uuid::text))",
                &[&ORGANIZATION_LOCK_CLASS, &app.user.org],
            )
            .await
            .expect("the organization's lock");
        Pause {
            session,
            release: "SELECT pg_advisory_unlock_all()",
        }
    }

    /// The draft's course id, inserted in a transaction left open: the
    /// recording's insert of the course waits for it to end.
    async fn course_insert(app: &TestApp, draft: &str) -> Pause {
        let session = Self::session(app).await;
        let draft: uuid::Uuid = draft.parse().expect("a draft id");
        session.batch_execute("BEGIN").await.expect("a transaction");
        session
            .execute(
                "INSERT INTO courses (id, owner_id, organization_id, slug, title)
                 VALUES ($1, $2, $3, $4, 'pause')",
                &[
                    &course_id_for(draft.into()),
                    &app.user.id,
                    &app.user.org,
                    &format!("pause-{draft}"),
                ],
            )
            .await
            .expect("the course id held");
        Pause {
            session,
            release: "ROLLBACK",
        }
    }

    async fn release(self) {
        self.session
            .batch_execute(self.release)
            .await
            .expect("the pause released");
    }
}
