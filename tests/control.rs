//! tend's control plane end to end (issue 3): the real binary, real
//! fixture children, and the client commands `status`, `start`, `stop`,
//! `restart`, `reset`, `health`, `logs`, `events` and `shutdown` against
//! it; the control socket itself (mode, peer uid check, garbage, many
//! clients at once); and the `gave_up` hook. `--detach` lives in
//! `tests/detach.rs`.
//!
//! Every test has its own temp dir and `--dir`, waits on conditions with
//! deadlines, and leaves the harness to kill what it started.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use util::*;

/// Generous: the CI machine is small and shared.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------
// Helpers local to this file.

/// Write `cfg` as DIR/../tend.json and run `tend run --quiet -c` on it;
/// returns once `tend status` answers.
fn start(tmp: &TempDir, cfg: serde_json::Value) -> Tend {
    let path = write_config(tmp.path(), &serde_json::to_string_pretty(&cfg).unwrap());
    let t = Tend::run(tmp, &["--quiet", "-c", path.to_str().unwrap()]);
    let ok = poll_for(WAIT, || t.status_json().is_some());
    assert!(ok, "tend status never answered\n{}", t.dump());
    t
}

/// A process entry running the fixture with `args`, plus extra keys.
fn fx_proc(name: &str, args: &[&str], extra: serde_json::Value) -> serde_json::Value {
    let mut p = serde_json::json!({
        "name": name,
        "command": fixture(),
        "args": args,
        "min_uptime": "100ms",
        "stop_timeout": "2s",
    });
    if let serde_json::Value::Object(m) = extra {
        for (k, v) in m {
            p[k] = v;
        }
    }
    p
}

