//! tend as PID 1, as a child subreaper, and recovering after a crash, end
//! to end (SPEC §4 "PID 1", "Crash of tend itself", single-command exit
//! status): the real binary, the fixture child and small shell scripts.
//!
//! PID 1 runs use `unshare --pid --fork --mount-proc tend run ...` (root
//! only; skipped with a printed reason elsewhere). util-linux `unshare`
//! does not forward signals to the namespace's PID 1, so tests signal tend
//! by its host PID: the only child of the `unshare` process. Host /proc
//! still shows every process of the namespace under its host PID.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use util::*;

const WAIT: Duration = Duration::from_secs(10);

// -------------------------------------------------------------------
// PID 1 harness
// -------------------------------------------------------------------

/// Why PID 1 tests cannot run here, or None when they can.
fn pid1_unavailable() -> Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Some("not root: unshare --pid needs root".into());
        }
        match Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "true"])
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!(
                "unshare --pid --fork --mount-proc is not permitted here: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Some(format!("no unshare: {e}")),
        }
    })
    .clone()
}

macro_rules! require_pid1 {
    () => {
        if let Some(why) = pid1_unavailable() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// `unshare --pid --fork --mount-proc tend run --dir DIR ARGS...`: tend is
/// PID 1 of a new namespace. Dropping it SIGKILLs tend (the namespace dies
/// with it), unshare, and everything with this test's marker.
struct Ns {
    unshare: Child,
    /// tend's PID as seen from here.
    tend: i32,
    root: PathBuf,
    dir: PathBuf,
    out: PathBuf,
    err: PathBuf,
    code: Option<i32>,
}

impl Ns {
    fn run(tmp: &TempDir, args: &[&str]) -> Ns {
        let dir = tmp.state();
        let out = tmp.join("tend.stdout");
        let err = tmp.join("tend.stderr");
        let unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc"])
            .arg(tend_bin())
            .arg("run")
            .arg("--dir")
            .arg(&dir)
            .args(args)
            .current_dir(tmp.path())
            .env(MARKER_VAR, tmp.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let mut ns = Ns {
            tend: 0,
            unshare,
            root: tmp.path().to_path_buf(),
            dir,
            out,
            err,
            code: None,
        };
        let upid = ns.unshare.id() as i32;
        let mut found = None;
        // A quick run may be over before we look: then there is no tend
        // to signal, and its exit status is what the test checks.
        let ok = poll_for(WAIT, || {
            found = children_of(upid).first().copied();
            found.is_some() || ns.wait_exit(Duration::ZERO).is_some()
        });
        assert!(ok, "unshare started no tend\n{}", ns.dump());
        ns.tend = found.unwrap_or(0);
        ns
    }

    fn signal(&self, sig: i32) {
        assert!(self.tend > 1, "tend's host pid is unknown\n{}", self.dump());
        // SAFETY: kill of the tend this test started (host PID).
        unsafe { libc::kill(self.tend, sig) };
    }

    /// unshare exits with tend's status (re-raising a fatal signal).
    fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        if self.code.is_none() {
            self.code = wait_child(&mut self.unshare, timeout);
        }
        self.code
    }

    fn expect_exit(&mut self, timeout: Duration) -> i32 {
        match self.wait_exit(timeout) {
            Some(c) => c,
            None => panic!(
                "tend (PID 1) did not exit within {timeout:?}\n{}",
                self.dump()
            ),
        }
    }

    fn stderr(&self) -> String {
        read_lossy(&self.err)
    }

    /// Host PIDs of tend's children, zombies included, and of those the
    /// zombies.
    fn children(&self) -> (Vec<i32>, Vec<i32>) {
        let zombies = zombie_children(self.tend);
        let mut all = children_of(self.tend);
        all.extend(&zombies);
        (all, zombies)
    }

    /// The supervised child's host PID among tend's children: the one in
    /// its own session (adopted orphans are in the child's).
    fn child_pid_among(&self, kids: &[i32]) -> i32 {
        let c: Vec<i32> = kids
            .iter()
            .copied()
            .filter(|&p| sid_of(p) == Some(p))
            .collect();
        assert_eq!(
            c.len(),
            1,
            "session leaders among tend's children: {c:?}\n{}",
            self.dump()
        );
        c[0]
    }

    fn dump(&self) -> String {
        format!(
            "===== tend (PID 1, host pid {}) =====\nexit: {:?}\n----- stdout -----\n{}\n----- stderr -----\n{}\n----- events.jsonl -----\n{}\n===== end =====",
            self.tend,
            self.code,
            read_lossy(&self.out),
            self.stderr(),
            read_lossy(&self.dir.join("events.jsonl")),
        )
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.dump());
        }
        if self.code.is_none() {
            if self.tend > 1 {
                self.signal(libc::SIGKILL);
            }
            let _ = self.unshare.kill();
            let _ = self.unshare.wait();
        }
        kill_marked(&self.root);
    }
}

