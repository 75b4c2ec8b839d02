//! Real HTTP to the replicas, every request recorded with its answer.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::history::{Answer, Call, Effect, Recorder};
use crate::replicas::{Replicas, SECRET};

/// No request may take longer: the body deadline, the store timeouts and
/// a slow machine's slack. Past it the call is undecided and a complaint.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What came back.
pub struct Reply {
    pub answer: Answer,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.answer.ok()
    }

    pub fn status(&self) -> Option<u16> {
        match self.answer {
            Answer::Status(s) => Some(s),
            _ => None,
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn uuid(&self, field: &str) -> Option<Uuid> {
        self.body[field].as_str().and_then(|s| s.parse().ok())
    }
}

/// Where a call belongs in the plan.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub actor: usize,
    pub step: usize,
}

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub replicas: Replicas,
    pub recorder: Recorder,
    pub admin_token: String,
}

/// A token as the identity provider would issue it now (`iat` included: an
/// erased subject's old tokens must stay refused).
pub fn mint(claims: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = claims;
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 24 * 3600);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token signs")
}

impl Api {
    pub fn new(replicas: Replicas, recorder: Recorder) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .pool_max_idle_per_host(16)
                .build()
                .expect("http client"),
            replicas,
            recorder,
            admin_token: mint(json!({"role": "service_role"})),
        }
    }

    pub fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        let base = self.replicas.pick();
        self.http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path, &self.admin_token)
    }

    /// Sends `request`, unrecorded (the caller records it with what the
    /// answer told, e.g. a new id).
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body = match response.bytes().await {
                    Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                Reply {
                    answer: Answer::Status(status),
                    headers,
                    body,
                }
            }
            Err(e) => Reply {
                answer: if e.is_timeout() {
                    Answer::TimedOut
                } else {
                    Answer::Undecided(short_error(&e))
                },
                headers: HeaderMap::new(),
                body: Value::Null,
            },
        }
    }

    /// Sends and records in one go.
    pub async fn call(
        &self,
        ctx: Ctx,
        effect: Effect,
        label: String,
        request: RequestBuilder,
    ) -> Reply {
        let started = self.recorder.now();
        let reply = self.send(request).await;
        self.record(ctx, effect, label, started, &reply);
        reply
    }

    pub fn record(
        &self,
        ctx: Ctx,
        effect: Effect,
        label: String,
        started: Duration,
        reply: &Reply,
    ) {
        self.recorder.record(Call {
            actor: ctx.actor,
            step: ctx.step,
            effect,
            label,
            started,
            ended: self.recorder.now(),
            answer: reply.answer.clone(),
        });
    }
}

fn short_error(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connect".into()
    } else if e.is_body() || e.is_request() {
        "request cut".into()
    } else {
        "no answer".into()
    }
}
