//! Two draft stores as one: new drafts open in the primary, and in the
//! degraded store while the primary fails to answer; a draft stays in the
//! store it was opened in, so a lookup asks the primary first, then the
//! degraded store.

use crate::domain::draft::{Autosave, CreateOutcome, NewDraft, PatchOutcome, StoreResult};
use crate::domain::ids::DraftId;
use crate::domain::{Draft, DraftBackend, Owner};

#[derive(Clone)]
pub struct Fallback<Primary, Degraded> {
    primary: Primary,
    degraded: Degraded,
}

impl<Primary, Degraded> Fallback<Primary, Degraded> {
    pub fn new(primary: Primary, degraded: Degraded) -> Self {
        Self { primary, degraded }
    }

    /// The store of every draft while it answers, for the steps only it takes.
    pub fn primary(&self) -> &Primary {
        &self.primary
    }
}

impl<Primary: DraftBackend, Degraded: DraftBackend> DraftBackend for Fallback<Primary, Degraded> {
    fn holds(&self, draft: &Draft) -> bool {
        self.primary.holds(draft) || self.degraded.holds(draft)
    }

    /// Opens the draft in the primary; while it fails to answer, in the
    /// degraded store instead, so the form keeps working. The idempotency
    /// key stays the primary's: the degraded store is not given it.
    async fn create(&self, owner: Owner, new: NewDraft<'_>) -> StoreResult<CreateOutcome> {
        match self.primary.create(owner, new).await {
            Err(e) if e.is_unavailable() => {
                // The words operators look for (docs/operations.md).
                tracing::warn!(error = %e, "Redis failed: the new draft opens in Postgres");
                metrics::counter!("draftd_degraded_drafts_total").increment(1);
                // Under a new id: the primary may yet have stored its own.
                let new = NewDraft {
                    idempotency: None,
                    ..new
                };
                self.degraded.create(owner, new).await
            }
            other => other,
        }
    }

    async fn get(&self, owner: Owner, id: DraftId) -> StoreResult<Option<Draft>> {
        let in_primary = self.primary.get(owner, id).await;
        if let Ok(Some(draft)) = in_primary {
            return Ok(Some(draft));
        }
        match (in_primary, self.degraded.get(owner, id).await) {
            (_, Ok(Some(draft))) => Ok(Some(draft)),
            (Ok(_), Ok(None)) => Ok(None),
            // Unknown whether the primary holds it: its failure is the answer.
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    }

    /// Both stores' drafts, in no order. Both lists are bounded by the
    /// per-user cap.
    async fn list(&self, owner: Owner) -> StoreResult<Vec<Draft>> {
        let (in_primary, in_degraded) =
            tokio::join!(self.primary.list(owner), self.degraded.list(owner));
        let mut drafts = in_primary?;
        drafts.extend(in_degraded?);
        Ok(drafts)
    }

    async fn patch(&self, owner: Owner, save: Autosave<'_>) -> StoreResult<PatchOutcome> {
        // Boxed: the degraded store's future is large and rarely needed, and
        // unboxed it would be moved, whole, with every autosave's future.
        let in_degraded = || Box::pin(self.degraded.patch(owner, save));
        match self.primary.patch(owner, save).await {
            Ok(PatchOutcome::Missing) => in_degraded().await,
            Ok(outcome) => Ok(outcome),
            // Unknown whether the primary holds it, unless the degraded store does.
            Err(e) => match in_degraded().await {
                Ok(PatchOutcome::Missing) | Err(_) => Err(e),
                Ok(outcome) => Ok(outcome),
            },
        }
    }

    async fn touch(&self, owner: Owner, draft: &Draft) -> StoreResult<bool> {
        if self.primary.holds(draft) {
            self.primary.touch(owner, draft).await
        } else {
            self.degraded.touch(owner, draft).await
        }
    }

    async fn remove(&self, owner: Owner, draft: &Draft, course_deleted: bool) -> StoreResult<bool> {
        if self.primary.holds(draft) {
            self.primary.remove(owner, draft, course_deleted).await
        } else {
            self.degraded.remove(owner, draft, course_deleted).await
        }
    }
}
