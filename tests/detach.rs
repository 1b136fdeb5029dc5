//! `tend run --detach` end to end (SPEC §1, issue 3): it returns only once
//! the background tend holds the lock and answers on its socket, prints
//! that tend's PID and exits 0; it exits non-zero with the reason when the
//! lock is held (3, naming the holder) or the config is bad (2).
//!
//! The detached tend is not our child: every tend started here carries the
//! harness marker in its environment, and `Daemon`'s drop kills whatever
//! carries it.

mod util;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use util::*;

const WAIT: Duration = Duration::from_secs(10);

/// What a one-shot command did: its code (None: still running at the
/// deadline, then killed) and its output. `out_closed` is false when
/// something (a detached tend) still held the stdout pipe open after the
/// command exited (the same for stderr).
struct Ran {
    code: Option<i32>,
    out: String,
    err: String,
    out_closed: bool,
}

impl Ran {
    fn show(&self) -> String {
        format!(
            "code: {:?} (stdout closed: {})\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.code, self.out_closed, self.out, self.err
        )
    }
}

/// Run `tend ARGS...` with the test marker in its environment, stdout and
/// stderr piped; wait at most `WAIT` for it to exit, and a moment more for
/// its pipes to close, without ever blocking on a pipe a daemon kept.
fn run_marked(tmp: &TempDir, args: &[&str]) -> Ran {
    let mut cmd = Command::new(tend_bin());
    cmd.args(args)
        .current_dir(tmp.path())
        .env(MARKER_VAR, tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    run_marked_cmd(cmd)
}

/// `run_marked` for a prepared command (stdout and stderr piped).
fn run_marked_cmd(mut cmd: Command) -> Ran {
    let mut child = cmd.spawn().unwrap();
    let (tx_out, rx_out) = mpsc::channel();
    let (tx_err, rx_err) = mpsc::channel();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        let _ = tx_out.send(v);
    });
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        let _ = tx_err.send(v);
    });
    let code = wait_child(&mut child, WAIT);
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = rx_out.recv_timeout(Duration::from_secs(2));
    let err = rx_err.recv_timeout(Duration::from_secs(2));
    Ran {
        code,
        out_closed: out.is_ok() && err.is_ok(),
        out: String::from_utf8_lossy(&out.unwrap_or_default()).into_owned(),
        err: String::from_utf8_lossy(&err.unwrap_or_default()).into_owned(),
    }
}

/// Kills every process of this test (the detached tend and its children)
/// on drop; on failure, prints the detached tend's log first.
struct Daemon<'a> {
    tmp: &'a TempDir,
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = read_lossy(&self.tmp.state().join("logs").join("tend.log"));
            eprintln!("----- DIR/logs/tend.log -----\n{log}");
        }
        kill_marked(self.tmp.path());
    }
}

fn config(tmp: &TempDir, body: &str) -> String {
    write_config(tmp.path(), body)
        .to_string_lossy()
        .into_owned()
}

fn keep_config(tmp: &TempDir) -> String {
    config(
        tmp,
        &serde_json::json!({"processes": [
            {"name": "keep", "command": fixture(), "min_uptime": "100ms", "stop_timeout": "2s"}
        ]})
        .to_string(),
    )
}

