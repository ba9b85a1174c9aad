//! What a send needs to know about its recipient: read from the recipient's state
//! (see `crate::sender::admission`) and handed to the sender's state machine.

use crate::account::InviteSetting;

/// What the decision needs to know about the recipient.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub(crate) banned: bool,
    pub(crate) setting: InviteSetting,
    /// Whether the recipient's setting admits this sender.
    pub(crate) admits: bool,
    /// No shared connection, neither in the other's contacts, no email given.
    pub(crate) stranger: bool,
}

impl View {
    /// A recipient with nothing special about them, who shares nothing with the sender.
    pub(crate) fn plain(email_given: bool) -> Self {
        View {
            banned: false,
            setting: InviteSetting::Everyone,
            admits: true,
            stranger: !email_given,
        }
    }
}

/// What the request's email says about the recipient.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmailMatch {
    /// An email was given that does not belong to another member.
    pub(crate) given: bool,
    /// The member the email is registered to.
    pub(crate) owner: Option<u64>,
}
