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
#[must_use = "a request does nothing until it is sent"]
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

    /// The note as the rules judge it: the trimmed note, cut short when it is longer
    /// in bytes than four times the longest note any tier of `policy` allows.
    ///
    /// A character takes at most four bytes, so such a note is too long for every
    /// tier, and its first `4 × longest + 1` bytes (to the next character boundary)
    /// already hold more characters than any tier allows: they are all the rules
    /// read, so counting, fingerprinting, keyword scanning and journaling a note cost
    /// at most that much, whatever its size. Only trimming may look further, and only
    /// over whitespace. (The in-memory engine cuts under the sender's lock instead,
    /// with [`crate::rules::precedence::Subject::judged`], by the policy that lock guards.)
    #[cfg(any(test, feature = "redis"))]
    pub(crate) fn judged_note(&self, policy: &crate::Policy) -> Option<&str> {
        Some(bounded_note(self.trimmed_note()?, policy))
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

/// The part of a trimmed `note` the rules read under `policy`: all of it, or when it is
/// longer in bytes than 4 × the longest note any tier allows, its first `4 × longest + 1`
/// bytes (to the next character boundary), which already hold more characters than any
/// tier allows.
pub(crate) fn bounded_note<'a>(note: &'a str, policy: &crate::Policy) -> &'a str {
    let longest = policy
        .free
        .max_note_chars
        .max(policy.premium.max_note_chars);
    let bound = usize::try_from(longest)
        .unwrap_or(usize::MAX)
        .saturating_mul(4);
    if note.len() <= bound {
        return note;
    }
    let mut cut = bound + 1;
    while !note.is_char_boundary(cut) {
        cut += 1;
    }
    &note[..cut]
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

    #[test]
    fn a_note_too_long_for_every_tier_is_judged_on_a_bounded_prefix() {
        let policy = crate::Policy::default(); // Premium allows 300 characters.
        let judged = |note: String| {
            let req = InviteRequest::new(MemberId(1), MemberId(2)).note(note);
            req.judged_note(&policy).map(str::to_owned)
        };
        // Up to 1,200 bytes, and whatever the padding, the whole trimmed note.
        let emoji = "\u{1F600}".repeat(300);
        assert_eq!(judged(emoji.clone()), Some(emoji.clone()));
        let padded = format!("{}hi{}", " ".repeat(5_000), "\n".repeat(5_000));
        assert_eq!(judged(padded), Some("hi".to_owned()));
        // Longer: a prefix of 1,201 to 1,204 bytes, more characters than 300.
        let cut = judged("x".repeat(50 << 20)).unwrap();
        assert_eq!(cut.len(), 1_201);
        let cut = judged(format!("{emoji}\u{1F600}\u{1F600}")).unwrap();
        assert_eq!((cut.len(), cut.chars().count()), (1_204, 301));
        let mixed = judged(format!("ab{}", "\u{1F600}".repeat(1_000))).unwrap();
        assert_eq!((mixed.len(), mixed.chars().count()), (1_202, 302));
    }
}
