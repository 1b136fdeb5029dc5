//! Operations features end to end (issue 6): log rotation at `log.max_size`
//! with `log.keep`, a log directory removed under a running tend, the
//! `limits` (procs, memory, runtime, `on_limit`), and reload (SIGHUP and
//! `tend reload`), valid, invalid and in single-command mode. Every test
//! runs the real `tend` binary on the fixture child (or `sh`), with its own
//! temp dir; nothing sleeps to synchronise, everything polls a condition
//! with a deadline.

mod util;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use util::*;

/// Generous: the CI machine is small and shared.
const WAIT: Duration = Duration::from_secs(10);

/// Write `cfg` as `TMP/tend.json` and start `tend run --quiet -c` on it.
fn start(tmp: &TempDir, cfg: &Value) -> Tend {
    let path = write_config(tmp.path(), &cfg.to_string());
    Tend::run(tmp, &["--quiet", "-c", path.to_str().unwrap()])
}

/// The pid of `name` once it is `running`.
fn running_pid(t: &Tend, name: &str) -> i32 {
    t.wait_state(name, "running", WAIT);
    let p = t.proc_status(name).unwrap();
    p["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("{name} running without a pid: {p}\n{}", t.dump())) as i32
}

/// `tend ARGS... --dir DIR`.
fn client(t: &Tend, args: &[&str]) -> std::process::Output {
    let mut v: Vec<&str> = args.to_vec();
    let dir = t.dir.to_str().unwrap().to_string();
    v.push("--dir");
    v.push(&dir);
    run_tend(&v)
}

/// Wait until `f` holds for process `name`'s status object; panics with
/// the last status and the dump.
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
    match last {
        Some(v) if ok => v,
        _ => panic!(
            "timed out after {timeout:?} waiting for {name}: {what}; last status: {}\n{}",
            last.map(|v| v.to_string()).unwrap_or_else(|| "none".into()),
            t.dump()
        ),
    }
}

// ---------------------------------------------------------------------
// Log rotation
// ---------------------------------------------------------------------

/// `NAME.log` and every `NAME.log.K` in `logs`, as (K, path), K = 0 for
/// `NAME.log`; panics on any other file that starts with `NAME.log`.
fn log_files(logs: &Path, name: &str) -> Vec<(u32, PathBuf)> {
    let base = format!("{name}.log");
    let mut out = Vec::new();
    for e in std::fs::read_dir(logs).unwrap() {
        let e = e.unwrap();
        let f = e.file_name().to_string_lossy().into_owned();
        if f == base {
            out.push((0, e.path()));
        } else if let Some(k) = f.strip_prefix(&format!("{base}.")) {
            let k: u32 = k
                .parse()
                .unwrap_or_else(|_| panic!("unexpected log file {f} in {}", logs.display()));
            out.push((k, e.path()));
        }
    }
    out.sort();
    out
}

/// A log line's timestamp: RFC 3339 UTC, e.g. `2026-11-26T03:11:40.123Z`.
fn is_rfc3339_utc(ts: &str) -> bool {
    let b = ts.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && ts.ends_with('Z')
        && b[..4].iter().all(u8::is_ascii_digit)
}

/// The numbers `n` of the `TIMESTAMP line <n>` lines of the rotated log
/// files of `name`, oldest file first. Asserts every line has that shape
/// (no partial or mangled line), every file is at most `max_size` bytes,
/// and the rotated files are numbered 1..=K without a gap.
fn read_rotated(logs: &Path, name: &str, max_size: u64) -> (Vec<u64>, Vec<(u32, PathBuf)>) {
    let files = log_files(logs, name);
    let ks: Vec<u32> = files.iter().map(|(k, _)| *k).collect();
    let want: Vec<u32> = (0..files.len() as u32).collect();
    assert_eq!(
        ks, want,
        "log files are not NAME.log, NAME.log.1 … NAME.log.K"
    );
    let mut nums = Vec::new();
    for (_, p) in files.iter().rev() {
        let bytes = std::fs::read(p).unwrap();
        assert!(
            bytes.len() as u64 <= max_size,
            "{} is {} bytes, more than max_size {max_size}",
            p.display(),
            bytes.len()
        );
        assert!(
            bytes.is_empty() || bytes.ends_with(b"\n"),
            "{} ends with a partial line",
            p.display()
        );
        let text = String::from_utf8(bytes).unwrap();
        for l in text.lines() {
            let (ts, rest) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("{}: line without a timestamp: {l:?}", p.display()));
            assert!(
                is_rfc3339_utc(ts),
                "{}: bad timestamp in {l:?}",
                p.display()
            );
            let n = rest
                .strip_prefix("line ")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{}: not a fixture line: {l:?}", p.display()));
            nums.push(n);
        }
    }
    (nums, files)
}

