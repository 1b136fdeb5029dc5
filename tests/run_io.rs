//! `tend run` output handling, black-box against SPEC §4: child output to
//! `DIR/logs/NAME.log` with RFC 3339 timestamps and to tend's stdout as
//! `NAME | line` (unless `--quiet`), partial and over-long lines, rotation,
//! surviving a closed stdout and a removed log directory, the events file
//! and the tick line.

mod util;

use serde_json::json;
use std::time::Duration;
use util::*;

const T5: Duration = Duration::from_secs(5);

/// `2026-11-26T03:04:05Z`, `2026-11-26T03:04:05.123Z` or `...+00:00`.
fn is_rfc3339_utc(ts: &str) -> bool {
    let b = ts.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &ts[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    rest == "Z" || rest == "+00:00"
}

/// Split a log line into (timestamp, text).
fn split_log_line(l: &str) -> (&str, &str) {
    l.split_once(' ').unwrap_or((l, ""))
}

/// The text part of every line of `DIR/logs/NAME.log`.
fn log_texts(t: &Tend, name: &str) -> Vec<String> {
    t.log(name)
        .lines()
        .map(|l| split_log_line(l).1.to_string())
        .collect()
}

fn run_to_exit(tmp: &TempDir, args: &[&str]) -> Tend {
    let mut t = Tend::run(tmp, args);
    let code = t.expect_exit(T5);
    assert_eq!(code, 0, "{}", t.dump());
    t
}

#[test]
fn rfc3339_checker() {
    assert!(is_rfc3339_utc("2026-11-26T03:04:05Z"));
    assert!(is_rfc3339_utc("2026-11-26T03:04:05.123456Z"));
    assert!(is_rfc3339_utc("2026-11-26T03:04:05+00:00"));
    assert!(!is_rfc3339_utc("2026-11-26 03:04:05Z"));
    assert!(!is_rfc3339_utc("2026-11-26T03:04:05"));
    assert!(!is_rfc3339_utc("03:04:05"));
}

/// Every line of the log file is `RFC3339-UTC SP text`; stdout and stderr
/// both land there, each stream in its own order.
#[test]
fn log_file_lines_are_timestamped() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_to_exit(
        &tmp,
        &[
            "--name",
            "w",
            "--restart",
            "never",
            "--",
            &fx,
            "--print",
            "hello",
            "--stderr",
            "oops",
            "--lines",
            "3",
            "--exit-code",
            "0",
        ],
    );
    let log = t.log("w");
    assert!(!log.is_empty(), "{}", t.dump());
    for l in log.lines() {
        let (ts, _) = split_log_line(l);
        assert!(
            is_rfc3339_utc(ts),
            "line without an RFC 3339 UTC stamp: {l:?}"
        );
    }
    let texts = log_texts(&t, "w");
    let out: Vec<&str> = texts
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "oops")
        .collect();
    assert_eq!(out, ["hello", "line 1", "line 2", "line 3"], "{log}");
    assert!(
        texts.iter().any(|s| s == "oops"),
        "stderr in the log: {log}"
    );
}

/// Without `--quiet`, tend's stdout carries `NAME | line` for stdout and
/// stderr of the child.
#[test]
fn stdout_has_name_prefixed_lines() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_to_exit(
        &tmp,
        &[
            "--name",
            "w",
            "--restart",
            "never",
            "--",
            &fx,
            "--print",
            "hello",
            "--stderr",
            "oops",
            "--lines",
            "2",
            "--exit-code",
            "0",
        ],
    );
    let out = t.stdout();
    for want in ["w | hello", "w | oops", "w | line 1", "w | line 2"] {
        assert!(
            out.lines().any(|l| l == want),
            "missing {want:?}\n{}",
            t.dump()
        );
    }
}

#[test]
fn quiet_suppresses_stdout_but_not_the_log() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_to_exit(
        &tmp,
        &[
            "--quiet",
            "--name",
            "w",
            "--restart",
            "never",
            "--",
            &fx,
            "--lines",
            "2",
            "--exit-code",
            "0",
        ],
    );
    assert!(!t.stdout().contains("line 1"), "{}", t.dump());
    assert!(
        log_texts(&t, "w").iter().any(|s| s == "line 1"),
        "{}",
        t.dump()
    );
}

