//! A webhook receiver for the hygiene simulation: an HTTP server on a
//! loopback port that records the deliveries it accepts, and refuses (500)
//! the first attempt of every seventh event, so that the run also sees
//! events delivered again under the same `webhook-id`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::hook_server::hook_server;
use crate::visits::Accepted;

/// Every how many new events one is refused once.
const REFUSE_EVERY: usize = 7;

#[derive(Default)]
struct State {
    accepted: Vec<Accepted>,
    /// Every `webhook-id` seen, accepted or not.
    seen: HashSet<String>,
    attempts: usize,
    refused: usize,
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    server: actix_web::dev::ServerHandle,
}

/// What the receiver saw: attempts and refusals, besides what it accepted.
pub struct Received {
    pub accepted: Vec<Accepted>,
    pub attempts: usize,
    pub refused: usize,
}

impl Receiver {
    pub fn start() -> anyhow::Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let (server, url) = hook_server(state.clone(), receive)?;
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            url,
            state,
            server: handle,
        })
    }

    /// Stops the server; what it received.
    pub async fn stop(self) -> Received {
        self.server.stop(true).await;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Received {
            accepted: std::mem::take(&mut state.accepted),
            attempts: state.attempts,
            refused: state.refused,
        }
    }
}

async fn receive(
    request: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let webhook_id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    state.attempts += 1;
    if state.seen.insert(webhook_id.clone()) && state.seen.len().is_multiple_of(REFUSE_EVERY) {
        state.refused += 1;
        return HttpResponse::InternalServerError().finish();
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    state.accepted.push(Accepted {
        webhook_id,
        kind: text(&body["type"]),
        course: text(&body["data"]["courseId"]),
    });
    HttpResponse::NoContent().finish()
}