const ROTATE_MAX: u64 = 64 * 1024;

/// A flooding child rotated at 64 KiB with keep 50 (nothing deleted): every
/// line written is in exactly one file, once, whole, in order; every file
/// is within max_size (rotation happens between lines, and the lines are
/// short); the log rotated many times.
#[test]
fn rotation_keeps_every_line_once_and_files_within_max_size() {
    const N: u64 = 30_000;
    let tmp = TempDir::new();
    let cfg = json!({"processes": [{
        "name": "flood",
        "command": fixture(),
        "args": ["--lines", N.to_string(), "--exit-code", "0"],
        "restart": "never",
        "log": {"max_size": "64KiB", "keep": 50}
    }]});
    let mut t = start(&tmp, &cfg);
    let code = t.expect_exit(Duration::from_secs(30));
    assert_eq!(code, 0, "{}", t.dump());
    let logs = t.dir.join("logs");
    let (nums, files) = read_rotated(&logs, "flood", ROTATE_MAX);
    // ~35 bytes a line × 30 000 lines ≈ 1 MiB: about 16 files of 64 KiB.
    assert!(
        files.len() >= 12,
        "expected many rotations, got {} files\n{}",
        files.len(),
        t.dump()
    );
    let want: Vec<u64> = (1..=N).collect();
    if nums != want {
        let missing: Vec<u64> = want
            .iter()
            .copied()
            .filter(|n| !nums.contains(n))
            .take(20)
            .collect();
        panic!(
            "lines across the log files are not 1..={N} once each, in order: \
             {} lines, first missing {missing:?}, first 5 {:?}, last 5 {:?}",
            nums.len(),
            &nums[..nums.len().min(5)],
            &nums[nums.len().saturating_sub(5)..]
        );
    }
}

/// keep = 2: only NAME.log, NAME.log.1 and NAME.log.2 remain; what they
/// hold is the newest lines, contiguous up to the last one, the oldest
/// deleted.
#[test]
fn rotation_keep_two_deletes_older_files() {
    const N: u64 = 20_000;
    let tmp = TempDir::new();
    let cfg = json!({"processes": [{
        "name": "flood",
        "command": fixture(),
        "args": ["--lines", N.to_string(), "--exit-code", "0"],
        "restart": "never",
        "log": {"max_size": "64KiB", "keep": 2}
    }]});
    let mut t = start(&tmp, &cfg);
    let code = t.expect_exit(Duration::from_secs(30));
    assert_eq!(code, 0, "{}", t.dump());
    let logs = t.dir.join("logs");
    let (nums, files) = read_rotated(&logs, "flood", ROTATE_MAX);
    let ks: Vec<u32> = files.iter().map(|(k, _)| *k).collect();
    assert_eq!(ks, vec![0, 1, 2], "{}", t.dump());
    assert!(!nums.is_empty());
    let first = nums[0];
    let want: Vec<u64> = (first..=N).collect();
    assert_eq!(
        nums.len(),
        want.len(),
        "kept lines are not the contiguous newest run {first}..={N}"
    );
    assert!(nums == want, "kept lines are not {first}..={N} in order");
    // ~700 KB were written; three 64 KiB files hold at most ~192 KiB.
    assert!(
        first > N / 2,
        "old lines were not deleted: first kept {first}"
    );
}

