//! The simulator's random numbers: xoshiro256** seeded through SplitMix64.
//!
//! Small, fast and fully determined by its seed, so a run can be replayed exactly. It is
//! **not** a cryptographic generator; it implements [`rand_core::CryptoRng`] only so that
//! tests can hand it to code that asks for one (connection IDs, TLS randomness) and still
//! get reproducible runs. Never use it outside simulation.

use core::time::Duration;

/// A seeded xoshiro256** generator for simulations (see the module docs: not secure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRng {
    s: [u64; 4],
}

/// One SplitMix64 step: advances `state` and returns a well-mixed output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SimRng {
    /// A generator whose whole output sequence is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let s = [
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
        ];
        // SplitMix64 is a bijection of a counter, so four consecutive outputs are never
        // all zero: the xoshiro state is valid for every seed.
        SimRng { s }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A new generator seeded from this one: an independent stream (one per link, one
    /// per connection) so that activity on one does not shift the numbers of another.
    pub fn fork(&mut self) -> SimRng {
        SimRng::new(self.next_u64())
    }

    /// A uniform value in `0..n`; `n` must not be zero.
    ///
    /// Uses rejection sampling, so every value is exactly equally likely.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "SimRng::below(0)");
        // Values in the top partial block of 2^64 would favour small results; redraw.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// A uniform float in `[0, 1)` with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.next_u64() >> 11) as f64 * SCALE
    }

    /// `true` with probability `p`. Draws nothing when `p <= 0`, so a disabled
    /// impairment does not disturb the sequence seen by the others.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A uniform duration in `[0, max]` at nanosecond resolution. Draws nothing when
    /// `max` is zero.
    pub fn duration_up_to(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.below(nanos.saturating_add(1)))
    }
}

impl rand_core::RngCore for SimRng {
    fn next_u32(&mut self) -> u32 {
        // The high bits of xoshiro256** are the strongest.
        (SimRng::next_u64(self) >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        SimRng::next_u64(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Simulation only: lets reproducible runs seed code that requires a `CryptoRng`.
/// The output is predictable from the seed and offers no security.
impl rand_core::CryptoRng for SimRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_different_seed_different_sequence() {
        let mut a = SimRng::new(7);
        let mut b = SimRng::new(7);
        let mut c = SimRng::new(8);
        let xs: std::vec::Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: std::vec::Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: std::vec::Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn matches_reference_xoshiro256starstar() {
        // Reference outputs of xoshiro256** from state [1, 2, 3, 4] (the authors' C code).
        let mut r = SimRng { s: [1, 2, 3, 4] };
        let expected = [11520, 0, 1509978240, 1215971899390074240];
        for e in expected {
            assert_eq!(r.next_u64(), e);
        }
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = SimRng::new(1);
        let mut seen = [false; 6];
        for _ in 0..1000 {
            let v = r.below(6);
            seen[usize::try_from(v).unwrap()] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn zero_probability_draws_nothing() {
        let mut a = SimRng::new(3);
        let b = a.clone();
        assert!(!a.chance(0.0));
        assert_eq!(a.duration_up_to(Duration::ZERO), Duration::ZERO);
        assert_eq!(a, b);
        assert!(a.chance(1.0));
    }

    #[test]
    fn unit_is_in_half_open_interval() {
        let mut r = SimRng::new(9);
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
