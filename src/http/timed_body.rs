//! Every request body is read under an idle timeout and a deadline, so that
//! a client that stops sending cannot hold a worker's memory, a staging file
//! or an upload slot: the read fails, the handler's work is dropped (a
//! multipart upload removes what it wrote; a tus PATCH keeps what arrived),
//! and the answer is a 408.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::time::{sleep, Instant, Sleep};

/// How long a body may send nothing, and how long it may take in all.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeouts {
    pub idle: Duration,
    pub deadline: Duration,
}

/// Whether a [`TimedBody`] was cut off: kept by the handler, which reads the
/// body's error through other layers (multipart) and answers 408 if so.
#[derive(Debug, Clone, Default)]
pub struct Stalled(Rc<Cell<bool>>);

impl Stalled {
    pub fn get(&self) -> bool {
        self.0.get()
    }
}

/// A body stream that fails once it has sent nothing for `idle`, or has not
/// ended by its deadline.
pub struct TimedBody<S> {
    inner: S,
    idle_for: Duration,
    idle: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
    stalled: Stalled,
    finished: bool,
    _reading: Reading,
}

impl<S> TimedBody<S> {
    pub fn new(inner: S, timeouts: BodyTimeouts) -> (Self, Stalled) {
        let stalled = Stalled::default();
        let body = Self {
            inner,
            idle_for: timeouts.idle,
            idle: Box::pin(sleep(timeouts.idle)),
            deadline: Box::pin(sleep(timeouts.deadline)),
            stalled: stalled.clone(),
            finished: false,
            _reading: Reading::start(),
        };
        (body, stalled)
    }
}

impl<S> Stream for TimedBody<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let next = Instant::now() + this.idle_for;
                this.idle.as_mut().reset(next);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(other) => {
                this.finished = other.is_none();
                Poll::Ready(other)
            }
            Poll::Pending => {
                let idle = this.idle.as_mut().poll(cx).is_ready();
                if !idle && this.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.finished = true;
                this.stalled.0.set(true);
                metrics::counter!("draftd_request_bodies_stalled_total",
                    "cause" => if idle { "idle" } else { "deadline" })
                .increment(1);
                Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body stalled",
                )))))
            }
        }
    }
}

/// Counts a body being read, in `draftd_request_bodies_reading`, until dropped.
struct Reading;

impl Reading {
    fn start() -> Self {
        metrics::gauge!("draftd_request_bodies_reading").increment(1.0);
        Self
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        metrics::gauge!("draftd_request_bodies_reading").decrement(1.0);
    }
}
