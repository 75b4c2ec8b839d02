//! Calls from pages of other origins (`DRAFTD_CORS_ORIGINS`): the platform's
//! front-end may live on its own origin. actix-cors answers the preflights
//! and adds the CORS headers, for listed origins only, to every answer,
//! problems included: a front-end must read a 412 or a 429 to act on it.
//!
//! Credentials stay off: a caller proves who it is with `Authorization:
//! Bearer`, which a page sends only on purpose; draftd sets no cookies, and
//! with credentials off a browser attaches none of its own (nor HTTP
//! authentication) to these calls, so no page can borrow a signed-in user's.

use actix_cors::{Cors, CorsError};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use super::problem::ApiError;

/// The API's methods, and those of tus (HEAD, PATCH, DELETE).
const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
];

/// Request headers a page may send beyond the safelisted ones: the API's and
/// those of tus 1.0.0 (core, its method override among them, creation,
/// termination).
const REQUEST_HEADERS: [&str; 13] = [
    "authorization",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "prefer",
    "x-request-id",
    "tus-resumable",
    "upload-length",
    "upload-offset",
    "upload-metadata",
    "upload-defer-length",
    "x-http-method-override",
];

/// Response headers a page may read beyond the safelisted ones: what the API
/// answers with (the version to send in `If-Match`, where a new draft is,
/// when to retry, a file's name on download, the id to quote in a report,
/// whether `Prefer` was honoured) and what tus answers with.
const EXPOSED_HEADERS: [&str; 15] = [
    "etag",
    "preference-applied",
    "location",
    "retry-after",
    "content-disposition",
    "x-request-id",
    "tus-resumable",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "upload-offset",
    "upload-length",
    "upload-expires",
    "draftd-file-id",
    "draftd-file-location",
];

/// How long a browser may reuse a preflight's answer, in seconds.
pub const PREFLIGHT_MAX_AGE_SECS: usize = 600;

/// The middleware, allowing `origins` (valid origins, as a browser writes them).
pub fn layer<'a>(origins: impl IntoIterator<Item = &'a str>) -> Cors {
    origins
        .into_iter()
        .fold(Cors::default(), Cors::allowed_origin)
        .allowed_methods(METHODS)
        .allowed_headers(REQUEST_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(PREFLIGHT_MAX_AGE_SECS)
        // A browser sends `Origin` on its same-origin writes too, as from the
        // service's own page: an unlisted origin is answered, without CORS
        // headers, and only its preflights are refused. The browser keeps a
        // cross-origin answer without them from the page.
        .block_on_origin_mismatch(false)
}

/// Middleware, just outside [`layer`]: a refused preflight becomes a problem
/// like every other refusal (actix-cors answers it in plain text).
pub async fn refusal_as_problem(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let response = next.call(req).await?;
    let refusal = response
        .response()
        .error()
        .and_then(Error::as_error::<CorsError>)
        .map(ToString::to_string);
    match refusal {
        None => Ok(response.map_into_left_body()),
        Some(reason) => {
            let problem = ApiError::PreflightRefused(reason).error_response();
            Ok(response.into_response(problem).map_into_right_body())
        }
    }
}
