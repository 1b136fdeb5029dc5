//! How `tend run` presents itself to the outside, black-box against SPEC
//! §1 and §4: `--detach` (returns once tend answers, prints its PID), the
//! control socket (mode 0600, bad requests answered with an error while
//! tend keeps serving), and `--interactive` (stdio passed through, no
//! capture).

mod util;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use util::*;

const T5: Duration = Duration::from_secs(5);

/// `--detach`: exits 0 once the background tend holds the lock and answers
/// on its socket, printing its PID; messages go to DIR/logs/tend.log;
/// `tend shutdown` stops it.
#[test]
fn detach_returns_once_tend_answers() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut t = Tend::run(
        &tmp,
        &["--detach", "--", &fx, "--ready-file", &tmp.s("ready")],
    );
    assert_eq!(t.expect_exit(T5), 0, "{}", t.dump());
    let printed: i32 = t
        .stdout()
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("a PID on stdout\n{}", t.dump()));
    assert_ne!(printed, t.pid(), "the background tend is another process");
    t.track_pid(printed);
    // At return it already holds the lock and answers.
    assert_eq!(read_pid(&tmp.state().join("tend.pid")), Some(printed));
    let doc = t
        .status_json()
        .expect("status answers right after --detach");
    assert_eq!(doc["tend"]["pid"], printed, "{doc}");
    let child = wait_pid_file(&tmp.join("ready"), T5);
    assert_ne!(sid_of(printed), sid_of(t.pid()), "new session");
    wait_until(T5, "tend.log has tend's messages", || {
        !read_lossy(&tmp.state().join("logs").join("tend.log")).is_empty()
    });
    let dir = tmp.state();
    let out = run_tend(&["shutdown", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    wait_until(T5, "background tend gone", || !pid_alive(printed));
    assert!(!pid_alive(child));
}

/// `--detach` that cannot start (DIR locked by another tend) exits non-zero
/// with the reason.
#[test]
fn detach_fails_loudly_when_locked() {
    let tmp = TempDir::new();
    let fx = fixture();
    let a = Tend::run(&tmp, &["--", &fx, "--ready-file", &tmp.s("ready")]);
    wait_pid_file(&tmp.join("ready"), T5);
    wait_until(T5, "lock held", || {
        read_pid(&tmp.state().join("tend.pid")) == Some(a.pid())
    });
    let mut b = Tend::run(&tmp, &["--detach", "--", &fx]);
    let code = b.expect_exit(T5);
    assert_ne!(code, 0, "{}", b.dump());
    assert!(b.stderr().contains(&a.pid().to_string()), "{}", b.dump());
}

/// DIR/tend.sock is mode 0600; garbage, an unknown command and a wrong
/// protocol version get `ok: false` replies and tend keeps serving.
#[test]
fn control_socket_mode_and_bad_requests() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = Tend::run(&tmp, &["--", &fx, "--ready-file", &tmp.s("ready")]);
    wait_pid_file(&tmp.join("ready"), T5);
    let sock = tmp.state().join("tend.sock");
    wait_until(T5, "socket", || sock.exists());
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode {mode:o}");
    for bad in [
        "this is not json",
        r#"{"v":1,"cmd":"frobnicate"}"#,
        r#"{"v":99,"cmd":"status"}"#,
        r#"{"v":1,"cmd":"status","extra":true}"#,
    ] {
        let mut s = UnixStream::connect(&sock).unwrap();
        s.set_read_timeout(Some(T5)).unwrap();
        s.write_all(format!("{bad}\n").as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("reply to {bad:?} is JSON ({e}): {line:?}"));
        assert_eq!(v["ok"], false, "{bad} → {line}");
        assert!(v["error"].is_string(), "{bad} → {line}");
    }
    // A client that connects and goes away without a word.
    drop(UnixStream::connect(&sock).unwrap());
    let doc = t.status_json().expect("still serving");
    assert_eq!(doc["processes"][0]["name"], "fixture");
}

/// `--interactive`: the child inherits tend's stdin and stdout; its output
/// is not prefixed and not captured.
#[test]
fn interactive_passes_stdio_through() {
    let tmp = TempDir::new();
    let fx = fixture();
    let stdin = tmp.join("in.txt");
    std::fs::write(&stdin, "input\n").unwrap();
    let mut t = TendCmd::new(&tmp)
        .stdin_file(&stdin)
        .args([
            "--interactive",
            "--name",
            "sh",
            "--",
            fx.as_str(),
            "--print",
            "straight through",
            "--ready-file",
            &tmp.s("ready"),
        ])
        .spawn();
    let child = wait_pid_file(&tmp.join("ready"), T5);
    let fd0 = std::fs::read_link(format!("/proc/{child}/fd/0")).unwrap();
    assert_eq!(fd0, stdin, "stdin inherited");
    wait_until(T5, "output", || t.stdout().contains("straight through"));
    assert!(
        t.stdout().lines().any(|l| l == "straight through"),
        "not prefixed\n{}",
        t.dump()
    );
    assert!(!t.log("sh").contains("straight through"), "not captured");
    t.signal(libc::SIGTERM);
    assert_eq!(t.expect_exit(T5), 143, "{}", t.dump());
}

/// `--dir` is accepted before or after the command name, and `TEND_DIR`
/// stands in for it.
#[test]
fn dir_flag_positions_and_env() {
    let tmp = TempDir::new();
    let fx = fixture();
    let t = Tend::run(&tmp, &["--", &fx, "--ready-file", &tmp.s("ready")]);
    wait_pid_file(&tmp.join("ready"), T5);
    let dir = tmp.state();
    let d = dir.to_str().unwrap();
    wait_until(T5, "status answers", || t.status_json().is_some());
    for args in [
        vec!["--dir", d, "status", "--json"],
        vec!["status", "--dir", d, "--json"],
        vec!["status", "--json", "--dir", d],
    ] {
        let out = run_tend(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", show(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["tend"]["pid"], t.pid(), "{args:?}");
    }
    let out = std::process::Command::new(tend_bin())
        .args(["status", "--json"])
        .env("TEND_DIR", &dir)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "TEND_DIR\n{}", show(&out));
    // The default DIR is `.tend` in the current directory.
    let out = std::process::Command::new(tend_bin())
        .args(["status", "--json"])
        .env_remove("TEND_DIR")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "no tend on ./.tend\n{}",
        show(&out)
    );
}

/// `tend run` with the default DIR creates and uses `.tend` in the
/// current directory.
#[test]
fn default_dir_is_dot_tend() {
    let tmp = TempDir::new();
    let fx = fixture();
    let mut child = std::process::Command::new(tend_bin())
        .args(["run", "--quiet", "--", &fx, "--ready-file", &tmp.s("ready")])
        .env_remove("TEND_DIR")
        .env(MARKER_VAR, tmp.path())
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let guard = scopeguard(&mut child);
    wait_pid_file(&tmp.join("ready"), T5);
    wait_until(T5, ".tend/tend.pid", || {
        read_pid(&tmp.join(".tend").join("tend.pid")) == Some(guard.id() as i32)
    });
    drop(guard);
    kill_marked(tmp.path());
}

/// Kill and reap a child when the test ends, even on panic.
fn scopeguard(c: &mut std::process::Child) -> KillOnDrop<'_> {
    KillOnDrop(c)
}

struct KillOnDrop<'a>(&'a mut std::process::Child);

impl std::ops::Deref for KillOnDrop<'_> {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
