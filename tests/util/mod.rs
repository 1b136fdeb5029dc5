//! The integration-test harness: run the real `tend` binary against the
//! fixture child, wait for conditions with deadlines (never a fixed sleep),
//! clean up every process a test started, and print everything useful when
//! a test fails. Shared by every `tests/run_*.rs`; it owns no assertions
//! about tend's behaviour, only the means to observe it.
//!
//! # Correct order
//!
//! Create a `TempDir` first and a `Tend` after it, so that the `Tend` is
//! dropped first: its `Drop` kills tend and everything left in the test's
//! process groups, and prints the dump while the directory still exists.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Environment variable set on every tend a test spawns; its children
/// inherit it, so `Drop` can find and kill whatever is left behind, even a
/// daemon that escaped its process group.
pub const MARKER_VAR: &str = "TEND_TEST_MARKER";

/// The `tend` binary under test.
pub fn tend_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tend"))
}

/// The fixture child (`cargo build --example fixture`), next to the tend
/// binary: `target/<profile>/tend` → `target/<profile>/examples/fixture`.
///
/// `cargo test` builds examples, but `cargo test --test run_core` does not;
/// so when the fixture is missing or older than its source, the first call
/// in each test binary runs `cargo build --example fixture` for the same
/// profile. Fresh, it skips cargo entirely: cargo's package-cache lock is
/// shared with every other cargo on the machine and may be held for long.
pub fn fixture_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let tend = tend_bin();
            let profile_dir = tend.parent().expect("tend binary has a parent dir");
            let path = profile_dir.join("examples").join("fixture");
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture/child.rs");
            let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let fresh = match (mtime(&path), mtime(&src)) {
                (Some(bin), Some(src)) => bin >= src,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if let (false, Some(cargo)) = (fresh, std::env::var_os("CARGO")) {
                let profile = match profile_dir.file_name().and_then(|s| s.to_str()) {
                    Some("debug") | None => "dev".to_string(),
                    Some(p) => p.to_string(),
                };
                let st = Command::new(cargo)
                    .args(["build", "--quiet", "--example", "fixture", "--profile"])
                    .arg(&profile)
                    .current_dir(env!("CARGO_MANIFEST_DIR"))
                    .status();
                if !matches!(st, Ok(s) if s.success()) && !path.exists() {
                    panic!("could not build the fixture: {st:?}");
                }
            }
            assert!(path.exists(), "fixture not found at {}", path.display());
            path
        })
        .clone()
}

/// The fixture path as a `String`, for argv slices.
pub fn fixture() -> String {
    fixture_bin().to_string_lossy().into_owned()
}

