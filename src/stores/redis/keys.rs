//! The Redis key schema, in one place for the service, its tests and its
//! benchmarks.
//!
//! The braces are literal: in a Redis Cluster they make the user id the hash
//! tag, so all of a user's keys share one slot and every script touches one
//! slot only.

use crate::domain::ids::{DraftId, OrgId, UserId};
use crate::domain::UserDraft;

/// Matches every key draftd writes.
pub const ALL_PATTERN: &str = "draft:*";

/// Matches every draft session's key.
pub const SESSION_PATTERN: &str = "draft:session:*";

/// One draft session: a string, its record (layout in `record.rs`).
pub fn draft_key(user: UserId, id: DraftId) -> String {
    format!("draft:session:{{{user}}}:{id}")
}

/// Matches every draft session of one user.
pub fn user_sessions_pattern(user: UserId) -> String {
    format!("draft:session:{{{user}}}:*")
}

/// One draft's live events: a pub/sub channel (sharded on a cluster) in the
/// slot of the draft's key, published to by the scripts that change the draft.
pub fn events_channel(user: UserId, id: DraftId) -> String {
    format!("draft:events:{{{user}}}:{id}")
}

/// A draft its owner discarded: a tombstone (the organization's id) for the
/// draft TTL, so that the owner is answered "discarded" rather than "not
/// found".
pub fn discarded_key(user: UserId, id: DraftId) -> String {
    format!("draft:discarded:{{{user}}}:{id}")
}

/// Matches every tombstone of a discarded draft.
pub const DISCARDED_PATTERN: &str = "draft:discarded:*";

/// Matches every tombstone of one user's discarded drafts.
pub fn user_discarded_pattern(user: UserId) -> String {
    format!("draft:discarded:{{{user}}}:*")
}

/// A create's `Idempotency-Key` of one user in one organization: a string,
/// the id of the draft it opened, for the draft TTL, so that a create sent
/// again (a page replaying a create cut off at close) gets the same draft.
pub fn idempotency_key(user: UserId, organization: OrgId, key: &str) -> String {
    format!("draft:idem:{{{user}}}:{organization}:{key}")
}

/// Matches every idempotency key of one user.
pub fn user_idempotency_pattern(user: UserId) -> String {
    format!("draft:idem:{{{user}}}:*")
}

/// Matches every idempotency key in one organization (and any whose client
/// key holds `:<organization>:`, which only loses its deduplication).
pub fn organization_idempotency_pattern(organization: OrgId) -> String {
    format!("draft:idem:*:{organization}:*")
}

/// The user's live drafts: a sorted set of draft ids scored by expiry.
pub fn index_key(user: UserId) -> String {
    format!("draft:index:{{{user}}}")
}

/// The user's autosave counter of the current rate window.
pub fn rate_key(user: UserId) -> String {
    format!("draft:rate:{{{user}}}")
}

/// The user's write counter (creates, submits, uploads, deletes) of the
/// current rate window.
pub fn write_rate_key(user: UserId) -> String {
    format!("draft:wrate:{{{user}}}")
}

/// The user and draft a [`draft_key`] names.
pub fn parse_draft_key(key: &str) -> Option<UserDraft> {
    let rest = key.strip_prefix("draft:session:{")?;
    let (user, id) = rest.split_once("}:")?;
    Some(UserDraft {
        user: user.parse().ok()?,
        draft: id.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_draft_key_reads_back() {
        let (user, id) = (UserId::from(Uuid::new_v4()), DraftId::new());
        assert_eq!(
            parse_draft_key(&draft_key(user, id)),
            Some(UserDraft { user, draft: id })
        );
        assert_eq!(parse_draft_key(&index_key(user)), None);
    }
}