fn wait_file(p: &Path, what: &str, ns: &Ns) {
    let ok = poll_for(WAIT, || p.exists());
    assert!(ok, "{what}: {} never appeared\n{}", p.display(), ns.dump());
}

fn is_pid1(ns: &Ns) {
    let ok = poll_for(WAIT, || ns.stderr().contains("started (pid 1,"));
    assert!(ok, "tend does not say it is PID 1\n{}", ns.dump());
}

// -------------------------------------------------------------------
// PID 1
// -------------------------------------------------------------------

/// 1000 orphaned grandchildren are adopted by PID 1 and exit: none of
/// them stays a zombie for more than 1 s.
///
/// The orphans come from a shell (`(cat FIFO &)` in a subshell that exits
/// at once), not from the fixture's `--orphans`: those poll getppid every
/// 1 ms until adopted, and 1000 of them pushed the load of a small shared
/// machine past 300 and took over 30 s to start. Here they sleep in
/// open(FIFO) until the test opens the write end, then all exit together.
#[test]
fn pid1_reaps_a_thousand_orphans() {
    require_pid1!();
    const N: usize = 1000;
    let tmp = TempDir::new();
    let fifo = tmp.join("fifo");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let script = tmp.join("orphans.sh");
    std::fs::write(
        &script,
        format!(
            "n=0\nwhile [ $n -lt {N} ]; do (cat \"$1\" >/dev/null &); n=$((n+1)); done\n\
             echo $$ > \"$2.tmp\"; mv \"$2.tmp\" \"$2\"\nexec \"$3\"\n"
        ),
    )
    .unwrap();
    let fx = fixture();
    let ready = tmp.s("ready");
    let mut ns = Ns::run(
        &tmp,
        &[
            "--restart",
            "never",
            "--name",
            "orphans",
            "--",
            "/bin/sh",
            &script.to_string_lossy(),
            &fifo.to_string_lossy(),
            &ready,
            &fx,
        ],
    );
    is_pid1(&ns);
    let ok = poll_for(Duration::from_secs(30), || tmp.join("ready").exists());
    assert!(ok, "the shell never forked its {N} orphans\n{}", ns.dump());
    // All adopted by tend: the child (now the fixture) and N cats.
    let mut kids = Vec::new();
    let ok = poll_for(WAIT, || {
        kids = ns.children().0;
        kids.len() == N + 1
    });
    assert!(
        ok,
        "tend has {} children, expected {}\n{}",
        kids.len(),
        N + 1,
        ns.dump()
    );
    let child = ns.child_pid_among(&kids);
    // Release them: every blocked open(O_RDONLY) returns, read sees EOF.
    drop(std::fs::OpenOptions::new().write(true).open(&fifo).unwrap());
    // Until every orphan is gone, no zombie may stay for more than 1 s.
    let mut first_seen: std::collections::HashMap<i32, Instant> = Default::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (all, zombies) = ns.children();
        let now = Instant::now();
        first_seen.retain(|p, _| zombies.contains(p));
        for &z in &zombies {
            let seen = *first_seen.entry(z).or_insert(now);
            assert!(
                now - seen <= Duration::from_secs(1),
                "orphan {z} has been a zombie under tend (PID 1) for {:?}; {} zombies now\n{}",
                now - seen,
                zombies.len(),
                ns.dump()
            );
        }
        if all == [child] {
            break;
        }
        assert!(
            now < deadline,
            "orphans still there: {} children, {} zombies\n{}",
            all.len(),
            zombies.len(),
            ns.dump()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ns.wait_exit(Duration::ZERO).is_none(), "{}", ns.dump());
    ns.signal(libc::SIGTERM);
    assert_eq!(ns.expect_exit(WAIT), 143, "{}", ns.dump());
}

