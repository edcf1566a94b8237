//! Reconnect delays: exponential, capped, with jitter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Delays `initial`, `2·initial`, … up to `max`, each scaled by a random
/// factor in [0.5, 1.0] so that many controllers (or devices) restarted
/// together do not retry in lockstep.
#[derive(Debug, Clone)]
pub struct ReconnectBackoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    seed: u64,
}

impl ReconnectBackoff {
    /// A backoff starting at `initial`, capped at `max`; `salt` (e.g. a hash of
    /// the device name) decorrelates devices.
    pub fn new(initial: Duration, max: Duration, salt: u64) -> ReconnectBackoff {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        ReconnectBackoff { initial, max: max.max(initial), next: initial, seed: nanos ^ salt.rotate_left(17) | 1 }
    }

    /// The next delay (and doubles the one after, up to the cap).
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        // xorshift64: enough randomness for jitter.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let factor = 0.5 + (self.seed % 1000) as f64 / 2000.0;
        base.mul_f64(factor)
    }

    /// Back to the initial delay (after a successful connection).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_capped_with_jitter_and_resets() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(2));
        let mut b = ReconnectBackoff::new(i, m, 42);
        let mut bases = Vec::new();
        for _ in 0..10 {
            let d = b.next_delay();
            assert!(d <= m, "{d:?}");
            bases.push(d);
        }
        assert!(bases[0] >= i / 2 && bases[0] <= i);
        assert!(bases[9] >= m / 2);
        b.reset();
        assert!(b.next_delay() <= i);
    }
}
