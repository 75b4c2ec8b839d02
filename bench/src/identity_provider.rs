//! An identity provider of the benchmark's own: a P-256 key drawn at start,
//! its public half served as a key set (`GET /jwks`) on a free loopback port,
//! and ES256 tokens naming it by `kid`, as Supabase's signing keys, Auth0 or
//! Keycloak issue them.

use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use draftd::http::auth::Claims;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const KID: &str = "bench-p256";

pub struct IdentityProvider {
    /// The key set's URL, for `DRAFTD_JWKS_URL`.
    pub url: String,
    key: EncodingKey,
    server: ServerHandle,
}

impl IdentityProvider {
    /// Draws the key and starts serving its set.
    pub fn start() -> anyhow::Result<Self> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| anyhow::anyhow!("no P-256 key could be drawn"))?;
        let pkcs8 = pair
            .to_pkcs8v1()
            .map_err(|_| anyhow::anyhow!("the P-256 key has no PKCS#8 form"))?;
        let key = EncodingKey::from_ec_der(pkcs8.as_ref());
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)?;
        jwk.common.key_id = Some(KID.into());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let set = serde_json::to_string(&JwkSet { keys: vec![jwk] })?;

        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            let set = set.clone();
            App::new().route(
                "/jwks",
                web::get().to(move || {
                    let set = set.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/jwk-set+json")
                            .body(set)
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            url: format!("http://127.0.0.1:{port}/jwks"),
            key,
            server: handle,
        })
    }

    /// An ES256 token of `claims`, naming the key by `kid`.
    pub fn token(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID.into());
        Ok(jsonwebtoken::encode(&header, claims, &self.key)?)
    }

    pub async fn stop(self) {
        self.server.stop(true).await;
    }
}
