//! Tests of the fleet with a fake clock and no processes: `depends_on`
//! gating, the shutdown choreography (dependents first, independent ones in
//! parallel) and tend's own exit code (SPEC §4 "Exit of tend run").

use super::*;
use crate::core::health::Role;
use crate::plan::{ProbeKind, ProbeSpec, RestartPolicy};
use std::time::Duration;

const TERM: i32 = libc::SIGTERM;
const INT: i32 = libc::SIGINT;
const KILL: i32 = libc::SIGKILL;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn proc_spec(name: &str) -> ProcSpec {
    let mut s = ProcSpec::with_defaults(name, "worker");
    s.min_uptime = Duration::ZERO;
    s.restart_delay = ms(100);
    s
}

fn dep(mut s: ProcSpec, on: &str, cond: DepCondition) -> ProcSpec {
    s.depends_on.push((on.to_string(), cond));
    s
}

fn never(mut s: ProcSpec) -> ProcSpec {
    s.restart = RestartPolicy::Never;
    s
}

fn tcp_probe() -> ProbeSpec {
    let mut p = ProbeSpec::with_defaults(ProbeKind::Tcp {
        host: "127.0.0.1".into(),
        port: 5432,
    });
    p.interval = ms(1000);
    p.failure_threshold = 1;
    p
}

fn plan(processes: Vec<ProcSpec>, single: bool) -> Plan {
    Plan {
        source: None,
        single,
        processes,
        stop_file: None,
        tick: Duration::from_secs(60),
        http: None,
        hooks: Vec::new(),
    }
}

fn spawned(acts: &[FleetAction]) -> Vec<usize> {
    acts.iter()
        .filter_map(|a| match a {
            FleetAction::Proc(i, Action::Spawn) => Some(*i),
            _ => None,
        })
        .collect()
}

fn signalled(acts: &[FleetAction]) -> Vec<(usize, i32)> {
    acts.iter()
        .filter_map(|a| match a {
            FleetAction::Proc(i, Action::Signal(s)) => Some((*i, *s)),
            _ => None,
        })
        .collect()
}

fn exit_of(acts: &[FleetAction]) -> Option<u8> {
    let codes: Vec<u8> = acts
        .iter()
        .filter_map(|a| match a {
            FleetAction::Exit(c) => Some(*c),
            _ => None,
        })
        .collect();
    assert!(codes.len() <= 1, "one Exit at most: {acts:?}");
    codes.first().copied()
}

/// A fleet, a fake clock, and a shell that answers every `Spawn` with
/// `Spawned` at once (as `fleet.rs` "Correct order" demands).
struct F {
    f: Fleet,
    now: Mono,
    next_pid: u32,
    exits: usize,
}

impl F {
    fn new(processes: Vec<ProcSpec>) -> F {
        F::with(processes, false)
    }

    fn with(processes: Vec<ProcSpec>, single: bool) -> F {
        F {
            f: Fleet::new(&plan(processes, single)),
            now: Mono(0),
            next_pid: 100,
            exits: 0,
        }
    }

    fn idx(&self, name: &str) -> usize {
        self.f.index_of(name).unwrap()
    }

    fn state(&self, name: &str) -> State {
        self.f.procs[self.idx(name)].state()
    }

    fn wait(&mut self, d: u64) -> &mut F {
        self.now = self.now.after(ms(d));
        self
    }

    /// Answer the spawns among `acts`, returning everything that followed.
    fn run(&mut self, acts: Vec<FleetAction>) -> Vec<FleetAction> {
        let mut all = Vec::new();
        for a in acts {
            if let FleetAction::Proc(_, Action::Bug(m)) = &a {
                panic!("bug: {m}");
            }
            if let FleetAction::Exit(_) = a {
                self.exits += 1;
                assert_eq!(self.exits, 1, "Exit twice");
            }
            let spawn = match a {
                FleetAction::Proc(i, Action::Spawn) => Some(i),
                _ => None,
            };
            all.push(a);
            if let Some(i) = spawn {
                self.next_pid += 1;
                let pid = self.next_pid;
                let more = self.f.on_proc(i, Input::Spawned { pid }, self.now);
                let more = self.run(more);
                all.extend(more);
            }
        }
        all
    }

    fn start_all(&mut self) -> Vec<FleetAction> {
        let acts = self.f.start_all(self.now);
        self.run(acts)
    }

    fn on(&mut self, name: &str, input: Input) -> Vec<FleetAction> {
        let i = self.idx(name);
        let acts = self.f.on_proc(i, input, self.now);
        self.run(acts)
    }

    fn exit(&mut self, name: &str, status: ExitStatus) -> Vec<FleetAction> {
        self.on(name, Input::Exited(status))
    }

    fn shutdown(&mut self, sig: Option<i32>) -> Vec<FleetAction> {
        let acts = self.f.shutdown("signal", sig, self.now);
        self.run(acts)
    }

    /// Advance to the earliest deadline and deliver `Due` to every process
    /// that has one due.
    fn due(&mut self) -> Vec<FleetAction> {
        let t = self.f.next_deadline().expect("a deadline");
        self.now = self.now.max(t);
        let mut all = Vec::new();
        for i in 0..self.f.procs.len() {
            if self.f.procs[i]
                .next_deadline()
                .is_some_and(|d| d <= self.now)
            {
                let acts = self.f.on_proc(i, Input::Due, self.now);
                all.extend(self.run(acts));
            }
        }
        all
    }

    fn probe(&mut self, name: &str, role: Role, ok: bool) -> Vec<FleetAction> {
        self.on(
            name,
            Input::ProbeDone {
                role,
                ok,
                message: "x".into(),
            },
        )
    }
}

// ---------------------------------------------------------------------------
// depends_on
// ---------------------------------------------------------------------------

#[test]
fn ready_dependency_waits_for_the_readiness_probe() {
    let mut a = proc_spec("a");
    a.readiness = Some(tcp_probe());
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let mut f = F::new(vec![b, a]);
    let (ia, ib) = (f.idx("a"), f.idx("b"));
    let acts = f.start_all();
    assert_eq!(spawned(&acts), vec![ia], "only a starts");
    assert_eq!(f.state("a"), State::Running);
    assert_eq!(f.state("b"), State::Stopped);
    assert_eq!(
        f.f.waiting_for(ib).as_deref(),
        Some("waiting for a (ready)")
    );
    assert_eq!(f.f.waiting_for(ia), None);
    let acts = f.due();
    assert!(acts.contains(&FleetAction::Proc(ia, Action::StartProbe(Role::Readiness))));
    assert!(spawned(&acts).is_empty());
    let acts = f.wait(10).probe("a", Role::Readiness, false);
    assert!(spawned(&acts).is_empty(), "a failed readiness: b waits");
    f.due();
    let acts = f.wait(10).probe("a", Role::Readiness, true);
    assert_eq!(spawned(&acts), vec![ib], "b starts once a is ready");
    assert_eq!(f.state("b"), State::Running);
    assert_eq!(f.f.waiting_for(ib), None);
}

