//! The virtual clock: milliseconds since the simulation started, and the Unix time the
//! protocol sees. Nothing ever sleeps: time moves only when the simulation says so.

/// Unix time at which every simulation starts (2025-11-22, a Saturday, 10:13:20 UTC).
pub const START_UNIX: u64 = 1_763_806_400;

/// The virtual clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clock {
    ms: u64,
}

impl Clock {
    /// The clock at the start.
    pub fn new() -> Self {
        Clock { ms: 0 }
    }

    /// Milliseconds since the start.
    pub fn ms(&self) -> u64 {
        self.ms
    }

    /// Unix seconds, as the protocol's `now`.
    pub fn unix(&self) -> u64 {
        START_UNIX + self.ms / 1000
    }

    /// Moves to `ms` (never backwards).
    pub fn set(&mut self, ms: u64) {
        self.ms = self.ms.max(ms);
    }

    /// Moves on by `ms`.
    pub fn advance(&mut self, ms: u64) {
        self.ms = self.ms.saturating_add(ms);
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
