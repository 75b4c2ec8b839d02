//! A key set (RFC 7517) as draftd takes it: the keys it can verify with, by
//! `kid`, each with the one algorithm its type names. RSA signs RS256, P-256
//! ES256, Ed25519 EdDSA; a token's header never chooses. Keys for encryption
//! (`use: enc`), symmetric keys (`oct`: a secret published at a URL is no
//! secret), other curves and algorithms, keys without a `kid` and weak RSA
//! keys are left out, each with a reason for the log.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

/// One key draftd verifies with.
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// The usable keys of one fetched set.
#[derive(Default)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<VerifyingKey>>,
}

/// Why a key of the set is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    NoKid,
    NotForSignatures,
    Symmetric,
    UnsupportedType,
    UnsupportedCurve,
    /// Its `alg` is not the one its type signs with here.
    OtherAlgorithm,
    WeakRsa,
    Malformed,
    DuplicateKid,
}

impl Skipped {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoKid => "no kid",
            Self::NotForSignatures => "not for signatures (use or key_ops)",
            Self::Symmetric => "a symmetric key",
            Self::UnsupportedType => "a key type other than RSA, EC and OKP",
            Self::UnsupportedCurve => "a curve other than P-256 and Ed25519",
            Self::OtherAlgorithm => "an alg other than RS256, ES256 and EdDSA",
            Self::WeakRsa => "an RSA modulus under 2048 or over 8192 bits",
            Self::Malformed => "malformed",
            Self::DuplicateKid => "a kid an earlier key has",
        }
    }
}

/// A key left out of a set: its kid, if it has one, and why.
pub type LeftOut = (Option<String>, Skipped);

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("the key set is not a JSON object with a keys array: {0}")]
    NotAKeySet(serde_json::Error),
    #[error("the key set has no key draftd can verify with (RS256, ES256, EdDSA, with a kid)")]
    NoUsableKey,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<Value>,
}

/// The members of a JWK that draftd reads.
#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl KeySet {
    /// The set in `body`, and the kid (if any) and reason of each key left out.
    pub fn parse(body: &[u8]) -> Result<(Self, Vec<LeftOut>), SetError> {
        let raw: RawSet = serde_json::from_slice(body).map_err(SetError::NotAKeySet)?;
        let mut set = Self::default();
        let mut skipped = Vec::new();
        for value in raw.keys {
            let Ok(key) = serde_json::from_value::<RawKey>(value) else {
                skipped.push((None, Skipped::Malformed));
                continue;
            };
            let kid = key.kid.clone();
            match (verifying_key(&key), kid) {
                (Err(reason), kid) => skipped.push((kid, reason)),
                (Ok(_), None) => skipped.push((None, Skipped::NoKid)),
                (Ok(_), Some(kid)) if set.by_kid.contains_key(&kid) => {
                    skipped.push((Some(kid), Skipped::DuplicateKid));
                }
                (Ok(verifying), Some(kid)) => {
                    set.by_kid.insert(kid, Arc::new(verifying));
                }
            }
        }
        if set.by_kid.is_empty() {
            return Err(SetError::NoUsableKey);
        }
        Ok((set, skipped))
    }

    pub fn get(&self, kid: &str) -> Option<&Arc<VerifyingKey>> {
        self.by_kid.get(kid)
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    pub fn len(&self) -> usize {
        self.by_kid.len()
    }

    /// The kids, sorted: what the log says a set holds.
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.by_kid.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }
}

