//! An organization's or a user's draft sessions, found by SCAN a page at a
//! time (never the whole keyspace in memory): counted for an erase's figures,
//! and removed by it. A user's sessions share the user's hash tag, so a
//! pattern finds them; an organization's are told by their record's `org`.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::Cmd;

use super::keys::{
    draft_key, index_key, organization_idempotency_pattern, parse_draft_key, rate_key,
    user_discarded_pattern, user_idempotency_pattern, user_sessions_pattern, write_rate_key,
    DISCARDED_PATTERN, SESSION_PATTERN,
};
use super::record::{organization_of, read_records};
use super::scripts::{Entry, Scripts};
use super::{KeyScan, RedisConn, RedisDrafts};
use crate::domain::erase::{EraseScope, EraseSubject};
use crate::domain::{Backend, StoreError, UserDraft};
use crate::stores::bounded;

impl RedisDrafts {
    /// A scan of the subject's draft sessions, a page at a time.
    pub async fn scan_subject(&self, subject: EraseSubject) -> Result<SubjectScan, StoreError> {
        let deadline = self.timeout * 10;
        let mut conn = bounded(Backend::Redis, deadline, self.pool.get()).await?;
        let scan = bounded(Backend::Redis, deadline, conn.scan(&pattern(subject))).await?;
        Ok(SubjectScan {
            conn,
            scan,
            subject,
            deadline,
            scripts: self.scripts.clone(),
        })
    }

    /// Removes the tombstones of the subject's discarded drafts (ids only,
    /// but the subject's keys all the same). A user's share the user's hash
    /// tag; an organization's hold its id.
    pub async fn remove_discarded(&self, subject: EraseSubject) -> Result<u64, StoreError> {
        let deadline = self.timeout * 10;
        let mut conn = bounded(Backend::Redis, deadline, self.pool.get()).await?;
        let pattern = match subject.scope {
            EraseScope::Organization => DISCARDED_PATTERN.to_owned(),
            EraseScope::User => user_discarded_pattern(subject.user_id()),
        };
        let mut scan = bounded(Backend::Redis, deadline, conn.scan(&pattern)).await?;
        let mut removed = 0;
        while let Some(keys) = bounded(Backend::Redis, deadline, conn.scan_page(&mut scan)).await? {
            let mut doomed = keys;
            if subject.scope == EraseScope::Organization {
                let organization = subject.id.to_string();
                let owners: Vec<Option<String>> = bounded(
                    Backend::Redis,
                    deadline,
                    conn.each(doomed.iter().map(Cmd::get).collect()),
                )
                .await?;
                doomed = doomed
                    .into_iter()
                    .zip(owners)
                    .filter(|(_, owner)| owner.as_deref() == Some(organization.as_str()))
                    .map(|(key, _)| key)
                    .collect();
            }
            let unlinked: Vec<u64> = bounded(
                Backend::Redis,
                deadline,
                conn.each(doomed.iter().map(Cmd::unlink).collect()),
            )
            .await?;
            removed += unlinked.iter().sum::<u64>();
        }
        Ok(removed)
    }

    /// Removes the subject's creates' idempotency keys (draft ids, but the
    /// subject's keys all the same). A user's share the user's hash tag; an
    /// organization's hold its id in their name.
    pub async fn remove_idempotency_keys(&self, subject: EraseSubject) -> Result<u64, StoreError> {
        let deadline = self.timeout * 10;
        let mut conn = bounded(Backend::Redis, deadline, self.pool.get()).await?;
        let pattern = match subject.scope {
            EraseScope::Organization => organization_idempotency_pattern(subject.organization_id()),
            EraseScope::User => user_idempotency_pattern(subject.user_id()),
        };
        let mut scan = bounded(Backend::Redis, deadline, conn.scan(&pattern)).await?;
        let mut removed = 0;
        while let Some(keys) = bounded(Backend::Redis, deadline, conn.scan_page(&mut scan)).await? {
            let unlinked: Vec<u64> = bounded(
                Backend::Redis,
                deadline,
                conn.each(keys.iter().map(Cmd::unlink).collect()),
            )
            .await?;
            removed += unlinked.iter().sum::<u64>();
        }
        Ok(removed)
    }

