//! An identity provider of the tests' own. Its keys are the PEM files of
//! `tests/fixtures/jwks/` (made once with `openssl genpkey`); its tokens are
//! signed by the `openssl` CLI, not by jsonwebtoken, which the service
//! verifies with; its JWKS is built from `openssl`'s view of the public keys
//! and served over HTTP on a loopback port, answering as a test tells it and
//! counting every fetch.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use uuid::Uuid;

fn fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwks")
        .join(file)
}

/// Runs `openssl` with `input` on its standard input; its output.
async fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).await.expect("openssl reads");
    drop(stdin);
    let output = child.wait_with_output().await.expect("openssl ends");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rsa,
    P256,
    Ed25519,
}

/// A signing key of the provider.
#[derive(Clone)]
pub struct IdpKey {
    pub kid: String,
    file: &'static str,
    kind: Kind,
}

impl IdpKey {
    fn new(file: &'static str, kind: Kind) -> Self {
        Self {
            kid: file.trim_end_matches(".pem").to_owned(),
            file,
            kind,
        }
    }

    pub fn rsa_a() -> Self {
        Self::new("rsa-a.pem", Kind::Rsa)
    }

    pub fn rsa_b() -> Self {
        Self::new("rsa-b.pem", Kind::Rsa)
    }

    pub fn ec() -> Self {
        Self::new("ec.pem", Kind::P256)
    }

    pub fn ed25519() -> Self {
        Self::new("ed25519.pem", Kind::Ed25519)
    }

    /// A P-256 key the served set never holds.
    pub fn stranger() -> Self {
        Self::new("ec-stranger.pem", Kind::P256)
    }

    /// The algorithm its type signs with.
    pub fn alg(&self) -> &'static str {
        match self.kind {
            Kind::Rsa => "RS256",
            Kind::P256 => "ES256",
            Kind::Ed25519 => "EdDSA",
        }
    }

    fn path(&self) -> String {
        fixture(self.file).to_string_lossy().into_owned()
    }

    /// The public key as a PEM, as an attacker could fetch it.
    pub async fn public_pem(&self) -> Vec<u8> {
        openssl(&["pkey", "-in", &self.path(), "-pubout"], b"").await
    }

    /// The public key as a JWK, with `use: sig`.
    pub async fn jwk(&self) -> Value {
        match self.kind {
            Kind::Rsa => {
                let text = openssl(&["rsa", "-in", &self.path(), "-noout", "-modulus"], b"").await;
                let text = String::from_utf8(text).expect("text");
                let modulus = hex::decode(text.trim().trim_start_matches("Modulus=")).expect("hex");
                // Every fixture's exponent is openssl's default, 65537.
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "n": b64(&modulus), "e": "AQAB"})
            }
            Kind::P256 | Kind::Ed25519 => {
                let spki = openssl(
                    &["pkey", "-in", &self.path(), "-pubout", "-outform", "DER"],
                    b"",
                )
                .await;
                if self.kind == Kind::P256 {
                    // The SubjectPublicKeyInfo ends with the point 04 || x || y.
                    let point = &spki[spki.len() - 64..];
                    json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
                           "x": b64(&point[..32]), "y": b64(&point[32..])})
                } else {
                    json!({"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "use": "sig",
                           "x": b64(&spki[spki.len() - 32..])})
                }
            }
        }
    }

    /// A token with the header `{alg, typ, kid}` over `claims`.
    pub async fn token(&self, claims: &Value) -> String {
        self.sign(
            &json!({"alg": self.alg(), "typ": "JWT", "kid": self.kid}),
            claims,
        )
        .await
    }

    /// A token with `header` as it is over `claims`, signed with this key
    /// whatever the header says.
    pub async fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let key = self.path();
        let signature = match self.kind {
            Kind::Rsa => openssl(&["dgst", "-sha256", "-sign", &key], input.as_bytes()).await,
            Kind::P256 => {
                raw_ecdsa(&openssl(&["dgst", "-sha256", "-sign", &key], input.as_bytes()).await)
            }
            Kind::Ed25519 => {
                // pkeyutl signs Ed25519 from a file only.
                let file = std::env::temp_dir().join(format!("draftd-jws-{}", Uuid::new_v4()));
                std::fs::write(&file, &input).expect("temp file");
                let file_name = file.to_string_lossy().into_owned();
                let signature = openssl(
                    &[
                        "pkeyutl", "-sign", "-inkey", &key, "-rawin", "-in", &file_name,
                    ],
                    b"",
                )
                .await;
                let _ = std::fs::remove_file(file);
                signature
            }
        };
        format!("{input}.{}", b64(&signature))
    }
}

