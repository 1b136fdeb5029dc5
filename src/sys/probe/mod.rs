//! Health-probe attempts: one non-blocking machine per running probe
//! attempt (exec, tcp or http), driven by the single poll(2) loop.
//!
//! This module owns the I/O of ONE attempt: start it, feed it poll
//! readiness, child exits and timeouts, and read its `Outcome`. It owns no
//! policy: thresholds, intervals, initial delays and gating live in `core`,
//! which decides when to start an attempt and what an outcome means. It
//! never blocks, never spawns a thread, never reads the clock (time comes
//! in as `now`) and never calls `waitpid` (the central reaper does and
//! routes the exit here through `pid` / `on_exit`).
//!
//! # Correct order, each loop turn
//!
//! 1. `ps.clear()`, then `attempt.register(&mut ps)` for every running
//!    attempt (the index is only valid for the very next `wait`).
//! 2. `ps.wait(earliest deadline − now)`; include `attempt.deadline()`.
//! 3. `attempt.on_poll(&ps)`; for a reaped pid equal to `attempt.pid()`,
//!    `attempt.on_exit(status)`; if `now >= attempt.deadline()`,
//!    `attempt.on_timeout(now)`. Exits before timeouts: an exit reaped in
//!    the same turn as the deadline then counts, and `on_timeout` never
//!    signals a group whose leader was already reaped.
//! 4. `attempt.take_outcome()` once it is `Some`. An exec attempt that was
//!    killed on timeout still reports its `pid()` until its exit has been
//!    delivered, so the reaper can route it (it is then ignored).

// Not wired into the event loop yet; the lead removes this when wiring.
#![allow(dead_code)]

pub mod exec;
pub mod http;
pub mod resolve;
pub mod tcp;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::plan::ProbeKind;
use crate::sys::poll::PollSet;

/// The result of one probe attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// One lowercase line (exec output may add more lines after the
    /// first): `status 503`, `connect 127.0.0.1:3000: connection refused`,
    /// `timed out after 5s`, `exit status 1: <output>`.
    Failure(String),
}

/// One running probe attempt.
pub struct Attempt {
    deadline: Instant,
    timeout: Duration,
    outcome: Option<Outcome>,
    machine: Machine,
}

enum Machine {
    /// Finished (tcp/http: sockets closed) or failed to start.
    Idle,
    Exec(exec::Exec),
    Tcp(tcp::Tcp),
    Http(http::Http),
}

/// What a machine reports after being advanced.
pub(crate) enum Step {
    Pending,
    Done(Outcome),
}

impl Attempt {
    /// Start an attempt now. Never blocks: tcp/http open a non-blocking
    /// socket and begin `connect`; exec forks the probe command into its
    /// own process group. `addrs` are the pre-resolved addresses for
    /// tcp/http (see `resolve`), unused by exec. Any error to start with
    /// becomes an already finished attempt with `Outcome::Failure`.
    pub fn start(
        kind: &ProbeKind,
        addrs: &[SocketAddr],
        timeout: Duration,
        now: Instant,
    ) -> Attempt {
        let (machine, step) = match kind {
            ProbeKind::Exec(argv) => start_exec(exec::Command::Argv(argv)),
            ProbeKind::Shell(s) => start_exec(exec::Command::Shell(s)),
            ProbeKind::Tcp { .. } => {
                let (m, step) = tcp::Tcp::start(addrs);
                (Machine::Tcp(m), step)
            }
            ProbeKind::Http {
                host, port, path, ..
            } => {
                let (m, step) = http::Http::start(addrs, host, *port, path);
                (Machine::Http(m), step)
            }
        };
        let mut a = Attempt {
            deadline: now + timeout,
            timeout,
            outcome: None,
            machine,
        };
        a.apply(step);
        a
    }

    /// An attempt that failed before it could start (e.g. the address
    /// did not resolve), so callers handle every failure the same way.
    pub fn failed(message: String, timeout: Duration, now: Instant) -> Attempt {
        Attempt {
            deadline: now + timeout,
            timeout,
            outcome: Some(Outcome::Failure(message)),
            machine: Machine::Idle,
        }
    }

    /// Add this attempt's fd (if any) to `ps` with the events it waits
    /// for. Call once per loop turn, after `ps.clear()`.
    pub fn register(&mut self, ps: &mut PollSet) {
        match &mut self.machine {
            Machine::Idle => {}
            Machine::Exec(m) => m.register(ps),
            Machine::Tcp(m) => m.register(ps),
            Machine::Http(m) => m.register(ps),
        }
    }

    /// Advance the machine after `ps.wait`. Harmless when nothing is ready
    /// or when `register` was not called this turn.
    pub fn on_poll(&mut self, ps: &PollSet) {
        let step = match &mut self.machine {
            Machine::Idle => Step::Pending,
            Machine::Exec(m) => m.on_poll(ps),
            Machine::Tcp(m) => m.on_poll(ps),
            Machine::Http(m) => m.on_poll(ps),
        };
        self.apply(step);
    }

    /// The exec child's pid, so the reaper can route its exit here. Some
    /// until `on_exit` was delivered (also after a timeout kill); None for
    /// tcp/http.
    pub fn pid(&self) -> Option<u32> {
        match &self.machine {
            Machine::Exec(m) => m.pid(),
            Machine::Idle | Machine::Tcp(_) | Machine::Http(_) => None,
        }
    }