/// A unique directory under the system temp dir, removed on drop unless
/// the test is failing (so its contents can be inspected).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Kept short: DIR/tend.sock must fit in sun_path (108 bytes).
        let path = std::env::temp_dir().join(format!(
            "tend-t{}-{}-{:x}",
            std::process::id(),
            n,
            nanos & 0xffff
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path().join(p)`.
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }

    /// The state directory tests pass as `--dir` (created by tend).
    pub fn state(&self) -> PathBuf {
        self.path.join("d")
    }

    /// `self.join(p)` as a `String`, for argv slices.
    pub fn s(&self, p: impl AsRef<Path>) -> String {
        self.join(p).to_string_lossy().into_owned()
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept temp dir {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Poll `f` every 10 ms until it returns true; panic naming `what` after
/// `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Like `wait_until` but returns whether `f` became true instead of
/// panicking, for tests that check something stays false.
pub fn poll_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait for `child` to exit, polling until `timeout`: its shell-style code,
/// or None if it is still running then.
pub fn wait_child(child: &mut std::process::Child, timeout: Duration) -> Option<i32> {
    let mut code = None;
    poll_for(timeout, || {
        code = child.try_wait().ok().flatten().map(shell_code);
        code.is_some()
    });
    code
}

/// A shell-style code: the exit code, or 128+N when killed by signal N.
pub fn shell_code(st: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => -1,
    }
}

/// How to start one `tend run`; see `Tend::run` for the common case.
pub struct TendCmd {
    dir: PathBuf,
    root: PathBuf,
    args: Vec<OsString>,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
    stdout_pipe: bool,
    stderr_pipe: bool,
    stdout_path: Option<PathBuf>,
    stderr_path: Option<PathBuf>,
    stdin: Option<PathBuf>,
    wrapper: Vec<OsString>,
}

impl TendCmd {
    /// `tend run --dir <tmp>/d`, run in `tmp`, stdout/stderr to files there.
    pub fn new(tmp: &TempDir) -> TendCmd {
        TendCmd {
            dir: tmp.state(),
            root: tmp.path().to_path_buf(),
            args: Vec::new(),
            cwd: tmp.path().to_path_buf(),
            env: Vec::new(),
            stdout_pipe: false,
            stderr_pipe: false,
            stdout_path: None,
            stderr_path: None,
            stdin: None,
            wrapper: Vec::new(),
        }
    }

    /// Run tend through a wrapper that ends by exec'ing its last argument
    /// with the rest (e.g. `unshare -m sh -c '... exec "$0" "$@"'`), so the
    /// spawned pid is still tend's.
    pub fn wrap<I, S>(mut self, argv: I) -> TendCmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.wrapper = argv.into_iter().map(Into::into).collect();
        self
    }

    pub fn args<I, S>(mut self, args: I) -> TendCmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> TendCmd {
        self.dir = dir.into();
        self
    }

    pub fn cwd(mut self, cwd: impl Into<PathBuf>) -> TendCmd {
        self.cwd = cwd.into();
        self
    }

    pub fn env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> TendCmd {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Give tend a pipe as stdout instead of a file; take the read end with
    /// `Tend::take_stdout`.
    pub fn stdout_pipe(mut self) -> TendCmd {
        self.stdout_pipe = true;
        self
    }

    /// Give tend a pipe as stderr; take the read end with `Tend::take_stderr`.
    pub fn stderr_pipe(mut self) -> TendCmd {
        self.stderr_pipe = true;
        self
    }

    /// tend's stdout opened for writing from this path (e.g. `/dev/full`)
    /// instead of a capture file; `Tend::stdout()` is then empty.
    pub fn stdout_to(mut self, p: impl Into<PathBuf>) -> TendCmd {
        self.stdout_path = Some(p.into());
        self
    }

    /// tend's stderr opened for writing from this path; see `stdout_to`.
    pub fn stderr_to(mut self, p: impl Into<PathBuf>) -> TendCmd {
        self.stderr_path = Some(p.into());
        self
    }

    /// tend's stdin from this file instead of /dev/null.
    pub fn stdin_file(mut self, p: impl Into<PathBuf>) -> TendCmd {
        self.stdin = Some(p.into());
        self
    }

    pub fn spawn(self) -> Tend {
        let mut argv: Vec<OsString> = vec!["run".into(), "--dir".into(), self.dir.clone().into()];
        argv.extend(self.args);
        // Several `Tend`s may share one temp dir: number the capture files.
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let out_path = self.root.join(format!("tend{seq}.stdout"));
        let err_path = self.root.join(format!("tend{seq}.stderr"));
        let mut cmd = match self.wrapper.split_first() {
            Some((prog, rest)) => {
                let mut c = Command::new(prog);
                c.args(rest).arg(tend_bin());
                c
            }
            None => Command::new(tend_bin()),
        };
        cmd.args(&argv)
            .current_dir(&self.cwd)
            .env(MARKER_VAR, &self.root)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let open_w = |p: &Path| std::fs::OpenOptions::new().write(true).open(p).unwrap();
        match (&self.stdout_path, self.stdout_pipe) {
            (Some(p), _) => cmd.stdout(open_w(p)),
            (None, true) => cmd.stdout(Stdio::piped()),
            (None, false) => cmd.stdout(std::fs::File::create(&out_path).unwrap()),
        };
        match (&self.stderr_path, self.stderr_pipe) {
            (Some(p), _) => cmd.stderr(open_w(p)),
            (None, true) => cmd.stderr(Stdio::piped()),
            (None, false) => cmd.stderr(std::fs::File::create(&err_path).unwrap()),
        };
        match &self.stdin {
            Some(p) => cmd.stdin(std::fs::File::open(p).unwrap()),
            None => cmd.stdin(Stdio::null()),
        };
        let child = cmd.spawn().expect("spawn tend");
        Tend {
            child,
            argv,
            cwd: self.cwd,
            dir: self.dir,
            root: self.root,
            out_path,
            err_path,
            status: None,
            groups: Vec::new(),
            pids: Vec::new(),
            dumped: std::cell::Cell::new(false),
        }
    }
}

/// A running `tend run`. Dropping it SIGKILLs tend, every process group the
/// test recorded and every process carrying this test's marker; when the
/// test is failing it prints `dump()` first.
pub struct Tend {
    child: Child,
    argv: Vec<OsString>,
    cwd: PathBuf,
    /// The `--dir` state directory.
    pub dir: PathBuf,
    root: PathBuf,
    out_path: PathBuf,
    err_path: PathBuf,
    status: Option<ExitStatus>,
    groups: Vec<i32>,
    pids: Vec<i32>,
    /// Set once `dump()` ran, so `Drop` does not print it a second time.
    dumped: std::cell::Cell<bool>,
}

impl Tend {
    /// `tend run --dir <tmp>/d ARGS...` with stdout/stderr captured to files.
    pub fn run(tmp: &TempDir, args: &[&str]) -> Tend {
        TendCmd::new(tmp).args(args.iter().copied()).spawn()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Kill this process group on drop (e.g. a child's pgid).
    pub fn track_group(&mut self, pgid: i32) {
        if pgid > 1 && !self.groups.contains(&pgid) {
            self.groups.push(pgid);
        }
    }

    /// Kill this pid on drop (e.g. a daemon that escaped its group).
    pub fn track_pid(&mut self, pid: i32) {
        if pid > 1 && !self.pids.contains(&pid) {
            self.pids.push(pid);
        }
    }

    /// Has tend exited? Reaps it if so; the shell-style code.
    pub fn try_code(&mut self) -> Option<i32> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status.map(shell_code)
    }

    /// Wait up to `timeout` for tend to exit; its shell-style code
    /// (128+N when killed by signal N), or None if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.try_code() {
                return Some(c);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `wait_exit` that panics (with the dump) when tend does not exit.
    pub fn expect_exit(&mut self, timeout: Duration) -> i32 {
        match self.wait_exit(timeout) {
            Some(c) => c,
            None => panic!("tend did not exit within {timeout:?}\n{}", self.dump()),
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.try_code().is_none()
    }

    /// The read end of tend's stdout, when spawned with `stdout_pipe`.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// The read end of tend's stderr, when spawned with `stderr_pipe`.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    pub fn stdout(&self) -> String {
        read_lossy(&self.out_path)
    }

    pub fn stderr(&self) -> String {
        read_lossy(&self.err_path)
    }

    /// `tend status --json --dir DIR`, parsed; None when the command fails
    /// or prints something that is not JSON.
    pub fn status_json(&self) -> Option<serde_json::Value> {
        let out = run_tend_timeout(
            &[
                OsStr::new("status"),
                OsStr::new("--json"),
                OsStr::new("--dir"),
                self.dir.as_os_str(),
            ],
            Duration::from_secs(5),
        )?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The status object of process `name`, if `status_json` works.
    pub fn proc_status(&self, name: &str) -> Option<serde_json::Value> {
        let doc = self.status_json()?;
        doc["processes"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
    }

    /// `state` of process `name` in `tend status --json`.
    pub fn state_of(&self, name: &str) -> Option<String> {
        self.proc_status(name)?["state"].as_str().map(String::from)
    }

    /// Wait until process `name` is in `state`; panics with the last status.
    pub fn wait_state(&self, name: &str, state: &str, timeout: Duration) {
        let mut last = None;
        let ok = poll_for(timeout, || {
            last = self.proc_status(name);
            last.as_ref().and_then(|p| p["state"].as_str()) == Some(state)
        });
        if !ok {
            panic!(
                "timed out after {timeout:?} waiting for {name} to be {state}; last status: {}\n{}",
                last.map(|v| v.to_string()).unwrap_or_else(|| "none".into()),
                self.dump()
            );
        }
    }

    /// `DIR/events.jsonl`, parsed line by line (unparsable lines skipped).
    pub fn events(&self) -> Vec<serde_json::Value> {
        read_lossy(&self.dir.join("events.jsonl"))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// `DIR/logs/NAME.log`.
    pub fn log(&self, name: &str) -> String {
        read_lossy(&self.dir.join("logs").join(format!("{name}.log")))
    }

    /// Everything a reader of a failed test needs: argv, cwd, exit status,
    /// stdout, stderr, the DIR listing, events.jsonl and the logs.
    pub fn dump(&self) -> String {
        self.dumped.set(true);
        let mut s = String::new();
        let argv: Vec<String> = self
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let _ = writeln!(s, "===== tend dump =====");
        let _ = writeln!(s, "argv: {} {}", tend_bin().display(), argv.join(" "));
        let _ = writeln!(s, "cwd: {}", self.cwd.display());
        let _ = writeln!(s, "pid: {}", self.child.id());
        let exit = match (self.status, proc_stat(self.pid())) {
            (Some(st), _) => format!("{st:?}"),
            (None, Some(f)) if f[0] == "Z" => "exited (not yet reaped)".into(),
            (None, Some(_)) => "running".into(),
            (None, None) => "gone".into(),
        };
        let _ = writeln!(s, "exit: {exit}");
        let _ = writeln!(s, "----- stdout -----\n{}", tail(&self.stdout(), 8000));
        let _ = writeln!(s, "----- stderr -----\n{}", tail(&self.stderr(), 8000));
        let _ = writeln!(s, "----- {} -----", self.dir.display());
        for p in walk(&self.dir) {
            let len = std::fs::symlink_metadata(&p).map(|m| m.len()).unwrap_or(0);
            let _ = writeln!(s, "{} ({len} bytes)", p.display());
        }
        let ev = read_lossy(&self.dir.join("events.jsonl"));
        let _ = writeln!(s, "----- events.jsonl -----\n{}", tail(&ev, 8000));
        for p in walk(&self.dir.join("logs")) {
            let _ = writeln!(
                s,
                "----- {} -----\n{}",
                p.display(),
                tail(&read_lossy(&p), 4000)
            );
        }
        let _ = writeln!(s, "===== end dump =====");
        s
    }
}

impl Drop for Tend {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.dumped.get() {
            eprintln!("{}", self.dump());
        }
        if self.try_code().is_none() {
            self.signal(libc::SIGKILL);
            let _ = self.child.wait();
        }
        for &g in &self.groups {
            // SAFETY: kill of a process group this test recorded.
            unsafe { libc::kill(-g, libc::SIGKILL) };
        }
        for &p in &self.pids {
            // SAFETY: kill of a pid this test recorded.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        kill_marked(&self.root);
    }
}

/// SIGKILL every process whose environment has `MARKER_VAR=root`.
pub fn kill_marked(root: &Path) {
    let needle = format!("{MARKER_VAR}={}", root.display()).into_bytes();
    for pid in all_pids() {
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|&b| b == 0).any(|kv| kv == needle.as_slice()) {
            // SAFETY: kill of a process started (transitively) by this test.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Pids of live (non-zombie) processes carrying this test's marker.
pub fn marked_pids(tmp: &TempDir) -> Vec<i32> {
    let needle = format!("{MARKER_VAR}={}", tmp.path().display()).into_bytes();
    all_pids()
        .into_iter()
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_slice()))
                .unwrap_or(false)
                && !is_zombie(pid)
        })
        .collect()
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

pub fn read_lossy(p: &Path) -> String {
    std::fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Run a one-shot `tend ARGS...` (e.g. `check`, `status`), waiting at most
/// 30 s (a guard against hangs, not a performance bound); panics on timeout.
pub fn run_tend(args: &[&str]) -> Output {
    let os: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    match run_tend_timeout(&os, Duration::from_secs(30)) {
        Some(o) => o,
        None => panic!("tend {args:?} did not finish within 30s"),
    }
}

/// Run `tend ARGS...`; None if it does not finish within `timeout` (it is
/// then killed).
pub fn run_tend_timeout(args: &[&OsStr], timeout: Duration) -> Option<Output> {
    let mut child = Command::new(tend_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tend");
    // Drain both pipes in threads so a chatty command never blocks.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    status.map(|status| Output {
        status,
        stdout,
        stderr,
    })
}

/// Render an `Output` for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status: {:?}\n----- stdout -----\n{}\n----- stderr -----\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Write `json` to `dir/tend.json`; returns the path.
pub fn write_config(dir: &Path, json: &str) -> PathBuf {
    write_config_named(dir, "tend.json", json)
}

pub fn write_config_named(dir: &Path, name: &str, json: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, json).unwrap();
    p
}

fn all_pids() -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Fields of `/proc/PID/stat` after the command name: [state, ppid, pgrp,
/// session, ...] (the name may hold spaces and parentheses).
pub fn proc_stat(pid: i32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(String::from).collect())
}

/// The process exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match proc_stat(pid) {
        Some(f) => f.first().map(String::as_str) != Some("Z"),
        None => false,
    }
}

pub fn is_zombie(pid: i32) -> bool {
    proc_stat(pid).and_then(|f| f.first().cloned()).as_deref() == Some("Z")
}

pub fn ppid_of(pid: i32) -> Option<i32> {
    proc_stat(pid)?.get(1)?.parse().ok()
}

pub fn pgid_of(pid: i32) -> Option<i32> {
    proc_stat(pid)?.get(2)?.parse().ok()
}

pub fn sid_of(pid: i32) -> Option<i32> {
    proc_stat(pid)?.get(3)?.parse().ok()
}

/// Live (non-zombie) members of process group `pgid`.
pub fn pgid_members(pgid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| {
            proc_stat(p).is_some_and(|f| {
                f.first().map(String::as_str) != Some("Z")
                    && f.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
            })
        })
        .collect()
}