/// `tend ARGS... --dir DIR` for the tend `t`.
fn ctl(t: &Tend, args: &[&str]) -> Output {
    let dir = t.dir.to_string_lossy().into_owned();
    let mut v: Vec<&str> = args.to_vec();
    v.push("--dir");
    v.push(&dir);
    run_tend(&v)
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code_of(o: &Output) -> i32 {
    shell_code(o.status)
}

/// The pid of process `name`, when it has one.
fn pid_of(t: &Tend, name: &str) -> Option<i32> {
    t.proc_status(name)?["pid"].as_i64().map(|p| p as i32)
}

/// Wait until `name` is running with a pid; returns the pid.
fn wait_running(t: &Tend, name: &str) -> i32 {
    t.wait_state(name, "running", WAIT);
    pid_of(t, name).unwrap_or_else(|| panic!("{name} running without a pid\n{}", t.dump()))
}

/// Is `s` an RFC 3339 date-time (`2026-01-02T03:04:05(.fff)(Z|±hh:mm)`)?
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

#[test]
fn rfc3339_checker_itself() {
    assert!(is_rfc3339("2026-11-26T03:12:37.665Z"));
    assert!(is_rfc3339("2026-11-26T03:12:37Z"));
    assert!(is_rfc3339("2026-11-26T03:12:37+01:00"));
    assert!(!is_rfc3339("2026-11-26 03:12:37Z"));
    assert!(!is_rfc3339("2026-13-26T03:12:37Z"));
    assert!(!is_rfc3339("2026-11-26T03:12:37"));
    assert!(!is_rfc3339("2026-11-26T03:12:37.Z"));
    assert!(!is_rfc3339("1764126757"));
}

/// Every SPEC §5 key of one process, with its JSON type.
fn check_proc_shape(p: &serde_json::Value) {
    let ctx = p.to_string();
    assert!(p["name"].is_string(), "name: {ctx}");
    let state = p["state"]
        .as_str()
        .unwrap_or_else(|| panic!("state: {ctx}"));
    assert!(
        ["stopped", "starting", "running", "backoff", "stopping", "exited", "failed"]
            .contains(&state),
        "state {state}: {ctx}"
    );
    let health = p["health"]
        .as_str()
        .unwrap_or_else(|| panic!("health: {ctx}"));
    assert!(
        ["unknown", "healthy", "unhealthy"].contains(&health),
        "health {health}: {ctx}"
    );
    assert!(p["ready"].is_boolean(), "ready: {ctx}");
    assert!(
        p.get("pid").is_some() && (p["pid"].is_null() || p["pid"].is_u64()),
        "pid: {ctx}"
    );
    assert!(p["uptime_ms"].is_u64(), "uptime_ms: {ctx}");
    assert!(p["starts"].is_u64(), "starts: {ctx}");
    assert!(p["restarts"].is_u64(), "restarts: {ctx}");
    assert!(p.get("last_start").is_some(), "last_start missing: {ctx}");
    match &p["last_start"] {
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => assert!(is_rfc3339(s), "last_start {s}: {ctx}"),
        other => panic!("last_start {other}: {ctx}"),
    }
    assert!(p.get("last_exit").is_some(), "last_exit missing: {ctx}");
    if !p["last_exit"].is_null() {
        let e = &p["last_exit"];
        assert!(e.is_object(), "last_exit: {ctx}");
        assert!(
            e.get("code").is_some() && (e["code"].is_null() || e["code"].is_i64()),
            "last_exit.code: {ctx}"
        );
        assert!(
            e.get("signal").is_some() && (e["signal"].is_null() || e["signal"].is_string()),
            "last_exit.signal: {ctx}"
        );
        assert!(
            e["at"].as_str().is_some_and(is_rfc3339),
            "last_exit.at: {ctx}"
        );
    }
    assert!(
        p.get("last_error").is_some() && (p["last_error"].is_null() || p["last_error"].is_string()),
        "last_error: {ctx}"
    );
    assert!(
        p.get("next_restart_ms").is_some()
            && (p["next_restart_ms"].is_null() || p["next_restart_ms"].is_u64()),
        "next_restart_ms: {ctx}"
    );
    let b = &p["breaker"];
    assert!(b["open"].is_boolean(), "breaker.open: {ctx}");
    assert!(b["failures"].is_u64(), "breaker.failures: {ctx}");
    assert!(
        b.get("retry_at").is_some(),
        "breaker.retry_at missing: {ctx}"
    );
    match &b["retry_at"] {
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => assert!(is_rfc3339(s), "retry_at {s}: {ctx}"),
        other => panic!("retry_at {other}: {ctx}"),
    }
}

fn check_doc_shape(doc: &serde_json::Value) {
    let ctx = doc.to_string();
    assert!(doc["tend"]["pid"].is_u64(), "tend.pid: {ctx}");
    assert!(doc["tend"]["uptime_ms"].is_u64(), "tend.uptime_ms: {ctx}");
    assert!(doc["tend"]["version"].is_string(), "tend.version: {ctx}");
    let procs = doc["processes"]
        .as_array()
        .unwrap_or_else(|| panic!("processes: {ctx}"));
    for p in procs {
        check_proc_shape(p);
    }
}

/// Poll `tend status --json` until `f` holds for process `name`; returns
/// that process object.
fn wait_proc(
    t: &Tend,
    name: &str,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = None;
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(p) = t.proc_status(name) {
            if f(&p) {
                return p;
            }
            last = Some(p);
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out waiting for {name}: {what}; last: {}\n{}",
                last.map(|v| v.to_string()).unwrap_or_default(),
                t.dump()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Lines read from a child's stdout by a thread, for `-f` commands.
struct Follower {
    child: Child,
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn spawn(t: &Tend, args: &[&str]) -> Follower {
        let mut child = Command::new(tend_bin())
            .args(args)
            .arg("--dir")
            .arg(&t.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower {
            child,
            rx,
            seen: Vec::new(),
        }
    }

    /// Wait until a line matching `f` arrives (or was already seen after
    /// index `from`); returns its index in `seen`.
    fn wait_line(&mut self, from: usize, what: &str, f: impl Fn(&str) -> bool) -> usize {
        if let Some(i) = self.seen.iter().skip(from).position(|l| f(l)) {
            return from + i;
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = f(&l);
                    self.seen.push(l);
                    if hit {
                        return self.seen.len() - 1;
                    }
                }
                Err(_) => panic!("no line for {what} within {WAIT:?}; got: {:#?}", self.seen),
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw request line on a fresh connection; the reply line, parsed.
fn raw_request(sock: &Path, line: &[u8]) -> Result<serde_json::Value, String> {
    let s = UnixStream::connect(sock).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    // tend may answer (and hang up) before reading all of a long line:
    // a failed write is fine as long as the reply comes.
    let _ = (&s).write_all(line);
    let mut r = BufReader::new(&s);
    let mut buf = String::new();
    r.read_line(&mut buf).map_err(|e| format!("read: {e}"))?;
    serde_json::from_str(&buf).map_err(|e| format!("reply {buf:?} is not JSON: {e}"))
}

// ---------------------------------------------------------------------
// status

#[test]
fn status_json_after_crash_backoff_and_breaker() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("crash", &["--exit-code", "3"], serde_json::json!({
                "restart_delay": "800ms", "backoff_factor": 1, "max_restarts": 2
            })),
            fx_proc("sig", &["--kill-self", "KILL"], serde_json::json!({"restart_delay": "60s"})),
            fx_proc("cool", &["--exit-code", "4"], serde_json::json!({
                "restart_delay": "50ms", "max_restarts": 1, "breaker_cooldown": "60s"
            })),
            fx_proc("keep", &[], serde_json::json!({})),
        ]}),
    );

    // First crash: in backoff, every field says what happened.
    let p = wait_proc(&t, "crash", "backoff", |p| p["state"] == "backoff");
    check_proc_shape(&p);
    let ctx = p.to_string();
    assert_eq!(p["pid"], serde_json::Value::Null, "{ctx}");
    assert_eq!(p["last_exit"]["code"], 3, "{ctx}");
    assert_eq!(p["last_exit"]["signal"], serde_json::Value::Null, "{ctx}");
    assert!(
        p["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{ctx}"
    );
    let next = p["next_restart_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("next_restart_ms: {ctx}"));
    assert!(
        next > 0 && next <= 800,
        "next_restart_ms {next} not in (0, 800]: {ctx}"
    );
    assert_eq!(p["breaker"]["open"], false, "{ctx}");
    assert_eq!(p["breaker"]["retry_at"], serde_json::Value::Null, "{ctx}");
    assert!(p["breaker"]["failures"].as_u64().unwrap() <= 2, "{ctx}");
    assert!(p["starts"].as_u64().unwrap() >= 1, "{ctx}");
    assert_eq!(
        p["restarts"].as_u64().unwrap() + 1,
        p["starts"].as_u64().unwrap(),
        "{ctx}"
    );
    assert!(p["last_start"].is_string(), "{ctx}");
    // Only crashes so far: every restart is inside the window.
    assert_eq!(p["breaker"]["failures"], p["restarts"], "{ctx}");
    // Same format, so the strings order like the times.
    let (st, at) = (
        p["last_start"].as_str().unwrap(),
        p["last_exit"]["at"].as_str().unwrap(),
    );
    if st.len() == at.len() && st.ends_with('Z') && at.ends_with('Z') {
        assert!(at >= st, "exit before start: {ctx}");
    }

    // Killed by a signal: code null, signal named without SIG.
    let p = wait_proc(&t, "sig", "backoff after KILL", |p| p["state"] == "backoff");
    let ctx = p.to_string();
    assert_eq!(p["last_exit"]["code"], serde_json::Value::Null, "{ctx}");
    assert_eq!(p["last_exit"]["signal"], "KILL", "{ctx}");
    let next = p["next_restart_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("next_restart_ms: {ctx}"));
    assert!(next > 0 && next <= 60_000, "next_restart_ms {next}: {ctx}");

    // The breaker opens after the exit that would need a third restart.
    let p = wait_proc(&t, "crash", "failed", |p| p["state"] == "failed");
    check_proc_shape(&p);
    let ctx = p.to_string();
    assert_eq!(p["breaker"]["open"], true, "{ctx}");
    assert_eq!(p["breaker"]["failures"], 2, "{ctx}");
    assert_eq!(
        p["breaker"]["retry_at"],
        serde_json::Value::Null,
        "no cooldown: {ctx}"
    );
    assert_eq!(p["restarts"], 2, "{ctx}");
    assert_eq!(p["starts"], 3, "{ctx}");
    assert_eq!(p["pid"], serde_json::Value::Null, "{ctx}");
    assert_eq!(p["next_restart_ms"], serde_json::Value::Null, "{ctx}");
    assert_eq!(p["last_exit"]["code"], 3, "{ctx}");
    assert!(
        p["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{ctx}"
    );

    // With a cooldown, an open breaker says when it closes.
    let p = wait_proc(&t, "cool", "failed", |p| p["state"] == "failed");
    let ctx = p.to_string();
    assert_eq!(p["breaker"]["open"], true, "{ctx}");
    assert!(
        p["breaker"]["retry_at"].as_str().is_some_and(is_rfc3339),
        "retry_at: {ctx}"
    );

    // The whole document, running process included.
    let pid = wait_running(&t, "keep");
    let doc = t.status_json().unwrap();
    check_doc_shape(&doc);
    assert_eq!(doc["tend"]["pid"], t.pid(), "{doc}");
    assert_eq!(doc["processes"].as_array().unwrap().len(), 4, "{doc}");
    let keep = doc["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "keep")
        .unwrap();
    assert_eq!(keep["pid"], pid, "{doc}");
    assert_eq!(keep["last_exit"], serde_json::Value::Null, "{doc}");
    assert_eq!(keep["ready"], true, "{doc}");

    // `status NAME` narrows the document.
    let o = ctl(&t, &["status", "--json", "keep"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = doc["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["keep"], "{doc}");
}

#[test]
fn status_human_table_has_no_escape_codes_when_piped() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("web", &[], serde_json::json!({})),
            fx_proc("crash", &["--exit-code", "5"], serde_json::json!({"restart_delay": "60s"})),
        ]}),
    );
    let pid = wait_running(&t, "web");
    t.wait_state("crash", "backoff", WAIT);
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let out = stdout_of(&o);
    assert!(
        !out.contains('\x1b'),
        "escape codes in piped output: {out:?}"
    );
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "STATE",
            "HEALTH",
            "READY",
            "PID",
            "UPTIME",
            "RESTARTS",
            "LAST-EXIT",
            "LAST-ERROR"
        ],
        "{out}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    let web = rows
        .iter()
        .find(|r| r.first() == Some(&"web"))
        .unwrap_or_else(|| panic!("no web row: {out}"));
    assert_eq!(web[1], "running", "{out}");
    assert!(
        web.contains(&pid.to_string().as_str()),
        "web row lacks pid {pid}: {out}"
    );
    let crash = rows
        .iter()
        .find(|r| r.first() == Some(&"crash"))
        .unwrap_or_else(|| panic!("no crash row: {out}"));
    assert_eq!(crash[1], "backoff", "{out}");
    assert!(crash.contains(&"5"), "crash row lacks its exit code: {out}");
    // NO_COLOR does not change piped output either (and must not break it).
    let dir = t.dir.to_string_lossy().into_owned();
    let o2 = Command::new(tend_bin())
        .args(["status", "--dir", &dir])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&o2.stdout).contains('\x1b'));
}

#[test]
fn client_commands_exit_3_when_no_tend_runs() {
    let tmp = TempDir::new();
    // An empty DIR, and one that does not exist.
    std::fs::create_dir_all(tmp.join("empty")).unwrap();
    for dir in [tmp.s("empty"), tmp.s("missing")] {
        for args in [
            vec!["status"],
            vec!["status", "--json"],
            vec!["stop", "web"],
            vec!["start", "web"],
            vec!["restart", "--all"],
            vec!["health"],
            vec!["shutdown"],
        ] {
            let mut v = args.clone();
            v.extend(["--dir", dir.as_str()]);
            let o = run_tend(&v);
            assert_eq!(code_of(&o), 3, "tend {v:?}\n{}", show(&o));
            // One line, on stderr (or, for the human status, stdout).
            let all = format!("{}{}", stdout_of(&o), stderr_of(&o));
            assert_eq!(
                all.trim_end().lines().count(),
                1,
                "tend {v:?}: one line expected\n{}",
                show(&o)
            );
            assert!(all.contains("running"), "tend {v:?}\n{}", show(&o));
            if args[0] != "status" || args.len() > 1 {
                assert!(o.stdout.is_empty(), "tend {v:?}\n{}", show(&o));
            }
        }
    }
}

#[test]
fn status_without_tend_prints_not_running_and_last_snapshot() {
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    wait_running(&t, "web");
    let o = ctl(&t, &["shutdown"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert_eq!(t.expect_exit(WAIT), 0);
    assert!(
        t.dir.join("state.json").exists(),
        "no state.json left\n{}",
        t.dump()
    );

    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 3, "{}", show(&o));
    let all = format!("{}{}", stdout_of(&o), stderr_of(&o));
    assert!(all.contains("not running"), "{}", show(&o));
    assert!(!all.contains('\x1b'), "{}", show(&o));
    let out = stdout_of(&o);
    assert!(
        out.contains("NAME") && out.contains("LAST-ERROR"),
        "no table: {}",
        show(&o)
    );
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().next() == Some("web")),
        "no web row: {}",
        show(&o)
    );

    // --json: stdout stays one parsable document.
    let o = ctl(&t, &["status", "--json"]);
    assert_eq!(code_of(&o), 3, "{}", show(&o));
    let doc: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&o)));
    assert_eq!(doc["processes"][0]["name"], "web", "{doc}");
    assert!(stderr_of(&o).contains("running"), "{}", show(&o));
}