    /// The reaper saw the exec child exit with `wait_status` (the raw
    /// status of waitpid). Ignored after a timeout or for tcp/http.
    pub fn on_exit(&mut self, wait_status: i32) {
        let step = match &mut self.machine {
            Machine::Exec(m) => m.on_exit(wait_status),
            Machine::Idle | Machine::Tcp(_) | Machine::Http(_) => Step::Pending,
        };
        self.apply(step);
    }

    /// `start + timeout`: the caller must call `on_timeout` once past it.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Past the deadline: the attempt fails with `timed out after 5s`,
    /// its socket is closed, and an exec child's whole process group gets
    /// SIGKILL (the reaper reaps it later). No-op when already finished
    /// or when `now` is before the deadline.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.outcome.is_some() || now < self.deadline {
            return;
        }
        match &mut self.machine {
            Machine::Exec(m) => m.kill(),
            Machine::Idle | Machine::Tcp(_) | Machine::Http(_) => self.machine = Machine::Idle,
        }
        self.outcome = Some(Outcome::Failure(format!(
            "timed out after {}",
            crate::duration::format(self.timeout)
        )));
    }

    /// Some once the attempt has finished (until taken).
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    pub fn take_outcome(&mut self) -> Option<Outcome> {
        self.outcome.take()
    }

    /// True once an outcome was reached (taken or not).
    pub fn finished(&self) -> bool {
        self.outcome.is_some()
            || match &self.machine {
                Machine::Idle => true,
                Machine::Exec(m) => m.finished(),
                Machine::Tcp(_) | Machine::Http(_) => false,
            }
    }

    fn apply(&mut self, step: Step) {
        if let Step::Done(o) = step {
            if self.outcome.is_none() {
                self.outcome = Some(o);
            }
            // Sockets close now; an exec machine keeps its pid for routing.
            if !matches!(self.machine, Machine::Exec(_)) {
                self.machine = Machine::Idle;
            }
        }
    }
}

fn start_exec(cmd: exec::Command) -> (Machine, Step) {
    match exec::Exec::start(cmd) {
        Ok(m) => (Machine::Exec(m), Step::Pending),
        Err(msg) => (Machine::Idle, Step::Done(Outcome::Failure(msg))),
    }
}

/// An OS error as a lowercase phrase without std's ` (os error N)`:
/// `connection refused`.
pub(crate) fn os_text(e: &io::Error) -> String {
    let s = crate::error::os_text(e);
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => s,
    }
}

/// `127.0.0.1:3000`, `[::1]:3000`: std's SocketAddr Display already
/// brackets IPv6.
pub(crate) fn fmt_addr(a: &SocketAddr) -> String {
    a.to_string()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A miniature event loop for the probe tests: poll until the attempt
    //! finishes or passes its deadline, reaping the exec child ourselves
    //! since the lead's reaper is absent here.

    use super::*;

    /// Reap `pid` without blocking; Some(raw status) once it has exited.
    pub fn try_reap(pid: u32) -> Option<i32> {
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid out pointer.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        (r == pid as libc::pid_t).then_some(status)
    }

    /// Drive `a` to its outcome, reaping an exec child that exits before
    /// it; a child killed on timeout is left for the caller to reap.
    pub fn drive(a: &mut Attempt) -> Outcome {
        let hard_stop = a.deadline() + Duration::from_secs(10);
        loop {
            if let Some(o) = a.take_outcome() {
                return o;
            }
            let now = Instant::now();
            assert!(now < hard_stop, "attempt never finished");
            if now >= a.deadline() {
                a.on_timeout(now);
                continue;
            }
            let mut ps = PollSet::default();
            a.register(&mut ps);
            // Short slices while an exec child may have exited without a
            // pipe event (no SIGCHLD here): polls a condition, not a sleep.
            let mut wait = a.deadline() - now;
            if a.pid().is_some() {
                wait = wait.min(Duration::from_millis(10));
            }
            ps.wait(Some(wait)).unwrap();
            a.on_poll(&ps);
            if let Some(pid) = a.pid() {
                if let Some(st) = try_reap(pid) {
                    a.on_exit(st);
                }
            }
        }
    }

    /// Reap `pid`, blocking up to 10 s (polled); panics if it never exits.
    pub fn reap_blocking(pid: u32) -> i32 {
        let stop = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = try_reap(pid) {
                return st;
            }
            assert!(Instant::now() < stop, "child {pid} never exited");
            let mut ps = PollSet::default();
            ps.wait(Some(Duration::from_millis(5))).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_text_is_lowercase_without_errno() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(os_text(&e), "connection refused");
    }

    #[test]
    fn timeout_before_deadline_is_ignored() {
        let now = Instant::now();
        let kind = ProbeKind::Tcp {
            host: "127.0.0.1".into(),
            port: 9,
        };
        // No addresses: finishes at once with a failure, timeout is moot.
        let mut a = Attempt::start(&kind, &[], Duration::from_secs(1), now);
        assert!(a.finished());
        a.on_timeout(now + Duration::from_secs(2));
        assert_eq!(
            a.take_outcome(),
            Some(Outcome::Failure("no address to connect to".into()))
        );
    }
}