pub fn pgid_has_members(pgid: i32) -> bool {
    !pgid_members(pgid).is_empty()
}

/// Zombie children of `ppid` (e.g. orphans tend failed to reap).
pub fn zombie_children(ppid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| {
            proc_stat(p).is_some_and(|f| {
                f.first().map(String::as_str) == Some("Z")
                    && f.get(1).and_then(|g| g.parse::<i32>().ok()) == Some(ppid)
            })
        })
        .collect()
}

/// Live children of `ppid`.
pub fn children_of(ppid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| ppid_of(p) == Some(ppid) && pid_alive(p))
        .collect()
}

/// Read a file holding a pid (fixture `--ready-file`, `--pid-file`).
pub fn read_pid(p: &Path) -> Option<i32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Wait until `p` exists and holds a pid (fixture `--ready-file`).
pub fn wait_pid_file(p: &Path, timeout: Duration) -> i32 {
    let mut pid = None;
    wait_until(timeout, &format!("pid in {}", p.display()), || {
        pid = read_pid(p);
        pid.is_some()
    });
    pid.unwrap_or_default()
}

/// One `--record` line: (pid, unix time in ns).
pub fn read_record(p: &Path) -> Vec<(i32, u128)> {
    let text = read_lossy(p);
    // Whole lines only: a start may be appending its line right now.
    text[..text.rfind('\n').map_or(0, |i| i + 1)]
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next()? == "start").then_some(())?;
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect()
}

