//! Exponential restart backoff: `restart_delay × backoff_factor^n`, capped
//! at `backoff_max`, where n counts the consecutive short-lived failures.
//! A run of at least `min_uptime` (or a clean exit) resets n to 0.

use std::time::Duration;

/// Where repeated failures start backing off when `restart_delay` is 0.
pub const ZERO_FLOOR: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    base: Duration,
    factor: f64,
    max: Duration,
    /// Consecutive failures since the last reset.
    n: u32,
}

impl Backoff {
    pub fn new(base: Duration, factor: f64, max: Duration) -> Backoff {
        Backoff {
            base,
            factor: if factor.is_finite() && factor >= 1.0 {
                factor
            } else {
                1.0
            },
            max,
            n: 0,
        }
    }

    pub fn reset(&mut self) {
        self.n = 0;
    }

    /// The delay before the next restart after a failure; grows the next one.
    pub fn next_failure_delay(&mut self) -> Duration {
        let d = self.peek();
        self.n = self.n.saturating_add(1);
        d
    }

    /// The delay the next failure would get, without consuming it.
    ///
    /// A zero `restart_delay` restarts the first failure at once, but
    /// repeated quick failures still back off from a 10 ms floor: with an
    /// unlimited breaker, a command that cannot even be spawned must never
    /// become a tight loop.
    pub fn peek(&self) -> Duration {
        let (base, n) = if self.base.is_zero() {
            if self.n == 0 {
                return Duration::ZERO;
            }
            (ZERO_FLOOR, self.n - 1)
        } else {
            (self.base, self.n)
        };
        let cap = self.max.max(base);
        let mult = self.factor.powi(n.min(1000) as i32);
        let ms = base.as_secs_f64() * 1000.0 * mult;
        if !ms.is_finite() || ms >= cap.as_millis() as f64 {
            return cap;
        }
        Duration::from_millis(ms.round() as u64).min(cap)
    }

    /// The delay after a clean exit: always the base delay.
    pub fn base(&self) -> Duration {
        self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grows_and_caps() {
        let mut b = Backoff::new(ms(1000), 2.0, ms(30_000));
        let got: Vec<u64> = (0..8)
            .map(|_| b.next_failure_delay().as_millis() as u64)
            .collect();
        assert_eq!(
            got,
            vec![1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        b.reset();
        assert_eq!(b.next_failure_delay(), ms(1000));
    }

    #[test]
    fn factor_one_is_constant_and_zero_base_is_zero() {
        let mut b = Backoff::new(ms(250), 1.0, ms(30_000));
        for _ in 0..100 {
            assert_eq!(b.next_failure_delay(), ms(250));
        }
        // Zero base: the first failure restarts at once, the next ones back
        // off from the 10 ms floor — never a tight loop.
        let mut z = Backoff::new(ms(0), 2.0, ms(30_000));
        let got: Vec<u64> = (0..6)
            .map(|_| z.next_failure_delay().as_millis() as u64)
            .collect();
        assert_eq!(got, vec![0, 10, 20, 40, 80, 160]);
        z.reset();
        assert_eq!(z.next_failure_delay(), ms(0));
    }

    #[test]
    fn never_exceeds_cap_over_many_parameters() {
        for base in [0u64, 1, 10, 100, 999, 1000, 5000, 60_000] {
            for factor in [1.0, 1.5, 2.0, 3.0, 10.0, 1e9] {
                for max in [0u64, 1, 1000, 30_000] {
                    let mut b = Backoff::new(ms(base), factor, ms(max));
                    let mut prev = Duration::ZERO;
                    for _ in 0..2000 {
                        let d = b.next_failure_delay();
                        let cap = max.max(base).max(if base == 0 { 10 } else { 0 });
                        assert!(d <= ms(cap), "{base} {factor} {max}: {d:?}");
                        assert!(d >= prev, "monotone");
                        prev = d;
                    }
                }
            }
        }
    }
}
