//! `tend run` supervision, black-box against SPEC §1, §2, §4 and §6:
//! restart policies, backoff timing, the crash-loop breaker, stopping
//! (stop timeout, the whole group, the STOP file), exit codes, the PID
//! lock, and the state a child starts in. Every test owns a temp dir and
//! waits for conditions with deadlines; timing bounds are generous.

mod util;

use serde_json::json;
use std::time::{Duration, Instant};
use util::*;

const T5: Duration = Duration::from_secs(5);

fn count_starts(tmp: &TempDir, rec: &str) -> usize {
    read_record(&tmp.join(rec)).len()
}

fn wait_starts(t: &Tend, tmp: &TempDir, rec: &str, n: usize, timeout: Duration) {
    let ok = poll_for(timeout, || count_starts(tmp, rec) >= n);
    assert!(
        ok,
        "expected {n} starts in {rec}, got {}\n{}",
        count_starts(tmp, rec),
        t.dump()
    );
}

/// Delays 100, 200, 400, 800 ms between quick crashes: backoff starts at
/// `restart_delay` and grows by `backoff_factor`.
#[test]
fn crash_loop_backoff_grows_by_factor() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let t = Tend::run(
        &tmp,
        &[
            "--name",
            "w",
            "--restart-delay",
            "100ms",
            "--backoff-factor",
            "2",
            "--backoff-max",
            "10s",
            "--min-uptime",
            "5s",
            "--max-restarts",
            "50",
            "--",
            &fx,
            "--record",
            &rec,
            "--exit-code",
            "1",
        ],
    );
    wait_starts(&t, &tmp, "rec", 5, T5);
    // The schedule, exactly, from tend's own `backoff` events...
    let delays = backoff_delays(&t, "w");
    assert_eq!(delays[..4], [100, 200, 400, 800], "{}", t.dump());
    // ...and the starts really were that far apart (never sooner).
    let gaps = start_gaps_ms(&tmp.join("rec"));
    for (i, want) in [100.0, 200.0, 400.0, 800.0].iter().enumerate() {
        let g = gaps[i];
        assert!(
            g >= want - 5.0 && g <= want + SLACK_MS,
            "gap {i} is {g:.0} ms, want about {want} ms; gaps {gaps:?}\n{}",
            t.dump()
        );
    }
}

#[test]
fn backoff_is_capped_by_backoff_max() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let t = Tend::run(
        &tmp,
        &[
            "--name",
            "w",
            "--restart-delay",
            "100ms",
            "--backoff-max",
            "250ms",
            "--min-uptime",
            "5s",
            "--max-restarts",
            "50",
            "--",
            &fx,
            "--record",
            &rec,
            "--exit-code",
            "1",
        ],
    );
    wait_starts(&t, &tmp, "rec", 6, T5);
    let delays = backoff_delays(&t, "w");
    assert_eq!(delays[..5], [100, 200, 250, 250, 250], "{}", t.dump());
    let gaps = start_gaps_ms(&tmp.join("rec"));
    for (i, g) in gaps.iter().enumerate().skip(2) {
        assert!(
            *g >= 245.0 && *g <= 250.0 + SLACK_MS,
            "gap {i} is {g:.0} ms, want 250 ms (backoff_max); gaps {gaps:?}\n{}",
            t.dump()
        );
    }
}

