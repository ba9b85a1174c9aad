//! Change notices between gateways: a setter publishes the member's id, and every
//! engine sharing the prefix drops what its caches hold about that member at once;
//! a policy change publishes `policy`, and every engine reads the policy again.
//! The caches' time to live still bounds staleness when a notice is lost (a dropped
//! subscription, a node that dies); the subscription reconnects by itself.

use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;

use super::engine::Inner;

/// The channel of `prefix`'s change notices.
pub(crate) fn channel(prefix: &str) -> String {
    format!("{prefix}:changed")
}

/// Where change notices are heard: fixed addresses tried in turn, or the master the
/// Sentinels name at the moment.
pub(crate) enum Nodes {
    Fixed(Vec<String>),
    Sentinel(super::sentinel::SentinelConn),
}

impl Nodes {
    /// The address to try the `i`th time.
    fn pick(&self, i: usize) -> Option<String> {
        match self {
            Nodes::Fixed(nodes) if nodes.is_empty() => None,
            Nodes::Fixed(nodes) => Some(nodes[i % nodes.len()].clone()),
            Nodes::Sentinel(c) => Some(format!("redis://{}/", c.address())),
        }
    }
}

/// Listens for change notices until the engine is dropped, trying the nodes in turn
/// whenever the subscription is lost.
pub(crate) async fn watch(engine: Weak<Inner>, nodes: Nodes, channel: String) {
    let mut next = 0usize;
    while engine.strong_count() > 0 {
        let Some(url) = nodes.pick(next) else {
            return;
        };
        next = next.wrapping_add(1);
        if listen(&engine, &url, &channel).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `true` when the engine is gone; `false` when the subscription failed or ended.
async fn listen(engine: &Weak<Inner>, url: &str, channel: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(Ok(mut pubsub)) =
        tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub()).await
    else {
        return false;
    };
    let subscribed = tokio::time::timeout(Duration::from_secs(2), pubsub.subscribe(channel)).await;
    if !matches!(subscribed, Ok(Ok(()))) {
        return false;
    }
    // Notices sent while there was no subscription are lost: start from empty caches.
    match engine.upgrade() {
        Some(inner) => {
            inner.forget_all();
            inner.policy_stale();
        }
        None => return true,
    }
    let mut notices = pubsub.into_on_message();
    loop {
        match tokio::time::timeout(Duration::from_secs(1), notices.next()).await {
            Ok(Some(msg)) => {
                let Some(inner) = engine.upgrade() else {
                    return true;
                };
                let payload = msg.get_payload::<String>().ok();
                if let Some(member) = payload.as_deref().and_then(|p| p.parse::<u64>().ok()) {
                    inner.forget(member);
                } else if payload.as_deref() == Some("policy") {
                    // The fleet's policy changed: read it before the next decision.
                    inner.policy_stale();
                }
            }
            Ok(None) => return false,
            Err(_) if engine.strong_count() == 0 => return true,
            Err(_) => {}
        }
    }
}