/// `rm -rf DIR/logs` under a running tend: the child keeps running, a new
/// NAME.log appears and gains the lines printed after the removal, and tend
/// still supervises (a killed child is restarted, and logs again).
#[test]
fn removed_log_dir_is_recreated_and_supervision_continues() {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [{
        "name": "ticker",
        "command": "sh",
        "args": ["-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done"],
        "min_uptime": "100ms",
        "restart_delay": "100ms"
    }]});
    let t = start(&tmp, &cfg);
    let pid = running_pid(&t, "ticker");
    let ticks = |s: &str| -> Vec<u64> {
        s.lines()
            .filter_map(|l| l.split_once(" tick ")?.1.trim().parse().ok())
            .collect()
    };
    wait_until(WAIT, "ticker.log has 3 ticks", || {
        ticks(&t.log("ticker")).len() >= 3
    });
    let logs = t.dir.join("logs");
    std::fs::remove_dir_all(&logs).unwrap();
    let removed_at = Instant::now();
    // Ticks printed before the removal are gone with it; anything in the
    // new file was printed after it.
    let ok = poll_for(Duration::from_secs(3), || {
        ticks(&t.log("ticker")).len() >= 3
    });
    assert!(
        ok,
        "no new ticker.log with 3 lines within 3 s of removing DIR/logs\n{}",
        t.dump()
    );
    eprintln!("log resumed after {:?}", removed_at.elapsed());
    let n1 = ticks(&t.log("ticker"));
    assert!(
        n1.windows(2).all(|w| w[1] == w[0] + 1),
        "new log lines are not consecutive: {n1:?}"
    );
    // Same child, still supervised.
    let p = t.proc_status("ticker").unwrap();
    assert_eq!(p["state"], "running", "{p}");
    assert_eq!(p["pid"].as_i64(), Some(pid as i64), "{p}");
    // SAFETY: kill of the child tend started for this test.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let p = wait_proc(&t, "ticker", "restarted after SIGKILL", WAIT, |p| {
        p["state"] == "running" && p["pid"].as_i64().is_some_and(|q| q != pid as i64)
    });
    assert_eq!(p["restarts"].as_u64(), Some(1), "{p}");
    // The new run's output reaches the (recreated) log: a restart of the
    // counter shows up as a "tick 0" after the earlier ticks.
    wait_until(WAIT, "the restarted child's ticks in ticker.log", || {
        let n = ticks(&t.log("ticker"));
        n.len() > n1.len() && n.iter().skip(1).any(|&x| x == 0)
    });
}

// ---------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------

/// A child that forks 100 sleepers under `limits.procs: 20` is stopped and
/// restarted; last_error names the measured count; its old group is gone.
#[test]
fn limits_procs_restarts_the_group() {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [{
        "name": "forker",
        "command": fixture(),
        "args": ["--fork", "100"],
        "restart_delay": "200ms",
        "stop_timeout": "2s",
        "limits": {"procs": 20}
    }]});
    let mut t = start(&tmp, &cfg);
    let first = wait_proc(&t, "forker", "has a pid", WAIT, |p| p["pid"].is_i64());
    let pid1 = first["pid"].as_i64().unwrap() as i32;
    t.track_group(pid1);
    let p = wait_proc(
        &t,
        "forker",
        "restarted with a limits.procs error",
        Duration::from_secs(15),
        |p| {
            p["restarts"].as_u64().is_some_and(|r| r >= 1)
                && p["last_error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("limits.procs: "))
        },
    );
    let err = p["last_error"].as_str().unwrap();
    let (measured, max) = err["limits.procs: ".len()..]
        .split_once(" > ")
        .unwrap_or_else(|| panic!("last_error {err:?} is not `limits.procs: N > 20`"));
    assert_eq!(max, "20", "{err}");
    let measured: u32 = measured.parse().unwrap_or_else(|_| panic!("{err}"));
    assert!(
        measured > 20 && measured <= 101,
        "measured {measured} is not a plausible count of the group: {err}"
    );
    wait_until(WAIT, "the old process group is gone", || {
        !pgid_has_members(pid1)
    });
    let ev = t.events();
    assert!(
        ev.iter()
            .any(|e| e["event"] == "stopping" && e["name"] == "forker"),
        "no stopping event for forker\n{}",
        t.dump()
    );
}