// ---------------------------------------------------------------------
// stop / start / restart / reset

#[test]
fn stop_returns_once_the_process_group_is_gone() {
    let tmp = TempDir::new();
    let gc = tmp.s("gc.pid");
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("web", &["--grandchild", "--pid-file", &gc, "--ready-file", &tmp.s("ready")], serde_json::json!({})),
            fx_proc("other", &[], serde_json::json!({})),
        ]}),
    );
    let pid = wait_running(&t, "web");
    t.track_group(pid);
    wait_until(WAIT, "grandchild pid file", || {
        read_pid(&tmp.join("gc.pid")).is_some()
    });
    let gpid = read_pid(&tmp.join("gc.pid")).unwrap();
    assert!(pid_alive(pid) && pid_alive(gpid));
    assert_eq!(
        pgid_of(gpid),
        Some(pid),
        "grandchild not in the child's group"
    );
    let other = wait_running(&t, "other");

    let o = ctl(&t, &["stop", "web"]);
    // Checked before anything else: stop returned, so the group is gone.
    let (p_alive, g_alive, members) = (pid_alive(pid), pid_alive(gpid), pgid_members(pid));
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert!(!p_alive, "pid {pid} alive when stop returned\n{}", show(&o));
    assert!(
        !g_alive,
        "grandchild {gpid} alive when stop returned\n{}",
        show(&o)
    );
    assert!(members.is_empty(), "group {pid} still has {members:?}");
    assert!(stdout_of(&o).contains("web"), "{}", show(&o));
    let p = t.proc_status("web").unwrap();
    assert_eq!(p["state"], "stopped", "{p}");
    assert_eq!(p["pid"], serde_json::Value::Null, "{p}");
    // Stopped on request: it stays stopped, and the other one is untouched.
    assert!(!poll_for(Duration::from_millis(500), || t
        .state_of("web")
        .as_deref()
        != Some("stopped")));
    assert_eq!(pid_of(&t, "other"), Some(other));
    assert!(pid_alive(other));
    // Stopping a stopped process is fine.
    let o = ctl(&t, &["stop", "web"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert!(t.is_running());
}

#[test]
fn stop_of_a_child_that_ignores_term_kills_it_after_stop_timeout() {
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("stubborn", &["--ignore", "TERM", "--grandchild"], serde_json::json!({"stop_timeout": "3s"})),
        ]}),
    );
    let pid = wait_running(&t, "stubborn");
    t.track_group(pid);
    // The fixture sets up `--ignore` before it forks the grandchild: two
    // members in the group mean TERM is ignored.
    wait_until(WAIT, "grandchild forked", || pgid_members(pid).len() >= 2);
    // Two clients stop it at once; each returns only once the group is gone.
    let dir = t.dir.clone();
    let stoppers: Vec<_> = (0..2)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let t0 = Instant::now();
                let o = run_tend(&["stop", "stubborn", "--dir", dir.to_str().unwrap()]);
                let took = t0.elapsed();
                (o, took, pid_alive(pid), pgid_members(pid))
            })
        })
        .collect();
    // Meanwhile tend keeps answering, and says it is stopping.
    let p = wait_proc(&t, "stubborn", "stopping", |p| p["state"] == "stopping");
    assert_eq!(p["pid"], pid, "{p}");
    let t0 = Instant::now();
    let o = ctl(&t, &["health", "stubborn"]);
    assert_eq!(code_of(&o), 1, "{}", show(&o));
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "tend slow to answer while stopping"
    );
    for h in stoppers {
        let (o, took, alive, members) = h.join().unwrap();
        assert_eq!(code_of(&o), 0, "{}", show(&o));
        assert!(!alive, "pid {pid} alive when stop returned");
        assert!(members.is_empty(), "group still has {members:?}");
        assert!(
            took >= Duration::from_millis(2900),
            "stop returned after {took:?}, before stop_timeout"
        );
        assert!(took < Duration::from_secs(8), "stop took {took:?}");
    }
    let p = t.proc_status("stubborn").unwrap();
    assert_eq!(p["state"], "stopped", "{p}");
    assert_eq!(p["last_exit"]["signal"], "KILL", "{p}");
}

