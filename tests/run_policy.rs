//! Config-mode policies of `tend run`, black-box against SPEC §2 and §4:
//! breaker cooldown, the restart window, success exit codes, tend's own
//! exit code when everything has exited, limits, dependency order at start
//! and at shutdown, and hooks.

mod util;

use serde_json::{json, Value};
use std::time::Duration;
use util::*;

const T5: Duration = Duration::from_secs(5);

fn run_config(tmp: &TempDir, cfg: Value) -> Tend {
    let p = write_config(tmp.path(), &cfg.to_string());
    Tend::run(tmp, &["--quiet", "-c", p.to_str().unwrap()])
}

fn starts(tmp: &TempDir, rec: &str) -> usize {
    read_record(&tmp.join(rec)).len()
}

/// With `breaker_cooldown`, an open breaker closes after it and one start
/// is tried; `breaker.retry_at` says when.
#[test]
fn breaker_cooldown_tries_again() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "bad", "command": fx, "args": ["--record", tmp.s("rec"), "--exit-code", "1"],
             "restart_delay": "50ms", "backoff_factor": 1, "max_restarts": 1,
             "breaker_cooldown": "600ms"},
            {"name": "idle", "command": fx}
        ]}),
    );
    // 1 start + 1 restart, then the breaker opens.
    t.wait_state("bad", "failed", T5);
    let p = t.proc_status("bad").unwrap();
    assert_eq!(p["breaker"]["open"], true, "{p}");
    assert!(p["breaker"]["retry_at"].is_string(), "retry_at: {p}");
    assert_eq!(starts(&tmp, "rec"), 2);
    wait_until(T5, "a start after the cooldown", || {
        starts(&tmp, "rec") >= 3
    });
    let gaps = start_gaps_ms(&tmp.join("rec"));
    assert!(
        (550.0..=600.0 + SLACK_MS).contains(&gaps[1]),
        "one start tried after the 600 ms cooldown: gaps {gaps:?}\n{}",
        t.dump()
    );
    // It fails again: the breaker opens again rather than looping.
    t.wait_state("bad", "failed", T5);
    let ev = t.events();
    let opens = ev
        .iter()
        .filter(|e| e["event"] == "breaker_open" && e["name"] == "bad")
        .count();
    assert!(opens >= 2, "breaker_open twice\n{}", t.dump());
    assert!(
        !ev.iter()
            .any(|e| e["event"] == "gave_up" && e["name"] == "bad"),
        "no gave_up while a cooldown is set"
    );
}

/// Only restarts inside `restart_window` count: a process that fails
/// every ~450 ms with max_restarts 2 in a 600 ms window runs on.
#[test]
fn restart_window_forgets_old_restarts() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "w", "command": fx,
             "args": ["--record", tmp.s("rec"), "--crash-after", "400"],
             "restart_delay": "50ms", "min_uptime": "100ms", "max_restarts": 2,
             "restart_window": "600ms"}
        ]}),
    );
    let ok = poll_for(Duration::from_secs(6), || starts(&tmp, "rec") >= 5);
    assert!(ok, "keeps restarting\n{}", t.dump());
    let p = t.proc_status("w").unwrap();
    assert_ne!(p["state"], "failed", "{p}");
    assert!(p["breaker"]["failures"].as_u64().unwrap() <= 2, "{p}");
}

/// `success_exit_codes`: a listed code is a success, so `on-failure` does
/// not restart it, and tend exits 0 once everything has exited.
#[test]
fn success_exit_codes_are_successes() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "w", "command": fx, "restart": "on-failure",
             "success_exit_codes": [0, 3], "restart_delay": "50ms",
             "args": ["--record", tmp.s("rec"), "--exit-code", "3"]}
        ]}),
    );
    assert_eq!(t.expect_exit(T5), 0, "{}", t.dump());
    assert_eq!(starts(&tmp, "rec"), 1);
}

