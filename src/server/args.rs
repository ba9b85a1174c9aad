//! Reading a command's arguments: numbers, words, emails and the options of a send.

use crate::account::AccountStatus;
use crate::codes::names;
use crate::server::op::{PolicyExtras, Request};
use crate::server::CommandError;

/// Arguments, read front to back.
pub(crate) struct Args<'a> {
    pub(crate) rest: &'a [&'a [u8]],
}

impl<'a> Args<'a> {
    pub(crate) fn next(&mut self, what: &str) -> Result<&'a [u8], CommandError> {
        let (first, rest) = self.rest.split_first().ok_or_else(|| {
            CommandError::new(format!("wrong number of arguments: {what} missing"))
        })?;
        self.rest = rest;
        Ok(first)
    }

    pub(crate) fn text(&mut self, what: &str) -> Result<&'a str, CommandError> {
        std::str::from_utf8(self.next(what)?)
            .map_err(|_| CommandError::new(format!("{what} is not UTF-8")))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, CommandError> {
        number(self.next(what)?, what)
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, CommandError> {
        u32_of(self.next(what)?, what)
    }

    pub(crate) fn word(&mut self, what: &str) -> Result<String, CommandError> {
        Ok(self.text(what)?.to_ascii_lowercase())
    }

    pub(crate) fn is_done(&self) -> bool {
        self.rest.is_empty()
    }
}

/// A decimal number in `0..=u64::MAX`, digits only.
pub(crate) fn number(arg: &[u8], what: &str) -> Result<u64, CommandError> {
    let bad = || CommandError::new(format!("{what} is not a non-negative integer"));
    if arg.is_empty() || arg.len() > 20 || !arg.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)
}

pub(crate) fn u32_of(arg: &[u8], what: &str) -> Result<u32, CommandError> {
    u32::try_from(number(arg, what)?)
        .map_err(|_| CommandError::new(format!("{what} is over {}", u32::MAX)))
}

/// The member caps after a policy: `CAPS connections follows emails contacts`, or
/// the defaults.
pub(crate) fn extras(a: &mut Args<'_>) -> Result<PolicyExtras, CommandError> {
    let next_is =
        |a: &Args<'_>, w: &[u8]| a.rest.first().is_some_and(|x| x.eq_ignore_ascii_case(w));
    let mut extras = PolicyExtras::default();
    if next_is(a, b"CAPS") {
        extras.caps = caps(a)?;
    }
    if next_is(a, b"SHADOW") {
        a.next("SHADOW")?;
        let bits = u8::try_from(a.u64("SHADOW")?).ok();
        extras.shadow = bits
            .and_then(crate::Shadow::from_bits)
            .ok_or_else(|| CommandError::new("SHADOW is not a set of rules in shadow mode"))?;
    }
    Ok(extras)
}

/// `CAPS connections follows emails contacts`.
fn caps(a: &mut Args<'_>) -> Result<crate::MemberLimits, CommandError> {
    a.next("CAPS")?;
    let caps = crate::MemberLimits {
        max_connections: a.u32("max connections")?,
        max_follows: a.u32("max follows")?,
        max_emails: a.u32("max emails")?,
        max_contacts: a.u32("max contacts")?,
    };
    caps.validate()
        .map_err(|e| CommandError::new(format!("invalid caps: {e}")))?;
    Ok(caps)
}

/// An email, normalised as the engine stores it.
pub(crate) fn email(a: &mut Args<'_>) -> Result<String, CommandError> {
    let raw = a.text("email")?;
    crate::email::normalize(raw).map_err(|e| CommandError::new(format!("{e}")))
}

/// A send's or a diagnosis's arguments: the two members, then options in any order.
pub(crate) fn request(a: &mut Args<'_>, peer: bool) -> Result<Request, CommandError> {
    let mut req = Request {
        sender: a.u64("sender")?,
        recipient: a.u64("recipient")?,
        note: None,
        key: None,
        email: None,
        counted: true,
        peer: None,
        facts: None,
    };
    while let Some(opt) = a.rest.first() {
        match opt.to_ascii_uppercase().as_slice() {
            b"NOTE" if req.note.is_none() => {
                a.next("NOTE")?;
                req.note = Some(a.text("note")?.to_owned());
            }
            b"KEY" if req.key.is_none() => {
                a.next("KEY")?;
                req.key = Some(a.u64("idempotency key")?);
            }
            b"EMAIL" if req.email.is_none() => {
                a.next("EMAIL")?;
                // Kept as given: an invalid email counts as none, as in the engine.
                let email = a.text("email")?.to_owned();
                let owner = match a.rest.first() {
                    Some(w) if w.eq_ignore_ascii_case(b"OWNER") => {
                        a.next("OWNER")?;
                        Some(a.u64("owner")?)
                    }
                    _ => None,
                };
                req.email = Some((email, owner));
            }
            b"FACTS" if peer && req.peer.is_none() && req.facts.is_none() => {
                a.next("FACTS")?;
                let banned = match a.word("status")?.as_str() {
                    "active" => false,
                    "banned" => true,
                    _ => return Err(CommandError::new("FACTS status must be active or banned")),
                };
                let setting = names::setting_named(&a.word("setting")?).ok_or_else(|| {
                    CommandError::new(format!(
                        "setting must be one of {}",
                        names::SETTING_NAMES.join(", ")
                    ))
                })?;
                req.facts = Some((banned, setting));
            }
            b"PEER" if peer && req.peer.is_none() && req.facts.is_none() => {
                a.next("PEER")?;
                req.peer = Some(Some(a.next("peer value")?.to_vec()));
            }
            b"NOCOUNT" if req.counted => {
                a.next("NOCOUNT")?;
                req.counted = false;
            }
            _ => break,
        }
    }
    if peer && req.peer.is_none() {
        req.peer = Some(None);
    }
    Ok(req)
}

/// A status: `active`, `banned`, or `restricted [UNTIL <ms>]`.
pub(crate) fn status(a: &mut Args<'_>) -> Result<AccountStatus, CommandError> {
    Ok(match a.word("status")?.as_str() {
        "active" => AccountStatus::Active,
        "banned" => AccountStatus::Banned,
        "restricted" => {
            let until = match a.rest.first() {
                Some(w) if w.eq_ignore_ascii_case(b"UNTIL") => {
                    a.next("UNTIL")?;
                    // Any instant: a restriction past the end of time never lifts.
                    Some(crate::Timestamp::from_millis(a.u64("UNTIL")?))
                }
                _ => None,
            };
            AccountStatus::Restricted { until }
        }
        other => {
            return Err(CommandError::new(format!(
                "unknown status {other}: active, restricted or banned"
            )))
        }
    })
}