/// Parse a size as tend prints it (`205388KiB`, `50MiB`, `123B`).
fn parse_size(s: &str) -> Option<u64> {
    let i = s.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = s[..i].parse().ok()?;
    let mult = match &s[i..] {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        _ => return None,
    };
    Some(n * mult)
}

/// A child that allocates and touches 200 MiB under `memory: 50MiB` is
/// restarted with `limits.memory: <measured> > 50MiB`.
#[test]
fn limits_memory_restarts_the_process() {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [{
        "name": "hog",
        "command": fixture(),
        "args": ["--alloc", "200"],
        "restart_delay": "200ms",
        "limits": {"memory": "50MiB"}
    }]});
    let mut t = start(&tmp, &cfg);
    let first = wait_proc(&t, "hog", "has a pid", WAIT, |p| p["pid"].is_i64());
    let pid1 = first["pid"].as_i64().unwrap() as i32;
    t.track_group(pid1);
    let p = wait_proc(
        &t,
        "hog",
        "restarted with a limits.memory error",
        Duration::from_secs(15),
        |p| {
            p["restarts"].as_u64().is_some_and(|r| r >= 1)
                && p["last_error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("limits.memory: "))
        },
    );
    let err = p["last_error"].as_str().unwrap();
    let (measured, max) = err["limits.memory: ".len()..]
        .split_once(" > ")
        .unwrap_or_else(|| panic!("last_error {err:?} is not `limits.memory: X > 50MiB`"));
    assert_eq!(parse_size(max), Some(50 << 20), "{err}");
    let measured = parse_size(measured).unwrap_or_else(|| panic!("bad size in {err:?}"));
    assert!(
        measured > 50 << 20 && measured < 1 << 30,
        "measured {measured} is not plausible for 200 MiB: {err}"
    );
    wait_until(WAIT, "the first hog is gone", || !pid_alive(pid1));
}

/// `limits.runtime: 1s`: the child is stopped about 1 s after its start and
/// restarted, with `limits.runtime: ...` as last_error.
#[test]
fn limits_runtime_restarts_after_the_runtime() {
    let tmp = TempDir::new();
    let rec = tmp.s("rec");
    let cfg = json!({"processes": [{
        "name": "slow",
        "command": fixture(),
        "args": ["--record", rec],
        "restart_delay": "100ms",
        "min_uptime": "100ms",
        "limits": {"runtime": "1s"}
    }]});
    let t = start(&tmp, &cfg);
    let p = wait_proc(
        &t,
        "slow",
        "restarted with a limits.runtime error",
        WAIT,
        |p| {
            p["restarts"].as_u64().is_some_and(|r| r >= 1)
                && p["last_error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("limits.runtime: "))
        },
    );
    let err = p["last_error"].as_str().unwrap();
    assert!(
        err.ends_with(" > 1s"),
        "last_error {err:?} does not name the limit"
    );
    wait_until(WAIT, "two recorded starts", || {
        read_record(&tmp.join("rec")).len() >= 2
    });
    let gap = start_gaps_ms(&tmp.join("rec"))[0];
    // 1 s of runtime, a prompt stop, 100 ms of restart delay.
    assert!(
        (1000.0..2500.0).contains(&gap),
        "restart {gap:.0} ms after the start, expected about 1.1 s\n{}",
        t.dump()
    );
}

/// `on_limit: "stop"`: the process ends `failed` with the limit's error and
/// a `gave_up` event, and is not restarted; its process is gone. A second
/// process keeps tend alive so its status can be read.
#[test]
fn on_limit_stop_ends_failed_without_restart() {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [
        {
            "name": "capped",
            "command": fixture(),
            "restart_delay": "100ms",
            "min_uptime": "100ms",
            "limits": {"runtime": "500ms", "on_limit": "stop"}
        },
        {"name": "keeper", "command": fixture(), "min_uptime": "100ms"}
    ]});
    let t = start(&tmp, &cfg);
    // Its run is short: catch its pid while it has one, whatever the state.
    let first = wait_proc(&t, "capped", "has a pid", WAIT, |p| p["pid"].is_i64());
    let pid = first["pid"].as_i64().unwrap() as i32;
    t.wait_state("capped", "failed", WAIT);
    let p = t.proc_status("capped").unwrap();
    assert!(
        p["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("limits.runtime: ")),
        "{p}"
    );
    assert!(p["pid"].is_null(), "{p}");
    assert!(!pid_alive(pid), "the capped process is still alive");
    assert!(
        t.events()
            .iter()
            .any(|e| e["event"] == "gave_up" && e["name"] == "capped"),
        "no gave_up event\n{}",
        t.dump()
    );
    // It stays failed: no restart comes after the restart delay.
    let restarted = poll_for(Duration::from_millis(1500), || {
        t.proc_status("capped")
            .is_some_and(|p| p["state"] != "failed" || p["starts"].as_u64() != Some(1))
    });
    assert!(
        !restarted,
        "capped restarted after on_limit stop: {:?}\n{}",
        t.proc_status("capped"),
        t.dump()
    );
    assert_eq!(t.state_of("keeper").as_deref(), Some("running"));
}

