//! One supervised process as a state machine: `on_event(input, now) ->
//! Vec<Action>`, plus `next_deadline()` for the shell's timer heap.
//!
//! The table is `match (state, input)` with every pair decided; pairs that
//! cannot happen (an exit for a process with no child) are bugs: they are
//! answered with `Action::Bug` so tests catch them and release builds log
//! them instead of crashing a supervisor.

use super::backoff::Backoff;
use super::breaker::Breaker;
use super::event::{Event, EventKind};
use super::health::{Health, Probes, Role, Verdict};
use super::{ExitStatus, Mono};
use crate::plan::{OnLimit, ProcSpec};

/// SPEC §3 states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started, or stopped on request.
    Stopped,
    /// Spawned; startup probe not yet passed, or `min_uptime` not reached.
    Starting,
    /// Up and past its startup checks.
    Running,
    /// Exited; a restart is scheduled at `deadline`.
    Backoff,
    /// Stop signal sent; SIGKILL at `deadline` unless it exits first.
    Stopping,
    /// Exited and the restart policy says no restart.
    Exited,
    /// Breaker open (retry at `deadline` when there is a cooldown).
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Starting => "starting",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Stopping => "stopping",
            State::Exited => "exited",
            State::Failed => "failed",
        }
    }
    #[cfg(test)]
    pub const ALL: [State; 7] = [
        State::Stopped,
        State::Starting,
        State::Running,
        State::Backoff,
        State::Stopping,
        State::Exited,
        State::Failed,
    ];
}

/// What can happen to a process.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Bring it up (initial start, `tend start`, dependencies met).
    Start,
    /// Take it down and keep it down (`tend stop`, shutdown).
    Stop,
    /// Like `Stop`, but with this signal instead of `stop_signal` (the tini
    /// role: a TERM/INT/QUIT to tend is forwarded as itself).
    StopWith(i32),
    /// `tend restart`: stop if up, then start; never counts as a failure.
    Restart,
    /// `tend reset`: close the breaker, clear `failed`, start.
    Reset,
    /// The shell spawned the child the last `Spawn` asked for.
    Spawned { pid: u32 },
    /// The spawn failed; `code` is 127 (not found) or 126 (not executable).
    SpawnFailed { error: String, code: i32 },
    /// The reaper saw the child exit.
    Exited(ExitStatus),
    /// One of this process's deadlines passed.
    Due,
    /// A probe attempt finished.
    ProbeDone {
        role: Role,
        ok: bool,
        message: String,
    },
    /// The shell measured the process group for `limits`.
    LimitSample { rss_bytes: u64, procs: u32 },
    /// Second shutdown signal: SIGKILL the group now.
    Kill,
}

/// What the shell must do for this process.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Fork/exec the child; answer with `Spawned` or `SpawnFailed`.
    Spawn,
    /// Send a signal to the child's process group.
    Signal(i32),
    /// Start one attempt of this probe; answer with `ProbeDone`.
    StartProbe(Role),
    /// Abandon any running probe attempts (their results are ignored).
    CancelProbes,
    /// Measure RSS and process count of the group; answer `LimitSample`.
    SampleLimits,
    Emit(Event),
    /// An impossible (state, input) pair: a bug in the caller.
    Bug(String),
}

/// What happens when a stop in progress completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterStop {
    /// Stay `stopped`.
    Stay,
    /// Start again (`tend restart`).
    Start,
    /// A probe or limit asked for the stop: go through backoff and breaker
    /// as a failure.
    Fail,
    /// `on_limit: stop`: end `failed`.
    GiveUp,
}

/// How often the limits of a running process are sampled.
pub const LIMITS_PERIOD_MS: u64 = 2000;

#[derive(Debug, Clone)]
pub struct Proc {
    pub spec: ProcSpec,
    state: State,
    pid: Option<u32>,
    starts: u64,
    last_start: Option<Mono>,
    last_exit: Option<(ExitStatus, Mono)>,
    last_error: Option<String>,
    /// The exit that decided the current `exited`/`failed`, for tend's own
    /// exit code (a spawn failure counts as exit 127/126).
    final_status: Option<ExitStatus>,
    backoff: Backoff,
    breaker: Breaker,
    probes: Probes,
    /// The state's timer: restart time (backoff), SIGKILL time (stopping),
    /// `min_uptime` (starting), cooldown end (failed).
    deadline: Option<Mono>,
    /// Next limits sample (running or starting, with limits set).
    limits_at: Option<Mono>,
    after_stop: AfterStop,
    /// SIGKILL already sent during this stop.
    killed: bool,
    /// The pending restart (backoff) was caused by a failure: record it in
    /// the breaker when it happens.
    pending_failure_restart: bool,
    /// Whether the last reported readiness was true (to emit transitions).
    was_ready: bool,
}

