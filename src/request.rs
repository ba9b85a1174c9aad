//! What a sender asks for.

/// A request to invite `recipient` on behalf of `sender`.
///
/// ```
/// use invite_limiter::{InviteRequest, MemberId};
///
/// let req = InviteRequest::new(MemberId(1), MemberId(2))
///     .note("We met at the RustConf hallway track.")
///     .idempotency_key(42);
/// assert_eq!(req.recipient(), MemberId(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InviteRequest {
    sender: crate::MemberId,
    recipient: crate::MemberId,
    note: Option<String>,
    recipient_email: Option<String>,
    idempotency_key: Option<u64>,
}

impl InviteRequest {
    /// A bare request: no note, no email, no idempotency key.
    pub fn new(sender: crate::MemberId, recipient: crate::MemberId) -> Self {
        InviteRequest {
            sender,
            recipient,
            note: None,
            recipient_email: None,
            idempotency_key: None,
        }
    }

    /// Adds a personalised note; a note that is empty after trimming is no note.
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.note = Some(text.into());
        self
    }

    /// Adds the recipient's email, showing the sender knows them.
    pub fn recipient_email(mut self, email: impl Into<String>) -> Self {
        self.recipient_email = Some(email.into());
        self
    }

    /// Makes a retry of this request safe: an accepted send with the same key from the
    /// same sender within 24 hours is returned again instead of sending twice.
    pub fn idempotency_key(mut self, key: u64) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    /// The sender.
    pub fn sender(&self) -> crate::MemberId {
        self.sender
    }

    /// The recipient.
    pub fn recipient(&self) -> crate::MemberId {
        self.recipient
    }

    /// The note, trimmed, if it has any text.
    pub fn trimmed_note(&self) -> Option<&str> {
        self.note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
    }

    /// The recipient email given, as written.
    pub fn email(&self) -> Option<&str> {
        self.recipient_email.as_deref()
    }

    /// The idempotency key, if any.
    pub fn key(&self) -> Option<u64> {
        self.idempotency_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemberId;

    #[test]
    fn blank_note_is_no_note() {
        let r = InviteRequest::new(MemberId(1), MemberId(2)).note("  \n ");
        assert_eq!(r.trimmed_note(), None);
        let r = InviteRequest::new(MemberId(1), MemberId(2)).note("  hi ");
        assert_eq!(r.trimmed_note(), Some("hi"));
    }
}
