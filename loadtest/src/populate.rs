//! Pre-populating the engine in three phases, measuring resident memory after each.
//!
//! The manual clock starts one pending TTL before the run's start and is advanced in
//! steps while invitations are sent, so their ages span the TTL and the background
//! sweeper finds invitations to expire throughout the run.

use std::sync::Arc;
use std::time::Instant;

use indicatif::ProgressBar;
use invite_limiter::{Engine, InviteId, InviteRequest, ManualClock, Policy, Tier, Timestamp};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde::Serialize;

use crate::memory::{page_size, per_item, rss_bytes};
use crate::ops::{mix64, Population};

/// The simulated instant the run starts at (2024-06-01T00:00:00Z): fixed, so runs
/// with one seed are comparable.
pub const RUN_START_MS: u64 = 1_717_200_000_000;
const DAY_MS: u64 = 86_400_000;

/// How much to pre-populate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub pending: u64,
    pub recent: u64,
    pub shards: Option<usize>,
    pub threads: usize,
    pub seed: u64,
}

/// Resident memory across the population phases.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPhases {
    pub page_size: u64,
    pub rss_start: Option<u64>,
    pub rss_engine_built: Option<u64>,
    pub rss_after_members: Option<u64>,
    pub rss_after_pending: Option<u64>,
    pub rss_after_recent: Option<u64>,
    pub members_touched: u64,
    /// Records phase 1 created (one per member).
    pub member_records: u64,
    pub pending_invitations: u64,
    pub in_window_sends: u64,
    pub bytes_per_member: f64,
    pub bytes_per_pending_invitation: f64,
    pub bytes_per_in_window_send: f64,
}

/// The one sweep that brings the pre-populated engine up to the run's start.
#[derive(Debug, Clone, Serialize)]
pub struct Catchup {
    pub millis: f64,
    pub expired: usize,
    pub member_records_before: usize,
    pub member_records_after: usize,
}

/// A pre-populated engine, its clock at the run's start.
#[derive(Debug)]
pub struct Setup {
    pub engine: Arc<Engine>,
    pub clock: ManualClock,
    pub start: Timestamp,
    /// Pending invitation ids, dealt to the workers (each pool spans every age).
    pub pools: Vec<Vec<InviteId>>,
    pub memory: MemoryPhases,
    pub catchup: Catchup,
    pub seconds: f64,
}

pub fn prepare(
    pop: &Population,
    policy: Policy,
    plan: &Plan,
    bar: &ProgressBar,
) -> Result<Setup, Box<dyn std::error::Error>> {
    let began = Instant::now();
    let page = page_size();
    let rss_start = rss_bytes(page);
    let ttl = u64::try_from(policy.pending_ttl.as_millis()).unwrap_or(u64::MAX);
    let origin = RUN_START_MS.saturating_sub(ttl);
    let clock = ManualClock::new(Timestamp::from_millis(origin));
    let mut builder = Engine::builder().policy(policy).clock(clock.clone());
    if let Some(shards) = plan.shards {
        builder = builder.shards(shards);
    }
    let engine = Arc::new(builder.build()?);
    let rss_engine_built = rss_bytes(page);
    bar.set_length(pop.members + plan.pending + plan.recent);

    // Phase 1: every member gets a record and no activity. Setting a new member to
    // the defaults creates no record, so Free members pass through Premium, as a
    // downgraded member does.
    bar.set_message("members");
    for id in 1..=pop.members {
        let m = invite_limiter::MemberId(id);
        engine.set_tier(m, Tier::Premium);
        if !pop.is_premium(m) {
            engine.set_tier(m, Tier::Free);
        }
        tick(bar, id);
    }
    let rss_after_members = rss_bytes(page);
    let member_records = engine.member_records() as u64;

    // Phase 2: pending invitations sent from one TTL ago up to a day ago.
    bar.set_message("pending invitations");
    let mut rng = SmallRng::seed_from_u64(mix64(plan.seed ^ 0x9E4D));
    let span = RUN_START_MS.saturating_sub(DAY_MS).saturating_sub(origin);
    let mut pending = Vec::with_capacity(usize::try_from(plan.pending.min(1 << 24)).unwrap_or(0));
    for i in 0..plan.pending {
        let at = origin + (u128::from(span) * u128::from(i) / u128::from(plan.pending)) as u64;
        clock.set(Timestamp::from_millis(at));
        let req = InviteRequest::new(pop.anyone(&mut rng), pop.anyone(&mut rng));
        if let Ok(sent) = engine.send(req) {
            pending.push(sent.id());
        }
        tick(bar, pop.members + i);
    }
    let rss_after_pending = rss_bytes(page);

    // Phase 3: sends in the last day, answered at once, so they count only in windows.
    bar.set_message("recent sends");
    let day_start = RUN_START_MS.saturating_sub(DAY_MS).max(origin);
    let mut recent = 0u64;
    for i in 0..plan.recent {
        let at = day_start + (u128::from(DAY_MS) * u128::from(i) / u128::from(plan.recent)) as u64;
        clock.set(Timestamp::from_millis(at.min(RUN_START_MS)));
        let req = InviteRequest::new(pop.anyone(&mut rng), pop.anyone(&mut rng));
        if let Ok(sent) = engine.send(req) {
            if engine.decline(sent.id()).is_ok() {
                recent += 1;
            }
        }
        tick(bar, pop.members + plan.pending + i);
    }
    let rss_after_recent = rss_bytes(page);

    clock.set(Timestamp::from_millis(RUN_START_MS));
    bar.set_message("catch-up sweep");
    let member_records_before = engine.member_records();
    let sweep_began = Instant::now();
    let expired = engine.sweep();
    let catchup = Catchup {
        millis: sweep_began.elapsed().as_secs_f64() * 1e3,
        expired,
        member_records_before,
        member_records_after: engine.member_records(),
    };

    let memory = MemoryPhases {
        page_size: page,
        rss_start,
        rss_engine_built,
        rss_after_members,
        rss_after_pending,
        rss_after_recent,
        members_touched: pop.members,
        member_records,
        pending_invitations: pending.len() as u64,
        in_window_sends: recent,
        bytes_per_member: per_item(rss_engine_built, rss_after_members, member_records),
        bytes_per_pending_invitation: per_item(
            rss_after_members,
            rss_after_pending,
            pending.len() as u64,
        ),
        bytes_per_in_window_send: per_item(rss_after_pending, rss_after_recent, recent),
    };
    let threads = plan.threads.max(1);
    let mut pools: Vec<Vec<InviteId>> = vec![Vec::new(); threads];
    for (i, id) in pending.into_iter().enumerate() {
        pools[i % threads].push(id);
    }
    Ok(Setup {
        engine,
        clock,
        start: Timestamp::from_millis(RUN_START_MS),
        pools,
        memory,
        catchup,
        seconds: began.elapsed().as_secs_f64(),
    })
}

fn tick(bar: &ProgressBar, done: u64) {
    if done.is_multiple_of(4096) {
        bar.set_position(done);
    }
}
