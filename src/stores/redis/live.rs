//! Live events of drafts, received: one dedicated RESP3 connection per
//! process (not the pool: a subscribed connection receives pushes), opened
//! on the first stream. A channel is subscribed when its first stream opens
//! and unsubscribed after its last; each message is parsed once and handed
//! to the channel's streams through a small broadcast channel.
//!
//! When the connection breaks, every stream ends (its client reconnects and
//! reads the draft again, so nothing is missed) and the next stream opens a
//! new connection. On a cluster the channels are sharded (SSUBSCRIBE), in
//! the user's hash slot, as the scripts publish them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::cluster::ClusterClientBuilder;
use deadpool_redis::redis::cluster_async::ClusterConnection;
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, ConnectionInfo, ProtocolVersion, PushInfo, PushKind, RedisResult,
};
use tokio::runtime::Handle;
use tokio::sync::broadcast::error::RecvError;

use super::keys::events_channel;
use super::RedisSettings;
use crate::domain::ids::{DraftId, UserId};
use crate::domain::live::LiveEvent;
use crate::domain::{Backend, StoreError};
use crate::stores::bounded;

mod channels;

use channels::{Channels, ConnectionId, Receiver};

/// Where the subscriber connects: one node, or a cluster's nodes.
enum Target {
    Node(Box<ConnectionInfo>),
    Cluster(Vec<String>),
}

enum Subscriber {
    Node(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Subscriber {
    async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Self::Node(conn) => conn.subscribe(channel).await,
            Self::Cluster(conn) => conn.ssubscribe(channel).await,
        }
    }

    async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Self::Node(conn) => conn.unsubscribe(channel).await,
            Self::Cluster(conn) => conn.sunsubscribe(channel).await,
        }
    }
}

/// The process's subscriptions to draft channels. Cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    timeout: Duration,
    /// The process's runtime: the connection's task and the unsubscribes run
    /// there, not on an HTTP worker's, which may stop first.
    runtime: Handle,
    next_id: AtomicU64,
    /// The connection; held across a (un)subscribe, so that they reach Redis
    /// in the order the bookkeeping decided them.
    connection: tokio::sync::Mutex<Option<(ConnectionId, Subscriber)>>,
    channels: Mutex<Channels>,
}

/// One stream's subscription to its draft's channel; unsubscribes the
/// channel when the last one is dropped.
pub struct Subscription {
    hub: Arc<Inner>,
    channel: String,
    connection: ConnectionId,
    receiver: Receiver,
}

impl LiveHub {
    /// Connects nothing yet: the connection opens with the first stream.
    pub fn new(settings: &RedisSettings<'_>, runtime: Handle) -> anyhow::Result<Self> {
        let urls = super::node_urls(settings.url);
        let target = if settings.cluster || urls.len() > 1 {
            Target::Cluster(urls)
        } else {
            let info = super::node_info(settings)?;
            let resp3 = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            Target::Node(Box::new(info.set_redis_settings(resp3)))
        };
        Ok(Self {
            inner: Arc::new(Inner {
                target,
                timeout: settings.timeout,
                runtime,
                next_id: AtomicU64::new(1),
                connection: tokio::sync::Mutex::new(None),
                channels: Mutex::default(),
            }),
        })
    }

    /// Subscribes a stream to the draft's channel (the first of the
    /// channel's streams subscribes it in Redis).
    pub async fn subscribe(
        &self,
        user_id: UserId,
        draft_id: DraftId,
    ) -> Result<Subscription, StoreError> {
        let channel = events_channel(user_id, draft_id);
        let joined = self.inner.channels().join(&channel);
        let (connection, receiver) = match joined {
            Some(joined) => joined,
            None => {
                let subscribing = self.inner.clone().subscribe(&channel);
                bounded(Backend::Redis, self.inner.timeout, subscribing).await?
            }
        };
        Ok(Subscription {
            hub: self.inner.clone(),
            channel,
            connection,
            receiver,
        })
    }
}

