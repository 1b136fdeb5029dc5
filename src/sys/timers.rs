//! The deadline heap: one entry per (key, generation). Re-arming a key
//! bumps its generation; stale entries are skipped when they surface, so
//! re-arming is O(log n) and nothing is ever searched for or removed.

use crate::core::Mono;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A process's `next_deadline()` (index into the fleet).
    Proc(usize),
    /// The status line.
    Tick,
    /// Look for the STOP file (when inotify is unavailable).
    StopFile,
    /// systemd WATCHDOG=1 ping.
    Watchdog,
}

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Mono, Key, u64)>>,
    current: HashMap<Key, (u64, Mono)>,
    next_gen: u64,
}

impl Timers {
    /// Arm `key` at `at`, replacing any earlier arming; None disarms.
    pub fn set(&mut self, key: Key, at: Option<Mono>) {
        match at {
            None => {
                self.current.remove(&key);
            }
            Some(at) => {
                if self.current.get(&key).is_some_and(|&(_, t)| t == at) {
                    return;
                }
                self.next_gen += 1;
                self.current.insert(key, (self.next_gen, at));
                self.heap.push(Reverse((at, key, self.next_gen)));
            }
        }
    }

    fn is_live(&self, key: Key, gen: u64) -> bool {
        self.current.get(&key).is_some_and(|&(g, _)| g == gen)
    }

    /// The earliest live deadline.
    pub fn next(&mut self) -> Option<Mono> {
        while let Some(&Reverse((at, key, gen))) = self.heap.peek() {
            if self.is_live(key, gen) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Pop every live key due at or before `now` (each disarmed).
    pub fn pop_due(&mut self, now: Mono) -> Vec<Key> {
        let mut due = Vec::new();
        while let Some(&Reverse((at, key, gen))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            if self.is_live(key, gen) {
                self.current.remove(&key);
                due.push(key);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rearming_skips_stale_entries() {
        let mut t = Timers::default();
        t.set(Key::Proc(0), Some(Mono(100)));
        t.set(Key::Proc(0), Some(Mono(50)));
        t.set(Key::Proc(1), Some(Mono(70)));
        t.set(Key::Tick, Some(Mono(10)));
        t.set(Key::Tick, None);
        assert_eq!(t.next(), Some(Mono(50)));
        assert_eq!(t.pop_due(Mono(60)), vec![Key::Proc(0)]);
        assert_eq!(t.next(), Some(Mono(70)));
        assert_eq!(t.pop_due(Mono(1000)), vec![Key::Proc(1)]);
        assert_eq!(t.next(), None);
    }
}
