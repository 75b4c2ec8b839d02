//! TLS to the stores through configuration: `rediss://` and Postgres with
//! `sslmode=require`, against the local servers' TLS endpoints
//! (`scripts/services.sh` gives both a certificate from a local CA).

use std::path::PathBuf;

use deadpool_redis::redis;
use draftd::config::Config;
use draftd::startup::Application;
use serde_json::{json, Value};

use crate::helpers::{base_config, TestApp};

/// The local CA, as the running Redis names it (whichever checkout started
/// the servers, their certificates come from the same `scripts/services.sh`).
fn local_ca() -> PathBuf {
    let mut redis = redis::Client::open(base_config().redis_url)
        .and_then(|client| client.get_connection())
        .expect("the local Redis answers");
    let (_, path): (String, String) = redis::cmd("CONFIG")
        .arg("GET")
        .arg("tls-ca-cert-file")
        .query(&mut redis)
        .expect("the local Redis has TLS: run scripts/services.sh up");
    PathBuf::from(path)
}

fn rediss_url() -> String {
    let port = std::env::var("DRAFTD_LOCAL_REDIS_TLS_PORT").unwrap_or_else(|_| "6391".into());
    format!("rediss://127.0.0.1:{port}")
}

/// Asks for TLS, as a managed Postgres would be reached.
fn require_tls(config: &mut Config) {
    config.database_url.push_str("?sslmode=require");
}

#[tokio::test]
async fn redis_and_postgres_work_over_tls_with_a_configured_ca() {
    let ca = local_ca();
    let app = TestApp::spawn_with(|c| {
        c.redis_url = rediss_url();
        require_tls(c);
        c.tls_ca_file = Some(ca);
    })
    .await;

    app.readiness(200).await;
    let id = &app
        .draft_id(&app.user, json!({"topic": "Encrypted all the way"}))
        .await;
    // The live events' own connection goes over TLS too.
    let (mut stream, _) = app.stream(&app.user, id).await;
    let saved = app
        .patch_draft(&app.user, id, json!({"language": "en"}), Some("\"1\""))
        .await;
    assert_eq!(saved.status(), 200);
    assert_eq!(stream.event().await.0, "saved");
    let submitted: Value = app
        .draft_action(&app.user, id, "submit")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(submitted["status"], "submitted");

    // The service's own connections to its database are encrypted.
    let encrypted = app
        .count(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE ssl AND datname = current_database()",
        )
        .await;
    assert!(encrypted > 0, "no TLS connection from the service");
}

/// Certificates are verified: without the local CA, neither store is trusted.
#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let app = TestApp::spawn_with(|c| c.redis_url = rediss_url()).await;
    let body = app.readiness(503).await;
    assert_ne!(body["checks"]["redis"], "up");
    let listed = app
        .call(reqwest::Method::GET, "/api/v1/drafts", &app.user)
        .await;
    assert_eq!(
        listed.status(),
        503,
        "nothing read through an untrusted connection"
    );

    let mut config = app.config.clone();
    config.redis_url = Config::defaults().redis_url;
    require_tls(&mut config);
    let refused = Application::build(&config).await;
    let error = format!(
        "{:#}",
        refused.err().expect("an untrusted Postgres is refused")
    );
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}
