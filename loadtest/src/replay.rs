//! The `replay` command: run a trace through a fresh engine on a manual clock and
//! write one decision per input line.

use std::collections::HashMap;
use std::error::Error;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};

use invite_limiter::{
    Blocker, DenyReason, Engine, InviteError, InviteId, ManualClock, MemberId, Policy, Timestamp,
};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{OnError, ReplayArgs};
use crate::outcome::Outcome;
use crate::trace::{self, InviteRef, Op};

/// One output line. Fields that do not apply to the result are left out.
#[derive(Debug, Default, Serialize)]
pub struct Decision {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// The instant the engine acted at, when `at` is earlier than a previous line's
    /// (time never steps back, so the engine acts at the latest instant seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clamped_to: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<&'static str>,
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blockers: Option<Vec<BlockerOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminders: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BlockerOut {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    pub retry_at: Option<u64>,
    pub remedy: &'static str,
}

/// A reason's variant name and its data, from its serde form.
fn reason_parts(reason: &DenyReason) -> (String, Option<Value>) {
    match serde_json::to_value(reason) {
        Ok(Value::String(name)) => (name, None),
        Ok(Value::Object(map)) if map.len() == 1 => {
            let (name, detail) = map.into_iter().next().unwrap_or_default();
            (name, Some(detail))
        }
        _ => (Outcome::denial(reason).name().to_string(), None),
    }
}

fn blocker(b: &Blocker) -> BlockerOut {
    let (reason, detail) = reason_parts(b.reason());
    BlockerOut {
        reason,
        detail,
        retry_at: b.retry_at().map(Timestamp::as_millis),
        remedy: b.remedy(),
    }
}

/// What the replay has seen so far, for resolving invitation references.
#[derive(Default)]
struct Replayer {
    /// Send lines, and the invitation each made (`None`: it was denied).
    sends: HashMap<u64, Option<InviteId>>,
}

impl Replayer {
    fn resolve(&self, r: &InviteRef, line: u64) -> Result<Result<InviteId, String>, String> {
        match r {
            InviteRef::Id(text) => trace::parse_invite_id(text)
                .map(Ok)
                .ok_or_else(|| format!("`{text}` is not an invitation id like inv-1f-0")),
            InviteRef::Line(n) if *n >= line => Err(format!(
                "invite refers to line {n}, which is not an earlier line"
            )),
            InviteRef::Line(n) => match self.sends.get(n) {
                Some(Some(id)) => Ok(Ok(*id)),
                Some(None) => Ok(Err(format!(
                    "line {n} was denied, so there is no invitation to act on"
                ))),
                None => Err(format!("invite refers to line {n}, which is not a send")),
            },
        }
    }

