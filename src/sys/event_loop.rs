//! The supervisor's one thread: it blocks in poll(2) on the signal pipe,
//! the children's output pipes, the control socket, probe sockets and the
//! STOP-file watch, with a timeout taken from the deadline heap (none when
//! nothing is due: an idle tend sleeps). Each wake-up reads the clock once,
//! turns what happened into `core` inputs, and carries out the actions that
//! come back. This is the only place that reads the monotonic clock.
//!
//! # Correct order, each turn
//! 1. Drain the signal pipe, then act on the signals (SIGCHLD: reap with
//!    `waitpid(-1, WNOHANG)` until nothing is left; this is the only
//!    waitpid in tend, so every exit — supervised child, probe, hook or
//!    adopted orphan — is seen here and routed by PID).
//! 2. Child output, control requests, probe progress.
//! 3. Due timers.
//! 4. Write `state.json` once if anything changed.

use super::control::{ClientId, ControlServer};
use super::ffi;
use super::http::HttpServer;
use super::logs::{LineSplitter, LogFile};
use super::notify::Notify;
use super::output::Writer;
use super::poll::PollSet;
use super::probe::{Attempt, Outcome};
use super::signals::Signals;
use super::timers::{Key, Timers};
use super::watch::StopWatch;
use crate::core::event::{Event, EventKind};
use crate::core::fleet::{Fleet, FleetAction};
use crate::core::health::Role;
use crate::core::process::{Action, Input, State};
use crate::core::Mono;
use crate::plan::Plan;
use crate::proto::{self, Reply, Request};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How `tend run` was asked to behave, beyond the plan.
pub struct Options {
    pub dir: PathBuf,
    pub log_dir: PathBuf,
    pub quiet: bool,
    pub interactive: bool,
    /// Running detached: tend's stdout is its own log; child lines are not
    /// copied there (they are in NAME.log already).
    pub detached: bool,
    /// `--stop-file` / `--http` given on the command line: they win over
    /// the config file, also after a reload.
    pub stop_file_override: Option<PathBuf>,
    pub http_override: Option<String>,
}

/// Who a PID belongs to, for routing what the reaper finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Proc(usize),
    /// A running probe attempt (found among the attempts by PID).
    Probe,
    /// A running hook (found among the hooks by PID).
    Hook,
    /// A cancelled probe still to be reaped.
    Ignored,
}

/// Per process runtime: what the core does not hold.
struct Run {
    pgid: Option<u32>,
    start_time: Option<u64>,
    log: LogFile,
    /// Address lists for tcp/http probes, resolved at load.
    addrs: HashMap<Role, Vec<SocketAddr>>,
    /// When resolution last failed (re-resolve at most once per interval).
    resolve_failed_at: HashMap<Role, Mono>,
    /// Escaped descendants signalled at stop, killed when the stop ends.
    escaped: Vec<(u32, u64)>,
    /// The leader exited during a stop while its group lives on: its exit
    /// status, delivered to the core once the group is empty.
    linger: Option<crate::core::ExitStatus>,
}

impl Run {
    fn new(spec: &crate::plan::ProcSpec, log_dir: &std::path::Path) -> Run {
        Run {
            pgid: None,
            start_time: None,
            log: LogFile::new(
                log_dir.join(format!("{}.log", spec.name)),
                spec.log.max_size,
                spec.log.keep,
            ),
            addrs: HashMap::new(),
            resolve_failed_at: HashMap::new(),
            escaped: Vec::new(),
            linger: None,
        }
    }
}

struct Output {
    proc: usize,
    fd: OwnedFd,
    split: LineSplitter,
    idx: Option<usize>,
    /// The pipe was enlarged because the child floods it.
    big: bool,
}

/// A pipe holds 64 KiB; a child that fills it on every read gets a 1 MiB
/// pipe (fewer wake-ups and syscalls per byte), for at most this many
/// children at once: the kernel charges pipe memory to the user.
const BIG_PIPE: usize = 1 << 20;
const SMALL_READ: usize = 64 * 1024;
const MAX_BIG_PIPES: usize = 16;

/// Lines split from one read, formatted straight into reused buffers.
#[derive(Default)]
struct Batch {
    /// `TS line\n` for each line, back to back (what NAME.log gets).
    file: Vec<u8>,
    /// Where each line ends in `file`.
    ends: Vec<usize>,
    /// Length of the `TS ` prefix.
    prefix: usize,
    /// `NAME | line\n` lines for stdout.
    out: Vec<u8>,
    ts: Vec<u8>,
}

impl Batch {
    fn start(&mut self, ts: &str) {
        self.file.clear();
        self.ends.clear();
        self.ts.clear();
        self.ts.extend_from_slice(ts.as_bytes());
        self.ts.push(b' ');
        self.prefix = self.ts.len();
    }
    fn push_line(&mut self, l: &[u8]) {
        self.file.extend_from_slice(&self.ts);
        self.file.extend_from_slice(l);
        self.file.push(b'\n');
        self.ends.push(self.file.len());
    }
}

struct ProbeRun {
    proc: usize,
    role: Role,
    attempt: Attempt,
}

struct Hook {
    pid: u32,
    event: String,
    deadline: Instant,
}

