//! Tokens signed with the identity provider's keys (SPEC, "Identity"): a real
//! JWKS served over HTTP by the test (`idp`), tokens signed by `openssl`.

use std::time::{Duration, Instant};

use draftd::config::Config;
use draftd::http::auth::Claims;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_problem, token_for, wait_until, TestApp, TestUser};
use crate::idp::{user_claims, Answer, IdpKey, JwksServer};

/// An app that takes the key set at `url`, beside the HS256 secret.
pub(crate) async fn app_with_jwks(url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let url = url.parse().expect("a URL");
    TestApp::spawn_with(|c| {
        c.identity.jwks_url = Some(url);
        adjust(c);
    })
    .await
}

pub(crate) async fn jwks_of(keys: &[IdpKey]) -> Vec<Value> {
    let mut set = Vec::new();
    for key in keys {
        set.push(key.jwk().await);
    }
    set
}

/// Opens a draft with `token`; the answer's status.
pub(crate) async fn open_with(app: &TestApp, token: &str) -> u16 {
    app.client
        .post(format!("{}/api/v1/drafts", app.address))
        .bearer_auth(token)
        .json(&json!({"formData": {"topic": "signed by the provider"}}))
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app.get_public("/readyz").await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("health JSON"))
}

#[tokio::test]
async fn rs256_es256_and_eddsa_tokens_are_accepted_and_hs256_still_is() {
    let keys = [IdpKey::rsa_a(), IdpKey::ec(), IdpKey::ed25519()];
    let idp = JwksServer::start(jwks_of(&keys).await).await;
    let app = app_with_jwks(&idp.url, |_| {}).await;

    for key in &keys {
        let (user, org) = (Uuid::new_v4(), Uuid::new_v4());
        let token = key
            .token(&user_claims(user.to_string(), org.to_string()))
            .await;
        let caller = TestUser {
            id: user,
            org,
            token,
        };
        let draft = app.new_draft(&caller, json!({"topic": key.alg()})).await;
        assert_eq!(draft["organizationId"], org.to_string(), "{}", key.alg());
        let listed = app.get_json(&caller, "/api/v1/drafts").await;
        assert_eq!(listed["items"][0]["id"], draft["id"], "{}", key.alg());
    }
    // Beside the key set, the HS256 secret.
    app.new_draft(&app.user, json!({"topic": "HS256"})).await;
    let (status, health) = readiness(&app).await;
    assert_eq!((status, &health["checks"]["jwks"]), (200, &json!("up")));
    // One fetch at start served every key.
    assert_eq!(idp.fetches(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_taken_without_a_restart_and_the_removed_one_refused() {
    let (old, new) = (IdpKey::rsa_a(), IdpKey::rsa_b());
    let idp = JwksServer::start(jwks_of(std::slice::from_ref(&old)).await).await;
    let app = app_with_jwks(&idp.url, |c| c.identity.jwks_min_refresh_secs = 1).await;
    let claims = user_claims(app.user.id.to_string(), app.user.org.to_string());
    let old_token = old.token(&claims).await;
    assert_eq!(open_with(&app, &old_token).await, 201);

    // The provider rotates: the old key out, the new one in.
    idp.set_keys(jwks_of(std::slice::from_ref(&new)).await);
    // A refetch on an unknown kid comes at most once per minimum interval.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(open_with(&app, &new.token(&claims).await).await, 201);
    assert_eq!(idp.fetches(), 2);
    assert_problem(
        app.client
            .post(format!("{}/api/v1/drafts", app.address))
            .bearer_auth(old_token)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
}

#[tokio::test]
async fn a_key_set_down_at_start_makes_readiness_wait_and_a_failed_refresh_keeps_the_last_set() {
    let key = IdpKey::ec();
    let (url, port) = JwksServer::unstarted();
    let app = app_with_jwks(&url, |c| {
        c.jwt_secret = None;
        c.identity.jwks_min_refresh_secs = 1;
        c.identity.jwks_refresh_secs = 1;
        c.identity.jwks_fetch_timeout_ms = 200;
    })
    .await;
    let claims = user_claims(app.user.id.to_string(), app.user.org.to_string());
    let token = key.token(&claims).await;

    let (status, health) = readiness(&app).await;
    assert_eq!(
        (status, &health["checks"]["jwks"]),
        (503, &json!("down")),
        "{health}"
    );
    assert_eq!(open_with(&app, &token).await, 401);
    wait_until("a failed fetch is counted", || async {
        failed_fetches(&app).await > 0.0
    })
    .await;

    let idp = JwksServer::start_on(port, jwks_of(std::slice::from_ref(&key)).await).await;
    wait_until("readiness is up", || async {
        readiness(&app).await.0 == 200
    })
    .await;
    assert_eq!(open_with(&app, &token).await, 201);

    // The provider fails: the next refresh fails, the set in memory stays.
    idp.answer(Answer::Status(503));
    let failed = failed_fetches(&app).await;
    wait_until("a refresh fails", || async {
        failed_fetches(&app).await > failed
    })
    .await;
    assert_eq!(readiness(&app).await.0, 200);
    assert_eq!(open_with(&app, &token).await, 201);
}

/// `draftd_jwks_fetches_total{outcome="failed"}`, summed over its triggers.
async fn failed_fetches(app: &TestApp) -> f64 {
    fetches_ended(app, "failed").await
}

/// `draftd_jwks_fetches_total{outcome}`, summed over its triggers: counted
/// once a fetch has ended, a good set already in memory.
async fn fetches_ended(app: &TestApp, outcome: &str) -> f64 {
    let text = app.get_public("/metrics").await.text().await.unwrap();
    let label = format!("outcome=\"{outcome}\"");
    text.lines()
        .filter(|line| line.starts_with("draftd_jwks_fetches_total{") && line.contains(&label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_for_every_waiting_request_and_at_most_once_per_interval() {
    let (known, rotated, stranger) = (IdpKey::rsa_a(), IdpKey::ec(), IdpKey::stranger());
    let idp = JwksServer::start(jwks_of(std::slice::from_ref(&known)).await).await;
    let app = app_with_jwks(&idp.url, |c| c.identity.jwks_min_refresh_secs = 2).await;
    let claims = user_claims(app.user.id.to_string(), app.user.org.to_string());
    assert_eq!(open_with(&app, &known.token(&claims).await).await, 201);
    assert_eq!(idp.fetches(), 1);

    // The new key appears; the provider is slow, so that every request
    // below arrives while the one refetch is in flight.
    idp.set_keys(jwks_of(&[known.clone(), rotated.clone()]).await);
    idp.delay(Duration::from_millis(400));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let token = rotated.token(&claims).await;
    let answers = futures_util::future::join_all((0..8).map(|_| open_with(&app, &token))).await;
    assert_eq!(answers, [201; 8]);
    assert_eq!(idp.fetches(), 2, "one fetch for every waiting request");

    // Within the minimum interval, an unknown kid fetches nothing and waits
    // for nothing (a wait would be DRAFTD_JWKS_FETCH_TIMEOUT_MS, 2 s).
    let unknown = stranger.token(&claims).await;
    let started = Instant::now();
    let answers = futures_util::future::join_all((0..8).map(|_| open_with(&app, &unknown))).await;
    assert_eq!(answers, [401; 8]);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(idp.fetches(), 2);

    // Past it, one more fetch: the key is still unknown.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(open_with(&app, &unknown).await, 401);
    assert_eq!(idp.fetches(), 3);
}

#[tokio::test]
async fn a_request_waits_for_a_slow_refetch_at_most_the_fetch_timeout() {
    let (known, rotated) = (IdpKey::rsa_a(), IdpKey::ed25519());
    let idp = JwksServer::start(jwks_of(std::slice::from_ref(&known)).await).await;
    let app = app_with_jwks(&idp.url, |c| {
        c.identity.jwks_min_refresh_secs = 1;
        c.identity.jwks_fetch_timeout_ms = 300;
    })
    .await;
    let claims = user_claims(app.user.id.to_string(), app.user.org.to_string());
    assert_eq!(open_with(&app, &known.token(&claims).await).await, 201);
    idp.set_keys(jwks_of(&[known, rotated.clone()]).await);
    idp.delay(Duration::from_secs(3));
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let token = rotated.token(&claims).await;
    let started = Instant::now();
    assert_eq!(open_with(&app, &token).await, 401);
    let waited = started.elapsed();
    assert!(
        // The provider holds its answer 3 s.
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    // The fetch goes on without the request and brings the key.
    wait_until("the slow fetch ends", || async {
        open_with(&app, &token).await == 201
    })
    .await;
}

#[tokio::test]
async fn the_set_is_refreshed_on_its_max_age_and_a_removed_key_goes_with_it() {
    let (leaving, staying) = (IdpKey::rsa_a(), IdpKey::ec());
    let idp = JwksServer::start(jwks_of(&[leaving.clone(), staying.clone()]).await).await;
    idp.cache_control("public, max-age=1, stale-if-error=86400");
    // DRAFTD_JWKS_REFRESH_SECS stays 600: the answer's max-age is shorter.
    let app = app_with_jwks(&idp.url, |c| c.identity.jwks_min_refresh_secs = 1).await;
    let claims = user_claims(app.user.id.to_string(), app.user.org.to_string());
    let leaving_token = leaving.token(&claims).await;
    assert_eq!(open_with(&app, &leaving_token).await, 201);

    // The provider revokes a key; no token names an unknown one.
    idp.set_keys(jwks_of(std::slice::from_ref(&staying)).await);
    wait_until("the set is fetched again on its max-age", || async {
        idp.fetches() >= 2
    })
    .await;
    wait_until("the removed key is refused", || async {
        open_with(&app, &leaving_token).await == 401
    })
    .await;
    assert_eq!(open_with(&app, &staying.token(&claims).await).await, 201);
}

// The verified-token cache (src/http/auth/cache.rs): a token checked once is
// remembered, and each use of it must still refuse it as a full check would.
// The rotation tests above use a remembered token after its key left the set.

#[tokio::test]
async fn a_remembered_token_is_refused_once_another_key_takes_its_kid() {
    let (first, second) = (IdpKey::ec(), IdpKey::stranger());
    let idp = JwksServer::start(jwks_of(std::slice::from_ref(&first)).await).await;
    idp.cache_control("max-age=1");
    let app = app_with_jwks(&idp.url, |c| c.identity.jwks_min_refresh_secs = 1).await;
    let claims = user_claims(app.user.id.to_string(), app.user.org.to_string());
    let token = first.token(&claims).await;
    // Checked, then taken again as remembered.
    assert_eq!(open_with(&app, &token).await, 201);
    assert_eq!(open_with(&app, &token).await, 201);

    // The provider publishes another key under the same kid.
    let mut replacement = second.jwk().await;
    replacement["kid"] = json!(first.kid);
    idp.set_keys(vec![replacement]);
    // A fetch in flight may still bring the old set: wait for one asked
    // after the change to end.
    let asked = idp.fetches();
    wait_until("the changed set is fetched on its max-age", || async {
        let received = idp.fetches();
        received > asked && fetches_ended(&app, "ok").await >= received as f64
    })
    .await;
    assert_eq!(open_with(&app, &token).await, 401);
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": first.kid});
    assert_eq!(
        open_with(&app, &second.sign(&header, &claims).await).await,
        201
    );
}

#[tokio::test]
async fn a_remembered_token_is_taken_within_the_leeway_past_its_exp_and_refused_after() {
    const LEEWAY: i64 = 2;
    let key = IdpKey::ec();
    let idp = JwksServer::start(jwks_of(std::slice::from_ref(&key)).await).await;
    let app = app_with_jwks(&idp.url, |c| c.jwt_leeway_secs = LEEWAY as u64).await;
    // Expired a second ago: taken until the end of the second after this one.
    let exp = chrono::Utc::now().timestamp() - 1;
    let last_second = exp + LEEWAY;
    let mut claims = user_claims(app.user.id.to_string(), app.user.org.to_string());
    claims["exp"] = json!(exp);
    let hs256 = token_for(Claims {
        sub: Some(app.user.id),
        org_id: Some(app.user.org),
        role: None,
        exp,
        iat: None,
    })
    .token;
    let tokens = [("ES256", key.token(&claims).await), ("HS256", hs256)];
    for (alg, token) in &tokens {
        // Checked (the leeway applies), then taken again as remembered.
        assert_eq!(open_with(&app, token).await, 201, "{alg}, checked");
        assert_eq!(open_with(&app, token).await, 201, "{alg}, remembered");
    }
    assert!(
        chrono::Utc::now().timestamp() <= last_second,
        "the machine was too slow to use the tokens within their leeway"
    );

    // The service reads the same clock: from this instant `exp` plus the
    // leeway is past.
    let past = (last_second + 1) * 1000 - chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(Duration::from_millis(past.max(0).unsigned_abs())).await;
    for (alg, token) in &tokens {
        assert_eq!(open_with(&app, token).await, 401, "{alg}, past the leeway");
    }
}
