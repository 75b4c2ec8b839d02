//! Live events of a draft: what its event streams tell the form's other tabs
//! and devices as it happens. The scripts that change a draft publish them
//! (as small JSON, built in Lua); a stream relays each as it came.

use serde::Deserialize;

use super::DraftStatus;

/// What happened to a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveKind {
    /// An autosave: the new version and the merge patch that made it.
    Saved,
    /// The draft got its course row (the first upload, or materialize).
    Materialized,
    /// The draft was submitted: it changes no more.
    Submitted,
    /// The draft was discarded (or erased with its course): it is gone.
    Discarded,
}

super::string_enum!(LiveKind, "live event type", {
    Saved => "saved",
    Materialized => "materialized",
    Submitted => "submitted",
    Discarded => "discarded",
});

impl LiveKind {
    /// After this event nothing more can happen to the draft.
    pub fn is_last(self) -> bool {
        matches!(self, Self::Submitted | Self::Discarded)
    }
}

/// One published event: its kind and version, read from its payload, and the
/// payload itself, relayed unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub kind: LiveKind,
    pub version: Option<u64>,
    /// The JSON object as published: `type`, then the kind's own members.
    pub payload: String,
}

#[derive(Debug, thiserror::Error)]
#[error("not a live event: {0}")]
pub struct NotAnEvent(String);

impl LiveEvent {
    pub fn parse(payload: String) -> Result<Self, NotAnEvent> {
        #[derive(Deserialize)]
        struct Head<'a> {
            #[serde(rename = "type", borrow)]
            kind: &'a str,
            version: Option<u64>,
        }
        let head: Head<'_> =
            serde_json::from_str(&payload).map_err(|e| NotAnEvent(e.to_string()))?;
        let kind = head
            .kind
            .parse()
            .map_err(|e: super::UnknownValue| NotAnEvent(e.to_string()))?;
        let version = head.version;
        Ok(Self {
            kind,
            version,
            payload,
        })
    }
}

/// The first event of a stream: where the draft is now, read after the
/// stream subscribed, so that a client behind it knows to fetch the draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Hello {
    pub version: u64,
    pub status: DraftStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kind_and_version_and_keeps_the_payload() {
        let saved = r#"{"type":"saved","version":7,"patch":{"topic":"x","version":1}}"#;
        let event = LiveEvent::parse(saved.to_owned()).unwrap();
        assert_eq!(
            (event.kind, event.version, event.payload.as_str()),
            (LiveKind::Saved, Some(7), saved)
        );
        let gone = LiveEvent::parse(r#"{"type":"discarded"}"#.to_owned()).unwrap();
        assert_eq!((gone.kind, gone.version), (LiveKind::Discarded, None));
        assert!(gone.kind.is_last() && !event.kind.is_last());
        assert!(LiveEvent::parse(r#"{"type":"other"}"#.to_owned()).is_err());
        assert!(LiveEvent::parse("nope".to_owned()).is_err());
    }
}