/// Output without a final newline is not lost at exit.
#[test]
fn partial_last_line_is_written() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_to_exit(
        &tmp,
        &[
            "--name",
            "w",
            "--restart",
            "never",
            "--",
            &fx,
            "--print",
            "first",
            "--partial",
            "no-newline",
            "--exit-code",
            "0",
        ],
    );
    let texts = log_texts(&t, "w");
    assert_eq!(
        texts.last().map(String::as_str),
        Some("no-newline"),
        "{}",
        t.dump()
    );
    assert!(
        t.stdout().lines().any(|l| l == "w | no-newline"),
        "{}",
        t.dump()
    );
}

/// A 100 KiB line is split into 64 KiB pieces, nothing lost.
#[test]
fn long_line_is_split_at_64k() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = run_to_exit(
        &tmp,
        &[
            "--quiet",
            "--name",
            "w",
            "--restart",
            "never",
            "--",
            &fx,
            "--long-line",
            "102400",
            "--exit-code",
            "0",
        ],
    );
    let lens: Vec<usize> = log_texts(&t, "w").iter().map(String::len).collect();
    assert_eq!(lens, [65536, 102400 - 65536], "piece lengths");
    assert!(t.log("w").lines().all(|l| {
        let (ts, text) = split_log_line(l);
        is_rfc3339_utc(ts) && text.bytes().all(|b| b == b'x')
    }));
}

/// A child writing megabytes as fast as it can: every line arrives, in
/// order, and tend exits normally.
#[test]
fn flood_is_logged_completely() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = Tend::run(
        &tmp,
        &[
            "--name",
            "w",
            "--restart",
            "never",
            "--",
            &fx,
            "--flood",
            "2000000",
            "--exit-code",
            "0",
        ],
    );
    assert_eq!(t.expect_exit(Duration::from_secs(20)), 0, "{}", t.dump());
    let texts = log_texts(&t, "w");
    assert_eq!(texts.len(), 20_000, "{}", t.dump());
    for (i, s) in texts.iter().enumerate() {
        let want = format!("line {} ", i + 1);
        assert!(s.starts_with(&want), "line {i}: {s:?}");
    }
    assert_eq!(
        t.stdout()
            .lines()
            .filter(|l| l.starts_with("w | line "))
            .count(),
        20_000
    );
}

/// tend's stdout is a pipe whose reader is gone: writes fail with EPIPE,
/// and tend keeps supervising (children keep being restarted).
#[test]
fn closed_stdout_does_not_stop_tend() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let mut t = TendCmd::new(&tmp)
        .stdout_pipe()
        .args([
            "--name",
            "w",
            "--restart-delay",
            "50ms",
            "--",
            fx.as_str(),
            "--record",
            &rec,
            "--lines",
            "100",
            "--exit-code",
            "0",
        ])
        .spawn();
    drop(t.take_stdout());
    let ok = poll_for(T5, || read_record(&tmp.join("rec")).len() >= 6);
    assert!(ok, "children keep being restarted\n{}", t.dump());
    assert!(t.is_running(), "{}", t.dump());
    assert!(log_texts(&t, "w").iter().any(|s| s == "line 100"));
}

/// The log directory removed under a running tend: survived, children
/// keep running and being restarted.
#[test]
fn removed_log_dir_is_survived() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let mut t = Tend::run(
        &tmp,
        &[
            "--name",
            "w",
            "--restart-delay",
            "50ms",
            "--",
            &fx,
            "--record",
            &rec,
            "--lines",
            "5",
            "--exit-code",
            "0",
        ],
    );
    wait_until(T5, "two starts", || {
        read_record(&tmp.join("rec")).len() >= 2
    });
    std::fs::remove_dir_all(tmp.state().join("logs")).unwrap();
    let n = read_record(&tmp.join("rec")).len();
    let ok = poll_for(T5, || read_record(&tmp.join("rec")).len() >= n + 4);
    assert!(ok, "restarts go on without a log dir\n{}", t.dump());
    assert!(t.is_running(), "{}", t.dump());
}