// ---------------------------------------------------------------------
// Reload
// ---------------------------------------------------------------------

fn sleeper(name: &str, tag: &str) -> Value {
    json!({
        "name": name,
        "command": fixture(),
        "args": ["--print", tag],
        "min_uptime": "100ms",
        "stop_timeout": "2s"
    })
}

/// Start a, b, c; rewrite the config (a same, b changed, c removed, d
/// added); reload with `how`; check PIDs, states and the reload event.
fn reload_scenario(how: &str) {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [
        sleeper("a", "a1"), sleeper("b", "b1"), sleeper("c", "c1")
    ]});
    let t = start(&tmp, &cfg);
    let a = running_pid(&t, "a");
    let b = running_pid(&t, "b");
    let c = running_pid(&t, "c");
    let new = json!({"processes": [
        sleeper("a", "a1"), sleeper("b", "b2"), sleeper("d", "d1")
    ]});
    write_config(tmp.path(), &new.to_string());
    match how {
        "hup" => t.signal(libc::SIGHUP),
        _ => {
            let out = client(&t, &["reload"]);
            assert_eq!(out.status.code(), Some(0), "{}\n{}", show(&out), t.dump());
        }
    }
    let d = running_pid(&t, "d");
    let pb = wait_proc(&t, "b", "running with a new pid", WAIT, |p| {
        p["state"] == "running" && p["pid"].as_i64().is_some_and(|p| p != b as i64)
    });
    wait_until(WAIT, "c is gone from status", || {
        t.status_json().is_some_and(|doc| {
            doc["processes"]
                .as_array()
                .is_some_and(|ps| !ps.iter().any(|p| p["name"] == "c"))
        })
    });
    wait_until(WAIT, "c's process is dead", || !pid_alive(c));
    wait_until(WAIT, "b's old process is dead", || !pid_alive(b));
    let pa = t.proc_status("a").unwrap();
    assert_eq!(pa["pid"].as_i64(), Some(a as i64), "a was restarted: {pa}");
    assert_eq!(pa["state"], "running", "{pa}");
    assert_eq!(pa["starts"].as_u64(), Some(1), "{pa}");
    assert!(pid_alive(a));
    assert!(pid_alive(d));
    assert!(
        t.log("b").contains(" b2"),
        "b does not run the new args\n{}",
        t.dump()
    );
    assert_ne!(pb["pid"], json!(b));
    let names: Vec<String> = t.status_json().unwrap()["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["a", "b", "d"], "{names:?}");
    let reloads: Vec<Value> = t
        .events()
        .into_iter()
        .filter(|e| e["event"] == "reload")
        .collect();
    assert_eq!(reloads.len(), 1, "{reloads:?}\n{}", t.dump());
    let r = &reloads[0];
    for (k, v) in [
        ("added", 1),
        ("removed", 1),
        ("changed", 1),
        ("unchanged", 1),
    ] {
        assert_eq!(r[k].as_u64(), Some(v), "reload event {r}: {k}");
    }
}

