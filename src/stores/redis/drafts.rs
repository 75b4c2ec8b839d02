//! Draft sessions in Redis.
//!
//! One string per draft, its record (layout in `record.rs`), and one
//! sorted set per user (draft ids scored by expiry) for listing and the
//! per-user cap, at the keys of [`super::keys`]. Each write is one Lua script,
//! hence one atomic round trip.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::{self, Script, ScriptInvocation, Value};

use super::breaker::{millis, Breaker};
use super::keys::{discarded_key, draft_key, events_channel, idempotency_key, index_key, rate_key};
use super::record::{decode, read_records};
use super::reply;
use super::scripts::{invoke, Scripts};
use super::{RedisConn, RedisPool, RedisSettings};
use crate::domain::draft::{
    CreateOutcome, FreezeOutcome, PatchOutcome, Return, SUBMITTED_SESSION_TTL,
};
use crate::domain::ids::{CourseId, DraftId, OrgId, UserId};
use crate::domain::{
    Draft, DraftBackend, DraftLimits, DraftStore, FormPatch, Idempotency, Owner, Precondition,
    StoreError,
};

mod upkeep;

#[derive(Clone)]
pub struct RedisDrafts {
    pub(super) pool: RedisPool,
    pub(super) timeout: Duration,
    pub(super) scripts: Arc<Scripts>,
    breaker: Arc<Breaker>,
}

impl RedisDrafts {
    pub fn connect(settings: &RedisSettings<'_>) -> anyhow::Result<Self> {
        let pool = RedisPool::connect(settings)?;
        let scripts = Scripts::load(matches!(pool, RedisPool::Cluster(_)));
        Ok(Self {
            pool,
            timeout: settings.timeout,
            scripts: Arc::new(scripts),
            breaker: Arc::new(Breaker::new(settings.timeout)),
        })
    }

    pub(super) async fn conn(&self) -> Result<RedisConn, StoreError> {
        self.pool.get().await
    }

    /// Runs a prepared script on a pooled connection, under the breaker; its
    /// reply is for [`reply`] to decode.
    pub(super) async fn run(&self, invocation: &ScriptInvocation<'_>) -> Result<Value, StoreError> {
        self.breaker
            .call(async { invoke(invocation, &mut self.conn().await?).await })
            .await
    }

    /// A script on the user's draft and index, its first arguments the draft
    /// id and the organization it must belong to ('' for any).
    fn on_draft<'a>(
        script: &'a Script,
        user_id: UserId,
        organization: Option<OrgId>,
        id: DraftId,
    ) -> ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(draft_key(user_id, id))
            .key(index_key(user_id))
            .arg(id.to_string())
            .arg(organization.map_or_else(String::new, |org| org.to_string()));
        invocation
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
    const KIND: DraftStore = DraftStore::Redis;

    async fn create(
        &self,
        owner: Owner,
        id: DraftId,
        form: &FormPatch,
        limits: DraftLimits,
        idempotency: Option<&Idempotency>,
    ) -> Result<CreateOutcome, StoreError> {
        let mut invocation = Self::on_draft(
            &self.scripts.create,
            owner.user_id,
            Some(owner.organization_id),
            id,
        );
        invocation.arg(millis(limits.ttl)).arg(limits.max_per_user);
        match idempotency {
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
        for (field, value) in form.assignments() {
            invocation.arg(*field).arg(value);
        }
        reply::created(id, self.run(&invocation).await?)
    }

    async fn get(&self, owner: Owner, id: DraftId) -> Result<Option<Draft>, StoreError> {
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

    async fn list(&self, owner: Owner) -> Result<Vec<Draft>, StoreError> {
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

    async fn patch(
        &self,
        owner: Owner,
        id: DraftId,
        patch: &FormPatch,
        precondition: &Precondition,
        limits: DraftLimits,
        answer: Return,
    ) -> Result<PatchOutcome, StoreError> {
        // patch.lua's ARGV[4]: '' for any version, else the accepted ones
        // wrapped in commas (",3,5,"; ",," accepts none).
        let expected = match precondition {
            Precondition::None => String::new(),
            Precondition::AnyOf(versions) => versions
                .iter()
                .fold(",".to_owned(), |list, version| format!("{list}{version},")),
        };
        let mut invocation = Self::on_draft(
            &self.scripts.patch,
            owner.user_id,
            Some(owner.organization_id),
            id,
        );
        invocation
            .key(rate_key(owner.user_id))
            .key(events_channel(owner.user_id, id))
            .arg(millis(limits.ttl))
            .arg(expected)
            .arg(limits.autosaves_per_window)
            .arg(millis(limits.rate_window))
            .arg(patch.to_json())
            .arg(match answer {
                Return::Minimal => "minimal",
                Return::Representation => "draft",
            })
            .arg(patch.assignments().len());
        for (field, value) in patch.assignments() {
            invocation.arg(*field).arg(value);
        }
        for field in patch.removals() {
            invocation.arg(*field);
        }
        reply::patched(id, self.run(&invocation).await?)
    }

    /// Marks the draft submitted if it is still at `version`.
    async fn freeze(
        &self,
        owner: Owner,
        id: DraftId,
        version: u64,
    ) -> Result<FreezeOutcome, StoreError> {
        let mut invocation = Self::on_draft(
            &self.scripts.freeze,
            owner.user_id,
            Some(owner.organization_id),
            id,
        );
        invocation.arg(version);
        reply::frozen(self.run(&invocation).await?)
    }
    async fn thaw(&self, owner: Owner, id: DraftId, version: u64) -> Result<(), StoreError> {
        let mut invocation = Self::on_draft(
            &self.scripts.thaw,
            owner.user_id,
            Some(owner.organization_id),
            id,
        );
        invocation.arg(version);
        reply::found("thaw", self.run(&invocation).await?).map(|_| ())
    }

    /// Records the draft's course; an open draft becomes materialized. A draft
    /// that expired meanwhile is left alone.
    async fn attach_course(
        &self,
        owner: Owner,
        id: DraftId,
        course_id: CourseId,
        slug: &str,
    ) -> Result<(), StoreError> {
        let mut invocation = Self::on_draft(
            &self.scripts.attach_course,
            owner.user_id,
            Some(owner.organization_id),
            id,
        );
        invocation
            .key(events_channel(owner.user_id, id))
            .arg(course_id.to_string())
            .arg(slug)
            .arg(millis(SUBMITTED_SESSION_TTL));
        reply::found("attach_course", self.run(&invocation).await?).map(|_| ())
    }

    async fn remove(
        &self,
        owner: Owner,
        id: DraftId,
        course_deleted: bool,
        limits: DraftLimits,
    ) -> Result<bool, StoreError> {
        let mut invocation = Self::on_draft(
            &self.scripts.delete,
            owner.user_id,
            Some(owner.organization_id),
            id,
        );
        invocation
            .key(events_channel(owner.user_id, id))
            .key(discarded_key(owner.user_id, id))
            .arg(millis(limits.ttl))
            .arg(if course_deleted { "1" } else { "0" });
        reply::found("delete", self.run(&invocation).await?)
    }

    async fn discarded(&self, owner: Owner, id: DraftId) -> Result<bool, StoreError> {
        self.breaker
            .call(async {
                let mut conn = self.conn().await?;
                let organization: Option<String> = redis::cmd("GET")
                    .arg(discarded_key(owner.user_id, id))
                    .query_async(&mut conn)
                    .await?;
                // The same user in another organization is someone else.
                Ok::<_, StoreError>(
                    organization.is_some_and(|org| org == owner.organization_id.to_string()),
                )
            })
            .await
    }
}
