//! The JSON body of a request: a JSON object, read up to the configured limit.
//! Every failure is a problem response (413, 415, 400, 408), never a 5xx.

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::problem::ApiError;
use super::timed_body::TimedBody;
use super::AppState;

/// A request body that is a JSON object; `None` when the body is empty or
/// JSON `null`.
pub struct JsonObject(pub Option<Map<String, Value>>);

fn is_json(mime: &str) -> bool {
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl FromRequest for JsonObject {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return Box::pin(async { Err(ApiError::BadRequest("no body is read here")) });
        };
        let (limit, timeouts) = (state.max_body_bytes, state.body_timeouts);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let content_type = req.content_type().to_owned();
        let (mut payload, stalled) = TimedBody::new(payload.take(), timeouts);
        Box::pin(async move {
            let too_large = ApiError::PayloadTooLarge {
                limit: limit as u64,
            };
            if declared_length.is_some_and(|length| length > limit) {
                return Err(too_large);
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| match stalled.get() {
                    true => ApiError::BodyTimeout,
                    false => ApiError::MalformedBody(e.to_string()),
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large);
                }
                body.extend_from_slice(&chunk);
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Self(None));
            }
            // A missing Content-Type is read as JSON, for hand-written requests.
            if !content_type.is_empty() && !is_json(&content_type) {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "send JSON (application/json or application/merge-patch+json), not {content_type}"
                )));
            }
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(object)) => Ok(Self(Some(object))),
                Ok(Value::Null) => Ok(Self(None)),
                Ok(_) => Err(ApiError::MalformedBody(
                    "the body must be a JSON object".into(),
                )),
                Err(e) => Err(ApiError::MalformedBody(format!(
                    "the body is not valid JSON: {e}"
                ))),
            }
        })
    }
}