#[test]
fn reload_by_sighup_applies_the_diff() {
    reload_scenario("hup");
}

#[test]
fn reload_by_command_applies_the_diff() {
    reload_scenario("cmd");
}

/// A bad config on reload (bad JSON, an unknown key) changes nothing: same
/// PIDs, no reload event; `tend reload` prints the error and exits 2;
/// SIGHUP leaves a message on tend's stderr.
#[test]
fn invalid_reload_keeps_everything_running() {
    let tmp = TempDir::new();
    let cfg = json!({"processes": [sleeper("a", "a1"), sleeper("b", "b1")]});
    let t = start(&tmp, &cfg);
    let a = running_pid(&t, "a");
    let b = running_pid(&t, "b");
    let same = |what: &str| {
        for (n, pid) in [("a", a), ("b", b)] {
            let p = t.proc_status(n).unwrap();
            assert_eq!(p["pid"].as_i64(), Some(pid as i64), "{what}: {n} {p}");
            assert_eq!(p["state"], "running", "{what}: {n} {p}");
            assert!(pid_alive(pid), "{what}: {n} died");
        }
    };

    // Bad JSON.
    write_config(tmp.path(), "{\"processes\": [ {\"name\": \"a\",, }");
    let out = client(&t, &["reload"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("tend.json"),
        "the error does not name the file: {text}"
    );
    same("after bad JSON");

    // An unknown key.
    let bad = json!({"processes": [sleeper("a", "a1"), sleeper("b", "b2")], "bogus_key": 1});
    write_config(tmp.path(), &bad.to_string());
    let out = client(&t, &["reload"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("bogus_key"),
        "the error does not name the key: {text}"
    );
    same("after an unknown key");

    // SIGHUP with the bad file: a message on tend's stderr.
    let before = t.stderr().len();
    t.signal(libc::SIGHUP);
    wait_until(WAIT, "a reload error on tend's stderr", || {
        let s = t.stderr();
        s.len() > before && s[before..].contains("bogus_key")
    });
    same("after SIGHUP with a bad file");
    assert!(
        !t.events().iter().any(|e| e["event"] == "reload"),
        "a refused reload emitted a reload event\n{}",
        t.dump()
    );

    // The refused reloads left nothing half-applied: a good file now
    // reloads normally (b changed, a untouched).
    let good = json!({"processes": [sleeper("a", "a1"), sleeper("b", "b2")]});
    write_config(tmp.path(), &good.to_string());
    let out = client(&t, &["reload"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    wait_proc(&t, "b", "running with a new pid", WAIT, |p| {
        p["state"] == "running" && p["pid"].as_i64().is_some_and(|p| p != b as i64)
    });
    let pa = t.proc_status("a").unwrap();
    assert_eq!(pa["pid"].as_i64(), Some(a as i64), "a was restarted: {pa}");
    let reloads: Vec<Value> = t
        .events()
        .into_iter()
        .filter(|e| e["event"] == "reload")
        .collect();
    assert_eq!(reloads.len(), 1, "{reloads:?}");
    assert_eq!(reloads[0]["changed"].as_u64(), Some(1), "{}", reloads[0]);
    assert_eq!(reloads[0]["unchanged"].as_u64(), Some(1), "{}", reloads[0]);
}

/// In single-command mode there is no file to reload: `tend reload` fails
/// with exit 2 and says so; the child keeps running.
#[test]
fn reload_in_single_command_mode_fails_clearly() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = Tend::run(
        &tmp,
        &[
            "--quiet",
            "--name",
            "solo",
            "--min-uptime",
            "100ms",
            "--",
            &fx,
        ],
    );
    let pid = running_pid(&t, "solo");
    let out = client(&t, &["reload"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config") && err.contains("single"),
        "the error does not explain that there is no config file: {err:?}"
    );
    let p = t.proc_status("solo").unwrap();
    assert_eq!(p["state"], "running", "{p}");
    assert_eq!(p["pid"].as_i64(), Some(pid as i64), "{p}");
    assert!(pid_alive(pid));
}