/// Gaps between consecutive starts in a `--record` file, in ms.
pub fn start_gaps_ms(p: &Path) -> Vec<f64> {
    let r = read_record(p);
    r.windows(2)
        .map(|w| (w[1].1.saturating_sub(w[0].1)) as f64 / 1e6)
        .collect()
}

/// A TCP port that was free a moment ago (bind :0, read, close).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A bit set from a `/proc/PID/status` hex mask line (`SigBlk:` etc.).
pub fn status_mask(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    u64::from_str_radix(line[key.len()..].trim_start_matches(':').trim(), 16).ok()
}

/// Milliseconds since the Unix epoch of an RFC 3339 UTC timestamp
/// (`2026-11-26T03:04:05.123Z` or `+00:00`); None if it is not one.
pub fn rfc3339_ms(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = ts.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then_some(())?;
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = ts.get(19..)?;
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            let digits = &r[..n];
            let ms = format!("{digits:0<3}")[..3].parse::<i64>().ok()?;
            (ms, &r[n..])
        }
        None => (0, rest),
    };
    if zone != "Z" && zone != "+00:00" {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + frac)
}

/// `delay_ms` of every `backoff` event of process `name`, in order.
pub fn backoff_delays(t: &Tend, name: &str) -> Vec<u64> {
    t.events()
        .iter()
        .filter(|e| e["event"] == "backoff" && e["name"] == name)
        .filter_map(|e| e["delay_ms"].as_u64())
        .collect()
}

/// Slack added to the upper bound of every timing assertion: exec of a
/// debug binary on a loaded 2-core machine can take hundreds of ms.
pub const SLACK_MS: f64 = 1000.0;