#[test]
fn ready_dependency_without_a_probe_waits_for_running() {
    let mut a = proc_spec("a");
    a.min_uptime = ms(1000);
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let mut f = F::new(vec![a, b]);
    let acts = f.start_all();
    assert_eq!(spawned(&acts), vec![0]);
    assert_eq!(f.state("a"), State::Starting);
    let acts = f.due();
    assert_eq!(f.now, Mono(1000));
    assert_eq!(spawned(&acts), vec![1]);
}

#[test]
fn started_dependency_needs_only_the_spawn() {
    let mut a = proc_spec("a");
    a.min_uptime = ms(5000);
    a.readiness = Some(tcp_probe());
    let b = dep(proc_spec("b"), "a", DepCondition::Started);
    let mut f = F::new(vec![b, a]);
    let acts = f.start_all();
    // a spawns, reports Spawned, and that alone lets b start.
    assert_eq!(spawned(&acts), vec![1, 0]);
    assert_eq!(f.state("a"), State::Starting);
    assert_eq!(f.state("b"), State::Running);
}

#[test]
fn started_dependency_is_met_by_a_finished_one_shot() {
    let a = never(proc_spec("a"));
    let b = dep(proc_spec("b"), "a", DepCondition::Started);
    let mut f = F::new(vec![a, b]);
    let acts = f.f.start(0, f.now);
    assert_eq!(spawned(&f.run(acts)), vec![0]);
    let acts = f.exit("a", ExitStatus::Code(0));
    assert_eq!(f.state("a"), State::Exited);
    assert_eq!(exit_of(&acts), None, "b may still be started");
    // a ran and is done: b, started later, does not wait forever.
    let acts = f.f.start(1, f.now);
    assert_eq!(spawned(&f.run(acts)), vec![1]);
    assert_eq!(f.state("b"), State::Running);
}

#[test]
fn healthy_dependency_with_liveness_waits_for_the_probe() {
    let mut a = proc_spec("a");
    a.liveness = Some(tcp_probe());
    let b = dep(proc_spec("b"), "a", DepCondition::Healthy);
    let mut f = F::new(vec![a, b]);
    let acts = f.start_all();
    assert_eq!(spawned(&acts), vec![0]);
    assert_eq!(f.state("a"), State::Running);
    assert!(f.f.procs[0].ready(), "ready but not yet healthy");
    assert_eq!(f.state("b"), State::Stopped);
    f.due();
    let acts = f.wait(3).probe("a", Role::Liveness, true);
    assert_eq!(spawned(&acts), vec![1]);
}

#[test]
fn healthy_dependency_with_a_startup_probe_only() {
    let mut a = proc_spec("a");
    a.startup = Some(tcp_probe());
    let b = dep(proc_spec("b"), "a", DepCondition::Healthy);
    let mut f = F::new(vec![a, b]);
    f.start_all();
    f.due();
    let acts = f.wait(3).probe("a", Role::Startup, false);
    assert!(spawned(&acts).is_empty());
    // failure_threshold 1: that failure restarts a; b still waits.
    assert_eq!(f.state("a"), State::Stopping);
    f.exit("a", ExitStatus::Signal(TERM));
    f.due(); // backoff over: a starts again
    assert_eq!(f.state("a"), State::Starting);
    f.due();
    let acts = f.wait(3).probe("a", Role::Startup, true);
    assert_eq!(spawned(&acts), vec![1]);
}

#[test]
fn healthy_dependency_without_probes_means_ready() {
    let mut a = proc_spec("a");
    a.min_uptime = ms(300);
    let b = dep(proc_spec("b"), "a", DepCondition::Healthy);
    let mut f = F::new(vec![a, b]);
    assert_eq!(spawned(&f.start_all()), vec![0]);
    let acts = f.due();
    assert_eq!(f.now, Mono(300));
    assert_eq!(spawned(&acts), vec![1]);
}

#[test]
fn a_chain_starts_in_order() {
    let a = proc_spec("a");
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let c = dep(proc_spec("c"), "b", DepCondition::Ready);
    let d = dep(
        dep(proc_spec("d"), "c", DepCondition::Started),
        "a",
        DepCondition::Ready,
    );
    let mut f = F::new(vec![d, c, b, a]);
    let acts = f.start_all();
    // Each one reports Spawned (and is running at once with min_uptime 0),
    // which lets the next one start.
    assert_eq!(spawned(&acts), vec![3, 2, 1, 0]);
}

#[test]
fn user_start_honours_dependencies_and_stop_cancels_the_wait() {
    let mut a = proc_spec("a");
    a.readiness = Some(tcp_probe());
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let mut f = F::new(vec![a, b]);
    let acts = f.f.start(1, f.now);
    assert!(spawned(&f.run(acts)).is_empty(), "a is not up");
    let acts = f.f.start(0, f.now);
    assert_eq!(spawned(&f.run(acts)), vec![0]);
    // The user changes their mind about b.
    f.on("b", Input::Stop);
    f.due();
    let acts = f.wait(1).probe("a", Role::Readiness, true);
    assert!(spawned(&acts).is_empty(), "b was stopped while waiting");
}

/// Between a restart's `Spawn` and its `Spawned`, the dependency's health is
/// still the previous run's: it must not count.
#[test]
fn healthy_from_the_previous_run_does_not_count() {
    let mut a = proc_spec("a");
    a.liveness = Some(tcp_probe());
    let b = dep(proc_spec("b"), "a", DepCondition::Healthy);
    let mut f = F::new(vec![a, b]);
    f.start_all();
    f.due();
    let acts = f.wait(1).probe("a", Role::Liveness, true);
    assert_eq!(spawned(&acts), vec![1]);
    // a crashes; b is stopped and asked to start again: it waits for a.
    f.wait(10).exit("a", ExitStatus::Code(1));
    f.on("b", Input::Stop);
    f.exit("b", ExitStatus::Signal(TERM));
    let acts = f.f.start(1, f.now);
    assert!(spawned(&f.run(acts)).is_empty());
    // a's restart: spawned, not yet probed. b must still wait.
    let acts = f.due();
    assert_eq!(spawned(&acts), vec![0], "only a: {acts:?}");
    assert_eq!(f.f.procs[0].health(), Health::Unknown);
    f.due();
    let acts = f.wait(1).probe("a", Role::Liveness, true);
    assert_eq!(spawned(&acts), vec![1]);
}

