//! The Redis engine for synchronous callers.

use std::future::Future;

use tokio::runtime::{Handle, Runtime};

use super::{ConnectError, RedisBuilder, RedisEngine, RedisSetupError};
use crate::outage::Outage;
use crate::outcome::{Denied, DenyReason, Sent};
use crate::request::InviteRequest;

/// A [`RedisEngine`] with its own small runtime, for code that is not async. Calling
/// it from inside an async runtime would stall that runtime's thread, so such calls
/// are refused with [`Outage::BlockingInAsync`] instead.
#[derive(Debug)]
pub struct BlockingRedisEngine {
    /// Always `Some` until dropped.
    runtime: Option<Runtime>,
    engine: RedisEngine,
}

impl Drop for BlockingRedisEngine {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which must not happen on an async
        // thread; letting them go in the background is safe anywhere.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl BlockingRedisEngine {
    pub(crate) fn connect(builder: RedisBuilder) -> Result<Self, RedisSetupError> {
        if Handle::try_current().is_ok() {
            return Err(RedisSetupError::Connect(ConnectError::InsideRuntime));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("invite-limiter-redis")
            .enable_all()
            .build()
            .map_err(|e| RedisSetupError::Connect(ConnectError::Runtime(e)))?;
        let engine = runtime.block_on(builder.connect())?;
        Ok(BlockingRedisEngine {
            runtime: Some(runtime),
            engine,
        })
    }

    /// The async engine underneath, for use from async code.
    pub fn engine(&self) -> &RedisEngine {
        &self.engine
    }

    /// Runs any of the engine's async methods to completion on this thread.
    ///
    /// # Errors
    /// [`Outage::BlockingInAsync`] when called from inside an async runtime.
    pub fn run<'a, F, T>(&'a self, call: impl FnOnce(&'a RedisEngine) -> F) -> Result<T, Outage>
    where
        F: Future<Output = T> + 'a,
    {
        match (&self.runtime, Handle::try_current()) {
            (Some(rt), Err(_)) => Ok(rt.block_on(call(&self.engine))),
            _ => Err(Outage::BlockingInAsync),
        }
    }

    /// [`RedisEngine::send`], blocking.
    ///
    /// # Errors
    /// As [`RedisEngine::send`].
    #[must_use = "a denied invitation must not be delivered; act on the outcome"]
    pub fn send(&self, req: InviteRequest) -> Result<Sent, Denied> {
        self.run(|e| e.send(req)).unwrap_or_else(|cause| {
            Err(Denied {
                reason: DenyReason::Unavailable { cause },
                retry_at: None,
            })
        })
    }
}
