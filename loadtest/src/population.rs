//! The simulated population: members `1..=members`, who is Premium, how busy each
//! sender is (Zipf over ranks), and who the spammers are.

use invite_limiter::MemberId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

/// The population: members `1..=members`, their tiers, the sender skew and the spammers.
#[derive(Debug)]
pub struct Population {
    pub members: u64,
    premium_share: f64,
    seed: u64,
    /// Multiplier of the rank-to-member bijection, coprime with `members`, so the
    /// busiest senders are spread over the engine's shards.
    mult: u64,
    offset: u64,
    zipf: Option<Zipf<f64>>,
    spammers: Vec<MemberId>,
}

/// SplitMix64's finaliser: a cheap, good 64-bit mix.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Population {
    pub fn new(
        members: u64,
        premium_share: f64,
        zipf: f64,
        spammer_share: f64,
        seed: u64,
    ) -> Result<Self, String> {
        if members < 2 {
            return Err("the population needs at least 2 members".into());
        }
        let mut mult = mix64(seed) % members;
        while mult == 0 || gcd(mult, members) != 1 {
            mult = (mult + 1) % members;
        }
        let zipf = if zipf > 0.0 {
            Some(Zipf::new(members as f64, zipf).map_err(|e| format!("bad --zipf: {e}"))?)
        } else {
            None
        };
        let mut pop = Population {
            members,
            premium_share,
            seed,
            mult,
            offset: mix64(seed ^ 0x5EED) % members,
            zipf,
            spammers: Vec::new(),
        };
        let count = (members as f64 * spammer_share).round() as u64;
        let count = if spammer_share > 0.0 { count.max(1) } else { 0 };
        let mut rng = SmallRng::seed_from_u64(mix64(seed ^ 0x5BA4));
        pop.spammers = (0..count.min(members))
            .map(|_| pop.anyone(&mut rng))
            .collect();
        Ok(pop)
    }

    /// The member at sender rank `rank` (0 is the busiest).
    pub fn by_rank(&self, rank: u64) -> MemberId {
        let m = u128::from(self.members);
        let id = (u128::from(rank) * u128::from(self.mult) + u128::from(self.offset)) % m;
        MemberId(id as u64 + 1)
    }

    /// A sender drawn with the configured skew.
    pub fn sender(&self, rng: &mut SmallRng) -> MemberId {
        match &self.zipf {
            Some(z) => {
                let rank = (z.sample(rng) as u64).clamp(1, self.members) - 1;
                self.by_rank(rank)
            }
            None => self.anyone(rng),
        }
    }

    /// Any member, uniformly.
    pub fn anyone(&self, rng: &mut SmallRng) -> MemberId {
        MemberId(rng.random_range(1..=self.members))
    }

    /// Whether the member is Premium (a fixed function of the id and the seed).
    pub fn is_premium(&self, m: MemberId) -> bool {
        let unit = (mix64(m.0 ^ self.seed.rotate_left(17)) >> 11) as f64 / (1u64 << 53) as f64;
        unit < self.premium_share
    }

    pub fn spammers(&self) -> &[MemberId] {
        &self.spammers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_map_onto_every_member_once() {
        let pop = Population::new(1_000, 0.1, 1.0, 0.01, 7).unwrap();
        let mut seen: Vec<u64> = (0..1_000).map(|r| pop.by_rank(r).0).collect();
        seen.sort_unstable();
        assert_eq!(seen, (1..=1_000).collect::<Vec<_>>());
        assert_eq!(pop.spammers().len(), 10);
    }

    #[test]
    fn skew_and_tiers_follow_the_configuration() {
        let pop = Population::new(100_000, 0.25, 1.1, 0.0, 9).unwrap();
        let mut rng = SmallRng::seed_from_u64(1);
        let top = pop.by_rank(0);
        let hits = (0..10_000).filter(|_| pop.sender(&mut rng) == top).count();
        assert!(hits > 500, "the busiest sender is busy: {hits}");
        let premium = (1..=100_000)
            .filter(|&m| pop.is_premium(MemberId(m)))
            .count();
        assert!((20_000..30_000).contains(&premium), "{premium}");
        assert!(pop.spammers().is_empty());
    }
}
