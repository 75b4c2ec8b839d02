//! A PATCH whose connection closes keeps every byte that arrived before,
//! even short of a durable step (1 MiB locally, a 5 MiB part on S3), as tusd
//! does: the client resumes from the offset HEAD answers, which is durable.

use draftd::stores::postgres::lock::FENCE_LOCK_CLASS;
use tokio_postgres::NoTls;

use crate::held::upload_id;
use crate::helpers::{assert_problem, wait_until, TestApp};
use crate::tus_steps::{created_url, text, OwnRedis};
use crate::tus_storage::on_s3;

/// Bytes sent before the connection closes: under any durable step.
const SENT: usize = 300_000;

/// What actix may hold unread in its own buffer when a connection closes
/// (its decoder's buffer): lost with the connection. The test waits before
/// closing, so it is normally all there.
const SERVER_BUFFER: usize = 128 * 1024;

/// Waits, naming `what`, until a PATCH holds the lease of the upload at
/// `url` (`leased`) or none does.
async fn wait_until_leased(app: &TestApp, url: &str, leased: bool, what: &str) {
    let id = upload_id(url);
    wait_until(what, || async {
        let row = app
            .db
            .query_one(
                "SELECT lease_id IS NOT NULL FROM tus_uploads WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap();
        row.get::<_, bool>(0) == leased
    })
    .await;
}

/// Sends a PATCH of `content` at offset 0 of `url` over a raw connection,
/// its headers and `SENT` bytes of it, then closes the connection once the
/// service is appending (it holds the upload's lease).
async fn cut_patch(app: &TestApp, url: &str, content: &[u8]) {
    let socket = app.raw_patch(url, content, SENT).await;
    wait_until_leased(app, url, true, "the PATCH holds its upload").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(socket);
}

/// Cuts a PATCH, then checks that HEAD reports what arrived once the
/// upload is released, and that the upload resumes from there to the file.
async fn what_arrived_is_kept(app: &TestApp) {
    let draft = app.draft_id(&app.user, serde_json::json!({})).await;
    let content = text(2 * 1024 * 1024);
    let url = created_url(
        app.tus_create(&app.user, &draft, content.len(), "cut.txt", "text/plain")
            .await,
    );
    cut_patch(app, &url, &content).await;
    wait_until_leased(app, &url, false, "the cut PATCH releases its upload").await;
    let offset = app.tus_offset(&app.user, &url).await as usize;
    assert!(
        (SENT - SERVER_BUFFER..=SENT).contains(&offset),
        "HEAD reports {offset} of the {SENT} bytes sent"
    );
    // What HEAD reports is durable: the rest from there makes the file.
    app.finish_from(&draft, &url, &content, offset).await;
}

#[tokio::test]
async fn a_patch_whose_connection_closes_keeps_what_arrived_locally() {
    let app = TestApp::spawn().await;
    what_arrived_is_kept(&app).await;
}

#[tokio::test]
async fn a_patch_whose_connection_closes_keeps_what_arrived_on_s3() {
    let (app, _s3) = on_s3(OwnRedis::take().await).await;
    what_arrived_is_kept(&app).await;
}

/// An upload whose record goes while its last PATCH is recording the file
/// (the expiry sweep, say) lost a race: 404, nothing recorded or kept, not a
/// 500. The test holds the course's fence, where the recording waits, and
/// deletes the record meanwhile.
#[tokio::test]
async fn a_finish_whose_upload_went_meanwhile_answers_404_and_keeps_nothing() {
    let app = TestApp::spawn().await;
    let draft = app.draft_id(&app.user, serde_json::json!({})).await;
    let course = draftd::domain::course::course_id_for(draft.parse().unwrap());
    let content = text(4096);
    let url = created_url(
        app.tus_create(&app.user, &draft, content.len(), "gone.txt", "text/plain")
            .await,
    );
    let (fence, connection) = tokio_postgres::connect(&app.config.database_url, NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    fence
        .execute(
            "SELECT pg_advisory_lock($1, hashtext($2::uuid::text))",
            &[&FENCE_LOCK_CLASS, &course],
        )
        .await
        .unwrap();

    let finish = app.tus_patch(&app.user, &url, 0, &content);
    let go = async {
        wait_until("the finish waits at the fence", || async {
            app.count(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await
                >= 1
        })
        .await;
        let id = upload_id(&url);
        app.db
            .execute("DELETE FROM tus_uploads WHERE id = $1", &[&id])
            .await
            .unwrap();
        fence
            .batch_execute("SELECT pg_advisory_unlock_all()")
            .await
            .unwrap();
    };
    let (finished, ()) = tokio::join!(finish, go);

    assert_problem(finished, 404).await;
    assert_eq!(app.file_row_count().await, 0);
    assert_eq!(app.course_count().await, 0);
    assert_eq!(
        app.stored_files(),
        Vec::<std::path::PathBuf>::new(),
        "the file's bytes are gone"
    );
}
