//! Where the engine connects: one server, a cluster or a Sentinel-managed master.

use super::sentinel;

/// Where the Redis engine connects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisTarget {
    /// One server, e.g. `redis://127.0.0.1:6379/`.
    Standalone(String),
    /// Some nodes of a cluster; the client learns the rest.
    Cluster(Vec<String>),
    /// A master that Redis Sentinel manages: the engine asks `sentinels` (each
    /// `host:port`) which server is the master of `service`, and asks again after a
    /// failover.
    Sentinel {
        /// The name the Sentinels monitor the master under.
        service: String,
        /// The Sentinels' addresses, `host:port`.
        sentinels: Vec<String>,
    },
}

impl RedisTarget {
    /// One address is a standalone server; a comma-separated list is a cluster;
    /// `redis+sentinel://host:port,host:port/service` is a Sentinel-managed master.
    /// Parsing never fails: a Sentinel address without a service or a Sentinel is
    /// kept as given and [`RedisBuilder::connect`](super::RedisBuilder::connect) reports what it lacks.
    pub fn parse(text: &str) -> Self {
        if let Some(target) = sentinel::parse(text) {
            return target;
        }
        let nodes: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        match nodes.as_slice() {
            [one] => RedisTarget::Standalone(one.clone()),
            _ => RedisTarget::Cluster(nodes),
        }
    }
}
