//! Draft sessions in Redis.
//!
//! One string per draft, its record (layout in `record.rs`), and one
//! sorted set per user (draft ids scored by expiry) for listing and the
//! per-user cap, at the keys of [`super::keys`]. Each write is one Lua script,
//! hence one atomic round trip.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::{self, Value};

use super::breaker::{millis, Breaker};
use super::keys::{discarded_key, draft_key, events_channel, idempotency_key, index_key, rate_key};
use super::record::{decode, read_records};
use super::reply;
use super::scripts::{invoke, Entry, Invocation, Scripts};
use super::{RedisConn, RedisPool, RedisSettings};
use crate::domain::draft::{Autosave, CreateOutcome, NewDraft, PatchOutcome, Return, StoreResult};
use crate::domain::ids::{DraftId, OrgId, UserId};
use crate::domain::{
    Draft, DraftBackend, DraftLimits, DraftStore, Owner, Precondition, StoreError,
};

mod steps;
mod upkeep;

#[derive(Clone)]
pub struct RedisDrafts {
    pub(super) pool: RedisPool,
    pub(super) timeout: Duration,
    pub(super) scripts: Arc<Scripts>,
    breaker: Arc<Breaker>,
    /// What the drafts written here are held to.
    limits: DraftLimits,
}

impl RedisDrafts {
    pub fn connect(settings: &RedisSettings<'_>, limits: DraftLimits) -> anyhow::Result<Self> {
        let pool = RedisPool::connect(settings)?;
        let scripts = Scripts::load(matches!(pool, RedisPool::Cluster(_)));
        Ok(Self {
            pool,
            timeout: settings.timeout,
            scripts: Arc::new(scripts),
            breaker: Arc::new(Breaker::new(settings.timeout)),
            limits,
        })
    }

    pub(super) async fn conn(&self) -> Result<RedisConn, StoreError> {
        self.pool.get().await
    }

    /// Runs a prepared script on a pooled connection, under the breaker; its
    /// reply is for [`reply`] to decode.
    pub(super) async fn run(&self, invocation: &Invocation<'_>) -> Result<Value, StoreError> {
        self.breaker
            .call(async { invoke(invocation, &mut self.conn().await?).await })
            .await
    }

    /// A script on the user's draft and index, its first arguments the draft
    /// id and the organization it must belong to ('' for any).
    fn on_draft<'a>(
        script: &'a Entry,
        user_id: UserId,
        organization: Option<OrgId>,
        id: DraftId,
    ) -> Invocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(draft_key(user_id, id))
            .key(index_key(user_id))
            .arg(id.to_string())
            .arg(organization.map_or_else(String::new, |org| org.to_string()));
        invocation
    }

    /// A script on the owner's draft `id`, found only in the owner's
    /// organization.
    fn owned<'a>(script: &'a Entry, owner: Owner, id: DraftId) -> Invocation<'a> {
        Self::on_draft(script, owner.user_id, Some(owner.organization_id), id)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.breaker
            .call(async {
                let mut conn = self.conn().await?;
                redis::cmd("PING").query_async::<()>(&mut conn).await?;
                Ok::<_, StoreError>(())
            })
            .await
    }
}

impl DraftBackend for RedisDrafts {
    fn holds(&self, draft: &Draft) -> bool {
        draft.store == DraftStore::Redis
    }

    async fn create(&self, owner: Owner, new: NewDraft<'_>) -> StoreResult<CreateOutcome> {
        let id = DraftId::new();
        let mut invocation = Self::owned(&self.scripts.create, owner, id);
        invocation
            .arg(millis(self.limits.ttl))
            .arg(self.limits.max_per_user);
        match new.idempotency {
            Some(idempotency) => {
                invocation.key(idempotency_key(
                    owner.user_id,
                    owner.organization_id,
                    idempotency.key.as_str(),
                ));
                invocation.arg(
                    idempotency
                        .replaces
                        .map_or_else(String::new, |id| id.to_string()),
                );
            }
            None => {
                invocation.arg("");
            }
        }
        for (field, value) in new.form.assignments() {
            invocation.arg(*field).arg(value);
        }
        reply::created(id, self.run(&invocation).await?)
    }

