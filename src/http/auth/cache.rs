//! Access tokens already checked. A page autosaves every 3 s with the same
//! token: checking its signature and reading its claims again each time is
//! work whose answer cannot have changed, unless the token expired or its
//! key left the identity provider's set, and both are looked at on each hit.
//!
//! The cache is keyed by a 128-bit hash of the token (SipHash-1-3) under
//! keys drawn at start: one half picks the entry, the other confirms a hit.
//! The token itself is not kept, and no caller can aim a token at another's
//! entry.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Arc;

use quick_cache::sync::Cache;
use siphasher::sip128::{Hash128, Hasher128, SipHasher13};

use super::jwks::KeySource;
use super::keys::VerifyingKey;
use super::Caller;

/// How many tokens are remembered (an entry is about 100 bytes); past it,
/// the least used go first.
const CAPACITY: usize = 10_000;

/// What a token's signature was checked with.
#[derive(Clone)]
pub enum Signer {
    /// The HS256 secret, fixed for the life of the process.
    Secret,
    /// A key of the identity provider's set: a hit counts only while that
    /// very key is in the set, so a key that left it (or was replaced under
    /// the same `kid`) sends the token to a full check.
    Key {
        kid: Arc<str>,
        key: Arc<VerifyingKey>,
    },
}

#[derive(Clone)]
struct Entry {
    check: u64,
    caller: Caller,
    signer: Signer,
}

pub struct VerifiedTokens {
    entries: Cache<u64, Entry>,
    keys: (u64, u64),
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        let random = RandomState::new();
        Self {
            entries: Cache::new(CAPACITY),
            keys: (random.hash_one(0_u8), random.hash_one(1_u8)),
        }
    }
}

impl VerifiedTokens {
    /// The caller of `token`, if it was checked before, its `exp` plus the
    /// leeway is not past at `now` (Unix seconds), and its key is still the
    /// one `jwks` holds under its `kid`.
    pub fn get(&self, token: &str, now: i64, jwks: Option<&KeySource>) -> Option<Caller> {
        let (slot, check) = self.hash(token);
        let entry = self.entries.get(&slot)?;
        if entry.check != check {
            return None;
        }
        if now > entry.caller.expires_at {
            self.entries.remove(&slot);
            return None;
        }
        if let Signer::Key { kid, key } = &entry.signer {
            let current = jwks?.key(kid)?;
            if !Arc::ptr_eq(&current, key) {
                return None;
            }
        }
        Some(entry.caller)
    }

    /// Remembers that `token`, checked with `signer`, names `caller`.
    pub fn insert(&self, token: &str, caller: Caller, signer: Signer) {
        let (slot, check) = self.hash(token);
        let entry = Entry {
            check,
            caller,
            signer,
        };
        self.entries.insert(slot, entry);
    }

    /// The token's entry and the check of a hit, in one pass over it.
    fn hash(&self, token: &str) -> (u64, u64) {
        let mut hasher = SipHasher13::new_with_keys(self.keys.0, self.keys.1);
        hasher.write(token.as_bytes());
        let Hash128 { h1, h2 } = hasher.finish128();
        (h1, h2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(expires_at: i64) -> Caller {
        Caller {
            user_id: None,
            organization_id: None,
            service: true,
            expires_at,
            issued_at: None,
        }
    }

    #[test]
    fn a_token_is_remembered_until_its_expiry_and_leeway_pass() {
        let tokens = VerifiedTokens::default();
        tokens.insert("a.b.c", caller(100), Signer::Secret);
        assert!(tokens.get("a.b.c", 100, None).is_some());
        assert!(tokens.get("a.b.c", 101, None).is_none());
        // Gone, not only refused: the entry made no room for others.
        assert!(tokens.get("a.b.c", 0, None).is_none());
    }

    #[test]
    fn another_token_is_not_taken_for_one_remembered() {
        let tokens = VerifiedTokens::default();
        tokens.insert("a.b.c", caller(100), Signer::Secret);
        assert!(tokens.get("a.b.d", 0, None).is_none());
    }

    #[test]
    fn a_token_signed_by_a_key_of_the_set_needs_a_set() {
        let tokens = VerifiedTokens::default();
        let key = Arc::new(VerifyingKey {
            algorithm: jsonwebtoken::Algorithm::HS256,
            key: jsonwebtoken::DecodingKey::from_secret(b"k"),
        });
        let signer = Signer::Key {
            kid: "k1".into(),
            key,
        };
        tokens.insert("a.b.c", caller(100), signer);
        assert!(tokens.get("a.b.c", 0, None).is_none());
    }
}