/// When every process has exited for good and one failed, tend exits with
/// the failing child's code (128+N for a signal).
#[test]
fn tend_exit_code_is_the_failing_childs() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "ok", "command": fx, "restart": "never", "args": ["--exit-code", "0"]},
            {"name": "bad", "command": fx, "restart": "never",
             "args": ["--crash-after", "100", "--exit-code", "7"]}
        ]}),
    );
    assert_eq!(t.expect_exit(T5), 7, "{}", t.dump());
    let tmp = TempDir::new();
    let mut t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "ok", "command": fx, "restart": "never", "args": ["--exit-code", "0"]},
            {"name": "sig", "command": fx, "restart": "never",
             "args": ["--crash-after", "100", "--kill-self", "KILL"]}
        ]}),
    );
    assert_eq!(t.expect_exit(T5), 137, "{}", t.dump());
    let tmp = TempDir::new();
    let mut t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "a", "command": fx, "restart": "never", "args": ["--exit-code", "0"]},
            {"name": "b", "command": fx, "restart": "on-failure",
             "args": ["--crash-after", "100", "--exit-code", "0"]}
        ]}),
    );
    assert_eq!(t.expect_exit(T5), 0, "{}", t.dump());
}

/// `last_exit` in status: code, signal name without SIG, time.
#[test]
fn last_exit_reports_code_and_signal() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "c", "command": fx, "restart": "never", "args": ["--exit-code", "9"]},
            {"name": "s", "command": fx, "restart": "never", "args": ["--kill-self", "TERM"]},
            {"name": "idle", "command": fx}
        ]}),
    );
    t.wait_state("c", "exited", T5);
    t.wait_state("s", "exited", T5);
    let c = t.proc_status("c").unwrap();
    assert_eq!(c["last_exit"]["code"], 9, "{c}");
    assert_eq!(c["last_exit"]["signal"], Value::Null, "{c}");
    assert!(c["last_exit"]["at"].is_string(), "{c}");
    let s = t.proc_status("s").unwrap();
    assert_eq!(s["last_exit"]["code"], Value::Null, "{s}");
    assert_eq!(s["last_exit"]["signal"], "TERM", "{s}");
}

/// `limits.runtime`: a process running past it is restarted.
#[test]
fn runtime_limit_restarts() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "w", "command": fx, "args": ["--record", tmp.s("rec")],
             "restart_delay": "50ms", "limits": {"runtime": "300ms"}}
        ]}),
    );
    let ok = poll_for(T5, || starts(&tmp, "rec") >= 3);
    assert!(ok, "restarted at the runtime limit\n{}", t.dump());
    let gaps = start_gaps_ms(&tmp.join("rec"));
    assert!(gaps.iter().all(|&g| g >= 300.0), "{gaps:?}");
}

/// `limits.memory`: a process group above it is restarted.
#[test]
fn memory_limit_restarts() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "w", "command": fx, "args": ["--record", tmp.s("rec"), "--alloc", "64"],
             "restart_delay": "50ms", "limits": {"memory": "16MiB"}}
        ]}),
    );
    let ok = poll_for(Duration::from_secs(10), || starts(&tmp, "rec") >= 2);
    assert!(ok, "restarted above the memory limit\n{}", t.dump());
}

/// `limits.procs`: a process group with more members is restarted.
#[test]
fn procs_limit_restarts() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "w", "command": fx, "args": ["--record", tmp.s("rec"), "--fork", "4"],
             "restart_delay": "50ms", "limits": {"procs": 3}}
        ]}),
    );
    let ok = poll_for(Duration::from_secs(10), || starts(&tmp, "rec") >= 2);
    assert!(ok, "restarted above the procs limit\n{}", t.dump());
}

