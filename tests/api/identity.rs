//! Which tokens from the identity provider are refused, and how the caller
//! is read from the ones taken: `iss` and `aud`, claim paths, subjects that
//! are not UUIDs (SPEC, "Identity"). Tokens signed by `openssl` (`idp`).

use deadpool_redis::redis::AsyncCommands;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::erase::assert_erase_refused;
use crate::helpers::{assert_problem, json_of, TestApp, TestUser, SECRET};
use crate::idp::{hmac_token, user_claims, IdpKey, JwksServer};
use crate::jwks::{app_with_jwks, jwks_of, open_with};

fn with(claims: &Value, extra: Value) -> Value {
    let mut claims = claims.clone();
    claims
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    claims
}

fn b64(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn tokens_the_key_set_does_not_vouch_for_are_refused() {
    let (rsa, ec, ed, retired) = (
        IdpKey::rsa_a(),
        IdpKey::ec(),
        IdpKey::ed25519(),
        IdpKey::rsa_b(),
    );
    let mut set = jwks_of(&[rsa.clone(), ec.clone(), ed.clone()]).await;
    // A key for encryption only is not one to verify with.
    let mut encrypting = retired.jwk().await;
    encrypting["use"] = json!("enc");
    set.push(encrypting);
    let idp = JwksServer::start(set).await;
    let app = app_with_jwks(&idp.url, |_| {}).await;
    let claims = user_claims(app.user.id.to_string(), app.user.org.to_string());
    let header = |alg: &str, kid: Option<&str>| match kid {
        Some(kid) => json!({"alg": alg, "typ": "JWT", "kid": kid}),
        None => json!({"alg": alg, "typ": "JWT"}),
    };
    let now = chrono::Utc::now().timestamp();
    let rsa_public = rsa.public_pem().await;

    let refused: Vec<(&str, String)> = vec![
        (
            "HS256 with the secret, naming a key of the set",
            hmac_token(SECRET.as_bytes(), &header("HS256", Some(&rsa.kid)), &claims).await,
        ),
        (
            "HS256 keyed with the set's RSA public key (algorithm confusion)",
            hmac_token(&rsa_public, &header("HS256", Some(&rsa.kid)), &claims).await,
        ),
        (
            "HS256 keyed with the public key, no kid",
            hmac_token(&rsa_public, &header("HS256", None), &claims).await,
        ),
        (
            "alg none naming a key of the set",
            format!("{}.{}.", b64(&header("none", Some(&rsa.kid))), b64(&claims)),
        ),
        (
            "a key outside the set",
            IdpKey::stranger().token(&claims).await,
        ),
        (
            "an RSA signature whose header says ES256 for the RSA key",
            rsa.sign(&header("ES256", Some(&rsa.kid)), &claims).await,
        ),
        (
            "an ES256 signature naming the RSA key",
            ec.sign(&header("ES256", Some(&rsa.kid)), &claims).await,
        ),
        (
            "an Ed25519 signature whose header says ES256 for the Ed25519 key",
            ed.sign(&header("ES256", Some(&ed.kid)), &claims).await,
        ),
        (
            "RS256 with an algorithm the key does not name (PS256)",
            rsa.sign(&header("PS256", Some(&rsa.kid)), &claims).await,
        ),
        (
            "an asymmetric token without kid",
            rsa.sign(&header("RS256", None), &claims).await,
        ),
        ("a key the set marks use: enc", retired.token(&claims).await),
        (
            "another key's signature under a kid of the set",
            retired
                .sign(&header("RS256", Some(&rsa.kid)), &claims)
                .await,
        ),
        (
            "expired",
            ec.token(&with(&claims, json!({"exp": now - 10}))).await,
        ),
        (
            "not valid yet",
            ec.token(&with(&claims, json!({"nbf": now + 600}))).await,
        ),
        (
            "a crit header",
            ec.sign(
                &json!({"alg": "ES256", "kid": ec.kid, "crit": ["exp"], "exp": now}),
                &claims,
            )
            .await,
        ),
    ];
    for (case, token) in &refused {
        let response = app
            .client
            .post(format!("{}/api/v1/drafts", app.address))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 401).await;
        assert_eq!(problem["type"], "urn:draftd:problem:unauthorized", "{case}");
    }
    assert_eq!(
        app.get_json(&app.user, "/api/v1/drafts").await["items"],
        json!([])
    );
    // The same claims, rightly signed, are taken.
    assert_eq!(open_with(&app, &ec.token(&claims).await).await, 201);
    let hs256 = hmac_token(SECRET.as_bytes(), &header("HS256", None), &claims).await;
    assert_eq!(open_with(&app, &hs256).await, 201);
}

