//! Tests of the Slack edge: request signing, Events API parsing against the documented
//! payload shapes and junk, the client against the fake Web API over real sockets, and
//! property-style checks of the update throttle.

mod client;
mod payload;
mod throttle;
mod verify;

/// Tiny deterministic PRNG (xorshift64*) for property-style tests.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