/// A run of at least `min_uptime` resets the backoff to `restart_delay`.
#[test]
fn backoff_resets_after_min_uptime() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let flag = tmp.s("long");
    // Quick crashes until `long` exists, then runs of 400 ms (> min_uptime).
    let script = format!(
        "if [ -e '{flag}' ]; then exec '{fx}' --record '{rec}' --crash-after 400; \
         else exec '{fx}' --record '{rec}' --exit-code 1; fi"
    );
    let t = Tend::run(
        &tmp,
        &[
            "--name",
            "w",
            "--restart-delay",
            "100ms",
            "--min-uptime",
            "300ms",
            "--max-restarts",
            "50",
            "--",
            "/bin/sh",
            "-c",
            &script,
        ],
    );
    // Starts 1..3 crash at once (delays 100, 200; the next would be 400).
    wait_starts(&t, &tmp, "rec", 3, T5);
    std::fs::write(&flag, "").unwrap();
    wait_starts(&t, &tmp, "rec", 5, T5);
    // Start 4 ran 400 ms >= min_uptime: the delay before start 5 is back to
    // 100 ms, not 800 ms.
    let delays = backoff_delays(&t, "w");
    assert_eq!(delays[..4], [100, 200, 400, 100], "{}", t.dump());
    let g = start_gaps_ms(&tmp.join("rec"))[3];
    assert!(
        (495.0..=500.0 + SLACK_MS).contains(&g) && g < 1200.0,
        "gap after a long run is {g:.0} ms, want about 400 + 100\n{}",
        t.dump()
    );
}

/// max_restarts 3: one start and three restarts, then the exit that would
/// need a fourth restart opens the breaker: `failed`, `breaker_open`,
/// `gave_up` (no cooldown), and no further start.
#[test]
fn breaker_opens_after_max_restarts() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let cfg = write_config(
        tmp.path(),
        &json!({
            "processes": [
                {"name": "bad", "command": fx, "args": ["--record", rec, "--exit-code", "1"],
                 "restart_delay": "50ms", "backoff_factor": 1, "max_restarts": 3,
                 "restart_window": "1m"},
                {"name": "idle", "command": fx}
            ]
        })
        .to_string(),
    );
    let t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap()]);
    t.wait_state("bad", "failed", T5);
    assert!(
        !poll_for(Duration::from_millis(400), || count_starts(&tmp, "rec") > 4),
        "no start after the breaker opened\n{}",
        t.dump()
    );
    assert_eq!(count_starts(&tmp, "rec"), 4, "{}", t.dump());
    let p = t.proc_status("bad").unwrap();
    assert_eq!(p["starts"], 4, "{p}");
    assert_eq!(p["restarts"], 3, "{p}");
    assert_eq!(p["breaker"]["open"], true, "{p}");
    assert!(p["last_error"].is_string(), "{p}");
    assert_eq!(p["last_exit"]["code"], 1, "{p}");
    assert_eq!(p["pid"], serde_json::Value::Null, "{p}");
    let ev = t.events();
    let has = |e: &str| ev.iter().any(|v| v["event"] == e && v["name"] == "bad");
    assert!(has("breaker_open"), "breaker_open event\n{}", t.dump());
    assert!(has("gave_up"), "gave_up event\n{}", t.dump());
    assert_ne!(t.state_of("idle").as_deref(), Some("failed"));
}

/// A clean exit under `restart: always` is restarted after restart_delay
/// (no growth) and never counts toward the breaker.
#[test]
fn clean_exits_restart_without_tripping_breaker() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let mut t = Tend::run(
        &tmp,
        &[
            "--name",
            "w",
            "--restart",
            "always",
            "--restart-delay",
            "50ms",
            "--max-restarts",
            "2",
            "--",
            &fx,
            "--record",
            &rec,
            "--exit-code",
            "0",
        ],
    );
    wait_starts(&t, &tmp, "rec", 7, T5);
    assert!(t.is_running(), "tend keeps going\n{}", t.dump());
    let delays = backoff_delays(&t, "w");
    assert!(
        delays.len() >= 6 && delays.iter().all(|&d| d == 50),
        "clean exits are restarted after restart_delay, without growth: {delays:?}"
    );
    let gaps = start_gaps_ms(&tmp.join("rec"));
    assert!(gaps.iter().all(|&g| g >= 45.0), "{gaps:?}");
    let p = t.proc_status("w").expect("status --json");
    assert_ne!(p["state"], "failed", "{p}");
    assert_eq!(p["breaker"]["open"], false, "{p}");
    assert_eq!(p["breaker"]["failures"], 0, "{p}");
    assert!(p["restarts"].as_u64().unwrap() >= 6, "{p}");
}

