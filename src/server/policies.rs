//! The policies a server decides by: the default one, and policies set under a
//! name (one per gateway deployment or key prefix), which a command picks with
//! `RULES <name>`. They travel in RDB files as the module's auxiliary data.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::codec::{Reader, Writer};
use crate::policy::Policy;
use crate::rules::Rules;
use crate::server::op::PolicyExtras;
use crate::server::CommandError;
use crate::MemberLimits;

/// Longest policy name accepted.
const MAX_NAME: usize = 256;
/// Most named policies one server keeps.
const MAX_NAMED: usize = 4_096;
/// The layout version of the saved policies.
const VERSION: u8 = 3;

#[derive(Debug, Clone)]
pub(crate) struct Policies {
    default: Entry,
    named: BTreeMap<String, Entry>,
}

/// A policy's rules and the member caps set with it.
#[derive(Debug, Clone)]
struct Entry {
    rules: Arc<Rules>,
    caps: MemberLimits,
}

fn entry(policy: Policy, extras: PolicyExtras) -> Entry {
    Entry {
        rules: Rules::new(Arc::new(policy), extras.shadow, false),
        caps: extras.caps,
    }
}

/// A policy from its bytes, validated.
fn decode(bytes: &[u8]) -> Result<Policy, CommandError> {
    let policy = crate::policy::codec::decode(bytes).map_err(|e| {
        CommandError::new(format!("policy malformed at byte {}: {}", e.offset, e.what))
    })?;
    policy
        .validate()
        .map_err(|e| CommandError::new(format!("invalid policy: {e}")))?;
    Ok(policy)
}

impl Policies {
    pub(crate) fn new(policy: Policy) -> Self {
        Policies {
            default: entry(policy, PolicyExtras::default()),
            named: BTreeMap::new(),
        }
    }

    /// The rules named `name` (the default ones for `None`).
    pub(crate) fn get(&self, name: Option<&str>) -> Result<Arc<Rules>, CommandError> {
        match name {
            None => Ok(Arc::clone(&self.default.rules)),
            Some(n) => self
                .named
                .get(n)
                .map(|e| Arc::clone(&e.rules))
                .ok_or_else(|| {
                    CommandError::new(format!(
                        "unknown rules {n}: set them with IL.POLICY SET {n} <policy>"
                    ))
                }),
        }
    }

    /// The bytes of the policy named `name` (the default for `None`), if known.
    pub(crate) fn encoded(&self, name: Option<&str>) -> Option<Vec<u8>> {
        let entry = match name {
            None => &self.default,
            Some(n) => self.named.get(n)?,
        };
        Some(crate::policy::codec::encode(&entry.rules.policy))
    }

    /// The member caps set with the policy named `name` (the defaults when unknown).
    pub(crate) fn caps(&self, name: Option<&str>) -> MemberLimits {
        match name {
            None => self.default.caps,
            Some(n) => self
                .named
                .get(n)
                .map_or_else(MemberLimits::default, |e| e.caps),
        }
    }

    /// Puts the policy in `bytes` in force under `name`; nothing changes on error.
    pub(crate) fn set(
        &mut self,
        name: Option<&str>,
        bytes: &[u8],
        extras: PolicyExtras,
    ) -> Result<(), CommandError> {
        let policy = decode(bytes)?;
        match name {
            None => self.default = entry(policy, extras),
            Some(n) => {
                if n.is_empty() || n.len() > MAX_NAME {
                    return Err(CommandError::new("a policy name is 1 to 256 bytes"));
                }
                if !self.named.contains_key(n) && self.named.len() >= MAX_NAMED {
                    return Err(CommandError::new("too many named policies"));
                }
                self.named.insert(n.to_owned(), entry(policy, extras));
            }
        }
        Ok(())
    }

    /// Every policy, for the RDB file: the default, then each named one.
    pub(crate) fn save(&self) -> Vec<u8> {
        let mut w = Writer::default();
        let put_entry = |w: &mut Writer, e: &Entry| {
            put(w, &crate::policy::codec::encode(&e.rules.policy));
            let c = e.caps;
            for cap in [
                c.max_connections,
                c.max_follows,
                c.max_emails,
                c.max_contacts,
            ] {
                w.u32(cap);
            }
            w.u8(e.rules.shadow.bits());
        };
        w.u8(VERSION);
        put_entry(&mut w, &self.default);
        w.len(self.named.len());
        for (name, e) in &self.named {
            w.str(name);
            put_entry(&mut w, e);
        }
        w.into_bytes()
    }

    /// Reads what [`Policies::save`] wrote; nothing changes on error.
    pub(crate) fn load(&mut self, bytes: &[u8]) -> Result<(), CommandError> {
        let bad = |e: crate::codec::DecodeError| {
            CommandError::new(format!(
                "policies malformed at byte {}: {}",
                e.offset, e.what
            ))
        };
        let mut r = Reader::new(bytes, 0);
        let mut out = Policies::new(Policy::default());
        if r.u8().map_err(bad)? != VERSION {
            return Err(CommandError::new("policies of an unknown version"));
        }
        let mut read_entry = |r: &mut Reader<'_>, name: Option<&str>| {
            let bytes = take(r).map_err(bad)?;
            let caps = MemberLimits {
                max_connections: r.u32().map_err(bad)?,
                max_follows: r.u32().map_err(bad)?,
                max_emails: r.u32().map_err(bad)?,
                max_contacts: r.u32().map_err(bad)?,
            };
            caps.validate()
                .map_err(|e| CommandError::new(format!("invalid caps: {e}")))?;
            let shadow = crate::Shadow::from_bits(r.u8().map_err(bad)?)
                .ok_or_else(|| CommandError::new("invalid shadow rules"))?;
            out.set(name, &bytes, PolicyExtras { caps, shadow })
        };
        read_entry(&mut r, None)?;
        for _ in 0..r.len(2).map_err(bad)? {
            let name = r.str().map_err(bad)?;
            read_entry(&mut r, Some(&name))?;
        }
        if !r.is_done() {
            return Err(CommandError::new("unexpected bytes after the policies"));
        }
        *self = out;
        Ok(())
    }
}

fn put(w: &mut Writer, bytes: &[u8]) {
    w.len(bytes.len());
    bytes.iter().for_each(|&b| w.u8(b));
}

fn take(r: &mut Reader<'_>) -> Result<Vec<u8>, crate::codec::DecodeError> {
    let n = r.len(1)?;
    (0..n).map(|_| r.u8()).collect()
}
