//! Identity: `Authorization: Bearer <JWT>`, signed with HS256 and the
//! configured secret (the way Supabase signed its access tokens until 2025),
//! and/or with RS256, ES256 or EdDSA and a key of the identity provider's key
//! set (`DRAFTD_JWKS_URL`): [`verifier`] checks a token, [`jwks`] keeps the
//! set, [`keys`] reads it. One `Authorization` header per request; a token
//! with a `crit` header is refused.
//!
//! A token is checked against the key set in memory, with no I/O; only one
//! naming a key the set lacks waits, for one fetch of the set.

mod cache;
mod jwks;
mod keys;
mod verifier;

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::Either;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use jwks::{JwksSettings, KeySource};
pub use verifier::{AuthSettings, Authenticator, Refusal, SERVICE_ROLE};

use super::problem::ApiError;
use super::AppState;
use crate::domain::{OrgId, Owner, UserId};

/// The claims draftd reads from an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id; a service token (`role: service_role`) may have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issued at, Unix seconds: an erased subject's tokens issued before its
    /// erase finished are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

/// Signs a token with `secret` (for the `dev-token` command and tests).
pub fn mint(secret: &str, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is
/// case-insensitive (RFC 9110 11.1), `bearer` and `BEARER` too.
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

/// What draftd reads of a token's JOSE header.
struct JoseHeader {
    alg: String,
    kid: Option<String>,
}

/// The token's JOSE header. One with a `crit` member is refused: draftd
/// understands no extension (RFC 7515 4.1.11); read from the header itself,
/// so a `"crit": null` is refused too.
fn header_of(token: &str) -> Result<JoseHeader, ApiError> {
    let mut header = token
        .split_once('.')
        .and_then(|(header, _)| URL_SAFE_NO_PAD.decode(header).ok())
        .and_then(|json| serde_json::from_slice::<Map<String, Value>>(&json).ok())
        .ok_or(ApiError::Unauthorized(
            "the access token's header is not base64url-encoded JSON",
        ))?;
    if header.contains_key("crit") {
        return Err(ApiError::Unauthorized(
            "the access token names critical header parameters (crit) draftd does not support",
        ));
    }
    let Some(Value::String(alg)) = header.remove("alg") else {
        return Err(ApiError::Unauthorized(
            "the access token's header names no alg",
        ));
    };
    let kid = match header.remove("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid),
        Some(_) => {
            return Err(ApiError::Unauthorized(
                "the access token's kid is not a string",
            ))
        }
    };
    Ok(JoseHeader { alg, kid })
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Option<UserId>,
    pub organization_id: Option<OrgId>,
    /// Its role claim names `service_role`.
    pub service: bool,
    /// When the token stops being accepted (its `exp` plus the clock
    /// leeway), Unix seconds.
    pub expires_at: i64,
    /// When the token was issued, Unix seconds, if it says.
    pub issued_at: Option<i64>,
}

impl Caller {
    /// Whose drafts and courses the caller reaches: ownership is the pair
    /// (user, organization), so a user route needs both claims.
    pub fn owner(&self) -> Result<Owner, ApiError> {
        let user_id = self
            .user_id
            .ok_or(ApiError::Unauthorized("the access token has no sub claim"))?;
        let organization_id = self.organization_id.ok_or(ApiError::Forbidden(
            "the access token has no organization claim (org_id, or DRAFTD_JWT_ORG_CLAIM)",
        ))?;
        Ok(Owner {
            user_id,
            organization_id,
            issued_at: self.issued_at,
        })
    }

    pub fn is_service(&self) -> bool {
        self.service
    }
}

/// A caller, or the wait for one: a token naming a key the set lacks waits
/// for the set to be fetched again; every other answer is ready at once.
pub type Authenticating<T> =
    Either<Ready<Result<T, ApiError>>, Pin<Box<dyn Future<Output = Result<T, ApiError>>>>>;

/// Authenticates the request, then makes `then` of its caller.
fn authenticate<T: 'static>(
    req: &HttpRequest,
    then: fn(&HttpRequest, Caller) -> Result<T, ApiError>,
) -> Authenticating<T> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let authorization = values.next().and_then(|value| value.to_str().ok());
    // Which of two credentials counts would depend on who reads the request
    // (a proxy, this service): refuse the ambiguity.
    if values.next().is_some() {
        return Either::Left(ready(Err(ApiError::BadRequest(
            "send one Authorization header, not several",
        ))));
    }
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Either::Left(ready(Err(ApiError::Unauthorized(
            "authentication is not configured",
        ))));
    };
    let Some(token) = authorization.and_then(bearer_token) else {
        return Either::Left(ready(Err(ApiError::Unauthorized(
            "send an access token: Authorization: Bearer <JWT>",
        ))));
    };
    match state.authenticator.verify(token) {
        Ok(caller) => Either::Left(ready(then(req, caller))),
        Err(Refusal::Now(error)) => Either::Left(ready(Err(error))),
        Err(Refusal::UnknownKey(kid)) => {
            let (state, req, token) = (state.clone(), req.clone(), token.to_owned());
            Either::Right(Box::pin(async move {
                let caller = state
                    .authenticator
                    .verify_after_refetch(&token, &kid)
                    .await?;
                then(&req, caller)
            }))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Authenticating<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticate(req, |_, caller| Ok(caller))
    }
}

/// A user route's caller: the owner its token names. The one place every
/// write of a user passes, before its body is read: a write of an
/// organization or user being erased is refused here.
impl FromRequest for Owner {
    type Error = ApiError;
    type Future = Authenticating<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticate(req, |req, caller| refuse_erased(req, caller.owner()?))
    }
}

/// A user route's owner and when its token expires: for a response that
/// lasts (an event stream), which must end with the token.
pub struct ExpiringOwner {
    pub owner: Owner,
    /// Unix seconds.
    pub expires_at: i64,
}

impl FromRequest for ExpiringOwner {
    type Error = ApiError;
    type Future = Authenticating<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticate(req, |req, caller| {
            Ok(ExpiringOwner {
                owner: refuse_erased(req, caller.owner()?)?,
                expires_at: caller.expires_at,
            })
        })
    }
}

/// Writes (the unsafe methods: POST, PUT, PATCH, DELETE) of an organization or user being
/// erased, or erased less than an access token's lifetime ago, are refused:
/// nothing new may appear behind the erase. Reads go on.
fn refuse_erased(req: &HttpRequest, owner: Owner) -> Result<Owner, ApiError> {
    let refused = !req.method().is_safe()
        && req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|state| state.app.erasures.refuses_writes(owner));
    if refused {
        return Err(ApiError::Forbidden(super::problem::ERASED));
    }
    Ok(owner)
}
