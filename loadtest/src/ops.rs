//! The synthetic operation stream: what each step does, drawn from the population.
//!
//! A [`Generator`] is deterministic for a seed and a thread index, and its stream does
//! not depend on the engine's answers, so a baseline can replay exactly the same
//! sequence of senders.

use invite_limiter::{InviteRequest, MemberId};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::cli::Mix;
pub use crate::population::{mix64, Population};

/// Kinds of engine call the workload makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// A bare send.
    Send,
    /// A send with a personalised note (a few too long for Free members).
    SendNote,
    /// A send whose note is one template text shared by many members.
    SendTemplate,
    /// A send that gives the recipient's email.
    SendEmail,
    /// A send with an idempotency key.
    SendKeyed,
    /// A client retry of the thread's latest keyed send (same key, same recipient).
    Retry,
    /// One send of a spammer's burst of one template note.
    Spam,
    Accept,
    Decline,
    Withdraw,
    /// "I don't know this person".
    Report,
    Capacity,
    Diagnose,
}

/// Every kind, in report order; also the names accepted by `--mix`.
pub const MIX_KINDS: [OpKind; 13] = [
    OpKind::Send,
    OpKind::SendNote,
    OpKind::SendTemplate,
    OpKind::SendEmail,
    OpKind::SendKeyed,
    OpKind::Retry,
    OpKind::Spam,
    OpKind::Accept,
    OpKind::Decline,
    OpKind::Withdraw,
    OpKind::Report,
    OpKind::Capacity,
    OpKind::Diagnose,
];

pub const KINDS: usize = MIX_KINDS.len();

impl OpKind {
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name in `--mix` and in reports.
    pub fn mix_name(self) -> &'static str {
        match self {
            OpKind::Send => "send",
            OpKind::SendNote => "note",
            OpKind::SendTemplate => "template",
            OpKind::SendEmail => "email",
            OpKind::SendKeyed => "keyed",
            OpKind::Retry => "retry",
            OpKind::Spam => "spam",
            OpKind::Accept => "accept",
            OpKind::Decline => "decline",
            OpKind::Withdraw => "withdraw",
            OpKind::Report => "report",
            OpKind::Capacity => "capacity",
            OpKind::Diagnose => "diagnose",
        }
    }

    /// Whether the call is `Engine::send`.
    pub fn is_send(self) -> bool {
        matches!(
            self,
            OpKind::Send
                | OpKind::SendNote
                | OpKind::SendTemplate
                | OpKind::SendEmail
                | OpKind::SendKeyed
                | OpKind::Retry
                | OpKind::Spam
        )
    }
}

/// The note members share when they do not personalise one.
pub const TEMPLATE_NOTE: &str = "I'd like to add you to my professional network.";
/// The note spammers burst.
pub const SPAM_NOTE: &str = "Grow your network fast! Connect with me for exclusive opportunities.";

/// The note a send carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteSpec {
    None,
    /// A personalised note (the number varies its text).
    Personal(u32),
    /// A personalised note of 250 characters: too long for Free members.
    Long,
    Template,
    Spam,
}

/// One send, fully determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendSpec {
    pub kind: OpKind,
    pub sender: MemberId,
    pub recipient: MemberId,
    pub note: NoteSpec,
    pub email: bool,
    pub key: Option<u64>,
}

impl SendSpec {
    /// The request this send makes (built outside the timed call).
    pub fn request(&self) -> InviteRequest {
        let mut req = InviteRequest::new(self.sender, self.recipient);
        match self.note {
            NoteSpec::None => {}
            NoteSpec::Personal(n) => {
                req = req.note(format!(
                    "Hi {}, I enjoyed your talk on topic #{n}; I'd be glad to connect.",
                    self.recipient.0
                ));
            }
            NoteSpec::Long => req = req.note("x".repeat(250)),
            NoteSpec::Template => req = req.note(TEMPLATE_NOTE),
            NoteSpec::Spam => req = req.note(SPAM_NOTE),
        }
        if self.email {
            req = req.recipient_email(format!("member{}@example.org", self.recipient.0));
        }
        if let Some(key) = self.key {
            req = req.idempotency_key(key);
        }
        req
    }
}

/// One step of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Send(SendSpec),
    /// A spammer's burst: `count` template sends to recipients drawn from `seed`.
    Burst {
        spammer: MemberId,
        seed: u64,
        count: u32,
    },
    /// Accept, decline, withdraw or report an invitation the worker picks.
    Lifecycle(OpKind),
    Capacity(MemberId),
    Diagnose(MemberId, MemberId),
}

