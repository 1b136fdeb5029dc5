//! Single-command signal handling end to end (SPEC §4 "Signals to tend,
//! single-command mode", "Children start with default signal dispositions
//! and an empty signal mask"): the real `tend run -- fixture ...`, signals
//! sent to tend with kill(2), and the fixture child logging what reaches
//! it (`--log-signals`) or dying of it. Not run as PID 1 (see pid1.rs).

mod util;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use util::*;

const WAIT: Duration = Duration::from_secs(10);

/// Signals that single-command mode forwards and that the fixture can log
/// without being stopped by them (INT, QUIT and TERM also mean "stop" and
/// are tested one per run below).
const FORWARDED: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CONT", libc::SIGCONT),
    ("TSTP", libc::SIGTSTP),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
];

fn lines(p: &Path) -> Vec<String> {
    read_lossy(p).lines().map(String::from).collect()
}

/// `tend run --restart R --stop-timeout 300ms -- fixture ARGS --ready-file
/// R`, waiting until the child is set up (its handlers are installed, and
/// tend's were before it spawned the child). Returns tend and the child pid.
fn start(tmp: &TempDir, restart: &str, args: &[&str]) -> (Tend, i32) {
    let fx = fixture();
    let ready = tmp.s("ready");
    let mut argv = vec![
        "--restart",
        restart,
        "--stop-timeout",
        "300ms",
        "--name",
        "fx",
        "--",
        fx.as_str(),
    ];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--ready-file", ready.as_str()]);
    let mut t = Tend::run(tmp, &argv);
    let ok = poll_for(WAIT, || tmp.join("ready").exists());
    assert!(ok, "child never became ready\n{}", t.dump());
    let pid = read_pid(&tmp.join("ready")).unwrap();
    t.track_group(pid);
    (t, pid)
}

fn started_events(t: &Tend) -> usize {
    t.events()
        .iter()
        .filter(|e| e["event"] == "started")
        .count()
}

#[test]
fn every_catchable_signal_reaches_the_child() {
    let tmp = TempDir::new();
    let log = tmp.join("sig");
    let (mut t, pid) = start(&tmp, "always", &["--log-signals", &tmp.s("sig")]);
    for (i, &(name, sig)) in FORWARDED.iter().enumerate() {
        t.signal(sig);
        let ok = poll_for(WAIT, || lines(&log).len() > i);
        assert!(
            ok,
            "{name} sent to tend never reached the child; child log: {:?}\n{}",
            lines(&log),
            t.dump()
        );
        assert_eq!(
            lines(&log)[i],
            name,
            "the child logged something else for {name}: {:?}",
            lines(&log)
        );
    }
    assert!(t.is_running(), "tend exited\n{}", t.dump());
    assert!(pid_alive(pid), "the child died\n{}", t.dump());
    assert_eq!(started_events(&t), 1, "restarted?\n{}", t.dump());
    assert_eq!(lines(&log).len(), FORWARDED.len(), "{:?}", lines(&log));
}

#[test]
fn chld_ttin_ttou_are_not_forwarded() {
    let tmp = TempDir::new();
    let log = tmp.join("sig");
    let (mut t, pid) = start(&tmp, "always", &["--log-signals", &tmp.s("sig")]);
    for sig in [libc::SIGCHLD, libc::SIGTTIN, libc::SIGTTOU] {
        t.signal(sig);
    }
    // kill(2) makes a signal pending before it returns, so the three are
    // pending on tend before the USR1 sentinel is sent, and tend's handlers
    // have seen them by the time it forwards USR1 (same loop turn or an
    // earlier one). A wrong forward would show up in the log next to USR1.
    t.signal(libc::SIGUSR1);
    let ok = poll_for(WAIT, || !lines(&log).is_empty());
    assert!(ok, "the USR1 sentinel never arrived\n{}", t.dump());
    // Give a wrongly forwarded signal a moment to show up after USR1 too.
    let extra = poll_for(Duration::from_millis(300), || lines(&log).len() > 1);
    assert!(
        !extra && lines(&log) == ["USR1"],
        "the child got {:?}, expected only USR1\n{}",
        lines(&log),
        t.dump()
    );
    // TTIN/TTOU did not stop tend (state T) either.
    let st = proc_stat(t.pid()).map(|f| f[0].clone());
    assert_ne!(st.as_deref(), Some("T"), "tend is stopped\n{}", t.dump());
    assert!(t.is_running() && pid_alive(pid), "{}", t.dump());
}

