//! All supervised processes together: dependency gating (`depends_on`),
//! the shutdown choreography (dependents stop before their dependencies,
//! independent ones in parallel), and tend's own exit code (SPEC §4 "Exit
//! of tend run"). Pure like the rest of `core`.
//!
//! # Correct order
//! The shell executes the returned actions in order. A `Spawn` must be
//! answered with `Spawned`/`SpawnFailed` (through `on_proc`) before the
//! shell feeds any other input: a process between the two has no pid, and
//! the fleet never asks it to stop.

use super::event::{Event, EventKind};
use super::health::Health;
use super::process::{Action, Input, Proc, State};
use super::{ExitStatus, Mono};
use crate::plan::{DepCondition, Plan, ProcSpec};

#[derive(Debug, Clone, PartialEq)]
pub enum FleetAction {
    /// An action for the process at this index.
    Proc(usize, Action),
    /// An event about tend itself.
    Emit(Event),
    /// Everything is done: exit with this code.
    Exit(u8),
}

#[derive(Debug)]
pub struct Fleet {
    pub procs: Vec<Proc>,
    single: bool,
    /// Per process: wanted up but waiting for its dependencies.
    waiting: Vec<bool>,
    /// Per process: indices of its dependencies with their conditions.
    deps: Vec<Vec<(usize, DepCondition)>>,
    shutting_down: bool,
    exited: bool,
    /// Per process: removed or replaced by a reload. A retired slot is
    /// stopped and then ignored; slots are never reused, so indices held by
    /// the shell (timers, PIDs) stay valid.
    retired: Vec<bool>,
    /// Per process: the retired slot it replaces, which must be down before
    /// this one starts (a changed process is stopped, then started anew).
    replaces: Vec<Option<usize>>,
}

/// What a reload changed (SPEC §4 `reload` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReloadSummary {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
}

impl Fleet {
    pub fn new(plan: &Plan) -> Fleet {
        let procs: Vec<Proc> = plan.processes.iter().cloned().map(Proc::new).collect();
        let deps = resolve_deps(&plan.processes);
        Fleet {
            waiting: vec![false; procs.len()],
            procs,
            single: plan.single,
            deps,
            shutting_down: false,
            exited: false,
            retired: vec![false; plan.processes.len()],
            replaces: vec![None; plan.processes.len()],
        }
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        (0..self.procs.len()).find(|&i| !self.retired[i] && self.procs[i].name() == name)
    }