/// `depends_on`: b starts once a is ready; at shutdown b stops before a.
#[test]
fn dependency_order_at_start_and_stop() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "b", "command": fx, "depends_on": {"a": "ready"},
             "args": ["--record", tmp.s("rb"), "--ready-file", tmp.s("readyb")]},
            {"name": "a", "command": fx, "min_uptime": "300ms",
             "args": ["--record", tmp.s("ra")]}
        ]}),
    );
    wait_pid_file(&tmp.join("readyb"), T5);
    // Order and spacing from tend's own events, so exec latency under load
    // does not matter: a is ready (after its 300 ms min_uptime) before b
    // is even starting.
    let ev = t.events();
    let find = |event: &str, name: &str| {
        ev.iter()
            .position(|e| e["event"] == event && e["name"] == name)
            .unwrap_or_else(|| panic!("{event} event for {name}\n{}", t.dump()))
    };
    assert!(find("ready", "a") < find("starting", "b"), "{}", t.dump());
    let ts = |i: usize| rfc3339_ms(ev[i]["ts"].as_str().unwrap()).unwrap();
    let gap = ts(find("starting", "b")) - ts(find("starting", "a"));
    assert!(
        gap >= 299,
        "b starting {gap} ms after a starting; a is ready after 300 ms"
    );
    t.signal(libc::SIGTERM);
    assert_eq!(t.expect_exit(T5), 0, "{}", t.dump());
    let ev = t.events();
    let pos = |name: &str| {
        ev.iter()
            .position(|e| e["event"] == "stopped" && e["name"] == name)
            .unwrap_or_else(|| panic!("stopped event for {name}\n{}", t.dump()))
    };
    assert!(pos("b") < pos("a"), "b stops before a\n{}", t.dump());
}

/// A hook runs its argv with `{name}`, `{event}`, `{error}` substituted.
#[test]
fn gave_up_hook_runs() {
    let tmp = TempDir::new();
    let fx = fixture();
    let out = tmp.s("hook.out");
    let _t = run_config(
        &tmp,
        json!({
            "hooks": {"gave_up": ["/bin/sh", "-c", "printf '%s|%s|%s\\n' \"$1\" \"$2\" \"$3\" >> \"$0\"",
                                   out, "{name}", "{event}", "{error}"]},
            "processes": [
                {"name": "bad", "command": fx, "args": ["--exit-code", "1"],
                 "restart_delay": "50ms", "max_restarts": 1},
                {"name": "idle", "command": fx}
            ]
        }),
    );
    // The shell creates the file before printf writes: wait for a line.
    wait_until(T5, "hook output", || {
        read_lossy(&tmp.join("hook.out")).ends_with('\n')
    });
    let text = read_lossy(&tmp.join("hook.out"));
    let fields: Vec<&str> = text.lines().next().unwrap_or("").split('|').collect();
    assert_eq!(fields.len(), 3, "{text}");
    assert_eq!(fields[0], "bad", "{text}");
    assert_eq!(fields[1], "gave_up", "{text}");
    assert!(!fields[2].is_empty() && fields[2] != "{error}", "{text}");
}

/// Durations may be integers in milliseconds; a command without a `/` is
/// looked up in PATH.
#[test]
fn integer_durations_and_path_lookup() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let mut t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "w", "command": "sh",
             "args": ["-c", format!("'{fx}' --record '{rec}' --exit-code 1")],
             "restart_delay": 150, "backoff_factor": 1, "max_restarts": 2,
             "min_uptime": 5000}
        ]}),
    );
    // Not a process that stays: when the breaker opens, tend is done or
    // waits; either way three starts happened 150 ms apart.
    wait_until(T5, "three starts", || starts(&tmp, "rec") >= 3);
    assert_eq!(backoff_delays(&t, "w")[..2], [150, 150], "{}", t.dump());
    let gaps = start_gaps_ms(&tmp.join("rec"));
    assert!(
        gaps.iter()
            .all(|&g| (145.0..=150.0 + SLACK_MS).contains(&g)),
        "restart_delay 150 means 150 ms: {gaps:?}\n{}",
        t.dump()
    );
    let _ = t.wait_exit(Duration::from_millis(10));
}

/// `maxRestarts: -1` (Node alias) is unlimited: far more than the default
/// 10 restarts and no breaker.
#[test]
fn unlimited_restarts_never_open_the_breaker() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_config(
        &tmp,
        json!({"processes": [
            {"name": "w", "command": fx, "args": ["--record", tmp.s("rec"), "--exit-code", "1"],
             "maxRestarts": -1, "restartDelay": 10, "backoff_factor": 1}
        ]}),
    );
    let ok = poll_for(Duration::from_secs(8), || starts(&tmp, "rec") >= 15);
    assert!(ok, "15 starts\n{}", t.dump());
    let p = t.proc_status("w").unwrap();
    assert_ne!(p["state"], "failed", "{p}");
    assert_eq!(p["breaker"]["open"], false, "{p}");
}
