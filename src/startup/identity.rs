//! The token checker, wired from the identity settings.

use std::sync::Arc;

use crate::config::Config;
use crate::http::auth::{AuthSettings, Authenticator, JwksSettings, KeySource};

/// The token checker, and the identity provider's key set
/// (`DRAFTD_JWKS_URL`) if one is configured, for its task to keep: that
/// fetches at once; until it has a set, readiness is down.
pub(super) fn authenticator(
    config: &Config,
) -> anyhow::Result<(Authenticator, Option<Arc<KeySource>>)> {
    let identity = &config.identity;
    let jwks = identity
        .jwks_url
        .as_ref()
        .map(|url| {
            KeySource::new(JwksSettings {
                url: url.clone(),
                refresh: identity.jwks_refresh(),
                min_refresh: identity.jwks_min_refresh(),
                fetch_timeout: identity.jwks_fetch_timeout(),
                tls_roots: config.tls_roots()?,
            })
        })
        .transpose()?;
    let authenticator = Authenticator::new(AuthSettings {
        secret: config.jwt_secret()?.map(str::to_owned),
        jwks: jwks.clone(),
        leeway_secs: config.jwt_leeway_secs,
        issuer: identity.jwt_issuer.clone(),
        audience: identity.jwt_audience.clone(),
        org_claim: identity.jwt_org_claim.clone(),
        role_claim: identity.jwt_role_claim.clone(),
    });
    Ok((authenticator, jwks))
}
