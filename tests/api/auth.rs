//! Identity: every draft route wants a valid HS256 token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_problem, TestApp, SECRET};

fn signed(algorithm: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Opens a draft with a token signed, as the service's own are, over `claims`.
async fn open_draft_with(app: &TestApp, claims: &Value) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/drafts", app.address))
        .bearer_auth(signed(Algorithm::HS256, SECRET, claims))
        .send()
        .await
        .unwrap()
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

#[tokio::test]
async fn bad_tokens_get_401_on_every_draft_route() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let good = json!({"sub": app.user.id, "org_id": app.user.org, "exp": now + 600});
    let with = |patch: Value| {
        let mut claims = good.clone();
        claims
            .as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        claims
    };
    let mut without_sub = good.clone();
    without_sub.as_object_mut().unwrap().remove("sub");
    let mut without_exp = good.clone();
    without_exp.as_object_mut().unwrap().remove("exp");

    let tokens: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("not a JWT", Some("not-a-jwt".into())),
        ("alg none", Some(unsigned(&good))),
        ("HS512", Some(signed(Algorithm::HS512, SECRET, &good))),
        (
            "wrong secret",
            Some(signed(
                Algorithm::HS256,
                "another-secret-of-thirty-two-bytes!",
                &good,
            )),
        ),
        (
            "expired",
            Some(signed(
                Algorithm::HS256,
                SECRET,
                &with(json!({"exp": now - 3600})),
            )),
        ),
        (
            "not yet valid",
            Some(signed(
                Algorithm::HS256,
                SECRET,
                &with(json!({"nbf": now + 3600})),
            )),
        ),
        (
            "no sub",
            Some(signed(Algorithm::HS256, SECRET, &without_sub)),
        ),
        (
            "sub not a string",
            Some(signed(Algorithm::HS256, SECRET, &with(json!({"sub": 42})))),
        ),
        (
            "sub empty",
            Some(signed(Algorithm::HS256, SECRET, &with(json!({"sub": ""})))),
        ),
        (
            "no exp",
            Some(signed(Algorithm::HS256, SECRET, &without_exp)),
        ),
    ];
    let draft = app.new_draft(&app.user, json!({"topic": "guarded"})).await;
    let one = format!("/api/v1/drafts/{}", draft["id"].as_str().unwrap());
    let routes = [
        (Method::POST, "/api/v1/drafts"),
        (Method::GET, "/api/v1/drafts"),
        (Method::GET, one.as_str()),
        (Method::PATCH, one.as_str()),
        (Method::DELETE, one.as_str()),
    ];

    for (name, token) in &tokens {
        for (method, path) in &routes {
            let mut request = app
                .client
                .request(method.clone(), format!("{}{path}", app.address))
                .json(&json!({"formData": {"topic": "intruder"}}));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.headers().get("www-authenticate").unwrap(),
                "Bearer",
                "{name}"
            );
            let problem = assert_problem(response, 401).await;
            assert_eq!(
                problem["type"], "urn:draftd:problem:unauthorized",
                "{name} {method} {path}"
            );
        }
    }
    assert_eq!(
        app.draft(&app.user, draft["id"].as_str().unwrap()).await,
        draft
    );
}

#[tokio::test]
async fn a_token_without_an_organization_cannot_open_a_draft() {
    let app = TestApp::spawn().await;
    let claims = json!({"sub": Uuid::new_v4(), "exp": chrono::Utc::now().timestamp() + 600});
    assert_problem(open_draft_with(&app, &claims).await, 403).await;
}

#[tokio::test]
async fn supabase_style_tokens_with_an_audience_are_accepted() {
    let app = TestApp::spawn().await;
    let claims = json!({
        "sub": app.user.id, "org_id": app.user.org, "aud": "authenticated",
        "role": "authenticated", "exp": chrono::Utc::now().timestamp() + 600,
    });
    assert_eq!(open_draft_with(&app, &claims).await.status(), 201);
}

/// A token `exp_in` seconds from expiry and valid from `nbf_in` seconds from now.
fn timed_claims(app: &TestApp, exp_in: i64, nbf_in: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": app.user.id, "org_id": app.user.org, "exp": now + exp_in, "nbf": now + nbf_in})
}

#[tokio::test]
async fn without_a_configured_leeway_a_token_is_refused_the_second_it_expires() {
    // jsonwebtoken's default leeway let tokens through for a minute past
    // `exp` and a minute before `nbf`.
    let app = TestApp::spawn().await;
    for (case, exp_in, nbf_in) in [("expired 5 s ago", -5, -60), ("valid in 5 s", 600, 5)] {
        let response = open_draft_with(&app, &timed_claims(&app, exp_in, nbf_in)).await;
        assert_eq!(response.status(), 401, "{case}");
        assert_problem(response, 401).await;
    }
    let response = open_draft_with(&app, &timed_claims(&app, 600, -5)).await;
    assert_eq!(response.status(), 201, "a token valid now passes");
}

#[tokio::test]
async fn the_configured_leeway_applies_to_exp_and_nbf_and_no_further() {
    let app = TestApp::spawn_with(|config| config.jwt_leeway_secs = 30).await;
    for (case, exp_in, nbf_in, status) in [
        ("expired 5 s ago", -5, -60, 201),
        ("valid in 5 s", 600, 5, 201),
        ("expired 90 s ago", -90, -600, 401),
        ("valid in 90 s", 600, 90, 401),
    ] {
        let response = open_draft_with(&app, &timed_claims(&app, exp_in, nbf_in)).await;
        assert_eq!(response.status(), status, "{case}");
    }
}