#[test]
fn detach_prints_the_pid_and_tend_answers_at_once() {
    let tmp = TempDir::new();
    let _d = Daemon { tmp: &tmp };
    let cfg = keep_config(&tmp);
    let dir = tmp.s("d");
    let t0 = Instant::now();
    let r = run_marked(&tmp, &["run", "--detach", "--dir", &dir, "-c", &cfg]);
    let took = t0.elapsed();
    // Immediately: no retry, no wait.
    let st = run_tend(&["status", "--json", "--dir", &dir]);
    assert_eq!(r.code, Some(0), "{}", r.show());
    assert!(took < Duration::from_secs(5), "--detach took {took:?}");
    assert_eq!(
        shell_code(st.status),
        0,
        "status right after --detach: {}",
        show(&st)
    );
    let doc: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert!(
        r.out_closed,
        "the detached tend kept the caller's stdout or stderr open: {}",
        r.show()
    );
    assert!(!r.out.contains('\x1b'));
    let printed: i32 = r
        .out
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("--detach did not print just a PID: {}", r.show()));
    let locked = read_pid(&tmp.join("d").join("tend.pid"));
    assert_eq!(
        locked,
        Some(printed),
        "DIR/tend.pid vs printed: {}",
        r.show()
    );
    assert_eq!(doc["tend"]["pid"], printed, "{doc}");
    assert!(pid_alive(printed));
    // Backgrounded: not in our session, stdio not ours.
    // SAFETY: getsid(0) only queries this process.
    let our_sid = unsafe { libc::getsid(0) };
    assert_ne!(
        sid_of(printed),
        Some(our_sid),
        "the detached tend is still in our session"
    );
    let fd1 = std::fs::read_link(format!("/proc/{printed}/fd/1")).ok();
    assert!(
        fd1.as_ref().is_some_and(|p| p.ends_with("logs/tend.log")),
        "stdout of the detached tend: {fd1:?}"
    );
    // Its messages go to DIR/logs/tend.log.
    wait_until(WAIT, "tend.log mentions the start", || {
        read_lossy(&tmp.join("d").join("logs").join("tend.log")).contains("keep")
    });

    // It supervises: the process comes up and shutdown ends it with 0.
    wait_until(WAIT, "keep running", || {
        let o = run_tend(&["status", "--json", "--dir", &dir]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .is_ok_and(|d| d["processes"][0]["state"] == "running")
    });
    let o = run_tend(&["shutdown", "--dir", &dir]);
    assert_eq!(shell_code(o.status), 0, "{}", show(&o));
    wait_until(WAIT, "the detached tend to exit", || !pid_alive(printed));
}

#[test]
fn detach_with_the_lock_held_exits_3_naming_the_holder() {
    let tmp = TempDir::new();
    let _d = Daemon { tmp: &tmp };
    let cfg = keep_config(&tmp);
    let dir = tmp.s("d");
    let mut holder = Tend::run(&tmp, &["--quiet", "-c", &cfg]);
    wait_until(WAIT, "the first tend answers", || {
        holder.status_json().is_some()
    });
    let r = run_marked(&tmp, &["run", "--detach", "--dir", &dir, "-c", &cfg]);
    assert_eq!(r.code, Some(3), "{}\n{}", r.show(), holder.dump());
    assert!(
        r.err.contains(&holder.pid().to_string()),
        "the message does not name the holder {}: {}",
        holder.pid(),
        r.show()
    );
    assert!(
        r.out.trim().is_empty(),
        "a PID printed on failure: {}",
        r.show()
    );
    assert!(r.out_closed, "{}", r.show());
    // The holder is unharmed and still owns DIR.
    assert!(holder.is_running());
    assert_eq!(
        read_pid(&tmp.join("d").join("tend.pid")),
        Some(holder.pid())
    );
    let doc = holder.status_json().expect("holder still answers");
    assert_eq!(doc["tend"]["pid"], holder.pid());
}

#[test]
fn detach_with_a_bad_config_exits_2_with_the_error() {
    let tmp = TempDir::new();
    let _d = Daemon { tmp: &tmp };
    let cfg = config(
        &tmp,
        "{\"processes\": [{\"name\": \"web\", \"command\": \"sleep\", \"restrat\": \"always\"}]}",
    );
    let dir = tmp.s("d");
    let r = run_marked(&tmp, &["run", "--detach", "--dir", &dir, "-c", &cfg]);
    assert_eq!(r.code, Some(2), "{}", r.show());
    assert!(
        r.err.contains("restrat"),
        "the error does not name the key: {}",
        r.show()
    );
    assert!(
        r.err.contains("tend.json"),
        "the error does not name the file: {}",
        r.show()
    );
    assert!(r.out.trim().is_empty(), "{}", r.show());
    assert!(r.out_closed, "{}", r.show());
    // Nothing was left running on DIR.
    let o = run_tend(&["status", "--dir", &dir]);
    assert_eq!(shell_code(o.status), 3, "{}", show(&o));
    assert!(
        marked_pids(&tmp).is_empty(),
        "left running: {:?}",
        marked_pids(&tmp)
    );
}

