//! Signals to `tend run` and the process tree, black-box against SPEC §4:
//! forwarding in single-command mode (the tini role) and config mode,
//! TERM/INT/QUIT as "stop", the second TERM, HUP as reload, the child
//! subreaper (orphans reaped, escaped daemons stopped), and what happens to
//! children when tend itself is SIGKILLed.

mod util;

use serde_json::json;
use std::time::{Duration, Instant};
use util::*;

const T5: Duration = Duration::from_secs(5);

fn logged(tmp: &TempDir, file: &str) -> Vec<String> {
    read_lossy(&tmp.join(file))
        .lines()
        .map(String::from)
        .collect()
}

/// Single-command mode forwards every catchable signal except CHLD, TTIN,
/// TTOU and the fault signals to the child's group (one at a time, each
/// seen by the child); TTIN, TTOU and CHLD are not forwarded; TERM then
/// stops the child and tend exits with its status.
#[test]
fn single_command_forwards_signals() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = Tend::run(
        &tmp,
        &[
            "--",
            &fx,
            "--log-signals",
            &tmp.s("sig"),
            "--exit-on-term",
            "--ready-file",
            &tmp.s("ready"),
        ],
    );
    wait_pid_file(&tmp.join("ready"), T5);
    let forwarded = [
        ("HUP", libc::SIGHUP),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("PIPE", libc::SIGPIPE),
        ("ALRM", libc::SIGALRM),
        ("CONT", libc::SIGCONT),
        ("TSTP", libc::SIGTSTP),
        ("URG", libc::SIGURG),
        ("XCPU", libc::SIGXCPU),
        ("XFSZ", libc::SIGXFSZ),
        ("VTALRM", libc::SIGVTALRM),
        ("PROF", libc::SIGPROF),
        ("WINCH", libc::SIGWINCH),
        ("IO", libc::SIGIO),
        // Last: the two Linux-only names, easy to leave out of a table.
        ("STKFLT", libc::SIGSTKFLT),
        ("PWR", libc::SIGPWR),
    ];
    for (i, (name, sig)) in forwarded.iter().enumerate() {
        t.signal(*sig);
        let ok = poll_for(T5, || logged(&tmp, "sig").len() > i);
        assert!(ok, "SIG{name} forwarded\n{}", t.dump());
        assert_eq!(logged(&tmp, "sig")[i], *name, "{:?}", logged(&tmp, "sig"));
    }
    for sig in [libc::SIGTTIN, libc::SIGTTOU, libc::SIGCHLD] {
        t.signal(sig);
    }
    // A marker signal after them: when it arrives, the three were handled.
    t.signal(libc::SIGUSR1);
    wait_until(T5, "marker USR1", || {
        logged(&tmp, "sig").len() > forwarded.len()
    });
    assert_eq!(
        logged(&tmp, "sig")[forwarded.len()..],
        ["USR1"],
        "TTIN, TTOU, CHLD are not forwarded"
    );
    assert!(t.is_running(), "tend survives TTIN/TTOU");
    assert_ne!(proc_stat(t.pid()).unwrap()[0], "T", "tend is not stopped");
    t.signal(libc::SIGTERM);
    assert_eq!(t.expect_exit(T5), 143, "{}", t.dump());
    assert_eq!(logged(&tmp, "sig").last().map(String::as_str), Some("TERM"));
}

/// INT and QUIT mean stop in single-command mode: forwarded, no restart
/// follows (even with `--restart always`), exit with the child's status.
#[test]
fn int_and_quit_stop_single_command() {
    for (sig, code) in [
        (libc::SIGINT, 130),
        (libc::SIGQUIT, 131),
        (libc::SIGTERM, 143),
    ] {
        let tmp = TempDir::new();
        let fx = fixture();
        let rec = tmp.s("rec");
        let mut t = Tend::run(
            &tmp,
            &[
                "--restart",
                "always",
                "--restart-delay",
                "50ms",
                "--",
                &fx,
                "--record",
                &rec,
                "--ready-file",
                &tmp.s("ready"),
            ],
        );
        wait_pid_file(&tmp.join("ready"), T5);
        t.signal(sig);
        assert_eq!(t.expect_exit(T5), code, "signal {sig}\n{}", t.dump());
        assert_eq!(read_record(&tmp.join("rec")).len(), 1, "no restart");
    }
}

