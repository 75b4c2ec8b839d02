//! Keeping a draft alive without writing it: a resumable upload's PATCH
//! refreshes its draft's TTL as an autosave would, version unchanged.

use std::time::Duration;

use crate::domain::ids::DraftId;

use super::keys::{draft_key, index_key};
use super::reply;
use super::RedisDrafts;
use crate::domain::{Owner, StoreError};

impl RedisDrafts {
    /// Moves the owner's draft's expiry `ttl` from now. `false` if it is
    /// gone (or submitted).
    pub async fn touch(
        &self,
        owner: Owner,
        id: DraftId,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.scripts.touch.prepare_invoke();
        invocation
            .key(draft_key(owner.user_id, id))
            .key(index_key(owner.user_id))
            .arg(id.to_string())
            .arg(owner.organization_id.to_string())
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        reply::found("touch", self.run(&invocation).await?)
    }
}
