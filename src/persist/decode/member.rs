//! Reading one member's record: its facts, send log, invitations and extra record,
//! inside a snapshot's shard section or stored alone (by the Redis module).

use super::State;
use crate::codec::{instant, DecodeError, Reader};
use crate::codes;
use crate::ids::MAX_SEQ;
use crate::rules::spam::signals::SpamSignals;
use crate::rules::spam::SpamState;
use crate::rules::window::{Log, SendLog};
use crate::sender::ledger::{Invite, Ledger};
use crate::sender::record::{Extra, FastSet, IdemLog, IdemRecord, Member};

/// Smallest encodings, so a corrupt count is refused before it allocates.
const INVITE_BYTES: usize = 8 * 4 + 2;
const IDEM_BYTES: usize = 8 * 4;

/// Checks a stored sequence number. Before version 3 sequences were counted per
/// shard, and members of many writer shards may meet in one: the floor is raised
/// above every stored one, so ids never repeat, even for invitations that are gone.
fn above(state: &mut State, seq: u64, r: &Reader<'_>) -> Result<(), DecodeError> {
    if seq >= MAX_SEQ {
        return r.fail("invitation sequence numbers exhausted");
    }
    if state.version < 3 {
        state.seq_floor = state.seq_floor.max(seq + 1);
    }
    Ok(())
}

/// Reads one member written by `write_member` at the current format version, with
/// its pair filter rebuilt: a record stored alone (by the Redis module).
#[cfg(feature = "server")]
pub(crate) fn read_lone_member(r: &mut Reader<'_>, id: u64) -> Result<Member, DecodeError> {
    // Decoded for one command: an index of its invitations would be built for
    // every command, and cost more than the scans it saves.
    let mut state = State {
        version: super::FORMAT_VERSION,
        scan_only: true,
        ..State::default()
    };
    let mut member = read_member(r, id, &mut state)?;
    let pending: Vec<u64> = member.ledger.pending_from(0).map(|i| i.recipient).collect();
    for recipient in pending {
        member.pair_added(recipient);
    }
    Ok(member)
}

/// As [`read_lone_member`], keeping the member's facts only: tier, status, setting
/// and the extra record (relations, emails, contacts), with an empty send log and
/// ledger. What a send reads of its recipient, without building what it does not
/// read. For bytes the module stored itself, which were checked whole when stored.
#[cfg(feature = "server")]
pub(crate) fn read_lone_facts(r: &mut Reader<'_>, id: u64) -> Result<Member, DecodeError> {
    let mut state = State {
        version: super::FORMAT_VERSION,
        facts_only: true,
        ..State::default()
    };
    read_member(r, id, &mut state)
}

fn scanned_ledger(state: &State) -> Ledger {
    if state.scan_only {
        Ledger::scan_only()
    } else {
        Ledger::default()
    }
}

pub(super) fn read_member(
    r: &mut Reader<'_>,
    id: u64,
    state: &mut State,
) -> Result<Member, DecodeError> {
    let Some(tier) = codes::tier_from(r.u8()?) else {
        return r.fail("invalid tier");
    };
    let status = codes::read_status(r)?;
    let Some(setting) = codes::setting_from(r.u8()?) else {
        return r.fail("invalid invite setting");
    };
    let day_start = usize::try_from(r.u64()?).unwrap_or(usize::MAX);
    let sends = if state.facts_only {
        for _ in 0..r.len(8)? {
            instant(r)?;
        }
        SendLog::default()
    } else {
        let Some(sends) = SendLog::from_parts(read_instants(r)?, day_start) else {
            return r.fail("send instants out of order");
        };
        sends
    };
    let mut ledger = scanned_ledger(state);
    let mut last_sent = 0;
    let invitations = r.len(INVITE_BYTES)?;
    if !state.facts_only {
        ledger.reserve(invitations);
    }
    for _ in 0..invitations {
        let (seq, recipient) = (r.u64()?, r.u64()?);
        let (sent_at, last) = (instant(r)?, instant(r)?);
        let count = r.u8()?;
        let Some(ended) = codes::ending_from(r.u8()?) else {
            return r.fail("invalid invitation ending");
        };
        // Expiry pops from the front and lookup bisects: both orders must hold.
        let invite = Invite {
            seq,
            recipient,
            sent_at,
            ended,
        };
        let reminders = crate::sender::ledger::Reminders { count, last };
        if state.facts_only {
            ledger.issued_below(seq.saturating_add(1));
        } else if sent_at < last_sent || !ledger.restore(invite, reminders) {
            return r.fail("invitations out of order");
        }
        last_sent = sent_at;
        above(state, seq, r)?;
        state.invitations += 1;
    }
    if state.version >= 3 {
        let next = r.u64()?;
        if next < ledger.next_seq() || next >= MAX_SEQ {
            return r.fail("sequence counter behind an issued invitation");
        }
        ledger.issued_below(next);
    }
    let (extra, spam) = if r.bool()? {
        let (extra, spam) = read_extra(r, state)?;
        let extra = (extra != Extra::default()).then(|| Box::new(extra));
        let spam = (spam != SpamState::default()).then(|| Box::new(spam));
        (extra, spam)
    } else {
        (None, None)
    };
    let idem_seqs = extra
        .iter()
        .flat_map(|x| x.idem.iter())
        .map(|(_, rec)| rec.seq);
    let idem_next = idem_seqs.max().map_or(0, |seq| seq + 1);
    if state.version >= 3 && idem_next > ledger.next_seq() {
        return r.fail("sequence counter behind an issued invitation");
    }
    ledger.issued_below(idem_next);
    // The due instant is unknown until the first settle, which recomputes it; the
    // pair filter is rebuilt when the record is placed in its shard.
    let mut member = Member::new(id);
    member.tier = tier;
    member.set_status(status);
    member.setting = setting;
    member.sends = sends;
    member.ledger = ledger;
    member.extra = extra;
    member.spam = spam;
    Ok(member)
}

