//! `core`: the supervision rules as plain data. No I/O, no clock reads, no
//! libc calls: everything arrives as an `Input` with the current time, and
//! everything to be done leaves as an `Action` for `sys` to carry out.
//!
//! Time is `Mono`, milliseconds on a monotonic clock whose origin the shell
//! chooses; tests start at `Mono(0)` and never sleep.

pub mod backoff;
pub mod breaker;
pub mod event;
pub mod fleet;
pub mod health;
pub mod process;

use std::time::Duration;

/// A point on the monotonic clock, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mono(pub u64);

impl Mono {
    pub fn after(self, d: Duration) -> Mono {
        Mono(
            self.0
                .saturating_add(d.as_millis().min(u64::MAX as u128) as u64),
        )
    }
    /// Milliseconds from `earlier` to `self`, 0 if `earlier` is later.
    pub fn since(self, earlier: Mono) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// How a child ended, as waitpid reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// Shell convention: the code, or 128+N when killed by signal N.
    pub fn shell_code(self) -> u8 {
        match self {
            ExitStatus::Code(c) => (c & 0xff) as u8,
            ExitStatus::Signal(s) => (128 + (s & 0x7f)) as u8,
        }
    }
}