impl Step {
    /// The sends of a burst, in order.
    pub fn burst_sends(
        pop: &Population,
        spammer: MemberId,
        seed: u64,
        count: u32,
    ) -> impl Iterator<Item = SendSpec> + '_ {
        let mut rng = SmallRng::seed_from_u64(seed);
        (0..count).map(move |_| SendSpec {
            kind: OpKind::Spam,
            sender: spammer,
            recipient: pop.anyone(&mut rng),
            note: NoteSpec::Spam,
            email: false,
            key: None,
        })
    }
}

/// A deterministic stream of steps for one thread.
#[derive(Debug)]
pub struct Generator<'a> {
    pop: &'a Population,
    rng: SmallRng,
    cumulative: Vec<(f64, OpKind)>,
    total: f64,
    burst: u32,
    last_keyed: Option<SendSpec>,
}

impl<'a> Generator<'a> {
    pub fn new(pop: &'a Population, mix: &Mix, seed: u64, thread: u64, burst: u32) -> Self {
        let mut total = 0.0;
        let mut cumulative = Vec::new();
        for &(kind, w) in &mix.weights {
            if w > 0.0 {
                total += w;
                cumulative.push((total, kind));
            }
        }
        Generator {
            pop,
            rng: SmallRng::seed_from_u64(mix64(seed ^ mix64(thread.wrapping_add(1)))),
            cumulative,
            total,
            burst,
            last_keyed: None,
        }
    }

    fn pick(&mut self) -> OpKind {
        let u = self.rng.random::<f64>() * self.total;
        self.cumulative
            .iter()
            .find(|(c, _)| u < *c)
            .or(self.cumulative.last())
            .map_or(OpKind::Send, |(_, k)| *k)
    }

    pub fn next_step(&mut self) -> Step {
        let kind = self.pick();
        let pop = self.pop;
        let send = |rng: &mut SmallRng, note, email, key| SendSpec {
            kind,
            sender: pop.sender(rng),
            recipient: pop.anyone(rng),
            note,
            email,
            key,
        };
        match kind {
            OpKind::Send => Step::Send(send(&mut self.rng, NoteSpec::None, false, None)),
            OpKind::SendNote => {
                let note = if self.rng.random_ratio(1, 25) {
                    NoteSpec::Long
                } else {
                    NoteSpec::Personal(self.rng.random_range(0..1_000))
                };
                Step::Send(send(&mut self.rng, note, false, None))
            }
            OpKind::SendTemplate => {
                Step::Send(send(&mut self.rng, NoteSpec::Template, false, None))
            }
            OpKind::SendEmail => Step::Send(send(&mut self.rng, NoteSpec::None, true, None)),
            OpKind::SendKeyed | OpKind::Retry => {
                if kind == OpKind::Retry {
                    if let Some(last) = self.last_keyed {
                        return Step::Send(SendSpec { kind, ..last });
                    }
                }
                let key = self.rng.random::<u64>();
                let spec = send(&mut self.rng, NoteSpec::None, false, Some(key));
                self.last_keyed = Some(spec);
                Step::Send(spec)
            }
            OpKind::Spam => match pop.spammers() {
                [] => Step::Send(send(&mut self.rng, NoteSpec::None, false, None)),
                list => Step::Burst {
                    spammer: list[self.rng.random_range(0..list.len())],
                    seed: self.rng.random(),
                    count: self.burst,
                },
            },
            OpKind::Accept | OpKind::Decline | OpKind::Withdraw | OpKind::Report => {
                Step::Lifecycle(kind)
            }
            OpKind::Capacity => Step::Capacity(pop.sender(&mut self.rng)),
            OpKind::Diagnose => {
                Step::Diagnose(pop.sender(&mut self.rng), pop.anyone(&mut self.rng))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn streams_repeat_for_a_seed() {
        let pop = Population::new(10_000, 0.1, 0.9, 0.001, 3).unwrap();
        let mix = Cli::parse_from(["t"]).run.mix;
        let a: Vec<Step> = {
            let mut g = Generator::new(&pop, &mix, 3, 1, 20);
            (0..500).map(|_| g.next_step()).collect()
        };
        let mut g = Generator::new(&pop, &mix, 3, 1, 20);
        let b: Vec<Step> = (0..500).map(|_| g.next_step()).collect();
        assert_eq!(a, b);
        let mut other = Generator::new(&pop, &mix, 3, 2, 20);
        let c: Vec<Step> = (0..500).map(|_| other.next_step()).collect();
        assert_ne!(a, c);
    }
}