#[test]
fn start_restart_and_unknown_names() {
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("web", &[], serde_json::json!({})),
            fx_proc("other", &[], serde_json::json!({})),
        ]}),
    );
    let pid1 = wait_running(&t, "web");
    t.track_group(pid1);
    let o = ctl(&t, &["stop", "web"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));

    // start returns with a pid.
    let o = ctl(&t, &["start", "web"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let p = t.proc_status("web").unwrap();
    let pid2 = p["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no pid right after start: {p}")) as i32;
    t.track_group(pid2);
    assert!(pid_alive(pid2));
    assert_ne!(pid2, pid1);
    assert!(
        ["starting", "running"].contains(&p["state"].as_str().unwrap()),
        "{p}"
    );
    assert!(
        stdout_of(&o).contains(&pid2.to_string()),
        "start does not print the pid: {}",
        show(&o)
    );
    let restarts = wait_proc(&t, "web", "running", |p| p["state"] == "running")["restarts"]
        .as_u64()
        .unwrap();

    // restart: a new pid, restarts + 1, the old one gone.
    let o = ctl(&t, &["restart", "web"]);
    let old_alive = pid_alive(pid2);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert!(!old_alive, "old pid {pid2} alive when restart returned");
    let p = t.proc_status("web").unwrap();
    let pid3 = p["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no pid after restart: {p}")) as i32;
    t.track_group(pid3);
    assert_ne!(pid3, pid2, "{p}");
    assert!(pid_alive(pid3));
    assert_eq!(p["restarts"].as_u64().unwrap(), restarts + 1, "{p}");

    // Unknown names: exit 1, the message names them, nothing else happens.
    for cmd in ["stop", "start", "restart", "reset"] {
        let o = ctl(&t, &[cmd, "nosuch"]);
        assert_eq!(code_of(&o), 1, "tend {cmd} nosuch\n{}", show(&o));
        assert!(
            stderr_of(&o).contains("nosuch"),
            "tend {cmd} nosuch\n{}",
            show(&o)
        );
    }
    let o = ctl(&t, &["stop", "web", "nosuch"]);
    assert_eq!(code_of(&o), 1, "{}", show(&o));
    assert!(stderr_of(&o).contains("nosuch"), "{}", show(&o));
    assert_eq!(
        pid_of(&t, "web"),
        Some(pid3),
        "a request naming an unknown process acted anyway"
    );
    // No target at all is a usage error.
    let o = ctl(&t, &["stop"]);
    assert_eq!(code_of(&o), 2, "{}", show(&o));
}

