//! The policies a server decides by: the default one, and policies set under a
//! name (one per gateway deployment or key prefix), which a command picks with
//! `RULES <name>`. They travel in RDB files as the module's auxiliary data.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::codec::{Reader, Writer};
use crate::policy::Policy;
use crate::rules::Rules;
use crate::server::CommandError;

/// Longest policy name accepted.
const MAX_NAME: usize = 256;
/// Most named policies one server keeps.
const MAX_NAMED: usize = 4_096;
/// The layout version of the saved policies.
const VERSION: u8 = 1;

#[derive(Debug, Clone)]
pub(crate) struct Policies {
    default: Arc<Rules>,
    named: BTreeMap<String, Arc<Rules>>,
}

fn rules(policy: Policy) -> Arc<Rules> {
    Rules::new(Arc::new(policy), crate::Shadow::none(), false)
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
            default: rules(policy),
            named: BTreeMap::new(),
        }
    }

    /// The rules named `name` (the default ones for `None`).
    pub(crate) fn get(&self, name: Option<&str>) -> Result<Arc<Rules>, CommandError> {
        match name {
            None => Ok(Arc::clone(&self.default)),
            Some(n) => self.named.get(n).cloned().ok_or_else(|| {
                CommandError::new(format!(
                    "unknown rules {n}: set them with IL.POLICY SET {n} <policy>"
                ))
            }),
        }
    }

    /// The bytes of the policy named `name` (the default for `None`), if known.
    pub(crate) fn encoded(&self, name: Option<&str>) -> Option<Vec<u8>> {
        let rules = match name {
            None => &self.default,
            Some(n) => self.named.get(n)?,
        };
        Some(crate::policy::codec::encode(&rules.policy))
    }

    /// Puts the policy in `bytes` in force under `name`; nothing changes on error.
    pub(crate) fn set(&mut self, name: Option<&str>, bytes: &[u8]) -> Result<(), CommandError> {
        let policy = decode(bytes)?;
        match name {
            None => self.default = rules(policy),
            Some(n) => {
                if n.is_empty() || n.len() > MAX_NAME {
                    return Err(CommandError::new("a policy name is 1 to 256 bytes"));
                }
                if !self.named.contains_key(n) && self.named.len() >= MAX_NAMED {
                    return Err(CommandError::new("too many named policies"));
                }
                self.named.insert(n.to_owned(), rules(policy));
            }
        }
        Ok(())
    }

    /// Every policy, for the RDB file: the default, then each named one.
    pub(crate) fn save(&self) -> Vec<u8> {
        let mut w = Writer::default();
        let bytes = |r: &Rules| crate::policy::codec::encode(&r.policy);
        w.u8(VERSION);
        put(&mut w, &bytes(&self.default));
        w.len(self.named.len());
        for (name, r) in &self.named {
            w.str(name);
            put(&mut w, &bytes(r));
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
        out.set(None, &take(&mut r).map_err(bad)?)?;
        for _ in 0..r.len(2).map_err(bad)? {
            let name = r.str().map_err(bad)?;
            out.set(Some(&name), &take(&mut r).map_err(bad)?)?;
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