/// The stop signal reaches the whole group, grandchild included; a child
/// that logs TERM and goes on is SIGKILLed after stop_timeout.
#[test]
fn stop_signal_goes_to_the_group() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = Tend::run(
        &tmp,
        &[
            "--stop-timeout",
            "300ms",
            "--",
            &fx,
            "--log-signals",
            &tmp.s("sig"),
            "--grandchild",
            "--pid-file",
            &tmp.s("gpid"),
            "--ready-file",
            &tmp.s("ready"),
        ],
    );
    let child = wait_pid_file(&tmp.join("ready"), T5);
    let gc = read_pid(&tmp.join("gpid")).unwrap();
    t.signal(libc::SIGTERM);
    assert_eq!(t.expect_exit(T5), 137, "{}", t.dump());
    // CHLD may follow: the grandchild died of the same TERM.
    let sigs: Vec<String> = logged(&tmp, "sig")
        .into_iter()
        .filter(|s| s != "CHLD")
        .collect();
    assert_eq!(sigs, ["TERM"]);
    assert!(!pid_alive(child) && !pid_alive(gc));
}

/// `--stop-signal` replaces TERM as what the child receives on stop.
#[test]
fn stop_signal_flag() {
    let tmp = TempDir::new();
    let fx = fixture();
    let cfg = write_config(
        tmp.path(),
        &json!({"processes": [{"name": "a", "command": fx, "stop_signal": "USR2",
                               "stop_timeout": "300ms",
                               "args": ["--log-signals", tmp.s("sig"),
                                        "--ready-file", tmp.s("ready")]}]})
        .to_string(),
    );
    let mut t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap()]);
    wait_pid_file(&tmp.join("ready"), T5);
    t.signal(libc::SIGTERM);
    assert_eq!(t.expect_exit(T5), 0, "{}", t.dump());
    assert_eq!(logged(&tmp, "sig"), ["USR2"]);
}

/// Config mode: USR1, USR2, WINCH are forwarded to every child's group;
/// HUP is a reload (not forwarded; event `reload`); TERM stops all, exit 0.
#[test]
fn config_mode_signals() {
    let tmp = TempDir::new();
    let fx = fixture();
    let cfg = write_config(
        tmp.path(),
        &json!({"processes": [
            {"name": "a", "command": fx,
             "args": ["--log-signals", tmp.s("sa"), "--exit-on-term", "--ready-file", tmp.s("ra")]},
            {"name": "b", "command": fx,
             "args": ["--log-signals", tmp.s("sb"), "--exit-on-term", "--ready-file", tmp.s("rb")]}
        ]})
        .to_string(),
    );
    let mut t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap()]);
    let pa = wait_pid_file(&tmp.join("ra"), T5);
    let pb = wait_pid_file(&tmp.join("rb"), T5);
    for (i, sig) in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH]
        .into_iter()
        .enumerate()
    {
        t.signal(sig);
        wait_until(T5, "forwarded to both", || {
            logged(&tmp, "sa").len() > i && logged(&tmp, "sb").len() > i
        });
    }
    assert_eq!(logged(&tmp, "sa"), ["USR1", "USR2", "WINCH"]);
    assert_eq!(logged(&tmp, "sb"), ["USR1", "USR2", "WINCH"]);
    t.signal(libc::SIGHUP);
    wait_until(T5, "reload event", || {
        t.events().iter().any(|e| e["event"] == "reload")
    });
    t.signal(libc::SIGUSR1);
    wait_until(T5, "marker", || logged(&tmp, "sa").len() > 3);
    assert_eq!(logged(&tmp, "sa")[3..], ["USR1"], "HUP is not forwarded");
    assert!(
        pid_alive(pa) && pid_alive(pb),
        "an unchanged reload keeps them"
    );
    t.signal(libc::SIGTERM);
    assert_eq!(t.expect_exit(T5), 0, "{}", t.dump());
    assert_eq!(logged(&tmp, "sa").last().map(String::as_str), Some("TERM"));
    assert_eq!(logged(&tmp, "sb").last().map(String::as_str), Some("TERM"));
    assert!(!pid_alive(pa) && !pid_alive(pb));
    let ev = t.events();
    for name in ["a", "b"] {
        assert!(
            ev.iter()
                .any(|e| e["event"] == "stopped" && e["name"] == name),
            "stopped event for {name}"
        );
    }
    assert!(
        ev.iter().any(|e| e["event"] == "shutdown"),
        "shutdown event"
    );
}