/// A reply held back until what it asked for took effect ("stopped means
/// the group is gone").
struct Pending {
    client: ClientId,
    kind: PendingKind,
    names: Vec<usize>,
    deadline: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PendingKind {
    Start,
    Stop,
    Restart,
    Reset,
}

const HOOK_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_FILE_POLL: Duration = Duration::from_millis(500);
const PID1_GRACE: Duration = Duration::from_secs(3);
const STATE_SYNC_PERIOD_MS: u64 = 1000;

pub struct Supervisor {
    plan: Plan,
    opts: Options,
    fleet: Fleet,
    origin: Instant,
    /// This turn's clock reading; `now` is the same instant as a `Mono`.
    now_i: Instant,
    wall_origin_ms: u64,
    now: Mono,
    timers: Timers,
    signals: Signals,
    ps: PollSet,
    sig_idx: usize,
    runs: Vec<Run>,
    outputs: Vec<Output>,
    probes: Vec<ProbeRun>,
    hooks: Vec<Hook>,
    pids: HashMap<u32, Owner>,
    stdout: Writer,
    stderr: Writer,
    events: LogFile,
    control: Option<ControlServer>,
    http: Option<HttpServer>,
    notify: Option<Notify>,
    /// What systemd was last told: READY=1 sent, the STATUS= line,
    /// STOPPING=1 sent.
    notified_ready: bool,
    notified_status: String,
    notified_stopping: bool,
    watchdog: Option<Duration>,
    pending: Vec<Pending>,
    watch: Option<StopWatch>,
    watch_idx: Option<usize>,
    stop_file: PathBuf,
    state_dirty: bool,
    state_synced_at: Option<Mono>,
    exit: Option<u8>,
    pid1: bool,
    log_error_reported: HashMap<String, Mono>,
    read_buf: Vec<u8>,
    batch: Batch,
}

/// Wall-clock milliseconds since the epoch (the timestamp source of logs
/// and events).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Supervisor {
    pub fn new(
        plan: Plan,
        opts: Options,
        control: Option<ControlServer>,
        http: Option<HttpServer>,
    ) -> std::io::Result<Supervisor> {
        let single = plan.single;
        let mut sigs: Vec<i32> = vec![
            libc::SIGCHLD,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGWINCH,
        ];
        if single {
            sigs.extend(crate::signal::forwarded_in_single_mode());
        }
        ffi::ignore_signal(libc::SIGTTIN);
        ffi::ignore_signal(libc::SIGTTOU);
        ffi::ignore_signal(libc::SIGPIPE);
        let signals = Signals::install(&sigs)?;
        let pid1 = ffi::getpid() == 1;
        if !pid1 {
            // Orphaned grandchildren are reparented to us and reaped.
            let _ = ffi::set_child_subreaper();
        }
        let fleet = Fleet::new(&plan);
        let runs = plan
            .processes
            .iter()
            .map(|p| Run::new(p, &opts.log_dir))
            .collect();
        let stop_file = plan
            .stop_file
            .clone()
            .unwrap_or_else(|| opts.dir.join("STOP"));
        let watch = StopWatch::new(&stop_file).ok();
        let events = LogFile::new(opts.dir.join("events.jsonl"), 10 * 1024 * 1024, 5);
        let start = Instant::now();
        let mut s = Supervisor {
            fleet,
            origin: start,
            now_i: start,
            wall_origin_ms: wall_ms(),
            now: Mono(0),
            timers: Timers::default(),
            signals,
            ps: PollSet::default(),
            sig_idx: 0,
            runs,
            outputs: Vec::new(),
            probes: Vec::new(),
            hooks: Vec::new(),
            pids: HashMap::new(),
            stdout: Writer::new(1),
            stderr: Writer::new(2),
            events,
            control,
            http,
            notify: Notify::from_env(),
            notified_ready: false,
            notified_status: String::new(),
            notified_stopping: false,
            watchdog: super::notify::watchdog_interval(),
            pending: Vec::new(),
            watch,
            watch_idx: None,
            stop_file,
            state_dirty: true,
            state_synced_at: None,
            exit: None,
            pid1,
            log_error_reported: HashMap::new(),
            read_buf: Vec::new(),
            batch: Batch::default(),
            plan,
            opts,
        };
        s.resolve_probes();
        Ok(s)
    }

    /// Run until everything is done; returns tend's exit code.
    pub fn run(mut self) -> u8 {
        self.recover();
        self.say(&format!(
            "started (pid {}, {} process{})",
            ffi::getpid(),
            self.fleet.procs.len(),
            if self.fleet.procs.len() == 1 {
                ""
            } else {
                "es"
            }
        ));
        let tick = self.plan.tick;
        if !tick.is_zero() {
            self.timers.set(Key::Tick, Some(self.now.after(tick)));
        }
        if self.watch.is_none() {
            self.timers
                .set(Key::StopFile, Some(self.now.after(STOP_FILE_POLL)));
        }
        if let Some(w) = self.watchdog {
            self.timers.set(Key::Watchdog, Some(self.now.after(w)));
        }
        if self.stop_file.exists() {
            self.on_stop_file();
        } else {
            let acts = self.fleet.start_all(self.now);
            self.apply(acts);
        }
        while self.exit.is_none() {
            self.turn();
        }
        self.finish()
    }

    /// Read the clock: once per wake-up (and once for the final cleanup).
    fn read_clock(&mut self) {
        self.now_i = Instant::now();
        self.now = Mono(self.now_i.duration_since(self.origin).as_millis() as u64);
    }

    fn mono(&self) -> Mono {
        self.now
    }

    fn instant(&self, m: Mono) -> Instant {
        self.origin + Duration::from_millis(m.0)
    }

    fn wall_of(&self, m: Mono) -> u64 {
        self.wall_origin_ms + m.0
    }

    fn ts(&self) -> String {
        crate::rfc3339::format_unix_ms(wall_ms())
    }

    /// One wake-up of the loop.
    fn turn(&mut self) {
        let timeout = self.timeout();
        self.ps.clear();
        self.sig_idx = self.ps.add(self.signals.fd(), super::poll::IN);
        for o in &mut self.outputs {
            o.idx = Some(self.ps.add(o.fd.as_raw_fd(), super::poll::IN));
        }
        for p in &mut self.probes {
            p.attempt.register(&mut self.ps);
        }
        if let Some(c) = &mut self.control {
            c.register(&mut self.ps);
        }
        if let Some(h) = &mut self.http {
            h.register(&mut self.ps);
        }
        self.watch_idx = self
            .watch
            .as_ref()
            .map(|w| self.ps.add(w.fd(), super::poll::IN));
        self.stdout.register(&mut self.ps);
        self.stderr.register(&mut self.ps);

        if let Err(e) = self.ps.wait(timeout) {
            self.say(&format!("poll: {e}"));
        }
        self.read_clock();

        if self.ps.readable(self.sig_idx) {
            let sigs = self.signals.drain();
            for sig in sigs {
                self.on_signal(sig);
            }
        }
        self.read_outputs();
        self.on_probes_poll();
        self.on_control_poll();
        if let Some(mut h) = self.http.take() {
            let now_i = self.now_i;
            h.on_time(now_i);
            h.on_poll(&self.ps, now_i, &mut || self.status_doc(false));
            if let Some(w) = h.take_warning() {
                self.say(&w);
            }
            self.http = Some(h);
        }
        if let Some(i) = self.watch_idx {
            if self.ps.readable(i) {
                if let Some(w) = &mut self.watch {
                    w.drain();
                }
                if self.stop_file.exists() {
                    self.on_stop_file();
                }
            }
        }
        self.stdout.on_poll(&self.ps);
        self.stderr.on_poll(&self.ps);
        // Deadlines set to "now" in this turn (a restart with no delay) are
        // run in this turn too: a crashed child is respawned before any
        // state is written, not one poll round later.
        for _ in 0..8 {
            self.on_timers();
            if self.timers.next().is_none_or(|t| t > self.now) {
                break;
            }
        }
        self.check_pending();
        if self.state_dirty {
            self.notify_state();
            self.write_state();
        }
    }

    /// systemd: READY=1 once everything is ready, STATUS= on changes,
    /// STOPPING=1 when shutdown begins.
    fn notify_state(&mut self) {
        let Some(n) = &self.notify else { return };
        if self.fleet.is_shutting_down() {
            if !self.notified_stopping {
                self.notified_stopping = true;
                n.send("STOPPING=1");
            }
            return;
        }
        let live = self.fleet.live();
        let procs: Vec<&crate::core::process::Proc> =
            live.iter().map(|&i| &self.fleet.procs[i]).collect();
        let running = procs
            .iter()
            .filter(|p| p.state() == crate::core::process::State::Running)
            .count();
        let ready = procs.iter().filter(|p| p.ready()).count();
        let failed = procs
            .iter()
            .filter(|p| p.state() == crate::core::process::State::Failed)
            .count();
        let mut status = format!(
            "{} process{}: {running} running, {ready} ready",
            procs.len(),
            if procs.len() == 1 { "" } else { "es" }
        );
        if failed > 0 {
            status.push_str(&format!(", {failed} failed"));
        }
        if status != self.notified_status {
            n.send(&format!("STATUS={status}"));
            self.notified_status = status;
        }
        if !self.notified_ready && !procs.is_empty() && ready == procs.len() {
            self.notified_ready = true;
            n.send("READY=1");
        }
    }

