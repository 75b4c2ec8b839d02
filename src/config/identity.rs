//! Tokens signed by the identity provider: `DRAFTD_JWKS_*`, and the claims
//! draftd reads (`DRAFTD_JWT_ISSUER`, `_AUDIENCE`, `_ORG_CLAIM`, `_ROLE_CLAIM`).
//! The HS256 secret and the clock leeway are in [`super::Config`].

use std::net::IpAddr;
use std::time::Duration;

use clap::Args;
use reqwest::Url;

use crate::domain::identity::ClaimPath;

#[derive(Args, Clone, Debug)]
pub struct IdentityConfig {
    /// The identity provider's JSON Web Key Set (JWKS): tokens signed with
    /// its RS256, ES256 or EdDSA keys are accepted. `https://`, or `http://`
    /// to a loopback address only.
    #[arg(long, env = "DRAFTD_JWKS_URL", value_parser = parse_jwks_url)]
    pub jwks_url: Option<Url>,

    /// Seconds between two fetches of the key set, or its answer's
    /// `Cache-Control: max-age` when shorter.
    #[arg(long, env = "DRAFTD_JWKS_REFRESH_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub jwks_refresh_secs: u64,

    /// Least seconds between two fetches of the key set: a token naming an
    /// unknown key (`kid`) triggers a fetch at most this often; a failed
    /// fetch is retried after it.
    #[arg(long, env = "DRAFTD_JWKS_MIN_REFRESH_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub jwks_min_refresh_secs: u64,

    /// How long a request whose token names an unknown key waits for the key
    /// set to be fetched again, in ms (401 after it).
    #[arg(long, env = "DRAFTD_JWKS_FETCH_TIMEOUT_MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub jwks_fetch_timeout_ms: u64,

    /// When set, a token's `iss` must be this.
    #[arg(long, env = "DRAFTD_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// When set, a token's `aud` must be or hold this.
    #[arg(long, env = "DRAFTD_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Where a token's organization id is: member names joined by dots
    /// (`app_metadata.org_id`); a member whose name holds dots is reached by
    /// its whole name (`https://example.com/org_id`).
    #[arg(long, env = "DRAFTD_JWT_ORG_CLAIM", default_value = "org_id",
          value_parser = ClaimPath::parse)]
    pub jwt_org_claim: ClaimPath,

    /// Where a token's role is (a string, or an array of them such as
    /// Keycloak's `realm_access.roles`); `service_role` marks an admin caller.
    #[arg(long, env = "DRAFTD_JWT_ROLE_CLAIM", default_value = "role",
          value_parser = ClaimPath::parse)]
    pub jwt_role_claim: ClaimPath,
}

impl IdentityConfig {
    pub fn jwks_refresh(&self) -> Duration {
        Duration::from_secs(self.jwks_refresh_secs)
    }

    pub fn jwks_min_refresh(&self) -> Duration {
        Duration::from_secs(self.jwks_min_refresh_secs)
    }

    pub fn jwks_fetch_timeout(&self) -> Duration {
        Duration::from_millis(self.jwks_fetch_timeout_ms)
    }
}

/// Whether draftd may fetch keys from `url`: over TLS, or in the clear only
/// from this machine. Whoever can change the key set in transit can sign any
/// token.
pub fn is_trusted_key_source(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(|host| {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    }
}

fn parse_jwks_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("not a URL: {e}"))?;
    if !is_trusted_key_source(&url) {
        return Err(
            "the key set must come over https:// (http:// only from a loopback address)".into(),
        );
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_over_tls_or_from_this_machine() {
        for good in [
            "https://project.supabase.co/auth/v1/.well-known/jwks.json",
            "http://127.0.0.1:8081/jwks",
            "http://[::1]/certs",
            "http://localhost/certs",
        ] {
            assert!(parse_jwks_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://keycloak:8080/realms/x/protocol/openid-connect/certs",
            "http://10.0.0.1/jwks",
            "ftp://example.com/jwks",
            "jwks.json",
        ] {
            assert!(parse_jwks_url(bad).is_err(), "{bad}");
        }
    }
}