#[tokio::test]
async fn issuer_and_audience_must_match_when_configured() {
    let key = IdpKey::ec();
    let idp = JwksServer::start(jwks_of(std::slice::from_ref(&key)).await).await;
    let app = app_with_jwks(&idp.url, |c| {
        c.identity.jwt_issuer = Some("https://idp.test/".into());
        c.identity.jwt_audience = Some("draftd".into());
    })
    .await;
    let claims = user_claims(app.user.id.to_string(), app.user.org.to_string());
    let good = with(
        &claims,
        json!({"iss": "https://idp.test/", "aud": "draftd"}),
    );
    assert_eq!(open_with(&app, &key.token(&good).await).await, 201);
    let listed = with(&good, json!({"aud": ["account", "draftd"]}));
    assert_eq!(open_with(&app, &key.token(&listed).await).await, 201);

    let mut no_iss = good.clone();
    no_iss.as_object_mut().unwrap().remove("iss");
    let mut no_aud = good.clone();
    no_aud.as_object_mut().unwrap().remove("aud");
    for (case, claims) in [
        (
            "another issuer",
            with(&good, json!({"iss": "https://evil.test/"})),
        ),
        ("no issuer", no_iss),
        ("another audience", with(&good, json!({"aud": "account"}))),
        ("no audience", no_aud),
    ] {
        assert_eq!(
            open_with(&app, &key.token(&claims).await).await,
            401,
            "{case}"
        );
        let hs256 = hmac_token(SECRET.as_bytes(), &json!({"alg": "HS256"}), &claims).await;
        assert_eq!(open_with(&app, &hs256).await, 401, "HS256, {case}");
    }
}