/// TERM to PID 1 reaches the child; tend exits with the child's status.
#[test]
fn pid1_term_exits_with_the_childs_status() {
    require_pid1!();
    // A child that exits 0 on TERM → 0.
    {
        let tmp = TempDir::new();
        let ready = tmp.s("ready");
        let script = format!(
            "trap 'exit 0' TERM; echo $$ > '{ready}.tmp'; mv '{ready}.tmp' '{ready}'; while :; do sleep 0.05; done"
        );
        let mut ns = Ns::run(
            &tmp,
            &["--restart", "always", "--", "/bin/sh", "-c", &script],
        );
        is_pid1(&ns);
        wait_file(&tmp.join("ready"), "sh ready", &ns);
        ns.signal(libc::SIGTERM);
        assert_eq!(ns.expect_exit(WAIT), 0, "{}", ns.dump());
    }
    // Default disposition → 143; and the TERM the child got was logged.
    for log in [false, true] {
        let tmp = TempDir::new();
        let fx = fixture();
        let ready = tmp.s("ready");
        let sig = tmp.s("sig");
        let mut args = vec![
            "--restart",
            "always",
            "--name",
            "fx",
            "--",
            &fx,
            "--ready-file",
            &ready,
        ];
        if log {
            args.extend(["--log-signals", &sig, "--exit-on-term"]);
        }
        let mut ns = Ns::run(&tmp, &args);
        is_pid1(&ns);
        wait_file(&tmp.join("ready"), "fixture ready", &ns);
        ns.signal(libc::SIGTERM);
        assert_eq!(ns.expect_exit(WAIT), 143, "log {log}\n{}", ns.dump());
        if log {
            assert_eq!(read_lossy(&tmp.join("sig")), "TERM\n", "{}", ns.dump());
        }
    }
}

/// As PID 1, tend still gets (and forwards) signals it only forwards: the
/// kernel drops signals to a namespace's init that has no handler.
#[test]
fn pid1_forwards_signals_to_the_child() {
    require_pid1!();
    let tmp = TempDir::new();
    let fx = fixture();
    let ready = tmp.s("ready");
    let sig = tmp.s("sig");
    let mut ns = Ns::run(
        &tmp,
        &[
            "--restart",
            "never",
            "--",
            &fx,
            "--log-signals",
            &sig,
            "--ready-file",
            &ready,
        ],
    );
    is_pid1(&ns);
    wait_file(&tmp.join("ready"), "fixture ready", &ns);
    let log = tmp.join("sig");
    let mut want = Vec::new();
    for (name, s) in [
        ("HUP", libc::SIGHUP),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("WINCH", libc::SIGWINCH),
        ("ALRM", libc::SIGALRM),
    ] {
        ns.signal(s);
        want.push(name);
        let ok = poll_for(WAIT, || read_lossy(&log).lines().eq(want.iter().copied()));
        assert!(
            ok,
            "{name} to tend (PID 1) did not reach the child: {:?}\n{}",
            read_lossy(&log),
            ns.dump()
        );
    }
    assert!(ns.wait_exit(Duration::ZERO).is_none(), "{}", ns.dump());
}

