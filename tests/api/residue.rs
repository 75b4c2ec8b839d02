//! Crash residue (invariant 9): a process killed mid-upload leaves a staging
//! file that no listing shows; the orphan sweep reports it once older than
//! its grace period, and removes it, never touching a finished upload.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::helpers::{files_under, wait_until, ScratchDir, TestApp};
use crate::servers::{free_port, s3_server, use_s3, ServerProcess};
use crate::steps::unfinished_upload;
use crate::tus_steps::OwnRedis;

#[tokio::test]
async fn a_sigkill_mid_upload_leaves_residue_that_the_sweep_removes() {
    // A Redis database of its own: the sweep scans every draft session.
    let own = OwnRedis::take().await;
    let app = TestApp::spawn_with(|c| own.apply(c)).await;
    // A finished upload, whose bytes the sweep must leave alone.
    let kept = app.draft_id(&app.user, json!({})).await;
    let file: Value = app
        .upload_text(&app.user, &kept, "kept.txt", b"kept")
        .await
        .json()
        .await
        .unwrap();
    assert!(file["id"].is_string());

    let staging = || {
        files_under(&app.config.upload_dir)
            .into_iter()
            .filter(|path| path.to_string_lossy().contains('#'))
            .collect::<Vec<_>>()
    };
    kill_during_upload(&app, &[], || async {
        staging()
            .iter()
            .any(|path| std::fs::metadata(path).is_ok_and(|m| m.len() >= 5 << 20))
    })
    .await;
    let residue = staging();
    assert_eq!(residue.len(), 1, "{residue:?}");
    let residue_bytes = std::fs::metadata(&residue[0]).unwrap().len();

    // Young: it may be an upload still streaming, so the sweep leaves it.
    let sweep = "/api/v1/admin/orphans/sweep";
    let dry = app
        .admin(Method::POST, &format!("{sweep}?dryRun=true"))
        .await;
    assert_eq!(dry["residueFound"], 0);

    std::fs::File::options()
        .write(true)
        .open(&residue[0])
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    let dry = app
        .admin(Method::POST, &format!("{sweep}?dryRun=true"))
        .await;
    assert_eq!(
        (dry["residueFound"].as_u64(), dry["residueBytes"].as_u64()),
        (Some(1), Some(residue_bytes))
    );
    assert_eq!(staging().len(), 1, "a dry run removes nothing");

    let report = app.admin(Method::POST, sweep).await;
    assert_eq!(report["residueFound"], 1);
    assert!(staging().is_empty());
    let left = app.stored_files();
    assert_eq!(left.len(), 1, "the finished upload stays: {left:?}");
    let course = app
        .course_of(&app.user, &app.draft(&app.user, &kept).await)
        .await;
    assert_eq!(course["files"].as_array().unwrap().len(), 1);
}

/// Runs a second process of the service on the app's stores (with `env`
/// added), streams an upload into it and SIGKILLs it once `written` holds.
async fn kill_during_upload<F, Fut>(app: &TestApp, env: &[(&str, String)], written: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let port = free_port();
    let mut command = app.serve_command(port);
    command.envs(env.iter().map(|(name, value)| (name, value)));
    let mut service = ServerProcess::start(command, port).await;
    let draft = app.draft_id(&app.user, json!({})).await;
    let (head, body) = unfinished_upload(&draft, &app.user.token, 12 << 20);
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body).await.unwrap();
    wait_until("the upload's first parts are stored", written).await;
    service.stop(); // SIGKILL
}

#[tokio::test]
async fn a_sigkill_mid_upload_to_s3_leaves_a_recorded_upload_that_the_sweep_aborts() {
    let root = ScratchDir::new("s3");
    let s3_port = free_port();
    let _s3 = s3_server(&root, s3_port).await;
    let own = OwnRedis::take().await;
    let app = TestApp::spawn_with(|c| {
        own.apply(c);
        use_s3(c, s3_port);
    })
    .await;
    let env = [
        ("DRAFTD_STORAGE", "s3".to_owned()),
        ("DRAFTD_S3_ENDPOINT", format!("http://127.0.0.1:{s3_port}")),
        ("DRAFTD_S3_ALLOW_HTTP", "true".to_owned()),
        ("DRAFTD_S3_ACCESS_KEY_ID", "draftd".to_owned()),
        ("DRAFTD_S3_SECRET_ACCESS_KEY", "draftd-secret".to_owned()),
    ];
    let recorded = "SELECT count(*) FROM multipart_uploads";
    let stored_bytes = || -> u64 {
        files_under(&root)
            .iter()
            .filter_map(|path| std::fs::metadata(path).ok())
            .map(|meta| meta.len())
            .sum()
    };
    kill_during_upload(&app, &env, || async {
        app.count(recorded).await == 1 && stored_bytes() >= 5 << 20
    })
    .await;
    assert_eq!(app.count(recorded).await, 1, "the upload's id was recorded");

    let sweep = "/api/v1/admin/orphans/sweep";
    let dry = app
        .admin(Method::POST, &format!("{sweep}?dryRun=true"))
        .await;
    assert_eq!(
        dry["incompleteUploads"], 0,
        "young: it may be streaming still"
    );
    app.age_recorded_uploads().await;
    let dry = app
        .admin(Method::POST, &format!("{sweep}?dryRun=true"))
        .await;
    assert_eq!(dry["incompleteUploads"], 1);
    assert_eq!(app.count(recorded).await, 1, "a dry run aborts nothing");

    let report = app.admin(Method::POST, sweep).await;
    assert_eq!(report["incompleteUploads"], 1);
    assert_eq!(app.count(recorded).await, 0);
    assert!(
        stored_bytes() < 1 << 20,
        "the parts are gone: {:?}",
        files_under(&root)
    );
}
