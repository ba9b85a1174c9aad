//! Placing a decoded snapshot in a freshly built engine: members re-hashed onto its
//! shards, and everything derived rebuilt.

use crate::account::{AccountStatus, InviteSetting};
use crate::ids::MemberId;
use crate::memory::engine::{Engine, LINKED, SPECIAL};
use crate::persist::decode::State;
use crate::sender::record::Member;

/// Places a decoded state in a freshly built engine, re-hashing every member onto
/// the engine's own shards and rebuilding what is derived.
pub(crate) fn install(mut engine: Engine, state: State) -> Engine {
    engine.time.observe(state.latest);
    let ttl = engine.rules().spans.ttl;
    for (i, slot) in engine.shards.iter_mut().enumerate() {
        let shard = slot.0.get_mut();
        shard.now = state.latest;
        shard.seq_floor = state.seq_floor;
        if i == 0 {
            shard.expired_unswept = state.expired_unswept;
        }
    }
    for (id, member) in state.members {
        let flags = flags_of(&member);
        let i = engine.shard_index(id);
        let shard = engine.shards[i].0.get_mut();
        for inv in member.ledger.all() {
            // Ended invitations too, as when they were sent: their tombstones are
            // released at the same instant.
            shard
                .expiries
                .push_back((inv.sent_at.saturating_add(ttl), id));
        }
        // member_mut schedules the idle check a new record gets.
        let record = shard.member_mut(id);
        *record = member;
        let pending: Vec<u64> = record.ledger.pending_from(0).map(|i| i.recipient).collect();
        for recipient in pending {
            record.pair_added(recipient);
        }
        if flags != 0 {
            engine.mark(id, flags);
        }
    }
    for (sender, recipient, until) in state.cooldowns {
        let i = engine.shard_index(sender);
        let shard = engine.shards[i].0.get_mut();
        shard.start_cooldown(sender, recipient, until);
    }
    for slot in engine.shards.iter_mut() {
        let shard = slot.0.get_mut();
        shard.expiries.sort();
        shard.cooldowns.sort();
    }
    for (email, owner) in state.emails {
        engine.emails.restore(email, MemberId(owner));
    }
    engine
}

/// The recipient flags the engine's setters would have raised for this record.
fn flags_of(m: &Member) -> u8 {
    let x = m.extra.as_deref();
    let special = m.status() != AccountStatus::Active
        || m.setting != InviteSetting::Everyone
        || x.is_some_and(|x| {
            !x.emails.is_empty() || !x.contacts.is_empty() || !x.follows.is_empty()
        });
    let linked = x.is_some_and(|x| !x.connections.is_empty());
    (if special { SPECIAL } else { 0 }) | (if linked { LINKED } else { 0 })
}
