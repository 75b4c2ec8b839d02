//! The upload ledger (`multipart_uploads`): a record whose S3 upload is
//! already gone (aborted, or completed, by a process killed before it forgot
//! the record) is forgotten by the orphan sweep, not kept forever.

use object_store::aws::AmazonS3Builder;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use serde_json::json;

use crate::helpers::{files_under, TestApp};
use crate::tus_steps::{created_url, text, OwnRedis};
use crate::tus_storage::on_s3;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn the_sweep_forgets_recorded_uploads_that_s3_no_longer_knows() {
    let (app, s3) = on_s3(OwnRedis::take().await).await;
    let draft = app.draft_id(&app.user, json!({})).await;
    // Two uploads of 7 MiB with 6 stored: a part each, their ids recorded.
    let content = text(7 * MIB);
    let mut urls = Vec::new();
    for name in ["expired.txt", "row-gone.txt"] {
        let url = created_url(
            app.tus_create(&app.user, &draft, content.len(), name, "text/plain")
                .await,
        );
        let sent = app.tus_patch(&app.user, &url, 0, &content[..6 * MIB]).await;
        assert_eq!(sent.status(), 204);
        urls.push(url);
    }
    let recorded = "SELECT count(*) FROM multipart_uploads";
    assert_eq!(app.count(recorded).await, 2);

    // Aborted on S3 behind the service's back, as a process killed between
    // its abort and forgetting the record leaves them.
    let bucket = direct_s3(&app);
    for row in app
        .db
        .query("SELECT storage_key, upload_id FROM multipart_uploads", &[])
        .await
        .unwrap()
    {
        let (key, id): (String, String) = (row.get(0), row.get(1));
        bucket
            .abort_multipart(&Path::from(key), &id)
            .await
            .expect("aborted on S3");
    }
    let parts = || {
        files_under(&s3.root)
            .into_iter()
            .filter(|path| path.to_string_lossy().contains(".upload_id-"))
            .count()
    };
    assert_eq!(parts(), 0, "no part is left on S3");

    // One upload's row expired (its bytes go with it), the other's gone (its
    // record alone is left), the records past the grace period.
    let ids: Vec<uuid::Uuid> = urls
        .iter()
        .map(|url| url.rsplit('/').next().unwrap().parse().unwrap())
        .collect();
    let expired = "UPDATE tus_uploads SET expires_at = now() - interval '1 second' WHERE id = $1";
    assert_eq!(app.db.execute(expired, &[&ids[0]]).await.unwrap(), 1);
    let gone = "DELETE FROM tus_uploads WHERE id = $1";
    assert_eq!(app.db.execute(gone, &[&ids[1]]).await.unwrap(), 1);
    app.age_recorded_uploads().await;

    let report = app
        .admin(reqwest::Method::POST, "/api/v1/admin/orphans/sweep")
        .await;
    assert_eq!(
        (
            report["expiredUploads"].as_u64(),
            report["incompleteUploads"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(app.count(recorded).await, 0, "both records are forgotten");
    assert_eq!(app.count("SELECT count(*) FROM tus_uploads").await, 0);
}

/// The app's bucket, reached directly.
fn direct_s3(app: &TestApp) -> object_store::aws::AmazonS3 {
    let config = &app.config;
    AmazonS3Builder::new()
        .with_bucket_name(&config.s3_bucket)
        .with_region(&config.s3_region)
        .with_endpoint(config.s3_endpoint.clone().expect("an S3 endpoint"))
        .with_allow_http(true)
        .with_access_key_id(config.s3_access_key_id.clone().expect("a key id"))
        .with_secret_access_key(config.s3_secret_access_key.clone().expect("a secret"))
        .build()
        .expect("an S3 client")
}
