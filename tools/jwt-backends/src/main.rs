//! Verification cost of one token per algorithm, for each of jsonwebtoken's
//! backends, as `jsonwebtoken::decode` pays it: a verifier built from the key,
//! then one verification. The tokens are signed by the `openssl` CLI with the
//! test keys of `tests/fixtures/jwks/`, so neither backend checks its own work.

use std::process::Command;
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::crypto::{self, CryptoProvider};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/jwks");

/// Runs `openssl` in the keys' folder; `input` (a message to sign) goes in a
/// file named after `input_flag` (`-in` for pkeyutl, none for dgst).
fn openssl(args: &[&str], input: Option<(&str, &str)>) -> Vec<u8> {
    let mut command = Command::new("openssl");
    command.args(args).current_dir(KEYS);
    if let Some((flag, text)) = input {
        let path = std::env::temp_dir().join("jwt-backends-message");
        std::fs::write(&path, text).expect("temp file");
        if !flag.is_empty() {
            command.arg(flag);
        }
        command.arg(path);
    }
    let output = command.output().expect("openssl runs");
    assert!(output.status.success(), "openssl {args:?}");
    output.stdout
}

/// An ECDSA signature in DER (`SEQUENCE { INTEGER r, INTEGER s }`) as JWS wants it: r || s.
fn raw_ecdsa(der: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(64);
    let mut at = 2;
    for _ in 0..2 {
        let len = usize::from(der[at + 1]);
        let int = &der[at + 2..at + 2 + len];
        let int = &int[int.len().saturating_sub(32)..];
        raw.extend(std::iter::repeat_n(0, 32 - int.len()));
        raw.extend_from_slice(int);
        at += 2 + len;
    }
    raw
}

fn main() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT","kid":"k"}"#);
    let payload = URL_SAFE_NO_PAD.encode(
        br#"{"sub":"0b7e1a52-6f33-4d6b-9a8b-2f3b8f0f6a10","org_id":"5f0c1e2d-3a4b-4c5d-8e6f-7a8b9c0d1e2f","exp":4102444800,"iat":1700000000}"#,
    );
    let message = format!("{header}.{payload}");

    let spki = openssl(&["pkey", "-in", "ec.pem", "-pubout", "-outform", "DER"], None);
    let point = &spki[spki.len() - 64..];
    let ec = DecodingKey::from_ec_components(
        &URL_SAFE_NO_PAD.encode(&point[..32]),
        &URL_SAFE_NO_PAD.encode(&point[32..]),
    )
    .expect("P-256 key");
    let es256 = raw_ecdsa(&openssl(&["dgst", "-sha256", "-sign", "ec.pem"], Some(("", &message))));

    let modulus = String::from_utf8(openssl(&["rsa", "-in", "rsa-a.pem", "-noout", "-modulus"], None))
        .expect("hex");
    let hex = modulus.trim().trim_start_matches("Modulus=");
    let n: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digit"))
        .collect();
    let rsa = DecodingKey::from_rsa_components(&URL_SAFE_NO_PAD.encode(&n), "AQAB").expect("RSA key");
    let rs256 = openssl(&["dgst", "-sha256", "-sign", "rsa-a.pem"], Some(("", &message)));

    let spki = openssl(&["pkey", "-in", "ed25519.pem", "-pubout", "-outform", "DER"], None);
    let ed = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(&spki[spki.len() - 32..]))
        .expect("Ed25519 key");
    let eddsa = openssl(&["pkeyutl", "-sign", "-inkey", "ed25519.pem", "-rawin"], Some(("-in", &message)));

    let secret = b"a-test-secret-that-is-long-enough-for-hs256";
    let hs = DecodingKey::from_secret(secret);
    let hs256 = (crypto::aws_lc::DEFAULT_PROVIDER.signer_factory)(
        &Algorithm::HS256,
        &EncodingKey::from_secret(secret),
    )
    .and_then(|signer| signer.try_sign(message.as_bytes()).map_err(Into::into))
    .expect("HMAC");

    let cases = [
        ("HS256", Algorithm::HS256, &hs, &hs256, 200_000),
        ("ES256", Algorithm::ES256, &ec, &es256, 10_000),
        ("RS256", Algorithm::RS256, &rsa, &rs256, 10_000),
        ("EdDSA", Algorithm::EdDSA, &ed, &eddsa, 10_000),
    ];
    let providers: [(&str, &CryptoProvider); 2] = [
        ("aws_lc_rs", &crypto::aws_lc::DEFAULT_PROVIDER),
        ("rust_crypto", &crypto::rust_crypto::DEFAULT_PROVIDER),
    ];
    println!("| round | algorithm | backend | µs per verification |");
    println!("|---|---|---|---|");
    for round in 1..=3 {
        for (name, algorithm, key, signature, n) in cases {
            for (backend, provider) in providers {
                let verify = || {
                    (provider.verifier_factory)(&algorithm, key)
                        .is_ok_and(|v| v.verify(message.as_bytes(), signature).is_ok())
                };
                assert!(verify(), "{backend} refuses the {name} signature");
                let started = Instant::now();
                for _ in 0..n {
                    std::hint::black_box(verify());
                }
                let micros = started.elapsed().as_secs_f64() / f64::from(n) * 1e6;
                println!("| {round} | {name} | {backend} | {micros:.2} |");
            }
        }
    }
}
