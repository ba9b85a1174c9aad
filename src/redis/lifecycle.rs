//! What happens to a pending invitation: accept, decline, withdraw, report.

use super::replies::ScriptReply;
use super::{RedisEngine, UNRECORDED};
use crate::ids::{InviteId, MemberId};
use crate::outage::Outage;
use crate::outcome::InviteError;
use crate::time::Timestamp;

impl RedisEngine {
    /// Invitations pending from `sender` to `recipient` now.
    ///
    /// # Errors
    /// [`Outage`] when Redis cannot answer.
    pub async fn pending_between(
        &self,
        sender: MemberId,
        recipient: MemberId,
    ) -> Result<u32, Outage> {
        if self.inner.module {
            let n = self.module_count(sender.0, "IL.BETWEEN", recipient.0).await;
            return n
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                .map_err(|f| f.cause);
        }
        match self
            .script(sender.0, "pair", &[recipient.0.to_string()])
            .await
        {
            Ok(ScriptReply::Pair(n)) => Ok(n),
            Ok(_) => Err(Outage::BadData),
            Err(f) => Err(f.cause),
        }
    }

    pub(super) async fn end(&self, id: InviteId, op: &str) -> Result<u64, InviteError> {
        if id.seq() & UNRECORDED != 0 {
            return Err(InviteError::Unknown(id));
        }
        if self.inner.module {
            let name = match op {
                "a" => "IL.ACCEPT",
                "d" => "IL.DECLINE",
                "w" => "IL.WITHDRAW",
                _ => "IL.REPORT",
            };
            return self.module_end(id, name).await.map(|()| 0);
        }
        let s = id.sender().0;
        let args = [op.to_string(), id.seq().to_string()];
        match self.script(s, "end", &args).await {
            Ok(ScriptReply::Ended { recipient }) => Ok(recipient),
            Ok(ScriptReply::Unknown) => Err(InviteError::Unknown(id)),
            Ok(ScriptReply::AlreadyEnded { accepted_by }) => {
                // An acceptance whose recipient side may not have been recorded (a
                // failure between the two calls): finish it now; it is idempotent.
                if let (Some(r), "a") = (accepted_by, op) {
                    let sender = [id.sender().0.to_string()];
                    if let Err(f) = self.script(r, "mirror", &sender).await {
                        return Err(InviteError::Unavailable(f.cause));
                    }
                }
                Err(InviteError::AlreadyEnded(id))
            }
            Ok(ScriptReply::Expired(at)) => Err(InviteError::Expired {
                id,
                at: Timestamp::from_millis(at),
            }),
            Ok(_) => Err(InviteError::Unavailable(Outage::BadData)),
            Err(f) => Err(InviteError::Unavailable(f.cause)),
        }
    }

    /// The recipient accepts: the members connect and every invitation pending
    /// between them, in both directions, ends.
    ///
    /// # Errors
    /// [`InviteError`] when the invitation is not pending; `Unavailable` when Redis
    /// cannot answer. If the sender's side was recorded but the recipient's side
    /// could not be, the error is `Unavailable`; calling `accept` again finishes the
    /// recipient's side and answers `AlreadyEnded`.
    pub async fn accept(&self, id: InviteId) -> Result<(), InviteError> {
        if self.inner.module {
            // One command on one server connects both sides.
            return self.end(id, "a").await.map(|_| ());
        }
        let recipient = self.end(id, "a").await?;
        let sender = id.sender().0.to_string();
        let mut last = Outage::Timeout;
        for _ in 0..3 {
            match self
                .script(recipient, "mirror", std::slice::from_ref(&sender))
                .await
            {
                Ok(_) => return Ok(()),
                Err(f) => last = f.cause,
            }
        }
        Err(InviteError::Unavailable(last))
    }

    /// The recipient declines.
    ///
    /// # Errors
    /// As [`RedisEngine::accept`].
    pub async fn decline(&self, id: InviteId) -> Result<(), InviteError> {
        self.end(id, "d").await.map(|_| ())
    }

    /// The sender withdraws; the re-invite cooldown starts.
    ///
    /// # Errors
    /// As [`RedisEngine::accept`].
    pub async fn withdraw(&self, id: InviteId) -> Result<(), InviteError> {
        self.end(id, "w").await.map(|_| ())
    }

    /// The recipient says "I don't know this person": the invitation ends as declined.
    ///
    /// # Errors
    /// As [`RedisEngine::accept`].
    pub async fn report_unknown(&self, id: InviteId) -> Result<(), InviteError> {
        self.end(id, "r").await.map(|_| ())
    }
}