fn read_extra(r: &mut Reader<'_>, state: &mut State) -> Result<(Extra, SpamState), DecodeError> {
    let Some(notes) = Log::from_sorted(read_instants(r)?) else {
        return r.fail("note instants out of order");
    };
    let mut idem = IdemLog::default();
    let mut last = 0;
    for _ in 0..r.len(IDEM_BYTES)? {
        let key = r.u64()?;
        let record = IdemRecord {
            recipient: r.u64()?,
            seq: r.u64()?,
            sent_at: instant(r)?,
        };
        // Records expire from the front, so they must be in time order.
        if idem.get(key).is_some() || record.sent_at < last {
            return r.fail("idempotency records repeated or out of order");
        }
        last = record.sent_at;
        above(state, record.seq, r)?;
        idem.insert(key, record);
    }
    let spam = SpamState::read(r, codes::feedback_from)?;
    let connections = read_set(r)?;
    let follows = read_set(r)?;
    let emails = read_strings(r)?.1;
    let (contacts, contact_set) = read_strings(r)?;
    let restricted_for = if r.bool()? {
        let bits = r.u8()?;
        let signals = SpamSignals::from_bits(bits);
        if signals.bits() != bits {
            return r.fail("invalid spam signal set");
        }
        Some(signals)
    } else {
        None
    };
    let limits = if state.version >= 2 && r.bool()? {
        let limits = crate::policy::codec::read_limits(r)?;
        if limits.validate_as("limits").is_err() {
            return r.fail("invalid member limits");
        }
        Some(Box::new(limits))
    } else {
        None
    };
    let extra = Extra {
        notes,
        idem,
        connections,
        follows,
        emails,
        contacts,
        contact_set,
        restricted_for,
        cooldowns: Default::default(),
        limits,
    };
    Ok((extra, spam))
}

fn read_instants(r: &mut Reader<'_>) -> Result<Vec<u64>, DecodeError> {
    let n = r.len(8)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(instant(r)?);
    }
    Ok(out)
}

fn read_u64s(r: &mut Reader<'_>) -> Result<Vec<u64>, DecodeError> {
    let n = r.len(8)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.u64()?);
    }
    Ok(out)
}

fn read_set(r: &mut Reader<'_>) -> Result<FastSet<u64>, DecodeError> {
    let list = read_u64s(r)?;
    let set: FastSet<u64> = list.iter().copied().collect();
    if set.len() != list.len() {
        return r.fail("member listed twice in a set");
    }
    Ok(set)
}

/// A list of distinct strings, with its set.
fn read_strings(r: &mut Reader<'_>) -> Result<(Vec<String>, FastSet<String>), DecodeError> {
    let n = r.len(8)?;
    let mut list = Vec::with_capacity(n);
    let mut set = FastSet::default();
    for _ in 0..n {
        let s = r.str()?;
        if !set.insert(s.clone()) {
            return r.fail("email listed twice");
        }
        list.push(s);
    }
    Ok((list, set))
}
