//! A master that Redis Sentinel manages: its address comes from the Sentinels, and
//! is asked for again whenever the master stops answering as one (a `READONLY` reply
//! from a demoted master, a lost connection, a timeout), so the engine follows a
//! failover without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use super::{ConnectError, RedisSetupError, RedisTarget};

const SCHEME: &str = "redis+sentinel://";
const DEFAULT_PORT: u16 = 26379;

/// `redis+sentinel://host:port,host:port/service`, or `None` for another scheme.
/// Spaces around the parts and a trailing slash are ignored; what is missing stays
/// empty for [`check`] to report.
pub(super) fn parse(text: &str) -> Option<RedisTarget> {
    let text = text.trim();
    let head = text.get(..SCHEME.len())?;
    if !head.eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let rest = text[SCHEME.len()..].trim().trim_end_matches('/');
    let (hosts, service) = match rest.split_once('/') {
        Some((hosts, service)) => (hosts, service.trim()),
        None => (rest, ""),
    };
    let sentinels = hosts
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Some(RedisTarget::Sentinel {
        service: service.to_owned(),
        sentinels,
    })
}

/// The Sentinels' addresses as `(host, port)`, or why they cannot be used.
pub(super) fn check(
    service: &str,
    sentinels: &[String],
) -> Result<Vec<(String, u16)>, RedisSetupError> {
    let bad = |why: String| {
        Err(RedisSetupError::Connect(ConnectError::Address(format!(
            "{why} (expected {SCHEME}host:port,host:port/service)"
        ))))
    };
    if service.is_empty() || service.contains('/') {
        return bad(format!(
            "the Sentinel address names no service: '{service}'"
        ));
    }
    if sentinels.is_empty() {
        return bad("the Sentinel address names no Sentinel".into());
    }
    let mut out = Vec::new();
    for s in sentinels {
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(p) if p > 0 => (h, p),
                _ => return bad(format!("not a port in the Sentinel address '{s}'")),
            },
            None => (s.as_str(), DEFAULT_PORT),
        };
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return bad(format!("not a host in the Sentinel address '{s}'"));
        }
        out.push((host.to_owned(), port));
    }
    Ok(out)
}

struct Shared {
    client: tokio::sync::Mutex<SentinelClient>,
    config: ConnectionManagerConfig,
    current: RwLock<(String, ConnectionManager)>,
    asking: AtomicBool,
    deadline: Duration,
}

/// A connection to whichever server the Sentinels name master. Clones share it.
#[derive(Clone)]
pub(crate) struct SentinelConn(Arc<Shared>);

impl SentinelConn {
    /// Asks the Sentinels for the master of `service` and connects to it.
    pub(super) async fn open(
        sentinels: &[(String, u16)],
        service: &str,
        config: ConnectionManagerConfig,
        deadline: Duration,
    ) -> Result<Self, RedisSetupError> {
        let connect_err = |e: RedisError| RedisSetupError::Connect(ConnectError::Redis(e));
        let urls: Vec<String> = sentinels
            .iter()
            .map(|(h, p)| format!("redis://{h}:{p}/"))
            .collect();
        let mut client =
            SentinelClient::build(urls, service.to_owned(), None, SentinelServerType::Master)
                .map_err(connect_err)?;
        let (addr, manager) = tokio::time::timeout(deadline * 5, master(&mut client, &config))
            .await
            .map_err(|_| RedisSetupError::Connect(ConnectError::TimedOut("the Sentinels")))?
            .map_err(connect_err)?;
        Ok(SentinelConn(Arc::new(Shared {
            client: tokio::sync::Mutex::new(client),
            config,
            current: RwLock::new((addr, manager)),
            asking: AtomicBool::new(false),
            deadline,
        })))
    }

    fn manager(&self) -> ConnectionManager {
        self.0.current.read().1.clone()
    }

    /// The address of the master in use, `host:port`.
    pub(crate) fn address(&self) -> String {
        self.0.current.read().0.clone()
    }

    /// After `e`: when it says the server is no longer the master (or cannot be
    /// reached), asks the Sentinels again in the background, once at a time.
    fn after(&self, e: &RedisError) {
        let text = e.to_string();
        let lost = text.contains("READONLY")
            || text.contains("MASTERDOWN")
            || e.is_io_error()
            || e.is_timeout()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_unrecoverable_error();
        if lost && !self.0.asking.swap(true, Ordering::AcqRel) {
            let me = self.clone();
            tokio::spawn(async move {
                me.follow().await;
                me.0.asking.store(false, Ordering::Release);
            });
        }
    }