/// A command that does not exist: `last_error` carries the OS reason and
/// the process backs off instead of spinning.
#[test]
fn missing_command_backs_off_with_error() {
    let tmp = TempDir::new();
    let t = Tend::run(
        &tmp,
        &[
            "--name",
            "ghost",
            "--restart-delay",
            "200ms",
            "--",
            "/nonexistent/tend-test-command",
        ],
    );
    let mut last = None;
    let ok = poll_for(T5, || {
        last = t.proc_status("ghost");
        last.as_ref().is_some_and(|p| {
            p["state"] == "backoff"
                && p["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("No such file or directory"))
        })
    });
    assert!(
        ok,
        "backoff with ENOENT in last_error; last {last:?}\n{}",
        t.dump()
    );
    let s0 = last.unwrap()["starts"].as_u64().unwrap();
    // Observe for 1 s: delays 200, 400, 800 ms allow at most 3 more starts.
    poll_for(Duration::from_secs(1), || false);
    let s1 = t.proc_status("ghost").unwrap()["starts"].as_u64().unwrap();
    assert!(s1 - s0 <= 4, "{} starts in 1 s: a tight loop", s1 - s0);
    assert!(s1 >= 2, "it keeps trying: {s1} starts");
}

/// Shell conventions (tini): 127 when the command is not found (also via
/// PATH lookup), 126 when it is not executable.
#[test]
fn exec_failures_exit_127_and_126() {
    let tmp = TempDir::new();
    let mut t = Tend::run(&tmp, &["--restart", "never", "--", "/nonexistent/cmd"]);
    assert_eq!(t.expect_exit(T5), 127, "{}", t.dump());
    drop(t);
    let tmp = TempDir::new();
    let mut t = Tend::run(
        &tmp,
        &["--restart", "never", "--", "tend-test-no-such-command-xyz"],
    );
    assert_eq!(t.expect_exit(T5), 127, "{}", t.dump());
    drop(t);
    let tmp = TempDir::new();
    let noexec = tmp.join("noexec.sh");
    std::fs::write(&noexec, "#!/bin/sh\nexit 0\n").unwrap();
    let mut t = Tend::run(
        &tmp,
        &["--restart", "never", "--", noexec.to_str().unwrap()],
    );
    assert_eq!(t.expect_exit(T5), 126, "{}", t.dump());
}

#[test]
fn single_command_exit_codes() {
    let fx = fixture();
    for (args, want) in [
        (vec!["--exit-code", "3"], 3),
        (vec!["--exit-code", "0"], 0),
        (vec!["--kill-self", "KILL"], 137),
        (vec!["--kill-self", "SEGV"], 128 + libc::SIGSEGV),
        (vec!["--crash-after", "50", "--exit-code", "42"], 42),
    ] {
        let tmp = TempDir::new();
        let mut argv = vec!["--restart", "never", "--", &fx];
        argv.extend(args.iter().copied());
        let mut t = Tend::run(&tmp, &argv);
        let code = t.expect_exit(T5);
        assert_eq!(code, want, "fixture {args:?}\n{}", t.dump());
    }
}

/// tend exits with the child's code, for every code 0..=255 (batches of
/// 64 tends in parallel, each on its own DIR).
#[test]
fn single_command_all_exit_codes() {
    let fx = fixture();
    for batch in (0..=255).collect::<Vec<i32>>().chunks(64) {
        let mut running: Vec<(i32, TempDir, Tend)> = batch
            .iter()
            .map(|&code| {
                let tmp = TempDir::new();
                let c = code.to_string();
                let t = Tend::run(
                    &tmp,
                    &[
                        "--quiet",
                        "--restart",
                        "never",
                        "--",
                        &fx,
                        "--exit-code",
                        &c,
                    ],
                );
                (code, tmp, t)
            })
            .collect();
        for (code, _tmp, t) in running.iter_mut() {
            let got = t.expect_exit(Duration::from_secs(20));
            assert_eq!(got, *code, "{}", t.dump());
        }
    }
}

/// `restart: on-failure`: a failure is restarted, a success ends it, and
/// tend then exits 0 (every process exited, all successes).
#[test]
fn on_failure_restarts_failures_only() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let flag = tmp.s("ok");
    // First run fails (5), the second succeeds.
    let script = format!(
        "'{fx}' --record '{rec}' --exit-code 0; \
         if [ -e '{flag}' ]; then exit 0; else touch '{flag}'; exit 5; fi"
    );
    let mut t = Tend::run(
        &tmp,
        &[
            "--restart",
            "on-failure",
            "--restart-delay",
            "50ms",
            "--",
            "/bin/sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(t.expect_exit(T5), 0, "{}", t.dump());
    assert_eq!(count_starts(&tmp, "rec"), 2, "{}", t.dump());
}

/// stop_timeout: a child that ignores TERM is SIGKILLed after it; tend
/// exits with the child's status (137).
#[test]
fn term_ignoring_child_killed_after_stop_timeout() {
    let tmp = TempDir::new();
    let fx = fixture();
    let ready = tmp.s("ready");
    let mut t = Tend::run(
        &tmp,
        &[
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
    let child = wait_pid_file(&tmp.join("ready"), T5);
    let t0 = Instant::now();
    t.signal(libc::SIGTERM);
    let code = t.expect_exit(T5);
    let took = t0.elapsed();
    assert_eq!(code, 137, "{}", t.dump());
    assert!(
        took >= Duration::from_millis(450) && took <= Duration::from_millis(3000),
        "stop took {took:?}, stop_timeout is 500ms"
    );
    assert!(!pid_alive(child), "child {child} is gone");
}

/// Stop signals go to the whole group: the grandchild goes too.
#[test]
fn stop_takes_the_grandchild() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = Tend::run(
        &tmp,
        &[
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
    assert_eq!(pgid_of(gc), Some(child));
    t.signal(libc::SIGTERM);
    assert_eq!(t.expect_exit(T5), 143, "{}", t.dump());
    wait_until(T5, "grandchild gone", || !pid_alive(gc));
    assert!(!pgid_has_members(child), "group {child} is empty");
}

/// Children start in a new session and process group, with stdin
/// /dev/null, an empty signal mask and default SIGPIPE.
#[test]
fn child_starts_clean() {
    let tmp = TempDir::new();
    let fx = fixture();
    let stdin = tmp.join("stdin.txt");
    std::fs::write(&stdin, "not for the child\n").unwrap();
    let t = TendCmd::new(&tmp)
        .stdin_file(&stdin)
        .args([
            "--",
            fx.as_str(),
            "--status-proc",
            &tmp.s("st"),
            "--ready-file",
            &tmp.s("ready"),
        ])
        .spawn();
    let child = wait_pid_file(&tmp.join("ready"), T5);
    let st = read_lossy(&tmp.join("st"));
    assert_eq!(status_mask(&st, "SigBlk"), Some(0), "{st}\n{}", t.dump());
    let ign = status_mask(&st, "SigIgn").unwrap();
    assert_eq!(
        ign & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE default:\n{st}"
    );
    // Including 32 and 33, glibc's internal signals, which `cargo test`
    // passes down ignored and glibc's sigaction refuses to reset.
    assert_eq!(ign, 0, "no signal ignored:\n{st}");
    let fd0 = std::fs::read_link(format!("/proc/{child}/fd/0")).unwrap();
    assert_eq!(fd0, std::path::Path::new("/dev/null"));
    assert_eq!(pgid_of(child), Some(child), "own process group");
    assert_eq!(sid_of(child), Some(child), "own session");
    assert_ne!(sid_of(child), sid_of(t.pid()));
}

/// The STOP sentinel (config mode): shutdown within 1 s of its creation,
/// exit 0 (requested shutdown), the file removed.
#[test]
fn stop_file_shuts_down() {
    let tmp = TempDir::new();
    let fx = fixture();
    let cfg = write_config(
        tmp.path(),
        &json!({"processes": [{"name": "a", "command": fx,
                               "args": ["--ready-file", tmp.s("ready")]}]})
        .to_string(),
    );
    let mut t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap()]);
    let child = wait_pid_file(&tmp.join("ready"), T5);
    let stop = tmp.state().join("STOP");
    std::fs::write(&stop, "").unwrap();
    let t0 = Instant::now();
    let code = t.expect_exit(T5);
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "shutdown began within 1 s: took {:?}",
        t0.elapsed()
    );
    assert_eq!(code, 0, "{}", t.dump());
    assert!(!stop.exists(), "STOP removed");
    assert!(!pid_alive(child));
}

/// `stop_file` in a config is relative to the config file's directory,
/// not tend's working directory.
#[test]
fn stop_file_relative_to_config_dir() {
    let tmp = TempDir::new();
    let fx = fixture();
    let conf_dir = tmp.join("conf");
    let work = tmp.join("work");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let cfg = write_config(
        &conf_dir,
        &json!({"stop_file": "halt",
                "processes": [{"name": "a", "command": fx,
                               "args": ["--ready-file", tmp.s("ready")]}]})
        .to_string(),
    );
    let mut t = TendCmd::new(&tmp)
        .cwd(&work)
        .args(["-c", cfg.to_str().unwrap()])
        .spawn();
    wait_pid_file(&tmp.join("ready"), T5);
    std::fs::write(work.join("halt"), "").unwrap();
    assert!(
        !poll_for(Duration::from_millis(1500), || !t.is_running()),
        "a halt file in the working directory is not the stop file\n{}",
        t.dump()
    );
    std::fs::write(conf_dir.join("halt"), "").unwrap();
    assert_eq!(t.expect_exit(T5), 0, "{}", t.dump());
    assert!(!conf_dir.join("halt").exists());
}

/// `--stop-file PATH` on the command line.
#[test]
fn stop_file_flag() {
    let tmp = TempDir::new();
    let fx = fixture();
    let stop = tmp.join("please-stop");
    let mut t = Tend::run(
        &tmp,
        &[
            "--stop-file",
            stop.to_str().unwrap(),
            "--",
            &fx,
            "--ready-file",
            &tmp.s("ready"),
        ],
    );
    wait_pid_file(&tmp.join("ready"), T5);
    std::fs::write(&stop, "").unwrap();
    assert!(t.wait_exit(T5).is_some(), "{}", t.dump());
    assert!(!stop.exists(), "stop file removed");
}

/// Two `tend run` on one DIR: the second exits 3 naming the holder's PID;
/// the lock file goes away with the holder.
#[test]
fn second_tend_on_same_dir_exits_3() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut a = Tend::run(&tmp, &["--", &fx, "--ready-file", &tmp.s("ready")]);
    wait_pid_file(&tmp.join("ready"), T5);
    let pidfile = tmp.state().join("tend.pid");
    wait_until(T5, "tend.pid holds tend's pid", || {
        read_pid(&pidfile) == Some(a.pid())
    });
    let mut b = Tend::run(&tmp, &["--", &fx, "--ready-file", &tmp.s("ready-b")]);
    assert_eq!(b.expect_exit(T5), 3, "{}", b.dump());
    assert!(
        b.stderr().contains(&a.pid().to_string()),
        "stderr names the holder {}\n{}",
        a.pid(),
        b.dump()
    );
    assert!(
        !tmp.join("ready-b").exists(),
        "the second tend started nothing"
    );
    assert!(a.is_running());
    a.signal(libc::SIGTERM);
    a.expect_exit(T5);
    assert!(!pidfile.exists(), "tend.pid removed on exit");
}

/// A lock file left by a dead tend is taken over.
#[test]
fn stale_pid_file_is_taken_over() {
    let tmp = TempDir::new();
    let fx = fixture();
    std::fs::create_dir_all(tmp.state()).unwrap();
    // A pid that is certainly not running (above the default pid_max range
    // users see would still be valid on big systems, so find a dead one).
    let mut dead = 999_999;
    while pid_alive(dead) {
        dead -= 1;
    }
    std::fs::write(tmp.state().join("tend.pid"), format!("{dead}\n")).unwrap();
    let t = Tend::run(&tmp, &["--", &fx, "--ready-file", &tmp.s("ready")]);
    wait_pid_file(&tmp.join("ready"), T5);
    wait_until(T5, "tend.pid updated", || {
        read_pid(&tmp.state().join("tend.pid")) == Some(t.pid())
    });
}

/// Client commands with no tend on DIR exit 3.
#[test]
fn client_without_tend_exits_3() {
    let tmp = TempDir::new();
    std::fs::create_dir_all(tmp.state()).unwrap();
    let dir = tmp.state();
    let out = run_tend(&["status", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let out = run_tend(&["--dir", dir.to_str().unwrap(), "status", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
}

/// `tend run` with neither `-c` nor `-- CMD` and no tend.json: exit 2 with
/// usage; with both: exit 2.
#[test]
fn run_usage_errors_exit_2() {
    let tmp = TempDir::new();
    let mut t = Tend::run(&tmp, &[]);
    assert_eq!(t.expect_exit(T5), 2, "{}", t.dump());
    assert!(!t.stderr().is_empty() || !t.stdout().is_empty(), "usage");
    drop(t);
    let tmp = TempDir::new();
    let fx = fixture();
    let cfg = write_config(
        tmp.path(),
        &json!({"processes": [{"name": "a", "command": fx}]}).to_string(),
    );
    let mut t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap(), "--", &fx]);
    assert_eq!(t.expect_exit(T5), 2, "{}", t.dump());
}

/// `tend.json` in the current directory is the default config.
#[test]
fn default_config_is_tend_json_in_cwd() {
    let tmp = TempDir::new();
    let fx = fixture();
    write_config(
        tmp.path(),
        &json!({"processes": [{"name": "dflt", "command": fx,
                               "args": ["--ready-file", tmp.s("ready")]}]})
        .to_string(),
    );
    let t = Tend::run(&tmp, &[]);
    wait_pid_file(&tmp.join("ready"), T5);
    wait_until(T5, "status names dflt", || t.proc_status("dflt").is_some());
}

/// Single-command name defaults to the basename of CMD.
#[test]
fn single_command_name_is_basename() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = Tend::run(&tmp, &["--", &fx, "--ready-file", &tmp.s("ready")]);
    let child = wait_pid_file(&tmp.join("ready"), T5);
    let mut last = None;
    let ok = poll_for(T5, || {
        last = t.proc_status("fixture");
        last.as_ref().is_some_and(|p| p["pid"] == child)
    });
    assert!(
        ok,
        "process named fixture with pid {child}: {last:?}\n{}",
        t.dump()
    );
}

/// `--env K=V` and `--cwd DIR` reach the child.
#[test]
fn env_and_cwd_flags() {
    let tmp = TempDir::new();
    let fx = fixture();
    let wd = tmp.join("wd");
    std::fs::create_dir_all(&wd).unwrap();
    let _t = TendCmd::new(&tmp)
        .env("INHERITED", "yes")
        .args([
            "--env",
            "FOO=bar baz",
            "--env",
            "EMPTY=",
            "--cwd",
            wd.to_str().unwrap(),
            "--",
            fx.as_str(),
            "--env-file",
            &tmp.s("env"),
            "--cwd-file",
            &tmp.s("cwd"),
            "--ready-file",
            &tmp.s("ready"),
        ])
        .spawn();
    wait_pid_file(&tmp.join("ready"), T5);
    let env = read_lossy(&tmp.join("env"));
    assert!(env.lines().any(|l| l == "FOO=bar baz"), "{env}");
    assert!(env.lines().any(|l| l == "EMPTY="), "{env}");
    assert!(env.lines().any(|l| l == "INHERITED=yes"), "{env}");
    assert_eq!(read_lossy(&tmp.join("cwd")).trim(), wd.to_str().unwrap());
}

/// Config `cwd` relative to the config file's directory; `env` applied.
#[test]
fn config_cwd_relative_to_config_file() {
    let tmp = TempDir::new();
    let fx = fixture();
    let conf_dir = tmp.join("conf");
    std::fs::create_dir_all(conf_dir.join("app")).unwrap();
    let cfg = write_config(
        &conf_dir,
        &json!({"processes": [{"name": "a", "command": fx, "cwd": "app",
                               "env": {"PORT": "3000"},
                               "args": ["--cwd-file", tmp.s("cwd"), "--env-file", tmp.s("env"),
                                        "--ready-file", tmp.s("ready")]}]})
        .to_string(),
    );
    let _t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap()]);
    wait_pid_file(&tmp.join("ready"), T5);
    assert_eq!(
        read_lossy(&tmp.join("cwd")).trim(),
        conf_dir.join("app").to_str().unwrap()
    );
    assert!(read_lossy(&tmp.join("env"))
        .lines()
        .any(|l| l == "PORT=3000"));
}