/// A second TERM while stopping: SIGKILL to every group, exit at once.
#[test]
fn second_term_kills_everything() {
    let tmp = TempDir::new();
    let fx = fixture();
    let cfg = write_config(
        tmp.path(),
        &json!({"processes": [{"name": "a", "command": fx, "stop_timeout": "30s",
                               "args": ["--ignore", "TERM", "--grandchild",
                                        "--pid-file", tmp.s("gpid"),
                                        "--ready-file", tmp.s("ready")]}]})
        .to_string(),
    );
    let mut t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap()]);
    let child = wait_pid_file(&tmp.join("ready"), T5);
    let gc = read_pid(&tmp.join("gpid")).unwrap();
    t.signal(libc::SIGTERM);
    wait_until(T5, "stopping event", || {
        t.events().iter().any(|e| e["event"] == "stopping")
    });
    assert!(
        pid_alive(child),
        "TERM is ignored, it waits for stop_timeout"
    );
    let t0 = Instant::now();
    t.signal(libc::SIGTERM);
    assert!(t.wait_exit(T5).is_some(), "{}", t.dump());
    // Far less than the 30 s stop_timeout.
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    wait_until(T5, "group killed", || !pid_alive(child) && !pid_alive(gc));
}

/// tend is a child subreaper: a daemon that escapes the child's group is
/// adopted by tend, and orphans that exit are reaped (no zombies).
#[test]
fn subreaper_adopts_and_reaps() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = Tend::run(
        &tmp,
        &[
            "--name",
            "w",
            "--",
            &fx,
            "--daemon",
            "--pid-file",
            &tmp.s("dpid"),
            "--orphans",
            "3",
            "--ready-file",
            &tmp.s("ready"),
        ],
    );
    wait_pid_file(&tmp.join("ready"), T5);
    let d = read_pid(&tmp.join("dpid")).unwrap();
    assert_eq!(ppid_of(d), Some(t.pid()), "the daemon was adopted by tend");
    wait_until(T5, "orphans ran", || {
        t.log("w").matches(" orphan ").count() >= 3
    });
    let ok = poll_for(T5, || zombie_children(t.pid()).is_empty());
    assert!(
        ok,
        "zombies under tend: {:?}\n{}",
        zombie_children(t.pid()),
        t.dump()
    );
}

/// A child's descendant that escaped its group is stopped with it.
#[test]
fn escaped_daemon_is_stopped_with_its_parent() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = Tend::run(
        &tmp,
        &[
            "--",
            &fx,
            "--daemon",
            "--pid-file",
            &tmp.s("dpid"),
            "--ready-file",
            &tmp.s("ready"),
        ],
    );
    wait_pid_file(&tmp.join("ready"), T5);
    let d = read_pid(&tmp.join("dpid")).unwrap();
    t.track_pid(d);
    t.signal(libc::SIGTERM);
    t.expect_exit(T5);
    wait_until(T5, "daemon stopped", || !pid_alive(d));
}

/// tend SIGKILLed: its child dies (PDEATHSIG); a tend started later on the
/// same DIR kills the group left behind (the grandchild) before starting.
#[test]
fn tend_killed_then_restarted_cleans_up() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = Tend::run(
        &tmp,
        &[
            "--name",
            "w",
            "--",
            &fx,
            "--grandchild",
            "--pid-file",
            &tmp.s("gpid"),
            "--ready-file",
            &tmp.s("ready"),
        ],
    );
    let child = wait_pid_file(&tmp.join("ready"), T5);
    let gc = read_pid(&tmp.join("gpid")).unwrap();
    t.track_group(child);
    // Let tend record the child (status answers with its pid).
    wait_until(T5, "status shows the child", || {
        t.proc_status("w").is_some_and(|p| p["pid"] == child)
    });
    t.signal(libc::SIGKILL);
    t.expect_exit(T5);
    wait_until(T5, "child killed by PDEATHSIG", || !pid_alive(child));
    assert!(pid_alive(gc), "the grandchild outlives a SIGKILLed tend");
    std::fs::remove_file(tmp.join("ready")).unwrap();
    let _t2 = Tend::run(
        &tmp,
        &["--name", "w", "--", &fx, "--ready-file", &tmp.s("ready")],
    );
    wait_pid_file(&tmp.join("ready"), T5);
    wait_until(T5, "leftover grandchild killed", || !pid_alive(gc));
}