#[test]
fn pid1_child_killed_by_segv_exits_139() {
    require_pid1!();
    let tmp = TempDir::new();
    let fx = fixture();
    let mut ns = Ns::run(
        &tmp,
        &[
            "--restart",
            "never",
            "--",
            &fx,
            "--sleep",
            "100",
            "--kill-self",
            "SEGV",
        ],
    );
    assert_eq!(ns.expect_exit(WAIT), 139, "{}", ns.dump());
    assert!(ns.stderr().contains("started (pid 1,"), "{}", ns.dump());
}

#[test]
fn pid1_child_ignoring_term_is_killed_after_stop_timeout() {
    require_pid1!();
    let tmp = TempDir::new();
    let fx = fixture();
    let ready = tmp.s("ready");
    let mut ns = Ns::run(
        &tmp,
        &[
            "--restart",
            "always",
            "--stop-timeout",
            "500ms",
            "--",
            &fx,
            "--ignore",
            "TERM",
            "--ready-file",
            &ready,
        ],
    );
    is_pid1(&ns);
    wait_file(&tmp.join("ready"), "fixture ready", &ns);
    let sent = Instant::now();
    ns.signal(libc::SIGTERM);
    let code = ns.expect_exit(WAIT);
    let took = sent.elapsed();
    assert_eq!(code, 137, "{}", ns.dump());
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "exit {took:?} after TERM, stop_timeout 500ms\n{}",
        ns.dump()
    );
}

/// A child that leaves behind a process that escaped it without tend's
/// marker (not one tend can tie to the child) and exits 0. `trap_term` is
/// the leftover's TERM action.
fn leftover_scripts(tmp: &TempDir, trap_term: &str) -> String {
    let leftover = tmp.join("leftover.sh");
    std::fs::write(
        &leftover,
        format!(
            "trap '{trap_term}' TERM\necho $$ > \"$2.tmp\"; mv \"$2.tmp\" \"$2\"\nwhile :; do sleep 0.05; done\n"
        ),
    )
    .unwrap();
    let child = tmp.join("child.sh");
    std::fs::write(
        &child,
        format!(
            "env -u TEND_PROCESS setsid /bin/sh '{}' \"$1\" \"$2\" </dev/null >/dev/null 2>&1 &\nwhile [ ! -e \"$2\" ]; do sleep 0.01; done\nexit 0\n",
            leftover.display()
        ),
    )
    .unwrap();
    child.to_string_lossy().into_owned()
}

/// Before exiting, PID 1 TERMs what is left in the namespace: a leftover
/// that exits on TERM records it, and tend exits well before the 3 s KILL.
#[test]
fn pid1_terms_leftovers_before_exit() {
    require_pid1!();
    let tmp = TempDir::new();
    let term = tmp.s("term");
    let child = leftover_scripts(&tmp, &format!("echo TERM >> {term}; exit 0"));
    let pidf = tmp.s("leftover.pid");
    let mut ns = Ns::run(
        &tmp,
        &["--restart", "never", "--", "/bin/sh", &child, &term, &pidf],
    );
    wait_file(&tmp.join("leftover.pid"), "leftover started", &ns);
    let up = Instant::now();
    let code = ns.expect_exit(WAIT);
    let took = up.elapsed();
    assert_eq!(code, 0, "{}", ns.dump());
    assert!(ns.stderr().contains("started (pid 1,"), "{}", ns.dump());
    assert_eq!(
        read_lossy(&tmp.join("term")),
        "TERM\n",
        "the leftover never got TERM from PID 1\n{}",
        ns.dump()
    );
    // It exited on TERM, so tend did not wait for the 3 s KILL.
    assert!(
        took < Duration::from_millis(2500),
        "tend (PID 1) took {took:?} to exit although its leftover exits on TERM\n{}",
        ns.dump()
    );
    assert!(ns.stderr().contains("exiting with code 0"), "{}", ns.dump());
}