// ---------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------

/// c → b → a (c depends on b, b on a), and d on its own.
fn chain() -> F {
    let a = proc_spec("a");
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let c = dep(proc_spec("c"), "b", DepCondition::Started);
    let d = proc_spec("d");
    let mut f = F::new(vec![a, b, c, d]);
    f.start_all();
    for n in ["a", "b", "c", "d"] {
        assert_eq!(f.state(n), State::Running, "{n}");
    }
    f
}

#[test]
fn shutdown_stops_dependents_first_and_independents_together() {
    let mut f = chain();
    let (a, b, c, d) = (0, 1, 2, 3);
    let acts = f.wait(1000).shutdown(None);
    assert!(matches!(&acts[0], FleetAction::Emit(e) if e.event_name() == "shutdown"));
    assert_eq!(signalled(&acts), vec![(c, TERM), (d, TERM)]);
    assert!(f.f.is_shutting_down());
    // d exits: nothing else may move.
    let acts = f.wait(5).exit("d", ExitStatus::Signal(TERM));
    assert!(signalled(&acts).is_empty());
    assert_eq!(exit_of(&acts), None);
    // c exits: now b.
    let acts = f.wait(5).exit("c", ExitStatus::Signal(TERM));
    assert_eq!(signalled(&acts), vec![(b, TERM)]);
    assert_eq!(f.state("a"), State::Running);
    let acts = f.wait(5).exit("b", ExitStatus::Code(0));
    assert_eq!(signalled(&acts), vec![(a, TERM)]);
    let acts = f.wait(5).exit("a", ExitStatus::Signal(TERM));
    assert_eq!(exit_of(&acts), Some(0), "a requested shutdown exits 0");
    for n in ["a", "b", "c", "d"] {
        assert_eq!(f.state(n), State::Stopped, "{n}");
    }
    assert!(spawned(&acts).is_empty());
}

#[test]
fn shutdown_waits_for_a_dependent_that_needs_sigkill() {
    let mut f = chain();
    f.shutdown(None);
    f.exit("d", ExitStatus::Signal(TERM));
    // c ignores TERM: after stop_timeout it gets KILL; a and b wait.
    let acts = f.due();
    assert_eq!(f.now, Mono(10_000));
    assert_eq!(signalled(&acts), vec![(2, KILL)]);
    let acts = f.wait(1).exit("c", ExitStatus::Signal(KILL));
    assert_eq!(signalled(&acts), vec![(1, TERM)]);
}

#[test]
fn shutdown_in_backoff_and_exited_ends_without_signals() {
    let a = proc_spec("a");
    let b = never(proc_spec("b"));
    let mut f = F::new(vec![a, b]);
    f.start_all();
    f.exit("a", ExitStatus::Code(1));
    f.exit("b", ExitStatus::Code(2));
    assert_eq!(f.state("a"), State::Backoff);
    assert_eq!(f.state("b"), State::Exited);
    let acts = f.shutdown(None);
    assert!(signalled(&acts).is_empty());
    assert_eq!(exit_of(&acts), Some(0));
    assert!(f.f.next_deadline().is_none(), "no restart after shutdown");
}

#[test]
fn no_start_during_shutdown() {
    let mut f = chain();
    f.shutdown(None);
    assert!(f.f.start(3, f.now).is_empty());
    for input in [Input::Start, Input::Restart, Input::Reset] {
        assert!(f.f.on_proc(3, input, f.now).is_empty());
    }
    // A process that crashes on its own while waiting for its dependents
    // is not restarted.
    // (Its dependents b and c are still up: a must not wait for them in
    // backoff, where its restart timer would spawn it again.)
    let acts = f.exit("a", ExitStatus::Code(1));
    assert!(spawned(&acts).is_empty());
    assert_eq!(f.state("a"), State::Stopped);
    let acts = f.due();
    assert!(spawned(&acts).is_empty(), "{acts:?}");
}

/// restart_delay 0: a dependency that crashes while its dependents are
/// still stopping is not spawned again during the shutdown.
#[test]
fn shutdown_with_zero_restart_delay_spawns_nothing() {
    let mut a = proc_spec("a");
    a.restart_delay = Duration::ZERO;
    let b = dep(proc_spec("b"), "a", DepCondition::Started);
    let mut f = F::new(vec![a, b]);
    f.start_all();
    let acts = f.shutdown(None);
    assert_eq!(signalled(&acts), vec![(1, TERM)]);
    let acts = f.exit("a", ExitStatus::Code(1));
    assert!(spawned(&acts).is_empty(), "{acts:?}");
    assert_eq!(f.state("a"), State::Stopped);
    let acts = f.exit("b", ExitStatus::Signal(TERM));
    assert_eq!(exit_of(&acts), Some(0));
}

#[test]
fn shutdown_while_a_dependent_is_still_waiting() {
    let mut a = proc_spec("a");
    a.readiness = Some(tcp_probe());
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let mut f = F::new(vec![a, b]);
    f.start_all();
    let acts = f.shutdown(None);
    assert_eq!(signalled(&acts), vec![(0, TERM)], "b never started");
    let acts = f.exit("a", ExitStatus::Signal(TERM));
    assert_eq!(exit_of(&acts), Some(0));
    assert!(spawned(&acts).is_empty());
}

/// A `tend restart` under way when the shutdown comes: the process ends
/// stopped, it is not started again.
#[test]
fn shutdown_during_a_restart_does_not_start_it_again() {
    let mut f = F::new(vec![proc_spec("a")]);
    f.start_all();
    let acts = f.on("a", Input::Restart);
    assert_eq!(signalled(&acts), vec![(0, TERM)]);
    let acts = f.shutdown(None);
    assert!(signalled(&acts).is_empty(), "no second TERM: {acts:?}");
    let acts = f.exit("a", ExitStatus::Signal(TERM));
    assert!(spawned(&acts).is_empty(), "{acts:?}");
    assert_eq!(f.state("a"), State::Stopped);
    assert_eq!(exit_of(&acts), Some(0));
}