    /// Applies one parsed line; `Err` is a malformed line (a bad reference).
    fn apply(&mut self, engine: &Engine, line: u64, op: &Op) -> Result<Decision, String> {
        let mut d = Decision {
            line,
            op: Some(op.name()),
            result: "ok",
            ..Decision::default()
        };
        match op {
            Op::Send(req) => match engine.send(req.build()) {
                Ok(sent) => {
                    self.sends.insert(line, Some(sent.id()));
                    d.result = "sent";
                    d.id = Some(sent.id().to_string());
                    d.expires_at = Some(sent.expires_at().as_millis());
                }
                Err(denied) => {
                    self.sends.insert(line, None);
                    let (reason, detail) = reason_parts(denied.reason());
                    d.result = "denied";
                    d.reason = Some(reason);
                    d.detail = detail;
                    d.retry_at = Some(denied.retry_at().map(Timestamp::as_millis));
                    d.message = Some(denied.to_string());
                }
            },
            Op::Diagnose(req) => {
                let diagnosis = engine.diagnose_request(&req.build());
                d.result = if diagnosis.is_clear() {
                    "clear"
                } else {
                    "blocked"
                };
                d.blockers = Some(diagnosis.blockers().iter().map(blocker).collect());
                d.message = Some(diagnosis.to_string());
            }
            Op::Accept { invite }
            | Op::Decline { invite }
            | Op::Withdraw { invite }
            | Op::ReportUnknown { invite }
            | Op::Remind { invite } => {
                let id = match self.resolve(invite, line)? {
                    Ok(id) => id,
                    Err(why) => {
                        d.result = "error";
                        d.reason = Some("NoInvitation".into());
                        d.message = Some(why);
                        return Ok(d);
                    }
                };
                d.id = Some(id.to_string());
                let result = match op {
                    Op::Accept { .. } => engine.accept(id),
                    Op::Decline { .. } => engine.decline(id),
                    Op::Withdraw { .. } => engine.withdraw(id),
                    Op::ReportUnknown { .. } => engine.report_unknown(id),
                    _ => engine.remind(id).map(|n| d.reminders = Some(n)),
                };
                if let Err(e) = result {
                    invite_error(&mut d, &e);
                }
            }
            Op::SetTier { member, tier } => engine.set_tier(MemberId(*member), (*tier).into()),
            Op::SetStatus {
                member,
                status,
                until,
            } => engine.set_status(MemberId(*member), status.status(*until)),
            Op::SetInviteSetting { member, setting } => {
                engine.set_invite_setting(MemberId(*member), (*setting).into());
            }
            Op::Connect { a, b } => engine.connect(MemberId(*a), MemberId(*b)),
            Op::Disconnect { a, b } => engine.disconnect(MemberId(*a), MemberId(*b)),
            Op::Follow { follower, followee } => {
                engine.follow(MemberId(*follower), MemberId(*followee))
            }
            Op::Unfollow { follower, followee } => {
                engine.unfollow(MemberId(*follower), MemberId(*followee));
            }
            Op::RegisterEmail { member, email } => {
                if let Err(e) = engine.register_email(MemberId(*member), email) {
                    d.result = "error";
                    d.message = Some(e.to_string());
                }
            }
            Op::ImportContacts { member, emails } => {
                if let Err(e) = engine.import_contacts(MemberId(*member), emails) {
                    d.result = "error";
                    d.message = Some(e.to_string());
                }
            }
            Op::Capacity { member } => {
                d.result = "capacity";
                d.capacity = serde_json::to_value(engine.capacity(MemberId(*member))).ok();
            }
            Op::Sweep {} => {
                d.result = "swept";
                d.expired = Some(engine.sweep());
            }
        }
        Ok(d)
    }
}

fn invite_error(d: &mut Decision, e: &InviteError) {
    d.result = "error";
    d.reason = Some(Outcome::invite_error(e).name().to_string());
    d.message = Some(e.to_string());
}

/// Counts for the closing summary on stderr.
#[derive(Debug, Default)]
pub struct Summary {
    pub lines: u64,
    pub by_result: HashMap<&'static str, u64>,
}

fn write_line(out: &mut dyn Write, d: &Decision) -> io::Result<()> {
    serde_json::to_writer(&mut *out, d).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// Replays `input` into `output`. A malformed line is written as a `malformed` result
/// and reported on stderr; with [`OnError::Stop`] the replay then ends with an error.
pub fn replay_stream(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    policy: Policy,
    on_error: OnError,
) -> Result<Summary, Box<dyn Error>> {
    let clock = ManualClock::new(Timestamp::from_millis(0));
    let engine = Engine::builder()
        .policy(policy)
        .clock(clock.clone())
        .build()?;
    let mut state = Replayer::default();
    let mut summary = Summary::default();
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        number += 1;
        let parsed = match std::str::from_utf8(&buf) {
            Err(_) => Err("the line is not valid UTF-8".to_string()),
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => trace::parse(text.trim()),
        };
        let decision = match parsed {
            Err(message) => Err((None, message)),
            Ok(line) if line.at > Timestamp::MAX.as_millis() => Err((
                Some((line.at, line.op.name())),
                format!(
                    "`at` {} is after the latest instant the engine accepts, {} ({})",
                    line.at,
                    Timestamp::MAX.as_millis(),
                    Timestamp::MAX
                ),
            )),
            Ok(line) => {
                clock.set(Timestamp::from_millis(line.at));
                let acted = engine.now().as_millis();
                match state.apply(&engine, number, &line.op) {
                    Ok(mut d) => {
                        d.at = Some(line.at);
                        d.clamped_to = (acted > line.at).then_some(acted);
                        Ok(d)
                    }
                    Err(message) => Err((Some((line.at, line.op.name())), message)),
                }
            }
        };
        summary.lines += 1;
        match decision {
            Ok(d) => {
                *summary.by_result.entry(d.result).or_default() += 1;
                write_line(output, &d)?;
            }
            Err((known, message)) => {
                *summary.by_result.entry("malformed").or_default() += 1;
                eprintln!("line {number}: {message}");
                let d = Decision {
                    line: number,
                    at: known.map(|k| k.0),
                    op: known.map(|k| k.1),
                    result: "malformed",
                    message: Some(message.clone()),
                    ..Decision::default()
                };
                write_line(output, &d)?;
                if on_error == OnError::Stop {
                    output.flush()?;
                    return Err(
                        format!("line {number}: {message}; stopped (--on-error stop)").into(),
                    );
                }
            }
        }
    }
    output.flush()?;
    Ok(summary)
}

pub fn run(args: &ReplayArgs) -> Result<(), Box<dyn Error>> {
    let policy = match &args.policy {
        None => Policy::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the policy {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("the policy {} is not valid: {e}", path.display()))?
        }
    };
    let mut input: Box<dyn BufRead> = if args.input.as_os_str() == "-" {
        Box::new(BufReader::new(io::stdin().lock()))
    } else {
        let file = File::open(&args.input)
            .map_err(|e| format!("cannot open the trace {}: {e}", args.input.display()))?;
        Box::new(BufReader::new(file))
    };
    let mut output: Box<dyn Write> = match &args.output {
        None => Box::new(BufWriter::new(io::stdout().lock())),
        Some(path) => {
            Box::new(BufWriter::new(File::create(path).map_err(|e| {
                format!("cannot create the output {}: {e}", path.display())
            })?))
        }
    };
    let summary = replay_stream(&mut *input, &mut *output, policy, args.on_error)?;
    let mut parts: Vec<String> = summary
        .by_result
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    parts.sort();
    eprintln!("replayed {} lines: {}", summary.lines, parts.join(", "));
    Ok(())
}