#[tokio::test]
async fn the_organization_and_the_role_are_read_at_their_claim_paths() {
    let key = IdpKey::rsa_a();
    let idp = JwksServer::start(jwks_of(std::slice::from_ref(&key)).await).await;
    let app = app_with_jwks(&idp.url, |c| {
        c.identity.jwt_org_claim =
            draftd::domain::identity::ClaimPath::parse("app_metadata.org_id").unwrap();
        c.identity.jwt_role_claim =
            draftd::domain::identity::ClaimPath::parse("realm_access.roles").unwrap();
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let (user, org) = (Uuid::new_v4(), Uuid::new_v4());
    let nested =
        json!({"sub": user, "app_metadata": {"org_id": org}, "exp": now + 600, "iat": now});
    let caller = TestUser {
        id: user,
        org,
        token: key.token(&nested).await,
    };
    let draft = app
        .new_draft(&caller, json!({"topic": "nested organization"}))
        .await;
    assert_eq!(draft["organizationId"], org.to_string());

    // At the top level only, the organization is not where the operator said.
    let top = json!({"sub": user, "org_id": org, "exp": now + 600});
    assert_problem(
        app.client
            .post(format!("{}/api/v1/drafts", app.address))
            .bearer_auth(key.token(&top).await)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;

    let roles = |roles: Value| json!({"realm_access": {"roles": roles}, "exp": now + 600});
    assert_eq!(
        stats_as(&app, &key, roles(json!(["offline_access", "service_role"]))).await,
        200
    );
    assert_eq!(
        stats_as(&app, &key, roles(json!(["offline_access"]))).await,
        403
    );
    assert_eq!(
        stats_as(&app, &key, roles(json!("service_role"))).await,
        200
    );
    // The role only counts at its path.
    let top_role = json!({"role": "service_role", "exp": now + 600});
    assert_eq!(stats_as(&app, &key, top_role).await, 403);
}

/// The status of the admin stats route for a token of `key` over `claims`.
async fn stats_as(app: &TestApp, key: &IdpKey, claims: Value) -> u16 {
    app.client
        .get(format!("{}/api/v1/admin/stats", app.address))
        .bearer_auth(key.token(&claims).await)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_subject_that_is_not_a_uuid_is_mapped_and_erased_by_its_raw_id() {
    let issuer = "https://tenant.example.auth0.com/";
    let key = IdpKey::rsa_a();
    let idp = JwksServer::start(jwks_of(std::slice::from_ref(&key)).await).await;
    let app = app_with_jwks(&idp.url, |c| c.identity.jwt_issuer = Some(issuer.into())).await;
    let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, issuer.as_bytes());
    let raw_sub = format!("auth0|{}", Uuid::new_v4().simple());
    let raw_org = format!("org_{}", Uuid::new_v4().simple());
    let claims = with(
        &user_claims(raw_sub.as_str(), raw_org.as_str()),
        json!({"iss": issuer}),
    );
    let caller = TestUser {
        id: Uuid::new_v5(&namespace, raw_sub.as_bytes()),
        org: Uuid::new_v5(&namespace, raw_org.as_bytes()),
        token: key.token(&claims).await,
    };
    let draft = app
        .new_draft(&caller, json!({"topic": "mapped subject"}))
        .await;
    assert_eq!(draft["organizationId"], caller.org.to_string());
    let materialized = app
        .draft_action(&caller, draft["id"].as_str().unwrap(), "materialize")
        .await;
    assert_eq!(materialized.status(), 201);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM courses WHERE owner_id = '{}' AND organization_id = '{}'",
            caller.id, caller.org
        ))
        .await,
        1
    );

    // The operator erases the user by the id the provider knows.
    let now = chrono::Utc::now().timestamp();
    let service_claims =
        json!({"iss": issuer, "role": "service_role", "exp": now + 600, "iat": now});
    let service = TestUser {
        id: Uuid::nil(),
        org: Uuid::nil(),
        token: key.token(&service_claims).await,
    };
    let response = app
        .request(Method::POST, "/api/v1/admin/erase", &service)
        .json(&json!({"userId": raw_sub}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let erase: Value = response.json().await.unwrap();
    assert_eq!(erase["subjectId"], caller.id.to_string(), "{erase}");
    let erase_state = || json_of(app.request(Method::GET, &location, &service));
    crate::helpers::wait_until("the erase ends", || async {
        erase_state().await["status"] != "running"
    })
    .await;
    let state = erase_state().await;
    assert_eq!(state["status"], "done", "{state}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM courses WHERE owner_id = '{}'",
            caller.id
        ))
        .await,
        0
    );
    assert_problem(app.create_draft(&caller, json!({})).await, 403).await;
}

#[tokio::test]
async fn an_hs256_subject_that_is_not_a_uuid_is_mapped_in_the_namespace_of_no_issuer() {
    let app = TestApp::spawn().await;
    let org = Uuid::new_v4();
    let token = hmac_token(
        SECRET.as_bytes(),
        &json!({"alg": "HS256", "typ": "JWT"}),
        &user_claims("user_2abcDEF", org.to_string()),
    )
    .await;
    let caller = TestUser {
        // uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, ""), "user_2abcDEF"), by Python.
        id: "bbaeb704-a127-56cb-9f36-5a183b5631ea".parse().unwrap(),
        org,
        token,
    };
    let draft = app
        .new_draft(&caller, json!({"topic": "Clerk-style subject"}))
        .await;
    let id = draft["id"].as_str().unwrap();
    // The draft is the mapped user's, in Redis under the mapped id.
    let exists: bool = app
        .redis()
        .await
        .exists(crate::helpers::draft_key(&caller, id))
        .await
        .unwrap();
    assert!(exists);
    for (body, field) in [
        (json!({"userId": ""}), "userId"),
        (json!({"userId": 42}), "userId"),
        (json!({"userId": "alice", "issuer": 7}), "issuer"),
    ] {
        assert_erase_refused(&app, "/api/v1/admin/erase?dryRun=true", &body, field).await;
    }
}