    /// Asks until the Sentinels name a master that answers as one (a failover takes
    /// the Sentinels' `down-after-milliseconds` plus an election), for at most a
    /// minute; a later failure starts it again.
    async fn follow(&self) {
        let shared = &self.0;
        for _ in 0..240 {
            let found = {
                let mut client = shared.client.lock().await;
                tokio::time::timeout(
                    shared.deadline.saturating_mul(5),
                    master(&mut client, &shared.config),
                )
                .await
            };
            if let Ok(Ok((addr, manager))) = found {
                let mut current = shared.current.write();
                if current.0 != addr {
                    *current = (addr, manager);
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The master the Sentinels name (checked by the client to answer as master), and
/// a connection to it.
async fn master(
    client: &mut SentinelClient,
    config: &ConnectionManagerConfig,
) -> RedisResult<(String, ConnectionManager)> {
    let master = client.async_get_client().await?;
    let addr = master.get_connection_info().addr().to_string();
    let mut manager = ConnectionManager::new_with_config(master, config.clone()).await?;
    let role: Vec<Value> = redis::cmd("ROLE").query_async(&mut manager).await?;
    match role.first() {
        Some(Value::BulkString(r)) if r.as_slice() == b"master" => Ok((addr, manager)),
        _ => Err(RedisError::from((
            redis::ErrorKind::Client,
            "the server the Sentinels name is not a master yet",
        ))),
    }
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut m = self.manager();
            let r = m.req_packed_command(cmd).await;
            if let Err(e) = &r {
                self.after(e);
            }
            r
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut m = self.manager();
            let r = m.req_packed_commands(pipeline, offset, count).await;
            match &r {
                Err(e) => self.after(e),
                Ok(values) => {
                    // A pipeline answers errors in place (a demoted master's READONLY).
                    for v in values {
                        if let Value::ServerError(e) = v {
                            self.after(&RedisError::from(e.clone()));
                        }
                    }
                }
            }
            r
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel(service: &str, sentinels: &[&str]) -> RedisTarget {
        RedisTarget::Sentinel {
            service: service.into(),
            sentinels: sentinels.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            RedisTarget::parse(" redis://127.0.0.1:6379/ "),
            RedisTarget::Standalone("redis://127.0.0.1:6379/".into())
        );
        assert_eq!(
            RedisTarget::parse("redis://a:1/, redis://b:2/ ,"),
            RedisTarget::Cluster(vec!["redis://a:1/".into(), "redis://b:2/".into()])
        );
        for text in [
            "redis+sentinel://h1:26379,h2:26380/mymaster",
            "redis+sentinel://h1:26379,h2:26380/mymaster/",
            " redis+sentinel:// h1:26379 , h2:26380 / mymaster / ",
            "REDIS+SENTINEL://h1:26379,h2:26380,/mymaster",
        ] {
            assert_eq!(
                RedisTarget::parse(text),
                sentinel("mymaster", &["h1:26379", "h2:26380"]),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn connect_reports_a_malformed_sentinel_address() {
        let target = RedisTarget::parse("redis+sentinel://127.0.0.1:1");
        let err = crate::redis::RedisEngine::builder(target)
            .connect()
            .await
            .expect_err("no service");
        assert!(matches!(err, RedisSetupError::Connect(_)), "{err:?}");
        assert!(err.to_string().contains("names no service"), "{err}");
    }

    #[test]
    fn a_malformed_sentinel_address_parses_and_is_refused_at_connect() {
        let cases = [
            ("redis+sentinel://", "names no service"),
            ("redis+sentinel://h:1", "names no service"),
            ("redis+sentinel://h:1/", "names no service"),
            ("redis+sentinel:///svc", "names no Sentinel"),
            ("redis+sentinel://h:x/svc", "not a port"),
            ("redis+sentinel://h:0/svc", "not a port"),
            ("redis+sentinel://:1/svc", "not a host"),
            ("redis+sentinel://h:1/a/b", "names no service"),
        ];
        for (text, words) in cases {
            let RedisTarget::Sentinel { service, sentinels } = RedisTarget::parse(text) else {
                panic!("{text} is a Sentinel address");
            };
            let err = check(&service, &sentinels).expect_err(text).to_string();
            assert!(err.contains(words), "{text}: {err}");
            assert!(err.contains("host:port,host:port/service"), "{err}");
        }
        assert_eq!(
            check("m", &["h".into(), "[::1]:5".into()]).unwrap(),
            vec![("h".into(), 26379), ("[::1]".into(), 5)]
        );
    }
}
