//! Request bodies the way clients really send them: whole, slowly in chunks,
//! cut off mid-way (the connection dropped), or held half-sent at a barrier
//! until the test releases them.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::plan::BodyMode;
use crate::rng::Rng;

const BOUNDARY: &str = "history-boundary-7d1f0c";

/// A text file no other upload of the run has: its SHA-256 names it.
pub fn file_content(seed: u64, size: usize) -> Bytes {
    let mut rng = Rng::new(seed);
    let line: Vec<u8> = (0..size)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'a' + rng.below(26) as u8
            }
        })
        .collect();
    Bytes::from(line)
}

pub fn sha256_hex(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// The `Content-Type` of [`multipart`] bodies.
pub fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// The bytes of a one-part `file` multipart form around `content`.
pub fn multipart_bytes(name: &str, content: &[u8]) -> Bytes {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Bytes::from(body)
}

/// A body sent per `mode`; with `hold`, its second half waits until the
/// sender of `hold` fires (or is dropped).
pub fn streamed(
    bytes: Bytes,
    mode: BodyMode,
    hold: Option<oneshot::Receiver<()>>,
) -> reqwest::Body {
    reqwest::Body::wrap_stream(chunks(bytes, mode, hold))
}

type Chunk = Result<Bytes, std::io::Error>;

fn chunks(
    bytes: Bytes,
    mode: BodyMode,
    hold: Option<oneshot::Receiver<()>>,
) -> impl Stream<Item = Chunk> + Send + 'static {
    let half = bytes.len() / 2;
    let (first, rest) = (bytes.slice(..half), bytes.slice(half..));
    let head = stream::once(async move { Ok::<_, std::io::Error>(first) });
    let tail: stream::BoxStream<'static, Chunk> = match mode {
        BodyMode::Whole => stream::once(async move { Ok(rest) }).boxed(),
        BodyMode::Slow => {
            let pieces: Vec<Bytes> = (0..4)
                .map(|k| rest.slice(k * rest.len() / 4..(k + 1) * rest.len() / 4))
                .collect();
            stream::iter(pieces)
                .then(|piece| async move {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    Ok(piece)
                })
                .boxed()
        }
        // Long enough for the server to have read the first half, then a
        // failed stream: hyper drops the connection mid-body.
        BodyMode::Cut => stream::once(async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Err(std::io::Error::other("cut by the history test"))
        })
        .boxed(),
    };
    let barrier = stream::once(async move {
        if let Some(hold) = hold {
            let _ = hold.await;
        }
        Ok(Bytes::new())
    })
    .filter(|chunk: &Chunk| {
        let empty = matches!(chunk, Ok(b) if b.is_empty());
        async move { !empty }
    });
    head.chain(barrier).chain(tail)
}
