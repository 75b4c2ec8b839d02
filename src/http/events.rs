//! A draft's event stream, as Server-Sent Events: parse, open the stream
//! (the use case), and write its events as they come, with heartbeats, until
//! the draft can change no more, the token expires or the service stops.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use futures_util::stream::{self, Stream};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::auth::ExpiringOwner;
use super::problem::{ApiError, AuthenticatedErrors, GoneErrors};
use super::AppState;
use crate::app::events::EventStream;
use crate::domain::ids::DraftId;

/// The heartbeat: a comment line, which clients ignore.
const HEARTBEAT: &[u8] = b": keep-alive\n\n";

/// The draft's changes as they happen, as Server-Sent Events.
///
/// First `event: hello` with `data: {"version", "status"}`, read after the
/// stream subscribed: a client behind that version fetches the draft. Then
/// each change as it happens: `saved` (`version`, `patch`: the merge patch
/// of `formData`), `materialized` (`version`, `courseId`, `courseSlug`),
/// `submitted` (`version`, `courseId`) and `discarded`, each with `id:` its
/// version when it has one. `: keep-alive` comments every
/// `DRAFTD_EVENTS_HEARTBEAT_SECS`. The stream ends after `submitted` or
/// `discarded`, at once for a submitted draft, with `event: expired` when
/// the access token expires (reconnect with a fresh one), and without a
/// word when the service stops (reconnect). A read: it keeps no draft alive.
#[utoipa::path(get, path = "/api/v1/drafts/{id}/events", tag = "drafts",
    params(("id" = Uuid, Path, description = "Draft id")),
    responses(
        (status = 200, description = "The draft's events, as Server-Sent Events; never ends on its own while the draft is open",
         content_type = "text/event-stream", body = String,
         headers(("Cache-Control" = String, description = "no-cache"))),
        GoneErrors,
        (status = 429, description = "Too many event streams open, the user's (`DRAFTD_EVENTS_PER_USER`) or the service's (`DRAFTD_EVENTS_MAX`); retry after Retry-After",
         content_type = "application/problem+json", body = super::problem::Problem,
         headers(("Retry-After" = String))),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn draft_events(
    state: web::Data<AppState>,
    caller: ExpiringOwner,
    id: web::Path<DraftId>,
) -> Result<HttpResponse, ApiError> {
    let events = state.app.events.open(caller.owner, *id).await?;
    let lifetime = u64::try_from(caller.expires_at - chrono::Utc::now().timestamp()).unwrap_or(0);
    let body = sse(
        events,
        state.events_heartbeat,
        Duration::from_secs(lifetime),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        // nginx would otherwise buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// Where a stream's body is.
enum Phase {
    Hello,
    Live,
    Done,
}

struct Sse {
    events: EventStream,
    phase: Phase,
    heartbeat: Interval,
    expires: Instant,
}

/// The stream's body: its hello, its events, heartbeats, and `expired` when
/// the token does. Dropped when the client goes, which frees its slot.
fn sse(
    events: EventStream,
    heartbeat: Duration,
    lifetime: Duration,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let mut ticks = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let body = Sse {
        events,
        phase: Phase::Hello,
        heartbeat: ticks,
        expires: Instant::now() + lifetime,
    };
    stream::unfold(body, |mut sse| async move {
        let chunk = match sse.phase {
            Phase::Done => return None,
            Phase::Hello => {
                sse.phase = Phase::Live;
                let hello = serde_json::to_string(&sse.events.hello).unwrap_or_default();
                frame("hello", Some(sse.events.hello.version), &hello)
            }
            Phase::Live => tokio::select! {
                biased;
                () = tokio::time::sleep_until(sse.expires) => {
                    sse.phase = Phase::Done;
                    frame("expired", None, "{}")
                }
                event = sse.events.next() => {
                    let event = event?;
                    frame(event.kind.as_str(), event.version, &event.payload)
                }
                _ = sse.heartbeat.tick() => Bytes::from_static(HEARTBEAT),
            },
        };
        Some((Ok(chunk), sse))
    })
}

/// One event: `event:`, `id:` when it has a version, `data:` per line.
fn frame(event: &str, version: Option<u64>, data: &str) -> Bytes {
    let mut text = format!("event: {event}\n");
    if let Some(version) = version {
        text.push_str(&format!("id: {version}\n"));
    }
    for line in data.lines() {
        text.push_str("data: ");
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_framed_line_by_line() {
        assert_eq!(
            frame("saved", Some(3), r#"{"type":"saved"}"#),
            "event: saved\nid: 3\ndata: {\"type\":\"saved\"}\n\n"
        );
        assert_eq!(
            frame("expired", None, "a\nb"),
            "event: expired\ndata: a\ndata: b\n\n"
        );
    }
}