#[test]
fn second_shutdown_signal_kills_everything_and_exits_now() {
    let mut f = chain();
    f.shutdown(None);
    let acts = f.f.kill_all(f.now);
    assert_eq!(
        signalled(&acts),
        vec![(0, KILL), (1, KILL), (2, KILL), (3, KILL)]
    );
    assert_eq!(exit_of(&acts), Some(0));
    // Nothing after the exit.
    let acts =
        f.f.on_proc(0, Input::Exited(ExitStatus::Signal(KILL)), f.now);
    assert_eq!(exit_of(&acts), None);
}

// ---------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------

#[test]
fn all_one_shots_succeed_exit_0() {
    let mut f = F::new(vec![never(proc_spec("a")), never(proc_spec("b"))]);
    f.start_all();
    let acts = f.wait(10).exit("a", ExitStatus::Code(0));
    assert_eq!(exit_of(&acts), None, "b still runs");
    let acts = f.wait(10).exit("b", ExitStatus::Code(0));
    assert_eq!(exit_of(&acts), Some(0));
}

#[test]
fn one_failing_one_shot_gives_its_code() {
    let mut f = F::new(vec![never(proc_spec("a")), never(proc_spec("b"))]);
    f.start_all();
    f.wait(10).exit("a", ExitStatus::Code(3));
    let acts = f.wait(10).exit("b", ExitStatus::Code(0));
    assert_eq!(exit_of(&acts), Some(3));
}

#[test]
fn the_latest_failure_wins() {
    let mut f = F::new(vec![never(proc_spec("a")), never(proc_spec("b"))]);
    f.start_all();
    f.wait(10).exit("b", ExitStatus::Code(4));
    let acts = f.wait(10).exit("a", ExitStatus::Code(3));
    assert_eq!(exit_of(&acts), Some(3));
}

#[test]
fn killed_by_a_signal_is_128_plus_n() {
    for (sig, want) in [(KILL, 137), (TERM, 143), (libc::SIGSEGV, 139)] {
        let mut f = F::new(vec![never(proc_spec("a"))]);
        f.start_all();
        let acts = f.wait(10).exit("a", ExitStatus::Signal(sig));
        assert_eq!(exit_of(&acts), Some(want));
    }
}

#[test]
fn a_success_code_other_than_0_exits_0() {
    let mut a = never(proc_spec("a"));
    a.success_exit_codes = vec![0, 3];
    let mut f = F::new(vec![a]);
    f.start_all();
    assert_eq!(exit_of(&f.exit("a", ExitStatus::Code(3))), Some(0));
}

#[test]
fn a_failure_that_exits_0_is_still_a_failure() {
    let mut a = never(proc_spec("a"));
    a.success_exit_codes = vec![3];
    let mut f = F::new(vec![a]);
    f.start_all();
    assert_eq!(exit_of(&f.exit("a", ExitStatus::Code(0))), Some(1));
}

#[test]
fn failed_by_the_breaker_gives_its_last_code() {
    let mut a = proc_spec("a");
    a.max_restarts = Some(2);
    let mut f = F::new(vec![a, never(proc_spec("b"))]);
    f.start_all();
    f.exit("b", ExitStatus::Code(0));
    let mut codes = [7, 6, 5].into_iter();
    loop {
        let acts = f
            .wait(10)
            .exit("a", ExitStatus::Code(codes.next().unwrap()));
        if let Some(code) = exit_of(&acts) {
            assert_eq!(f.state("a"), State::Failed);
            assert_eq!(code, 5);
            break;
        }
        assert_eq!(f.state("a"), State::Backoff);
        f.due();
    }
}

#[test]
fn breaker_with_cooldown_keeps_tend_running() {
    let mut a = never(proc_spec("a"));
    a.restart = RestartPolicy::OnFailure;
    a.max_restarts = Some(0);
    a.breaker_cooldown = Some(ms(1000));
    let mut f = F::new(vec![a]);
    f.start_all();
    let acts = f.exit("a", ExitStatus::Code(9));
    assert_eq!(f.state("a"), State::Failed);
    assert_eq!(exit_of(&acts), None, "it will be tried again");
    let acts = f.due();
    assert_eq!(spawned(&acts), vec![0]);
    let acts = f.exit("a", ExitStatus::Code(0));
    assert_eq!(exit_of(&acts), Some(0));
}

#[test]
fn spawn_failure_under_never_exits_127() {
    let mut f = F::new(vec![never(proc_spec("a"))]);
    let acts = f.f.start_all(f.now);
    assert_eq!(spawned(&acts), vec![0]);
    let acts = f.f.on_proc(
        0,
        Input::SpawnFailed {
            error: "spawn worker: no such file or directory".into(),
            code: 127,
        },
        f.now,
    );
    assert_eq!(exit_of(&acts), Some(127));
}

/// SPEC §4: tend exits when every process is `exited` or `failed` "and
/// none can run again". A process waiting for a dependency that gave up
/// can never run: it must not keep tend (and its container) alive.
#[test]
fn dependents_of_a_dependency_that_gave_up_do_not_keep_tend_alive() {
    let mut a = proc_spec("a");
    a.max_restarts = Some(0);
    a.readiness = Some(tcp_probe());
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let c = dep(proc_spec("c"), "b", DepCondition::Started);
    let mut f = F::new(vec![c, b, a]);
    let acts = f.start_all();
    assert_eq!(spawned(&acts), vec![2]);
    let acts = f.wait(10).exit("a", ExitStatus::Code(4));
    assert_eq!(f.state("a"), State::Failed);
    assert_eq!(exit_of(&acts), Some(4));
}

#[test]
fn a_dependent_waiting_on_a_finished_one_shot_ready() {
    let mut a = never(proc_spec("a"));
    a.min_uptime = ms(1000);
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let mut f = F::new(vec![a, b]);
    f.start_all();
    let acts = f.wait(10).exit("a", ExitStatus::Code(0));
    assert_eq!(exit_of(&acts), Some(0));
}

#[test]
fn a_dependent_waiting_on_a_cooling_breaker_keeps_tend_alive() {
    let mut a = proc_spec("a");
    a.max_restarts = Some(0);
    a.breaker_cooldown = Some(ms(5000));
    a.readiness = Some(tcp_probe());
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let mut f = F::new(vec![a, b]);
    f.start_all();
    let acts = f.wait(10).exit("a", ExitStatus::Code(4));
    assert_eq!(exit_of(&acts), None, "a will be tried again");
    let acts = f.due();
    assert_eq!(spawned(&acts), vec![0]);
}

