//! invite-limiter inside Redis: `IL.*` commands over a member data type.
//!
//! Every decision is made by `invite_limiter::server`, with the same sender state
//! machine the in-memory engine runs. This crate is the storage around it: it opens
//! the keys a command names, reads the clock, writes the values back, sets each
//! key's expiry to when its member holds nothing that changes an answer, replicates
//! each change with its instant pinned, and saves values in RDB and AOF.

mod value;

use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::borrow::Cow;

use invite_limiter::server::{Command, MemberValue, Reply, Server, StoredMember};
use invite_limiter::Policy;
use redis_module::key::RedisKeyWritable;
use redis_module::{redis_module, Context, RedisError, RedisResult, RedisString, RedisValue};

use value::MEMBER_TYPE;

/// The policy the commands decide by: the default until `IL.POLICY SET` (or an RDB
/// file's auxiliary field) says otherwise.
static SERVER: LazyLock<Mutex<Option<Server>>> =
    LazyLock::new(|| Mutex::new(Server::new(Policy::default()).ok()));

/// The server's rules; commands run one at a time on Redis's main thread, so the
/// lock is never contended, and a poisoned one still holds a consistent policy.
fn server() -> MutexGuard<'static, Option<Server>> {
    SERVER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The server's clock, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn error(text: impl std::fmt::Display) -> RedisError {
    RedisError::String(format!("ERR {text}"))
}

/// A key that holds another type than a member value.
fn wrong_type(_: RedisError) -> RedisError {
    RedisError::Str("WRONGTYPE Operation against a key holding the wrong kind of value")
}

fn to_value(reply: Reply) -> RedisValue {
    match reply {
        Reply::Ok => RedisValue::SimpleStringStatic("OK"),
        Reply::Int(n) => RedisValue::Integer(n),
        Reply::Text(s) => RedisValue::BulkString(s),
        Reply::Bytes(b) => RedisValue::StringBuffer(b),
        Reply::Nil => RedisValue::Null,
        Reply::Array(items) => RedisValue::Array(items.into_iter().map(to_value).collect()),
        // `Reply` may grow; an unknown form is answered as nil rather than guessed.
        _ => RedisValue::Null,
    }
}

/// Every `IL.*` command: parse, run on the values under its keys, write back.
fn run(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    let raw: Vec<&[u8]> = args.iter().map(RedisString::as_slice).collect();
    let cmd = Command::parse(&raw).map_err(error)?;
    let now = now_ms();
    let mut guard = server();
    let server = guard.as_mut().ok_or_else(|| error("no policy in force"))?;
    if cmd.name() == "IL.EMAIL" {
        return email(ctx, &args, &cmd, server, now);
    }
    let keys = cmd.key_count();
    let same = keys == 2 && raw.get(1) == raw.get(2);
    if !cmd.writes() {
        let first_key = (keys >= 1).then(|| ctx.open_key(&args[1]));
        let second_key = (keys == 2 && !same).then(|| ctx.open_key(&args[2]));
        let first = match &first_key {
            Some(k) => stored(k.get_value::<StoredMember>(&MEMBER_TYPE))?,
            None => None,
        };
        let second = match &second_key {
            Some(k) => Some(stored(k.get_value::<StoredMember>(&MEMBER_TYPE))?),
            None => None,
        };
        let first = first.map(|v| v.value()).transpose().map_err(error)?;
        // A diagnosis reads its recipient's facts only.
        let second = match second {
            Some(v) => Some(v.map(|v| v.facts()).transpose().map_err(error)?),
            None => None,
        };
        let second = second.as_ref().map(Option::as_ref);
        return server
            .read(&cmd, first.as_deref(), second, now)
            .map(to_value)
            .map_err(error);
    }
    let first_key = (keys >= 1).then(|| ctx.open_key_writable(&args[1]));
    let two = keys == 2 && !same;
    let second_key = (two && cmd.writes_second()).then(|| ctx.open_key_writable(&args[2]));
    let mut first = Held::take(first_key.as_ref())?;
    let mut second = match &second_key {
        // A send reads the recipient's value and leaves their key as it is.
        None if two => Held::read(&ctx.open_key(&args[2]))?,
        _ => Held::take(second_key.as_ref())?,
    };
    let result = server.write(&cmd, &mut first.slot, second.as_slot(), now);
    // The slots go back whatever happened: an error has changed nothing in them.
    // Expiry counts from the instant the command was decided at (the caller's
    // clock when it gave one), as the value's windows do.
    let at = result.as_ref().map_or(now, |done| done.at);
    first.put(first_key.as_ref(), server, &cmd, at)?;
    second.put(second_key.as_ref(), server, &cmd, at)?;
    let done = result.map_err(error)?;
    let replicated = cmd.replicated(&raw, done.at);
    let replicated: Vec<&[u8]> = replicated.iter().map(Vec::as_slice).collect();
    ctx.replicate(cmd.name(), replicated.as_slice());
    Ok(to_value(done.reply))
}