    /// How many draft sessions the subject has.
    pub async fn count_drafts_of(&self, subject: EraseSubject) -> Result<u64, StoreError> {
        let mut scan = self.scan_subject(subject).await?;
        let mut count = 0;
        while let Some(drafts) = scan.next_page().await? {
            count += drafts.len() as u64;
        }
        Ok(count)
    }
}

/// Where a scan of one subject's draft sessions is. Each step has a
/// deadline of its own: a large keyspace takes many steps, each as quick as
/// any call.
pub struct SubjectScan {
    conn: RedisConn,
    scan: KeyScan,
    subject: EraseSubject,
    deadline: Duration,
    scripts: Arc<Scripts>,
}

impl SubjectScan {
    /// The subject's drafts in the next page (maybe none); `None` once the
    /// scan is done.
    pub async fn next_page(&mut self) -> Result<Option<Vec<UserDraft>>, StoreError> {
        let page = subject_page(
            &mut self.conn,
            &mut self.scan,
            self.subject,
            &self.scripts.read,
        );
        bounded(Backend::Redis, self.deadline, page).await
    }

    /// Removes these drafts, each with its entry in its owner's index; how
    /// many there were.
    pub async fn remove(&mut self, drafts: &[UserDraft]) -> Result<u64, StoreError> {
        let commands = drafts
            .iter()
            .flat_map(|d| {
                [
                    Cmd::zrem(index_key(d.user), d.draft.to_string()),
                    Cmd::unlink(draft_key(d.user, d.draft)),
                ]
            })
            .collect();
        let replies: Vec<u64> =
            bounded(Backend::Redis, self.deadline, self.conn.each(commands)).await?;
        Ok(replies.iter().skip(1).step_by(2).sum())
    }

    /// A user's erase also takes the user's index of drafts and rate
    /// counters (an organization's leaves them: they are the user's).
    pub async fn remove_user_keys(&mut self) -> Result<(), StoreError> {
        if self.subject.scope != EraseScope::User {
            return Ok(());
        }
        let user = self.subject.user_id();
        let keys = Cmd::unlink(&[index_key(user), rate_key(user), write_rate_key(user)]);
        bounded(
            Backend::Redis,
            self.deadline,
            self.conn.each::<u64>(vec![keys]),
        )
        .await?;
        Ok(())
    }
}

fn pattern(subject: EraseSubject) -> String {
    match subject.scope {
        EraseScope::Organization => SESSION_PATTERN.to_owned(),
        EraseScope::User => user_sessions_pattern(subject.user_id()),
    }
}

/// The subject's drafts in the scan's next page; `None`
/// once the scan is done.
async fn subject_page(
    conn: &mut RedisConn,
    scan: &mut KeyScan,
    subject: EraseSubject,
    read: &Entry,
) -> Result<Option<Vec<UserDraft>>, StoreError> {
    let Some(keys) = conn.scan_page(scan).await? else {
        return Ok(None);
    };
    let drafts: Vec<UserDraft> = keys.iter().filter_map(|key| parse_draft_key(key)).collect();
    if subject.scope == EraseScope::User {
        return Ok(Some(
            drafts
                .into_iter()
                .filter(|d| d.user == subject.user_id())
                .collect(),
        ));
    }
    let keys: Vec<String> = drafts.iter().map(|d| draft_key(d.user, d.draft)).collect();
    let records = read_records(conn, &keys, read).await?;
    // A draft that expired since the SCAN is nobody's.
    Ok(Some(
        drafts
            .into_iter()
            .zip(records)
            .filter(|(d, record)| {
                record.as_deref().and_then(|r| organization_of(d.draft, r))
                    == Some(subject.organization_id())
            })
            .map(|(draft, _)| draft)
            .collect(),
    ))
}