/// Context switches of every thread of `pid`.
fn ctxt_switches(pid: i32) -> u64 {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| read_lossy(&e.path().join("status")))
        .flat_map(|s| {
            s.lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// An idle tend (processes running, nothing due, default 60 s tick) does
/// not wake up: no fixed polling period.
#[test]
fn idle_tend_does_not_wake_up() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = Tend::run(
        &tmp,
        &[
            "--min-uptime",
            "100ms",
            "--",
            &fx,
            "--ready-file",
            &tmp.s("ready"),
        ],
    );
    wait_pid_file(&tmp.join("ready"), T5);
    wait_until(T5, "ready event", || {
        t.events().iter().any(|e| e["event"] == "ready")
    });
    // Let the transition to running settle, then observe 1.5 s.
    poll_for(Duration::from_millis(200), || false);
    let before = ctxt_switches(t.pid());
    poll_for(Duration::from_millis(1500), || false);
    let woke = ctxt_switches(t.pid()) - before;
    assert!(woke <= 3, "tend woke up {woke} times in 1.5 s of idleness");
}

/// Root only: `--user USER` runs the child as that user with its primary
/// group and its own supplementary groups (root's are dropped).
#[test]
fn user_flag_drops_privileges() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: --user needs root");
        return;
    }
    let name = std::ffi::CString::new("nobody").unwrap();
    // SAFETY: name is NUL-terminated; the result is read at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        eprintln!("skipped: no user nobody");
        return;
    }
    // SAFETY: pw is non-null and points to libc's static passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    let tmp = TempDir::new();
    // nobody must be able to run the fixture and write its files.
    let fx = tmp.join("fixture");
    std::fs::copy(fixture_bin(), &fx).unwrap();
    let shared = tmp.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let st = shared.join("st");
    let ready = shared.join("ready");
    let _t = Tend::run(
        &tmp,
        &[
            "--user",
            "nobody",
            "--",
            fx.to_str().unwrap(),
            "--status-proc",
            st.to_str().unwrap(),
            "--ready-file",
            ready.to_str().unwrap(),
        ],
    );
    wait_pid_file(&ready, T5);
    let s = read_lossy(&st);
    let field = |k: &str| -> Vec<String> {
        s.lines()
            .find(|l| l.starts_with(k))
            .map(|l| l[k.len()..].split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };
    assert!(field("Uid:").iter().all(|u| *u == uid.to_string()), "{s}");
    assert!(field("Gid:").iter().all(|g| *g == gid.to_string()), "{s}");
    assert!(
        !field("Groups:").contains(&"0".to_string()),
        "root group dropped: {s}"
    );
}
