//! What a command answers, independent of the protocol that carries it.

use crate::outcome::{Denied, InviteError};
use crate::time::Timestamp;

/// A command's answer, as the module writes it back in RESP.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Ok,
    /// An integer.
    Int(i64),
    /// A text (bulk string).
    Text(String),
    /// Raw bytes (bulk string).
    Bytes(Vec<u8>),
    /// No value.
    Nil,
    /// A list.
    Array(Vec<Reply>),
}

impl Reply {
    pub(crate) fn text(s: &str) -> Reply {
        Reply::Text(s.to_owned())
    }

    /// An instant, or nil.
    pub(crate) fn instant(t: Option<Timestamp>) -> Reply {
        t.map_or(Reply::Nil, |t| Reply::millis(t.as_millis()))
    }

    /// An instant in milliseconds: an integer, or text past `i64::MAX` (a
    /// restriction that never lifts), so every instant reads back exactly.
    pub(crate) fn millis(ms: u64) -> Reply {
        Reply::number(ms)
    }

    /// A member id: text, since ids use all 64 bits.
    pub(crate) fn id(id: u64) -> Reply {
        Reply::Text(id.to_string())
    }

    /// `["sent", seq, expires_at, shadowed, shadowed_retry_at or nil]`: the rules in
    /// shadow mode that would have denied the send (their bits), and when they clear.
    pub(crate) fn sent(sent: &crate::Sent) -> Reply {
        Reply::Array(vec![
            Reply::text("sent"),
            Reply::Int(i64::try_from(sent.id().seq()).unwrap_or(i64::MAX)),
            Reply::instant(Some(sent.expires_at())),
            Reply::Int(i64::from(sent.shadowed().bits())),
            Reply::instant(sent.shadowed_retry_at()),
        ])
    }

    /// One `[code, retry_at or nil, details…]` per rule that would deny, in
    /// precedence order.
    pub(crate) fn blockers(blockers: &[crate::Blocker]) -> Reply {
        let one = |b: &crate::Blocker| {
            let (code, details) = crate::codes::words::reason_words(b.reason());
            let mut items = vec![Reply::text(code), Reply::instant(b.retry_at())];
            items.extend(details.into_iter().map(Reply::number));
            Reply::Array(items)
        };
        Reply::Array(blockers.iter().map(one).collect())
    }

    /// A number the reply carries as text when it does not fit an integer reply.
    fn number(n: u64) -> Reply {
        i64::try_from(n).map_or_else(|_| Reply::Text(n.to_string()), Reply::Int)
    }

    /// `["denied", code, retry_at or nil, remedy, details…]` (the reason's numbers,
    /// see `codes::words`).
    pub(crate) fn denied(d: &Denied) -> Reply {
        let (code, details) = crate::codes::words::reason_words(&d.reason);
        let mut items = vec![
            Reply::text("denied"),
            Reply::text(code),
            Reply::instant(d.retry_at),
            Reply::text(d.reason.remedy()),
        ];
        items.extend(details.into_iter().map(Reply::number));
        Reply::Array(items)
    }

    /// `["unknown"]`, `["ended"]`, `["expired", at]` or `["too_soon", next_at or nil]`.
    pub(crate) fn invite_error(e: &InviteError) -> Reply {
        let items = match e {
            InviteError::Unknown(_) => vec![Reply::text("unknown")],
            InviteError::AlreadyEnded(_) => vec![Reply::text("ended")],
            InviteError::Expired { at, .. } => {
                vec![Reply::text("expired"), Reply::instant(Some(*at))]
            }
            InviteError::ReminderNotAllowed { next_at, .. } => {
                vec![Reply::text("too_soon"), Reply::instant(*next_at)]
            }
            InviteError::Unavailable(_) => vec![Reply::text("unavailable")],
        };
        Reply::Array(items)
    }
}