#[test]
fn requested_shutdown_in_config_mode_exits_0() {
    let mut f = F::new(vec![proc_spec("a")]);
    f.start_all();
    f.shutdown(None);
    let acts = f.exit("a", ExitStatus::Signal(TERM));
    assert_eq!(exit_of(&acts), Some(0));
}

#[test]
fn single_mode_exits_with_the_childs_status() {
    for (sig, status, want) in [
        (TERM, ExitStatus::Signal(TERM), 143),
        (INT, ExitStatus::Signal(INT), 130),
        (TERM, ExitStatus::Code(0), 0),
        (TERM, ExitStatus::Code(42), 42),
    ] {
        let mut f = F::with(vec![proc_spec("cmd")], true);
        f.start_all();
        let acts = f.wait(100).shutdown(Some(sig));
        assert_eq!(signalled(&acts), vec![(0, sig)], "the signal tend got");
        assert_eq!(exit_of(&acts), None);
        let acts = f.wait(5).exit("cmd", status);
        assert_eq!(exit_of(&acts), Some(want), "{sig} {status:?}");
        assert_eq!(f.state("cmd"), State::Stopped, "no restart");
    }
}

#[test]
fn single_mode_child_exiting_by_itself() {
    let mut f = F::with(vec![never(proc_spec("cmd"))], true);
    f.start_all();
    assert_eq!(exit_of(&f.exit("cmd", ExitStatus::Code(3))), Some(3));
    let mut f = F::with(vec![never(proc_spec("cmd"))], true);
    f.start_all();
    assert_eq!(exit_of(&f.exit("cmd", ExitStatus::Code(0))), Some(0));
}

#[test]
fn single_mode_stop_timeout_kills() {
    let mut s = proc_spec("cmd");
    s.stop_timeout = ms(2000);
    let mut f = F::with(vec![s], true);
    f.start_all();
    f.shutdown(Some(TERM));
    let acts = f.due();
    assert_eq!(f.now, Mono(2000));
    assert_eq!(signalled(&acts), vec![(0, KILL)]);
    let acts = f.exit("cmd", ExitStatus::Signal(KILL));
    assert_eq!(exit_of(&acts), Some(137));
}

#[test]
fn kill_all_exits_at_once() {
    let mut f = F::new(vec![proc_spec("a"), proc_spec("b")]);
    f.start_all();
    let acts = f.f.kill_all(f.now);
    assert_eq!(signalled(&acts), vec![(0, KILL), (1, KILL)]);
    assert_eq!(exit_of(&acts), Some(0));
}

#[test]
fn a_stopped_process_keeps_tend_running() {
    // `tend stop` on the last running process is not the end: it may be
    // started again.
    let mut f = F::new(vec![proc_spec("a")]);
    f.start_all();
    f.on("a", Input::Stop);
    let acts = f.exit("a", ExitStatus::Signal(TERM));
    assert_eq!(f.state("a"), State::Stopped);
    assert_eq!(exit_of(&acts), None);
}

// ---------------------------------------------------------------------------
// Reload
// ---------------------------------------------------------------------------

impl F {
    fn reload(&mut self, processes: Vec<ProcSpec>) -> (Vec<FleetAction>, ReloadSummary) {
        let (acts, sum) = self.f.reload(&plan(processes, false), self.now);
        (self.run(acts), sum)
    }
    fn pid(&self, name: &str) -> Option<u32> {
        self.f.procs[self.idx(name)].pid()
    }
}

#[test]
fn reload_unchanged_keeps_the_process_and_its_pid() {
    let mut f = F::new(vec![proc_spec("a"), proc_spec("b")]);
    f.start_all();
    let pid = f.pid("a");
    let (acts, sum) = f.reload(vec![proc_spec("a"), proc_spec("b")]);
    assert!(acts.is_empty(), "{acts:?}");
    assert_eq!(sum.unchanged, 2);
    assert_eq!(f.pid("a"), pid);
}

#[test]
fn reload_adds_removes_and_replaces() {
    let mut f = F::new(vec![proc_spec("a"), proc_spec("b")]);
    f.start_all();
    let mut a2 = proc_spec("a");
    a2.args = vec!["--new".into()];
    let (acts, sum) = f.reload(vec![a2.clone(), proc_spec("c")]);
    assert_eq!(
        (sum.added, sum.removed, sum.changed, sum.unchanged),
        (1, 1, 1, 0)
    );
    // b and the old a get TERM; c starts now; the new a waits for the old.
    let mut sig = signalled(&acts);
    sig.sort();
    assert_eq!(sig, vec![(0, TERM), (1, TERM)]);
    let c = f.idx("c");
    assert_eq!(spawned(&acts), vec![c]);
    assert_eq!(f.f.index_of("b"), None);
    let new_a = f.idx("a");
    assert_ne!(new_a, 0);
    assert_eq!(f.f.procs[new_a].spec, a2);
    assert_eq!(f.f.procs[new_a].state(), State::Stopped);
    // The old a exits: the new one starts.
    let acts =
        f.f.on_proc(0, Input::Exited(ExitStatus::Signal(TERM)), f.now);
    let acts = f.run(acts);
    assert_eq!(spawned(&acts), vec![new_a]);
    let acts =
        f.f.on_proc(1, Input::Exited(ExitStatus::Signal(TERM)), f.now);
    assert!(spawned(&f.run(acts)).is_empty(), "b stays gone");
    assert_eq!(f.f.live(), vec![new_a, c]);
}

#[test]
fn reload_of_a_process_the_user_stopped_does_not_start_it() {
    let mut f = F::new(vec![proc_spec("a")]);
    f.start_all();
    f.on("a", Input::Stop);
    f.exit("a", ExitStatus::Signal(TERM));
    let mut a2 = proc_spec("a");
    a2.stop_timeout = ms(1);
    let (acts, sum) = f.reload(vec![a2]);
    assert_eq!(sum.changed, 1);
    assert!(spawned(&acts).is_empty(), "{acts:?}");
    assert_eq!(f.state("a"), State::Stopped);
}