/// INT, QUIT and TERM reach the child and mean "stop": a child that only
/// logs them is SIGKILLed after stop_timeout, no restart follows although
/// the policy is `always`, and tend exits with the child's status (137).
#[test]
fn stop_signals_reach_the_child_then_kill_after_stop_timeout() {
    for (name, sig) in [
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("TERM", libc::SIGTERM),
    ] {
        let tmp = TempDir::new();
        let log = tmp.join("sig");
        let (mut t, _) = start(&tmp, "always", &["--log-signals", &tmp.s("sig")]);
        let sent = Instant::now();
        t.signal(sig);
        let code = t.expect_exit(WAIT);
        let took = sent.elapsed();
        assert_eq!(lines(&log), [name], "{name}\n{}", t.dump());
        assert_eq!(code, 137, "{name}: tend's exit code\n{}", t.dump());
        assert!(
            took >= Duration::from_millis(250),
            "{name}: killed after {took:?}, before stop_timeout 300ms\n{}",
            t.dump()
        );
        assert_eq!(started_events(&t), 1, "{name}: restarted\n{}", t.dump());
    }
}

/// A child with the default disposition dies of INT / QUIT / TERM, and
/// tend (restart `always`) exits with 128+N, as tini does.
#[test]
fn stop_signals_exit_with_the_childs_status() {
    for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
        let tmp = TempDir::new();
        let (mut t, _) = start(&tmp, "always", &[]);
        t.signal(sig);
        let code = t.expect_exit(WAIT);
        assert_eq!(code, 128 + sig, "signal {sig}\n{}", t.dump());
        assert_eq!(started_events(&t), 1, "signal {sig}\n{}", t.dump());
    }
    // A child that logs TERM and then dies of it (`--exit-on-term`).
    let tmp = TempDir::new();
    let (mut t, _) = start(
        &tmp,
        "always",
        &["--log-signals", &tmp.s("sig"), "--exit-on-term"],
    );
    t.signal(libc::SIGTERM);
    assert_eq!(t.expect_exit(WAIT), 143, "{}", t.dump());
    assert_eq!(lines(&tmp.join("sig")), ["TERM"]);
}

