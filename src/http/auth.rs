//! Identity: `Authorization: Bearer <JWT>`, HS256 only, signed with the
//! configured secret (the way Supabase signs its access tokens). One
//! `Authorization` header per request; a token with a `crit` header is refused.

use std::future::{ready, Ready};

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::problem::ApiError;
use super::AppState;
use crate::domain::Owner;

/// The role that marks an admin or service caller.
pub const SERVICE_ROLE: &str = "service_role";

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

pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
}

impl Authenticator {
    /// `leeway_secs` is the clock leeway on `exp` and `nbf`
    /// (`DRAFTD_JWT_LEEWAY_SECS`); jsonwebtoken's own default of 60 s is not kept.
    pub fn new(secret: &str, leeway_secs: u64) -> Self {
        // Only HS256: a token whose header names `none` or another algorithm fails.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = leeway_secs;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, ApiError> {
        let token = authorization
            .and_then(bearer_token)
            .ok_or(ApiError::Unauthorized(
                "send an access token: Authorization: Bearer <JWT>",
            ))?;
        if has_crit(token)? {
            return Err(ApiError::Unauthorized(
                "the access token names critical header parameters (crit) draftd does not support",
            ));
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| {
                ApiError::Unauthorized(match e.kind() {
                    ErrorKind::ExpiredSignature => "the access token has expired",
                    ErrorKind::ImmatureSignature => "the access token is not valid yet",
                    ErrorKind::InvalidSignature => "the access token's signature is wrong",
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                        "the access token must be signed with HS256"
                    }
                    _ => "the access token is malformed or lacks a claim",
                })
            })?
            .claims;
        Ok(Caller {
            user_id: claims.sub,
            organization_id: claims.org_id,
            role: claims.role,
            expires_at: claims
                .exp
                .saturating_add(i64::try_from(self.validation.leeway).unwrap_or(i64::MAX)),
            issued_at: claims.iat,
        })
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is
/// case-insensitive (RFC 9110 11.1), `bearer` and `BEARER` too.
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

/// Whether the token's JOSE header has a `crit` member. draftd understands
/// no extension, so any `crit` makes the token unacceptable (RFC 7515 4.1.11).
/// Read from the header itself: a `"crit": null` is refused too.
fn has_crit(token: &str) -> Result<bool, ApiError> {
    let header = token
        .split_once('.')
        .and_then(|(header, _)| URL_SAFE_NO_PAD.decode(header).ok())
        .and_then(|json| serde_json::from_slice::<Map<String, Value>>(&json).ok())
        .ok_or(ApiError::Unauthorized(
            "the access token's header is not base64url-encoded JSON",
        ))?;
    Ok(header.contains_key("crit"))
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub role: Option<String>,
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
        let organization_id = self
            .organization_id
            .ok_or(ApiError::Forbidden("the access token has no org_id claim"))?;
        Ok(Owner {
            user_id,
            organization_id,
            issued_at: self.issued_at,
        })
    }

    pub fn is_service(&self) -> bool {
        self.role.as_deref() == Some(SERVICE_ROLE)
    }
}

fn caller_of(req: &HttpRequest) -> Result<Caller, ApiError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let authorization = values.next().and_then(|value| value.to_str().ok());
    // Which of two credentials counts would depend on who reads the request
    // (a proxy, this service): refuse the ambiguity.
    if values.next().is_some() {
        return Err(ApiError::BadRequest(
            "send one Authorization header, not several",
        ));
    }
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => state.authenticator.authenticate(authorization),
        None => Err(ApiError::Unauthorized("authentication is not configured")),
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller_of(req))
    }
}

/// A user route's caller: the owner its token names. The one place every
/// write of a user passes, before its body is read: a write of an
/// organization or user being erased is refused here.
impl FromRequest for Owner {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            caller_of(req)
                .and_then(|caller| caller.owner())
                .and_then(|owner| refuse_erased(req, owner)),
        )
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
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller_of(req).and_then(|caller| {
            Ok(ExpiringOwner {
                owner: refuse_erased(req, caller.owner()?)?,
                expires_at: caller.expires_at,
            })
        }))
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
