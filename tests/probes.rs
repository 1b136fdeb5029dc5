//! Health probes and `depends_on` end to end (SPEC §2, §3, §4, issue 4):
//! the real `tend` binary with config files or `--health-*` flags,
//! supervising the fixture child serving real HTTP and TCP listeners whose
//! answers the tests switch through files. Covers liveness (restart after
//! exactly `failure_threshold` failures), readiness (ready/unready
//! transitions without restart, `tend health`), tcp and exec probes (exec
//! timeout kills the probe's whole process group), the startup probe gating
//! liveness, start and stop ordering by `depends_on`, cycles rejected by
//! `tend check`, and the single-command `--health-*` flags.

mod util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use util::*;

/// Generous: the CI machine is small and shared.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Write `cfg` as TMP/tend.json and start `tend run --quiet -c` on it.
fn start(tmp: &TempDir, cfg: &Value) -> Tend {
    let path = write_config(tmp.path(), &serde_json::to_string_pretty(cfg).unwrap());
    let path = path.to_string_lossy().into_owned();
    Tend::run(tmp, &["--quiet", "-c", &path])
}

/// Events of process `name` with kind `event`, in file order.
fn events_of(t: &Tend, name: &str, event: &str) -> Vec<Value> {
    t.events()
        .into_iter()
        .filter(|e| e["name"] == name && e["event"] == event)
        .collect()
}

/// Wait until `f(events)` holds; panic with the dump otherwise.
fn wait_events(t: &Tend, what: &str, timeout: Duration, f: impl Fn(&[Value]) -> bool) {
    if !poll_for(timeout, || f(&t.events())) {
        panic!(
            "timed out after {timeout:?} waiting for: {what}\n{}",
            t.dump()
        );
    }
}

/// Wait until the status object of `name` satisfies `f`; returns it.
fn wait_proc(
    t: &Tend,
    name: &str,
    what: &str,
    timeout: Duration,
    f: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = None;
    let ok = poll_for(timeout, || {
        last = t.proc_status(name);
        last.as_ref().is_some_and(&f)
    });
    if !ok {
        panic!(
            "timed out after {timeout:?} waiting for {name}: {what}; last status: {}\n{}",
            last.map(|v| v.to_string()).unwrap_or_else(|| "none".into()),
            t.dump()
        );
    }
    last.unwrap()
}

fn pid_of(t: &Tend, name: &str) -> Option<i64> {
    t.proc_status(name)?["pid"].as_i64()
}