/// A leftover that ignores TERM gets KILL after PID 1's 3 s grace: tend
/// exits about 3 s after its child, not earlier and not much later.
#[test]
fn pid1_kills_leftovers_that_ignore_term() {
    require_pid1!();
    let tmp = TempDir::new();
    let child = leftover_scripts(&tmp, "");
    let pidf = tmp.s("leftover.pid");
    let mut ns = Ns::run(
        &tmp,
        &["--restart", "never", "--", "/bin/sh", &child, "-", &pidf],
    );
    wait_file(&tmp.join("leftover.pid"), "leftover started", &ns);
    let up = Instant::now();
    let code = ns.expect_exit(WAIT);
    let took = up.elapsed();
    assert_eq!(code, 0, "{}", ns.dump());
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(6),
        "tend (PID 1) exited {took:?} after its child left a TERM-ignoring process; expected the 3 s grace then KILL\n{}",
        ns.dump()
    );
    assert!(ns.stderr().contains("exiting with code 0"), "{}", ns.dump());
}

// -------------------------------------------------------------------
// Not PID 1: child subreaper, escaped daemons
// -------------------------------------------------------------------

/// A config with a process `d` (fixture ARGS) and a long-running `keep`,
/// so tend stays up whatever `d` does.
fn two_procs(tmp: &TempDir, d_args: &[&str], d_extra: &str) -> Tend {
    let fx = serde_json::to_string(&fixture()).unwrap();
    let args = serde_json::to_string(d_args).unwrap();
    let cfg = write_config(
        tmp.path(),
        &format!(
            r#"{{"processes": [
                {{"name": "d", "command": {fx}, "args": {args}{d_extra}}},
                {{"name": "keep", "command": {fx}}}
            ]}}"#
        ),
    );
    Tend::run(tmp, &["-c", &cfg.to_string_lossy()])
}

fn daemon_pid(tmp: &TempDir, t: &mut Tend) -> i32 {
    let ok = poll_for(WAIT, || read_pid(&tmp.join("dpid")).is_some());
    assert!(ok, "no daemon pid file\n{}", t.dump());
    let p = read_pid(&tmp.join("dpid")).unwrap();
    t.track_pid(p);
    p
}

/// A child double-forks a daemon and exits: the daemon is adopted by tend
/// (child subreaper), and when it dies its zombie does not linger.
#[test]
fn subreaper_reaps_a_daemon_that_outlived_its_parent() {
    let tmp = TempDir::new();
    let dpid = tmp.s("dpid");
    let mut t = two_procs(
        &tmp,
        &["--daemon", "--pid-file", &dpid, "--exit-code", "0"],
        r#", "restart": "never""#,
    );
    let daemon = daemon_pid(&tmp, &mut t);
    t.wait_state("d", "exited", WAIT);
    assert_eq!(
        ppid_of(daemon),
        Some(t.pid()),
        "the daemon was not adopted by tend (subreaper)\n{}",
        t.dump()
    );
    assert!(pid_alive(daemon), "{}", t.dump());
    // SAFETY: kill of the daemon this test's fixture started.
    unsafe { libc::kill(daemon, libc::SIGKILL) };
    let ok = poll_for(Duration::from_secs(2), || proc_stat(daemon).is_none());
    assert!(
        ok,
        "the dead daemon {daemon} was not reaped: /proc stat {:?}\n{}",
        proc_stat(daemon),
        t.dump()
    );
    assert!(t.is_running(), "{}", t.dump());
}