#[test]
fn all_flag_acts_on_every_process() {
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("a", &[], serde_json::json!({})),
            fx_proc("b", &[], serde_json::json!({})),
        ]}),
    );
    let (a1, b1) = (wait_running(&t, "a"), wait_running(&t, "b"));
    t.track_group(a1);
    t.track_group(b1);

    let o = ctl(&t, &["restart", "--all"]);
    let (a_old, b_old) = (pid_alive(a1), pid_alive(b1));
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert!(!a_old && !b_old, "old pids alive after restart --all");
    let (a2, b2) = (pid_of(&t, "a").unwrap(), pid_of(&t, "b").unwrap());
    t.track_group(a2);
    t.track_group(b2);
    assert!(a2 != a1 && b2 != b1);

    let o = ctl(&t, &["stop", "--all"]);
    let (a_alive, b_alive) = (pid_alive(a2), pid_alive(b2));
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert!(!a_alive && !b_alive, "processes alive after stop --all");
    assert_eq!(t.state_of("a").as_deref(), Some("stopped"));
    assert_eq!(t.state_of("b").as_deref(), Some("stopped"));
    // Everything stopped on request: tend itself stays up.
    assert!(
        !poll_for(Duration::from_millis(500), || !t.is_running()),
        "tend exited after stop --all"
    );

    let o = ctl(&t, &["start", "--all"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    for n in ["a", "b"] {
        let pid = pid_of(&t, n).unwrap_or_else(|| panic!("{n} has no pid after start --all"));
        t.track_group(pid);
        assert!(pid_alive(pid));
    }
}

#[test]
fn reset_of_a_failed_process_clears_the_breaker_and_starts_it() {
    let tmp = TempDir::new();
    let ok = tmp.s("ok");
    let script = format!("test -f '{ok}' || exit 3; exec '{}'", fixture());
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [
            {"name": "flaky", "command": "/bin/sh", "args": ["-c", script],
             "restart_delay": "50ms", "max_restarts": 1, "min_uptime": "100ms", "stop_timeout": "2s"},
            fx_proc("keep", &[], serde_json::json!({})),
        ]}),
    );
    let p = wait_proc(&t, "flaky", "failed", |p| p["state"] == "failed");
    assert_eq!(p["breaker"]["open"], true, "{p}");
    let restarts = p["restarts"].as_u64().unwrap();
    let starts = p["starts"].as_u64().unwrap();
    // Failed stays failed (no cooldown) while tend keeps serving.
    assert!(!poll_for(Duration::from_millis(300), || t
        .state_of("flaky")
        .as_deref()
        != Some("failed")));

    std::fs::write(&ok, "").unwrap();
    let o = ctl(&t, &["reset", "flaky"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let p = t.proc_status("flaky").unwrap();
    assert_eq!(p["breaker"]["open"], false, "{p}");
    assert_eq!(p["breaker"]["failures"], 0, "{p}");
    assert!(
        ["starting", "running"].contains(&p["state"].as_str().unwrap()),
        "not started by reset: {p}"
    );
    assert!(p["starts"].as_u64().unwrap() > starts, "{p}");
    let p = wait_proc(&t, "flaky", "running", |p| p["state"] == "running");
    t.track_group(p["pid"].as_i64().unwrap() as i32);
    // reset clears the breaker, not restarts.
    assert!(p["restarts"].as_u64().unwrap() >= restarts, "{p}");
    assert!(
        t.events()
            .iter()
            .any(|e| e["event"] == "reset" && e["name"] == "flaky"),
        "no reset event\n{}",
        t.dump()
    );
    // Reset of a process that is not failed: accepted, harmless.
    let pid = p["pid"].as_i64().unwrap() as i32;
    let o = ctl(&t, &["reset", "keep"]);
    assert!(code_of(&o) <= 1, "{}", show(&o));
    assert!(pid_alive(pid));
}

// ---------------------------------------------------------------------
// health

#[test]
fn health_exits_0_when_all_ready_and_1_when_one_is_not() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("quick", &[], serde_json::json!({"min_uptime": "100ms"})),
            fx_proc("slow", &[], serde_json::json!({"startup": {
                "exec": ["test", "-f", tmp.s("up")], "interval": "100ms", "failure_threshold": 1000
            }})),
        ]}),
    );
    wait_running(&t, "quick");
    // slow is `starting` until its startup probe passes: not ready.
    assert_eq!(t.state_of("slow").as_deref(), Some("starting"));
    let o = ctl(&t, &["health"]);
    assert_eq!(code_of(&o), 1, "{}", show(&o));
    assert!(
        stdout_of(&o).contains("slow") || stderr_of(&o).contains("slow"),
        "{}",
        show(&o)
    );
    let o = ctl(&t, &["health", "slow"]);
    assert_eq!(code_of(&o), 1, "{}", show(&o));
    let o = ctl(&t, &["health", "quick"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    // Once slow's startup probe passes, everything is ready.
    std::fs::write(tmp.join("up"), "").unwrap();
    t.wait_state("slow", "running", WAIT);
    let o = ctl(&t, &["health"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    // A stopped process is not ready.
    let o = ctl(&t, &["stop", "quick"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let o = ctl(&t, &["health"]);
    assert_eq!(code_of(&o), 1, "{}", show(&o));
    // An unknown name is not healthy, and is named.
    let o = ctl(&t, &["health", "nosuch"]);
    assert_eq!(code_of(&o), 1, "{}", show(&o));
    assert!(
        format!("{}{}", stdout_of(&o), stderr_of(&o)).contains("nosuch"),
        "{}",
        show(&o)
    );
}

#[test]
fn health_of_a_crashing_process_is_1() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("crash", &["--crash-after", "10"], serde_json::json!({"restart_delay": "100ms"})),
        ]}),
    );
    wait_until(WAIT, "a crash", || {
        t.proc_status("crash")
            .is_some_and(|p| !p["last_exit"].is_null())
    });
    for _ in 0..3 {
        let o = ctl(&t, &["health"]);
        assert_eq!(code_of(&o), 1, "{}", show(&o));
    }
}

// ---------------------------------------------------------------------
// the socket itself

#[test]
fn socket_is_mode_0600() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    let sock = t.dir.join("tend.sock");
    let md = std::fs::metadata(&sock).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(
        md.file_type().is_socket(),
        "{} is not a socket",
        sock.display()
    );
    assert_eq!(
        md.permissions().mode() & 0o7777,
        0o600,
        "mode {:o}",
        md.permissions().mode()
    );
}

#[test]
fn requests_from_another_uid_are_refused() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run a client as another uid");
        return;
    }
    if !Path::new("/usr/bin/setpriv").exists() && which("setpriv").is_none() {
        eprintln!("skipped: setpriv not found");
        return;
    }
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    let pid = wait_running(&t, "web");
    t.track_group(pid);
    // Let nobody reach the socket and the binary: the uid check, not the
    // file mode, is what must refuse it.
    let bin = tmp.join("tend-bin");
    std::fs::copy(tend_bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&t.dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    let sock = t.dir.join("tend.sock");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();

    let as_nobody = |args: &[&str]| -> Output {
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(args)
            .arg("--dir")
            .arg(&t.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        o
    };
    let o = as_nobody(&["status", "--json"]);
    assert_eq!(code_of(&o), 1, "another uid got: {}", show(&o));
    assert!(
        !stdout_of(&o).contains("\"processes\""),
        "status leaked: {}",
        show(&o)
    );
    assert!(!stderr_of(&o).trim().is_empty(), "no message: {}", show(&o));
    assert!(!stderr_of(&o).contains("not running"), "{}", show(&o));
    // Refused by tend, not by the file system.
    assert!(!stderr_of(&o).contains("cannot connect"), "{}", show(&o));
    let o = as_nobody(&["stop", "web"]);
    assert_eq!(code_of(&o), 1, "another uid got: {}", show(&o));
    assert!(pid_alive(pid), "another uid stopped web");
    assert_eq!(pid_of(&t, "web"), Some(pid));
    // The raw reply, from a connection made as nobody.
    let script = tmp.join("raw.py");
    std::fs::write(
        &script,
        "import socket, sys\n\
         s = socket.socket(socket.AF_UNIX)\n\
         s.connect(sys.argv[1])\n\
         try:\n    s.sendall(b'{\"v\":1,\"cmd\":\"status\"}\\n')\n\
         except OSError:\n    pass\n\
         print(s.makefile().readline())\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/bin/sh",
            "-c",
        ])
        .arg("command -v python3 >/dev/null || exit 99; exec python3 \"$0\" \"$1\"")
        .arg(&script)
        .arg(&sock)
        .output()
        .unwrap();
    if code_of(&o) != 99 {
        assert_eq!(code_of(&o), 0, "{}", show(&o));
        let reply: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&o)));
        assert_eq!(reply["ok"], false, "{reply}");
        assert!(reply["error"].is_string(), "{reply}");
        assert!(reply.get("status").is_none(), "{reply}");
    }
    // Root is still served.
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
}

fn which(prog: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.exists())
}