    fn timeout(&mut self) -> Option<Duration> {
        let mut next: Option<Instant> = self.timers.next().map(|m| self.instant(m));
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for p in &self.probes {
            consider(Some(p.attempt.deadline()));
        }
        for h in &self.hooks {
            consider(Some(h.deadline));
        }
        for p in &self.pending {
            consider(Some(p.deadline));
        }
        if let Some(c) = &self.control {
            consider(c.next_deadline());
        }
        if let Some(h) = &self.http {
            consider(h.next_deadline());
        }
        // Measured from this turn's clock reading: the little time spent
        // since only makes the wait end that much early, never late.
        next.map(|t| t.saturating_duration_since(self.now_i))
    }

    // ---------------------------------------------------------------
    // Actions
    // ---------------------------------------------------------------

    fn apply(&mut self, actions: Vec<FleetAction>) {
        let mut queue: VecDeque<FleetAction> = actions.into();
        let mut touched: Vec<usize> = Vec::new();
        while let Some(a) = queue.pop_front() {
            match a {
                FleetAction::Exit(code) => {
                    if self.exit.is_none() {
                        self.exit = Some(code);
                    }
                }
                FleetAction::Emit(ev) => self.emit(ev),
                FleetAction::Proc(i, act) => {
                    if !touched.contains(&i) {
                        touched.push(i);
                    }
                    let more = self.act(i, act);
                    // Answers (Spawned, LimitSample) come before anything
                    // else queued: see `core::fleet`'s correct order.
                    for m in more.into_iter().rev() {
                        queue.push_front(m);
                    }
                }
            }
        }
        for i in touched {
            let d = self.fleet.procs[i].next_deadline();
            self.timers.set(Key::Proc(i), d);
        }
    }

    /// One input to one process; its deadline is re-armed even when the
    /// input produced no action (a probe result only moves probe timers).
    fn feed(&mut self, i: usize, input: Input) {
        let acts = self.fleet.on_proc(i, input, self.now);
        self.apply(acts);
        let d = self.fleet.procs[i].next_deadline();
        self.timers.set(Key::Proc(i), d);
    }

    fn act(&mut self, i: usize, act: Action) -> Vec<FleetAction> {
        match act {
            Action::Spawn => self.spawn(i),
            Action::Signal(sig) => {
                if let Some(pgid) = self.runs[i].pgid {
                    if self.fleet.procs[i].pid().is_some() {
                        if let Err(e) = ffi::kill_group(pgid, sig) {
                            self.say(&format!(
                                "{}: cannot signal group {pgid}: {e}",
                                self.fleet.procs[i].name()
                            ));
                        }
                        self.signal_escaped(i, sig);
                    }
                }
                Vec::new()
            }
            Action::StartProbe(role) => {
                self.start_probe(i, role);
                Vec::new()
            }
            Action::CancelProbes => {
                self.cancel_probes(i);
                Vec::new()
            }
            Action::SampleLimits => {
                let Some(pgid) = self.runs[i].pgid else {
                    return Vec::new();
                };
                match super::procfs::group_usage(pgid) {
                    Some((rss, n)) => self.fleet.on_proc(
                        i,
                        Input::LimitSample {
                            rss_bytes: rss,
                            procs: n,
                        },
                        self.now,
                    ),
                    None => Vec::new(),
                }
            }
            Action::Emit(ev) => {
                self.emit(ev);
                Vec::new()
            }
            Action::Bug(msg) => {
                self.say(&format!("internal error (please report): {msg}"));
                Vec::new()
            }
        }
    }

    fn spawn(&mut self, i: usize) -> Vec<FleetAction> {
        let spec = &self.fleet.procs[i].spec;
        let interactive = self.opts.interactive;
        let mut spec = spec.clone();
        spec.env.push(("TEND_PROCESS".into(), spec.name.clone()));
        let mode = if interactive {
            super::spawn::Mode::Interactive
        } else {
            super::spawn::Mode::Capture
        };
        match super::spawn::spawn(&spec, mode) {
            Ok(sp) => {
                self.pids.insert(sp.pid, Owner::Proc(i));
                self.runs[i].pgid = Some(sp.pid);
                self.runs[i].start_time = super::procfs::start_time(sp.pid);
                self.runs[i].escaped.clear();
                if let Some(fd) = sp.output {
                    self.outputs.push(Output {
                        proc: i,
                        fd,
                        split: LineSplitter::default(),
                        idx: None,
                        big: false,
                    });
                }
                if interactive && ffi::isatty(0) {
                    // Tolerate ENOTTY and friends: no terminal, no job control.
                    let _ = ffi::tcsetpgrp(0, sp.pid);
                }
                self.fleet
                    .on_proc(i, Input::Spawned { pid: sp.pid }, self.now)
            }
            Err(e) => {
                self.say(&e.message);
                self.fleet.on_proc(
                    i,
                    Input::SpawnFailed {
                        error: e.message,
                        code: e.code,
                    },
                    self.now,
                )
            }
        }
    }

    /// Stop signals also reach descendants that escaped the process group
    /// (a daemon that called setsid): see `procfs::escaped`.
    fn signal_escaped(&mut self, i: usize, sig: i32) {
        if sig != self.fleet.procs[i].spec.stop_signal && sig != libc::SIGKILL {
            return;
        }
        for (pid, start) in self.find_escaped(i) {
            let _ = ffi::kill_pid(pid, sig);
            if !self.runs[i].escaped.iter().any(|&(p, _)| p == pid) {
                self.runs[i].escaped.push((pid, start));
            }
        }
    }

    fn find_escaped(&self, i: usize) -> Vec<(u32, u64)> {
        let pids = &self.pids;
        super::procfs::escaped(
            ffi::getpid(),
            &|p| pids.contains_key(&p),
            self.fleet.procs[i].name(),
        )
    }

    fn emit(&mut self, ev: Event) {
        let ts = self.ts();
        let json = ev.to_json(&ts);
        let mut line = json.to_string();
        line.push('\n');
        if let Err(e) = self.events.append(line.as_bytes()) {
            self.report_log_error("events.jsonl", &e);
        }
        if let Some(c) = &mut self.control {
            c.broadcast(line.trim_end());
        }
        let msg = human_event(&ev);
        if let Some(m) = msg {
            self.say(&m);
        }
        self.run_hooks(&ev);
        self.state_dirty = true;
    }