/// `log.max_size` / `log.keep`: NAME.log rotates to NAME.log.1 … .KEEP and
/// no further; no file grows much past max_size.
#[test]
fn log_rotates_at_max_size() {
    let tmp = TempDir::new();
    let fx = fixture();
    let cfg = write_config(
        tmp.path(),
        &json!({"processes": [{"name": "w", "command": fx, "restart": "never",
                               "args": ["--flood", "100000", "--exit-code", "0"],
                               "log": {"max_size": "10KiB", "keep": 2}}]})
        .to_string(),
    );
    let mut t = Tend::run(&tmp, &["--quiet", "-c", cfg.to_str().unwrap()]);
    assert_eq!(t.expect_exit(T5), 0, "{}", t.dump());
    let logs = tmp.state().join("logs");
    for f in ["w.log", "w.log.1", "w.log.2"] {
        let p = logs.join(f);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{f} exists and is not empty\n{}", t.dump());
        assert!(len <= 10 * 1024 + 200, "{f} is {len} bytes, max_size 10KiB");
    }
    assert!(!logs.join("w.log.3").exists(), "keep 2\n{}", t.dump());
    // The newest lines are in w.log, older ones in .1, oldest in .2.
    let last = read_lossy(&logs.join("w.log"));
    assert!(
        last.lines().last().unwrap_or("").contains("line 1000 "),
        "{last}"
    );
}

/// `--log-dir DIR` moves the log files.
#[test]
fn log_dir_flag() {
    let tmp = TempDir::new();
    let fx = fixture();
    let ld = tmp.join("mylogs");
    let t = run_to_exit(
        &tmp,
        &[
            "--log-dir",
            ld.to_str().unwrap(),
            "--name",
            "w",
            "--restart",
            "never",
            "--",
            &fx,
            "--print",
            "here",
            "--exit-code",
            "0",
        ],
    );
    let log = read_lossy(&ld.join("w.log"));
    assert!(
        log.lines().any(|l| l.ends_with(" here")),
        "{log}\n{}",
        t.dump()
    );
}

/// events.jsonl: one object per line with ts, event, name; a crash cycle
/// gives starting, started (pid), exited (code), backoff (delay_ms).
#[test]
fn events_record_a_crash_cycle() {
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
            "--",
            &fx,
            "--record",
            &rec,
            "--exit-code",
            "4",
        ],
    );
    wait_until(T5, "three starts", || {
        read_record(&tmp.join("rec")).len() >= 3
    });
    let raw = read_lossy(&tmp.state().join("events.jsonl"));
    // Whole lines only: tend may be appending the next one right now.
    let whole = &raw[..raw.rfind('\n').map_or(0, |i| i + 1)];
    for l in whole.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["ts"].as_str().is_some_and(is_rfc3339_utc), "ts: {l}");
        assert!(v["event"].is_string(), "event: {l}");
    }
    let ev: Vec<serde_json::Value> = t
        .events()
        .into_iter()
        .filter(|v| v["name"] == "w")
        .collect();
    let find = |e: &str| ev.iter().find(|v| v["event"] == e).cloned();
    assert!(find("starting").is_some(), "{raw}");
    let started = find("started").expect("started event");
    let first = read_record(&tmp.join("rec"))[0].0;
    assert_eq!(started["pid"], first, "{raw}");
    let exited = find("exited").expect("exited event");
    assert_eq!(exited["code"], 4, "{raw}");
    let backoff = find("backoff").expect("backoff event");
    assert_eq!(backoff["delay_ms"], 100, "{raw}");
}

