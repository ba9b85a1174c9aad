//! The replay trace format: one JSON object per line (see loadtest/README.md).

use invite_limiter::{AccountStatus, InviteId, InviteSetting, MemberId, Tier, Timestamp};
use serde::Deserialize;

/// One line of a trace: when, and what.
#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    /// Milliseconds since the Unix epoch, at most `Timestamp::MAX` (the replay refuses
    /// a later one); the engine's clock is set to it first.
    pub at: u64,
    #[serde(flatten)]
    pub op: Op,
}

/// The fields of a send or a diagnosis.
#[derive(Debug, Clone, Deserialize)]
pub struct Request {
    pub sender: u64,
    pub recipient: u64,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub key: Option<u64>,
}

impl Request {
    pub fn build(&self) -> invite_limiter::InviteRequest {
        let mut req =
            invite_limiter::InviteRequest::new(MemberId(self.sender), MemberId(self.recipient));
        if let Some(note) = &self.note {
            req = req.note(note.clone());
        }
        if let Some(email) = &self.email {
            req = req.recipient_email(email.clone());
        }
        if let Some(key) = self.key {
            req = req.idempotency_key(key);
        }
        req
    }
}

/// An invitation named in a trace: the line number of the earlier send that made it,
/// or its id as the engine prints it (`inv-<sender hex>-<sequence hex>`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum InviteRef {
    Line(u64),
    Id(String),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierName {
    #[serde(alias = "Free")]
    Free,
    #[serde(alias = "Premium")]
    Premium,
}

