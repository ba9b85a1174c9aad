//! A sender's spam state in snapshots: 8 bytes an event, plus a note's fingerprint or
//! an answer's kind.

use super::{last, Events, Feedback, Rare, SpamState, NO_RARE};
use crate::codec::{DecodeError, Reader, Writer};
use crate::rules::spam::signals::SpamSignals;

impl SpamState {
    /// Appends the state to a snapshot: 8 bytes an event, plus the note's fingerprint
    /// (8) or the answer's kind (1), coded by `code` (the wire codes' table).
    pub(crate) fn write(&self, w: &mut Writer, code: impl Fn(Feedback) -> u8) {
        let rare = self.rare();
        for q in [&self.attempts, &self.strangers, &rare.strikes] {
            write_events(w, q, |_, ()| ());
        }
        write_events(w, &rare.notes, |w, &fp| w.u64(fp));
        write_events(w, &self.feedback, |w, &f| w.u8(code(f)));
        w.bool(rare.cooldown.is_some());
        if let Some((until, signals)) = rare.cooldown {
            w.u64(until);
            w.u8(signals.bits());
        }
    }

    /// Reads a state written by [`SpamState::write`], the answers' kinds by `kind`.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        kind: impl Fn(u8) -> Option<Feedback>,
    ) -> Result<Self, DecodeError> {
        let attempts = read_events(r, 8, |_| Ok(()))?;
        let strangers = read_events(r, 8, |_| Ok(()))?;
        let strikes = read_events(r, 8, |_| Ok(()))?;
        let notes = read_events(r, 16, Reader::u64)?;
        let feedback = read_events(r, 9, |r| match kind(r.u8()?) {
            Some(f) => Ok(f),
            None => r.fail("invalid feedback kind"),
        })?;
        let mut cooldown = None;
        if r.bool()? {
            let until = r.u64()?;
            let bits = r.u8()?;
            let signals = SpamSignals::from_bits(bits);
            if signals.is_empty() || signals.bits() != bits {
                return r.fail("invalid spam signal set");
            }
            cooldown = Some((until, signals));
        }
        let rare = Rare {
            notes,
            strikes,
            cooldown,
        };
        Ok(SpamState {
            attempts,
            strangers,
            feedback,
            rare: (rare != NO_RARE).then(|| Box::new(rare)),
        })
    }
}

pub(super) fn write_events<T: Copy + Default, const N: usize>(
    w: &mut Writer,
    q: &Events<T, N>,
    mut payload: impl FnMut(&mut Writer, &T),
) {
    w.len(q.len());
    for (t, v) in q.iter() {
        w.u64(*t);
        payload(w, v);
    }
}

/// Reads time-sorted events, each an instant then what `payload` reads.
fn read_events<'a, T: Copy + Default, const N: usize>(
    r: &mut Reader<'a>,
    item_bytes: usize,
    mut payload: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
) -> Result<Events<T, N>, DecodeError> {
    let n = r.len(item_bytes)?;
    let mut q = Events::default();
    for _ in 0..n {
        let t = crate::codec::instant(r)?;
        if last(&q).is_some_and(|prev| t < prev) {
            return r.fail("spam event instants out of order");
        }
        let v = payload(r)?;
        q.push_back((t, v));
    }
    Ok(q)
}