/// `tend health NAMES... --dir DIR`, its exit code.
fn health(t: &Tend, names: &[&str]) -> i32 {
    let dir = t.dir.to_string_lossy().into_owned();
    let mut args = vec!["health", "--dir", dir.as_str()];
    args.extend_from_slice(names);
    let out = run_tend(&args);
    out.status.code().unwrap_or(-1)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Unix ms of an RFC 3339 UTC timestamp `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
fn rfc3339_ms(s: &str) -> i64 {
    let b = s.as_bytes();
    assert!(s.len() >= 20 && s.ends_with('Z'), "bad timestamp {s:?}");
    let num = |r: std::ops::Range<usize>| -> i64 { s[r].parse().unwrap() };
    let (y, mo, d) = (num(0..4), num(5..7), num(8..10));
    let (h, mi, se) = (num(11..13), num(14..16), num(17..19));
    let mut ms = 0;
    if b[19] == b'.' {
        let frac = &s[20..s.len() - 1];
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        ms = digits.parse().unwrap();
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    ((days * 24 + h) * 60 + mi) * 60_000 + se * 1000 + ms
}

fn ts_ms(ev: &Value) -> i64 {
    rfc3339_ms(ev["ts"].as_str().expect("event has ts"))
}

/// The index in `events` of the first event matching (name, event).
fn index_of(events: &[Value], name: &str, event: &str) -> Option<usize> {
    events
        .iter()
        .position(|e| e["name"] == name && e["event"] == event)
}

/// A tiny HTTP server owned by the test: answers every request with the
/// current `status` and records the status and wall-clock time (unix ms)
/// of each answer, so a test can count exactly how many failing probes
/// tend made before a given event.
struct CountingServer {
    port: u16,
    status: Arc<AtomicU16>,
    served: Arc<Mutex<Vec<(u16, i64)>>>,
    stop: Arc<AtomicBool>,
}

impl CountingServer {
    fn start() -> CountingServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let status = Arc::new(AtomicU16::new(200));
        let served = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sv, sp) = (status.clone(), served.clone(), stop.clone());
        std::thread::spawn(move || {
            while !sp.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.set_nonblocking(false);
                        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut req = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                            match c.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => req.extend_from_slice(&buf[..n]),
                            }
                        }
                        if !req.starts_with(b"GET ") {
                            continue;
                        }
                        let code = st.load(Ordering::SeqCst);
                        sv.lock().unwrap().push((code, now_ms()));
                        let _ = c.write_all(
                            format!(
                                "HTTP/1.0 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            )
                            .as_bytes(),
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        CountingServer {
            port,
            status,
            served,
            stop,
        }
    }

    fn set(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }

    /// Answers with `code` given at unix ms in `[from, to]`.
    fn count(&self, code: u16, from: i64, to: i64) -> usize {
        self.served
            .lock()
            .unwrap()
            .iter()
            .filter(|&&(c, t)| c == code && t >= from && t <= to)
            .count()
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Liveness
// ---------------------------------------------------------------------------

/// An HTTP liveness probe against the fixture's server: 200, then 500 →
/// restart after `failure_threshold` (3) failures at 100 ms: not before
/// 2 intervals after the switch, with the SPEC's `last_error`, `unhealthy`
/// then a new `started`, restarts +1; back to 200 the new run is healthy.
#[test]
fn liveness_http_500_restarts_after_threshold() {
    let tmp = TempDir::new();
    let port = free_port();
    let st = tmp.join("status");
    let url = format!("http://127.0.0.1:{port}/health");
    let cfg = json!({"processes": [{
        "name": "web",
        "command": fixture(),
        "args": ["--serve-http", format!("127.0.0.1:{port}"), "--status-file", tmp.s("status")],
        "min_uptime": "100ms",
        "restart_delay": "1s",
        "stop_timeout": "2s",
        "liveness": {"http": url, "interval": "100ms", "timeout": "1s", "failure_threshold": 3}
    }]});
    let t = start(&tmp, &cfg);
    let p = wait_proc(&t, "web", "running and healthy", WAIT, |p| {
        p["state"] == "running" && p["health"] == "healthy"
    });
    let pid1 = p["pid"].as_i64().unwrap();
    assert_eq!(p["restarts"], 0, "{p}");

    let switched = now_ms();
    std::fs::write(&st, "500").unwrap();
    wait_events(&t, "an unhealthy event", WAIT, |ev| {
        ev.iter()
            .any(|e| e["name"] == "web" && e["event"] == "unhealthy")
    });
    // Back to 200 at once: the restarted run (1 s later) must be healthy.
    std::fs::write(&st, "200").unwrap();
    let unhealthy = events_of(&t, "web", "unhealthy").remove(0);
    let err = format!("liveness {url}: status 500");
    assert_eq!(unhealthy["probe"], "liveness", "{unhealthy}");
    assert_eq!(unhealthy["error"], err.as_str(), "{unhealthy}");
    // Three failures 100 ms apart: the first may come right after the
    // switch, the third not before 200 ms later (10 ms of timestamp slack).
    let after = ts_ms(&unhealthy) - switched;
    assert!(
        after >= 190,
        "restarted {after} ms after the switch to 500, before 3 probes could fail\n{}",
        t.dump()
    );
    assert!(after < 5000, "unhealthy only {after} ms after the switch");

    // During the restart delay: last_error is the probe's complaint.
    let p = t.proc_status("web").unwrap();
    assert_eq!(p["last_error"], err.as_str(), "{p}");

    let p = wait_proc(&t, "web", "running, healthy, new pid", WAIT, |p| {
        p["state"] == "running"
            && p["health"] == "healthy"
            && p["pid"].as_i64().is_some_and(|x| x != pid1)
    });
    assert_eq!(p["restarts"], 1, "{p}");
    assert_eq!(p["starts"], 2, "{p}");
    assert!(!pid_alive(pid1 as i32), "old run {pid1} still alive");

    // unhealthy, then a new started (with the new pid) after it.
    let ev = t.events();
    let ui = index_of(&ev, "web", "unhealthy").unwrap();
    let new_pid = p["pid"].as_i64().unwrap();
    let si = ev
        .iter()
        .position(|e| e["name"] == "web" && e["event"] == "started" && e["pid"] == new_pid)
        .unwrap_or_else(|| panic!("no started event for pid {new_pid}\n{}", t.dump()));
    assert!(ui < si, "started before unhealthy\n{}", t.dump());
    assert_eq!(events_of(&t, "web", "unhealthy").len(), 1, "{}", t.dump());
}

/// Exactly `failure_threshold` failing probes happen before the restart
/// (counted by a server the test owns). A threshold of 4, not the default
/// 3, so the configured value is what counts.
#[test]
fn liveness_restarts_after_exactly_threshold_failures() {
    let tmp = TempDir::new();
    let srv = CountingServer::start();
    let cfg = json!({"processes": [{
        "name": "w",
        "command": fixture(),
        "min_uptime": "100ms",
        "restart_delay": "2s",
        "stop_timeout": "2s",
        "liveness": {
            "http": format!("http://127.0.0.1:{}/live", srv.port),
            "interval": "100ms", "timeout": "1s", "failure_threshold": 4
        }
    }]});
    let t = start(&tmp, &cfg);
    let p = wait_proc(&t, "w", "healthy", WAIT, |p| p["health"] == "healthy");
    let pid1 = p["pid"].as_i64().unwrap();
    srv.set(500);
    wait_events(&t, "an unhealthy event", WAIT, |ev| {
        ev.iter()
            .any(|e| e["name"] == "w" && e["event"] == "unhealthy")
    });
    srv.set(200);
    let verdict = ts_ms(&events_of(&t, "w", "unhealthy")[0]);
    let p = wait_proc(&t, "w", "running with a new pid", WAIT, |p| {
        p["state"] == "running" && p["pid"].as_i64().is_some_and(|x| x != pid1)
    });
    assert_eq!(p["restarts"], 1, "{p}");
    let new_pid = p["pid"].as_i64().unwrap();
    let restarted = events_of(&t, "w", "started")
        .iter()
        .find(|e| e["pid"] == new_pid)
        .map(ts_ms)
        .unwrap_or_else(|| panic!("no started event for {new_pid}\n{}", t.dump()));
    // Answers are timed before tend reads them: the failures that led to
    // the verdict are all at or before its timestamp.
    assert_eq!(
        srv.count(500, 0, verdict),
        4,
        "failing probes before the restart (failure_threshold 4)\n{}",
        t.dump()
    );
    // The stopped run is not probed during its stop and restart delay.
    assert_eq!(
        srv.count(500, verdict + 1, restarted - 1),
        0,
        "probes after the unhealthy verdict, before the new run\n{}",
        t.dump()
    );
}

/// A TCP liveness probe: the fixture's listener stops accepting → the
/// probe fails → restart; the new run listens again and is healthy.
#[test]
fn liveness_tcp_listener_closed_restarts() {
    let tmp = TempDir::new();
    let port = free_port();
    let stop = tmp.join("stop-accepting");
    let addr = format!("127.0.0.1:{port}");
    let cfg = json!({"processes": [{
        "name": "db",
        "command": fixture(),
        "args": ["--serve-tcp", addr, "--stop-accepting-file", tmp.s("stop-accepting")],
        "min_uptime": "100ms",
        "restart_delay": "1s",
        "stop_timeout": "2s",
        "liveness": {"tcp": addr, "interval": "100ms", "timeout": "1s", "failure_threshold": 2}
    }]});
    let t = start(&tmp, &cfg);
    let p = wait_proc(&t, "db", "healthy", WAIT, |p| p["health"] == "healthy");
    let pid1 = p["pid"].as_i64().unwrap();
    std::fs::write(&stop, "").unwrap();
    wait_events(&t, "an unhealthy event", WAIT, |ev| {
        ev.iter()
            .any(|e| e["name"] == "db" && e["event"] == "unhealthy")
    });
    std::fs::remove_file(&stop).unwrap();
    let ev = events_of(&t, "db", "unhealthy").remove(0);
    let err = ev["error"].as_str().unwrap_or("");
    assert_eq!(ev["probe"], "liveness", "{ev}");
    assert!(
        err.starts_with("liveness ") && err.contains(&addr),
        "unhealthy error should name the probe and address: {ev}"
    );
    let p = wait_proc(&t, "db", "running, healthy, new pid", WAIT, |p| {
        p["state"] == "running"
            && p["health"] == "healthy"
            && p["pid"].as_i64().is_some_and(|x| x != pid1)
    });
    assert_eq!(p["restarts"], 1, "{p}");
}

/// An exec probe that hangs past its timeout is a failure mentioning the
/// timeout, and its whole process group is killed (the shell and the
/// background `sleep` it started); at the threshold the process restarts.
#[test]
fn exec_probe_timeout_fails_and_kills_its_group() {
    let tmp = TempDir::new();
    let pids = tmp.s("probe-pids");
    // `sleep &` stays in the probe's process group (no job control), so
    // only a kill of the group, not of the shell, ends it.
    let script = format!("sleep 30 & echo $$ $! >> '{pids}'; wait");
    let cfg = json!({"processes": [{
        "name": "x",
        "command": fixture(),
        "min_uptime": "100ms",
        "restart_delay": "200ms",
        "stop_timeout": "2s",
        "liveness": {"exec": ["sh", "-c", script], "interval": "1500ms", "timeout": "500ms", "failure_threshold": 2}
    }]});
    let mut t = start(&tmp, &cfg);
    let mut first: Vec<i32> = Vec::new();
    wait_until(WAIT, "a probe wrote its pids", || {
        first = read_lossy(&tmp.join("probe-pids"))
            .lines()
            .next()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|s| s.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        first.len() == 2
    });
    for &pid in &first {
        t.track_pid(pid);
    }
    // `sleep 30` only ends early when killed: within the 500 ms timeout
    // plus slack for a loaded machine.
    if !poll_for(Duration::from_secs(4), || {
        first.iter().all(|&p| !pid_alive(p))
    }) {
        let alive: Vec<i32> = first.iter().copied().filter(|&p| pid_alive(p)).collect();
        panic!(
            "timed-out probe processes still alive: {alive:?} (shell, sleep = {first:?})\n{}",
            t.dump()
        );
    }
    let p = wait_proc(&t, "x", "a failed probe in last_error", WAIT, |p| {
        !p["last_error"].is_null()
    });
    let unhealthy_yet = !events_of(&t, "x", "unhealthy").is_empty();
    let pid1 = events_of(&t, "x", "started")[0]["pid"].as_i64().unwrap();
    let err = p["last_error"].as_str().unwrap().to_string();
    assert!(
        err.starts_with("liveness") && err.contains("timed out"),
        "last_error should say the liveness probe timed out: {err:?}"
    );
    if !unhealthy_yet {
        // One failure out of two: not restarted.
        assert_eq!(p["state"], "running", "{p}");
        assert_eq!(p["restarts"], 0, "{p}");
    }

    // The second timeout reaches the threshold: restart.
    wait_events(&t, "an unhealthy event", WAIT, |ev| {
        ev.iter()
            .any(|e| e["name"] == "x" && e["event"] == "unhealthy")
    });
    let ev = events_of(&t, "x", "unhealthy").remove(0);
    assert!(
        ev["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{ev}"
    );
    wait_proc(&t, "x", "restarted", WAIT, |p| {
        p["restarts"] == 1 && p["pid"].as_i64().is_some_and(|x| x != pid1)
    });
    // Every probe shell and sleep that ever ran is gone (the last attempt
    // may be running right now: allow it its timeout).
    let all: Vec<i32> = read_lossy(&tmp.join("probe-pids"))
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    for &pid in &all {
        t.track_pid(pid);
    }
    let n = all.len();
    let old = &all[..n.saturating_sub(2)];
    assert!(
        poll_for(Duration::from_secs(2), || old
            .iter()
            .all(|&p| !pid_alive(p))),
        "old probe processes still alive: {:?}\n{}",
        old.iter().filter(|&&p| pid_alive(p)).collect::<Vec<_>>(),
        t.dump()
    );
}

// ---------------------------------------------------------------------------
// Readiness and `tend health`
// ---------------------------------------------------------------------------

/// A readiness probe on 500 only marks the process not ready (same pid, no
/// restart, one `unready` event); back to 200 it is ready again (one more
/// `ready`). Only transitions make events. `tend health` follows.
#[test]
fn readiness_toggles_ready_without_restart() {
    let tmp = TempDir::new();
    let port = free_port();
    let st = tmp.join("status");
    let cfg = json!({"processes": [
        {
            "name": "web",
            "command": fixture(),
            "args": ["--serve-http", format!("127.0.0.1:{port}"), "--status-file", tmp.s("status")],
            "min_uptime": "100ms",
            "stop_timeout": "2s",
            "readiness": {
                "http": format!("http://127.0.0.1:{port}/ready"),
                "interval": "100ms", "timeout": "1s", "failure_threshold": 2
            }
        },
        {"name": "idle", "command": fixture(), "min_uptime": "100ms", "stop_timeout": "2s"}
    ]});
    let t = start(&tmp, &cfg);
    let p = wait_proc(&t, "web", "ready", WAIT, |p| p["ready"] == true);
    let pid = p["pid"].as_i64().unwrap();
    wait_proc(&t, "idle", "ready", WAIT, |p| p["ready"] == true);
    assert_eq!(health(&t, &["web"]), 0);
    assert_eq!(health(&t, &[]), 0);

    // About ten successful probes: still exactly one `ready` event.
    wait_proc(&t, "web", "up for 1 s", WAIT, |p| {
        p["uptime_ms"].as_i64().is_some_and(|u| u >= 1000)
    });
    assert_eq!(events_of(&t, "web", "ready").len(), 1, "{}", t.dump());

    std::fs::write(&st, "500").unwrap();
    let p = wait_proc(&t, "web", "not ready", WAIT, |p| p["ready"] == false);
    assert_eq!(p["pid"], pid, "readiness failure must not restart: {p}");
    assert_eq!(p["state"], "running", "{p}");
    assert_eq!(p["restarts"], 0, "{p}");
    assert_eq!(p["health"], "unknown", "no liveness probe: {p}");
    let e = p["last_error"].as_str().unwrap_or("");
    assert!(
        e.starts_with("readiness http://127.0.0.1:") && e.ends_with("status 500"),
        "{p}"
    );
    assert_eq!(health(&t, &["web"]), 1);
    assert_eq!(health(&t, &[]), 1);
    assert_eq!(health(&t, &["idle"]), 0);

    // More failing probes: still one `unready`.
    let since = now_ms();
    wait_proc(&t, "web", "500 for 600 ms", WAIT, |_| {
        now_ms() - since >= 600
    });
    assert_eq!(events_of(&t, "web", "unready").len(), 1, "{}", t.dump());
    assert_eq!(pid_of(&t, "web"), Some(pid));

    std::fs::write(&st, "200").unwrap();
    let p = wait_proc(&t, "web", "ready again", WAIT, |p| p["ready"] == true);
    assert_eq!(p["pid"], pid, "{p}");
    assert_eq!(p["restarts"], 0, "{p}");
    assert!(p["last_error"].is_null(), "recovered: {p}");
    assert_eq!(health(&t, &["web"]), 0);
    let since = now_ms();
    wait_proc(&t, "web", "200 for 600 ms", WAIT, |_| {
        now_ms() - since >= 600
    });
    let ev = t.events();
    let web: Vec<&str> = ev
        .iter()
        .filter(|e| e["name"] == "web")
        .filter_map(|e| e["event"].as_str())
        .filter(|k| matches!(*k, "ready" | "unready" | "started" | "unhealthy"))
        .collect();
    assert_eq!(
        web,
        ["started", "ready", "unready", "ready"],
        "{}",
        t.dump()
    );
    assert_eq!(
        health(&t, &["nosuch"]),
        1,
        "an unknown name is not healthy (SPEC §6)"
    );
}

// ---------------------------------------------------------------------------
// Startup probe
// ---------------------------------------------------------------------------

/// The startup probe passes only once the test creates a file (~2 s
/// later): meanwhile the state stays `starting` (despite a 100 ms
/// min_uptime) and liveness does not run (its probe appends to a file that
/// stays absent); then `running`, and liveness runs.
#[test]
fn startup_probe_gates_liveness_and_running() {
    let tmp = TempDir::new();
    let gate = tmp.s("started-ok");
    let live = tmp.s("liveness-ran");
    let cfg = json!({"processes": [{
        "name": "app",
        "command": fixture(),
        "min_uptime": "100ms",
        "stop_timeout": "2s",
        "startup": {"exec": ["test", "-f", gate], "interval": "100ms", "failure_threshold": 100},
        "liveness": {"exec": ["sh", "-c", format!("echo x >> '{live}'")], "interval": "100ms"},
        "readiness": {"exec": ["sh", "-c", format!("echo x >> '{live}.r'")], "interval": "100ms"}
    }]});
    let t = start(&tmp, &cfg);
    wait_proc(&t, "app", "spawned", WAIT, |p| !p["pid"].is_null());
    let t0 = Instant::now();
    let mut violated = None;
    poll_for(Duration::from_secs(2), || {
        let p = t.proc_status("app");
        let state = p
            .as_ref()
            .and_then(|p| p["state"].as_str().map(String::from));
        if state.as_deref() != Some("starting")
            || tmp.join("liveness-ran").exists()
            || tmp.join("liveness-ran.r").exists()
        {
            violated = Some((t0.elapsed(), p));
            return true;
        }
        false
    });
    if let Some((at, p)) = violated {
        panic!(
            "before the startup probe passed ({at:?} in): state must be starting and no liveness/readiness run; status {p:?}, liveness file exists: {}\n{}",
            tmp.join("liveness-ran").exists(),
            t.dump()
        );
    }
    assert_eq!(
        t.proc_status("app").unwrap()["ready"],
        false,
        "not ready while starting"
    );
    std::fs::write(&gate, "").unwrap();
    wait_proc(&t, "app", "running", WAIT, |p| p["state"] == "running");
    wait_until(WAIT, "liveness probe ran", || {
        tmp.join("liveness-ran").exists()
    });
    let p = wait_proc(&t, "app", "healthy and ready", WAIT, |p| {
        p["health"] == "healthy" && p["ready"] == true
    });
    assert_eq!(p["restarts"], 0, "{p}");
}

// ---------------------------------------------------------------------------
// depends_on
// ---------------------------------------------------------------------------

/// `b` depends on `a` being ready; `a` is ready only once a file exists:
/// `b` does not start before the file is created. `c` depends on `a`
/// "started": it starts without waiting for readiness.
#[test]
fn depends_on_ready_waits_and_started_does_not() {
    let tmp = TempDir::new();
    let gate = tmp.s("a-ready");
    let rec = |n: &str| tmp.s(format!("rec-{n}"));
    let cfg = json!({"processes": [
        {"name": "b", "command": fixture(), "args": ["--record", rec("b")],
         "min_uptime": "100ms", "stop_timeout": "2s", "depends_on": {"a": "ready"}},
        {"name": "c", "command": fixture(), "args": ["--record", rec("c")],
         "min_uptime": "100ms", "stop_timeout": "2s", "depends_on": {"a": "started"}},
        {"name": "a", "command": fixture(), "args": ["--record", rec("a")],
         "min_uptime": "100ms", "stop_timeout": "2s",
         "readiness": {"exec": ["test", "-f", gate], "interval": "100ms"}}
    ]});
    let t = start(&tmp, &cfg);
    wait_until(WAIT, "a and c started", || {
        !read_record(&tmp.join("rec-a")).is_empty() && !read_record(&tmp.join("rec-c")).is_empty()
    });
    // "started" means a has a pid: c may run its first instruction before
    // a does, so compare tend's events, not the children's records.
    let ev = t.events();
    let (a_started, c_starting) = (
        index_of(&ev, "a", "started").unwrap(),
        index_of(&ev, "c", "starting").unwrap(),
    );
    assert!(
        a_started < c_starting,
        "c (depends on a started) was started before a\n{}",
        t.dump()
    );
    wait_proc(&t, "a", "running", WAIT, |p| p["state"] == "running");
    // a runs but is not ready: b must not start (1 s of a not ready).
    let t0 = Instant::now();
    let early = poll_for(Duration::from_secs(1), || tmp.join("rec-b").exists());
    assert!(
        !early,
        "b started {:?} after a was running but before a was ready\n{}",
        t0.elapsed(),
        t.dump()
    );
    let b = t.proc_status("b").unwrap();
    assert!(b["pid"].is_null(), "b has a pid before a is ready: {b}");

    let gate_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::fs::write(&gate, "").unwrap();
    wait_until(WAIT, "b started", || {
        !read_record(&tmp.join("rec-b")).is_empty()
    });
    let b = read_record(&tmp.join("rec-b"))[0].1;
    assert!(b >= gate_ns, "b started before a was ready");
    wait_proc(&t, "b", "running", WAIT, |p| p["state"] == "running");
    let ev = t.events();
    let a_ready = index_of(&ev, "a", "ready").unwrap();
    let b_start = index_of(&ev, "b", "starting").unwrap();
    assert!(
        a_ready < b_start,
        "events: b starting before a ready\n{}",
        t.dump()
    );
}

/// Graceful shutdown stops dependents before their dependencies: with
/// c → b → a, `c` is stopped before `b` is asked to stop, and `b` before
/// `a`. `b` ignores TERM (killed after its 500 ms stop_timeout), so `a`
/// stopping in parallel with it would show.
#[test]
fn shutdown_stops_dependents_first() {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [
        {"name": "a", "command": fixture(), "min_uptime": "100ms", "stop_timeout": "5s"},
        {"name": "b", "command": fixture(), "args": ["--ignore", "TERM"],
         "min_uptime": "100ms", "stop_timeout": "500ms", "depends_on": {"a": "started"}},
        {"name": "c", "command": fixture(), "min_uptime": "100ms", "stop_timeout": "5s",
         "depends_on": {"b": "started"}},
        {"name": "solo", "command": fixture(), "min_uptime": "100ms", "stop_timeout": "5s"}
    ]});
    let mut t = start(&tmp, &cfg);
    for n in ["a", "b", "c", "solo"] {
        t.wait_state(n, "running", WAIT);
    }
    let dir = t.dir.to_string_lossy().into_owned();
    let out = run_tend(&["shutdown", "--dir", &dir]);
    assert!(out.status.success(), "{}", show(&out));
    let code = t.expect_exit(WAIT);
    assert_eq!(code, 0, "{}", t.dump());
    let ev = t.events();
    let idx = |n: &str, k: &str| {
        index_of(&ev, n, k).unwrap_or_else(|| panic!("no {k} event for {n}\n{}", t.dump()))
    };
    assert!(
        idx("c", "stopped") < idx("b", "stopping"),
        "b asked to stop before its dependent c stopped\n{}",
        t.dump()
    );
    assert!(
        idx("b", "stopped") < idx("a", "stopping"),
        "a asked to stop before its dependent b stopped\n{}",
        t.dump()
    );
    idx("solo", "stopped");
}

/// A `depends_on` cycle is a config error naming the cycle.
#[test]
fn check_rejects_depends_on_cycle() {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [
        {"name": "a", "command": "true", "depends_on": {"b": "started"}},
        {"name": "b", "command": "true", "depends_on": {"a": "ready"}}
    ]});
    let path = write_config(tmp.path(), &cfg.to_string());
    let out = run_tend(&["check", "-c", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a -> b -> a"), "{}", show(&out));

    // `run` refuses it the same way, starting nothing.
    let mut t = Tend::run(&tmp, &["--quiet", "-c", path.to_str().unwrap()]);
    assert_eq!(t.expect_exit(WAIT), 2, "{}", t.dump());
    assert!(t.stderr().contains("a -> b -> a"), "{}", t.dump());
}

// ---------------------------------------------------------------------------
// Single-command mode: --health-*
// ---------------------------------------------------------------------------

/// `--health-cmd 'test -f FILE' --health-interval 100ms --health-retries 2`
/// is a liveness probe: removing FILE restarts the process.
#[test]
fn single_command_health_cmd_restarts_on_failure() {
    let tmp = TempDir::new();
    let ok = tmp.join("ok");
    std::fs::write(&ok, "").unwrap();
    let cmd = format!("test -f '{}'", ok.display());
    let fx = fixture();
    let t = Tend::run(
        &tmp,
        &[
            "--quiet",
            "--name",
            "svc",
            "--min-uptime",
            "100ms",
            "--restart-delay",
            "1s",
            "--stop-timeout",
            "2s",
            "--health-cmd",
            &cmd,
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
            "--",
            &fx,
        ],
    );
    let p = wait_proc(&t, "svc", "healthy", WAIT, |p| p["health"] == "healthy");
    let pid1 = p["pid"].as_i64().unwrap();
    std::fs::remove_file(&ok).unwrap();
    wait_events(&t, "an unhealthy event", WAIT, |ev| {
        ev.iter()
            .any(|e| e["name"] == "svc" && e["event"] == "unhealthy")
    });
    std::fs::write(&ok, "").unwrap();
    let p = wait_proc(&t, "svc", "restarted, running and healthy", WAIT, |p| {
        p["state"] == "running"
            && p["health"] == "healthy"
            && p["pid"].as_i64().is_some_and(|x| x != pid1)
    });
    assert_eq!(p["restarts"], 1, "{p}");
}

/// `--health-http URL` probes the child's HTTP server: healthy on 200,
/// unhealthy (and restarted) on 500.
#[test]
fn single_command_health_http() {
    let tmp = TempDir::new();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/h");
    let fx = fixture();
    let (addr, st) = (format!("127.0.0.1:{port}"), tmp.s("status"));
    let t = Tend::run(
        &tmp,
        &[
            "--quiet",
            "--name",
            "web",
            "--min-uptime",
            "100ms",
            "--restart-delay",
            "1s",
            "--stop-timeout",
            "2s",
            "--health-http",
            &url,
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
            "--",
            &fx,
            "--serve-http",
            &addr,
            "--status-file",
            &st,
        ],
    );
    let p = wait_proc(&t, "web", "healthy", WAIT, |p| p["health"] == "healthy");
    let pid1 = p["pid"].as_i64().unwrap();
    std::fs::write(&st, "500").unwrap();
    wait_events(&t, "an unhealthy event", WAIT, |ev| {
        ev.iter()
            .any(|e| e["name"] == "web" && e["event"] == "unhealthy")
    });
    std::fs::write(&st, "200").unwrap();
    let ev = events_of(&t, "web", "unhealthy").remove(0);
    assert_eq!(
        ev["error"],
        format!("liveness {url}: status 500").as_str(),
        "{ev}"
    );
    wait_proc(&t, "web", "restarted and healthy", WAIT, |p| {
        p["health"] == "healthy" && p["pid"].as_i64().is_some_and(|x| x != pid1)
    });
}

/// `--health-tcp HOST:PORT` probes the child's listener: healthy while it
/// accepts, restarted when it stops.
#[test]
fn single_command_health_tcp() {
    let tmp = TempDir::new();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let stop = tmp.join("stop");
    let fx = fixture();
    let stop_s = tmp.s("stop");
    let t = Tend::run(
        &tmp,
        &[
            "--quiet",
            "--name",
            "db",
            "--min-uptime",
            "100ms",
            "--restart-delay",
            "1s",
            "--stop-timeout",
            "2s",
            "--health-tcp",
            &addr,
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
            "--",
            &fx,
            "--serve-tcp",
            &addr,
            "--stop-accepting-file",
            &stop_s,
        ],
    );
    let p = wait_proc(&t, "db", "healthy", WAIT, |p| p["health"] == "healthy");
    let pid1 = p["pid"].as_i64().unwrap();
    std::fs::write(&stop, "").unwrap();
    wait_events(&t, "an unhealthy event", WAIT, |ev| {
        ev.iter()
            .any(|e| e["name"] == "db" && e["event"] == "unhealthy")
    });
    std::fs::remove_file(&stop).unwrap();
    wait_proc(&t, "db", "restarted and healthy", WAIT, |p| {
        p["health"] == "healthy" && p["pid"].as_i64().is_some_and(|x| x != pid1)
    });
}

// ---------------------------------------------------------------------------
// More probe semantics
// ---------------------------------------------------------------------------

/// A startup probe that never passes restarts the process after
/// `failure_threshold` failures (SPEC §3), and the process is never
/// `running` meanwhile.
#[test]
fn startup_probe_failure_restarts() {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [{
        "name": "slow",
        "command": fixture(),
        "min_uptime": "100ms",
        "restart_delay": "1s",
        "stop_timeout": "2s",
        "startup": {"exec": ["false"], "interval": "100ms", "failure_threshold": 3}
    }]});
    let t = start(&tmp, &cfg);
    wait_events(&t, "an unhealthy event", WAIT, |ev| {
        ev.iter()
            .any(|e| e["name"] == "slow" && e["event"] == "unhealthy")
    });
    let ev = events_of(&t, "slow", "unhealthy").remove(0);
    assert_eq!(ev["probe"], "startup", "{ev}");
    assert!(
        ev["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("startup")),
        "{ev}"
    );
    let started = events_of(&t, "slow", "starting").remove(0);
    let after = ts_ms(&ev) - ts_ms(&started);
    assert!(
        after >= 190,
        "startup failed {after} ms after start: before 3 probes"
    );
    wait_proc(&t, "slow", "restarted", WAIT, |p| p["restarts"] == 1);
    assert!(
        !t.events()
            .iter()
            .any(|e| e["name"] == "slow" && e["event"] == "ready"),
        "never ready without passing startup\n{}",
        t.dump()
    );
}

/// HTTP probe success is a status 200–399: 302 is ready, 404 is not.
#[test]
fn http_probe_status_classes() {
    let tmp = TempDir::new();
    let port = free_port();
    let st = tmp.join("status");
    std::fs::write(&st, "302").unwrap();
    let url = format!("http://127.0.0.1:{port}/r");
    let cfg = json!({"processes": [{
        "name": "web",
        "command": fixture(),
        "args": ["--serve-http", format!("127.0.0.1:{port}"), "--status-file", tmp.s("status")],
        "min_uptime": "100ms",
        "stop_timeout": "2s",
        "readiness": {"http": url, "interval": "100ms", "timeout": "1s", "failure_threshold": 1}
    }]});
    let t = start(&tmp, &cfg);
    wait_proc(&t, "web", "ready on 302", WAIT, |p| p["ready"] == true);
    std::fs::write(&st, "399").unwrap();
    let since = now_ms();
    wait_proc(&t, "web", "399 for 400 ms", WAIT, |_| {
        now_ms() - since >= 400
    });
    assert_eq!(events_of(&t, "web", "unready").len(), 0, "{}", t.dump());
    std::fs::write(&st, "404").unwrap();
    let p = wait_proc(&t, "web", "not ready on 404", WAIT, |p| p["ready"] == false);
    assert_eq!(
        p["last_error"],
        format!("readiness {url}: status 404").as_str(),
        "{p}"
    );
    assert_eq!(p["restarts"], 0, "{p}");
}

/// An HTTP probe against a server that accepts the connection but never
/// answers fails by timeout, it does not hang tend.
#[test]
fn http_probe_silent_server_times_out() {
    let tmp = TempDir::new();
    // Bound and listening, never accepting: connects succeed (backlog),
    // no answer ever comes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/");
    let cfg = json!({"processes": [
        {"name": "web", "command": fixture(), "min_uptime": "100ms", "stop_timeout": "2s",
         "readiness": {"http": url, "interval": "200ms", "timeout": "300ms", "failure_threshold": 1}},
        {"name": "other", "command": fixture(), "min_uptime": "100ms", "stop_timeout": "2s"}
    ]});
    let t = start(&tmp, &cfg);
    let t0 = Instant::now();
    let p = wait_proc(&t, "web", "a probe error", WAIT, |p| {
        !p["last_error"].is_null()
    });
    let e = p["last_error"].as_str().unwrap();
    assert!(
        e.starts_with(&format!("readiness {url}")) && e.contains("timed out"),
        "{p}"
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "timed out too early"
    );
    assert_eq!(p["ready"], false, "{p}");
    // tend kept serving meanwhile.
    t.wait_state("other", "running", WAIT);
    drop(silent);
}

/// `initial_delay`: the first liveness probe runs no sooner.
#[test]
fn liveness_initial_delay() {
    let tmp = TempDir::new();
    let live = tmp.s("live");
    let cfg = json!({"processes": [{
        "name": "x",
        "command": fixture(),
        "min_uptime": "100ms",
        "stop_timeout": "2s",
        "liveness": {"exec": ["sh", "-c", format!("date +%s%N >> '{live}'")],
                     "interval": "100ms", "initial_delay": "1s"}
    }]});
    let t = start(&tmp, &cfg);
    wait_until(WAIT, "liveness ran", || {
        !read_lossy(&tmp.join("live")).is_empty()
    });
    let first_ns: i64 = read_lossy(&tmp.join("live"))
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // `starting` is written before the spawn: a safe anchor even when a
    // loaded machine delays the `started` line.
    let starting = events_of(&t, "x", "starting").remove(0);
    let gap = first_ns / 1_000_000 - ts_ms(&starting);
    assert!(
        gap >= 990,
        "first liveness probe {gap} ms after start, initial_delay is 1s"
    );
    assert!(gap < 8000, "first liveness probe only {gap} ms after start");
}

/// No probe runs while the process is stopped on request.
#[test]
fn no_probes_while_stopped() {
    let tmp = TempDir::new();
    let live = tmp.s("live");
    let cfg = json!({"processes": [{
        "name": "x",
        "command": fixture(),
        "min_uptime": "100ms",
        "stop_timeout": "2s",
        "liveness": {"exec": ["sh", "-c", format!("echo x >> '{live}'")], "interval": "100ms"}
    }]});
    let t = start(&tmp, &cfg);
    wait_until(WAIT, "liveness ran", || {
        !read_lossy(&tmp.join("live")).is_empty()
    });
    let dir = t.dir.to_string_lossy().into_owned();
    let out = run_tend(&["stop", "x", "--dir", &dir]);
    assert!(out.status.success(), "{}", show(&out));
    t.wait_state("x", "stopped", WAIT);
    // A probe already running when the stop began may still finish.
    let settle = now_ms();
    wait_proc(&t, "x", "stopped 300 ms", WAIT, |_| {
        now_ms() - settle >= 300
    });
    let n = read_lossy(&tmp.join("live")).lines().count();
    let grew = poll_for(Duration::from_millis(600), || {
        read_lossy(&tmp.join("live")).lines().count() != n
    });
    assert!(!grew, "liveness probe ran while stopped\n{}", t.dump());
    let p = t.proc_status("x").unwrap();
    assert_eq!(p["ready"], false, "{p}");
}

/// `depends_on` "healthy": b waits for a's liveness probe to pass.
#[test]
fn depends_on_healthy_waits_for_liveness() {
    let tmp = TempDir::new();
    let gate = tmp.s("a-live");
    let cfg = json!({"processes": [
        {"name": "a", "command": fixture(), "min_uptime": "100ms", "stop_timeout": "2s",
         "restart_delay": "5s",
         "liveness": {"exec": ["test", "-f", gate], "interval": "100ms", "failure_threshold": 100}},
        {"name": "b", "command": fixture(), "args": ["--record", tmp.s("rec-b")],
         "min_uptime": "100ms", "stop_timeout": "2s", "depends_on": {"a": "healthy"}}
    ]});
    let t = start(&tmp, &cfg);
    t.wait_state("a", "running", WAIT);
    let early = poll_for(Duration::from_millis(800), || tmp.join("rec-b").exists());
    assert!(!early, "b started before a was healthy\n{}", t.dump());
    let gate_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::fs::write(&gate, "").unwrap();
    wait_until(WAIT, "b started", || {
        !read_record(&tmp.join("rec-b")).is_empty()
    });
    assert!(read_record(&tmp.join("rec-b"))[0].1 >= gate_ns);
}

/// `--health-start-period`: failures in the first period do not count.
#[test]
fn single_command_health_start_period() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = Tend::run(
        &tmp,
        &[
            "--quiet",
            "--name",
            "s",
            "--min-uptime",
            "100ms",
            "--restart-delay",
            "5s",
            "--stop-timeout",
            "2s",
            "--health-cmd",
            "false",
            "--health-interval",
            "100ms",
            "--health-retries",
            "1",
            "--health-start-period",
            "1500ms",
            "--",
            &fx,
        ],
    );
    wait_events(&t, "an unhealthy event", WAIT, |ev| {
        ev.iter()
            .any(|e| e["name"] == "s" && e["event"] == "unhealthy")
    });
    let started = events_of(&t, "s", "starting").remove(0);
    let bad = events_of(&t, "s", "unhealthy").remove(0);
    let after = ts_ms(&bad) - ts_ms(&started);
    assert!(
        after >= 1490,
        "unhealthy {after} ms after start, inside the 1.5 s start period\n{}",
        t.dump()
    );
    assert!(after < 6000, "unhealthy only {after} ms after start");
}

/// Readiness thresholds are exact: `failure_threshold` failing answers
/// before `unready`, `success_threshold` good answers before `ready`
/// (counted by a server the test owns, timed before tend reads them).
#[test]
fn readiness_thresholds_are_exact() {
    let tmp = TempDir::new();
    let srv = CountingServer::start();
    let cfg = json!({"processes": [{
        "name": "r",
        "command": fixture(),
        "min_uptime": "100ms",
        "stop_timeout": "2s",
        "readiness": {
            "http": format!("http://127.0.0.1:{}/ready", srv.port),
            "interval": "100ms", "timeout": "1s",
            "failure_threshold": 3, "success_threshold": 2
        }
    }]});
    let t = start(&tmp, &cfg);
    let p = wait_proc(&t, "r", "ready", WAIT, |p| p["ready"] == true);
    let ready1 = ts_ms(&events_of(&t, "r", "ready")[0]);
    // Probes may pass before min_uptime ends: at least 2 successes.
    assert!(srv.count(200, 0, ready1) >= 2, "ready before 2 successes");
    let switched = now_ms();
    srv.set(500);
    wait_proc(&t, "r", "not ready", WAIT, |p| p["ready"] == false);
    let unready = ts_ms(&events_of(&t, "r", "unready")[0]);
    assert_eq!(
        srv.count(500, switched, unready),
        3,
        "failing probes before unready (failure_threshold 3)\n{}",
        t.dump()
    );
    let back = now_ms();
    srv.set(200);
    wait_proc(&t, "r", "ready again", WAIT, |p| p["ready"] == true);
    let ready2 = ts_ms(&events_of(&t, "r", "ready")[1]);
    assert_eq!(
        srv.count(200, back, ready2),
        2,
        "good probes before ready again (success_threshold 2)\n{}",
        t.dump()
    );
    assert_eq!(t.proc_status("r").unwrap()["pid"], p["pid"]);
}

/// An exec probe given as a string runs through `/bin/sh -c`; a failing
/// one's exit status and output are in `last_error`.
#[test]
fn exec_probe_string_form_and_error_text() {
    let tmp = TempDir::new();
    let flag = tmp.s("flag");
    let cfg = json!({"processes": [{
        "name": "e",
        "command": fixture(),
        "min_uptime": "100ms",
        "stop_timeout": "2s",
        "readiness": {
            "exec": format!("test -f '{flag}' || {{ echo boom-$((40+2)); exit 3; }}"),
            "interval": "100ms", "failure_threshold": 1
        }
    }]});
    let t = start(&tmp, &cfg);
    let p = wait_proc(&t, "e", "a probe error", WAIT, |p| {
        !p["last_error"].is_null()
    });
    let e = p["last_error"].as_str().unwrap();
    assert!(e.starts_with("readiness"), "{p}");
    assert!(e.contains("exit status 3"), "{p}");
    assert!(e.contains("boom-42"), "output of the probe, run by sh: {p}");
    assert_eq!(p["ready"], false, "{p}");
    std::fs::write(&flag, "").unwrap();
    wait_proc(&t, "e", "ready", WAIT, |p| {
        p["ready"] == true && p["last_error"].is_null()
    });
}

/// Liveness restarts count toward the breaker: with `max_restarts` 2, a
/// process whose liveness always fails is restarted twice, then the
/// breaker opens and it gives up; it being the only process, tend exits
/// with the last run's status (killed by TERM: 143).
#[test]
fn liveness_restarts_trip_the_breaker() {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [{
        "name": "sick",
        "command": fixture(),
        "min_uptime": "100ms",
        "restart_delay": "100ms",
        "max_restarts": 2,
        "stop_timeout": "2s",
        "liveness": {"exec": ["false"], "interval": "100ms", "failure_threshold": 1}
    }]});
    let mut t = start(&tmp, &cfg);
    let code = t.expect_exit(WAIT);
    let count = |k: &str| events_of(&t, "sick", k).len();
    assert_eq!(count("started"), 3, "{}", t.dump());
    assert_eq!(count("unhealthy"), 3, "{}", t.dump());
    assert_eq!(count("breaker_open"), 1, "{}", t.dump());
    assert_eq!(count("gave_up"), 1, "{}", t.dump());
    let b = events_of(&t, "sick", "breaker_open").remove(0);
    assert!(
        b["error"].as_str().is_some_and(|e| e.contains("liveness")),
        "the breaker's error should keep the cause: {b}"
    );
    assert_eq!(code, 128 + libc::SIGTERM, "{}", t.dump());
}
