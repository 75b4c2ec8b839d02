//! Redis: draft sessions ([`drafts`], with their Lua scripts in `lua/`; an
//! organization's or a user's found and removed by [`erase`]), the key
//! schema ([`keys`]), the breaker ([`breaker`]), and here the connections:
//! one node or a cluster, over TCP or TLS.
//!
//! Both kinds hand out a [`RedisConn`] that speaks every single-slot command
//! and script the same way. The two things a cluster does differently, a
//! batch of keys from many slots and a SCAN of the whole keyspace, are the
//! only methods here that look at the kind.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::aio::ConnectionLike;
use deadpool_redis::redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use deadpool_redis::redis::{
    self, Cmd, ConnectionInfo, FromRedisValue, IntoConnectionInfo, Pipeline, RedisFuture,
    TlsCertificates, Value,
};
use deadpool_redis::{cluster, PoolConfig, Runtime, Timeouts};
use futures_util::future::try_join_all;

use self::per_thread::{PerThread, ThreadConnection};
use super::StoreError;

pub mod breaker;
pub mod drafts;
pub mod erase;
pub mod keys;
pub mod live;
mod per_thread;
mod platform_keys;
mod record;
mod reply;
mod scripts;
mod trash;

pub use drafts::RedisDrafts;
pub use live::{LiveHub, Subscription};

/// Where Redis is: a URL, or a cluster's node list (URLs separated by commas).
pub struct RedisSettings<'a> {
    pub url: &'a str,
    /// Treat a single URL as a cluster's seed node.
    pub cluster: bool,
    /// PEM roots that `rediss://` certificates must chain to, instead of the
    /// system's trust store (single node; a cluster uses the system's).
    pub tls_roots: Option<&'a [u8]>,
    pub pool_size: usize,
    pub timeout: Duration,
}

#[derive(Clone)]
pub enum RedisPool {
    Node(Arc<PerThread>),
    Cluster(cluster::Pool),
}

pub enum RedisConn {
    Node(ThreadConnection),
    Cluster(cluster::Connection),
}

/// How many commands of a cross-slot batch a cluster connection has in flight.
const CLUSTER_BATCH: usize = 256;

impl RedisPool {
    pub fn connect(settings: &RedisSettings<'_>) -> anyhow::Result<Self> {
        let urls = node_urls(settings.url);
        let timeout = Some(settings.timeout);
        let sizing = PoolConfig {
            max_size: settings.pool_size,
            timeouts: Timeouts {
                wait: timeout,
                create: timeout,
                recycle: timeout,
            },
            ..PoolConfig::default()
        };
        if settings.cluster || urls.len() > 1 {
            let config = cluster::Config {
                pool: Some(sizing),
                ..cluster::Config::from_urls(urls)
            };
            return Ok(Self::Cluster(config.create_pool(Some(Runtime::Tokio1))?));
        }
        Ok(Self::Node(Arc::new(PerThread::new(
            node_info(settings)?,
            settings.timeout,
        )?)))
    }

    pub async fn get(&self) -> Result<RedisConn, StoreError> {
        Ok(match self {
            Self::Node(connections) => RedisConn::Node(connections.get().await?),
            // Boxed: a pool's checkout future holds its connect, kilobytes
            // that every single node's call would carry and move too.
            Self::Cluster(pool) => RedisConn::Cluster(Box::pin(pool.get()).await?),
        })
    }
}

impl RedisConn {
    /// Runs commands that may touch many hash slots, answers in order. One
    /// pipeline on a single node; on a cluster, each command goes to its
    /// slot's node, many in flight at once.
    pub async fn each<T: FromRedisValue>(
        &mut self,
        commands: Vec<Cmd>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Self::Node(conn) => {
                if commands.is_empty() {
                    return Ok(Vec::new());
                }
                let mut pipe = redis::pipe();
                for command in commands {
                    pipe.add_command(command);
                }
                Ok(pipe.query_async(conn).await?)
            }
            Self::Cluster(conn) => {
                let mut answers = Vec::with_capacity(commands.len());
                for chunk in commands.chunks(CLUSTER_BATCH) {
                    let calls = chunk.iter().map(|command| {
                        let mut conn = (**conn).clone();
                        async move { command.query_async::<T>(&mut conn).await }
                    });
                    answers.extend(try_join_all(calls).await?);
                }
                Ok(answers)
            }
        }
    }

    /// Every key matching `pattern`, on the node or on every cluster primary.
    pub async fn scan_all(&mut self, pattern: &str) -> Result<Vec<String>, StoreError> {
        let mut scan = self.scan(pattern).await?;
        let mut keys = Vec::new();
        while let Some(page) = self.scan_page(&mut scan).await? {
            keys.extend(page);
        }
        Ok(keys)
    }

    /// A SCAN of the keys matching `pattern`, to read a page at a time with
    /// [`RedisConn::scan_page`]: the node's, or each cluster primary's in turn.
    pub async fn scan(&mut self, pattern: &str) -> Result<KeyScan, StoreError> {
        let nodes = match self {
            Self::Node(_) => vec![None],
            Self::Cluster(conn) => cluster_primaries(conn)
                .await?
                .into_iter()
                .map(|(host, port)| {
                    Some(RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host,
                        port,
                    }))
                })
                .collect(),
        };
        Ok(KeyScan {
            pattern: pattern.to_owned(),
            nodes,
            cursor: 0,
        })
    }

    /// The next page of `scan` (a page may be empty); `None` once it is done.
    pub async fn scan_page(
        &mut self,
        scan: &mut KeyScan,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let Some(node) = scan.nodes.last() else {
            return Ok(None);
        };
        let mut step = redis::cmd("SCAN");
        step.arg(scan.cursor)
            .arg("MATCH")
            .arg(&scan.pattern)
            .arg("COUNT")
            .arg(5000);
        let reply = match (&mut *self, node) {
            (Self::Cluster(conn), Some(node)) => conn.route_command(step, node.clone()).await?,
            (conn, _) => step.query_async::<Value>(conn).await?,
        };
        let (next, keys): (u64, Vec<String>) = redis::from_redis_value(reply)?;
        scan.cursor = next;
        if next == 0 {
            scan.nodes.pop();
        }
        Ok(Some(keys))
    }
}

/// Where a SCAN is: the nodes left (the last one under way) and its cursor.
pub struct KeyScan {
    pattern: String,
    nodes: Vec<Option<RoutingInfo>>,
    cursor: u64,
}

/// The URLs of `DRAFTD_REDIS_URL`: one, or a cluster's nodes.
fn node_urls(url: &str) -> Vec<String> {
    url.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How to reach a single node: its URL, with the TLS roots for `rediss://`.
fn node_info(settings: &RedisSettings<'_>) -> anyhow::Result<ConnectionInfo> {
    let mut info = settings.url.into_connection_info()?;
    if let Some(pem) = settings.tls_roots {
        let certificates = TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.to_vec()),
        };
        info = redis::Client::build_with_tls(info, certificates)?
            .get_connection_info()
            .clone();
    }
    Ok(info)
}

/// (host, port) of each primary, from `CLUSTER NODES`.
async fn cluster_primaries(
    conn: &mut cluster::Connection,
) -> Result<Vec<(String, u16)>, StoreError> {
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut **conn)
        .await?;
    // <id> <ip:port@cport[,hostname]> <flags> ...
    Ok(nodes
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields.nth(1)?;
            let flags = fields.next()?;
            if !flags.split(',').any(|flag| flag == "master") || flags.contains("fail") {
                return None;
            }
            let (host, port) = address.split(['@', ',']).next()?.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect())
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}
