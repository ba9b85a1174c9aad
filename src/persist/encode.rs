//! Writing a snapshot's bytes: the header, each shard's section (encoded by the
//! engine under that shard's lock, from the plain parts of [`ShardParts`]), the
//! trailer; and one member's record, which the Redis module stores alone.

use std::io::Write;

use super::{PersistError, FORMAT_VERSION, MAGIC};
use crate::codec::Writer;
use crate::codes;
use crate::rules::spam::SpamState;
use crate::sender::record::{Extra, Member};

/// Counts the trailer repeats, so a restore can check it read every section whole.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    members: u64,
    invitations: u64,
    seq_floor: u64,
}

/// The output stream with a running checksum of everything written.
struct Checked<'a, W: Write> {
    out: &'a mut W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Checked<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), PersistError> {
        self.crc.update(bytes);
        self.out.write_all(bytes)?;
        Ok(())
    }
}

/// What a shard's section holds, borrowed from the shard under its lock.
pub(crate) struct ShardParts<'a> {
    pub(crate) now: u64,
    pub(crate) seq_floor: u64,
    pub(crate) expired_unswept: u64,
    pub(crate) members: Vec<(u64, &'a Member)>,
}

/// Writes a snapshot of the encoded shards.
/// Writes a snapshot of `shards` encoded shards taken at `now`.
pub(crate) fn write_parts(
    shards: usize,
    now: u64,
    out: &mut impl Write,
    parts: impl Iterator<Item = (Vec<u8>, Totals)>,
) -> Result<(), PersistError> {
    write_parts_as(shards, now, out, parts, FORMAT_VERSION)
}

/// [`write_parts`] in format `version` (older ones only to test that they restore).
pub(crate) fn write_parts_as(
    shards: usize,
    now: u64,
    out: &mut impl Write,
    parts: impl Iterator<Item = (Vec<u8>, Totals)>,
    version: u32,
) -> Result<(), PersistError> {
    let mut file = Checked {
        out,
        crc: crc32fast::Hasher::new(),
    };
    // The builder caps shards at 2^16, so the count always fits.
    let shards = u32::try_from(shards).unwrap_or(u32::MAX);
    let mut header = Vec::with_capacity(super::HEADER_LEN + 4);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&version.to_le_bytes());
    header.extend_from_slice(&shards.to_le_bytes());
    header.extend_from_slice(&now.to_le_bytes());
    let header_crc = crc32fast::hash(&header);
    header.extend_from_slice(&header_crc.to_le_bytes());
    file.put(&header)?;

    let mut totals = Totals::default();
    for (payload, t) in parts {
        totals.members += t.members;
        totals.invitations += t.invitations;
        totals.seq_floor = totals.seq_floor.max(t.seq_floor);
        file.put(&(payload.len() as u64).to_le_bytes())?;
        file.put(&payload)?;
        file.put(&crc32fast::hash(&payload).to_le_bytes())?;
    }

    let mut trailer = Writer::default();
    trailer.u32(shards);
    trailer.u64(totals.members);
    trailer.u64(totals.invitations);
    trailer.u64(totals.seq_floor);
    file.put(trailer.bytes())?;
    let crc = file.crc.clone().finalize();
    file.out.write_all(&crc.to_le_bytes())?;
    file.out.flush()?;
    Ok(())
}

/// A shard's section in format `version`.
pub(crate) fn encode_shard_as(shard: ShardParts<'_>, version: u32) -> (Vec<u8>, Totals) {
    let mut w = Writer::default();
    w.u64(shard.now);
    w.u64(shard.seq_floor);
    w.u64(shard.expired_unswept);
    // Sorted so that equal states give equal bytes, whatever the hash maps' order.
    let mut members = shard.members;
    members.sort_unstable_by_key(|&(id, _)| id);
    // Pending seqs are rebuilt from the ledgers; only the cooldowns are primary.
    let mut cooldowns: Vec<(u64, u64, u64)> = members
        .iter()
        .filter_map(|&(s, m)| Some((s, m.extra.as_deref()?)))
        .flat_map(|(s, x)| x.cooldowns.iter().map(move |(&r, &until)| (s, r, until)))
        .filter(|&(_, _, until)| until > 0)
        .collect();
    let mut totals = Totals {
        members: members.len() as u64,
        invitations: 0,
        seq_floor: shard.seq_floor,
    };
    w.len(members.len());
    for (id, member) in members {
        totals.invitations += write_member(&mut w, id, member, version);
    }
    cooldowns.sort_unstable();
    w.len(cooldowns.len());
    for (sender, recipient, until) in cooldowns {
        w.u64(sender);
        w.u64(recipient);
        w.u64(until);
    }
    (w.into_bytes(), totals)
}

/// Writes one member; returns how many invitations its ledger holds.
pub(crate) fn write_member(w: &mut Writer, id: u64, m: &Member, version: u32) -> u64 {
    w.u64(id);
    w.u8(codes::tier_code(m.tier));
    codes::write_status(w, m.status());
    w.u8(codes::setting_code(m.setting));
    w.len(m.sends.day_start());
    w.len(m.sends.times().count());
    m.sends.times().for_each(|t| w.u64(t));
    let invitations = m.ledger.all().count();
    w.len(invitations);
    for inv in m.ledger.all() {
        w.u64(inv.seq);
        w.u64(inv.recipient);
        w.u64(inv.sent_at);
        let reminders = m.ledger.reminders(inv.seq);
        w.u64(reminders.last);
        w.u8(reminders.count);
        w.u8(codes::ending_code(inv.ended));
    }
    if version >= 3 {
        w.u64(m.ledger.next_seq());
    }
    // The spam state travels inside the extra record, as the format has always had it.
    // An extra record holding nothing is written as none, so equal states give equal
    // bytes (reading drops such a record too).
    let none = Extra::default();
    let fresh = SpamState::default();
    let extra = m.extra.as_deref().filter(|x| **x != none);
    let spam = m.spam.as_deref().filter(|s| **s != fresh);
    w.bool(extra.is_some() || spam.is_some());
    if extra.is_some() || spam.is_some() {
        write_extra(w, extra.unwrap_or(&none), spam.unwrap_or(&fresh), version);
    }
    invitations as u64
}

fn write_extra(w: &mut Writer, x: &Extra, spam: &SpamState, version: u32) {
    w.len(x.notes.len());
    x.notes.iter().for_each(|t| w.u64(t));
    w.len(x.idem.iter().count());
    for (key, rec) in x.idem.iter() {
        w.u64(key);
        w.u64(rec.recipient);
        w.u64(rec.seq);
        w.u64(rec.sent_at);
    }
    spam.write(w, codes::feedback_code);
    for set in [&x.connections, &x.follows] {
        let mut ids: Vec<u64> = set.iter().copied().collect();
        ids.sort_unstable();
        w.len(ids.len());
        ids.into_iter().for_each(|id| w.u64(id));
    }
    // Emails sorted, so equal states give equal bytes.
    let mut emails: Vec<&String> = x.emails.iter().collect();
    emails.sort_unstable();
    w.len(emails.len());
    emails.into_iter().for_each(|e| w.str(e));
    w.len(x.contacts.len());
    x.contacts.iter().for_each(|e| w.str(e));
    w.bool(x.restricted_for.is_some());
    if let Some(signals) = x.restricted_for {
        w.u8(signals.bits());
    }
    if version >= 2 {
        w.bool(x.limits.is_some());
        if let Some(limits) = x.limits.as_deref() {
            crate::policy::codec::limits(w, limits);
        }
    }
}
