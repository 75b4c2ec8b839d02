//! The Redis key schema, in one place for the service, its tests and its
//! benchmarks.
//!
//! The braces are literal: in a Redis Cluster they make the user id the hash
//! tag, so all of a user's keys share one slot and every script touches one
//! slot only.

use uuid::Uuid;

/// Matches every key draftd writes.
pub const ALL_PATTERN: &str = "draft:*";

/// Matches every draft session's key.
pub const SESSION_PATTERN: &str = "draft:session:*";

/// One draft session: a string, its record (layout in `record.rs`).
pub fn draft_key(user_id: Uuid, id: Uuid) -> String {
    format!("draft:session:{{{user_id}}}:{id}")
}

/// Matches every draft session of one user.
pub fn user_sessions_pattern(user_id: Uuid) -> String {
    format!("draft:session:{{{user_id}}}:*")
}

/// One draft's live events: a pub/sub channel (sharded on a cluster) in the
/// slot of the draft's key, published to by the scripts that change the draft.
pub fn events_channel(user_id: Uuid, id: Uuid) -> String {
    format!("draft:events:{{{user_id}}}:{id}")
}

/// A draft its owner discarded: a tombstone (the organization's id) for the
/// draft TTL, so that the owner is answered "discarded" rather than "not
/// found".
pub fn discarded_key(user_id: Uuid, id: Uuid) -> String {
    format!("draft:discarded:{{{user_id}}}:{id}")
}

/// Matches every tombstone of a discarded draft.
pub const DISCARDED_PATTERN: &str = "draft:discarded:*";

/// Matches every tombstone of one user's discarded drafts.
pub fn user_discarded_pattern(user_id: Uuid) -> String {
    format!("draft:discarded:{{{user_id}}}:*")
}

/// A create's `Idempotency-Key` of one user in one organization: a string,
/// the id of the draft it opened, for the draft TTL, so that a create sent
/// again (a page replaying a create cut off at close) gets the same draft.
pub fn idempotency_key(user_id: Uuid, organization_id: Uuid, key: &str) -> String {
    format!("draft:idem:{{{user_id}}}:{organization_id}:{key}")
}

/// Matches every idempotency key of one user.
pub fn user_idempotency_pattern(user_id: Uuid) -> String {
    format!("draft:idem:{{{user_id}}}:*")
}

/// Matches every idempotency key in one organization (and any whose client
/// key holds `:<organization>:`, which only loses its deduplication).
pub fn organization_idempotency_pattern(organization_id: Uuid) -> String {
    format!("draft:idem:*:{organization_id}:*")
}

/// The user's live drafts: a sorted set of draft ids scored by expiry.
pub fn index_key(user_id: Uuid) -> String {
    format!("draft:index:{{{user_id}}}")
}

/// The user's autosave counter of the current rate window.
pub fn rate_key(user_id: Uuid) -> String {
    format!("draft:rate:{{{user_id}}}")
}

/// The user's write counter (creates, submits, uploads, deletes) of the
/// current rate window.
pub fn write_rate_key(user_id: Uuid) -> String {
    format!("draft:wrate:{{{user_id}}}")
}

/// (owner, draft) from a [`draft_key`].
pub fn parse_draft_key(key: &str) -> Option<(Uuid, Uuid)> {
    let rest = key.strip_prefix("draft:session:{")?;
    let (user, id) = rest.split_once("}:")?;
    Some((user.parse().ok()?, id.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_key_reads_back() {
        let (user, id) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(parse_draft_key(&draft_key(user, id)), Some((user, id)));
        assert_eq!(parse_draft_key(&index_key(user)), None);
    }
}