    async fn get(&self, owner: Owner, id: DraftId) -> StoreResult<Option<Draft>> {
        let records = self
            .breaker
            .call(async {
                let keys = [draft_key(owner.user_id, id)];
                read_records(&mut self.conn().await?, &keys, &self.scripts.read).await
            })
            .await?;
        let Some(record) = records.into_iter().flatten().next() else {
            return Ok(None);
        };
        let draft = decode(id, &record)?;
        Ok((draft.organization_id == owner.organization_id).then_some(draft))
    }

    async fn list(&self, owner: Owner) -> StoreResult<Vec<Draft>> {
        self.breaker
            .call(async {
                let mut conn = self.conn().await?;
                let live_ids = self.scripts.live_ids.key(index_key(owner.user_id));
                let ids = reply::live_ids(invoke(&live_ids, &mut conn).await?)?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let keys: Vec<String> =
                    ids.iter().map(|id| draft_key(owner.user_id, *id)).collect();
                let records = read_records(&mut conn, &keys, &self.scripts.read).await?;
                // A draft can expire between the two steps: skip what is gone.
                ids.into_iter()
                    .zip(records)
                    .filter_map(|(id, record)| Some((id, record?)))
                    .map(|(id, record)| decode(id, &record))
                    .filter(|draft| {
                        draft
                            .as_ref()
                            .map_or(true, |d| d.organization_id == owner.organization_id)
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
    }

    async fn patch(&self, owner: Owner, save: Autosave<'_>) -> StoreResult<PatchOutcome> {
        // patch.lua's ARGV[4]: '' for any version, else the accepted ones
        // wrapped in commas (",3,5,"; ",," accepts none).
        let expected = match save.precondition {
            Precondition::None => String::new(),
            Precondition::AnyOf(versions) => versions
                .iter()
                .fold(",".to_owned(), |list, version| format!("{list}{version},")),
        };
        let (id, patch, limits) = (save.id, save.patch, self.limits);
        let mut invocation = Self::owned(&self.scripts.patch, owner, id);
        invocation
            .key(rate_key(owner.user_id))
            .key(events_channel(owner.user_id, id))
            .arg(millis(limits.ttl))
            .arg(expected)
            .arg(limits.autosaves_per_window)
            .arg(millis(limits.rate_window))
            .arg(patch.to_json())
            .arg(match save.answer {
                Return::Minimal => "minimal",
                Return::Representation => "draft",
            })
            .arg(patch.assignments().len());
        // Each name framed as its record line begins: the script finds and
        // writes it as it comes, making no string of its own.
        for (field, value) in patch.assignments() {
            invocation.arg(framed(field)).arg(value);
        }
        for field in patch.removals() {
            invocation.arg(framed(field));
        }
        reply::patched(id, self.run(&invocation).await?)
    }

    /// Moves the draft's expiry a TTL from now; its version and updatedAt
    /// stay. `false` if it is gone (or submitted).
    async fn touch(&self, owner: Owner, draft: &Draft) -> StoreResult<bool> {
        let mut invocation = Self::owned(&self.scripts.touch, owner, draft.id);
        invocation.arg(millis(self.limits.ttl));
        reply::found("touch", self.run(&invocation).await?)
    }

    async fn remove(&self, owner: Owner, draft: &Draft, course_deleted: bool) -> StoreResult<bool> {
        let (user, id) = (owner.user_id, draft.id);
        let mut invocation = Self::owned(&self.scripts.delete, owner, id);
        invocation
            .key(events_channel(user, id))
            .key(discarded_key(user, id))
            .arg(millis(self.limits.ttl))
            .arg(if course_deleted { "1" } else { "0" });
        reply::found("delete", self.run(&invocation).await?)
    }
}

/// A form field's name as its line in a record begins (`record.rs`).
pub fn framed(field: &str) -> String {
    let mut line = String::with_capacity(field.len() + 2);
    line.push('\n');
    line.push_str(field);
    line.push('=');
    line
}
