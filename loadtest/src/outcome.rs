//! What an engine call answered, as a small fixed set for counting.

use invite_limiter::{DenyReason, InviteError};

/// Every answer the workload counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    IdempotencyConflict,
    SelfInvite,
    SenderBanned,
    SenderRestricted,
    RecipientUnavailable,
    AlreadyConnected,
    RecipientNotAccepting,
    PairPendingLimit,
    ReinviteCooldown,
    DailyLimit,
    WeeklyLimit,
    NoteQuota,
    NoteTooLong,
    SpamSuspected,
    /// The backend could not answer (Redis down, timed out, circuit open).
    Unavailable,
    /// A reason added to the library after this tool was written.
    OtherDenial,
    /// A lifecycle call succeeded.
    Ok,
    AlreadyEnded,
    Expired,
    Unknown,
    ReminderNotAllowed,
    OtherError,
    /// A diagnosis with nothing blocking.
    Clear,
    /// A capacity read.
    Read,
}

pub const OUTCOMES: usize = 25;

pub const ALL_OUTCOMES: [Outcome; OUTCOMES] = [
    Outcome::Sent,
    Outcome::IdempotencyConflict,
    Outcome::SelfInvite,
    Outcome::SenderBanned,
    Outcome::SenderRestricted,
    Outcome::RecipientUnavailable,
    Outcome::AlreadyConnected,
    Outcome::RecipientNotAccepting,
    Outcome::PairPendingLimit,
    Outcome::ReinviteCooldown,
    Outcome::DailyLimit,
    Outcome::WeeklyLimit,
    Outcome::NoteQuota,
    Outcome::NoteTooLong,
    Outcome::SpamSuspected,
    Outcome::Unavailable,
    Outcome::OtherDenial,
    Outcome::Ok,
    Outcome::AlreadyEnded,
    Outcome::Expired,
    Outcome::Unknown,
    Outcome::ReminderNotAllowed,
    Outcome::OtherError,
    Outcome::Clear,
    Outcome::Read,
];

impl Outcome {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Sent => "Sent",
            Outcome::IdempotencyConflict => "IdempotencyConflict",
            Outcome::SelfInvite => "SelfInvite",
            Outcome::SenderBanned => "SenderBanned",
            Outcome::SenderRestricted => "SenderRestricted",
            Outcome::RecipientUnavailable => "RecipientUnavailable",
            Outcome::AlreadyConnected => "AlreadyConnected",
            Outcome::RecipientNotAccepting => "RecipientNotAccepting",
            Outcome::PairPendingLimit => "PairPendingLimit",
            Outcome::ReinviteCooldown => "ReinviteCooldown",
            Outcome::DailyLimit => "DailyLimit",
            Outcome::WeeklyLimit => "WeeklyLimit",
            Outcome::NoteQuota => "NoteQuota",
            Outcome::NoteTooLong => "NoteTooLong",
            Outcome::SpamSuspected => "SpamSuspected",
            Outcome::Unavailable => "Unavailable",
            Outcome::OtherDenial => "OtherDenial",
            Outcome::Ok => "Ok",
            Outcome::AlreadyEnded => "AlreadyEnded",
            Outcome::Expired => "Expired",
            Outcome::Unknown => "Unknown",
            Outcome::ReminderNotAllowed => "ReminderNotAllowed",
            Outcome::OtherError => "OtherError",
            Outcome::Clear => "Clear",
            Outcome::Read => "Read",
        }
    }

    /// Whether this is a send's decision (sent or a deny reason).
    pub fn is_decision(self) -> bool {
        self.index() <= Outcome::OtherDenial.index()
    }

    pub fn denial(reason: &DenyReason) -> Outcome {
        match reason {
            DenyReason::IdempotencyConflict { .. } => Outcome::IdempotencyConflict,
            DenyReason::SelfInvite => Outcome::SelfInvite,
            DenyReason::SenderBanned => Outcome::SenderBanned,
            DenyReason::SenderRestricted { .. } => Outcome::SenderRestricted,
            DenyReason::RecipientUnavailable => Outcome::RecipientUnavailable,
            DenyReason::AlreadyConnected => Outcome::AlreadyConnected,
            DenyReason::RecipientNotAccepting { .. } => Outcome::RecipientNotAccepting,
            DenyReason::PairPendingLimit { .. } => Outcome::PairPendingLimit,
            DenyReason::ReinviteCooldown { .. } => Outcome::ReinviteCooldown,
            DenyReason::DailyLimit { .. } => Outcome::DailyLimit,
            DenyReason::WeeklyLimit { .. } => Outcome::WeeklyLimit,
            DenyReason::NoteQuota { .. } => Outcome::NoteQuota,
            DenyReason::NoteTooLong { .. } => Outcome::NoteTooLong,
            DenyReason::SpamSuspected { .. } => Outcome::SpamSuspected,
            DenyReason::Unavailable { .. } => Outcome::Unavailable,
            _ => Outcome::OtherDenial,
        }
    }

    pub fn invite_error(err: &InviteError) -> Outcome {
        match err {
            InviteError::Unknown(_) => Outcome::Unknown,
            InviteError::AlreadyEnded(_) => Outcome::AlreadyEnded,
            InviteError::Expired { .. } => Outcome::Expired,
            InviteError::ReminderNotAllowed { .. } => Outcome::ReminderNotAllowed,
            InviteError::Unavailable(_) => Outcome::Unavailable,
            _ => Outcome::OtherError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_follow_the_table() {
        for (i, o) in ALL_OUTCOMES.iter().enumerate() {
            assert_eq!(o.index(), i, "{}", o.name());
        }
        assert!(Outcome::SpamSuspected.is_decision());
        assert!(!Outcome::Ok.is_decision());
    }
}