/// Stopping a child also stops the daemon it started, which escaped its
/// process group and session: with TERM, and with KILL after stop_timeout
/// when the daemon ignores TERM.
#[test]
fn stopping_a_child_stops_its_escaped_daemon() {
    for ignore in [false, true] {
        let tmp = TempDir::new();
        let dpid = tmp.s("dpid");
        let mut args = vec!["--daemon", "--pid-file", dpid.as_str()];
        if ignore {
            args.extend(["--ignore", "TERM"]);
        }
        let mut t = two_procs(&tmp, &args, r#", "stop_timeout": "300ms""#);
        let daemon = daemon_pid(&tmp, &mut t);
        t.wait_state("d", "running", WAIT);
        let dp = t.proc_status("d").unwrap()["pid"].as_i64().unwrap() as i32;
        assert!(
            pgid_of(daemon) != Some(dp) && sid_of(daemon) != Some(dp),
            "the daemon did not escape the child's group\n{}",
            t.dump()
        );
        let out = run_tend(&["stop", "d", "--dir", &t.dir.to_string_lossy()]);
        assert!(out.status.success(), "{}\n{}", show(&out), t.dump());
        t.wait_state("d", "stopped", WAIT);
        let ok = poll_for(Duration::from_secs(2), || !pid_alive(daemon));
        assert!(
            ok,
            "ignore TERM {ignore}: the escaped daemon {daemon} outlived `tend stop d`\n{}",
            t.dump()
        );
        let keep = t.state_of("keep");
        assert!(
            matches!(keep.as_deref(), Some("running" | "starting")),
            "keep is {keep:?}\n{}",
            t.dump()
        );
    }
}

/// Single-command mode: TERM to tend stops the child and its escaped
/// daemon; tend exits with the child's status.
#[test]
fn shutdown_stops_the_escaped_daemon() {
    let tmp = TempDir::new();
    let fx = fixture();
    let dpid = tmp.s("dpid");
    let ready = tmp.s("ready");
    let mut t = Tend::run(
        &tmp,
        &[
            "--restart",
            "always",
            "--",
            &fx,
            "--daemon",
            "--pid-file",
            &dpid,
            "--ready-file",
            &ready,
        ],
    );
    let daemon = daemon_pid(&tmp, &mut t);
    let ok = poll_for(WAIT, || tmp.join("ready").exists());
    assert!(ok, "{}", t.dump());
    assert!(pid_alive(daemon));
    t.signal(libc::SIGTERM);
    assert_eq!(t.expect_exit(WAIT), 143, "{}", t.dump());
    let ok = poll_for(Duration::from_secs(2), || !pid_alive(daemon));
    assert!(
        ok,
        "the escaped daemon survived tend's shutdown\n{}",
        t.dump()
    );
}

// -------------------------------------------------------------------
// Recovery after tend was killed
// -------------------------------------------------------------------

/// The `children` records of DIR/state.json.
fn state_children(dir: &Path) -> Vec<serde_json::Value> {
    let text = read_lossy(&dir.join("state.json"));
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["children"].as_array().cloned())
        .unwrap_or_default()
}

/// Start `tend run -- fixture ARGS`, wait until state.json records the
/// child, SIGKILL tend. Returns the dead tend (kept: dropping it would
/// kill this test's processes) and the child's pid.
fn crash_tend(tmp: &TempDir, args: &[&str]) -> (Tend, i32) {
    let fx = fixture();
    let ready = tmp.s("ready");
    let mut argv = vec!["--restart", "never", "--name", "fx", "--", fx.as_str()];
    argv.extend_from_slice(args);
    argv.extend(["--ready-file", ready.as_str()]);
    let mut t = Tend::run(tmp, &argv);
    let ok = poll_for(WAIT, || tmp.join("ready").exists());
    assert!(ok, "{}", t.dump());
    let child = read_pid(&tmp.join("ready")).unwrap();
    let ok = poll_for(WAIT, || {
        state_children(&t.dir)
            .iter()
            .any(|c| c["pid"].as_i64() == Some(child as i64))
    });
    assert!(ok, "state.json never recorded child {child}\n{}", t.dump());
    t.signal(libc::SIGKILL);
    assert_eq!(t.expect_exit(WAIT), 137);
    (t, child)
}

fn started_events(events: &[serde_json::Value]) -> Vec<i64> {
    events
        .iter()
        .filter(|e| e["event"] == "started")
        .filter_map(|e| e["pid"].as_i64())
        .collect()
}

