//! The hub's bookkeeping, apart from any I/O: which channels are subscribed
//! on which connection, how many streams listen to each, and the fan-out of
//! a message to them.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::live::LiveEvent;

/// A connection's number; 0 is none.
pub(super) type ConnectionId = u64;

/// Messages a stream may fall behind by before it is closed (the client
/// then reconnects and reads the draft again) rather than buffered.
const LAG: usize = 16;

#[derive(Default)]
pub(super) struct Channels {
    /// The connection the channels are subscribed on.
    connection: ConnectionId,
    open: HashMap<String, Channel>,
}

struct Channel {
    sender: broadcast::Sender<Arc<LiveEvent>>,
    streams: usize,
}

pub(super) type Receiver = broadcast::Receiver<Arc<LiveEvent>>;

impl Channels {
    pub fn connection(&self) -> ConnectionId {
        self.connection
    }

    /// A connection was opened: it is now the one channels are subscribed on.
    pub fn connected(&mut self, connection: ConnectionId) {
        self.connection = connection;
        self.open.clear();
    }

    /// One more stream on a channel subscribed already; `None` if it is not.
    pub fn join(&mut self, channel: &str) -> Option<(ConnectionId, Receiver)> {
        let open = self.open.get_mut(channel)?;
        open.streams += 1;
        Some((self.connection, open.sender.subscribe()))
    }

    /// The first stream on a channel just subscribed on `connection`; `None`
    /// if that connection is no longer the current one.
    pub fn subscribed(
        &mut self,
        connection: ConnectionId,
        channel: &str,
    ) -> Option<(ConnectionId, Receiver)> {
        if connection != self.connection || connection == 0 {
            return None;
        }
        if let Some(joined) = self.join(channel) {
            return Some(joined);
        }
        let (sender, receiver) = broadcast::channel(LAG);
        self.open
            .insert(channel.to_owned(), Channel { sender, streams: 1 });
        Some((connection, receiver))
    }

    /// A stream of the channel, joined on `connection`, ended. `true` if it
    /// was the channel's last: the channel is to be unsubscribed.
    pub fn leave(&mut self, connection: ConnectionId, channel: &str) -> bool {
        if connection != self.connection {
            return false; // that connection is gone, and its channels with it
        }
        let Some(open) = self.open.get_mut(channel) else {
            return false;
        };
        open.streams = open.streams.saturating_sub(1);
        if open.streams > 0 {
            return false;
        }
        self.open.remove(channel);
        true
    }

    /// Whether the channel has streams on `connection` (an unsubscribe
    /// planned when its last stream left is then not to be sent).
    pub fn is_listened(&self, connection: ConnectionId, channel: &str) -> bool {
        connection != self.connection || self.open.contains_key(channel)
    }

    /// Hands a message of `connection` to the channel's streams.
    pub fn dispatch(&self, connection: ConnectionId, channel: &str, event: Arc<LiveEvent>) {
        if connection != self.connection {
            return;
        }
        if let Some(open) = self.open.get(channel) {
            // No receiver left means the last stream is leaving right now.
            let _ = open.sender.send(event);
        }
    }

    /// `connection` broke: if it is the current one, every stream ends (their
    /// senders go) and the next stream opens a new connection.
    pub fn disconnected(&mut self, connection: ConnectionId) -> bool {
        if connection != self.connection {
            return false;
        }
        self.connection = 0;
        self.open.clear();
        true
    }

    /// Channels subscribed now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::live::LiveKind;
    use tokio::sync::broadcast::error::TryRecvError;

    fn event(version: u64) -> Arc<LiveEvent> {
        Arc::new(LiveEvent {
            kind: LiveKind::Saved,
            version: Some(version),
            payload: String::new(),
        })
    }

    #[test]
    fn a_channel_is_subscribed_once_and_unsubscribed_after_its_last_stream() {
        let mut channels = Channels::default();
        assert!(channels.subscribed(1, "a").is_none(), "no connection yet");
        channels.connected(1);
        assert!(channels.join("a").is_none());
        let (on, mut first) = channels.subscribed(1, "a").unwrap();
        let (_, mut second) = channels.join("a").unwrap();
        channels.dispatch(on, "a", event(2));
        channels.dispatch(on, "b", event(3));
        assert_eq!(first.try_recv().unwrap().version, Some(2));
        assert_eq!(second.try_recv().unwrap().version, Some(2));
        assert!(matches!(first.try_recv(), Err(TryRecvError::Empty)));

        assert!(!channels.leave(on, "a"), "one stream is left");
        assert!(channels.is_listened(on, "a"));
        assert!(channels.leave(on, "a"), "the last one");
        assert!(!channels.is_listened(on, "a"));
        assert_eq!(channels.len(), 0);
        assert!(!channels.leave(on, "a"), "left twice counts once");
    }

    #[test]
    fn a_broken_connection_ends_every_stream_and_forgets_its_channels() {
        let mut channels = Channels::default();
        channels.connected(1);
        let (old, mut stream) = channels.subscribed(1, "a").unwrap();
        assert!(!channels.disconnected(7), "another connection's news");
        assert!(channels.disconnected(old));
        assert!(matches!(stream.try_recv(), Err(TryRecvError::Closed)));
        assert!(channels.subscribed(old, "a").is_none());

        channels.connected(2);
        let (new, _stream) = channels.subscribed(2, "a").unwrap();
        assert!(!channels.leave(old, "a"), "a stream of the old connection");
        assert!(channels.is_listened(old, "a"), "no unsubscribe on it");
        channels.dispatch(old, "a", event(1));
        assert!(channels.leave(new, "a"));
    }

    #[test]
    fn a_stream_that_falls_behind_learns_it() {
        let mut channels = Channels::default();
        channels.connected(1);
        let (on, mut slow) = channels.subscribed(1, "a").unwrap();
        for version in 0..=LAG as u64 {
            channels.dispatch(on, "a", event(version));
        }
        assert!(matches!(slow.try_recv(), Err(TryRecvError::Lagged(_))));
    }
}
