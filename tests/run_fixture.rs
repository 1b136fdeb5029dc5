//! Tests of the test tools themselves: the fixture child and the harness in
//! `util`, run without tend. If these fail, every other integration test's
//! verdict is suspect, so they are kept independent of tend's progress.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use util::*;

fn fx(args: &[&str]) -> std::process::Output {
    Command::new(fixture_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Kills a spawned fixture (and its group, when it leads one) on drop.
struct Guard(std::process::Child, Vec<i32>);

impl Drop for Guard {
    fn drop(&mut self) {
        for &p in &self.1 {
            // SAFETY: kill of a pid this test started.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawn the fixture in its own process group (like tend would).
fn spawn_fx(args: &[&str]) -> Guard {
    use std::os::unix::process::CommandExt;
    let child = Command::new(fixture_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    Guard(child, vec![-pid])
}

#[test]
fn fixture_exit_codes_print_and_stderr() {
    let o = fx(&["--print", "hello", "--stderr", "oops", "--exit-code", "7"]);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "oops\n");
    let o = fx(&["--crash-after", "20"]);
    assert_eq!(o.status.code(), Some(1));
    let o = fx(&["--sleep", "10"]);
    assert_eq!(o.status.code(), Some(0));
    let o = fx(&["--kill-self", "KILL"]);
    assert_eq!(shell_code(o.status), 137);
    let o = fx(&["--crash-after", "10", "--kill-self", "SEGV"]);
    assert_eq!(shell_code(o.status), 128 + libc::SIGSEGV);
}

#[test]
fn fixture_output_shapes() {
    let o = fx(&["--lines", "3", "--partial", "end", "--exit-code", "0"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "line 1\nline 2\nline 3\nend"
    );
    let o = fx(&["--long-line", "100000", "--exit-code", "0"]);
    assert_eq!(o.stdout.len(), 100_001);
    assert!(o.stdout[..100_000].iter().all(|&b| b == b'x'));
    let o = fx(&["--flood", "100000", "--exit-code", "0"]);
    assert_eq!(o.stdout.len(), 100_000);
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1000);
    assert!(lines[999].starts_with("line 1000 x"));
    assert!(lines.iter().all(|l| l.len() == 99));
}

#[test]
fn fixture_record_ready_and_status_proc() {
    let tmp = TempDir::new();
    let rec = tmp.s("rec");
    for _ in 0..2 {
        let o = fx(&[
            "--record",
            &rec,
            "--status-proc",
            &tmp.s("st"),
            "--ready-file",
            &tmp.s("ready"),
            "--exit-code",
            "0",
        ]);
        assert!(o.status.success());
    }
    let r = read_record(&tmp.join("rec"));
    assert_eq!(r.len(), 2);
    assert!(r[1].1 > r[0].1);
    assert!(read_pid(&tmp.join("ready")).is_some());
    let st = read_lossy(&tmp.join("st"));
    assert_eq!(status_mask(&st, "SigBlk"), Some(0));
}

/// The fixture reports the SIGPIPE disposition it inherited, not the
/// SIG_IGN the Rust runtime installs at start-up.
#[test]
fn fixture_reports_inherited_sigpipe() {
    let tmp = TempDir::new();
    let bit = 1u64 << (libc::SIGPIPE - 1);
    // std's Command resets SIGPIPE to default in the child.
    let o = fx(&["--status-proc", &tmp.s("dfl"), "--exit-code", "0"]);
    assert!(o.status.success());
    let st = read_lossy(&tmp.join("dfl"));
    assert_eq!(status_mask(&st, "SigIgn").unwrap() & bit, 0, "{st}");
    // A shell that ignores it passes SIG_IGN on through exec.
    let o = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "trap '' PIPE; exec '{}' --status-proc '{}' --exit-code 0",
            fixture(),
            tmp.s("ign")
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let st = read_lossy(&tmp.join("ign"));
    assert_ne!(status_mask(&st, "SigIgn").unwrap() & bit, 0, "{st}");
}

#[test]
fn fixture_log_signals_and_ignore() {
    let tmp = TempDir::new();
    let mut g = spawn_fx(&[
        "--log-signals",
        &tmp.s("sig"),
        "--ignore",
        "INT",
        "--ready-file",
        &tmp.s("ready"),
    ]);
    wait_until(Duration::from_secs(5), "ready file", || {
        tmp.join("ready").exists()
    });
    let pid = g.0.id() as i32;
    for sig in [libc::SIGUSR1, libc::SIGINT, libc::SIGHUP, libc::SIGTERM] {
        // SAFETY: kill of the child this test spawned.
        unsafe { libc::kill(pid, sig) };
    }
    // Delivery order of pending signals is the kernel's; compare as sets.
    wait_until(Duration::from_secs(5), "USR1 HUP TERM logged", || {
        let s = read_lossy(&tmp.join("sig"));
        let mut l: Vec<&str> = s.lines().collect();
        l.sort();
        l == ["HUP", "TERM", "USR1"]
    });
    assert!(g.0.try_wait().unwrap().is_none(), "still running");
    drop(g.0.stdout.take());
}

#[test]
fn fixture_exit_on_term() {
    let tmp = TempDir::new();
    let mut g = spawn_fx(&[
        "--log-signals",
        &tmp.s("sig"),
        "--exit-on-term",
        "--ready-file",
        &tmp.s("ready"),
    ]);
    wait_until(Duration::from_secs(5), "ready file", || {
        tmp.join("ready").exists()
    });
    // SAFETY: kill of the child this test spawned.
    unsafe { libc::kill(g.0.id() as i32, libc::SIGTERM) };
    let st = g.0.wait().unwrap();
    assert_eq!(shell_code(st), 143);
    assert_eq!(read_lossy(&tmp.join("sig")), "TERM\n");
}

#[test]
fn fixture_grandchild_fork_and_daemon() {
    let tmp = TempDir::new();
    let mut g = spawn_fx(&[
        "--grandchild",
        "--pid-file",
        &tmp.s("gpid"),
        "--fork",
        "2",
        "--ready-file",
        &tmp.s("ready"),
    ]);
    wait_until(Duration::from_secs(5), "ready file", || {
        tmp.join("ready").exists()
    });
    let pid = g.0.id() as i32;
    let gpid = read_pid(&tmp.join("gpid")).unwrap();
    let mut out = BufReader::new(g.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, format!("grandchild {gpid}\n"));
    assert_eq!(pgid_of(gpid), Some(pid));
    assert_eq!(
        pgid_members(pid).len(),
        4,
        "fixture, grandchild, 2 children"
    );
    drop(g);
    wait_until(Duration::from_secs(5), "group gone", || {
        !pgid_has_members(pid)
    });

    let d = TempDir::new();
    let mut g = spawn_fx(&[
        "--daemon",
        "--pid-file",
        &d.s("dpid"),
        "--ready-file",
        &d.s("ready"),
    ]);
    wait_until(Duration::from_secs(5), "ready file", || {
        d.join("ready").exists()
    });
    let dpid = read_pid(&d.join("dpid")).unwrap();
    g.1.push(dpid);
    let fpid = g.0.id() as i32;
    assert_ne!(pgid_of(dpid), Some(fpid));
    assert_ne!(sid_of(dpid), sid_of(fpid));
    assert!(pid_alive(dpid));
}

#[test]
fn fixture_orphans_exit() {
    let tmp = TempDir::new();
    let mut g = spawn_fx(&["--orphans", "3", "--ready-file", &tmp.s("ready")]);
    wait_until(Duration::from_secs(5), "ready file", || {
        tmp.join("ready").exists()
    });
    let mut out = BufReader::new(g.0.stdout.take().unwrap());
    let mut pids = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let p: i32 = line
            .trim()
            .strip_prefix("orphan ")
            .unwrap()
            .parse()
            .unwrap();
        pids.push(p);
    }
    // Adopted by PID 1 or a subreaper; either way no longer running.
    for p in pids {
        wait_until(Duration::from_secs(5), "orphan exited", || !pid_alive(p));
    }
}

#[test]
fn fixture_serves_tcp_and_http() {
    let tmp = TempDir::new();
    let (tp, hp) = (free_port(), free_port());
    let ta = format!("127.0.0.1:{tp}");
    let ha = format!("127.0.0.1:{hp}");
    let _g = spawn_fx(&[
        "--serve-tcp",
        &ta,
        "--serve-http",
        &ha,
        "--status-file",
        &tmp.s("status"),
        "--stop-accepting-file",
        &tmp.s("stop"),
        "--ready-file",
        &tmp.s("ready"),
    ]);
    wait_until(Duration::from_secs(5), "ready file", || {
        tmp.join("ready").exists()
    });
    assert!(std::net::TcpStream::connect(&ta).is_ok());
    let get = || {
        let mut c = std::net::TcpStream::connect(&ha).unwrap();
        c.write_all(b"GET /health HTTP/1.0\r\n\r\n").unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        s
    };
    assert!(get().starts_with("HTTP/1.0 200 "));
    std::fs::write(tmp.join("status"), "503\n").unwrap();
    assert!(get().starts_with("HTTP/1.0 503 "));
    std::fs::write(tmp.join("stop"), "").unwrap();
    wait_until(Duration::from_secs(5), "listeners closed", || {
        std::net::TcpStream::connect(&ta).is_err() && std::net::TcpStream::connect(&ha).is_err()
    });
}

#[test]
fn fixture_alloc_grows_rss() {
    let tmp = TempDir::new();
    let g = spawn_fx(&["--alloc", "32", "--ready-file", &tmp.s("ready")]);
    wait_until(Duration::from_secs(5), "ready file", || {
        tmp.join("ready").exists()
    });
    let st = read_lossy(Path::new(&format!("/proc/{}/status", g.0.id())));
    let rss_kb: u64 = st
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(rss_kb > 30 * 1024, "VmRSS {rss_kb} kB");
}

#[test]
fn harness_wait_until_and_tempdir() {
    let p;
    {
        let tmp = TempDir::new();
        p = tmp.path().to_path_buf();
        assert!(p.is_dir());
        let mut n = 0;
        wait_until(Duration::from_secs(1), "counter", || {
            n += 1;
            n == 3
        });
        assert!(!poll_for(Duration::from_millis(30), || false));
    }
    assert!(!p.exists(), "removed on drop");
    let r = std::panic::catch_unwind(|| {
        wait_until(Duration::from_millis(20), "never", || false);
    });
    assert!(r.is_err());
}

#[test]
fn harness_rfc3339_ms() {
    assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(rfc3339_ms("1970-01-02T00:00:01.5Z"), Some(86_401_500));
    assert_eq!(
        rfc3339_ms("2000-03-01T00:00:00.000+00:00"),
        Some(951_868_800_000)
    );
    assert_eq!(
        rfc3339_ms("2026-11-26T03:04:05.123Z"),
        Some(1_795_662_245_123)
    );
    assert_eq!(rfc3339_ms("2026-11-26 03:04:05Z"), None);
    assert_eq!(rfc3339_ms("2026-11-26T03:04:05"), None);
}