/// tend is SIGKILLed: its direct child dies (PDEATHSIG) but a grandchild
/// in the child's group survives. The next tend on the same DIR kills that
/// group before it starts its own child.
#[test]
fn restart_after_crash_kills_the_previous_group_first() {
    let tmp = TempDir::new();
    let gpid_file = tmp.s("gpid");
    let (old, child) = crash_tend(&tmp, &["--grandchild", "--pid-file", &gpid_file]);
    let gpid = read_pid(&tmp.join("gpid")).unwrap();
    let ok = poll_for(WAIT, || !pid_alive(child));
    assert!(
        ok,
        "the child outlived tend (no PDEATHSIG?)\n{}",
        old.dump()
    );
    assert!(
        pid_alive(gpid),
        "the grandchild died with tend: nothing left to recover"
    );
    assert_eq!(pgid_of(gpid), Some(child));
    std::fs::remove_file(tmp.join("ready")).unwrap();

    let fx = fixture();
    let ready = tmp.s("ready");
    let mut t = Tend::run(
        &tmp,
        &[
            "--restart",
            "never",
            "--name",
            "fx",
            "--",
            &fx,
            "--ready-file",
            &ready,
        ],
    );
    t.track_pid(gpid);
    let ok = poll_for(WAIT, || started_events(&t.events()).len() >= 2);
    assert!(ok, "the new tend never started its child\n{}", t.dump());
    // The kill went out before the start; give the kernel a moment to
    // finish the grandchild.
    let ok = poll_for(Duration::from_millis(500), || !pid_alive(gpid));
    assert!(
        ok,
        "the previous tend's grandchild {gpid} is still alive after the new child started\n{}",
        t.dump()
    );
    let err = t.stderr();
    let prev = err.find("previous tend");
    let started = err.find("fx: started");
    assert!(
        prev.is_some() && started.is_some() && prev < started,
        "expected the previous-instance line before the new child's start\n{}",
        t.dump()
    );
    assert!(err.contains(&format!("(pid {child})")), "{}", t.dump());
    assert!(t.is_running(), "{}", t.dump());
    drop(t);
    drop(old);
}

/// A PID from state.json that now belongs to an unrelated process (other
/// start time) is never touched.
#[test]
fn restart_after_crash_leaves_a_reused_pid_alone() {
    use std::os::unix::process::CommandExt;
    let tmp = TempDir::new();
    let (old, _) = crash_tend(&tmp, &[]);
    // An unrelated process in its own group, without the test marker.
    let mut sleep = Command::new("sleep")
        .arg("1000")
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    struct Reap<'a>(&'a mut Child);
    impl Drop for Reap<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let spid = sleep.id() as i32;
    let _reap = Reap(&mut sleep);
    let st = proc_stat(spid).unwrap();
    let start: u64 = st[19].parse().unwrap();
    // Point the record at the sleep, with another start time.
    let path = old.dir.join("state.json");
    let mut doc: serde_json::Value = serde_json::from_str(&read_lossy(&path)).unwrap();
    let kids = doc["children"].as_array_mut().unwrap();
    assert_eq!(kids.len(), 1, "{doc}");
    kids[0]["pid"] = spid.into();
    kids[0]["pgid"] = spid.into();
    kids[0]["start_time"] = (start + 1).into();
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();

    let fx = fixture();
    let mut t = Tend::run(&tmp, &["--restart", "never", "--name", "fx", "--", &fx]);
    let ok = poll_for(WAIT, || started_events(&t.events()).len() >= 2);
    assert!(ok, "the new tend never started its child\n{}", t.dump());
    assert!(
        pid_alive(spid),
        "tend killed an unrelated process that reused a recorded PID\n{}",
        t.dump()
    );
    assert!(t.stderr().contains("left alone"), "{}", t.dump());
    assert!(t.is_running(), "{}", t.dump());
    drop(t);
    drop(old);
}