    fn run_hooks(&mut self, ev: &Event) {
        let name = ev.event_name();
        let Some((_, argv)) = self.plan.hooks.iter().find(|(e, _)| e == name) else {
            return;
        };
        let error = ev.error().unwrap_or("");
        let argv: Vec<String> = argv
            .iter()
            .map(|a| {
                a.replace("{name}", &ev.name)
                    .replace("{event}", name)
                    .replace("{error}", error)
            })
            .collect();
        let Some((cmd, args)) = argv.split_first() else {
            return;
        };
        let mut spec = crate::plan::ProcSpec::with_defaults(&format!("hook {name}"), cmd);
        spec.args = args.to_vec();
        spec.env.push(("TEND_EVENT".into(), name.to_string()));
        spec.env.push(("TEND_NAME".into(), ev.name.clone()));
        match super::spawn::spawn(&spec, super::spawn::Mode::Hook) {
            Ok(sp) => {
                self.pids.insert(sp.pid, Owner::Hook);
                self.hooks.push(Hook {
                    pid: sp.pid,
                    event: name.to_string(),
                    deadline: self.now_i + HOOK_TIMEOUT,
                });
            }
            Err(e) => self.say(&format!("hook {name} failed: {}", e.message)),
        }
    }

    // ---------------------------------------------------------------
    // Signals and reaping
    // ---------------------------------------------------------------

    fn on_signal(&mut self, sig: i32) {
        if sig == libc::SIGCHLD {
            self.reap();
            return;
        }
        let stop_sig = sig == libc::SIGTERM || sig == libc::SIGINT || sig == libc::SIGQUIT;
        if self.plan.single {
            if stop_sig && !self.fleet.is_shutting_down() {
                let reason = format!("signal {}", crate::signal::name(sig));
                let acts = self.fleet.shutdown(&reason, Some(sig), self.now);
                self.apply(acts);
            } else {
                self.forward(sig);
            }
            return;
        }
        if stop_sig {
            if self.fleet.is_shutting_down() {
                self.say(&format!(
                    "second {}: killing every process",
                    crate::signal::name(sig)
                ));
                let acts = self.fleet.kill_all(self.now);
                self.apply(acts);
            } else {
                let reason = format!("signal {}", crate::signal::name(sig));
                let acts = self.fleet.shutdown(&reason, None, self.now);
                self.apply(acts);
            }
            return;
        }
        if sig == libc::SIGHUP {
            let r = self.reload();
            if let Err(e) = r {
                self.say(&format!("reload failed, keeping the running config: {e}"));
            }
            return;
        }
        // USR1, USR2, WINCH: to every child's group.
        self.forward(sig);
    }

    fn forward(&mut self, sig: i32) {
        for i in 0..self.fleet.procs.len() {
            if self.fleet.procs[i].pid().is_some() {
                if let Some(pgid) = self.runs[i].pgid {
                    let _ = ffi::kill_group(pgid, sig);
                }
            }
        }
    }

    fn reap(&mut self) {
        while let ffi::Reaped::Child { pid, status } = ffi::reap_one() {
            self.on_reaped(pid, status);
        }
        // Groups whose leader exited during a stop: done once empty.
        for i in 0..self.runs.len() {
            if let (Some(st), Some(pgid)) = (self.runs[i].linger, self.runs[i].pgid) {
                if !ffi::group_exists(pgid) {
                    self.runs[i].linger = None;
                    self.exited(i, st);
                }
            }
        }
    }

    /// The child of process `i` is gone (and, for a stop, its group too).
    fn exited(&mut self, i: usize, st: crate::core::ExitStatus) {
        let was_stopping = self.fleet.procs[i].state() == State::Stopping;
        self.feed(i, Input::Exited(st));
        if !self.fleet.procs[i].is_up() {
            // Those signalled at the stop, and (for a stop) any adopted
            // since; a child that exits on its own keeps its daemons.
            let mut left = std::mem::take(&mut self.runs[i].escaped);
            if was_stopping {
                left.extend(self.find_escaped(i));
            }
            for (p, start) in left {
                if super::procfs::start_time(p) == Some(start) {
                    let _ = ffi::kill_pid(p, libc::SIGKILL);
                }
            }
        }
    }

    fn on_reaped(&mut self, pid: u32, status: i32) {
        match self.pids.remove(&pid) {
            Some(Owner::Proc(i)) => {
                // Drain what it wrote before it died, so its last lines come
                // before its exit in the log.
                self.drain_proc_output(i);
                if self.opts.interactive && ffi::isatty(0) {
                    let _ = ffi::tcsetpgrp(0, ffi::getpgrp());
                }
                let st = ffi::decode_status(status);
                let stopping = self.fleet.procs[i].state() == State::Stopping;
                match self.runs[i].pgid {
                    // A requested stop: the rest of the group gets the
                    // whole stop_timeout too (the core sends SIGKILL at its
                    // deadline); the exit counts once the group is gone.
                    Some(pgid) if stopping && ffi::group_exists(pgid) => {
                        self.runs[i].linger = Some(st);
                    }
                    _ => {
                        // Exited on its own: nothing it started survives it.
                        if let Some(pgid) = self.runs[i].pgid {
                            let _ = ffi::kill_group(pgid, libc::SIGKILL);
                        }
                        self.exited(i, st);
                    }
                }
            }
            Some(Owner::Probe) | Some(Owner::Ignored) => {
                for p in &mut self.probes {
                    if p.attempt.pid() == Some(pid) {
                        p.attempt.on_exit(status);
                    }
                }
            }
            Some(Owner::Hook) => {
                if let Some(pos) = self.hooks.iter().position(|h| h.pid == pid) {
                    let h = self.hooks.remove(pos);
                    let st = ffi::decode_status(status);
                    if st != crate::core::ExitStatus::Code(0) {
                        self.say(&format!("hook {} failed: {}", h.event, describe_status(st)));
                    }
                }
            }
            // An adopted orphan: reaped, nothing else to do.
            None => {}
        }
    }

    // ---------------------------------------------------------------
    // Child output
    // ---------------------------------------------------------------

    fn read_outputs(&mut self) {
        let mut k = 0;
        while k < self.outputs.len() {
            let ready = self.outputs[k].idx.is_some_and(|idx| self.ps.readable(idx));
            if ready && !self.read_output(k, 16) {
                self.close_output(k);
                continue;
            }
            k += 1;
        }
    }

    fn drain_proc_output(&mut self, i: usize) {
        let mut k = 0;
        while k < self.outputs.len() {
            if self.outputs[k].proc == i && !self.read_output(k, 64) {
                self.close_output(k);
                continue;
            }
            k += 1;
        }
    }

