//! A create's `Idempotency-Key`: the same user and key within the draft TTL
//! get the same draft, so that a create sent twice (a page replaying a
//! create cut off when its tab closed) opens one draft.

use super::ids::DraftId;

/// A client's key: 1 to [`IdempotencyKey::MAX_LEN`] visible ASCII
/// characters (a UUID, typically). Nothing else gets past the boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 200;

    pub fn parse(raw: &[u8]) -> Option<Self> {
        let visible = raw.iter().all(|b| (0x21..=0x7e).contains(b));
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !visible {
            return None;
        }
        std::str::from_utf8(raw)
            .ok()
            .map(|key| Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A create under a key.
#[derive(Clone, Debug)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    /// A draft the key named that is gone (expired): the key may be taken
    /// from it for the new draft.
    pub replaces: Option<DraftId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_visible_ascii_of_bounded_length() {
        assert!(IdempotencyKey::parse(b"6a1c0d2e-page-1").is_some());
        assert!(IdempotencyKey::parse(&[b'k'; 200]).is_some());
        assert!(IdempotencyKey::parse(&[b'k'; 201]).is_none());
        assert!(IdempotencyKey::parse(b"").is_none());
        assert!(IdempotencyKey::parse(b"two words").is_none());
        assert!(IdempotencyKey::parse("cl\u{e9}".as_bytes()).is_none());
        assert!(IdempotencyKey::parse(b"tab\there").is_none());
    }
}