#[test]
fn reload_of_a_process_in_backoff_starts_the_new_one_at_once() {
    let mut f = F::new(vec![proc_spec("a")]);
    f.start_all();
    f.exit("a", ExitStatus::Code(1));
    assert_eq!(f.state("a"), State::Backoff);
    let mut a2 = proc_spec("a");
    a2.restart_delay = ms(5);
    let (acts, _) = f.reload(vec![a2]);
    assert_eq!(spawned(&acts), vec![1]);
    assert_eq!(f.f.procs[0].state(), State::Stopped);
    assert_eq!(
        f.f.procs[0].next_deadline(),
        None,
        "the old restart is cancelled"
    );
}

#[test]
fn reload_wires_new_dependencies() {
    let mut a = proc_spec("a");
    a.readiness = Some(tcp_probe());
    let mut f = F::new(vec![a.clone()]);
    f.start_all();
    let b = dep(proc_spec("b"), "a", DepCondition::Ready);
    let (acts, sum) = f.reload(vec![a, b]);
    assert_eq!(sum.added, 1);
    assert!(spawned(&acts).is_empty(), "b waits for a to be ready");
    f.due();
    let acts = f.wait(1).probe("a", Role::Readiness, true);
    assert_eq!(spawned(&acts), vec![1]);
}

#[test]
fn reload_during_shutdown_does_nothing() {
    let mut f = F::new(vec![proc_spec("a")]);
    f.start_all();
    f.shutdown(None);
    let (acts, sum) = f.reload(vec![proc_spec("a"), proc_spec("b")]);
    assert!(acts.is_empty());
    assert_eq!(sum.added, 0);
}

#[test]
fn exit_waits_for_retired_processes_and_ignores_their_codes() {
    let mut f = F::new(vec![never(proc_spec("a")), proc_spec("b")]);
    f.start_all();
    f.exit("a", ExitStatus::Code(3));
    // b is removed while a (a failure) is done: the exit waits for b.
    let (acts, _) = f.reload(vec![never(proc_spec("a"))]);
    assert_eq!(exit_of(&acts), None, "b is still up");
    let acts =
        f.f.on_proc(1, Input::Exited(ExitStatus::Signal(TERM)), f.now);
    assert_eq!(exit_of(&f.run(acts)), Some(3));

    // A removed process's old failure does not decide the exit code.
    let mut f = F::new(vec![never(proc_spec("a")), never(proc_spec("b"))]);
    f.start_all();
    f.exit("b", ExitStatus::Code(3));
    let (acts, sum) = f.reload(vec![never(proc_spec("a"))]);
    assert_eq!(sum.removed, 1);
    assert!(signalled(&acts).is_empty());
    let acts = f.exit("a", ExitStatus::Code(0));
    assert_eq!(exit_of(&acts), Some(0));
}

// ---------------------------------------------------------------------------
// Randomized shutdowns over random dependency graphs
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random DAGs (edges only to lower indices, then shuffled names), random
/// exits before and during the shutdown: a process is never signalled while
/// one of its dependents is up, the fleet always exits, and exits once.
#[test]
fn random_shutdowns_respect_dependencies() {
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let n = 1 + rng.below(6) as usize;
        let mut specs: Vec<ProcSpec> = (0..n).map(|i| proc_spec(&format!("p{i}"))).collect();
        for (i, s) in specs.iter_mut().enumerate() {
            for j in 0..i {
                if rng.below(3) == 0 {
                    let cond = [
                        DepCondition::Started,
                        DepCondition::Ready,
                        DepCondition::Healthy,
                    ][rng.below(3) as usize];
                    s.depends_on.push((format!("p{j}"), cond));
                }
            }
            if i > 0 && rng.below(4) == 0 {
                s.restart = RestartPolicy::Never;
            }
        }
        // Reverse so that dependencies are not always first.
        specs.reverse();
        let mut f = F::new(specs);
        f.start_all();
        for p in &f.f.procs {
            assert_eq!(p.state(), State::Running, "seed {seed}: {}", p.name());
        }
        // Some crash before the shutdown.
        for i in 0..n {
            if rng.below(4) == 0 {
                let acts = f.f.on_proc(i, Input::Exited(ExitStatus::Code(1)), f.now);
                f.run(acts);
            }
        }
        let deps = f.f.deps.clone();
        let check = |f: &F, acts: &[FleetAction]| {
            for (i, _) in signalled(acts) {
                for (j, dj) in deps.iter().enumerate() {
                    if dj.iter().any(|&(d, _)| d == i) {
                        assert!(
                            !f.f.procs[j].is_up(),
                            "seed {seed}: {i} signalled while its dependent {j} is {}",
                            f.f.procs[j].state().as_str()
                        );
                    }
                }
            }
        };
        let acts = f.wait(10).shutdown(None);
        check(&f, &acts);
        let mut code = exit_of(&acts);
        let mut rounds = 0;
        while code.is_none() {
            rounds += 1;
            assert!(rounds < 100, "seed {seed}: no exit");
            // Every stopping process with a dependent still up is a bug.
            for i in 0..n {
                if f.f.procs[i].state() == State::Stopping {
                    for (j, dj) in deps.iter().enumerate() {
                        if dj.iter().any(|&(d, _)| d == i) {
                            assert!(
                                !f.f.procs[j].is_up(),
                                "seed {seed}: {i} stopping before its dependent {j}"
                            );
                        }
                    }
                }
            }
            let stopping: Vec<usize> = (0..n)
                .filter(|&i| f.f.procs[i].state() == State::Stopping)
                .collect();
            assert!(!stopping.is_empty(), "seed {seed}: stuck");
            let i = stopping[rng.below(stopping.len() as u64) as usize];
            f.wait(1);
            let acts =
                f.f.on_proc(i, Input::Exited(ExitStatus::Signal(TERM)), f.now);
            let acts = f.run(acts);
            check(&f, &acts);
            code = exit_of(&acts);
        }
        assert_eq!(code, Some(0), "seed {seed}");
        assert!(f.f.procs.iter().all(|p| p.state() == State::Stopped));
    }
}

// ---------------------------------------------------------------------------
// Randomized whole-fleet runs
// ---------------------------------------------------------------------------

impl Rng {
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize].clone()
    }
}

