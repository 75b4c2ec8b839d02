//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of
//! "{webhook-id}.{webhook-timestamp}.{body}">`, one per secret, space-separated,
//! so that a receiver rotating its secret accepts either.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
const PREFIX: &str = "whsec_";

/// One signing key: the base64-decoded part of a `whsec_<base64>` secret.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret must start with {PREFIX}")]
    NoPrefix,
    #[error("a webhook secret must be {PREFIX} followed by base64")]
    NotBase64,
    #[error("a webhook secret must hold at least 24 bytes")]
    TooShort,
    #[error("no webhook secret given")]
    None,
}

/// Shortest key accepted: Standard Webhooks' own secrets hold 24 to 64 bytes.
const MIN_KEY_BYTES: usize = 24;

impl SigningSecret {
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        let encoded = secret
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SecretError::NoPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if key.len() < MIN_KEY_BYTES {
            return Err(SecretError::TooShort);
        }
        Ok(Self(key))
    }

    /// Comma-separated secrets, each signing; at least one.
    pub fn parse_list(secrets: &str) -> Result<Vec<Self>, SecretError> {
        let parsed = secrets
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Self::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if parsed.is_empty() {
            return Err(SecretError::None);
        }
        Ok(parsed)
    }

    fn sign(&self, content: &[u8]) -> String {
        // HMAC takes a key of any length.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(content);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header of a delivery.
pub fn signature(secrets: &[SigningSecret], id: &str, timestamp: i64, body: &str) -> String {
    let content = format!("{id}.{timestamp}.{body}");
    secrets
        .iter()
        .map(|secret| secret.sign(content.as_bytes()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference
    /// libraries (standard-webhooks/libraries, the Python and JS tests).
    #[test]
    fn signs_the_specification_example() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_secret_signs() {
        let secrets = SigningSecret::parse_list(&format!(
            "whsec_{}, whsec_{}",
            STANDARD.encode([1u8; 32]),
            STANDARD.encode([2u8; 32])
        ))
        .unwrap();
        let header = signature(&secrets, "id", 1, "{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn refuses_malformed_secrets() {
        assert_eq!(
            SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::NoPrefix
        );
        assert_eq!(
            SigningSecret::parse("whsec_not base64!").unwrap_err(),
            SecretError::NotBase64
        );
        assert_eq!(
            SigningSecret::parse("whsec_c2hvcnQ=").unwrap_err(),
            SecretError::TooShort
        );
        assert_eq!(
            SigningSecret::parse_list(" , ").unwrap_err(),
            SecretError::None
        );
    }
}