#[test]
fn garbage_on_the_socket_gets_error_replies_and_tend_keeps_serving() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    let pid = wait_running(&t, "web");
    let sock = t.dir.join("tend.sock");

    // A client that sends half a line and then nothing holds no one up.
    let idle = UnixStream::connect(&sock).unwrap();
    (&idle).write_all(b"{\"v\":1,\"cm").unwrap();

    let mut big = vec![b'x'; 70 * 1024];
    big.push(b'\n');
    let mut big_json = b"{\"v\":1,\"cmd\":\"status\",\"names\":[\"".to_vec();
    big_json.extend(std::iter::repeat_n(b'a', 70 * 1024));
    big_json.extend_from_slice(b"\"]}\n");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"hello\n".to_vec()),
        ("binary", b"\x00\xff\xfe{{\n".to_vec()),
        ("JSON but not an object", b"[1,2,3]\n".to_vec()),
        ("wrong version", b"{\"v\":2,\"cmd\":\"status\"}\n".to_vec()),
        ("no version", b"{\"cmd\":\"status\"}\n".to_vec()),
        (
            "unknown command",
            b"{\"v\":1,\"cmd\":\"explode\"}\n".to_vec(),
        ),
        (
            "unknown field",
            b"{\"v\":1,\"cmd\":\"status\",\"x\":1}\n".to_vec(),
        ),
        ("70 KiB line", big),
        ("70 KiB JSON line", big_json),
    ];
    for (what, line) in &cases {
        let r = raw_request(&sock, line).unwrap_or_else(|e| panic!("{what}: {e}\n{}", t.dump()));
        assert_eq!(r["ok"], false, "{what}: {r}");
        assert!(
            r["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {r}"
        );
        assert!(r.get("status").is_none(), "{what}: {r}");
        if *what == "wrong version" {
            assert!(
                r["error"].as_str().unwrap().contains("version"),
                "{what}: {r}"
            );
        }
    }
    // A good request on the same kind of connection still works, and the
    // CLI too, with the same child.
    let r = raw_request(&sock, b"{\"v\":1,\"cmd\":\"status\"}\n").unwrap();
    assert_eq!(r["ok"], true, "{r}");
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert_eq!(pid_of(&t, "web"), Some(pid));
    drop(idle);
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
}

#[test]
fn two_hundred_fifty_six_concurrent_status_clients_are_all_answered() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    wait_running(&t, "web");
    let sock = t.dir.join("tend.sock");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(256));
    let handles: Vec<_> = (0..256)
        .map(|_| {
            let sock = sock.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || -> Result<(), String> {
                barrier.wait();
                let s = UnixStream::connect(&sock).map_err(|e| format!("connect: {e}"))?;
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                (&s).write_all(b"{\"v\":1,\"cmd\":\"status\"}\n")
                    .map_err(|e| format!("write: {e}"))?;
                let mut line = String::new();
                BufReader::new(&s)
                    .read_line(&mut line)
                    .map_err(|e| format!("read: {e}"))?;
                let r: serde_json::Value =
                    serde_json::from_str(&line).map_err(|e| format!("{e}: {line:?}"))?;
                if r["ok"] != true || r["status"]["processes"][0]["name"] != "web" {
                    return Err(format!("bad reply {r}"));
                }
                Ok(())
            })
        })
        .collect();
    let errors: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap().err())
        .collect();
    assert!(
        errors.is_empty(),
        "{} of 256 clients failed: {:?}\n{}",
        errors.len(),
        &errors[..errors.len().min(5)],
        t.dump()
    );
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
}

// ---------------------------------------------------------------------
// hooks, logs, events, shutdown

#[test]
fn gave_up_hook_runs_with_arguments_substituted() {
    let tmp = TempDir::new();
    let hookfile = tmp.s("hook.out");
    let t = start(
        &tmp,
        serde_json::json!({
            "processes": [
                fx_proc("crash", &["--exit-code", "3"], serde_json::json!({"restart_delay": "50ms", "max_restarts": 1})),
                fx_proc("keep", &[], serde_json::json!({})),
            ],
            "hooks": {"gave_up": [
                "/bin/sh", "-c", format!("printf '%s|%s|%s\\n' \"$1\" \"$2\" \"$3\" >> '{hookfile}'"),
                "hook", "{name}", "ev={event}", "{error}"
            ]}
        }),
    );
    wait_until(WAIT, "the gave_up hook wrote its file", || {
        !read_lossy(&tmp.join("hook.out")).is_empty()
    });
    let p = t.proc_status("crash").unwrap();
    assert_eq!(p["state"], "failed", "{p}");
    let out = read_lossy(&tmp.join("hook.out"));
    let line = out.lines().next().unwrap();
    let parts: Vec<&str> = line.splitn(3, '|').collect();
    assert_eq!(parts.len(), 3, "{out:?}");
    assert_eq!(parts[0], "crash", "{out:?}");
    assert_eq!(parts[1], "ev=gave_up", "{out:?}");
    assert!(
        !parts[2].is_empty() && !parts[2].contains("{error}"),
        "error not substituted: {out:?}"
    );
    let last_error = p["last_error"].as_str().unwrap_or("");
    assert_eq!(
        parts[2], last_error,
        "the hook's {{error}} is not last_error: {out:?} / {p}"
    );
    // Once per give-up.
    assert!(
        !poll_for(Duration::from_millis(500), || read_lossy(
            &tmp.join("hook.out")
        )
        .lines()
        .count()
            > 1),
        "{out}"
    );
    assert!(
        t.events()
            .iter()
            .any(|e| e["event"] == "gave_up" && e["name"] == "crash"),
        "{}",
        t.dump()
    );
}