/// `tick`: a status line `tend ts=... procs=N running=N ...` on stderr.
#[test]
fn tick_line_on_stderr() {
    let tmp = TempDir::new();
    let fx = fixture();
    let cfg = write_config(
        tmp.path(),
        &json!({"tick": "200ms", "processes": [{"name": "a", "command": fx}]}).to_string(),
    );
    let t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap()]);
    let mut line = String::new();
    let ok = poll_for(T5, || {
        line = t
            .stderr()
            .lines()
            .find(|l| {
                l.starts_with("tend ts=") && l.contains(" procs=1 ") && l.contains(" restarts=")
            })
            .unwrap_or("")
            .to_string();
        !line.is_empty()
    });
    assert!(ok, "tick line\n{}", t.dump());
    let fields: Vec<&str> = line.split(' ').collect();
    let keys: Vec<&str> = fields[1..]
        .iter()
        .map(|f| f.split_once('=').map(|(k, _)| k).unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "ts",
            "procs",
            "running",
            "ready",
            "unhealthy",
            "failed",
            "restarts"
        ],
        "{line}"
    );
    assert!(
        is_rfc3339_utc(fields[1].trim_start_matches("ts=")),
        "{line}"
    );
}

/// tend's stderr is a pipe whose reader is gone: its own messages fail
/// with EPIPE, and it keeps supervising.
#[test]
fn closed_stderr_does_not_stop_tend() {
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let mut t = TendCmd::new(&tmp)
        .stderr_pipe()
        .args([
            "--name",
            "w",
            "--restart-delay",
            "50ms",
            "--",
            fx.as_str(),
            "--record",
            &rec,
            "--lines",
            "3",
            "--exit-code",
            "1",
        ])
        .spawn();
    drop(t.take_stderr());
    let ok = poll_for(T5, || read_record(&tmp.join("rec")).len() >= 4);
    assert!(ok, "children keep being restarted\n{}", t.dump());
    assert!(t.is_running(), "{}", t.dump());
}

/// stdout and stderr on a full device (ENOSPC on every write): survived,
/// and the log file still gets everything.
#[test]
fn full_stdout_and_stderr_are_survived() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let tmp = TempDir::new();
    let fx = fixture();
    let rec = tmp.s("rec");
    let mut t = TendCmd::new(&tmp)
        .stdout_to("/dev/full")
        .stderr_to("/dev/full")
        .args([
            "--name",
            "w",
            "--restart-delay",
            "50ms",
            "--",
            fx.as_str(),
            "--record",
            &rec,
            "--lines",
            "3",
            "--exit-code",
            "0",
        ])
        .spawn();
    let ok = poll_for(T5, || read_record(&tmp.join("rec")).len() >= 4);
    assert!(ok, "children keep being restarted\n{}", t.dump());
    assert!(t.is_running(), "{}", t.dump());
    let n = log_texts(&t, "w").iter().filter(|s| *s == "line 3").count();
    assert!(n >= 3, "log has every run's output: {n}\n{}", t.dump());
}

/// Root only: the log directory on a full filesystem (a 64 KiB tmpfs in a
/// private mount namespace): writes fail with ENOSPC, tend survives and
/// keeps restarting its child.
#[test]
fn full_log_disk_is_survived() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 || !std::path::Path::new("/usr/bin/unshare").exists() {
        eprintln!("skipped: needs root and unshare");
        return;
    }
    let tmp = TempDir::new();
    let fx = fixture();
    let mnt = tmp.join("logs-full");
    std::fs::create_dir(&mnt).unwrap();
    let rec = tmp.s("rec");
    let script = format!(
        "mount -t tmpfs -o size=64k tmpfs '{}' && exec \"$0\" \"$@\"",
        mnt.display()
    );
    let mut t = TendCmd::new(&tmp)
        .wrap(["/usr/bin/unshare", "-m", "/bin/sh", "-c", &script])
        .args([
            "--quiet",
            "--log-dir",
            mnt.to_str().unwrap(),
            "--name",
            "w",
            "--restart-delay",
            "50ms",
            "--",
            fx.as_str(),
            "--record",
            &rec,
            "--flood",
            "100000",
            "--exit-code",
            "0",
        ])
        .spawn();
    let ok = poll_for(Duration::from_secs(10), || {
        read_record(&tmp.join("rec")).len() >= 4
    });
    assert!(ok, "children keep being restarted\n{}", t.dump());
    assert!(t.is_running(), "{}", t.dump());
}
