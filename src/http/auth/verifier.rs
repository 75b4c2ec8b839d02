//! Checks an access token: HS256 with the configured secret, and/or RS256,
//! ES256 and EdDSA with the identity provider's key set; then reads the
//! caller from its claims.
//!
//! The header's `alg` only says which of the two ways to take; the key
//! decides the algorithm. An HS256 token is checked with the secret alone,
//! never with a key of the set (so a public key can never serve as an HMAC
//! secret), and is refused if its `kid` names a key of the set. An asymmetric
//! token must name its key (`kid`), and its `alg` must be the one that key
//! signs with.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::cache::{Signer, VerifiedTokens};
use super::jwks::KeySource;
use super::{header_of, Caller};
use crate::domain::identity::{external_id, names_role, ClaimPath};
use crate::domain::{OrgId, UserId};
use crate::http::problem::ApiError;

/// The role that marks an admin or service caller.
pub const SERVICE_ROLE: &str = "service_role";

/// What the verifier is given.
pub struct AuthSettings {
    /// The HS256 secret, if HS256 tokens are taken.
    pub secret: Option<String>,
    /// The identity provider's key set, if its tokens are taken.
    pub jwks: Option<Arc<KeySource>>,
    pub leeway_secs: u64,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub org_claim: ClaimPath,
    pub role_claim: ClaimPath,
}

/// Why a token is not (yet) accepted.
pub enum Refusal {
    Now(ApiError),
    /// It names a key the set in memory lacks: fetch the set again, then
    /// check it again.
    UnknownKey(String),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self::Now(error)
    }
}

/// The rules every token is checked by, one per algorithm.
struct Validations {
    hs256: Validation,
    rs256: Validation,
    es256: Validation,
    eddsa: Validation,
}

impl Validations {
    fn new(settings: &AuthSettings) -> Self {
        let of = |algorithm| {
            let mut validation = Validation::new(algorithm);
            // jsonwebtoken's own default of 60 s is not kept.
            validation.leeway = settings.leeway_secs;
            validation.validate_nbf = true;
            let mut required = vec!["exp"];
            match &settings.audience {
                Some(audience) => {
                    validation.set_audience(&[audience]);
                    required.push("aud");
                }
                // Supabase's tokens say `aud: authenticated`: taken as they are.
                None => validation.validate_aud = false,
            }
            if let Some(issuer) = &settings.issuer {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            validation.set_required_spec_claims(&required);
            validation
        };
        Self {
            hs256: of(Algorithm::HS256),
            rs256: of(Algorithm::RS256),
            es256: of(Algorithm::ES256),
            eddsa: of(Algorithm::EdDSA),
        }
    }

    fn of(&self, algorithm: Algorithm) -> &Validation {
        match algorithm {
            Algorithm::RS256 => &self.rs256,
            Algorithm::ES256 => &self.es256,
            Algorithm::EdDSA => &self.eddsa,
            _ => &self.hs256,
        }
    }
}

pub struct Authenticator {
    secret: Option<DecodingKey>,
    jwks: Option<Arc<KeySource>>,
    validations: Validations,
    issuer: Option<String>,
    org_claim: ClaimPath,
    role_claim: ClaimPath,
    leeway: i64,
    verified: VerifiedTokens,
}

const NO_ALGORITHM: &str = "the access token's alg is none of those draftd takes";
const HS256_ONLY: &str = "the access token must be signed with HS256";
const NO_HS256: &str =
    "HS256 access tokens are not taken here: sign with the identity provider's keys";
const HS256_WITH_KID: &str =
    "the access token names a key of the identity provider's set (kid) but is signed with HS256";
const NO_KID: &str = "an access token signed with RS256, ES256 or EdDSA must name its key (kid)";
const UNKNOWN_KEY: &str = "the access token's key (kid) is not in the identity provider's key set";
const WRONG_ALGORITHM: &str = "the access token's alg is not the algorithm of its key";

impl Authenticator {
    pub fn new(settings: AuthSettings) -> Self {
        Self {
            secret: settings
                .secret
                .as_deref()
                .map(|secret| DecodingKey::from_secret(secret.as_bytes())),
            validations: Validations::new(&settings),
            jwks: settings.jwks,
            leeway: i64::try_from(settings.leeway_secs).unwrap_or(i64::MAX),
            issuer: settings.issuer,
            org_claim: settings.org_claim,
            role_claim: settings.role_claim,
            verified: VerifiedTokens::default(),
        }
    }

    /// The issuer whose namespace maps an id that is not a UUID when no
    /// token says (the admin erase): `DRAFTD_JWT_ISSUER`, or none.
    pub fn issuer(&self) -> &str {
        self.issuer.as_deref().unwrap_or_default()
    }

    /// The key set, if one is configured.
    pub fn jwks(&self) -> Option<&KeySource> {
        self.jwks.as_deref()
    }