#[test]
fn logs_prints_the_last_lines_and_follows() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [
            {"name": "web", "command": "/bin/sh",
             "args": ["-c", format!("for i in 1 2 3 4 5; do echo \"line $i\"; done; echo \"run $$\"; exec '{}'", fixture())],
             "min_uptime": "100ms", "stop_timeout": "2s"},
        ]}),
    );
    let pid1 = wait_running(&t, "web");
    wait_until(WAIT, "log has the run line", || {
        t.log("web").contains(&format!("run {pid1}"))
    });
    let o = ctl(&t, &["logs", "web", "-n", "3"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let out = stdout_of(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert!(lines[0].ends_with("line 4"), "{out:?}");
    assert!(lines[1].ends_with("line 5"), "{out:?}");
    assert!(lines[2].ends_with(&format!("run {pid1}")), "{out:?}");

    // Unknown process: an error naming it.
    let o = ctl(&t, &["logs", "nosuch"]);
    assert_ne!(code_of(&o), 0, "{}", show(&o));
    assert!(stderr_of(&o).contains("nosuch"), "{}", show(&o));

    // -f: the tail first, then lines written later.
    let mut f = Follower::spawn(&t, &["logs", "web", "-f", "-n", "2"]);
    let i = f.wait_line(0, "the tail", |l| l.ends_with(&format!("run {pid1}")));
    assert_eq!(i, 1, "-n 2 printed {:?}", f.seen);
    let o = ctl(&t, &["restart", "web"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let pid2 = pid_of(&t, "web").unwrap();
    assert_ne!(pid1, pid2);
    f.wait_line(i + 1, "the new run's line", |l| {
        l.ends_with(&format!("run {pid2}"))
    });
    assert!(f.child.try_wait().unwrap().is_none(), "logs -f exited");
}

#[test]
fn events_lists_and_follows() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    let pid1 = wait_running(&t, "web");
    wait_until(WAIT, "started event", || {
        t.events().iter().any(|e| e["event"] == "started")
    });

    let o = ctl(&t, &["events"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let out = stdout_of(&o);
    assert!(
        out.lines()
            .any(|l| l.contains("web") && l.contains("started")),
        "{out}"
    );
    assert!(!out.contains('{'), "human form should not be JSON: {out}");

    let o = ctl(&t, &["events", "--json"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let evs: Vec<serde_json::Value> = stdout_of(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(!evs.is_empty());
    for e in &evs {
        assert!(e["ts"].as_str().is_some_and(is_rfc3339), "{e}");
        assert!(e["event"].is_string(), "{e}");
    }
    let started = evs
        .iter()
        .find(|e| e["event"] == "started" && e["name"] == "web")
        .expect("started event");
    assert_eq!(started["pid"], pid1, "{started}");

    // -f: history first (so it is subscribed), then the restart's events.
    let mut f = Follower::spawn(&t, &["events", "-f", "--json"]);
    let n_hist = evs.len();
    f.wait_line(0, "history", |l| l.contains("\"started\""));
    let o = ctl(&t, &["restart", "web"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let pid2 = pid_of(&t, "web").unwrap();
    let i = f.wait_line(0, "started event of the new pid", |l| {
        serde_json::from_str::<serde_json::Value>(l)
            .is_ok_and(|e| e["event"] == "started" && e["name"] == "web" && e["pid"] == pid2)
    });
    assert!(i >= n_hist, "new event inside the history? {:?}", f.seen);
    assert!(
        f.seen[n_hist..i]
            .iter()
            .any(|l| l.contains("\"stopping\"") || l.contains("\"stopped\"")),
        "no stop events before the new start: {:?}",
        f.seen
    );
    // No duplicates at the seam.
    let mut uniq = f.seen.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), f.seen.len(), "duplicate lines: {:?}", f.seen);
}

#[test]
fn shutdown_stops_everything_and_tend_exits_0() {
    let tmp = TempDir::new();
    let gc = tmp.s("gc.pid");
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("a", &["--grandchild", "--pid-file", &gc], serde_json::json!({})),
            fx_proc("b", &["--ignore", "TERM"], serde_json::json!({"stop_timeout": "500ms"})),
        ]}),
    );
    let (a, b) = (wait_running(&t, "a"), wait_running(&t, "b"));
    t.track_group(a);
    t.track_group(b);
    wait_until(WAIT, "grandchild pid", || {
        read_pid(&tmp.join("gc.pid")).is_some()
    });
    let g = read_pid(&tmp.join("gc.pid")).unwrap();
    let o = ctl(&t, &["shutdown"]);
    let alive: Vec<i32> = [a, b, g].into_iter().filter(|&p| pid_alive(p)).collect();
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert!(alive.is_empty(), "alive when shutdown returned: {alive:?}");
    assert_eq!(t.expect_exit(WAIT), 0, "{}", t.dump());
    assert!(!t.dir.join("tend.sock").exists(), "socket left behind");
    assert!(!t.dir.join("tend.pid").exists(), "pid file left behind");
    assert!(
        t.events().iter().any(|e| e["event"] == "shutdown"),
        "{}",
        t.dump()
    );
    // And now nobody answers.
    let o = ctl(&t, &["health"]);
    assert_eq!(code_of(&o), 3, "{}", show(&o));
}

// ---------------------------------------------------------------------
// clients that misbehave

#[test]
fn a_client_that_hangs_up_mid_stop_does_not_stop_tend() {
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("stubborn", &["--ignore", "TERM", "--grandchild"], serde_json::json!({"stop_timeout": "500ms"})),
            fx_proc("keep", &[], serde_json::json!({})),
        ]}),
    );
    let pid = wait_running(&t, "stubborn");
    t.track_group(pid);
    let keep = wait_running(&t, "keep");
    wait_until(WAIT, "grandchild forked", || pgid_members(pid).len() >= 2);
    let sock = t.dir.join("tend.sock");
    {
        let s = UnixStream::connect(&sock).unwrap();
        (&s).write_all(b"{\"v\":1,\"cmd\":\"stop\",\"names\":[\"stubborn\"]}\n")
            .unwrap();
        t.wait_state("stubborn", "stopping", WAIT);
        // Hang up before the reply.
    }
    t.wait_state("stubborn", "stopped", WAIT);
    assert!(!pid_alive(pid));
    assert!(t.is_running(), "tend died\n{}", t.dump());
    assert_eq!(pid_of(&t, "keep"), Some(keep));
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
}

#[test]
fn a_dead_events_follower_does_not_hurt_tend() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    wait_running(&t, "web");
    let mut f = Follower::spawn(&t, &["events", "-f"]);
    f.wait_line(0, "history", |l| l.contains("started"));
    // Also a raw subscriber that never reads and then vanishes.
    let raw = UnixStream::connect(t.dir.join("tend.sock")).unwrap();
    (&raw)
        .write_all(b"{\"v\":1,\"cmd\":\"events\",\"follow\":true}\n")
        .unwrap();
    drop(f);
    drop(raw);
    for _ in 0..3 {
        let o = ctl(&t, &["restart", "web"]);
        assert_eq!(code_of(&o), 0, "{}", show(&o));
    }
    let pid = wait_running(&t, "web");
    assert!(pid_alive(pid));
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
}

