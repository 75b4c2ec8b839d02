//! A fixed set of keep-alive HTTP/1.1 connections to the service, as a
//! proxy in front of it holds: the open loop's requests take turns on them.
//!
//! A client pool that opens a connection for every request it cannot place
//! (reqwest's) turns a short stall into hundreds of new connections, whose
//! setup then costs both sides the cores the stall needed; browsers do not do
//! that, each holds its own connection and saves one patch at a time.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

pub struct Connections {
    address: String,
    host: HeaderValue,
    senders: Vec<Mutex<Option<SendRequest<Full<Bytes>>>>>,
}

impl Connections {
    /// `count` connections to `address` (`host:port`), opened as needed.
    pub fn new(address: &str, count: usize) -> anyhow::Result<Self> {
        Ok(Self {
            address: address.to_owned(),
            host: HeaderValue::from_str(address)?,
            senders: (0..count).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// Sends `request` on connection `i` (modulo the count) once it is free,
    /// reading the whole answer; its status, or `None` if it failed. A
    /// connection the server closed (idle between steps) is opened again
    /// before the request goes out.
    pub async fn send(&self, i: usize, mut request: Request<Full<Bytes>>) -> Option<StatusCode> {
        let mut slot = self.senders[i % self.senders.len()].lock().await;
        let usable = match slot.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            *slot = Some(self.open().await?);
        }
        request.headers_mut().insert(HOST, self.host.clone());
        let response = slot.as_mut()?.send_request(request).await.ok()?;
        let status = response.status();
        response.into_body().collect().await.ok()?;
        Some(status)
    }

    /// Closes every connection: the next request on each opens a new one, as
    /// after an idle spell longer than the server's keep-alive.
    pub async fn close_all(&self) {
        for slot in &self.senders {
            *slot.lock().await = None;
        }
    }

    async fn open(&self) -> Option<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(&self.address).await.ok()?;
        stream.set_nodelay(true).ok()?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.ok()?;
        tokio::spawn(connection);
        Some(sender)
    }
}
