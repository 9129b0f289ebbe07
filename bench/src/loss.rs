//! Seeded random datagram loss.

/// SplitMix64 (Steele, Lea and Flood), a small fast generator that is plenty for picking
/// which datagrams to drop; the same seed gives the same sequence on every machine.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Drops each datagram of one direction with a fixed probability.
#[derive(Debug, Clone)]
pub struct Loss {
    rng: SplitMix64,
    /// A datagram is dropped when the next random number is below this.
    threshold: u64,
    /// Datagrams seen.
    pub seen: u64,
    /// Datagrams dropped.
    pub dropped: u64,
}

impl Loss {
    /// Drops `percent` percent of datagrams (0 drops none), decided by a generator seeded with
    /// `seed`.
    pub fn new(percent: f64, seed: u64) -> Self {
        let p = (percent / 100.0).clamp(0.0, 1.0);
        // u64::MAX as f64 rounds up to 2^64; the product saturates back into range.
        let threshold = (p * u64::MAX as f64) as u64;
        Self {
            rng: SplitMix64::new(seed),
            threshold,
            seen: 0,
            dropped: 0,
        }
    }

    /// Whether the next datagram is lost.
    pub fn drop_next(&mut self) -> bool {
        self.seen += 1;
        if self.threshold == 0 {
            return false;
        }
        let lost = self.rng.next_u64() < self.threshold;
        self.dropped += u64::from(lost);
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_known_values() {
        // First outputs for seed 0, as published with the reference implementation.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn one_percent_is_about_one_percent() {
        let mut l = Loss::new(1.0, 7);
        for _ in 0..100_000 {
            l.drop_next();
        }
        assert!((800..1200).contains(&l.dropped), "dropped {}", l.dropped);
        let mut none = Loss::new(0.0, 7);
        assert!(!(0..1000).any(|_| none.drop_next()));
    }
}
