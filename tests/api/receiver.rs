//! A webhook receiver of the tests' own: an HTTP server on a loopback port
//! that records every delivery, answers as a test tells it, and checks
//! signatures with its own HMAC-SHA256, written from the Standard Webhooks
//! specification (not the service's signing code).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[path = "../../bench/src/hook_server.rs"]
mod hook_server;
use hook_server::hook_server;

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// This status with this `Retry-After` header.
    RetryAfter(u16, String),
    /// Holds the request open (as a stalled receiver would), then 500.
    Hold,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub webhook_id: String,
    pub timestamp: i64,
    pub signature: String,
    pub raw: String,
    pub body: Value,
    /// What the receiver answered.
    pub answered: u16,
}

impl Delivery {
    pub fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
}

struct State {
    answer: Mutex<Answer>,
    deliveries: Mutex<Vec<Delivery>>,
}

pub struct Receiver {
    pub url: String,
    state: Arc<State>,
}

impl Receiver {
    pub async fn start(answer: Answer) -> Receiver {
        let state = Arc::new(State {
            answer: Mutex::new(answer),
            deliveries: Mutex::new(Vec::new()),
        });
        let (server, url) = hook_server(state.clone(), receive).expect("a loopback port");
        tokio::spawn(server);
        Receiver { url, state }
    }

    pub fn answer(&self, answer: Answer) {
        *self.state.answer.lock().unwrap() = answer;
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().unwrap().clone()
    }

    /// The deliveries answered 2xx, in the order they came.
    pub fn accepted(&self) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|d| (200..300).contains(&d.answered))
            .collect()
    }
}

async fn receive(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let answer = state.answer.lock().unwrap().clone();
    let status = match answer {
        Answer::Status(status) | Answer::RetryAfter(status, _) => status,
        Answer::Hold => 500,
    };
    let raw = String::from_utf8_lossy(&body).into_owned();
    state.deliveries.lock().unwrap().push(Delivery {
        webhook_id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
        signature: header("webhook-signature"),
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
        answered: status,
    });
    if let Answer::Hold = answer {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let mut response = HttpResponse::build(StatusCode::from_u16(status).unwrap());
    if let Answer::RetryAfter(_, after) = answer {
        response.insert_header(("retry-after", after));
    }
    response.finish()
}

/// A Standard Webhooks secret: `whsec_` and the base64 of a random key.
pub fn new_secret() -> (String, Vec<u8>) {
    let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|u| u.as_bytes().to_vec())
        .collect();
    (format!("whsec_{}", STANDARD.encode(&key)), key)
}

/// HMAC-SHA256 (RFC 2104) over SHA-256's 64-byte blocks.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

/// Whether one of the delivery's `v1,` signatures is `key`'s, over
/// `{webhook-id}.{webhook-timestamp}.{body}`.
pub fn verifies(delivery: &Delivery, key: &[u8]) -> bool {
    let content = format!(
        "{}.{}.{}",
        delivery.webhook_id, delivery.timestamp, delivery.raw
    );
    let expected = STANDARD.encode(hmac_sha256(key, content.as_bytes()));
    delivery
        .signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

#[test]
fn the_verifier_accepts_the_specification_example() {
    let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let delivery = Delivery {
        webhook_id: "msg_p5jXN8AQM9LWM0D4loKWxJek".into(),
        timestamp: 1614265330,
        signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".into(),
        raw: r#"{"test": 2432232314}"#.into(),
        body: Value::Null,
        answered: 200,
    };
    assert!(verifies(&delivery, &key));
    assert!(!verifies(&delivery, &key[1..]));
}