fn verifying_key(key: &RawKey) -> Result<VerifyingKey, Skipped> {
    if key.usage.as_deref().is_some_and(|usage| usage != "sig")
        || key
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        return Err(Skipped::NotForSignatures);
    }
    let (algorithm, names) = match key.kty.as_str() {
        "RSA" => (Algorithm::RS256, &["RS256"][..]),
        "EC" if key.crv.as_deref() == Some("P-256") => (Algorithm::ES256, &["ES256"][..]),
        "OKP" if key.crv.as_deref() == Some("Ed25519") => {
            // RFC 9864 names the same algorithm Ed25519.
            (Algorithm::EdDSA, &["EdDSA", "Ed25519"][..])
        }
        "EC" | "OKP" => return Err(Skipped::UnsupportedCurve),
        "oct" => return Err(Skipped::Symmetric),
        _ => return Err(Skipped::UnsupportedType),
    };
    if key.alg.as_deref().is_some_and(|alg| !names.contains(&alg)) {
        return Err(Skipped::OtherAlgorithm);
    }
    let decoded = |member: &Option<String>| {
        member
            .as_deref()
            .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
            .ok_or(Skipped::Malformed)
    };
    let key = match algorithm {
        Algorithm::RS256 => {
            let modulus = decoded(&key.n)?;
            let bits = modulus.iter().skip_while(|b| **b == 0).count() * 8;
            if !(2048..=8192).contains(&bits) || decoded(&key.e)?.is_empty() {
                return Err(Skipped::WeakRsa);
            }
            DecodingKey::from_rsa_components(
                key.n.as_deref().unwrap_or_default(),
                key.e.as_deref().unwrap_or_default(),
            )
        }
        Algorithm::ES256 => {
            if decoded(&key.x)?.len() != 32 || decoded(&key.y)?.len() != 32 {
                return Err(Skipped::Malformed);
            }
            DecodingKey::from_ec_components(
                key.x.as_deref().unwrap_or_default(),
                key.y.as_deref().unwrap_or_default(),
            )
        }
        _ => {
            if decoded(&key.x)?.len() != 32 {
                return Err(Skipped::Malformed);
            }
            DecodingKey::from_ed_components(key.x.as_deref().unwrap_or_default())
        }
    }
    .map_err(|_| Skipped::Malformed)?;
    Ok(VerifyingKey { algorithm, key })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn parse(keys: Value) -> Result<(KeySet, Vec<LeftOut>), SetError> {
        KeySet::parse(json!({ "keys": keys }).to_string().as_bytes())
    }

    fn rsa(kid: &str) -> Value {
        let mut n = vec![0xc5; 256];
        n[255] = 0x01;
        json!({"kty": "RSA", "kid": kid, "n": b64(&n), "e": "AQAB"})
    }

    #[test]
    fn the_algorithm_comes_from_the_key_type() {
        let (set, skipped) = parse(json!([
            rsa("r"),
            {"kty": "EC", "crv": "P-256", "kid": "e", "x": b64(&[1; 32]), "y": b64(&[2; 32]), "use": "sig"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "d", "x": b64(&[3; 32]), "alg": "EdDSA"},
        ]))
        .unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(set.kids(), ["d", "e", "r"]);
        assert_eq!(set.get("r").unwrap().algorithm, Algorithm::RS256);
        assert_eq!(set.get("e").unwrap().algorithm, Algorithm::ES256);
        assert_eq!(set.get("d").unwrap().algorithm, Algorithm::EdDSA);
    }

    #[test]
    fn keys_draftd_cannot_or_must_not_use_are_left_out_with_a_reason() {
        let mut short = rsa("short");
        short["n"] = json!(b64(&[0xc5; 128]));
        let mut encrypting = rsa("enc");
        encrypting["use"] = json!("enc");
        let mut wrapping = rsa("ops");
        wrapping["key_ops"] = json!(["wrapKey"]);
        let mut pss = rsa("pss");
        pss["alg"] = json!("PS256");
        let mut no_kid = rsa("x");
        no_kid.as_object_mut().unwrap().remove("kid");
        let (set, skipped) = parse(json!([
            rsa("good"),
            rsa("good"),
            short,
            encrypting,
            wrapping,
            pss,
            no_kid,
            {"kty": "oct", "kid": "hmac", "k": b64(b"secret")},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": b64(&[1; 48]), "y": b64(&[1; 48])},
            {"kty": "EC", "crv": "P-256", "kid": "bad-point", "x": b64(&[1; 31]), "y": b64(&[2; 32])},
            {"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": b64(&[3; 32])},
            {"kty": "RSA", "kid": "not-base64", "n": "***", "e": "AQAB"},
            {"kid": "no-type"},
        ]))
        .unwrap();
        assert_eq!(set.kids(), ["good"]);
        let reasons: Vec<(Option<&str>, Skipped)> = skipped
            .iter()
            .map(|(kid, reason)| (kid.as_deref(), *reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (Some("good"), Skipped::DuplicateKid),
                (Some("short"), Skipped::WeakRsa),
                (Some("enc"), Skipped::NotForSignatures),
                (Some("ops"), Skipped::NotForSignatures),
                (Some("pss"), Skipped::OtherAlgorithm),
                (None, Skipped::NoKid),
                (Some("hmac"), Skipped::Symmetric),
                (Some("p384"), Skipped::UnsupportedCurve),
                (Some("bad-point"), Skipped::Malformed),
                (Some("x25519"), Skipped::UnsupportedCurve),
                (Some("not-base64"), Skipped::Malformed),
                (None, Skipped::Malformed),
            ]
        );
    }

    #[test]
    fn a_set_without_a_usable_key_or_not_a_set_is_an_error() {
        assert!(matches!(
            parse(json!([{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}])),
            Err(SetError::NoUsableKey)
        ));
        assert!(matches!(
            KeySet::parse(b"<html>"),
            Err(SetError::NotAKeySet(_))
        ));
        assert!(matches!(
            KeySet::parse(br#"{"keys": {}}"#),
            Err(SetError::NotAKeySet(_))
        ));
    }
}