#[test]
fn detach_with_relative_paths_keeps_their_meaning() {
    // `tend run --detach --dir d -c tend.json` from the project directory:
    // the background tend must not lose the caller's current directory
    // for relative paths (DIR, the config, the config's `cwd`).
    let tmp = TempDir::new();
    let _d = Daemon { tmp: &tmp };
    std::fs::create_dir_all(tmp.join("work")).unwrap();
    config(
        &tmp,
        &serde_json::json!({"processes": [
            {"name": "keep", "command": fixture(), "args": ["--cwd-file", "cwd.txt"],
             "cwd": "work", "min_uptime": "100ms", "stop_timeout": "2s"}
        ]})
        .to_string(),
    );
    let r = run_marked(&tmp, &["run", "--detach", "--dir", "d", "-c", "tend.json"]);
    assert_eq!(r.code, Some(0), "{}", r.show());
    let pid: i32 = r
        .out
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}", r.show()));
    assert!(tmp.join("d").join("tend.sock").exists(), "no socket in ./d");
    assert_eq!(read_pid(&tmp.join("d").join("tend.pid")), Some(pid));
    wait_until(WAIT, "the child wrote its cwd", || {
        tmp.join("work").join("cwd.txt").exists()
    });
    let cwd = read_lossy(&tmp.join("work").join("cwd.txt"));
    assert_eq!(
        std::fs::canonicalize(cwd.trim()).ok(),
        std::fs::canonicalize(tmp.join("work")).ok(),
        "{cwd}"
    );
    let o = run_tend(&["shutdown", "--dir", &tmp.s("d")]);
    assert_eq!(shell_code(o.status), 0, "{}", show(&o));
}

#[test]
fn detach_via_tend_dir_env_and_a_second_detach_after_shutdown() {
    let tmp = TempDir::new();
    let _d = Daemon { tmp: &tmp };
    let cfg = keep_config(&tmp);
    let dir = tmp.s("d");
    for round in 0..2 {
        let mut cmd = Command::new(tend_bin());
        cmd.args(["run", "--detach", "-c", &cfg])
            .env("TEND_DIR", &dir)
            .env(MARKER_VAR, tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let r = run_marked_cmd(cmd);
        assert_eq!(r.code, Some(0), "round {round}: {}", r.show());
        let pid: i32 = r
            .out
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{}", r.show()));
        assert_eq!(read_pid(&tmp.join("d").join("tend.pid")), Some(pid));
        let o = run_tend(&["shutdown", "--dir", &dir]);
        assert_eq!(shell_code(o.status), 0, "{}", show(&o));
        wait_until(WAIT, "the detached tend to exit", || !pid_alive(pid));
    }
}

#[test]
fn detach_that_fails_after_forking_reports_the_reason() {
    // The socket path does not fit in sun_path: the background tend can
    // only find out once it tries to listen, after the fork. The caller
    // must still get the reason and a failure code, and nothing may stay.
    let tmp = TempDir::new();
    let _d = Daemon { tmp: &tmp };
    let cfg = keep_config(&tmp);
    let long = tmp.join("x".repeat(110));
    let dir = long.to_string_lossy().into_owned();
    let r = run_marked(&tmp, &["run", "--detach", "--dir", &dir, "-c", &cfg]);
    assert!(
        matches!(r.code, Some(c) if c != 0),
        "detach with an unusable socket path: {}",
        r.show()
    );
    assert!(r.err.contains("tend.sock"), "no reason given: {}", r.show());
    assert!(
        r.out.trim().is_empty(),
        "a PID printed on failure: {}",
        r.show()
    );
    assert!(r.out_closed, "{}", r.show());
    wait_until(WAIT, "nothing of this test left running", || {
        marked_pids(&tmp).is_empty()
    });
}