/// `IL.EMAIL`: the member's value and the email's owner key, a plain string
/// holding the owner's id (which a gateway reads with `GET` before a send that
/// names an email).
fn email(
    ctx: &Context,
    args: &[RedisString],
    cmd: &Command,
    server: &mut Server,
    now: u64,
) -> RedisResult {
    if args.get(1).map(RedisString::as_slice) == args.get(2).map(RedisString::as_slice) {
        return Err(error(
            "the member's key and the email's owner key must differ",
        ));
    }
    let before = {
        let key = ctx.open_key(&args[2]);
        match key.key_type() {
            redis_module::KeyType::Empty => None,
            redis_module::KeyType::String => {
                let text = key.read()?.unwrap_or_default();
                let id = std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok());
                Some(id.ok_or_else(|| error("the email's owner key does not hold a member id"))?)
            }
            _ => return Err(wrong_type(RedisError::WrongType)),
        }
    };
    let member_key = ctx.open_key_writable(&args[1]);
    let mut member = Held::take(Some(&member_key))?;
    let mut owner = before;
    let result = server.write_email(cmd, &mut member.slot, &mut owner, now);
    let at = result.as_ref().map_or(now, |done| done.at);
    member.put(Some(&member_key), server, cmd, at)?;
    let done = result.map_err(error)?;
    if owner != before {
        let owner_key = ctx.open_key_writable(&args[2]);
        match owner {
            Some(id) => owner_key.write(&id.to_string())?,
            None => owner_key.delete()?,
        };
    }
    let raw: Vec<&[u8]> = args.iter().map(RedisString::as_slice).collect();
    let replicated = cmd.replicated(&raw, done.at);
    let replicated: Vec<&[u8]> = replicated.iter().map(Vec::as_slice).collect();
    ctx.replicate(cmd.name(), replicated.as_slice());
    Ok(to_value(done.reply))
}

/// The value under a key, if any; a key of another type is `WRONGTYPE`.
fn stored<P: std::ops::Deref<Target = StoredMember>>(
    held: Result<Option<P>, RedisError>,
) -> Result<Option<P>, RedisError> {
    held.map_err(wrong_type)
}

/// The longest TTL set on a key: a thousand years.
const MAX_TTL_MS: u64 = 1_000 * 365 * 24 * 3_600_000;

/// A key's value taken out for a command to change, and whether the key held one.
struct Held {
    slot: Option<MemberValue>,
    existed: bool,
    used: bool,
}

impl Held {
    fn take(key: Option<&RedisKeyWritable>) -> Result<Held, RedisError> {
        let Some(key) = key else {
            return Ok(Held {
                slot: None,
                existed: false,
                used: false,
            });
        };
        let held = stored(key.get_value::<StoredMember>(&MEMBER_TYPE))?;
        // Copied out, so the stored value stays whole whatever happens next.
        let slot = held
            .map(|v| v.value().map(Cow::into_owned))
            .transpose()
            .map_err(error)?;
        Ok(Held {
            existed: slot.is_some(),
            slot,
            used: true,
        })
    }

    /// A send's recipient, whose facts alone are read: nothing is written back.
    fn read(key: &redis_module::key::RedisKey) -> Result<Held, RedisError> {
        let held = stored(key.get_value::<StoredMember>(&MEMBER_TYPE))?;
        let slot = held.map(|v| v.facts()).transpose().map_err(error)?;
        Ok(Held {
            existed: slot.is_some(),
            slot,
            used: true,
        })
    }

    fn as_slot(&mut self) -> Option<&mut Option<MemberValue>> {
        self.used.then_some(&mut self.slot)
    }

    /// Writes the value back (or deletes the key when it holds nothing now), and
    /// sets the key to expire when its member holds nothing that changes an answer.
    fn put(
        self,
        key: Option<&RedisKeyWritable>,
        server: &Server,
        cmd: &Command,
        now: u64,
    ) -> RedisResult<()> {
        let Some(key) = key else { return Ok(()) };
        match self.slot {
            None if self.existed => {
                key.delete()?;
            }
            None => {}
            Some(value) => {
                let expires = server.expires_at(&value, cmd);
                match key.get_value::<StoredMember>(&MEMBER_TYPE)? {
                    Some(held) => held.put(value),
                    None => key.set_value(&MEMBER_TYPE, StoredMember::new(value))?,
                }
                // At least a second, so a key never expires at once; a key that
                // would live past any TTL Redis keeps (an instant past the end of
                // time) gets none: it holds a fact that never lifts.
                let ttl = expires
                    .map(|at| at.saturating_sub(now).max(1_000))
                    .filter(|&ms| ms <= MAX_TTL_MS);
                match ttl {
                    Some(ms) => key.set_expire(Duration::from_millis(ms))?,
                    None => key.remove_expire()?,
                };
            }
        }
        Ok(())
    }
}

redis_module! {
    name: "invite-limiter",
    version: 1,
    allocator: (redis_module::alloc::RedisAlloc, redis_module::alloc::RedisAlloc),
    data_types: [MEMBER_TYPE],
    commands: [
        ["IL.SEND", run, "write deny-oom", 1, 2, 1, ""],
        ["IL.DIAGNOSE", run, "readonly", 1, 2, 1, ""],
        ["IL.CAPACITY", run, "readonly", 1, 1, 1, ""],
        ["IL.PENDING", run, "readonly", 1, 1, 1, ""],
        ["IL.BETWEEN", run, "readonly", 1, 1, 1, ""],
        ["IL.ACCEPT", run, "write deny-oom", 1, 2, 1, ""],
        ["IL.DECLINE", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.WITHDRAW", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.REPORT", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.REMIND", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.SET", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.GET", run, "readonly", 1, 1, 1, ""],
        ["IL.CONNECT", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.DISCONNECT", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.FOLLOW", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.UNFOLLOW", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.DUMP", run, "readonly", 1, 1, 1, ""],
        ["IL.RESTORE", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.EMAIL", run, "write deny-oom", 1, 2, 1, ""],
        ["IL.CONTACTS", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.LIMITS", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.RECIPIENT", run, "readonly", 1, 1, 1, ""],
        ["IL.CONNECTED", run, "readonly", 1, 1, 1, ""],
        ["IL.PSEND", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.PDIAGNOSE", run, "readonly", 1, 1, 1, ""],
        ["IL.PACCEPT", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.MIRROR", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.POLICYAT", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.PEMAIL", run, "write deny-oom", 1, 1, 1, ""],
        ["IL.POLICY", run, "write deny-oom", 0, 0, 0, ""],
    ],
}
