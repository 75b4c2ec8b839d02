//! A Server-Sent Events reader for the tests: the frames of a streaming
//! response, as they arrive, each awaited under a deadline.

use std::time::Duration;

use reqwest::Response;
use serde_json::Value;

/// How long a test waits for the next frame before it fails.
const FRAME_DEADLINE: Duration = Duration::from_secs(10);

/// One frame: an event, or a comment (a heartbeat).
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Event {
        event: String,
        id: Option<String>,
        data: String,
    },
    Comment(String),
}

pub struct EventReader {
    response: Response,
    buffer: String,
}

impl EventReader {
    /// Reads `response`, asserting it is an event stream.
    pub fn new(response: Response) -> Self {
        assert_eq!(response.status(), 200, "an event stream opens");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-type"), "text/event-stream");
        assert_eq!(header("cache-control"), "no-cache");
        assert_eq!(header("x-accel-buffering"), "no");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next frame, or `None` once the stream ended.
    pub async fn frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let text: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&text));
            }
            let chunk = tokio::time::timeout(FRAME_DEADLINE, self.response.chunk())
                .await
                .expect("a frame within the deadline");
            match chunk {
                Ok(Some(bytes)) => self
                    .buffer
                    .push_str(std::str::from_utf8(&bytes).expect("UTF-8")),
                Ok(None) | Err(_) => {
                    assert!(self.buffer.is_empty(), "a cut frame: {:?}", self.buffer);
                    return None;
                }
            }
        }
    }

    /// The next event, skipping heartbeats: its name and its data as JSON.
    pub async fn event(&mut self) -> (String, Value) {
        loop {
            match self.frame().await {
                Some(Frame::Event { event, data, .. }) => {
                    let data = serde_json::from_str(&data).expect("JSON data");
                    return (event, data);
                }
                Some(Frame::Comment(_)) => continue,
                None => panic!("the stream ended before the next event"),
            }
        }
    }

    /// Asserts the stream ends without another event.
    pub async fn assert_ends(&mut self) {
        while let Some(frame) = self.frame().await {
            assert!(
                matches!(frame, Frame::Comment(_)),
                "no more events: {frame:?}"
            );
        }
    }
}

fn parse(text: &str) -> Frame {
    let (mut event, mut id, mut data) = (String::from("message"), None, Vec::new());
    for line in text.lines().filter(|line| !line.is_empty()) {
        if let Some(comment) = line.strip_prefix(':') {
            return Frame::Comment(comment.trim().to_owned());
        }
        let (field, value) = line.split_once(": ").unwrap_or((line, ""));
        match field {
            "event" => event = value.to_owned(),
            "id" => id = Some(value.to_owned()),
            "data" => data.push(value),
            other => panic!("unknown field {other}"),
        }
    }
    Frame::Event {
        event,
        id,
        data: data.join("\n"),
    }
}
