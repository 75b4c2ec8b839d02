//! A single node's connections: one multiplexed connection per thread.
//!
//! actix runs each HTTP worker on a single-threaded runtime of its own. With
//! the connection made on the worker's thread, its driver task runs there
//! too, and a request and its Redis I/O never wake another thread; and a
//! call takes no pool checkout (a pool PINGs each connection it hands out,
//! which was a second round trip per autosave). Many calls share the
//! connection at once, pipelined.
//!
//! A connection is replaced when a call on it fails for good (the socket is
//! gone), or is given up on after [`STUCK`]: then it is likely stuck, as
//! behind a network partition.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::redis::aio::{ConnectionLike, MultiplexedConnection};
use deadpool_redis::redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionInfo, Pipeline, RedisError, RedisFuture, Value,
};

/// A call abandoned after this long was on a stuck connection (Redis
/// answers in about a millisecond).
const STUCK: Duration = Duration::from_millis(250);

thread_local! {
    /// This thread's connection of each [`PerThread`], by its id.
    static CONNECTIONS: RefCell<HashMap<u64, MultiplexedConnection>> = RefCell::default();
}

/// Where a node's per-thread connections come from.
pub struct PerThread {
    id: u64,
    client: Client,
    config: AsyncConnectionConfig,
}

impl PerThread {
    pub fn new(info: ConnectionInfo, connect_timeout: Duration) -> Result<Self, RedisError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            client: Client::open(info)?,
            // Calls are bounded by the store timeout, by the caller.
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(None),
        })
    }

    /// This thread's connection, made now if it has none.
    pub async fn get(self: &Arc<Self>) -> Result<ThreadConnection, RedisError> {
        let cached = CONNECTIONS.with_borrow(|connections| connections.get(&self.id).cloned());
        let (conn, reused) = match cached {
            Some(conn) => (conn, true),
            // Boxed: connecting is rare, and its future (a resolve, a
            // connect, a handshake) would make every call's future kilobytes
            // larger, moved whole at each await.
            None => (Box::pin(self.connect()).await?, false),
        };
        Ok(ThreadConnection {
            source: self.clone(),
            conn,
            reused,
        })
    }

    async fn connect(&self) -> Result<MultiplexedConnection, RedisError> {
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        CONNECTIONS.with_borrow_mut(|connections| {
            connections.insert(self.id, conn.clone());
        });
        Ok(conn)
    }

    fn forget(&self) {
        // A task may have moved to another thread of a multi-threaded runtime
        // meanwhile: then it forgets that thread's, which is harmless.
        CONNECTIONS.with_borrow_mut(|connections| connections.remove(&self.id));
    }
}

/// This thread's connection, for one call or a few. A call that finds it
/// closed (Redis restarted, say, since its last use) is sent once more on a
/// new connection, as a client would retry it. A call that fails for good or is
/// given up on after [`STUCK`] makes the next call connect anew.
pub struct ThreadConnection {
    source: Arc<PerThread>,
    conn: MultiplexedConnection,
    /// Made before this call: it may have closed since.
    reused: bool,
}

/// What can be sent on a connection: a command, or a pipeline's commands.
trait Request {
    type Reply;
    fn send<'c>(&'c self, conn: &'c mut MultiplexedConnection) -> RedisFuture<'c, Self::Reply>;
}

impl Request for Cmd {
    type Reply = Value;
    fn send<'c>(&'c self, conn: &'c mut MultiplexedConnection) -> RedisFuture<'c, Value> {
        conn.req_packed_command(self)
    }
}

/// `count` replies of a pipeline, after the first `offset`.
struct Commands<'a>(&'a Pipeline, usize, usize);

impl Request for Commands<'_> {
    type Reply = Vec<Value>;
    fn send<'c>(&'c self, conn: &'c mut MultiplexedConnection) -> RedisFuture<'c, Vec<Value>> {
        conn.req_packed_commands(self.0, self.1, self.2)
    }
}

impl ThreadConnection {
    async fn send<R: Request>(&mut self, request: &R) -> Result<R::Reply, RedisError> {
        let mut watch = Watch {
            source: &self.source,
            started: Instant::now(),
            done: false,
        };
        let mut result = request.send(&mut self.conn).await;
        if let Err(error) = &result {
            if error.is_unrecoverable_error() {
                watch.source.forget();
                if std::mem::take(&mut self.reused) && error.is_connection_dropped() {
                    self.conn = watch.source.connect().await?;
                    result = request.send(&mut self.conn).await;
                }
            }
        }
        watch.done = true;
        result
    }
}

/// Forgets the connection if its call is dropped unfinished after [`STUCK`].
struct Watch<'a> {
    source: &'a PerThread,
    started: Instant,
    done: bool,
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if !self.done && self.started.elapsed() >= STUCK {
            self.source.forget();
        }
    }
}

impl ConnectionLike for ThreadConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.send(cmd))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move { self.send(&Commands(pipeline, offset, count)).await })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}