/// Config mode: INT and QUIT are graceful shutdowns too (exit 0, children
/// stopped); TTIN and TTOU are ignored (tend neither stops nor forwards).
#[test]
fn config_mode_int_quit_and_ttin() {
    for sig in [libc::SIGINT, libc::SIGQUIT] {
        let tmp = TempDir::new();
        let fx = fixture();
        let cfg = write_config(
            tmp.path(),
            &json!({"processes": [{"name": "a", "command": fx,
                                   "args": ["--log-signals", tmp.s("sig"), "--exit-on-term",
                                            "--ready-file", tmp.s("ready")]}]})
            .to_string(),
        );
        let mut t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap()]);
        let child = wait_pid_file(&tmp.join("ready"), T5);
        for s in [libc::SIGTTIN, libc::SIGTTOU] {
            t.signal(s);
        }
        t.signal(libc::SIGUSR1);
        wait_until(T5, "marker USR1", || !logged(&tmp, "sig").is_empty());
        assert_eq!(logged(&tmp, "sig"), ["USR1"], "TTIN/TTOU not forwarded");
        assert_ne!(proc_stat(t.pid()).unwrap()[0], "T", "tend is not stopped");
        t.signal(sig);
        assert_eq!(t.expect_exit(T5), 0, "signal {sig}\n{}", t.dump());
        assert_eq!(logged(&tmp, "sig").last().map(String::as_str), Some("TERM"));
        assert!(!pid_alive(child));
    }
}

/// The group leader dies of TERM at once; another member of its group
/// takes its time (it logs TERM and goes on). It too got the stop signal,
/// and it gets `stop_timeout` before the group's SIGKILL ("after
/// stop_timeout the group gets SIGKILL"); tend exits with the leader's
/// status. Nothing a child started survives its stop.
#[test]
fn lingering_group_member_gets_stop_timeout() {
    let tmp = TempDir::new();
    let fx = fixture();
    let script = format!(
        "'{fx}' --log-signals '{sig}' --ready-file '{m}' & exec '{fx}' --ready-file '{r}'",
        sig = tmp.s("member.sig"),
        m = tmp.s("member"),
        r = tmp.s("ready")
    );
    let mut t = Tend::run(
        &tmp,
        &["--stop-timeout", "500ms", "--", "/bin/sh", "-c", &script],
    );
    let leader = wait_pid_file(&tmp.join("ready"), T5);
    let member = wait_pid_file(&tmp.join("member"), T5);
    assert_eq!(pgid_of(member), Some(leader), "same group");
    let t0 = Instant::now();
    t.signal(libc::SIGTERM);
    wait_until(T5, "member got TERM", || {
        logged(&tmp, "member.sig").contains(&"TERM".to_string())
    });
    wait_until(T5, "member killed", || !pid_alive(member));
    let killed_after = t0.elapsed();
    let code = t.expect_exit(T5);
    assert_eq!(code, 143, "{}", t.dump());
    assert!(
        killed_after >= Duration::from_millis(450),
        "the member was killed {killed_after:?} after TERM, before stop_timeout (500ms)\n{}",
        t.dump()
    );
}

/// Forwarded signals go to the child's whole process group: a grandchild
/// with default dispositions dies of USR1 while the child logs it. Both
/// in single-command mode and in config mode.
#[test]
fn forwarded_signals_reach_the_whole_group() {
    for config_mode in [false, true] {
        let tmp = TempDir::new();
        let fx = fixture();
        let args = vec![
            "--log-signals".to_string(),
            tmp.s("sig"),
            "--grandchild".to_string(),
            "--pid-file".to_string(),
            tmp.s("gpid"),
            "--ready-file".to_string(),
            tmp.s("ready"),
        ];
        let t = if config_mode {
            let cfg = write_config(
                tmp.path(),
                &json!({"processes": [{"name": "a", "command": fx, "args": args}]}).to_string(),
            );
            Tend::run(&tmp, &["-c", cfg.to_str().unwrap()])
        } else {
            let mut argv = vec!["--", fx.as_str()];
            argv.extend(args.iter().map(String::as_str));
            Tend::run(&tmp, &argv)
        };
        let child = wait_pid_file(&tmp.join("ready"), T5);
        let gc = read_pid(&tmp.join("gpid")).unwrap();
        t.signal(libc::SIGUSR1);
        wait_until(T5, "child logged USR1", || {
            logged(&tmp, "sig").contains(&"USR1".to_string())
        });
        wait_until(T5, "grandchild died of USR1", || !pid_alive(gc));
        assert!(pid_alive(child), "config mode {config_mode}");
    }
}
