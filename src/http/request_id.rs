//! Request ids: taken from `X-Request-Id` when the caller sends a sane one,
//! generated otherwise, put on every log line of the request and echoed back.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use uuid::Uuid;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn is_sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Middleware: makes sure the request carries an id, and echoes it.
pub async fn assign(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .filter(|value| value.to_str().is_ok_and(is_sane))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("unknown"))
        });
    req.headers_mut().insert(X_REQUEST_ID, id.clone());
    let mut response = next.call(req).await?;
    response.headers_mut().insert(X_REQUEST_ID, id);
    Ok(response)
}

/// The root span of every request, carrying its id and method; its end logs
/// the access line.
pub struct RequestSpan;

/// When the request began, for its access line.
struct Began(Instant);

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Began(Instant::now()));
        let request_id = request
            .headers()
            .get(X_REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
        )
    }

    /// One event, rather than fields recorded on the span and a line when it
    /// closes: the JSON log re-encodes a span's fields at every record, and
    /// times every poll of a span it reports the closing of.
    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        match outcome {
            Ok(response) => {
                let request = response.request();
                let elapsed_ms = request
                    .extensions()
                    .get::<Began>()
                    .map(|began| began.0.elapsed().as_secs_f64() * 1000.0);
                tracing::info!(
                    parent: &span,
                    route = super::route_of(request),
                    status = response.status().as_u16(),
                    elapsed_ms,
                    "close"
                );
            }
            Err(error) => tracing::info!(
                parent: &span,
                status = error.as_response_error().status_code().as_u16(),
                "close"
            ),
        }
    }
}