/// A token signed with HMAC-SHA256 by `openssl` with `key` (a secret, or the
/// bytes of a public key, as an algorithm-confusion attack would use it).
pub async fn hmac_token(key: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let macopt = format!("hexkey:{}", hex::encode(key));
    let mac = openssl(
        &[
            "mac", "-digest", "SHA256", "-macopt", &macopt, "-binary", "HMAC",
        ],
        input.as_bytes(),
    )
    .await;
    format!("{input}.{}", b64(&mac))
}

/// An ECDSA signature in DER (`SEQUENCE { INTEGER r, INTEGER s }`) as JWS
/// wants it: r || s, 32 bytes each.
fn raw_ecdsa(der: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(64);
    let mut at = 2;
    for _ in 0..2 {
        assert_eq!(der[at], 0x02, "an INTEGER");
        let len = usize::from(der[at + 1]);
        let int = &der[at + 2..at + 2 + len];
        let int = &int[int.len().saturating_sub(32)..];
        raw.extend(std::iter::repeat_n(0, 32 - int.len()));
        raw.extend_from_slice(int);
        at += 2 + len;
    }
    raw
}

/// How the JWKS URL answers.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Keys,
    Status(u16),
}

struct State {
    keys: Mutex<Vec<Value>>,
    answer: Mutex<Answer>,
    delay: Mutex<Duration>,
    cache_control: Mutex<Option<String>>,
    fetches: AtomicUsize,
}

/// The provider's JWKS endpoint.
pub struct JwksServer {
    pub url: String,
    state: Arc<State>,
}

impl JwksServer {
    pub async fn start(keys: Vec<Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        Self::serve(listener, keys)
    }

    /// A URL where nothing listens yet, and the port to start a server on later.
    pub fn unstarted() -> (String, u16) {
        let port = crate::servers::free_port();
        (format!("http://127.0.0.1:{port}/jwks"), port)
    }

    pub async fn start_on(port: u16, keys: Vec<Value>) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the reserved port");
        Self::serve(listener, keys)
    }

    fn serve(listener: TcpListener, keys: Vec<Value>) -> Self {
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(State {
            keys: Mutex::new(keys),
            answer: Mutex::new(Answer::Keys),
            delay: Mutex::new(Duration::ZERO),
            cache_control: Mutex::new(None),
            fetches: AtomicUsize::new(0),
        });
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/jwks", web::get().to(answer))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listens")
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/jwks"),
            state,
        }
    }

    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.state.keys.lock().unwrap() = keys;
    }

    pub fn answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap() = answer;
    }

    /// Holds every answer this long first (a slow provider).
    pub fn delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    pub fn cache_control(&self, value: &str) {
        *self.state.cache_control.lock().unwrap() = Some(value.to_owned());
    }

    /// Requests received so far.
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }
}

async fn answer(state: web::Data<State>) -> HttpResponse {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let answer = *state.answer.lock().unwrap();
    match answer {
        Answer::Status(status) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a status"))
                .finish()
        }
        Answer::Keys => {
            let mut response = HttpResponse::Ok();
            if let Some(value) = state.cache_control.lock().unwrap().clone() {
                response.insert_header(("cache-control", value));
            }
            response.json(json!({ "keys": *state.keys.lock().unwrap() }))
        }
    }
}

/// The claims of a user token: `sub`, `org_id`, an hour to live, issued now.
pub fn user_claims(sub: impl Into<Value>, org: impl Into<Value>) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub.into(), "org_id": org.into(), "exp": now + 3600, "iat": now})
}
