//! A draft's event stream: its changes pushed to the form's other tabs and
//! devices as they happen (the scripts that change a draft publish them; see
//! [`crate::stores::redis::live`]). Streams are bounded per user and in all,
//! and all of them end at once when the service stops.
//!
//! A stream is a read: it changes nothing and keeps no draft alive.

use std::sync::Arc;

use tokio::sync::watch;

use super::limits::{Slot, Slots};
use super::{AppError, DraftSessions};
use crate::domain::ids::DraftId;
use crate::domain::live::{Hello, LiveEvent};
use crate::domain::{DraftStatus, DraftStore, Owner};
use crate::stores::redis::{LiveHub, Subscription};

#[derive(Clone)]
pub struct DraftEvents {
    drafts: DraftSessions,
    hub: LiveHub,
    slots: Slots,
    stop: watch::Sender<bool>,
}

/// One open stream: where the draft was when it opened, then its events.
/// Holds its slot until dropped (the client gone included).
pub struct EventStream {
    pub hello: Hello,
    /// `None`: no event will come (a draft kept in Postgres publishes none).
    live: Option<Subscription>,
    /// The draft can change no more: the stream ends after its hello.
    finished: bool,
    stop: watch::Receiver<bool>,
    _slot: Slot,
}

impl DraftEvents {
    pub fn new(drafts: DraftSessions, hub: LiveHub, slots: Slots) -> Self {
        Self {
            drafts,
            hub,
            slots,
            stop: watch::Sender::new(false),
        }
    }

    /// Opens a stream of the caller's draft: subscribes first, then reads the
    /// draft, so that no change falls between its hello and its first event.
    /// 404 as for a read of the draft; 429 past the caps; 503 while Redis
    /// cannot be subscribed to.
    pub async fn open(&self, owner: Owner, draft_id: DraftId) -> Result<EventStream, AppError> {
        let slot = self.slots.take(owner)?;
        let subscription = self.hub.subscribe(owner.user_id, draft_id).await?;
        let draft = self.drafts.get(owner, draft_id).await?;
        Ok(EventStream {
            hello: Hello {
                version: draft.version,
                status: draft.status,
            },
            live: (draft.store == DraftStore::Redis).then_some(subscription),
            finished: draft.status == DraftStatus::Submitted,
            stop: self.stop.subscribe(),
            _slot: slot,
        })
    }

    /// Ends every stream, now and from now on: the service is stopping, and
    /// its graceful shutdown must not wait for streams that never end.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Streams open now, in all.
    pub fn open_streams(&self) -> usize {
        self.slots.in_use()
    }
}

impl EventStream {
    /// The next event of the draft; `None` once the stream must end: the
    /// draft was submitted or discarded, the service is stopping, the live
    /// connection broke or the stream fell behind (the client then reconnects
    /// and compares versions).
    pub async fn next(&mut self) -> Option<Arc<LiveEvent>> {
        if self.finished {
            return None;
        }
        let event = tokio::select! {
            biased;
            _ = self.stop.wait_for(|stopping| *stopping) => None,
            event = next_of(self.live.as_mut()) => event,
        };
        self.finished = event.as_ref().is_none_or(|event| event.kind.is_last());
        event
    }
}

/// A subscription's next event; never, without one.
async fn next_of(live: Option<&mut Subscription>) -> Option<Arc<LiveEvent>> {
    match live {
        Some(subscription) => subscription.next().await,
        None => std::future::pending().await,
    }
}