/// A fake shell around a whole fleet: children exit at random times and
/// answer stop signals (or not), probes answer at random, the user starts,
/// stops, restarts and resets at random, and a shutdown comes at some
/// point. Checked after every call:
/// - no `Action::Bug`, at most one `Exit`, nothing spawned during shutdown;
/// - a process first started by the fleet has its dependencies met;
/// - during shutdown, a process gets its stop signal only once all its
///   dependents are down;
/// - a requested shutdown ends in `Exit(0)` once the children are gone;
/// - an unrequested `Exit` only when every process is done (or blocked).
struct FleetSim {
    rng: Rng,
    f: Fleet,
    now: Mono,
    next_pid: u32,
    child_exit: Vec<Option<(Mono, ExitStatus)>>,
    probes: Vec<Vec<(Mono, Role, bool)>>,
    exit: Option<u8>,
    shutdown_at: Option<Mono>,
    seed: u64,
    /// The current config, for reloads.
    specs: Vec<ProcSpec>,
    added: usize,
}

fn random_fleet_spec(rng: &mut Rng, name: &str) -> ProcSpec {
    let mut s = proc_spec(name);
    s.restart = rng.pick(&[
        RestartPolicy::Always,
        RestartPolicy::OnFailure,
        RestartPolicy::Never,
    ]);
    s.restart_delay = ms(rng.pick(&[0, 1, 100, 1000]));
    s.min_uptime = ms(rng.pick(&[0, 500]));
    s.max_restarts = rng.pick(&[None, Some(0), Some(2)]);
    s.breaker_cooldown = rng.pick(&[None, Some(ms(2000))]);
    s.stop_timeout = ms(rng.pick(&[100, 1000]));
    if rng.chance(30) {
        s.readiness = Some(tcp_probe());
    }
    if rng.chance(20) {
        s.liveness = Some(tcp_probe());
    }
    if rng.chance(20) {
        s.startup = Some(tcp_probe());
    }
    s
}

impl FleetSim {
    fn new(seed: u64) -> FleetSim {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let n = 1 + rng.below(5) as usize;
        let mut specs: Vec<ProcSpec> = (0..n)
            .map(|i| random_fleet_spec(&mut rng, &format!("p{i}")))
            .collect();
        for (i, s) in specs.iter_mut().enumerate() {
            for j in 0..i {
                if rng.chance(35) {
                    let cond = rng.pick(&[
                        DepCondition::Started,
                        DepCondition::Ready,
                        DepCondition::Healthy,
                    ]);
                    s.depends_on.push((format!("p{j}"), cond));
                }
            }
        }
        if rng.chance(50) {
            specs.reverse();
        }
        FleetSim {
            rng,
            f: Fleet::new(&plan(specs.clone(), false)),
            specs,
            added: 0,
            now: Mono(0),
            next_pid: 100,
            child_exit: vec![None; n],
            probes: vec![Vec::new(); n],
            exit: None,
            shutdown_at: None,
            seed,
        }
    }

    /// Checked when the `Spawn` is carried out, which may be after the
    /// dependency itself was started again in the same call (a finished
    /// one-shot counts as started): "started" is judged by `starts()`.
    fn deps_met(&self, i: usize) -> bool {
        self.f.deps[i].iter().all(|&(d, c)| match c {
            DepCondition::Started => self.f.procs[d].starts() > 0,
            DepCondition::Ready | DepCondition::Healthy => self.f.dep_met(d, c),
        })
    }

    fn dependents_down(&self, i: usize) -> bool {
        (0..self.f.procs.len())
            .all(|j| !self.f.deps[j].iter().any(|&(d, _)| d == i) || !self.f.procs[j].is_up())
    }

    /// Carry out the actions of one call, checking them; answers spawns
    /// and limit samples (recursively).
    fn run(&mut self, acts: Vec<FleetAction>, before: &[State], user_on: Option<usize>) {
        let seed = self.seed;
        // A reload adds slots.
        let n = self.f.procs.len();
        self.child_exit.resize(n, None);
        self.probes.resize(n, Vec::new());
        let probe_failed: Vec<usize> = acts
            .iter()
            .filter_map(|a| match a {
                FleetAction::Proc(i, Action::Emit(e)) if e.event_name() == "unhealthy" => Some(*i),
                _ => None,
            })
            .collect();
        for a in acts {
            match a {
                FleetAction::Exit(code) => {
                    assert!(self.exit.is_none(), "seed {seed}: Exit twice");
                    self.exit = Some(code);
                }
                FleetAction::Emit(_) => {}
                FleetAction::Proc(i, action) => match action {
                    Action::Bug(m) => panic!("seed {seed}: bug: {m}"),
                    Action::Spawn => {
                        assert!(
                            self.shutdown_at.is_none(),
                            "seed {seed}: spawn of {i} during shutdown"
                        );
                        let was = before.get(i).copied().unwrap_or(State::Stopped);
                        if was == State::Stopped && user_on != Some(i) {
                            assert!(
                                self.deps_met(i),
                                "seed {seed}: {i} started early: deps {:?}, states {:?}, before {before:?}, user {user_on:?}",
                                self.f.deps[i],
                                self.f.procs.iter().map(|p| (p.state(), p.pid(), p.ready(), p.health())).collect::<Vec<_>>()
                            );
                        }
                        let ok = self.rng.chance(95);
                        let input = if ok {
                            self.next_pid += 1;
                            let at = self.now.after(ms(self.rng.below(5000)));
                            let st = self.rng.pick(&[
                                ExitStatus::Code(0),
                                ExitStatus::Code(1),
                                ExitStatus::Signal(KILL),
                            ]);
                            self.child_exit[i] = self.rng.chance(70).then_some((at, st));
                            Input::Spawned { pid: self.next_pid }
                        } else {
                            Input::SpawnFailed {
                                error: "spawn: not found".into(),
                                code: 127,
                            }
                        };
                        let more = self.f.on_proc(i, input, self.now);
                        self.run(more, before, user_on);
                    }
                    Action::Signal(sig) => {
                        // The shutdown's own stops wait for the dependents;
                        // a failed probe or the user may stop a process at
                        // any time.
                        if self.shutdown_at.is_some()
                            && sig != KILL
                            && !probe_failed.contains(&i)
                            && user_on != Some(i)
                        {
                            assert!(
                                self.dependents_down(i),
                                "seed {seed}: {i} signalled before its dependents are down: deps {:?} states {:?} before {before:?}",
                                self.f.deps,
                                self.f.procs.iter().map(Proc::state).collect::<Vec<_>>()
                            );
                        }
                        let at = if sig == KILL {
                            Some(self.now.after(ms(self.rng.below(10))))
                        } else {
                            self.rng
                                .chance(80)
                                .then(|| self.now.after(ms(self.rng.below(1500))))
                        };
                        if let Some(at) = at {
                            let status = ExitStatus::Signal(sig);
                            match self.child_exit[i] {
                                Some((t, _)) if t <= at => {}
                                _ => self.child_exit[i] = Some((at, status)),
                            }
                        }
                    }
                    Action::StartProbe(role) => {
                        let at = self.now.after(ms(self.rng.below(300)));
                        let ok = self.rng.chance(75);
                        self.probes[i].push((at, role, ok));
                    }
                    Action::CancelProbes => self.probes[i].clear(),
                    Action::SampleLimits | Action::Emit(_) => {}
                },
            }
        }
    }