#[test]
fn idle_connections_do_not_lock_out_the_cli() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    wait_running(&t, "web");
    let sock = t.dir.join("tend.sock");
    // 200 clients connect and say nothing (or half a line).
    let idle: Vec<UnixStream> = (0..200)
        .map(|i| {
            let s = UnixStream::connect(&sock).unwrap();
            if i % 2 == 0 {
                (&s).write_all(b"{\"v\":1,").unwrap();
            }
            s
        })
        .collect();
    let t0 = Instant::now();
    let o = ctl(&t, &["status", "--json"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "status took {:?}",
        t0.elapsed()
    );
    let o = ctl(&t, &["restart", "web"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    drop(idle);
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
}

#[test]
fn logs_and_events_still_read_after_tend_is_gone() {
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &["--lines", "4"], serde_json::json!({}))]}),
    );
    wait_running(&t, "web");
    wait_until(WAIT, "log lines", || t.log("web").contains("line 4"));
    let o = ctl(&t, &["shutdown"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert_eq!(t.expect_exit(WAIT), 0);
    let o = ctl(&t, &["logs", "web", "-n", "2"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let out = stdout_of(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines[0].ends_with("line 3") && lines[1].ends_with("line 4"),
        "{out:?}"
    );
    let o = ctl(&t, &["events"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert!(stdout_of(&o).contains("shutdown"), "{}", show(&o));
}

// ---------------------------------------------------------------------
// actions on processes in backoff, and shutdown from there

#[test]
fn stop_in_backoff_cancels_the_restart_and_restart_starts_at_once() {
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("crash", &["--exit-code", "3"], serde_json::json!({"restart_delay": "1s", "backoff_factor": 1})),
            fx_proc("slowcrash", &["--exit-code", "3"], serde_json::json!({"restart_delay": "30s"})),
        ]}),
    );
    let p = wait_proc(&t, "crash", "backoff", |p| p["state"] == "backoff");
    let starts = p["starts"].as_u64().unwrap();
    let o = ctl(&t, &["stop", "crash"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let p = t.proc_status("crash").unwrap();
    assert_eq!(p["state"], "stopped", "{p}");
    assert_eq!(p["next_restart_ms"], serde_json::Value::Null, "{p}");
    // The scheduled restart (1 s) does not happen.
    assert!(
        !poll_for(Duration::from_millis(1500), || {
            t.proc_status("crash")
                .is_some_and(|p| p["starts"].as_u64() != Some(starts))
        }),
        "a stopped process was restarted: {}",
        t.proc_status("crash").unwrap()
    );

    // restart of a process in backoff: it starts now, not after the delay.
    let p = wait_proc(&t, "slowcrash", "backoff", |p| p["state"] == "backoff");
    let starts = p["starts"].as_u64().unwrap();
    let t0 = Instant::now();
    let o = ctl(&t, &["restart", "slowcrash"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    wait_proc(&t, "slowcrash", "started by restart", |p| {
        p["starts"].as_u64().unwrap() > starts
    });
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "restart waited for the 30 s backoff: {:?}",
        t0.elapsed()
    );
}

#[test]
fn shutdown_with_a_process_in_backoff_exits_promptly() {
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [
            fx_proc("crash", &["--exit-code", "3"], serde_json::json!({"restart_delay": "60s"})),
            fx_proc("keep", &[], serde_json::json!({})),
        ]}),
    );
    t.wait_state("crash", "backoff", WAIT);
    let keep = wait_running(&t, "keep");
    let t0 = Instant::now();
    let o = ctl(&t, &["shutdown"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert_eq!(t.expect_exit(WAIT), 0);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t0.elapsed()
    );
    assert!(!pid_alive(keep));
}

#[test]
fn events_follow_ends_when_tend_exits() {
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    wait_running(&t, "web");
    let mut f = Follower::spawn(&t, &["events", "-f"]);
    f.wait_line(0, "history", |l| l.contains("started"));
    let o = ctl(&t, &["shutdown"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert_eq!(t.expect_exit(WAIT), 0);
    // The stream shows the shutdown, then ends.
    f.wait_line(0, "the shutdown event", |l| l.contains("shutdown"));
    let code = poll_for(WAIT, || f.child.try_wait().unwrap().is_some());
    assert!(
        code,
        "events -f still running after tend exited: {:?}",
        f.seen
    );
}

#[test]
fn a_slow_hook_does_not_block_supervision() {
    let tmp = TempDir::new();
    let hookfile = tmp.s("hook.out");
    let mut t = start(
        &tmp,
        serde_json::json!({
            "processes": [
                fx_proc("crash", &["--exit-code", "3"], serde_json::json!({"restart_delay": "50ms", "max_restarts": 1})),
                fx_proc("keep", &[], serde_json::json!({})),
            ],
            "hooks": {"gave_up": [
                "/bin/sh", "-c", format!("echo \"$1\" >> '{hookfile}'; exec sleep 30"), "hook", "{name}"
            ]}
        }),
    );
    let keep = wait_running(&t, "keep");
    t.track_group(keep);
    wait_until(WAIT, "the hook started", || {
        read_lossy(&tmp.join("hook.out")).trim() == "crash"
    });
    // The hook sleeps 30 s; tend answers and acts meanwhile.
    let t0 = Instant::now();
    let o = ctl(&t, &["restart", "keep"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "blocked for {:?}",
        t0.elapsed()
    );
    let keep2 = pid_of(&t, "keep").unwrap();
    t.track_group(keep2);
    assert_ne!(keep2, keep);
    assert_eq!(t.state_of("crash").as_deref(), Some("failed"));
    // Shutdown does not wait for the hook, and leaves nothing behind.
    let t0 = Instant::now();
    let o = ctl(&t, &["shutdown"]);
    assert_eq!(code_of(&o), 0, "{}", show(&o));
    assert_eq!(t.expect_exit(WAIT), 0);
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "shutdown took {:?}",
        t0.elapsed()
    );
    wait_until(WAIT, "no process of this test left", || {
        marked_pids(&tmp).is_empty()
    });
}

#[test]
fn status_colours_only_on_a_terminal_and_never_with_no_color() {
    if which("script").is_none() {
        eprintln!("skipped: script(1) not found to give tend status a terminal");
        return;
    }
    let tmp = TempDir::new();
    let t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    wait_running(&t, "web");
    let cmd = format!(
        "'{}' status --dir '{}'",
        tend_bin().display(),
        t.dir.display()
    );
    let on_tty = |no_color: Option<&str>| -> String {
        let mut c = Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"])
            .stdin(Stdio::null())
            .env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let o = c.output().unwrap();
        assert_eq!(code_of(&o), 0, "{}", show(&o));
        stdout_of(&o)
    };
    let coloured = on_tty(None);
    assert!(coloured.contains("NAME"), "{coloured:?}");
    assert!(
        coloured.contains('\x1b'),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = on_tty(Some("1"));
    assert!(plain.contains("running"), "{plain:?}");
    assert!(
        !plain.contains('\x1b'),
        "colour despite NO_COLOR: {plain:?}"
    );
}

#[test]
fn a_killed_tend_leaves_a_stale_socket_that_clients_call_not_running() {
    let tmp = TempDir::new();
    let mut t = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    let pid = wait_running(&t, "web");
    t.track_group(pid);
    wait_until(WAIT, "state.json shows web running", || {
        read_lossy(&t.dir.join("state.json")).contains("running")
    });
    t.signal(libc::SIGKILL);
    t.expect_exit(WAIT);
    assert!(
        t.dir.join("tend.sock").exists(),
        "expected a stale socket file"
    );
    for args in [vec!["stop", "web"], vec!["health"], vec!["shutdown"]] {
        let o = ctl(&t, &args);
        assert_eq!(code_of(&o), 3, "tend {args:?}: {}", show(&o));
    }
    let o = ctl(&t, &["status"]);
    assert_eq!(code_of(&o), 3, "{}", show(&o));
    let out = stdout_of(&o);
    assert!(out.contains("not running"), "{}", show(&o));
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().next() == Some("web")),
        "{}",
        show(&o)
    );
    // A new tend takes the DIR over.
    let t2 = start(
        &tmp,
        serde_json::json!({"processes": [fx_proc("web", &[], serde_json::json!({}))]}),
    );
    wait_running(&t2, "web");
    assert_eq!(t2.status_json().unwrap()["tend"]["pid"], t2.pid());
}