impl From<TierName> for Tier {
    fn from(t: TierName) -> Tier {
        match t {
            TierName::Free => Tier::Free,
            TierName::Premium => Tier::Premium,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusName {
    #[serde(alias = "Active")]
    Active,
    #[serde(alias = "Restricted")]
    Restricted,
    #[serde(alias = "Banned")]
    Banned,
}

impl StatusName {
    pub fn status(self, until: Option<u64>) -> AccountStatus {
        match self {
            StatusName::Active => AccountStatus::Active,
            StatusName::Restricted => AccountStatus::Restricted {
                until: until.map(Timestamp::from_millis),
            },
            StatusName::Banned => AccountStatus::Banned,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingName {
    #[serde(alias = "Everyone")]
    Everyone,
    #[serde(alias = "EmailOrContacts")]
    EmailOrContacts,
    #[serde(alias = "ContactsOnly")]
    ContactsOnly,
    #[serde(alias = "NetworkOnly")]
    NetworkOnly,
    #[serde(alias = "FollowingOnly")]
    FollowingOnly,
    #[serde(alias = "Nobody")]
    Nobody,
}

impl From<SettingName> for InviteSetting {
    fn from(s: SettingName) -> InviteSetting {
        match s {
            SettingName::Everyone => InviteSetting::Everyone,
            SettingName::EmailOrContacts => InviteSetting::EmailOrContacts,
            SettingName::ContactsOnly => InviteSetting::ContactsOnly,
            SettingName::NetworkOnly => InviteSetting::NetworkOnly,
            SettingName::FollowingOnly => InviteSetting::FollowingOnly,
            SettingName::Nobody => InviteSetting::Nobody,
        }
    }
}

/// Every operation a trace can hold, named by its `"op"` field.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Send(Request),
    Diagnose(Request),
    Accept {
        invite: InviteRef,
    },
    Decline {
        invite: InviteRef,
    },
    Withdraw {
        invite: InviteRef,
    },
    #[serde(alias = "report")]
    ReportUnknown {
        invite: InviteRef,
    },
    Remind {
        invite: InviteRef,
    },
    SetTier {
        member: u64,
        tier: TierName,
    },
    SetStatus {
        member: u64,
        status: StatusName,
        #[serde(default)]
        until: Option<u64>,
    },
    SetInviteSetting {
        member: u64,
        setting: SettingName,
    },
    Connect {
        a: u64,
        b: u64,
    },
    Disconnect {
        a: u64,
        b: u64,
    },
    Follow {
        follower: u64,
        followee: u64,
    },
    Unfollow {
        follower: u64,
        followee: u64,
    },
    RegisterEmail {
        member: u64,
        email: String,
    },
    ImportContacts {
        member: u64,
        emails: Vec<String>,
    },
    Capacity {
        member: u64,
    },
    Sweep {},
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Send(_) => "send",
            Op::Diagnose(_) => "diagnose",
            Op::Accept { .. } => "accept",
            Op::Decline { .. } => "decline",
            Op::Withdraw { .. } => "withdraw",
            Op::ReportUnknown { .. } => "report_unknown",
            Op::Remind { .. } => "remind",
            Op::SetTier { .. } => "set_tier",
            Op::SetStatus { .. } => "set_status",
            Op::SetInviteSetting { .. } => "set_invite_setting",
            Op::Connect { .. } => "connect",
            Op::Disconnect { .. } => "disconnect",
            Op::Follow { .. } => "follow",
            Op::Unfollow { .. } => "unfollow",
            Op::RegisterEmail { .. } => "register_email",
            Op::ImportContacts { .. } => "import_contacts",
            Op::Capacity { .. } => "capacity",
            Op::Sweep {} => "sweep",
        }
    }
}

/// Parses one line; the error says what is wrong and at which column.
pub fn parse(text: &str) -> Result<Line, String> {
    serde_json::from_str::<Line>(text).map_err(|e| {
        let msg = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let msg = msg.strip_suffix(&suffix).unwrap_or(&msg).to_string();
        let msg = match e.classify() {
            serde_json::error::Category::Data => format!("invalid operation: {msg}"),
            _ => format!("not a JSON object: {msg}"),
        };
        if e.column() > 0 {
            format!("{msg} (column {})", e.column())
        } else {
            msg
        }
    })
}

/// Parses an id as the engine prints it: `inv-<sender hex>-<sequence hex>`.
pub fn parse_invite_id(text: &str) -> Option<InviteId> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_errors_name_the_problem() {
        let l = parse(r#"{"at":5,"op":"send","sender":1,"recipient":2,"note":"hi"}"#).unwrap();
        assert_eq!(l.at, 5);
        assert!(matches!(l.op, Op::Send(ref r) if r.note.as_deref() == Some("hi")));
        let l = parse(r#"{"at":6,"op":"accept","invite":3}"#).unwrap();
        assert!(matches!(
            l.op,
            Op::Accept {
                invite: InviteRef::Line(3)
            }
        ));
        let l = parse(r#"{"at":6,"op":"report","invite":"inv-1-0"}"#).unwrap();
        assert!(matches!(l.op, Op::ReportUnknown { .. }));
        let l = parse(r#"{"at":6,"op":"set_tier","member":1,"tier":"Premium"}"#).unwrap();
        assert!(matches!(
            l.op,
            Op::SetTier {
                tier: TierName::Premium,
                ..
            }
        ));
        assert!(parse(r#"{"at":6,"op":"send","sender":1}"#)
            .unwrap_err()
            .contains("recipient"));
        assert!(parse(r#"{"at":6,"op":"fly"}"#).unwrap_err().contains("fly"));
        assert!(parse("{not json").is_err());
        assert!(parse(r#"{"op":"sweep"}"#).unwrap_err().contains("at"));
    }

    #[test]
    fn invite_ids_round_trip_through_text() {
        let id = parse_invite_id("inv-ff-1a").unwrap();
        assert_eq!(id.to_string(), "inv-ff-1a");
        assert_eq!(id.sender(), MemberId(255));
        assert!(parse_invite_id("inv-ff").is_none());
        assert!(parse_invite_id("inv-zz-1").is_none());
        assert!(parse_invite_id("inv-+f-1").is_none());
        assert!(parse_invite_id("7").is_none());
    }
}