/// SIGRTMIN..=SIGRTMAX are forwarded: the fixture has no handler for them,
/// so it dies of each, and tend (restart never) exits with 128+N.
#[test]
fn realtime_signals_are_forwarded() {
    let sigs: Vec<i32> = (libc::SIGRTMIN()..=libc::SIGRTMAX()).collect();
    assert!(sigs.len() >= 8, "{sigs:?}");
    // Four tends at a time keeps this quick on a small machine.
    for chunk in sigs.chunks(4) {
        let handles: Vec<_> = chunk
            .iter()
            .map(|&sig| {
                std::thread::spawn(move || {
                    let tmp = TempDir::new();
                    let (mut t, _) = start(&tmp, "never", &[]);
                    t.signal(sig);
                    let code = t.expect_exit(WAIT);
                    assert_eq!(code, 128 + sig, "SIGRT {sig}\n{}", t.dump());
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}

/// A tend started by a caller with odd signal state, cleaned up on drop:
/// KILL to tend, its child's group and everything with this test's marker.
struct Odd {
    child: Child,
    root: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Odd {
    fn wait(&mut self, timeout: Duration) -> Option<i32> {
        wait_child(&mut self.child, timeout)
    }
    fn stderr(&self) -> String {
        read_lossy(&self.err)
    }
}

impl Drop for Odd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("----- tend stderr -----\n{}", self.stderr());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_marked(&self.root);
    }
}

/// `cmd` with stdio to files and the test marker, spawned.
fn spawn_odd(tmp: &TempDir, mut cmd: Command) -> Odd {
    let err = tmp.join("tend.stderr");
    cmd.env(MARKER_VAR, tmp.path())
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(tmp.join("tend.stdout")).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    Odd {
        child: cmd.spawn().unwrap(),
        root: tmp.path().to_path_buf(),
        err,
    }
}

fn tend_argv(tmp: &TempDir, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        tend_bin().to_string_lossy().into_owned(),
        "run".into(),
        "--dir".into(),
        tmp.s("d"),
        "--restart".into(),
        "never".into(),
        "--".into(),
        fixture(),
        "--status-proc".into(),
        tmp.s("st"),
        "--ready-file".into(),
        tmp.s("ready"),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// The child's SigBlk and SigIgn from its `--status-proc` copy.
fn child_masks(tmp: &TempDir) -> (u64, u64) {
    let st = read_lossy(&tmp.join("st"));
    (
        status_mask(&st, "SigBlk").unwrap_or_else(|| panic!("no SigBlk in {st:?}")),
        status_mask(&st, "SigIgn").unwrap_or_else(|| panic!("no SigIgn in {st:?}")),
    )
}

const PIPE_BIT: u64 = 1 << (libc::SIGPIPE - 1);

#[test]
fn child_has_empty_mask_and_default_dispositions() {
    let tmp = TempDir::new();
    let (t, _) = start(&tmp, "never", &["--status-proc", &tmp.s("st")]);
    let (blk, ign) = child_masks(&tmp);
    assert_eq!(blk, 0, "SigBlk\n{}", t.dump());
    assert_eq!(ign & PIPE_BIT, 0, "SIGPIPE ignored\n{}", t.dump());
    assert_eq!(ign, 0, "SigIgn {ign:x}\n{}", t.dump());
}

/// tend started from a shell that ignores PIPE and TTOU: the child must
/// not inherit SIG_IGN (exec keeps ignored dispositions).
#[test]
fn child_defaults_even_when_tend_inherits_ignored_signals() {
    let tmp = TempDir::new();
    let argv = tend_argv(&tmp, &[]);
    let quoted: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("trap '' PIPE TTOU HUP; exec {}", quoted.join(" ")));
    let mut o = spawn_odd(&tmp, cmd);
    let ok = poll_for(WAIT, || tmp.join("ready").exists());
    assert!(
        ok,
        "child never became ready; exit {:?}",
        o.wait(Duration::ZERO)
    );
    let (blk, ign) = child_masks(&tmp);
    assert_eq!(blk, 0, "SigBlk");
    assert_eq!(ign & PIPE_BIT, 0, "SIGPIPE still ignored in the child");
    assert_eq!(ign, 0, "SigIgn {ign:x}");
}

/// tend started with signals blocked and ignored (a parent that forgot
/// to restore its mask): the child still gets an empty mask and default
/// dispositions, and tend still acts on and forwards the signals its
/// caller had blocked.
#[test]
fn tend_started_with_blocked_signals() {
    let tmp = TempDir::new();
    let log = tmp.join("sig");
    let argv = tend_argv(&tmp, &["--log-signals", &tmp.s("sig"), "--exit-on-term"]);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    // SAFETY: only async-signal-safe calls (sigset ops, sigprocmask,
    // signal) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [
                libc::SIGUSR1,
                libc::SIGUSR2,
                libc::SIGHUP,
                libc::SIGALRM,
                libc::SIGTERM,
                libc::SIGCHLD,
            ] {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            libc::signal(libc::SIGTTOU, libc::SIG_IGN);
            libc::signal(libc::SIGUSR2, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut o = spawn_odd(&tmp, cmd);
    let ok = poll_for(WAIT, || tmp.join("ready").exists());
    assert!(
        ok,
        "child never became ready; exit {:?}",
        o.wait(Duration::ZERO)
    );
    // tend's own mask, as it runs: the caller's block must not stick.
    let tend_st = read_lossy(Path::new(&format!("/proc/{}/status", o.child.id())));
    let (blk, ign) = child_masks(&tmp);
    assert_eq!(blk, 0, "SigBlk of the child");
    assert_eq!(ign, 0, "SigIgn {ign:x} of the child");
    // USR1 blocked by the caller still reaches tend and is forwarded.
    // SAFETY: kill of the tend this test spawned.
    unsafe { libc::kill(o.child.id() as i32, libc::SIGUSR1) };
    let ok = poll_for(WAIT, || lines(&log) == ["USR1"]);
    assert!(
        ok,
        "USR1 (blocked by tend's caller) not forwarded: child log {:?}; tend's /proc status:\n{tend_st}",
        lines(&log)
    );
    // TERM blocked by the caller still stops tend, and the child (logs it
    // and then dies of it) exits 143, which tend passes on.
    // SAFETY: kill of the tend this test spawned.
    unsafe { libc::kill(o.child.id() as i32, libc::SIGTERM) };
    let code = o.wait(WAIT);
    assert_eq!(
        code,
        Some(143),
        "tend with an inherited blocked TERM did not stop with the child's status; tend's /proc status:\n{tend_st}"
    );
}
