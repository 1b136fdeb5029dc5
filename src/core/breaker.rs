//! The crash-loop breaker: at most `max_restarts` failure restarts within
//! any `restart_window`; the exit that would need one more opens it.
//!
//! Only restarts caused by failures are recorded (clean exits under
//! `restart: always` and restarts a user asked for never count).

use super::Mono;
use std::collections::VecDeque;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Breaker {
    max: Option<u32>,
    window_ms: u64,
    /// Times of the failure restarts still inside the window, oldest first.
    restarts: VecDeque<Mono>,
}

impl Breaker {
    pub fn new(max: Option<u32>, window: Duration) -> Breaker {
        Breaker {
            max,
            window_ms: window.as_millis().min(u64::MAX as u128) as u64,
            restarts: VecDeque::new(),
        }
    }

    fn prune(&mut self, now: Mono) {
        while let Some(&t) = self.restarts.front() {
            if now.since(t) >= self.window_ms {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
    }

    /// Would one more failure restart at `now` exceed the limit?
    pub fn would_trip(&mut self, now: Mono) -> bool {
        self.prune(now);
        match self.max {
            None => false,
            Some(m) => self.restarts.len() as u64 >= u64::from(m),
        }
    }

    /// A failure restart happened at `now`.
    pub fn record(&mut self, now: Mono) {
        self.prune(now);
        self.restarts.push_back(now);
    }

    /// Failure restarts inside the window ending at `now`.
    pub fn failures(&self, now: Mono) -> u32 {
        self.restarts
            .iter()
            .filter(|&&t| now.since(t) < self.window_ms)
            .count() as u32
    }

    pub fn clear(&mut self) {
        self.restarts.clear();
    }

    pub fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_on_the_one_past_max() {
        let mut b = Breaker::new(Some(3), Duration::from_secs(10));
        for t in [0, 1, 2] {
            assert!(!b.would_trip(Mono(t)));
            b.record(Mono(t));
        }
        assert!(b.would_trip(Mono(3)));
        assert_eq!(b.failures(Mono(3)), 3);
        // The oldest leaves the window at 10 000 ms.
        assert!(!b.would_trip(Mono(10_000)));
    }

    #[test]
    fn zero_max_trips_at_once_and_none_never() {
        let mut z = Breaker::new(Some(0), Duration::from_secs(10));
        assert!(z.would_trip(Mono(0)));
        let mut n = Breaker::new(None, Duration::from_secs(10));
        for t in 0..10_000 {
            assert!(!n.would_trip(Mono(t)));
            n.record(Mono(t));
        }
    }
}