    /// Checks `token` against what is in memory: the tokens checked before,
    /// then the secret or the key set.
    pub fn verify(&self, token: &str) -> Result<Caller, Refusal> {
        let now = chrono::Utc::now().timestamp();
        if let Some(caller) = self.verified.get(token, now, self.jwks.as_deref()) {
            return Ok(caller);
        }
        let (claims, signer) = self.check_signature(token)?;
        let caller = self.caller(&claims)?;
        if let Some(signer) = signer {
            self.verified.insert(token, caller.clone(), signer);
        }
        Ok(caller)
    }

    /// The token's claims, and what checked them if the answer may be
    /// remembered (not for an HS256 token naming a `kid`: a key set that
    /// later holds that `kid` must refuse it).
    fn check_signature(
        &self,
        token: &str,
    ) -> Result<(Map<String, Value>, Option<Signer>), Refusal> {
        let header = header_of(token)?;
        match header.alg.as_str() {
            "HS256" => {
                let secret = self
                    .secret
                    .as_ref()
                    .ok_or(ApiError::Unauthorized(NO_HS256))?;
                if let (Some(kid), Some(jwks)) = (&header.kid, &self.jwks) {
                    if jwks.knows(kid) {
                        return Err(ApiError::Unauthorized(HS256_WITH_KID).into());
                    }
                }
                let signer =
                    (header.kid.is_none() || self.jwks.is_none()).then_some(Signer::Secret);
                Ok((decode(token, secret, &self.validations.hs256)?, signer))
            }
            "RS256" | "ES256" | "EdDSA" => {
                let jwks = self
                    .jwks
                    .as_ref()
                    .ok_or(ApiError::Unauthorized(HS256_ONLY))?;
                let kid = header.kid.ok_or(ApiError::Unauthorized(NO_KID))?;
                let Some(key) = jwks.key(&kid) else {
                    return Err(Refusal::UnknownKey(kid));
                };
                if algorithm_name(key.algorithm) != header.alg {
                    return Err(ApiError::Unauthorized(WRONG_ALGORITHM).into());
                }
                let claims = decode(token, &key.key, self.validations.of(key.algorithm))?;
                let signer = Signer::Key {
                    kid: kid.into(),
                    key,
                };
                Ok((claims, Some(signer)))
            }
            _ if self.jwks.is_none() => Err(ApiError::Unauthorized(HS256_ONLY).into()),
            _ => Err(ApiError::Unauthorized(NO_ALGORITHM).into()),
        }
    }

    /// Checks `token` once the key set has been fetched again for a key it
    /// lacked (or the wait for it ran out).
    pub async fn verify_after_refetch(&self, token: &str, kid: &str) -> Result<Caller, ApiError> {
        if let Some(jwks) = &self.jwks {
            jwks.refetch_for(kid).await;
        }
        self.verify(token).map_err(|refusal| match refusal {
            Refusal::Now(error) => error,
            Refusal::UnknownKey(_) => ApiError::Unauthorized(UNKNOWN_KEY),
        })
    }

    /// The caller the claims name. Ids that are not UUIDs are mapped in the
    /// issuer's namespace (`domain::identity`).
    fn caller(&self, claims: &Map<String, Value>) -> Result<Caller, ApiError> {
        let issuer = match claims.get("iss") {
            None | Some(Value::Null) => "",
            Some(Value::String(issuer)) => issuer,
            Some(_) => {
                return Err(ApiError::Unauthorized(
                    "the access token's iss is not a string",
                ))
            }
        };
        let id = |value: Option<&Value>, wrong: &'static str| match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(id)) => external_id(issuer, id)
                .map(Some)
                .ok_or(ApiError::Unauthorized(wrong)),
            Some(_) => Err(ApiError::Unauthorized(wrong)),
        };
        let user_id = id(
            claims.get("sub"),
            "the access token's sub is not a non-empty string",
        )?;
        let organization_id = id(
            self.org_claim.find(claims),
            "the access token's organization claim is not a non-empty string",
        )?;
        let service = self
            .role_claim
            .find(claims)
            .is_some_and(|role| names_role(role, SERVICE_ROLE));
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(ApiError::Unauthorized(
                "the access token's exp is not a time",
            ))?;
        let issued_at = match claims.get("iat") {
            None | Some(Value::Null) => None,
            Some(iat) => Some(iat.as_i64().ok_or(ApiError::Unauthorized(
                "the access token's iat is not a time",
            ))?),
        };
        Ok(Caller {
            user_id: user_id.map(UserId::from),
            organization_id: organization_id.map(OrgId::from),
            service,
            expires_at: exp.saturating_add(self.leeway),
            issued_at,
        })
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        _ => "HS256",
    }
}

fn decode(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<Map<String, Value>, ApiError> {
    jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|e| {
            ApiError::Unauthorized(match e.kind() {
                ErrorKind::ExpiredSignature => "the access token has expired",
                ErrorKind::ImmatureSignature => "the access token is not valid yet",
                ErrorKind::InvalidSignature => "the access token's signature is wrong",
                ErrorKind::InvalidIssuer => {
                    "the access token's issuer (iss) is not the one configured"
                }
                ErrorKind::InvalidAudience => {
                    "the access token's audience (aud) is not the one configured"
                }
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => WRONG_ALGORITHM,
                _ => "the access token is malformed or lacks a claim",
            })
        })
}