impl Proc {
    pub fn new(spec: ProcSpec) -> Proc {
        let backoff = Backoff::new(spec.restart_delay, spec.backoff_factor, spec.backoff_max);
        let breaker = Breaker::new(spec.max_restarts, spec.restart_window);
        let probes = Probes::new(
            spec.startup.clone(),
            spec.liveness.clone(),
            spec.readiness.clone(),
        );
        Proc {
            spec,
            state: State::Stopped,
            pid: None,
            starts: 0,
            last_start: None,
            last_exit: None,
            last_error: None,
            final_status: None,
            backoff,
            breaker,
            probes,
            deadline: None,
            limits_at: None,
            after_stop: AfterStop::Stay,
            killed: false,
            pending_failure_restart: false,
            was_ready: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }
    pub fn state(&self) -> State {
        self.state
    }
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }
    pub fn starts(&self) -> u64 {
        self.starts
    }
    /// Every start after the first, whatever its cause.
    pub fn restarts(&self) -> u64 {
        self.starts.saturating_sub(1)
    }
    pub fn last_start(&self) -> Option<Mono> {
        self.last_start
    }
    pub fn last_exit(&self) -> Option<(ExitStatus, Mono)> {
        self.last_exit
    }
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
    pub fn health(&self) -> Health {
        self.probes.health
    }
    pub fn has_health_probe(&self) -> bool {
        self.probes.has_health_probe()
    }
    pub fn final_status(&self) -> Option<ExitStatus> {
        self.final_status
    }
    pub fn breaker_failures(&self, now: Mono) -> u32 {
        self.breaker.failures(now)
    }
    #[cfg(test)]
    pub fn deadline(&self) -> Option<Mono> {
        self.deadline
    }

    /// SPEC §3: with a readiness probe, its verdict while up; without one,
    /// `running`.
    pub fn ready(&self) -> bool {
        match self.state {
            State::Running => !self.probes.has_readiness() || self.probes.ready_probe,
            // A readiness probe may pass before min_uptime; readiness needs
            // the process to be past starting all the same.
            State::Stopped
            | State::Starting
            | State::Backoff
            | State::Stopping
            | State::Exited
            | State::Failed => false,
        }
    }

    /// True when the process has a child (or is about to get one).
    pub fn is_up(&self) -> bool {
        matches!(
            self.state,
            State::Starting | State::Running | State::Stopping
        )
    }

    /// Done for good: nothing will start it again without a request.
    pub fn is_final(&self) -> bool {
        match self.state {
            State::Exited => true,
            State::Failed => self.deadline.is_none(),
            State::Stopped
            | State::Starting
            | State::Running
            | State::Backoff
            | State::Stopping => false,
        }
    }

    /// A breaker with a cooldown: when it closes again.
    pub fn breaker_retry_at(&self) -> Option<Mono> {
        match self.state {
            State::Failed => self.deadline,
            State::Stopped
            | State::Starting
            | State::Running
            | State::Backoff
            | State::Stopping
            | State::Exited => None,
        }
    }

