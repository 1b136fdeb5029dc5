//! The client commands — everything but `run` and `check`: connect to
//! `DIR/tend.sock`, send one request, print the answer, and return the
//! SPEC §6 exit code. `logs` and `events` read their files directly, so
//! they work on a DIR whose tend has stopped.
//!
//! The client may block and poll files (it is not the supervisor): reads
//! carry timeouts, `logs -f` polls the log file every 150 ms. Output goes
//! through the `Term` writers so tests can capture it; a closed stdout
//! (`tend logs web | head`) ends the command quietly instead of panicking.

#![allow(dead_code)]

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::{Cli, Command};
use crate::proto::{Reply, Request, StatusDoc, VERSION};
use crate::status;

const OK: u8 = 0;
/// The thing asked about is not healthy, or the request failed.
const FAILED: u8 = 1;
const USAGE: u8 = 2;
/// No tend runs on DIR.
const NOT_RUNNING: u8 = 3;

/// Replies to queries come at once; a tend that takes longer is stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// start/stop/restart/reset reply once the action took effect: a stop can
/// take `stop_timeout` (10 s by default) and then a SIGKILL.
const ACTION_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `shutdown` waits for tend to be gone after it acknowledged.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(60);
const FOLLOW_POLL: Duration = Duration::from_millis(150);
/// `logs` without `-n`, like tail.
const DEFAULT_LINES: usize = 10;
/// Lines of history kept to drop duplicates at the seam between the
/// history printed from `events.jsonl` and the live stream.
const SEAM_LINES: usize = 1000;

/// Where a command writes, and whether the human table may use colour.
pub struct Term<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub color: bool,
}

impl Term<'_> {
    /// Print to stdout; false when stdout is gone (the caller stops).
    fn print(&mut self, s: &str) -> bool {
        self.out.write_all(s.as_bytes()).is_ok() && self.out.flush().is_ok()
    }

    fn print_bytes(&mut self, b: &[u8]) -> bool {
        self.out.write_all(b).is_ok() && self.out.flush().is_ok()
    }

    fn fail(&mut self, msg: &str) -> u8 {
        let _ = writeln!(self.err, "tend: error: {msg}");
        FAILED
    }

    fn not_running(&mut self, dir: &Path) -> u8 {
        let _ = writeln!(self.err, "tend: no tend is running on {}", dir.display());
        NOT_RUNNING
    }
}

/// Run a client command against the real terminal; returns the exit code.
pub fn main(cli: &Cli) -> u8 {
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let mut term = Term {
        out: &mut out,
        err: &mut err,
        color: use_color(),
    };
    run(cli, &mut term, &|| false)
}

/// Colour only on a terminal, and never with a non-empty `NO_COLOR`.
fn use_color() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    // SAFETY: isatty only inspects the descriptor; fd 1 may be closed, in
    // which case it returns 0.
    let tty = unsafe { libc::isatty(libc::STDOUT_FILENO) } == 1;
    tty && !no_color
}

/// Dispatch one client command. `stop` ends follow loops (tests); the
/// real CLI follows until interrupted or until stdout closes.
pub fn run(cli: &Cli, t: &mut Term, stop: &dyn Fn() -> bool) -> u8 {
    let dir = cli.dir.as_path();
    match &cli.command {
        Command::Status { names, json } => status_cmd(dir, names, *json, t),
        Command::Start { names, all } => action(
            dir,
            Request::Start {
                v: VERSION,
                names: names.clone(),
                all: *all,
            },
            names.is_empty() && !*all,
            t,
        ),
        Command::Stop { names, all } => action(
            dir,
            Request::Stop {
                v: VERSION,
                names: names.clone(),
                all: *all,
            },
            names.is_empty() && !*all,
            t,
        ),
        Command::Restart { names, all } => action(
            dir,
            Request::Restart {
                v: VERSION,
                names: names.clone(),
                all: *all,
            },
            names.is_empty() && !*all,
            t,
        ),
        Command::Reset { names } => action(
            dir,
            Request::Reset {
                v: VERSION,
                names: names.clone(),
            },
            names.is_empty(),
            t,
        ),
        Command::Reload => reload(dir, t),
        Command::Shutdown => shutdown(dir, t, stop),
        Command::Health { names } => health(dir, names, t),
        Command::Logs {
            name,
            follow,
            lines,
        } => logs(dir, name, *follow, lines.unwrap_or(DEFAULT_LINES), t, stop),
        Command::Events { follow, json } => events(dir, *follow, *json, t, stop),
        Command::Run(_) | Command::Check { .. } | Command::Print(_) => {
            let _ = writeln!(t.err, "tend: internal error: not a client command");
            USAGE
        }
    }
}

// ---------------------------------------------------------------------
// Talking to tend.

enum CallError {
    /// No socket, or nobody listening on it.
    NotRunning,
    /// tend hung up before replying (it may be shutting down).
    Closed,
    Other(String),
}

fn sock_path(dir: &Path) -> PathBuf {
    dir.join("tend.sock")
}

fn connect(dir: &Path) -> Result<UnixStream, CallError> {
    let path = sock_path(dir);
    match UnixStream::connect(&path) {
        Ok(s) => Ok(s),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Err(CallError::NotRunning)
        }
        Err(e) => Err(CallError::Other(format!(
            "cannot connect to {}: {}",
            path.display(),
            crate::error::os_text(&e)
        ))),
    }
}