    /// Read up to `rounds` chunks; false on EOF or error. The read buffer
    /// and the batch are reused across calls, and each line is copied once,
    /// straight into its timestamped form: the output path allocates
    /// nothing per read.
    fn read_output(&mut self, k: usize, rounds: usize) -> bool {
        let mut buf = std::mem::take(&mut self.read_buf);
        let want = if self.outputs[k].big {
            BIG_PIPE
        } else {
            SMALL_READ
        };
        if buf.len() < want {
            // Grown once, on the first flood; idle tends keep 64 KiB.
            buf.resize(want, 0);
        }
        let want = buf.len();
        let mut batch = std::mem::take(&mut self.batch);
        let mut alive = true;
        for _ in 0..rounds {
            let fd = self.outputs[k].fd.as_raw_fd();
            match ffi::read(fd, &mut buf) {
                Ok(0) => {
                    alive = false;
                    break;
                }
                Ok(n) => {
                    let i = self.outputs[k].proc;
                    batch.start(&self.ts());
                    self.outputs[k]
                        .split
                        .feed(&buf[..n], &mut |l| batch.push_line(l));
                    self.write_batch(i, &mut batch);
                    if n >= SMALL_READ / 2 && !self.outputs[k].big {
                        self.enlarge_pipe(k);
                    }
                    if n < want {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    alive = false;
                    break;
                }
            }
        }
        self.read_buf = buf;
        self.batch = batch;
        alive
    }

    /// The child filled its pipe: give it room, within the budget.
    fn enlarge_pipe(&mut self, k: usize) {
        let big = self.outputs.iter().filter(|o| o.big).count();
        if big < MAX_BIG_PIPES && ffi::set_pipe_size(self.outputs[k].fd.as_raw_fd(), BIG_PIPE) {
            self.outputs[k].big = true;
        }
    }

    fn close_output(&mut self, k: usize) {
        let mut o = self.outputs.swap_remove(k);
        let mut batch = std::mem::take(&mut self.batch);
        batch.start(&self.ts());
        o.split.finish(&mut |l| batch.push_line(l));
        self.write_batch(o.proc, &mut batch);
        self.batch = batch;
    }

    /// One chunk's lines: `TS line` to NAME.log, `NAME | line` to stdout.
    fn write_batch(&mut self, i: usize, batch: &mut Batch) {
        if batch.ends.is_empty() {
            return;
        }
        if let Err(e) = self.runs[i].log.append_batch(&batch.file, &batch.ends) {
            let name = format!("{}.log", self.fleet.procs[i].name());
            self.report_log_error(&name, &e);
        }
        if !self.opts.quiet && !self.opts.detached {
            batch.out.clear();
            let name = self.fleet.procs[i].name().as_bytes();
            let mut start = 0;
            for &end in &batch.ends {
                batch.out.extend_from_slice(name);
                batch.out.extend_from_slice(b" | ");
                batch
                    .out
                    .extend_from_slice(&batch.file[start + batch.prefix..end]);
                start = end;
            }
            self.stdout.write(&batch.out);
        }
    }

    fn report_log_error(&mut self, what: &str, e: &std::io::Error) {
        let due = self
            .log_error_reported
            .get(what)
            .is_none_or(|&t| self.now.since(t) >= 60_000);
        if due {
            self.log_error_reported.insert(what.to_string(), self.now);
            self.say(&format!("cannot write {what}: {e} (will retry)"));
        }
    }

    // ---------------------------------------------------------------
    // Probes
    // ---------------------------------------------------------------

    fn resolve_probes(&mut self) {
        for i in 0..self.fleet.procs.len() {
            for role in Role::ALL {
                let kind = match role {
                    Role::Startup => self.fleet.procs[i].spec.startup.as_ref(),
                    Role::Liveness => self.fleet.procs[i].spec.liveness.as_ref(),
                    Role::Readiness => self.fleet.procs[i].spec.readiness.as_ref(),
                }
                .map(|p| p.kind.clone());
                let Some(kind) = kind else { continue };
                if self.runs[i].addrs.contains_key(&role) {
                    continue;
                }
                if let Ok(a) = super::probe::resolve::resolve_probe(&kind) {
                    self.runs[i].addrs.insert(role, a);
                }
            }
        }
    }

    fn start_probe(&mut self, i: usize, role: Role) {
        let spec = match role {
            Role::Startup => self.fleet.procs[i].spec.startup.clone(),
            Role::Liveness => self.fleet.procs[i].spec.liveness.clone(),
            Role::Readiness => self.fleet.procs[i].spec.readiness.clone(),
        };
        let Some(spec) = spec else { return };
        let now = self.now_i;
        let needs_addr = matches!(
            spec.kind,
            crate::plan::ProbeKind::Tcp { .. } | crate::plan::ProbeKind::Http { .. }
        );
        let mut attempt = None;
        if needs_addr && self.runs[i].addrs.get(&role).is_none_or(|a| a.is_empty()) {
            let may_retry = self.runs[i]
                .resolve_failed_at
                .get(&role)
                .is_none_or(|&t| self.now.since(t) >= spec.interval.as_millis() as u64);
            let res = if may_retry {
                super::probe::resolve::resolve_probe(&spec.kind)
            } else {
                Err("name resolution failed; retrying later".to_string())
            };
            match res {
                Ok(a) => {
                    self.runs[i].addrs.insert(role, a);
                }
                Err(e) => {
                    if may_retry {
                        self.runs[i].resolve_failed_at.insert(role, self.now);
                    }
                    attempt = Some(Attempt::failed(e, spec.timeout, now));
                }
            }
        }
        let attempt = attempt.unwrap_or_else(|| {
            let addrs = self.runs[i].addrs.get(&role).cloned().unwrap_or_default();
            Attempt::start(&spec.kind, &addrs, spec.timeout, now)
        });
        if let Some(pid) = attempt.pid() {
            self.pids.insert(pid, Owner::Probe);
        }
        self.probes.push(ProbeRun {
            proc: i,
            role,
            attempt,
        });
    }

    /// Abandon process `i`'s running attempts. An exec probe's group is
    /// killed; the reaper still collects it and ignores the exit.
    fn cancel_probes(&mut self, i: usize) {
        let (gone, kept): (Vec<ProbeRun>, Vec<ProbeRun>) = std::mem::take(&mut self.probes)
            .into_iter()
            .partition(|p| p.proc == i);
        self.probes = kept;
        for p in gone {
            if let Some(pid) = p.attempt.pid() {
                let _ = ffi::kill_group(pid, libc::SIGKILL);
                self.pids.insert(pid, Owner::Ignored);
            }
        }
    }

    fn on_probes_poll(&mut self) {
        if self.probes.is_empty() {
            return;
        }
        let now = self.now_i;
        for p in &mut self.probes {
            p.attempt.on_poll(&self.ps);
            if now >= p.attempt.deadline() {
                p.attempt.on_timeout(now);
            }
        }
        let mut k = 0;
        while k < self.probes.len() {
            if let Some(outcome) = self.probes[k].attempt.take_outcome() {
                let p = self.probes.swap_remove(k);
                if let Some(pid) = p.attempt.pid() {
                    // Killed on timeout, not yet reaped.
                    self.pids.insert(pid, Owner::Ignored);
                }
                let (ok, message) = match outcome {
                    Outcome::Success => (true, String::new()),
                    Outcome::Failure(m) => (false, m.replace('\n', " ")),
                };
                self.feed(
                    p.proc,
                    Input::ProbeDone {
                        role: p.role,
                        ok,
                        message,
                    },
                );
                continue;
            }
            k += 1;
        }
    }

    // ---------------------------------------------------------------
    // Timers
    // ---------------------------------------------------------------

    fn on_timers(&mut self) {
        // Hooks past their timeout: kill their group.
        let now_i = self.now_i;
        for h in &mut self.hooks {
            if now_i >= h.deadline {
                let _ = ffi::kill_group(h.pid, libc::SIGKILL);
                h.deadline = now_i + Duration::from_secs(3600);
            }
        }
        if let Some(c) = &mut self.control {
            c.on_time(now_i);
        }
        for key in self.timers.pop_due(self.now) {
            match key {
                Key::Proc(i) => self.feed(i, Input::Due),
                Key::Tick => {
                    self.tick();
                    self.timers
                        .set(Key::Tick, Some(self.now.after(self.plan.tick)));
                }
                Key::StopFile => {
                    if self.stop_file.exists() {
                        self.on_stop_file();
                    }
                    self.timers
                        .set(Key::StopFile, Some(self.now.after(STOP_FILE_POLL)));
                }
                Key::Watchdog => {
                    if let (Some(n), Some(w)) = (&self.notify, self.watchdog) {
                        n.send("WATCHDOG=1");
                        self.timers.set(Key::Watchdog, Some(self.now.after(w)));
                    }
                }
            }
        }
    }

    fn tick(&mut self) {
        let live = self.fleet.live();
        let procs: Vec<&crate::core::process::Proc> =
            live.iter().map(|&i| &self.fleet.procs[i]).collect();
        use crate::core::process::State;
        let running = procs.iter().filter(|p| p.state() == State::Running).count();
        let ready = procs.iter().filter(|p| p.ready()).count();
        let unhealthy = procs
            .iter()
            .filter(|p| p.health() == crate::core::health::Health::Unhealthy)
            .count();
        let failed = procs.iter().filter(|p| p.state() == State::Failed).count();
        let restarts: u64 = procs.iter().map(|p| p.restarts()).sum();
        let line = format!(
            "tend ts={} procs={} running={running} ready={ready} unhealthy={unhealthy} failed={failed} restarts={restarts}\n",
            self.ts(),
            procs.len()
        );
        self.stderr.write(line.as_bytes());
        if self.opts.detached {
            super::daemon::rotate_own_log(&self.opts.dir.join("logs").join("tend.log"));
        }
        if self.stop_file.exists() {
            self.on_stop_file();
        }
    }

    fn on_stop_file(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.stop_file) {
            if e.kind() != std::io::ErrorKind::NotFound {
                self.say(&format!("cannot remove {}: {e}", self.stop_file.display()));
            }
        }
        if !self.fleet.is_shutting_down() {
            let reason = format!("stop file {}", self.stop_file.display());
            let acts = self.fleet.shutdown(&reason, None, self.now);
            self.apply(acts);
        }
    }