    /// The earliest time this process needs a `Due`.
    pub fn next_deadline(&self) -> Option<Mono> {
        [self.deadline, self.limits_at, self.probes.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn emit(&self, out: &mut Vec<Action>, kind: EventKind) {
        out.push(Action::Emit(Event::new(&self.spec.name, kind)));
    }

    /// Feed one input; returns what the shell must do, in order.
    pub fn on_event(&mut self, input: Input, now: Mono) -> Vec<Action> {
        let mut out = Vec::new();
        self.step(input, now, &mut out);
        let ready = self.ready();
        if ready != self.was_ready {
            self.was_ready = ready;
            if ready {
                self.emit(&mut out, EventKind::Ready);
            } else {
                let error = if self.probes.has_readiness() && self.is_up() {
                    self.last_error.clone()
                } else {
                    None
                };
                self.emit(&mut out, EventKind::Unready { error });
            }
        }
        out
    }

    fn step(&mut self, input: Input, now: Mono, out: &mut Vec<Action>) {
        use State as S;
        match (self.state, input) {
            // --- Start ---------------------------------------------------
            (S::Stopped | S::Exited | S::Failed | S::Backoff, Input::Start) => {
                self.begin_start(now, out)
            }
            (S::Starting | S::Running, Input::Start) => {}
            (S::Stopping, Input::Start) => {
                if self.after_stop == AfterStop::Stay {
                    self.after_stop = AfterStop::Start;
                }
            }

            // --- Stop ----------------------------------------------------
            (S::Starting | S::Running, Input::Stop) => self.begin_stop(AfterStop::Stay, now, out),
            (S::Starting | S::Running, Input::StopWith(sig)) => {
                self.begin_stop_with(AfterStop::Stay, sig, now, out)
            }
            (S::Stopping, Input::Stop | Input::StopWith(_)) => self.after_stop = AfterStop::Stay,
            (S::Backoff | S::Exited | S::Failed, Input::Stop | Input::StopWith(_)) => {
                self.deadline = None;
                self.pending_failure_restart = false;
                self.state = S::Stopped;
                self.emit(out, EventKind::Stopped);
            }
            (S::Stopped, Input::Stop | Input::StopWith(_)) => {}

            // --- Restart -------------------------------------------------
            (S::Starting | S::Running, Input::Restart) => {
                self.begin_stop(AfterStop::Start, now, out)
            }
            (S::Stopping, Input::Restart) => self.after_stop = AfterStop::Start,
            (S::Stopped | S::Exited | S::Failed | S::Backoff, Input::Restart) => {
                self.begin_start(now, out)
            }

            // --- Reset ---------------------------------------------------
            (state, Input::Reset) => {
                self.breaker.clear();
                self.backoff.reset();
                self.last_error = None;
                self.emit(out, EventKind::Reset);
                match state {
                    S::Stopped | S::Exited | S::Failed | S::Backoff => self.begin_start(now, out),
                    S::Stopping => self.after_stop = AfterStop::Start,
                    S::Starting | S::Running => {}
                }
            }

            // --- Spawn results -------------------------------------------
            (S::Starting, Input::Spawned { pid }) if self.pid.is_none() => {
                self.pid = Some(pid);
                self.last_start = Some(now);
                self.emit(out, EventKind::Started { pid });
                self.probes.on_spawn(now);
                if !self.probes.has_startup() {
                    self.deadline = Some(now.after(self.spec.min_uptime));
                }
                self.schedule_limits(now);
                if self.spec.min_uptime.is_zero() && !self.probes.has_startup() {
                    self.deadline = None;
                    self.state = S::Running;
                }
            }
            (S::Starting, Input::SpawnFailed { error, code }) if self.pid.is_none() => {
                self.last_start = Some(now);
                self.last_error = Some(error);
                let status = ExitStatus::Code(code);
                self.last_exit = Some((status, now));
                self.emit(
                    out,
                    EventKind::Exited {
                        code: Some(code),
                        signal: None,
                    },
                );
                self.after_exit(status, false, now, out);
            }
            (state, input @ (Input::Spawned { .. } | Input::SpawnFailed { .. })) => {
                out.push(Action::Bug(format!(
                    "{}: {input:?} in state {}",
                    self.spec.name,
                    state.as_str()
                )));
            }

            // --- Exits ---------------------------------------------------
            (S::Starting | S::Running, Input::Exited(status)) if self.pid.is_some() => {
                self.on_exit_record(status, now, out);
                self.after_exit(status, true, now, out);
            }
            (S::Stopping, Input::Exited(status)) if self.pid.is_some() => {
                self.on_exit_record(status, now, out);
                self.killed = false;
                self.deadline = None;
                match std::mem::replace(&mut self.after_stop, AfterStop::Stay) {
                    AfterStop::Stay => {
                        self.state = S::Stopped;
                        self.emit(out, EventKind::Stopped);
                    }
                    AfterStop::Start => {
                        self.state = S::Stopped;
                        self.emit(out, EventKind::Stopped);
                        self.begin_start(now, out);
                    }
                    AfterStop::Fail => {
                        // A long run is not part of a crash loop, however
                        // it ended (SPEC §2 min_uptime).
                        let ran_for = self.last_start.map_or(0, |t| now.since(t));
                        if ran_for >= self.spec.min_uptime.as_millis() as u64 {
                            self.backoff.reset();
                        }
                        self.failure_restart(now, out)
                    }
                    AfterStop::GiveUp => {
                        self.state = S::Failed;
                        self.final_status = Some(status);
                        self.emit(
                            out,
                            EventKind::GaveUp {
                                error: self.last_error.clone().unwrap_or_default(),
                            },
                        );
                    }
                }
            }
            (state, Input::Exited(status)) => {
                out.push(Action::Bug(format!(
                    "{}: exit {status:?} in state {} without a child",
                    self.spec.name,
                    state.as_str()
                )));
            }

            // --- Deadlines -----------------------------------------------
            (state, Input::Due) => self.on_due(state, now, out),

            // --- Probes --------------------------------------------------
            (S::Starting | S::Running, Input::ProbeDone { role, ok, message }) => {
                let spawned = self.last_start.unwrap_or(now);
                let verdict = self.probes.on_result(role, ok, &message, now, spawned);
                let recovered = matches!(
                    verdict,
                    Verdict::StartupPassed | Verdict::BecameHealthy | Verdict::BecameReady
                );
                if recovered
                    && self
                        .last_error
                        .as_deref()
                        .is_some_and(|e| e.starts_with(role.as_str()))
                {
                    // The probe recovered: its old complaint is no longer
                    // what is wrong with the process.
                    self.last_error = None;
                }
                match verdict {
                    Verdict::None => {}
                    Verdict::StartupPassed => {
                        if self.state == S::Starting {
                            self.state = S::Running;
                            self.deadline = None;
                        }
                        if self.probes.liveness.is_none() {
                            self.emit(out, EventKind::Healthy { probe: "startup" });
                        }
                    }
                    Verdict::BecameHealthy => self.emit(
                        out,
                        EventKind::Healthy {
                            probe: role.as_str(),
                        },
                    ),
                    Verdict::Restart { error } => {
                        self.last_error = Some(error.clone());
                        self.emit(
                            out,
                            EventKind::Unhealthy {
                                probe: role.as_str(),
                                error,
                            },
                        );
                        self.begin_stop(AfterStop::Fail, now, out);
                    }
                    Verdict::BecameReady => {}
                    Verdict::BecameUnready { error } => self.last_error = Some(error),
                    Verdict::Failed { error } => self.last_error = Some(error),
                }
            }
            // A result that arrives after the run ended: ignored.
            (
                S::Stopped | S::Backoff | S::Stopping | S::Exited | S::Failed,
                Input::ProbeDone { .. },
            ) => {}

            // --- Limits --------------------------------------------------
            (S::Starting | S::Running, Input::LimitSample { rss_bytes, procs }) => {
                let l = self.spec.limits;
                let over = if let Some(max) = l.procs.filter(|&m| procs > m) {
                    Some(format!("limits.procs: {procs} > {max}"))
                } else {
                    l.memory.filter(|&m| rss_bytes > m).map(|max| {
                        format!(
                            "limits.memory: {} > {}",
                            crate::size::format(rss_bytes),
                            crate::size::format(max)
                        )
                    })
                };
                if let Some(msg) = over {
                    self.limit_exceeded(msg, now, out);
                }
            }
            (
                S::Stopped | S::Backoff | S::Stopping | S::Exited | S::Failed,
                Input::LimitSample { .. },
            ) => {}

            // --- Kill ----------------------------------------------------
            (S::Starting | S::Running | S::Stopping, Input::Kill) => {
                // As in begin_stop: no probe or limits sample may stay due,
                // or the shell would be woken for it over and over.
                if self.state != S::Stopping {
                    self.probes.on_stop();
                    out.push(Action::CancelProbes);
                    self.limits_at = None;
                }
                if self.pid.is_some() {
                    out.push(Action::Signal(libc_sigkill()));
                    self.killed = true;
                }
                self.after_stop = AfterStop::Stay;
                if self.state != S::Stopping {
                    self.state = S::Stopping;
                    self.emit(out, EventKind::Stopping);
                }
                self.deadline = None;
            }
            (S::Stopped | S::Backoff | S::Exited | S::Failed, Input::Kill) => {
                if self.state != S::Stopped {
                    self.deadline = None;
                    self.state = S::Stopped;
                    self.emit(out, EventKind::Stopped);
                }
            }
        }
    }

    fn on_due(&mut self, state: State, now: Mono, out: &mut Vec<Action>) {
        use State as S;
        // Probes first: they are independent of the state timer.
        if matches!(state, S::Starting | S::Running) {
            for role in self.probes.take_due(now) {
                out.push(Action::StartProbe(role));
            }
            if self.limits_at.is_some_and(|t| t <= now) {
                self.limits_at = Some(now.after(ms(LIMITS_PERIOD_MS)));
                if let Some(rt) = self.spec.limits.runtime {
                    let started = self.last_start.unwrap_or(now);
                    if now.since(started) >= rt.as_millis() as u64 {
                        let msg = format!(
                            "limits.runtime: {} > {}",
                            crate::duration::format(ms(now.since(started))),
                            crate::duration::format(rt)
                        );
                        self.limit_exceeded(msg, now, out);
                        return;
                    }
                    // The runtime end may fall before the next sample.
                    self.limits_at = self.limits_at.map(|t| t.min(started.after(rt)));
                }
                if self.spec.limits.memory.is_some() || self.spec.limits.procs.is_some() {
                    out.push(Action::SampleLimits);
                }
            }
        }
        let Some(at) = self.deadline else { return };
        if at > now {
            return;
        }
        self.deadline = None;
        match state {
            S::Backoff => {
                if std::mem::take(&mut self.pending_failure_restart) {
                    self.breaker.record(now);
                }
                self.begin_start(now, out);
            }
            S::Starting => {
                // min_uptime reached without a startup probe.
                self.state = S::Running;
            }
            S::Stopping => {
                if !self.killed {
                    self.killed = true;
                    out.push(Action::Signal(libc_sigkill()));
                }
            }
            S::Failed => {
                // Cooldown over: close the breaker and try once.
                self.breaker.clear();
                self.backoff.reset();
                self.begin_start(now, out);
            }
            S::Stopped | S::Running | S::Exited => {}
        }
    }

    fn schedule_limits(&mut self, now: Mono) {
        let l = self.spec.limits;
        self.limits_at = if l.memory.is_some() || l.procs.is_some() {
            Some(now.after(ms(LIMITS_PERIOD_MS.min(500))))
        } else {
            l.runtime.map(|rt| now.after(rt))
        };
        if let (Some(rt), Some(at)) = (l.runtime, self.limits_at) {
            self.limits_at = Some(at.min(now.after(rt)));
        }
    }

    fn limit_exceeded(&mut self, msg: String, now: Mono, out: &mut Vec<Action>) {
        self.last_error = Some(msg);
        let after = match self.spec.limits.on_limit {
            OnLimit::Restart => AfterStop::Fail,
            OnLimit::Stop => AfterStop::GiveUp,
        };
        self.begin_stop(after, now, out);
    }

    fn begin_start(&mut self, now: Mono, out: &mut Vec<Action>) {
        let _ = now;
        self.state = State::Starting;
        self.pid = None;
        self.deadline = None;
        self.limits_at = None;
        self.after_stop = AfterStop::Stay;
        self.killed = false;
        self.pending_failure_restart = false;
        self.final_status = None;
        self.starts = self.starts.saturating_add(1);
        self.emit(out, EventKind::Starting);
        out.push(Action::Spawn);
    }

    fn begin_stop(&mut self, after: AfterStop, now: Mono, out: &mut Vec<Action>) {
        self.begin_stop_with(after, self.spec.stop_signal, now, out)
    }

    fn begin_stop_with(&mut self, after: AfterStop, sig: i32, now: Mono, out: &mut Vec<Action>) {
        self.probes.on_stop();
        out.push(Action::CancelProbes);
        self.limits_at = None;
        self.after_stop = after;
        self.killed = false;
        self.state = State::Stopping;
        self.emit(out, EventKind::Stopping);
        if self.pid.is_some() {
            out.push(Action::Signal(sig));
            self.deadline = Some(now.after(self.spec.stop_timeout));
        }
    }

    fn on_exit_record(&mut self, status: ExitStatus, now: Mono, out: &mut Vec<Action>) {
        self.pid = None;
        self.last_exit = Some((status, now));
        self.limits_at = None;
        if self.probes.next_deadline().is_some() || self.state != State::Stopping {
            self.probes.on_stop();
            out.push(Action::CancelProbes);
        }
        let (code, signal) = match status {
            ExitStatus::Code(c) => (Some(c), None),
            ExitStatus::Signal(s) => (None, Some(crate::signal::name(s))),
        };
        self.emit(out, EventKind::Exited { code, signal });
    }

    fn is_success(&self, status: ExitStatus) -> bool {
        match status {
            ExitStatus::Code(c) => self.spec.success_exit_codes.contains(&c),
            ExitStatus::Signal(_) => false,
        }
    }

    /// After an unrequested exit (or a failed spawn): apply the policy.
    fn after_exit(&mut self, status: ExitStatus, ran: bool, now: Mono, out: &mut Vec<Action>) {
        use crate::plan::RestartPolicy as P;
        let success = ran && self.is_success(status);
        self.deadline = None;
        let restart = match self.spec.restart {
            P::Always => true,
            P::OnFailure => !success,
            P::Never => false,
        };
        if !success && ran {
            self.last_error = Some(match status {
                ExitStatus::Code(c) => format!("exited with code {c}"),
                ExitStatus::Signal(s) => format!("killed by signal {}", crate::signal::name(s)),
            });
        }
        if !restart {
            self.state = State::Exited;
            self.final_status = Some(status);
            return;
        }
        if success {
            // A worker that exits when idle: run it again, never a failure.
            self.backoff.reset();
            let delay = self.backoff.base();
            self.schedule_restart(delay, false, now, out);
            return;
        }
        let ran_for = self.last_start.map_or(0, |t| now.since(t));
        if ran && ran_for >= self.spec.min_uptime.as_millis() as u64 {
            self.backoff.reset();
        }
        self.final_status = Some(status);
        self.failure_restart(now, out);
    }

    /// A failure wants a restart: through the breaker and the backoff.
    fn failure_restart(&mut self, now: Mono, out: &mut Vec<Action>) {
        if self.breaker.would_trip(now) {
            let failures = self.breaker.failures(now);
            let cause = self.last_error.clone().unwrap_or_else(|| "failed".into());
            let error = format!(
                "breaker open: {} restarts within {} (last: {})",
                failures,
                crate::duration::format(self.breaker.window()),
                cause
            );
            self.last_error = Some(error.clone());
            self.state = State::Failed;
            if self.final_status.is_none() {
                self.final_status = self.last_exit.map(|(s, _)| s);
            }
            self.emit(
                out,
                EventKind::BreakerOpen {
                    failures,
                    error: error.clone(),
                },
            );
            match self.spec.breaker_cooldown {
                Some(c) => self.deadline = Some(now.after(c)),
                None => {
                    self.deadline = None;
                    self.emit(out, EventKind::GaveUp { error });
                }
            }
            return;
        }
        let delay = self.backoff.next_failure_delay();
        self.schedule_restart(delay, true, now, out);
    }

    fn schedule_restart(
        &mut self,
        delay: std::time::Duration,
        failure: bool,
        now: Mono,
        out: &mut Vec<Action>,
    ) {
        self.state = State::Backoff;
        self.pending_failure_restart = failure;
        self.deadline = Some(now.after(delay));
        self.emit(
            out,
            EventKind::Backoff {
                delay_ms: delay.as_millis() as u64,
            },
        );
    }

    /// Milliseconds until the scheduled restart (state `backoff`).
    pub fn next_restart_ms(&self, now: Mono) -> Option<u64> {
        match self.state {
            State::Backoff => self.deadline.map(|d| d.since(now)),
            State::Stopped
            | State::Starting
            | State::Running
            | State::Stopping
            | State::Exited
            | State::Failed => None,
        }
    }
}

fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

/// SIGKILL's number; a constant, not a syscall (the core stays pure).
fn libc_sigkill() -> i32 {
    libc::SIGKILL
}

#[cfg(test)]
mod tests;
