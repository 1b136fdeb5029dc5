//! Probe bookkeeping for one process: when each probe is due, consecutive
//! successes and failures, and the threshold crossings that change
//! `health` and `ready` or demand a restart. Kubernetes semantics: the
//! startup probe gates liveness and readiness; liveness and startup need
//! `success_threshold` 1. The probe I/O itself lives in `sys::probe`.

use super::Mono;
use crate::plan::ProbeSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Startup,
    Liveness,
    Readiness,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Startup => "startup",
            Role::Liveness => "liveness",
            Role::Readiness => "readiness",
        }
    }
    pub const ALL: [Role; 3] = [Role::Startup, Role::Liveness, Role::Readiness];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Healthy,
    Unhealthy,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// One configured probe's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeState {
    pub spec: ProbeSpec,
    /// When the next attempt starts; None while one runs or when idle.
    pub next_at: Option<Mono>,
    pub in_flight: bool,
    pub fails: u32,
    pub oks: u32,
}

impl ProbeState {
    fn new(spec: ProbeSpec) -> ProbeState {
        ProbeState {
            spec,
            next_at: None,
            in_flight: false,
            fails: 0,
            oks: 0,
        }
    }
}

/// What a probe result means for the process.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Nothing changed.
    None,
    /// The startup probe passed: the process is `running`.
    StartupPassed,
    /// Liveness passed after not being healthy.
    BecameHealthy,
    /// Startup or liveness reached `failure_threshold`: restart.
    Restart { error: String },
    /// Readiness reached `success_threshold`.
    BecameReady,
    /// Readiness reached `failure_threshold`.
    BecameUnready { error: String },
    /// A failure below the threshold; `last_error` shows it.
    Failed { error: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Probes {
    pub startup: Option<ProbeState>,
    pub liveness: Option<ProbeState>,
    pub readiness: Option<ProbeState>,
    pub health: Health,
    /// Readiness probe verdict (meaningful only with a readiness probe).
    pub ready_probe: bool,
    /// The startup probe passed for the current run (or there is none).
    pub started: bool,
}

impl Probes {
    pub fn new(
        startup: Option<ProbeSpec>,
        liveness: Option<ProbeSpec>,
        readiness: Option<ProbeSpec>,
    ) -> Probes {
        Probes {
            startup: startup.map(ProbeState::new),
            liveness: liveness.map(ProbeState::new),
            readiness: readiness.map(ProbeState::new),
            health: Health::Unknown,
            ready_probe: false,
            started: false,
        }
    }

    pub fn get(&self, r: Role) -> Option<&ProbeState> {
        match r {
            Role::Startup => self.startup.as_ref(),
            Role::Liveness => self.liveness.as_ref(),
            Role::Readiness => self.readiness.as_ref(),
        }
    }

    fn get_mut(&mut self, r: Role) -> Option<&mut ProbeState> {
        match r {
            Role::Startup => self.startup.as_mut(),
            Role::Liveness => self.liveness.as_mut(),
            Role::Readiness => self.readiness.as_mut(),
        }
    }

    pub fn has_startup(&self) -> bool {
        self.startup.is_some()
    }
    pub fn has_readiness(&self) -> bool {
        self.readiness.is_some()
    }
    pub fn has_health_probe(&self) -> bool {
        self.startup.is_some() || self.liveness.is_some()
    }

    /// A new run began at `now`: reset the counters and schedule the first
    /// probes (startup first; the others once it passes).
    pub fn on_spawn(&mut self, now: Mono) {
        self.health = Health::Unknown;
        self.ready_probe = false;
        self.started = self.startup.is_none();
        for r in Role::ALL {
            if let Some(p) = self.get_mut(r) {
                p.in_flight = false;
                p.fails = 0;
                p.oks = 0;
                p.next_at = None;
            }
        }
        if let Some(p) = self.startup.as_mut() {
            p.next_at = Some(now.after(p.spec.initial_delay));
        } else {
            self.schedule_after_startup(now, now);
        }
    }

    fn schedule_after_startup(&mut self, spawned: Mono, now: Mono) {
        for r in [Role::Liveness, Role::Readiness] {
            if let Some(p) = self.get_mut(r) {
                let at = spawned.after(p.spec.initial_delay).max(now);
                p.next_at = Some(at);
            }
        }
    }

    /// The run ended (exit or stop): nothing is due any more. In-flight
    /// attempts are cancelled by the shell; their late results are ignored.
    pub fn on_stop(&mut self) {
        for r in Role::ALL {
            if let Some(p) = self.get_mut(r) {
                p.next_at = None;
                p.in_flight = false;
            }
        }
        self.ready_probe = false;
    }

    pub fn next_deadline(&self) -> Option<Mono> {
        Role::ALL
            .iter()
            .filter_map(|&r| self.get(r).and_then(|p| p.next_at))
            .min()
    }

    /// Probes whose time has come: marked in flight; the caller starts them.
    pub fn take_due(&mut self, now: Mono) -> Vec<Role> {
        let mut due = Vec::new();
        for r in Role::ALL {
            if let Some(p) = self.get_mut(r) {
                if !p.in_flight && p.next_at.is_some_and(|t| t <= now) {
                    p.in_flight = true;
                    p.next_at = None;
                    due.push(r);
                }
            }
        }
        due
    }

    /// A probe attempt finished. `spawned` is when the current run began.
    pub fn on_result(
        &mut self,
        role: Role,
        ok: bool,
        message: &str,
        now: Mono,
        spawned: Mono,
    ) -> Verdict {
        let Some(p) = self.get_mut(role) else {
            return Verdict::None;
        };
        if !p.in_flight {
            // A late result of a cancelled attempt.
            return Verdict::None;
        }
        p.in_flight = false;
        p.next_at = Some(now.after(p.spec.interval));
        let desc = p.spec.kind.describe();
        if ok {
            p.fails = 0;
            p.oks = p.oks.saturating_add(1);
        } else {
            p.oks = 0;
            p.fails = p.fails.saturating_add(1);
        }
        let (fails, oks) = (p.fails, p.oks);
        let (fail_t, ok_t) = (
            p.spec.failure_threshold.max(1),
            p.spec.success_threshold.max(1),
        );
        let error = format!("{} {}: {}", role.as_str(), desc, message);
        match role {
            Role::Startup => {
                if ok {
                    p.next_at = None;
                    self.started = true;
                    if self.liveness.is_none() {
                        self.health = Health::Healthy;
                    }
                    self.schedule_after_startup(spawned, now);
                    Verdict::StartupPassed
                } else if fails >= fail_t {
                    p.next_at = None;
                    self.health = Health::Unhealthy;
                    Verdict::Restart { error }
                } else {
                    Verdict::Failed { error }
                }
            }
            Role::Liveness => {
                if ok {
                    if self.health != Health::Healthy {
                        self.health = Health::Healthy;
                        Verdict::BecameHealthy
                    } else {
                        Verdict::None
                    }
                } else if fails >= fail_t {
                    p.next_at = None;
                    self.health = Health::Unhealthy;
                    Verdict::Restart { error }
                } else {
                    Verdict::Failed { error }
                }
            }
            Role::Readiness => {
                if ok {
                    if !self.ready_probe && oks >= ok_t {
                        self.ready_probe = true;
                        Verdict::BecameReady
                    } else {
                        Verdict::None
                    }
                } else if self.ready_probe && fails >= fail_t {
                    self.ready_probe = false;
                    Verdict::BecameUnready { error }
                } else {
                    Verdict::Failed { error }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ProbeKind, ProbeSpec};
    use std::time::Duration;

    fn spec(interval: u64, fail: u32, ok: u32, delay: u64) -> ProbeSpec {
        let mut s = ProbeSpec::with_defaults(ProbeKind::Tcp {
            host: "127.0.0.1".into(),
            port: 1,
        });
        s.interval = Duration::from_millis(interval);
        s.failure_threshold = fail;
        s.success_threshold = ok;
        s.initial_delay = Duration::from_millis(delay);
        s
    }

    #[test]
    fn startup_gates_liveness_and_readiness() {
        let mut p = Probes::new(
            Some(spec(100, 3, 1, 0)),
            Some(spec(1000, 3, 1, 0)),
            Some(spec(500, 3, 1, 0)),
        );
        p.on_spawn(Mono(0));
        assert_eq!(p.take_due(Mono(0)), vec![Role::Startup]);
        assert_eq!(
            p.take_due(Mono(10_000)),
            vec![],
            "nothing until the startup result"
        );
        assert_eq!(
            p.on_result(Role::Startup, false, "refused", Mono(5), Mono(0)),
            Verdict::Failed {
                error: "startup tcp 127.0.0.1:1: refused".into()
            }
        );
        assert_eq!(p.next_deadline(), Some(Mono(105)));
        assert_eq!(p.take_due(Mono(105)), vec![Role::Startup]);
        assert_eq!(
            p.on_result(Role::Startup, true, "", Mono(110), Mono(0)),
            Verdict::StartupPassed
        );
        let mut due = p.take_due(Mono(110));
        due.sort_by_key(|r| r.as_str());
        assert_eq!(due, vec![Role::Liveness, Role::Readiness]);
    }

    #[test]
    fn liveness_restarts_after_exactly_threshold_failures() {
        for threshold in 1..=6u32 {
            let mut p = Probes::new(None, Some(spec(10, threshold, 1, 0)), None);
            p.on_spawn(Mono(0));
            let mut now = Mono(0);
            for i in 1..=threshold {
                assert_eq!(p.take_due(now), vec![Role::Liveness]);
                let v = p.on_result(Role::Liveness, false, "status 503", now, Mono(0));
                if i < threshold {
                    assert!(
                        matches!(v, Verdict::Failed { .. }),
                        "{i}/{threshold}: {v:?}"
                    );
                } else {
                    assert_eq!(
                        v,
                        Verdict::Restart {
                            error: "liveness tcp 127.0.0.1:1: status 503".into()
                        }
                    );
                }
                now = now.after(Duration::from_millis(10));
            }
        }
    }

    #[test]
    fn readiness_flips_with_thresholds_and_no_repeat_verdicts() {
        let mut p = Probes::new(None, None, Some(spec(10, 2, 2, 0)));
        p.on_spawn(Mono(0));
        let mut now = Mono(0);
        let mut step = |p: &mut Probes, ok: bool| {
            assert_eq!(p.take_due(now), vec![Role::Readiness]);
            let v = p.on_result(Role::Readiness, ok, "x", now, Mono(0));
            now = now.after(Duration::from_millis(10));
            v
        };
        assert!(matches!(step(&mut p, true), Verdict::None));
        assert_eq!(step(&mut p, true), Verdict::BecameReady);
        assert_eq!(step(&mut p, true), Verdict::None);
        assert!(matches!(step(&mut p, false), Verdict::Failed { .. }));
        assert!(matches!(step(&mut p, false), Verdict::BecameUnready { .. }));
        assert!(matches!(step(&mut p, false), Verdict::Failed { .. }));
        assert!(matches!(step(&mut p, true), Verdict::None));
        assert_eq!(step(&mut p, true), Verdict::BecameReady);
    }

    #[test]
    fn late_results_after_stop_are_ignored() {
        let mut p = Probes::new(None, Some(spec(10, 1, 1, 0)), None);
        p.on_spawn(Mono(0));
        assert_eq!(p.take_due(Mono(0)), vec![Role::Liveness]);
        p.on_stop();
        assert_eq!(
            p.on_result(Role::Liveness, false, "x", Mono(1), Mono(0)),
            Verdict::None
        );
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn initial_delay_counts_from_spawn() {
        let mut p = Probes::new(None, Some(spec(10, 1, 1, 300)), None);
        p.on_spawn(Mono(1000));
        assert_eq!(p.next_deadline(), Some(Mono(1300)));
        assert!(p.take_due(Mono(1299)).is_empty());
    }
}
