//! The names of the spam signals, as a small set.

use std::fmt;

/// One spam signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SpamSignal {
    /// Too many attempts in a short time (denied ones included).
    Burst,
    /// Too many invitations to strangers.
    Strangers,
    /// One note text sent to many recipients.
    Template,
    /// A listed spam phrase in the note.
    Keyword,
    /// Recipients reported "I don't know this person".
    Reports,
    /// Recipients declined or ignored most invitations.
    Ignored,
}

impl SpamSignal {
    /// Every signal, in a fixed order.
    pub const ALL: [SpamSignal; 6] = [
        SpamSignal::Burst,
        SpamSignal::Strangers,
        SpamSignal::Template,
        SpamSignal::Keyword,
        SpamSignal::Reports,
        SpamSignal::Ignored,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    fn name(self) -> &'static str {
        match self {
            SpamSignal::Burst => "burst of attempts",
            SpamSignal::Strangers => "invitations to strangers",
            SpamSignal::Template => "one note sent to many",
            SpamSignal::Keyword => "spam phrase in note",
            SpamSignal::Reports => "\"I don't know this person\" reports",
            SpamSignal::Ignored => "invitations declined or ignored",
        }
    }
}

impl fmt::Display for SpamSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of spam signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SpamSignals(u8);

impl SpamSignals {
    /// No signal.
    pub const fn empty() -> Self {
        SpamSignals(0)
    }

    /// Adds `signal`.
    pub fn insert(&mut self, signal: SpamSignal) {
        self.0 |= signal.bit();
    }

    /// Whether `signal` is in the set.
    pub fn contains(self, signal: SpamSignal) -> bool {
        self.0 & signal.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The signals in the set, in [`SpamSignal::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = SpamSignal> {
        SpamSignal::ALL
            .into_iter()
            .filter(move |s| self.contains(*s))
    }

    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    pub(crate) fn from_bits(bits: u8) -> Self {
        SpamSignals(bits & 0b11_1111)
    }
}

impl FromIterator<SpamSignal> for SpamSignals {
    fn from_iter<I: IntoIterator<Item = SpamSignal>>(iter: I) -> Self {
        let mut set = SpamSignals::empty();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl fmt::Display for SpamSignals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_names_its_members_in_order() {
        let set: SpamSignals = [SpamSignal::Reports, SpamSignal::Burst]
            .into_iter()
            .collect();
        assert!(set.contains(SpamSignal::Burst));
        assert!(!set.contains(SpamSignal::Keyword));
        assert_eq!(
            set.to_string(),
            "burst of attempts, \"I don't know this person\" reports"
        );
        assert_eq!(SpamSignals::from_bits(set.bits()), set);
    }
}