/// Send `req`, read the one reply line. The reader is returned for
/// `events -f`, whose stream follows the reply.
fn call(
    dir: &Path,
    req: &Request,
    timeout: Option<Duration>,
) -> Result<(Reply, BufReader<UnixStream>), CallError> {
    let mut s = connect(dir)?;
    let io_err =
        |e: io::Error| CallError::Other(format!("talking to tend: {}", crate::error::os_text(&e)));
    s.set_read_timeout(timeout).map_err(io_err)?;
    let mut line = serde_json::to_vec(req)
        .map_err(|e| CallError::Other(format!("cannot encode the request: {e}")))?;
    line.push(b'\n');
    match s.write_all(&line) {
        Ok(()) => {}
        // tend may refuse us (another uid) and hang up before we are done
        // writing; its reply is still there to read.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) => {}
        Err(e) => return Err(io_err(e)),
    }
    let mut r = BufReader::new(s);
    let mut buf = String::new();
    match r.read_line(&mut buf) {
        Ok(0) => return Err(CallError::Closed),
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            return Err(CallError::Other(format!(
                "no reply from tend within {}s",
                timeout.map_or(0, |d| d.as_secs())
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Err(CallError::Closed),
        Err(e) => return Err(io_err(e)),
    }
    let reply: Reply = serde_json::from_str(&buf)
        .map_err(|e| CallError::Other(format!("unreadable reply from tend: {e}")))?;
    Ok((reply, r))
}

/// Turn a call failure into the message and exit code.
fn call_failed(dir: &Path, e: CallError, t: &mut Term) -> u8 {
    match e {
        CallError::NotRunning => t.not_running(dir),
        CallError::Closed => t.fail("tend closed the connection without replying"),
        CallError::Other(msg) => t.fail(&msg),
    }
}

/// The error of a failed reply, for `tend: error: ...`.
fn reply_error(r: &Reply) -> String {
    r.error
        .clone()
        .unwrap_or_else(|| "the request failed".to_string())
}

// ---------------------------------------------------------------------
// status, start|stop|restart|reset, reload, shutdown, health.

fn status_cmd(dir: &Path, names: &[String], json: bool, t: &mut Term) -> u8 {
    let req = Request::Status {
        v: VERSION,
        names: names.to_vec(),
    };
    match call(dir, &req, Some(READ_TIMEOUT)) {
        Ok((r, _)) if r.ok => match r.status {
            Some(doc) => {
                t.print(&render(&doc, json, t.color));
                OK
            }
            None => t.fail("tend replied without a status document"),
        },
        Ok((r, _)) => t.fail(&reply_error(&r)),
        Err(CallError::NotRunning) => status_not_running(dir, names, json, t),
        Err(e) => call_failed(dir, e, t),
    }
}

fn render(doc: &StatusDoc, json: bool, color: bool) -> String {
    if json {
        status::json(doc)
    } else {
        status::table(doc, color)
    }
}

/// No tend: say so, then show the last snapshot it left in `state.json`.
fn status_not_running(dir: &Path, names: &[String], json: bool, t: &mut Term) -> u8 {
    let state = dir.join("state.json");
    let doc = std::fs::read(&state)
        .ok()
        .and_then(|b| serde_json::from_slice::<StatusDoc>(&b).ok())
        .map(|mut doc| {
            if !names.is_empty() {
                doc.processes.retain(|p| names.contains(&p.name));
            }
            doc
        });
    if json {
        // stdout stays one JSON document (or nothing).
        t.not_running(dir);
        if let Some(doc) = doc {
            t.print(&status::json(&doc));
        }
        return NOT_RUNNING;
    }
    let mut text = format!("not running ({})\n", dir.display());
    if let Some(doc) = doc {
        text.push_str(&format!("last known state, from {}:\n", state.display()));
        text.push_str(&status::table(&doc, t.color));
    }
    t.print(&text);
    NOT_RUNNING
}

fn action(dir: &Path, req: Request, no_target: bool, t: &mut Term) -> u8 {
    if no_target {
        let what = match req {
            Request::Reset { .. } => "name at least one process",
            _ => "name at least one process, or use --all",
        };
        let _ = writeln!(t.err, "tend: error: {what}");
        return USAGE;
    }
    match call(dir, &req, Some(ACTION_TIMEOUT)) {
        Ok((r, _)) => {
            print_results(&r, t);
            if r.ok {
                OK
            } else {
                t.fail(&reply_error(&r))
            }
        }
        Err(e) => call_failed(dir, e, t),
    }
}

/// `web: stopped (was pid 123)`, one line per process acted on.
fn print_results(r: &Reply, t: &mut Term) {
    let mut s = String::new();
    for res in &r.results {
        let what = if res.message.is_empty() {
            &res.state
        } else {
            &res.message
        };
        s.push_str(&format!("{}: {what}\n", res.name));
    }
    t.print(&s);
}

fn reload(dir: &Path, t: &mut Term) -> u8 {
    match call(dir, &Request::Reload { v: VERSION }, Some(ACTION_TIMEOUT)) {
        Ok((r, _)) if r.ok => {
            // tend describes what changed, as results; else a plain word.
            if r.results.is_empty() {
                t.print("reloaded\n");
            } else {
                print_results(&r, t);
            }
            OK
        }
        Ok((r, _)) => {
            // A refused reload is a config error (SPEC §6: 2); the running
            // config is kept.
            print_results(&r, t);
            t.fail(&reply_error(&r));
            2
        }
        Err(e) => call_failed(dir, e, t),
    }
}

fn shutdown(dir: &Path, t: &mut Term, stop: &dyn Fn() -> bool) -> u8 {
    // tend may answer only once it has begun stopping: allow for that.
    match call(dir, &Request::Shutdown { v: VERSION }, Some(ACTION_TIMEOUT)) {
        Ok((r, _)) if r.ok => {}
        Ok((r, _)) => return t.fail(&reply_error(&r)),
        // Gone before it could answer: that is what was asked.
        Err(CallError::Closed) => {}
        Err(e) => return call_failed(dir, e, t),
    }
    t.print("shutting down\n");
    let deadline = Instant::now() + SHUTDOWN_WAIT;
    while tend_alive(dir) {
        if Instant::now() >= deadline || stop() {
            return t.fail(&format!(
                "tend on {} is still running after {}s",
                dir.display(),
                SHUTDOWN_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    t.print("stopped\n");
    OK
}

/// tend is gone when its socket answers no more and its PID file is gone
/// or names a dead process (a killed tend leaves the file behind).
fn tend_alive(dir: &Path) -> bool {
    let sock = sock_path(dir);
    let sock_alive = sock.exists() && UnixStream::connect(&sock).is_ok();
    let pid_alive = match std::fs::read_to_string(dir.join("tend.pid")) {
        Err(_) => false,
        Ok(s) => match s.trim().parse::<libc::pid_t>() {
            Ok(pid) if pid > 0 => {
                // SAFETY: signal 0 only checks that `pid` exists.
                let r = unsafe { libc::kill(pid, 0) };
                r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
            }
            // Being written, or not ours to read: trust the socket.
            _ => sock_alive,
        },
    };
    sock_alive || pid_alive
}

fn health(dir: &Path, names: &[String], t: &mut Term) -> u8 {
    let req = Request::Health {
        v: VERSION,
        names: names.to_vec(),
    };
    match call(dir, &req, Some(READ_TIMEOUT)) {
        Ok((r, _)) if r.ok && r.not_ready.is_empty() => OK,
        Ok((r, _)) if r.ok => {
            t.print(&format!("not ready: {}\n", r.not_ready.join(" ")));
            FAILED
        }
        Ok((r, _)) => t.fail(&reply_error(&r)),
        Err(e) => call_failed(dir, e, t),
    }
}

// ---------------------------------------------------------------------
// logs.

fn logs(
    dir: &Path,
    name: &str,
    follow: bool,
    lines: usize,
    t: &mut Term,
    stop: &dyn Fn() -> bool,
) -> u8 {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return t.fail(&format!("invalid process name {name:?}"));
    }
    // A running tend knows where its logs are (`--log-dir`); a stopped
    // one left them in the default place.
    let log_dir = match call(dir, &Request::Info { v: VERSION }, Some(READ_TIMEOUT)) {
        Ok((
            Reply {
                ok: true,
                info: Some(info),
                ..
            },
            _,
        )) => PathBuf::from(info.log_dir),
        _ => dir.join("logs"),
    };
    let current = log_dir.join(format!("{name}.log"));
    let rotated = rotated_logs(&log_dir, &format!("{name}.log"));
    // Open the live file first: its length now is where following starts,
    // so no line is printed twice or skipped.
    let mut live = File::open(&current).ok();
    if live.is_none() && rotated.is_empty() {
        return t.fail(&format!("no log for {name} in {}", log_dir.display()));
    }
    let mut files: Vec<File> = rotated.iter().filter_map(|p| File::open(p).ok()).collect();
    let mut start = 0;
    if let Some(f) = live.as_mut() {
        start = f.metadata().map_or(0, |m| m.len());
    }
    let tail = match tail_across(&mut files, live.as_mut().map(|f| (f, start)), lines) {
        Ok(b) => b,
        Err(e) => {
            return t.fail(&format!(
                "cannot read {}: {}",
                current.display(),
                crate::error::os_text(&e)
            ))
        }
    };
    if !t.print_bytes(&tail) {
        return OK;
    }
    if !follow {
        return OK;
    }
    let cur = live.map(|mut f| {
        let _ = f.seek(SeekFrom::Start(start));
        Followed::new(f, start)
    });
    follow_file(&current, cur, t, stop);
    OK
}

/// `NAME.log.N` files in `dir`, oldest (highest N) first.
fn rotated_logs(dir: &Path, base: &str) -> Vec<PathBuf> {
    let prefix = format!("{base}.");
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name.to_str()?.strip_prefix(&prefix)?.parse::<u64>().ok()?;
            Some((n, e.path()))
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().map(|(_, p)| p).collect()
}

/// The last `n` lines across `older` files (oldest first) and the live
/// file (read up to `len`), in order.
fn tail_across(
    older: &mut [File],
    live: Option<(&mut File, u64)>,
    n: usize,
) -> io::Result<Vec<u8>> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut need = n;
    if let Some((f, len)) = live {
        let (b, got) = tail_bytes(f, len, need)?;
        need -= got;
        parts.push(b);
    }
    for f in older.iter_mut().rev() {
        if need == 0 {
            break;
        }
        let len = f.metadata()?.len();
        let (mut b, got) = tail_bytes(f, len, need)?;
        need -= got;
        // A rotated file cut mid-line still ends its last line.
        if b.last().is_some_and(|&c| c != b'\n') {
            b.push(b'\n');
        }
        parts.push(b);
    }
    Ok(parts.into_iter().rev().flatten().collect())
}

/// The bytes of the last `n` lines of the first `len` bytes of `f`, and
/// how many lines that is (fewer when the file is shorter). Reads
/// backwards in blocks, so a 10 MiB log costs a few reads, not 10 MiB.
fn tail_bytes(f: &mut File, len: u64, n: usize) -> io::Result<(Vec<u8>, usize)> {
    const BLOCK: u64 = 64 * 1024;
    if n == 0 || len == 0 {
        return Ok((Vec::new(), 0));
    }
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut pos = len;
    // Newlines seen that separate lines (the file's final byte does not).
    let mut seps = 0;
    while pos > 0 {
        let start = pos.saturating_sub(BLOCK);
        let mut chunk = vec![0u8; (pos - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut chunk)?;
        for i in (0..chunk.len()).rev() {
            if chunk[i] == b'\n' && start + i as u64 != len - 1 {
                seps += 1;
                if seps == n {
                    chunk.drain(..=i);
                    blocks.push(chunk);
                    return Ok((blocks.into_iter().rev().flatten().collect(), n));
                }
            }
        }
        blocks.push(chunk);
        pos = start;
    }
    Ok((blocks.into_iter().rev().flatten().collect(), seps + 1))
}

/// The file `logs -f` reads, identified by device and inode so a rotation
/// (rename + new file) or a truncation is noticed.
struct Followed {
    file: File,
    dev: u64,
    ino: u64,
    pos: u64,
}

impl Followed {
    fn new(file: File, pos: u64) -> Followed {
        let (dev, ino) = file.metadata().map_or((0, 0), |m| (m.dev(), m.ino()));
        Followed {
            file,
            dev,
            ino,
            pos,
        }
    }

    /// Print what was appended since the last call; false: stdout gone.
    fn copy_new(&mut self, t: &mut Term) -> bool {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) | Err(_) => return true,
                Ok(n) => {
                    self.pos += n as u64;
                    if !t.print_bytes(&buf[..n]) {
                        return false;
                    }
                }
            }
        }
    }
}

/// Follow `path` like `tail -F`: print appended bytes, switch to the new
/// file after a rotation (after draining the old one), restart from the
/// top after a truncation, wait for a file that does not exist yet.
fn follow_file(path: &Path, mut cur: Option<Followed>, t: &mut Term, stop: &dyn Fn() -> bool) {
    loop {
        if let Some(c) = cur.as_mut() {
            if !c.copy_new(t) {
                return;
            }
        }
        if let Ok(m) = std::fs::metadata(path) {
            let same = cur
                .as_ref()
                .is_some_and(|c| c.dev == m.dev() && c.ino == m.ino());
            if !same {
                // Lines written to the old file just before the rename.
                if let Some(c) = cur.as_mut() {
                    if !c.copy_new(t) {
                        return;
                    }
                }
                if let Ok(f) = File::open(path) {
                    cur = Some(Followed::new(f, 0));
                    continue;
                }
            } else if let Some(c) = cur.as_mut() {
                if m.len() < c.pos {
                    let _ = c.file.seek(SeekFrom::Start(0));
                    c.pos = 0;
                    continue;
                }
            }
        }
        if stop() {
            return;
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

// ---------------------------------------------------------------------
// events.

fn events(dir: &Path, follow: bool, json: bool, t: &mut Term, stop: &dyn Fn() -> bool) -> u8 {
    // Subscribe before reading the history, so nothing falls between the
    // two; lines in both are dropped at the seam.
    let mut stream = None;
    if follow {
        let req = Request::Events {
            v: VERSION,
            follow: true,
        };
        match call(dir, &req, None) {
            Ok((r, reader)) if r.ok => stream = Some(reader),
            Ok((r, _)) => return t.fail(&reply_error(&r)),
            Err(CallError::NotRunning) => {
                if print_history(dir, json, t).is_none() {
                    return OK;
                }
                return t.not_running(dir);
            }
            Err(e) => return call_failed(dir, e, t),
        }
    }
    let Some(seam) = print_history(dir, json, t) else {
        return OK;
    };
    let Some(mut reader) = stream else {
        return OK;
    };
    let mut at_seam = true;
    let mut line = String::new();
    loop {
        if stop() {
            return OK;
        }
        line.clear();
        match reader.read_line(&mut line) {
            // tend went away: the stream is over.
            Ok(0) | Err(_) => return OK,
            Ok(_) => {}
        }
        let l = line.trim_end_matches('\n');
        if at_seam && seam.contains(l) {
            continue;
        }
        at_seam = false;
        if !t.print(&event_line(l, json)) {
            return OK;
        }
    }
}

/// Print `events.jsonl.N` (oldest first) and `events.jsonl`; returns the
/// last lines printed, or None when stdout is gone.
fn print_history(dir: &Path, json: bool, t: &mut Term) -> Option<HashSet<String>> {
    let mut files = rotated_logs(dir, "events.jsonl");
    files.push(dir.join("events.jsonl"));
    let mut recent: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    for path in files {
        let Ok(f) = File::open(&path) else { continue };
        for line in BufReader::new(f).split(b'\n') {
            let Ok(bytes) = line else { break };
            let l = String::from_utf8_lossy(&bytes).into_owned();
            if l.is_empty() {
                continue;
            }
            if !t.print(&event_line(&l, json)) {
                return None;
            }
            if recent.len() == SEAM_LINES {
                recent.pop_front();
            }
            recent.push_back(l);
        }
    }
    Some(recent.into_iter().collect())
}

/// One event for output: the raw JSON line with `--json`, else
/// `TS NAME EVENT key=value...` (other keys sorted, nulls left out,
/// strings quoted only when they need it). A line that is not a JSON
/// object is printed as it is.
fn event_line(line: &str, json: bool) -> String {
    use serde_json::Value;
    if json {
        return format!("{line}\n");
    }
    let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(line) else {
        return format!("{line}\n");
    };
    let mut take = |k: &str| match m.remove(k) {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => "-".to_string(),
        Some(v) => v.to_string(),
    };
    let (ts, name, event) = (take("ts"), take("name"), take("event"));
    let mut s = format!("{ts} {name} {event}");
    for (k, v) in m {
        let text = match v {
            Value::Null => continue,
            Value::String(s) if plain(&s) => s,
            other => other.to_string(),
        };
        s.push_str(&format!(" {k}={text}"));
    }
    s.push('\n');
    s
}

/// A string that reads unambiguously after `key=` without quotes.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ActionResult, Info, ProcStatus, TendInfo};
    use crate::sys::control::{ClientId, ControlServer};
    use crate::sys::poll::PollSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use crate::testutil::TempDir;

    /// A DIR with its `logs/` already made, as a tend would leave it.
    fn tmp(tag: &str) -> TempDir {
        let d = TempDir::new(tag);
        std::fs::create_dir_all(d.0.join("logs")).unwrap();
        d
    }

    /// Run `cmd` against `dir`; returns (code, stdout, stderr).
    fn run_cmd(dir: &Path, cmd: Command) -> (u8, String, String) {
        run_until(dir, cmd, &|| false)
    }

    fn run_until(dir: &Path, cmd: Command, stop: &dyn Fn() -> bool) -> (u8, String, String) {
        let cli = Cli {
            dir: dir.to_path_buf(),
            command: cmd,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = {
            let mut t = Term {
                out: &mut out,
                err: &mut err,
                color: false,
            };
            run(&cli, &mut t, stop)
        };
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    /// A fake tend: a real ControlServer on `dir`, answering with
    /// `answer`, in a thread, until dropped.
    struct FakeTend {
        done: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
        seen: Arc<Mutex<Vec<Request>>>,
    }

    impl FakeTend {
        fn start(
            dir: &Path,
            answer: impl Fn(&Request) -> Option<Reply> + Send + 'static,
        ) -> FakeTend {
            let mut server = ControlServer::bind(&dir.join("tend.sock")).unwrap();
            let done = Arc::new(AtomicBool::new(false));
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (d, s) = (done.clone(), seen.clone());
            let thread = std::thread::spawn(move || {
                let mut ps = PollSet::default();
                let mut subs: Vec<ClientId> = Vec::new();
                while !d.load(Ordering::SeqCst) {
                    ps.clear();
                    server.register(&mut ps);
                    ps.wait(Some(Duration::from_millis(20))).unwrap();
                    let mut out = Vec::new();
                    let now = Instant::now();
                    server.on_time(now);
                    server.on_poll(&ps, now, &mut out);
                    for (id, req) in out {
                        s.lock().unwrap().push(req.clone());
                        if let Request::Events { follow: true, .. } = req {
                            server.subscribe(id);
                            subs.push(id);
                        }
                        if let Some(r) = answer(&req) {
                            server.reply(id, &r);
                        }
                    }
                    if !subs.is_empty() {
                        server.broadcast(r#"{"ts":"T2","event":"started","name":"web","pid":9}"#);
                        subs.clear();
                    }
                }
            });
            FakeTend {
                done,
                thread: Some(thread),
                seen,
            }
        }
    }

    impl Drop for FakeTend {
        fn drop(&mut self) {
            self.done.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn doc() -> StatusDoc {
        StatusDoc {
            tend: TendInfo {
                pid: 10,
                uptime_ms: 5000,
                version: "0.1.0".into(),
            },
            processes: vec![ProcStatus {
                state: "running".into(),
                health: "healthy".into(),
                ready: true,
                pid: Some(11),
                uptime_ms: 45_000,
                starts: 1,
                ..crate::testutil::proc_status("web")
            }],
            children: vec![],
        }
    }

    const TABLE: &str = "\
NAME  STATE    HEALTH   READY  PID  UPTIME  RESTARTS  LAST-EXIT  LAST-ERROR
web   running  healthy  yes    11   45s     0         -          -
";

    #[test]
    fn no_tend_means_exit_3() {
        let dir = tmp("none");
        let (code, out, err) = run_cmd(
            &dir.0,
            Command::Stop {
                names: vec!["web".into()],
                all: false,
            },
        );
        assert_eq!(code, 3);
        assert_eq!(out, "");
        assert_eq!(
            err,
            format!("tend: no tend is running on {}\n", dir.0.display())
        );
        // A stale socket file with nobody listening is the same.
        drop(std::os::unix::net::UnixListener::bind(dir.0.join("tend.sock")).unwrap());
        let (code, _, _) = run_cmd(&dir.0, Command::Health { names: vec![] });
        assert_eq!(code, 3);
        // A DIR that does not exist too.
        let (code, _, _) = run_cmd(&dir.0.join("nope"), Command::Reload);
        assert_eq!(code, 3);
    }

    #[test]
    fn status_not_running_shows_state_json() {
        let dir = tmp("state");
        let (code, out, _) = run_cmd(
            &dir.0,
            Command::Status {
                names: vec![],
                json: false,
            },
        );
        assert_eq!(code, 3);
        assert_eq!(out, format!("not running ({})\n", dir.0.display()));
        let mut d = doc();
        d.children.push(crate::proto::ChildRecord {
            name: "web".into(),
            pid: 11,
            pgid: 11,
            start_time: 1,
        });
        std::fs::write(dir.0.join("state.json"), serde_json::to_string(&d).unwrap()).unwrap();
        let (code, out, _) = run_cmd(
            &dir.0,
            Command::Status {
                names: vec![],
                json: false,
            },
        );
        assert_eq!(code, 3);
        assert!(out.ends_with(TABLE), "{out}");
        assert!(out.contains("last known state, from "));
        let (code, out, err) = run_cmd(
            &dir.0,
            Command::Status {
                names: vec![],
                json: true,
            },
        );
        assert_eq!(code, 3);
        assert!(err.contains("no tend is running"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v.get("children").is_none());
        assert_eq!(v["processes"][0]["name"], "web");
    }

    #[test]
    fn status_table_json_and_errors() {
        let dir = tmp("status");
        let tend = FakeTend::start(&dir.0, |req| match req {
            Request::Status { names, .. } if names.iter().any(|n| n != "web") => {
                Some(Reply::error("unknown process: nope"))
            }
            Request::Status { .. } => Some(Reply {
                ok: true,
                status: Some(doc()),
                ..Reply::default()
            }),
            _ => None,
        });
        let (code, out, err) = run_cmd(
            &dir.0,
            Command::Status {
                names: vec![],
                json: false,
            },
        );
        assert_eq!((code, out.as_str(), err.as_str()), (0, TABLE, ""));
        let (code, out, _) = run_cmd(
            &dir.0,
            Command::Status {
                names: vec!["web".into()],
                json: true,
            },
        );
        assert_eq!(code, 0);
        let back: StatusDoc = serde_json::from_str(&out).unwrap();
        assert_eq!(back, doc());
        let (code, out, err) = run_cmd(
            &dir.0,
            Command::Status {
                names: vec!["nope".into()],
                json: false,
            },
        );
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(err, "tend: error: unknown process: nope\n");
        assert_eq!(
            tend.seen.lock().unwrap()[1],
            Request::Status {
                v: 1,
                names: vec!["web".into()]
            }
        );
    }

    #[test]
    fn actions_print_one_line_per_result() {
        let dir = tmp("actions");
        let _tend = FakeTend::start(&dir.0, |req| match req {
            Request::Stop { all: true, .. } => Some(Reply {
                ok: true,
                results: vec![
                    ActionResult {
                        name: "web".into(),
                        state: "stopped".into(),
                        pid: None,
                        message: "stopped (was pid 123)".into(),
                    },
                    ActionResult {
                        name: "db".into(),
                        state: "stopped".into(),
                        pid: None,
                        message: String::new(),
                    },
                ],
                ..Reply::default()
            }),
            Request::Start { .. } => Some(Reply::error("unknown process: nope")),
            Request::Reload { .. } => Some(Reply {
                ok: true,
                results: vec![ActionResult {
                    name: "new".into(),
                    state: "starting".into(),
                    pid: Some(5),
                    message: "added".into(),
                }],
                ..Reply::default()
            }),
            _ => None,
        });
        let (code, out, err) = run_cmd(
            &dir.0,
            Command::Stop {
                names: vec![],
                all: true,
            },
        );
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(out, "web: stopped (was pid 123)\ndb: stopped\n");
        let (code, out, err) = run_cmd(
            &dir.0,
            Command::Start {
                names: vec!["nope".into()],
                all: false,
            },
        );
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(err, "tend: error: unknown process: nope\n");
        let (code, out, _) = run_cmd(&dir.0, Command::Reload);
        assert_eq!((code, out.as_str()), (0, "new: added\n"));
        let (code, _, err) = run_cmd(
            &dir.0,
            Command::Restart {
                names: vec![],
                all: false,
            },
        );
        assert_eq!(code, 2, "{err}");
    }

    #[test]
    fn health_exit_codes() {
        let dir = tmp("health");
        let _tend = FakeTend::start(&dir.0, |req| match req {
            Request::Health { names, .. } if names.is_empty() => Some(Reply {
                ok: true,
                not_ready: vec!["db".into(), "web".into()],
                ..Reply::default()
            }),
            Request::Health { names, .. } if names[0] == "nope" => {
                Some(Reply::error("unknown process: nope"))
            }
            Request::Health { .. } => Some(Reply::ok()),
            _ => None,
        });
        assert_eq!(
            run_cmd(&dir.0, Command::Health { names: vec![] }),
            (1, "not ready: db web\n".into(), String::new())
        );
        assert_eq!(
            run_cmd(
                &dir.0,
                Command::Health {
                    names: vec!["x".into()]
                }
            ),
            (0, String::new(), String::new())
        );
        assert_eq!(
            run_cmd(
                &dir.0,
                Command::Health {
                    names: vec!["nope".into()]
                }
            )
            .0,
            1
        );
    }

    #[test]
    fn shutdown_waits_until_tend_is_gone() {
        let dir = tmp("shutdown");
        let tend = Arc::new(Mutex::new(Some(FakeTend::start(&dir.0, |req| match req {
            Request::Shutdown { .. } => Some(Reply::ok()),
            _ => None,
        }))));
        std::fs::write(dir.0.join("tend.pid"), format!("{}\n", std::process::id())).unwrap();
        // The fake tend "exits" once it has answered: the socket goes away
        // with the server; the PID file is removed by hand.
        let (t2, d2) = (tend.clone(), dir.0.clone());
        let stopper = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let answered = t2
                    .lock()
                    .unwrap()
                    .as_ref()
                    .is_some_and(|t| !t.seen.lock().unwrap().is_empty());
                if answered || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            drop(t2.lock().unwrap().take());
            std::fs::remove_file(d2.join("tend.pid")).unwrap();
        });
        let (code, out, err) = run_cmd(&dir.0, Command::Shutdown);
        stopper.join().unwrap();
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, "shutting down\nstopped\n", "")
        );
    }

    #[test]
    fn tail_bytes_counts_lines() {
        let dir = tmp("tail");
        let p = dir.0.join("f");
        for (content, n, want, got) in [
            ("a\nb\nc\n", 2, "b\nc\n", 2),
            ("a\nb\nc\n", 3, "a\nb\nc\n", 3),
            ("a\nb\nc\n", 9, "a\nb\nc\n", 3),
            ("a\nb\nc", 1, "c", 1),
            ("a\nb\nc", 0, "", 0),
            ("", 5, "", 0),
            ("\n", 1, "\n", 1),
        ] {
            std::fs::write(&p, content).unwrap();
            let mut f = File::open(&p).unwrap();
            let (b, n_got) = tail_bytes(&mut f, content.len() as u64, n).unwrap();
            assert_eq!(
                (String::from_utf8(b).unwrap().as_str(), n_got),
                (want, got),
                "{content:?} {n}"
            );
        }
        // Across block boundaries.
        let big: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, &big).unwrap();
        let mut f = File::open(&p).unwrap();
        let (b, n) = tail_bytes(&mut f, big.len() as u64, 20_000).unwrap();
        let expect: String = (30_000..50_000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(n, 20_000);
        assert!(String::from_utf8(b).unwrap() == expect);
    }

    #[test]
    fn logs_tail_across_rotations_without_tend() {
        let dir = tmp("logs");
        let logs = dir.0.join("logs");
        std::fs::write(logs.join("web.log.2"), "1\n2\n").unwrap();
        std::fs::write(logs.join("web.log.1"), "3\n4\n").unwrap();
        std::fs::write(logs.join("web.log"), "5\n6\n").unwrap();
        std::fs::write(logs.join("web.log.x"), "junk\n").unwrap();
        std::fs::write(logs.join("webby.log"), "other\n").unwrap();
        let logs_cmd = |lines| Command::Logs {
            name: "web".into(),
            follow: false,
            lines,
        };
        assert_eq!(
            run_cmd(&dir.0, logs_cmd(Some(5))),
            (0, "2\n3\n4\n5\n6\n".into(), String::new())
        );
        assert_eq!(run_cmd(&dir.0, logs_cmd(None)).1, "1\n2\n3\n4\n5\n6\n");
        assert_eq!(run_cmd(&dir.0, logs_cmd(Some(1))).1, "6\n");
        assert_eq!(run_cmd(&dir.0, logs_cmd(Some(0))).1, "");
        let (code, _, err) = run_cmd(
            &dir.0,
            Command::Logs {
                name: "nope".into(),
                follow: false,
                lines: None,
            },
        );
        assert_eq!(code, 1);
        assert!(err.starts_with("tend: error: no log for nope in "), "{err}");
        let (code, _, _) = run_cmd(
            &dir.0,
            Command::Logs {
                name: "../x".into(),
                follow: false,
                lines: None,
            },
        );
        assert_eq!(code, 1);
    }

    #[test]
    fn logs_uses_the_log_dir_tend_reports() {
        let dir = tmp("logdir");
        let elsewhere = dir.0.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("web.log"), "there\n").unwrap();
        let ld = elsewhere.display().to_string();
        let _tend = FakeTend::start(&dir.0, move |req| match req {
            Request::Info { .. } => Some(Reply {
                ok: true,
                info: Some(Info {
                    pid: 1,
                    version: "0.1.0".into(),
                    dir: String::new(),
                    log_dir: ld.clone(),
                    config: None,
                }),
                ..Reply::default()
            }),
            _ => None,
        });
        let cmd = Command::Logs {
            name: "web".into(),
            follow: false,
            lines: None,
        };
        assert_eq!(run_cmd(&dir.0, cmd).1, "there\n");
    }

    #[test]
    fn logs_follow_survives_rotation_and_truncation() {
        let dir = tmp("follow");
        let logs = dir.0.join("logs");
        let live = logs.join("web.log");
        std::fs::write(&live, "old\n").unwrap();
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let done = Arc::new(AtomicBool::new(false));
        let (o2, d2, dir2) = (out.clone(), done.clone(), dir.0.clone());
        let follower = std::thread::spawn(move || {
            struct Shared(Arc<Mutex<Vec<u8>>>);
            impl Write for Shared {
                fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                    self.0.lock().unwrap().extend_from_slice(b);
                    Ok(b.len())
                }
                fn flush(&mut self) -> io::Result<()> {
                    Ok(())
                }
            }
            let cli = Cli {
                dir: dir2,
                command: Command::Logs {
                    name: "web".into(),
                    follow: true,
                    lines: None,
                },
            };
            let (mut o, mut e) = (Shared(o2), Vec::new());
            let mut t = Term {
                out: &mut o,
                err: &mut e,
                color: false,
            };
            run(&cli, &mut t, &|| d2.load(Ordering::SeqCst))
        });
        let wait_for = |want: &str| {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let got = String::from_utf8(out.lock().unwrap().clone()).unwrap();
                if got == want {
                    return;
                }
                assert!(Instant::now() < deadline, "got {got:?}, want {want:?}");
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let append = |s: &str| {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&live)
                .unwrap();
            f.write_all(s.as_bytes()).unwrap();
        };
        wait_for("old\n");
        append("one\n");
        wait_for("old\none\n");
        // Rotation: a last line lands in the old file just before the rename.
        append("two\n");
        std::fs::rename(&live, logs.join("web.log.1")).unwrap();
        append("three\n");
        wait_for("old\none\ntwo\nthree\n");
        // Truncation in place.
        std::fs::write(&live, "").unwrap();
        append("four\n");
        wait_for("old\none\ntwo\nthree\nfour\n");
        done.store(true, Ordering::SeqCst);
        assert_eq!(follower.join().unwrap(), 0);
    }

    #[test]
    fn event_lines_human_and_json() {
        let l = r#"{"ts":"2026-01-02T03:04:05Z","event":"exited","name":"web","code":null,"signal":"KILL","error":"probe failed: exit 1"}"#;
        assert_eq!(
            event_line(l, false),
            "2026-01-02T03:04:05Z web exited error=\"probe failed: exit 1\" signal=KILL\n"
        );
        assert_eq!(event_line(l, true), format!("{l}\n"));
        assert_eq!(
            event_line(r#"{"ts":"T","event":"reload"}"#, false),
            "T - reload\n"
        );
        assert_eq!(event_line("garbage", false), "garbage\n");
        assert_eq!(
            event_line(
                r#"{"ts":"T","event":"backoff","name":"w","delay_ms":2000}"#,
                false
            ),
            "T w backoff delay_ms=2000\n"
        );
    }

    #[test]
    fn events_history_and_follow() {
        let dir = tmp("events");
        std::fs::write(
            dir.0.join("events.jsonl.1"),
            "{\"ts\":\"T0\",\"event\":\"reload\"}\n",
        )
        .unwrap();
        std::fs::write(
            dir.0.join("events.jsonl"),
            "{\"ts\":\"T1\",\"event\":\"starting\",\"name\":\"web\"}\n",
        )
        .unwrap();
        // Without tend, past events still print.
        let (code, out, _) = run_cmd(
            &dir.0,
            Command::Events {
                follow: false,
                json: false,
            },
        );
        assert_eq!((code, out.as_str()), (0, "T0 - reload\nT1 web starting\n"));
        let (code, out, _) = run_cmd(
            &dir.0,
            Command::Events {
                follow: true,
                json: true,
            },
        );
        assert_eq!(code, 3);
        assert_eq!(out.lines().count(), 2);
        // Following: history, then the streamed event, until tend hangs up.
        let tend = FakeTend::start(&dir.0, |req| match req {
            Request::Events { .. } => Some(Reply::ok()),
            _ => None,
        });
        // Once the request is seen, the fake has replied and broadcast in
        // the same turn; then it "exits" and the stream ends.
        let stopper = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while tend.seen.lock().unwrap().is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            drop(tend);
        });
        let (code, out, err) = run_cmd(
            &dir.0,
            Command::Events {
                follow: true,
                json: false,
            },
        );
        stopper.join().unwrap();
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(out, "T0 - reload\nT1 web starting\nT2 web started pid=9\n");
    }
}