    /// Indices of the processes in the current config, in config order.
    pub fn live(&self) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|&i| !self.retired[i])
            .collect()
    }

    #[cfg(test)]
    pub fn is_retired(&self, i: usize) -> bool {
        self.retired[i]
    }

    /// Why a process that should start has not: the first dependency
    /// whose condition does not hold yet (`waiting for db (ready)`).
    pub fn waiting_for(&self, i: usize) -> Option<String> {
        if !self.waiting[i] {
            return None;
        }
        self.deps[i]
            .iter()
            .find(|&&(d, c)| !self.dep_met(d, c))
            .map(|&(d, c)| format!("waiting for {} ({})", self.procs[d].name(), c.as_str()))
    }

    /// Apply a new plan: added processes start, removed ones stop, changed
    /// ones stop and then start with the new spec, unchanged ones are not
    /// touched (same PID).
    pub fn reload(&mut self, plan: &Plan, now: Mono) -> (Vec<FleetAction>, ReloadSummary) {
        let mut out = Vec::new();
        let mut sum = ReloadSummary::default();
        if self.shutting_down {
            return (out, sum);
        }
        self.single = plan.single;
        for i in self.live() {
            let name = self.procs[i].name().to_string();
            if !plan.processes.iter().any(|p| p.name == name) {
                sum.removed += 1;
                self.retired[i] = true;
                self.waiting[i] = false;
                self.feed(i, Input::Stop, now, &mut out);
            }
        }
        for spec in &plan.processes {
            match self.index_of(&spec.name) {
                Some(i) if self.procs[i].spec == *spec => sum.unchanged += 1,
                Some(i) => {
                    sum.changed += 1;
                    // Changed processes are restarted, one-shots that had
                    // finished included; only one a user stopped stays down.
                    let was_wanted = self.waiting[i] || self.procs[i].state() != State::Stopped;
                    self.retired[i] = true;
                    self.waiting[i] = false;
                    self.feed(i, Input::Stop, now, &mut out);
                    self.push(spec.clone(), Some(i), was_wanted);
                }
                None => {
                    sum.added += 1;
                    self.push(spec.clone(), None, true);
                }
            }
        }
        // Dependencies by name, against the live slots.
        let live: Vec<(usize, String)> = self
            .live()
            .into_iter()
            .map(|i| (i, self.procs[i].name().to_string()))
            .collect();
        for i in 0..self.procs.len() {
            if self.retired[i] {
                self.deps[i].clear();
                continue;
            }
            self.deps[i] = self.procs[i]
                .spec
                .depends_on
                .iter()
                .filter_map(|(n, c)| live.iter().find(|(_, m)| m == n).map(|&(j, _)| (j, *c)))
                .collect();
        }
        self.settle(now, &mut out);
        (out, sum)
    }

    fn push(&mut self, spec: ProcSpec, replaces: Option<usize>, start: bool) {
        self.procs.push(Proc::new(spec));
        self.waiting.push(start);
        self.deps.push(Vec::new());
        self.retired.push(false);
        self.replaces.push(replaces);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Start every process (those with dependencies once they are met).
    pub fn start_all(&mut self, now: Mono) -> Vec<FleetAction> {
        for w in &mut self.waiting {
            *w = true;
        }
        let mut out = Vec::new();
        self.settle(now, &mut out);
        out
    }

    /// A user's request to start one process: honours dependencies.
    pub fn start(&mut self, idx: usize, now: Mono) -> Vec<FleetAction> {
        let mut out = Vec::new();
        if self.shutting_down {
            return out;
        }
        match self.procs[idx].state() {
            State::Stopped | State::Exited | State::Failed | State::Backoff => {
                self.waiting[idx] = true;
            }
            State::Starting | State::Running | State::Stopping => {
                self.feed(idx, Input::Start, now, &mut out);
            }
        }
        self.settle(now, &mut out);
        out
    }

    /// Feed one input to one process, then settle the fleet.
    pub fn on_proc(&mut self, idx: usize, input: Input, now: Mono) -> Vec<FleetAction> {
        let mut out = Vec::new();
        if matches!(input, Input::Stop | Input::StopWith(_)) {
            self.waiting[idx] = false;
        }
        if self.shutting_down && matches!(input, Input::Start | Input::Restart | Input::Reset) {
            return out;
        }
        self.feed(idx, input, now, &mut out);
        self.settle(now, &mut out);
        out
    }

    /// Graceful shutdown: dependents first, independent ones in parallel.
    /// `sig`: in single-command mode the signal tend got, forwarded as the
    /// stop signal (the tini role); None uses each `stop_signal`.
    pub fn shutdown(&mut self, reason: &str, sig: Option<i32>, now: Mono) -> Vec<FleetAction> {
        let mut out = Vec::new();
        if !self.shutting_down {
            self.shutting_down = true;
            out.push(FleetAction::Emit(Event::new(
                "tend",
                EventKind::Shutdown {
                    reason: reason.to_string(),
                },
            )));
        }
        for w in &mut self.waiting {
            *w = false;
        }
        if let Some(sig) = sig {
            for i in 0..self.procs.len() {
                if self.stoppable(i) {
                    self.feed(i, Input::StopWith(sig), now, &mut out);
                }
            }
        } else {
            // A stop already under way (`tend restart`) must end stopped,
            // not start the process again in the middle of the shutdown.
            for i in 0..self.procs.len() {
                if self.procs[i].state() == State::Stopping {
                    self.feed(i, Input::Stop, now, &mut out);
                }
            }
        }
        self.settle(now, &mut out);
        out
    }

    /// Second shutdown signal: SIGKILL every group and exit now.
    pub fn kill_all(&mut self, now: Mono) -> Vec<FleetAction> {
        let mut out = Vec::new();
        self.shutting_down = true;
        for i in 0..self.procs.len() {
            self.feed(i, Input::Kill, now, &mut out);
        }
        if !self.exited {
            self.exited = true;
            out.push(FleetAction::Exit(self.exit_code(true)));
        }
        out
    }

    /// Earliest deadline over all processes (for tests; the shell keeps a
    /// heap keyed by process instead).
    #[cfg(test)]
    pub fn next_deadline(&self) -> Option<Mono> {
        self.procs.iter().filter_map(Proc::next_deadline).min()
    }

    fn feed(&mut self, idx: usize, input: Input, now: Mono, out: &mut Vec<FleetAction>) {
        if input == Input::Start {
            self.waiting[idx] = false;
        }
        for a in self.procs[idx].on_event(input, now) {
            out.push(FleetAction::Proc(idx, a));
        }
    }

    /// A process with a child we may signal (not mid-spawn).
    fn stoppable(&self, i: usize) -> bool {
        let p = &self.procs[i];
        !(p.state() == State::Starting && p.pid().is_none())
    }

    fn dep_met(&self, dep: usize, cond: DepCondition) -> bool {
        let d = &self.procs[dep];
        match cond {
            DepCondition::Started => {
                d.pid().is_some()
                    || d.state() == State::Running
                    || (d.state() == State::Exited && d.starts() > 0)
            }
            DepCondition::Ready => d.ready(),
            DepCondition::Healthy => {
                if d.has_health_probe() {
                    // With a child: between a restart's Spawn and its
                    // Spawned, `health` is still the previous run's.
                    d.health() == Health::Healthy && d.pid().is_some()
                } else {
                    d.ready()
                }
            }
        }
    }

    /// Bring the fleet to rest after an input: start processes whose
    /// dependencies are met, advance a shutdown, decide the exit.
    fn settle(&mut self, now: Mono, out: &mut Vec<FleetAction>) {
        if self.exited {
            return;
        }
        // Starting one process can satisfy another's dependency only after
        // it reports (`Spawned`, probe results), so one pass suffices here;
        // the next input settles again.
        if !self.shutting_down {
            for i in 0..self.procs.len() {
                let old_down = self.replaces[i].is_none_or(|o| !self.procs[o].is_up());
                if self.waiting[i]
                    && old_down
                    && self.deps[i].iter().all(|&(d, c)| self.dep_met(d, c))
                {
                    self.feed(i, Input::Start, now, out);
                }
            }
        }
        if self.shutting_down {
            for i in 0..self.procs.len() {
                let p = &self.procs[i];
                // Only a process with a child waits for its dependents; one
                // in backoff (or failed with a cooldown) is stopped at once,
                // or its restart timer would spawn it during the shutdown.
                let (needs_stop, has_child) = match p.state() {
                    State::Starting | State::Running => (self.stoppable(i), true),
                    State::Backoff | State::Exited | State::Failed => (true, false),
                    State::Stopped | State::Stopping => (false, false),
                };
                if !needs_stop {
                    continue;
                }
                let dependents_down = (0..self.procs.len())
                    .all(|j| !self.deps[j].iter().any(|&(d, _)| d == i) || !self.procs[j].is_up());
                if dependents_down || !has_child {
                    self.feed(i, Input::Stop, now, out);
                }
            }
            if self.procs.iter().all(|p| !p.is_up()) {
                self.exited = true;
                out.push(FleetAction::Exit(self.exit_code(true)));
            }
            return;
        }
        let live = self.live();
        let blocked = self.blocked();
        let all_final = !live.is_empty()
            && live
                .iter()
                .all(|&i| (self.procs[i].is_final() && !self.waiting[i]) || blocked[i])
            && (0..self.procs.len()).all(|i| !self.retired[i] || !self.procs[i].is_up());
        if all_final {
            self.exited = true;
            out.push(FleetAction::Exit(self.exit_code(false)));
        }
    }

    /// Per process: waiting for a dependency that can never be met without
    /// a request (it is done for good, or blocked itself), so it can never
    /// run and must not keep tend alive (SPEC §4 "none can run again").
    fn blocked(&self) -> Vec<bool> {
        let n = self.procs.len();
        let mut blocked = vec![false; n];
        // A fixpoint rather than recursion: safe even on a cycle.
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..n {
                let p = &self.procs[i];
                let at_rest = p.is_final() || p.state() == State::Stopped;
                if blocked[i] || !self.waiting[i] || !at_rest {
                    continue;
                }
                let stuck = self.deps[i].iter().any(|&(d, c)| {
                    !self.dep_met(d, c)
                        && ((self.procs[d].is_final() && !self.waiting[d]) || blocked[d])
                });
                if stuck {
                    blocked[i] = true;
                    changed = true;
                }
            }
        }
        blocked
    }

    /// SPEC §4: after a requested shutdown 0 (single-command mode: the
    /// child's own status); when everything ended by itself, 0 if the last
    /// exits were all successes, else the latest failing child's code.
    pub fn exit_code(&self, requested: bool) -> u8 {
        if self.single {
            return self
                .procs
                .first()
                .and_then(|p| p.last_exit())
                .map_or(0, |(s, _)| s.shell_code());
        }
        if requested {
            return 0;
        }
        let mut worst: Option<(Mono, ExitStatus)> = None;
        for p in self.live().into_iter().map(|i| &self.procs[i]) {
            let Some(status) = p.final_status() else {
                continue;
            };
            let ok =
                matches!(status, ExitStatus::Code(c) if p.spec.success_exit_codes.contains(&c));
            if ok {
                continue;
            }
            let at = p.last_exit().map_or(Mono(0), |(_, t)| t);
            if worst.is_none_or(|(t, _)| at >= t) {
                worst = Some((at, status));
            }
        }
        match worst {
            None => 0,
            Some((_, s)) => match s.shell_code() {
                0 => 1,
                c => c,
            },
        }
    }
}

/// Dependency names → indices. Unknown names and cycles were rejected by
/// `validate`; anything unresolvable here is dropped rather than trusted.
fn resolve_deps(specs: &[ProcSpec]) -> Vec<Vec<(usize, DepCondition)>> {
    specs
        .iter()
        .map(|s| {
            s.depends_on
                .iter()
                .filter_map(|(n, c)| specs.iter().position(|o| &o.name == n).map(|i| (i, *c)))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests;