    fn shutdown(&mut self) {
        let before: Vec<State> = self.f.procs.iter().map(Proc::state).collect();
        let acts = self.f.shutdown("test", None, self.now);
        self.shutdown_at = Some(self.now);
        self.run(acts, &before, None);
    }

    /// A new config: one process removed, added or changed.
    fn reload(&mut self) {
        let mut specs = self.specs.clone();
        match self.rng.below(3) {
            0 if specs.len() > 1 => {
                let k = self.rng.below(specs.len() as u64) as usize;
                let gone = specs.remove(k).name;
                for s in &mut specs {
                    s.depends_on.retain(|(n, _)| *n != gone);
                }
            }
            1 => {
                self.added += 1;
                let mut s = random_fleet_spec(&mut self.rng, &format!("n{}", self.added));
                for o in &specs {
                    if self.rng.chance(30) {
                        s.depends_on.push((o.name.clone(), DepCondition::Started));
                    }
                }
                specs.push(s);
            }
            _ => {
                let k = self.rng.below(specs.len() as u64) as usize;
                specs[k].args.push("x".into());
            }
        }
        self.specs = specs.clone();
        let p = plan(specs, false);
        self.call(None, |f, now| f.reload(&p, now).0);
    }

    /// One call into the fleet, with the checks around it.
    fn call(
        &mut self,
        user_on: Option<usize>,
        f: impl FnOnce(&mut Fleet, Mono) -> Vec<FleetAction>,
    ) {
        let before: Vec<State> = self.f.procs.iter().map(Proc::state).collect();
        let acts = f(&mut self.f, self.now);
        self.run(acts, &before, user_on);
        for (i, p) in self.f.procs.iter().enumerate() {
            let up = matches!(
                p.state(),
                State::Starting | State::Running | State::Stopping
            );
            assert_eq!(p.pid().is_some(), up, "seed {}: pid of {i}", self.seed);
            if p.pid().is_none() {
                self.child_exit[i] = None;
            }
        }
        if let Some(code) = self.exit {
            if self.shutdown_at.is_some() {
                assert_eq!(code, 0, "seed {}", self.seed);
            } else {
                let blocked = self.f.blocked();
                for (i, p) in self.f.procs.iter().enumerate() {
                    if self.f.is_retired(i) {
                        assert!(
                            !p.is_up(),
                            "seed {}: exit while retired {i} is up",
                            self.seed
                        );
                        continue;
                    }
                    assert!(
                        p.is_final() || blocked[i],
                        "seed {}: exit while {i} is {}",
                        self.seed,
                        p.state().as_str()
                    );
                }
            }
        }
    }

    fn step(&mut self) {
        let n = self.f.procs.len();
        // The earliest of: a deadline, a child's exit, a probe answer.
        let mut next: Option<(Mono, usize, u8)> = None;
        let consider = |t: Mono, i: usize, what: u8, next: &mut Option<(Mono, usize, u8)>| {
            if next.is_none_or(|(n, _, _)| t < n) {
                *next = Some((t, i, what));
            }
        };
        for i in 0..n {
            if let Some(d) = self.f.procs[i].next_deadline() {
                consider(d, i, 0, &mut next);
            }
            if let Some((t, _)) = self.child_exit[i] {
                consider(t, i, 1, &mut next);
            }
            if let Some(&(t, _, _)) = self.probes[i].iter().min_by_key(|x| x.0) {
                consider(t, i, 2, &mut next);
            }
        }
        if next.is_none() || self.rng.chance(10) {
            let t = self.now.after(ms(self.rng.below(2000)));
            let live = self.f.live();
            let i = live[self.rng.below(live.len() as u64) as usize];
            consider(t, i, 3, &mut next);
        }
        let (t, i, what) = next.unwrap();
        self.now = self.now.max(t);
        match what {
            0 => self.call(None, |f, now| f.on_proc(i, Input::Due, now)),
            1 => {
                let (_, status) = self.child_exit[i].take().unwrap();
                self.call(None, |f, now| f.on_proc(i, Input::Exited(status), now));
            }
            2 => {
                let k = (0..self.probes[i].len())
                    .min_by_key(|&k| self.probes[i][k].0)
                    .unwrap();
                let (_, role, ok) = self.probes[i].remove(k);
                self.call(None, |f, now| {
                    f.on_proc(
                        i,
                        Input::ProbeDone {
                            role,
                            ok,
                            message: "x".into(),
                        },
                        now,
                    )
                });
            }
            _ => match self.rng.below(20) {
                0..=5 => self.call(None, |f, now| f.start(i, now)),
                6..=8 => self.call(Some(i), |f, now| f.on_proc(i, Input::Stop, now)),
                9..=11 => self.call(Some(i), |f, now| f.on_proc(i, Input::Restart, now)),
                12..=13 => self.call(Some(i), |f, now| f.on_proc(i, Input::Reset, now)),
                14 if self.shutdown_at.is_none() => self.shutdown(),
                15 | 16 => self.reload(),
                _ => {}
            },
        }
    }
}

#[test]
fn random_fleets_keep_the_invariants() {
    let mut exits = [0usize; 2];
    for seed in 1..=400u64 {
        let mut sim = FleetSim::new(seed);
        sim.call(None, |f, now| f.start_all(now));
        let mut steps = 0;
        while sim.exit.is_none() && steps < 300 {
            sim.step();
            steps += 1;
        }
        if sim.exit.is_none() {
            // Shut down and let the children go: it must end.
            if sim.shutdown_at.is_none() {
                sim.shutdown();
            }
            let mut more = 0;
            while sim.exit.is_none() {
                more += 1;
                assert!(more < 500, "seed {seed}: the shutdown never ends");
                sim.step();
            }
        }
        exits[usize::from(sim.shutdown_at.is_some())] += 1;
    }
    assert!(
        exits[0] > 0 && exits[1] > 0,
        "both kinds of exit: {exits:?}"
    );
}
