//! The engine's rules as commands a Redis server runs: the pure core of the Redis
//! module (`module/` in the repository), with no Redis in it.
//!
//! A [`Command`] is parsed from a command's arguments, checked to the last byte;
//! [`Server`] runs it on the [`MemberValue`]s stored under the keys it names, with
//! the same sender state machine the in-memory engine runs, and answers a
//! [`Reply`]. The module around it opens keys, reads the clock, replicates and
//! persists; every decision is made here.
//!
//! ```
//! use invite_limiter::server::{Command, MemberValue, Reply, Server};
//! use invite_limiter::Policy;
//!
//! let mut server = Server::new(Policy::default()).unwrap();
//! let send = Command::parse(&[b"IL.SEND", b"{il:1}", b"{il:2}", b"1", b"2"]).unwrap();
//! let (mut sender, mut recipient): (Option<MemberValue>, Option<MemberValue>) = (None, None);
//! let done = server.write(&send, &mut sender, Some(&mut recipient), 1_000).unwrap();
//! let Reply::Array(items) = &done.reply else { panic!() };
//! assert_eq!(items[0], Reply::Text("sent".into()));
//! assert_eq!(done.at, 1_000);
//! ```

mod args;
mod command;
mod exec;
mod op;
mod policies;
mod query;
mod reply;
mod slots;
mod stored;
#[cfg(test)]
mod tests;
mod value;

pub use command::{Command, COMMANDS};
pub use exec::{Server, Written};
pub use op::{CommandError, MAX_ARG_BYTES};
pub use reply::Reply;
pub use stored::{StoredMember, OPEN_AT, PACK_AT};
pub use value::{MemberValue, PackedMember};