impl Inner {
    fn channels(&self) -> std::sync::MutexGuard<'_, Channels> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn subscribe(
        self: Arc<Self>,
        channel: &str,
    ) -> Result<(ConnectionId, Receiver), StoreError> {
        let mut connection = self.connection.lock().await;
        // Another stream may have subscribed it while this one waited.
        if let Some(joined) = self.channels().join(channel) {
            return Ok(joined);
        }
        let current = self.channels().connection();
        if !matches!(connection.as_ref(), Some((id, _)) if *id == current) {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let opened = self.runtime.spawn(self.clone().connect(id));
            let subscriber = opened
                .await
                .map_err(|e| StoreError::failed(Backend::Redis, e))??;
            self.channels().connected(id);
            tracing::info!(connection = id, "live events: subscriber connected");
            *connection = Some((id, subscriber));
        }
        let Some((id, subscriber)) = connection.as_mut() else {
            return Err(StoreError::failed(Backend::Redis, ConnectionLost));
        };
        let id = *id;
        if let Err(e) = subscriber.subscribe(channel).await {
            self.channels().disconnected(id);
            return Err(e.into());
        }
        self.channels()
            .subscribed(id, channel)
            .ok_or_else(|| StoreError::failed(Backend::Redis, ConnectionLost))
    }

    async fn connect(self: Arc<Self>, id: ConnectionId) -> Result<Subscriber, StoreError> {
        let hub = Arc::downgrade(&self);
        let pushes = move |push: PushInfo| -> Result<(), ()> {
            on_push(&hub, id, push);
            Ok(())
        };
        Ok(match &self.target {
            Target::Node(info) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_push_sender(pushes);
                let client = redis::Client::open(info.as_ref().clone())?;
                Subscriber::Node(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?,
                )
            }
            Target::Cluster(urls) => {
                let client = ClusterClientBuilder::new(urls.clone())
                    .use_protocol(ProtocolVersion::RESP3)
                    .connection_timeout(self.timeout)
                    .response_timeout(self.timeout)
                    .push_sender(pushes)
                    .build()?;
                Subscriber::Cluster(client.get_async_connection().await?)
            }
        })
    }

    /// Unsubscribes a channel whose last stream left, unless a stream joined
    /// it again meanwhile or its connection is gone.
    async fn unsubscribe(self: Arc<Self>, connection_id: ConnectionId, channel: String) {
        let mut connection = self.connection.lock().await;
        if self.channels().is_listened(connection_id, &channel) {
            return;
        }
        let Some((id, subscriber)) = connection.as_mut() else {
            return;
        };
        if *id != connection_id {
            return;
        }
        let unsubscribed = bounded(
            Backend::Redis,
            self.timeout,
            subscriber.unsubscribe(&channel),
        );
        if let Err(e) = unsubscribed.await {
            tracing::warn!(error = %e, "live events: unsubscribe failed; reconnecting");
            self.channels().disconnected(connection_id);
        }
    }
}

/// What the connection pushes: messages go to their channel's streams; a
/// disconnection ends every stream.
fn on_push(hub: &Weak<Inner>, connection: ConnectionId, push: PushInfo) {
    let Some(hub) = hub.upgrade() else {
        return;
    };
    match push.kind {
        PushKind::Message | PushKind::SMessage => {
            let mut data = push.data.into_iter();
            let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
                return;
            };
            let (Ok(channel), Ok(payload)) = (
                redis::from_redis_value::<String>(channel),
                redis::from_redis_value::<String>(payload),
            ) else {
                return;
            };
            match LiveEvent::parse(payload) {
                Ok(event) => hub
                    .channels()
                    .dispatch(connection, &channel, Arc::new(event)),
                Err(e) => tracing::warn!(error = %e, "live events: a message is not an event"),
            }
        }
        PushKind::Disconnection => lost(&hub, connection),
        _ => {}
    }
}

fn lost(hub: &Inner, connection: ConnectionId) {
    if hub.channels().disconnected(connection) {
        metrics::counter!("draftd_live_disconnections_total").increment(1);
        tracing::warn!(connection, "live events: subscriber connection lost");
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the live events connection was lost")]
struct ConnectionLost;

impl Subscription {
    /// The next event of the draft; `None` once the stream must end: the
    /// connection broke, or the stream fell too far behind.
    pub async fn next(&mut self) -> Option<Arc<LiveEvent>> {
        match self.receiver.recv().await {
            Ok(event) => Some(event),
            Err(RecvError::Closed) => None,
            Err(RecvError::Lagged(missed)) => {
                tracing::info!(missed, "live events: a stream fell behind; closing it");
                None
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.hub.channels().leave(self.connection, &self.channel) {
            let channel = std::mem::take(&mut self.channel);
            let unsubscribe = self.hub.clone().unsubscribe(self.connection, channel);
            // With the runtime gone (the process is ending) it never runs,
            // and there is nothing to undo.
            drop(self.hub.runtime.spawn(unsubscribe));
        }
    }
}