    // ---------------------------------------------------------------
    // Control requests
    // ---------------------------------------------------------------

    fn on_control_poll(&mut self) {
        let Some(c) = &mut self.control else { return };
        let mut reqs = Vec::new();
        c.on_poll(&self.ps, self.now_i, &mut reqs);
        for (id, req) in reqs {
            self.on_request(id, req);
        }
    }

    fn reply(&mut self, id: ClientId, r: Reply) {
        if let Some(c) = &mut self.control {
            c.reply(id, &r);
        }
    }

    fn on_request(&mut self, id: ClientId, req: Request) {
        if req.version() != proto::VERSION {
            self.reply(
                id,
                Reply::error(format!(
                    "unsupported protocol version {} (this tend speaks {})",
                    req.version(),
                    proto::VERSION
                )),
            );
            return;
        }
        match req {
            Request::Status { names, .. } => match self.indices(&names) {
                Ok(idx) => {
                    let mut doc = self.status_doc(false);
                    if !names.is_empty() {
                        doc.processes = idx.iter().map(|&i| self.proc_status(i)).collect();
                    }
                    let mut r = Reply::ok();
                    r.status = Some(doc);
                    self.reply(id, r);
                }
                Err(e) => self.reply(id, Reply::error(e)),
            },
            Request::Health { names, .. } => match self.indices(&names) {
                Ok(idx) => {
                    let mut r = Reply::ok();
                    r.not_ready = idx
                        .iter()
                        .filter(|&&i| !self.fleet.procs[i].ready())
                        .map(|&i| self.fleet.procs[i].name().to_string())
                        .collect();
                    self.reply(id, r);
                }
                Err(e) => self.reply(id, Reply::error(e)),
            },
            Request::Start { names, all, .. } => {
                self.act_request(id, PendingKind::Start, &names, all)
            }
            Request::Stop { names, all, .. } => {
                self.act_request(id, PendingKind::Stop, &names, all)
            }
            Request::Restart { names, all, .. } => {
                self.act_request(id, PendingKind::Restart, &names, all)
            }
            Request::Reset { names, .. } => self.act_request(id, PendingKind::Reset, &names, false),
            Request::Reload { .. } => {
                let r = match self.reload() {
                    Ok(msg) => {
                        let mut r = Reply::ok();
                        r.results.push(proto::ActionResult {
                            name: "tend".into(),
                            state: "running".into(),
                            pid: Some(ffi::getpid()),
                            message: msg,
                        });
                        r
                    }
                    Err(e) => Reply::error(e),
                };
                self.reply(id, r);
            }
            Request::Shutdown { .. } => {
                self.reply(id, Reply::ok());
                if !self.fleet.is_shutting_down() {
                    let acts = self.fleet.shutdown("tend shutdown", None, self.now);
                    self.apply(acts);
                }
            }
            Request::Events { follow, .. } => {
                self.reply(id, Reply::ok());
                if follow {
                    if let Some(c) = &mut self.control {
                        c.subscribe(id);
                    }
                }
            }
            Request::Info { .. } => {
                let mut r = Reply::ok();
                r.info = Some(proto::Info {
                    pid: ffi::getpid(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    dir: self.opts.dir.display().to_string(),
                    log_dir: self.opts.log_dir.display().to_string(),
                    config: self.plan.source.as_ref().map(|p| p.display().to_string()),
                });
                self.reply(id, r);
            }
        }
    }

    /// Names → indices; no names means every process.
    fn indices(&self, names: &[String]) -> Result<Vec<usize>, String> {
        if names.is_empty() {
            return Ok(self.fleet.live());
        }
        let mut out = Vec::new();
        let mut unknown = Vec::new();
        for n in names {
            match self.fleet.index_of(n) {
                Some(i) => {
                    if !out.contains(&i) {
                        out.push(i)
                    }
                }
                None => unknown.push(format!("'{n}'")),
            }
        }
        if unknown.is_empty() {
            Ok(out)
        } else {
            Err(format!("unknown process {}", unknown.join(", ")))
        }
    }

    fn act_request(&mut self, id: ClientId, kind: PendingKind, names: &[String], all: bool) {
        if names.is_empty() && !all {
            self.reply(id, Reply::error("no process named (give NAME... or --all)"));
            return;
        }
        let idx = match self.indices(names) {
            Ok(i) => i,
            Err(e) => {
                self.reply(id, Reply::error(e));
                return;
            }
        };
        if self.fleet.is_shutting_down() {
            self.reply(id, Reply::error("tend is shutting down"));
            return;
        }
        for &i in &idx {
            match kind {
                PendingKind::Start => {
                    let acts = self.fleet.start(i, self.now);
                    self.apply(acts);
                }
                PendingKind::Stop => self.feed(i, Input::Stop),
                PendingKind::Restart => self.feed(i, Input::Restart),
                PendingKind::Reset => self.feed(i, Input::Reset),
            }
        }
        let longest = idx
            .iter()
            .map(|&i| self.fleet.procs[i].spec.stop_timeout)
            .max()
            .unwrap_or_default();
        self.pending.push(Pending {
            client: id,
            kind,
            names: idx,
            deadline: self.now_i + longest + Duration::from_secs(5),
        });
        self.check_pending();
    }

    /// Answer held-back requests whose effect is visible now.
    fn check_pending(&mut self) {
        use crate::core::process::State;
        if self.pending.is_empty() {
            return;
        }
        let now_i = self.now_i;
        let mut k = 0;
        while k < self.pending.len() {
            let p = &self.pending[k];
            let done = p.names.iter().all(|&i| {
                let pr = &self.fleet.procs[i];
                match p.kind {
                    PendingKind::Stop => !pr.is_up(),
                    PendingKind::Start | PendingKind::Restart | PendingKind::Reset => {
                        pr.state() != State::Stopping
                            && !(pr.state() == State::Starting && pr.pid().is_none())
                    }
                }
            });
            if done || now_i >= p.deadline {
                let p = self.pending.swap_remove(k);
                let mut r = Reply::ok();
                for &i in &p.names {
                    let pr = &self.fleet.procs[i];
                    let verb = match p.kind {
                        PendingKind::Start => "start",
                        PendingKind::Stop => "stop",
                        PendingKind::Restart => "restart",
                        PendingKind::Reset => "reset",
                    };
                    let message = match (pr.state(), pr.pid()) {
                        (_, Some(pid)) => format!("{} (pid {pid})", pr.state().as_str()),
                        (s, None) => match pr.last_error() {
                            Some(e) if s != State::Stopped => format!("{}: {e}", s.as_str()),
                            _ => s.as_str().to_string(),
                        },
                    };
                    let message = if done {
                        message
                    } else {
                        format!("{verb} still in progress: {message}")
                    };
                    r.results.push(proto::ActionResult {
                        name: pr.name().to_string(),
                        state: pr.state().as_str().to_string(),
                        pid: pr.pid(),
                        message,
                    });
                }
                if !done {
                    r.ok = false;
                    r.error = Some(format!(
                        "timed out waiting for {} to take effect",
                        match p.kind {
                            PendingKind::Start => "start",
                            PendingKind::Stop => "stop",
                            PendingKind::Restart => "restart",
                            PendingKind::Reset => "reset",
                        }
                    ));
                }
                self.reply(p.client, r);
                continue;
            }
            k += 1;
        }
    }

    // ---------------------------------------------------------------
    // Reload (SIGHUP / tend reload)
    // ---------------------------------------------------------------

    fn reload(&mut self) -> Result<String, String> {
        let Some(src) = self.plan.source.clone() else {
            return Err(
                "nothing to reload: this tend runs a single command, not a config file".to_string(),
            );
        };
        let mut plan = crate::validate::plan_from_file(&src).map_err(|errs| {
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        // Command-line overrides outlive reloads.
        if let Some(sf) = &self.opts.stop_file_override {
            plan.stop_file = Some(sf.clone());
        }
        if let Some(h) = &self.opts.http_override {
            plan.http = Some(h.clone());
        }
        if let Some(n) = &self.notify {
            n.send("RELOADING=1");
        }
        self.notified_ready = false;
        if plan.http != self.plan.http {
            self.http = None;
            if let Some(addr) = &plan.http {
                match HttpServer::bind(addr) {
                    Ok(h) => self.http = Some(h),
                    Err(e) => self.say(&format!("reload: {e}")),
                }
            }
        }
        let (acts, sum) = self.fleet.reload(&plan, self.now);
        while self.runs.len() < self.fleet.procs.len() {
            let spec = &self.fleet.procs[self.runs.len()].spec;
            self.runs.push(Run::new(spec, &self.opts.log_dir));
        }
        let new_stop = plan
            .stop_file
            .clone()
            .unwrap_or_else(|| self.opts.dir.join("STOP"));
        if new_stop != self.stop_file {
            self.stop_file = new_stop;
            self.watch = StopWatch::new(&self.stop_file).ok();
            let at = self.watch.is_none().then(|| self.now.after(STOP_FILE_POLL));
            self.timers.set(Key::StopFile, at);
        }
        if plan.tick != self.plan.tick {
            let at = (!plan.tick.is_zero()).then(|| self.now.after(plan.tick));
            self.timers.set(Key::Tick, at);
        }
        self.plan = plan;
        self.resolve_probes();
        self.emit(Event::new(
            "tend",
            EventKind::Reload {
                added: sum.added,
                removed: sum.removed,
                changed: sum.changed,
                unchanged: sum.unchanged,
            },
        ));
        self.apply(acts);
        Ok(format!(
            "reloaded {}: {} added, {} removed, {} changed, {} unchanged",
            src.display(),
            sum.added,
            sum.removed,
            sum.changed,
            sum.unchanged
        ))
    }

    // ---------------------------------------------------------------
    // Status and state.json
    // ---------------------------------------------------------------

    fn proc_status(&self, i: usize) -> proto::ProcStatus {
        let p = &self.fleet.procs[i];
        let now = self.now;
        let fmt = |m: Mono| crate::rfc3339::format_unix_ms(self.wall_of(m));
        proto::ProcStatus {
            name: p.name().to_string(),
            state: p.state().as_str().to_string(),
            health: p.health().as_str().to_string(),
            ready: p.ready(),
            pid: p.pid(),
            uptime_ms: match (p.pid(), p.last_start()) {
                (Some(_), Some(t)) => self.mono().since(t),
                _ => 0,
            },
            starts: p.starts(),
            restarts: p.restarts(),
            last_start: p.last_start().map(fmt),
            last_exit: p.last_exit().map(|(s, at)| {
                let (code, signal) = match s {
                    crate::core::ExitStatus::Code(c) => (Some(c), None),
                    crate::core::ExitStatus::Signal(n) => (None, Some(crate::signal::name(n))),
                };
                proto::LastExit {
                    code,
                    signal,
                    at: fmt(at),
                }
            }),
            last_error: p
                .last_error()
                .map(String::from)
                .or_else(|| self.fleet.waiting_for(i)),
            next_restart_ms: p.next_restart_ms(self.mono()),
            breaker: proto::BreakerStatus {
                open: p.state() == crate::core::process::State::Failed,
                failures: p.breaker_failures(now),
                retry_at: p.breaker_retry_at().map(fmt),
            },
        }
    }

    fn status_doc(&self, with_children: bool) -> proto::StatusDoc {
        let children = if with_children {
            (0..self.fleet.procs.len())
                .filter_map(|i| {
                    let pid = self.fleet.procs[i].pid()?;
                    Some(proto::ChildRecord {
                        name: self.fleet.procs[i].name().to_string(),
                        pid,
                        pgid: self.runs[i].pgid.unwrap_or(pid),
                        start_time: self.runs[i].start_time?,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        proto::StatusDoc {
            tend: proto::TendInfo {
                pid: ffi::getpid(),
                uptime_ms: self.mono().0,
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            processes: self
                .fleet
                .live()
                .into_iter()
                .map(|i| self.proc_status(i))
                .collect(),
            children,
        }
    }

    /// `DIR/state.json`, atomically: temp file, fsync, rename. The rename
    /// alone makes the swap atomic for readers and against a crash of tend;
    /// the fsync (durability across power loss) costs about a millisecond
    /// of disk wait, so it is done at most once a second: a crash loop must
    /// not spend its turns waiting for the disk.
    fn write_state(&mut self) {
        self.state_dirty = false;
        let sync = self
            .state_synced_at
            .is_none_or(|t| self.now.since(t) >= STATE_SYNC_PERIOD_MS);
        if sync {
            self.state_synced_at = Some(self.now);
        }
        let doc = self.status_doc(true);
        let Ok(mut text) = serde_json::to_string_pretty(&doc) else {
            return;
        };
        text.push('\n');
        let path = self.opts.dir.join("state.json");
        let tmp = self.opts.dir.join(".state.json.tmp");
        let res = (|| -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            if sync {
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = res {
            self.report_log_error("state.json", &e);
        }
    }

    /// A previous tend on this DIR died without cleanup: kill the process
    /// groups it left, but only where the leader still has the recorded
    /// start time (never a reused PID).
    fn recover(&mut self) {
        let path = self.opts.dir.join("state.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let Ok(doc) = serde_json::from_str::<proto::StatusDoc>(&text) else {
            return;
        };
        for c in doc.children {
            if c.pid <= 1 || c.pgid <= 1 {
                continue;
            }
            match super::procfs::start_time(c.pid) {
                Some(t) if t == c.start_time => {
                    self.say(&format!(
                        "previous tend (pid {}) left {} running (pid {}): killing its process group {}",
                        doc.tend.pid, c.name, c.pid, c.pgid
                    ));
                    let _ = ffi::kill_group(c.pgid, libc::SIGKILL);
                    let _ = ffi::kill_pid(c.pid, libc::SIGKILL);
                }
                Some(_) => self.say(&format!(
                    "previous tend's {} (pid {}) is gone; pid {} now belongs to another process, left alone",
                    c.name, c.pid, c.pid
                )),
                None => {}
            }
        }
    }

    // ---------------------------------------------------------------
    // Exit
    // ---------------------------------------------------------------

    fn finish(mut self) -> u8 {
        let code = self.exit.unwrap_or(0);
        // Last output of the children, then the final state.
        let mut k = self.outputs.len();
        while k > 0 {
            k -= 1;
            let _ = self.read_output(k, 16);
            self.close_output(k);
        }
        self.write_state();
        if self.pid1 {
            self.pid1_cleanup();
        }
        self.say(&format!("exiting with code {code}"));
        self.stdout.flush_on_exit();
        self.stderr.flush_on_exit();
        code
    }

    /// PID 1: TERM to everything left in the namespace, KILL after 3 s,
    /// reaping all the while.
    fn pid1_cleanup(&mut self) {
        ffi::kill_everyone(libc::SIGTERM);
        let deadline = Instant::now() + PID1_GRACE;
        loop {
            match ffi::reap_one() {
                ffi::Reaped::Child { .. } => continue,
                ffi::Reaped::NoChildren => return,
                ffi::Reaped::None => {}
            }
            if Instant::now() >= deadline {
                break;
            }
            let mut ps = PollSet::default();
            ps.add(self.signals.fd(), super::poll::IN);
            let _ = ps.wait(Some(Duration::from_millis(50)));
            let _ = self.signals.drain();
        }
        ffi::kill_everyone(libc::SIGKILL);
        while let ffi::Reaped::Child { .. } = ffi::reap_one() {}
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            match ffi::reap_one() {
                ffi::Reaped::NoChildren => break,
                ffi::Reaped::Child { .. } => {}
                ffi::Reaped::None => {
                    let mut ps = PollSet::default();
                    ps.add(self.signals.fd(), super::poll::IN);
                    let _ = ps.wait(Some(Duration::from_millis(20)));
                    let _ = self.signals.drain();
                }
            }
        }
    }

    /// tend's own message: `tend: ...` on stderr.
    fn say(&mut self, msg: &str) {
        let line = format!("tend: {msg}\n");
        self.stderr.write(line.as_bytes());
        if self.opts.detached {
            super::daemon::rotate_own_log(&self.opts.dir.join("logs").join("tend.log"));
        }
    }
}

fn describe_status(s: crate::core::ExitStatus) -> String {
    match s {
        crate::core::ExitStatus::Code(c) => format!("exited with code {c}"),
        crate::core::ExitStatus::Signal(n) => {
            format!("killed by signal {}", crate::signal::name(n))
        }
    }
}

/// The line tend prints on stderr for an event (None: not worth a line).
fn human_event(ev: &Event) -> Option<String> {
    let n = &ev.name;
    Some(match &ev.kind {
        EventKind::Starting => return None,
        EventKind::Started { pid } => format!("{n}: started (pid {pid})"),
        EventKind::Ready => format!("{n}: ready"),
        EventKind::Unready { error } => match error {
            Some(e) => format!("{n}: not ready: {e}"),
            None => return None,
        },
        EventKind::Healthy { probe } => format!("{n}: healthy ({probe})"),
        EventKind::Unhealthy { error, .. } => format!("{n}: unhealthy: {error}"),
        EventKind::Exited { code, signal } => match (code, signal) {
            (Some(c), _) => format!("{n}: exited with code {c}"),
            (None, Some(s)) => format!("{n}: killed by signal {s}"),
            (None, None) => format!("{n}: exited"),
        },
        EventKind::Backoff { delay_ms } => format!(
            "{n}: restarting in {}",
            crate::duration::format(Duration::from_millis(*delay_ms))
        ),
        EventKind::Stopping => format!("{n}: stopping"),
        EventKind::Stopped => format!("{n}: stopped"),
        EventKind::BreakerOpen { error, .. } => format!("{n}: {error}"),
        EventKind::GaveUp { .. } => format!("{n}: gave up (tend reset {n} to try again)"),
        EventKind::Reset => format!("{n}: reset"),
        EventKind::Reload {
            added,
            removed,
            changed,
            unchanged,
        } => format!(
            "reloaded: {added} added, {removed} removed, {changed} changed, {unchanged} unchanged"
        ),
        EventKind::Shutdown { reason } => format!("shutting down ({reason})"),
    })
}
