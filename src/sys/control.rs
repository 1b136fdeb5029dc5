//! The server side of the control socket `DIR/tend.sock` (SPEC §4): bind
//! it safely, accept clients, check who they are, read one request line
//! each, hand valid requests to the caller and write replies back — all
//! without ever blocking the one poll loop.
//!
//! It owns the listener, every client connection and their buffers. It
//! does not know what a request means: the caller (the event loop) maps
//! each `(ClientId, Request)` onto the supervisor and answers with
//! `reply`. What the server answers by itself: malformed JSON, unknown
//! commands, a wrong protocol version, a line over 64 KiB, a peer with
//! another uid, a client silent for too long. After such an error reply
//! the connection is closed and the server keeps serving everyone else.
//!
//! # Correct order, each loop turn
//!
//! `register` (also closes clients whose reply went out) → `PollSet::wait`
//! → `on_time(now)` → `on_poll(&ps, now, &mut out)` → for each request in
//! `out`, act and call `reply` (and `subscribe` for `events` with
//! `follow`, before or after `reply` but in the same turn). `reply` may
//! also come in a later turn, once an action took effect: a client whose
//! request is in the caller's hands has no idle deadline.
//!
//! One request per connection: after the first line the server stops
//! reading, the reply is written, and the connection is closed — unless
//! the client was subscribed, then `broadcast` lines follow the reply.
//! Writes go through per-client buffers and POLLOUT; a slow or silent
//! client costs memory (bounded) and an fd, never time.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::accept::Accepted;
use crate::proto::{Reply, Request, MAX_REQUEST, VERSION};
use crate::sys::poll::{PollSet, IN, OUT};

pub type ClientId = u64;

/// A client that sends no complete request for this long after connecting,
/// or does not take its reply for this long, is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// A subscriber whose unsent output grows past this is dropped: it is not
/// reading, and tend will not buffer events for it without bound.
pub const MAX_SUBSCRIBER_QUEUE: usize = 1 << 20;
/// Connections the kernel queues while tend is busy; bursts of `tend
/// status` from scripts fit in it.
const BACKLOG: libc::c_int = 512;
/// Accepts per loop turn, so a connection storm cannot starve children's
/// output or signals; the rest wait in the backlog for the next turn.
const ACCEPT_PER_TURN: usize = 128;
/// Open clients at most; beyond it new connections wait in the backlog.
const MAX_CLIENTS: usize = 1024;
/// Commands the protocol knows, to tell "unknown command" from a bad
/// field. Kept in step with `proto::Request` by a test.
const COMMANDS: [&str; 10] = [
    "status", "start", "stop", "restart", "reset", "reload", "shutdown", "health", "events", "info",
];

/// Why the control socket could not be set up.
#[derive(Debug)]
pub enum ControlError {
    /// The path does not fit in `sockaddr_un.sun_path` (107 bytes + NUL).
    PathTooLong { path: PathBuf },
    /// Something that is not a socket sits where the socket goes; tend
    /// does not delete what it did not create.
    NotASocket { path: PathBuf },
    /// A stale socket file could not be removed.
    Stale { path: PathBuf, error: io::Error },
    /// `syscall` (socket, bind, chmod, listen) failed.
    Bind {
        path: PathBuf,
        syscall: &'static str,
        error: io::Error,
    },
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::PathTooLong { path } => write!(
                f,
                "cannot listen on {}: the socket path is longer than 107 bytes (use a shorter --dir)",
                path.display()
            ),
            ControlError::NotASocket { path } => write!(
                f,
                "cannot listen on {}: the file exists and is not a socket",
                path.display()
            ),
            ControlError::Stale { path, error } => write!(
                f,
                "cannot listen on {}: cannot remove the stale socket: {}",
                path.display(),
                crate::error::os_text(error)
            ),
            ControlError::Bind {
                path,
                syscall: "chmod",
                error,
            } => write!(
                f,
                "cannot listen on {}: chmod 0600: {}",
                path.display(),
                crate::error::os_text(error)
            ),
            ControlError::Bind { path, error, .. } => {
                write!(f, "cannot listen on {}: {}", path.display(), crate::error::os_text(error))
            }
        }
    }
}

impl std::error::Error for ControlError {}

/// Whether a peer with `peer_uid` may talk to a tend running as `our_uid`:
/// the same user, or root (root can read the socket file anyway).
pub fn allowed(peer_uid: u32, our_uid: u32) -> bool {
    peer_uid == our_uid || peer_uid == 0
}

/// Check one request line: JSON object, `v` = `VERSION`, a known `cmd`,
/// known fields. The error is the reply text, naming the problem.
pub fn parse(line: &[u8]) -> Result<Request, String> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("malformed request: {e}"))?;
    let Some(obj) = value.as_object() else {
        return Err("malformed request: expected a JSON object".to_string());
    };
    match obj.get("v") {
        None => return Err("bad request: missing \"v\" (protocol version)".to_string()),
        Some(v) if v.as_u64() != Some(u64::from(VERSION)) => {
            return Err(format!(
                "unsupported protocol version {v} (this tend speaks {VERSION})"
            ))
        }
        Some(_) => {}
    }
    let cmd = match obj.get("cmd") {
        None => return Err("bad request: missing \"cmd\"".to_string()),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "bad request: \"cmd\" must be a string, not {other}"
            ))
        }
    };
    if !COMMANDS.contains(&cmd.as_str()) {
        return Err(format!("unknown command {cmd:?}"));
    }
    serde_json::from_value(value).map_err(|e| format!("bad {cmd} request: {e}"))
}

struct Client {
    stream: UnixStream,
    /// The request line so far (only before `request_done`).
    inbuf: Vec<u8>,
    /// Bytes to send; `out[sent..]` is still queued.
    out: Vec<u8>,
    sent: usize,
    /// A line was read (or refused): stop reading requests.
    request_done: bool,
    /// The one reply is queued; once it is sent the connection closes
    /// unless `subscribed`.
    replied: bool,
    subscribed: bool,
    /// Broadcast lines that arrived between `subscribe` and `reply`; they
    /// go out after the reply.
    early: Vec<u8>,
    /// Start of the current idle period: accept time while reading, the
    /// last write progress while sending the reply.
    since: Instant,
    /// Index in the PollSet of the last `register`, if registered.
    idx: Option<usize>,
}

impl Client {
    fn queued(&self) -> usize {
        self.out.len() - self.sent
    }

    fn finished(&self) -> bool {
        self.replied && !self.subscribed && self.queued() == 0
    }

    /// What to poll for; None: nothing to wait on (the request is with the
    /// caller, or the reply is sent and the client is about to close).
    fn events(&self) -> Option<i16> {
        if !self.request_done {
            return Some(IN);
        }
        let out = if self.queued() > 0 { OUT } else { 0 };
        if self.replied && self.subscribed {
            // IN only to notice the subscriber hanging up.
            return Some(IN | out);
        }
        (out != 0).then_some(out)
    }

    fn deadline(&self, idle: Duration) -> Option<Instant> {
        let idle_applies = !self.request_done || (self.replied && !self.subscribed);
        idle_applies.then(|| self.since + idle)
    }

    /// Queue a server-made error reply; the connection closes after it.
    fn refuse(&mut self, msg: String) {
        self.request_done = true;
        self.replied = true;
        self.inbuf = Vec::new();
        self.out.extend_from_slice(&reply_line(&Reply::error(msg)));
    }

    /// Write what the socket takes now. Err: the client is gone.
    fn flush(&mut self, now: Option<Instant>) -> Result<(), ()> {
        let mut progress = false;
        while self.sent < self.out.len() {
            match crate::sys::ffi::send_nosignal(self.stream.as_raw_fd(), &self.out[self.sent..]) {
                Ok(0) => return Err(()),
                Ok(n) => {
                    self.sent += n;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
        if progress {
            if let Some(now) = now {
                self.since = now;
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent >= 64 * 1024 && self.sent * 2 >= self.out.len() {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }
}

enum ReadOutcome {
    /// Nothing more to read now.
    Pending,
    Line(Vec<u8>),
    TooLong,
    /// EOF before any byte, or a read error: close quietly.
    Gone,
}

/// Read the request line as far as the socket allows.
fn read_request(c: &mut Client) -> ReadOutcome {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => {
                // A request without a final newline, then shutdown(WR),
                // is still a request.
                if c.inbuf.is_empty() {
                    return ReadOutcome::Gone;
                }
                return ReadOutcome::Line(std::mem::take(&mut c.inbuf));
            }
            Ok(n) => {
                let start = c.inbuf.len();
                c.inbuf.extend_from_slice(&buf[..n]);
                if let Some(pos) = c.inbuf[start..].iter().position(|&b| b == b'\n') {
                    let end = start + pos;
                    if end > MAX_REQUEST {
                        return ReadOutcome::TooLong;
                    }
                    let mut line = std::mem::take(&mut c.inbuf);
                    line.truncate(end);
                    return ReadOutcome::Line(line);
                }
                if c.inbuf.len() > MAX_REQUEST {
                    return ReadOutcome::TooLong;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Pending,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return ReadOutcome::Gone,
        }
    }
}

/// Read and drop what a subscriber sends; false when it hung up.
fn drain_subscriber(c: &mut Client) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Read and drop what is left unread before closing: closing a unix
/// socket with unread input makes the peer's next read fail with
/// ECONNRESET instead of a clean EOF after our reply.
fn discard_input(c: &mut Client) {
    let mut buf = [0u8; 16 * 1024];
    for _ in 0..8 {
        match c.stream.read(&mut buf) {
            Ok(n) if n > 0 => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return,
        }
    }
}

fn reply_line(reply: &Reply) -> Vec<u8> {
    // A Reply is plain strings, numbers and options: serializing it cannot
    // fail; the fallback keeps the client from waiting forever if it did.
    let mut line = serde_json::to_vec(reply).unwrap_or_else(|_| {
        br#"{"ok":false,"error":"internal error: unserializable reply"}"#.to_vec()
    });
    line.push(b'\n');
    line
}

pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    our_uid: u32,
    clients: HashMap<ClientId, Client>,
    next_id: ClientId,
    listener_idx: Option<usize>,
    /// Set after EMFILE/ENFILE: the listener is not polled until then.
    accept_paused_until: Option<Instant>,
    /// The latest `now` seen, for timestamps taken inside `reply`.
    last_now: Option<Instant>,
    /// The last accept failure, for tend's own log.
    warning: Option<String>,
    /// `IDLE_TIMEOUT`; a field so tests can shorten it.
    pub(crate) idle_timeout: Duration,
    pub(crate) max_clients: usize,
}

impl ControlServer {
    /// Listen on `path`: remove a stale socket there (the caller holds the
    /// PID lock, so a socket file left there belongs to a dead tend), bind,
    /// chmod 0600 before `listen` (no client can connect until then, and
    /// the umask does not matter), listen with a backlog of 512.
    /// Nonblocking and close-on-exec.
    pub fn bind(path: &Path) -> Result<ControlServer, ControlError> {
        remove_stale(path)?;
        let (addr, addr_len) = sockaddr(path)?;
        let bind_err = |syscall, error| ControlError::Bind {
            path: path.to_path_buf(),
            syscall,
            error,
        };
        let fd = unix_socket().map_err(|e| bind_err("socket", e))?;
        // SAFETY: `addr` is a fully initialised sockaddr_un and `addr_len`
        // is its used length; `fd` is an open socket we own.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_un as *const libc::sockaddr,
                addr_len,
            )
        };
        if r != 0 {
            return Err(bind_err("bind", io::Error::last_os_error()));
        }
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            let _ = std::fs::remove_file(path);
            return Err(bind_err("chmod", e));
        }
        // SAFETY: `fd` is an open, bound socket we own.
        if unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) } != 0 {
            let e = io::Error::last_os_error();
            let _ = std::fs::remove_file(path);
            return Err(bind_err("listen", e));
        }
        let listener = UnixListener::from(fd);
        if let Err(e) = listener.set_nonblocking(true) {
            let _ = std::fs::remove_file(path);
            return Err(bind_err("fcntl", e));
        }
        // SAFETY: geteuid cannot fail and has no preconditions.
        let our_uid = unsafe { libc::geteuid() };
        Ok(ControlServer {
            listener,
            path: path.to_path_buf(),
            our_uid,
            clients: HashMap::new(),
            next_id: 1,
            listener_idx: None,
            accept_paused_until: None,
            last_now: None,
            warning: None,
            idle_timeout: IDLE_TIMEOUT,
            max_clients: MAX_CLIENTS,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Add the listener and every client that waits on something to `ps`.
    /// Clients whose reply is fully sent are closed first.
    pub fn register(&mut self, ps: &mut PollSet) {
        self.clients.retain(|_, c| {
            if c.finished() {
                discard_input(c);
                return false;
            }
            true
        });
        let accepting = self.accept_paused_until.is_none() && self.clients.len() < self.max_clients;
        self.listener_idx = accepting.then(|| ps.add(self.listener.as_raw_fd(), IN));
        for c in self.clients.values_mut() {
            c.idx = c.events().map(|ev| ps.add(c.stream.as_raw_fd(), ev));
        }
    }

    /// Handle what the last `wait` reported: accept new clients, read
    /// request lines, write queued output. Valid requests are appended to
    /// `out`; bad ones are answered here.
    pub fn on_poll(&mut self, ps: &PollSet, now: Instant, out: &mut Vec<(ClientId, Request)>) {
        self.last_now = Some(now);
        if let Some(idx) = self.listener_idx.take() {
            if ps.readable(idx) {
                self.accept_all(now, out);
            }
        }
        let mut gone = Vec::new();
        for (&id, c) in self.clients.iter_mut() {
            let Some(idx) = c.idx.take() else { continue };
            let readable = ps.readable(idx);
            let writable = ps.writable(idx);
            if readable {
                if !c.request_done {
                    if !handle_read(id, c, out) {
                        gone.push(id);
                        continue;
                    }
                } else if c.subscribed && !drain_subscriber(c) {
                    gone.push(id);
                    continue;
                }
            }
            if (writable || c.queued() > 0) && c.flush(Some(now)).is_err() {
                gone.push(id);
            }
        }
        for id in gone {
            self.clients.remove(&id);
        }
    }

    fn accept_all(&mut self, now: Instant, out: &mut Vec<(ClientId, Request)>) {
        for _ in 0..ACCEPT_PER_TURN {
            if self.clients.len() >= self.max_clients {
                return;
            }
            let stream = match super::accept::classify(self.listener.accept()) {
                Accepted::Stream(s) => s,
                Accepted::Retry => continue,
                Accepted::Empty => return,
                Accepted::Failed(e) => {
                    self.accept_paused_until = Some(now + super::accept::PAUSE);
                    self.warning = Some(format!(
                        "control socket: cannot accept a client: {}",
                        crate::error::os_text(&e)
                    ));
                    return;
                }
            };
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            let mut c = Client {
                stream,
                inbuf: Vec::new(),
                out: Vec::new(),
                sent: 0,
                request_done: false,
                replied: false,
                subscribed: false,
                early: Vec::new(),
                since: now,
                idx: None,
            };
            match peer_uid(&c.stream) {
                Ok(uid) if allowed(uid, self.our_uid) => {
                    // The request often arrives with the connection: read
                    // it now rather than a loop turn later.
                    if !handle_read(id, &mut c, out) {
                        continue;
                    }
                }
                Ok(uid) => c.refuse(format!("permission denied: uid {uid} is not the owner")),
                Err(e) => c.refuse(format!(
                    "permission denied: cannot check the peer's uid: {}",
                    crate::error::os_text(&e)
                )),
            }
            if c.flush(Some(now)).is_err() {
                continue;
            }
            self.clients.insert(id, c);
        }
    }

    /// Queue the one reply to client `id`; the connection closes once it
    /// is sent, unless `subscribe(id)` is called in the same turn. A reply
    /// to a client that is gone, or a second reply, is ignored.
    pub fn reply(&mut self, id: ClientId, reply: &Reply) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.replied {
            return;
        }
        c.replied = true;
        c.out.extend_from_slice(&reply_line(reply));
        let early = std::mem::take(&mut c.early);
        c.out.extend_from_slice(&early);
        if let Some(now) = self.last_now {
            c.since = now;
        }
        if c.flush(self.last_now).is_err() {
            self.clients.remove(&id);
        }
    }

    /// Keep `id` open after its reply and send it every `broadcast` line
    /// (`events` with `"follow": true`).
    pub fn subscribe(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.subscribed = true;
        }
    }

    /// Send one line (a newline is added if missing) to every subscriber.
    /// A subscriber with more than 1 MiB unsent is dropped.
    pub fn broadcast(&mut self, line: &str) {
        let mut gone = Vec::new();
        for (&id, c) in self.clients.iter_mut() {
            if !c.subscribed {
                continue;
            }
            let buf = if c.replied { &mut c.out } else { &mut c.early };
            buf.extend_from_slice(line.as_bytes());
            if !line.ends_with('\n') {
                buf.push(b'\n');
            }
            if c.replied && c.flush(self.last_now).is_err() {
                gone.push(id);
                continue;
            }
            if c.queued() + c.early.len() > MAX_SUBSCRIBER_QUEUE {
                gone.push(id);
            }
        }
        for id in gone {
            self.clients.remove(&id);
        }
    }

    /// The earliest idle deadline, or the end of an accept pause.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clients
            .values()
            .filter_map(|c| c.deadline(self.idle_timeout))
            .chain(self.accept_paused_until)
            .min()
    }

    /// Close idle clients (with a best-effort error line) and end an
    /// accept pause that is due.
    pub fn on_time(&mut self, now: Instant) {
        self.last_now = Some(now);
        if self.accept_paused_until.is_some_and(|t| t <= now) {
            self.accept_paused_until = None;
        }
        let idle = self.idle_timeout;
        self.clients.retain(|_, c| {
            if c.finished() {
                discard_input(c);
                return false;
            }
            match c.deadline(idle) {
                Some(t) if t <= now => {}
                _ => return true,
            }
            if !c.request_done {
                // One nonblocking try; the client is closed either way.
                let msg = format!("timeout: no request within {}s", idle.as_secs_f64());
                let _ = crate::sys::ffi::send_nosignal(
                    c.stream.as_raw_fd(),
                    &reply_line(&Reply::error(msg)),
                );
            }
            false
        });
    }

    /// Open client connections.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// The last accept failure (EMFILE...), once, for tend's own log.
    pub fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Read a request into `c`; push it or refuse it. False: close quietly.
fn handle_read(id: ClientId, c: &mut Client, out: &mut Vec<(ClientId, Request)>) -> bool {
    match read_request(c) {
        ReadOutcome::Pending => {}
        ReadOutcome::Gone => return false,
        ReadOutcome::TooLong => c.refuse(format!("request line longer than {MAX_REQUEST} bytes")),
        ReadOutcome::Line(line) => match parse(&line) {
            Ok(req) => {
                c.request_done = true;
                c.inbuf = Vec::new();
                out.push((id, req));
            }
            Err(msg) => c.refuse(msg),
        },
    }
    true
}

fn remove_stale(path: &Path) -> Result<(), ControlError> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|error| ControlError::Stale {
                path: path.to_path_buf(),
                error,
            })
        }
        Ok(_) => Err(ControlError::NotASocket {
            path: path.to_path_buf(),
        }),
    }
}

fn sockaddr(path: &Path) -> Result<(libc::sockaddr_un, libc::socklen_t), ControlError> {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    // Room for the terminating NUL; an interior NUL would bind elsewhere.
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(ControlError::PathTooLong {
            path: path.to_path_buf(),
        });
    }
    for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let base = std::mem::size_of::<libc::sa_family_t>();
    Ok((addr, (base + bytes.len() + 1) as libc::socklen_t))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn unix_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn unix_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl on an fd we own; F_SETFD takes an int flag argument.
    if unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned)
}

/// The uid of the process at the other end of `s`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn peer_uid(s: &UnixStream) -> io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a writable ucred and `len` holds its size, as
    // SO_PEERCRED requires; the fd is a connected unix socket we own.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
))]
fn peer_uid(s: &UnixStream) -> io::Result<u32> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: both out-pointers are valid and writable; the fd is a
    // connected unix socket we own.
    if unsafe { libc::getpeereid(s.as_raw_fd(), &mut uid, &mut gid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(uid)
}

/// No way to ask on this OS: rely on the socket file's mode 0600.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)))]
fn peer_uid(_s: &UnixStream) -> io::Result<u32> {
    // SAFETY: geteuid cannot fail and has no preconditions.
    Ok(unsafe { libc::geteuid() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ActionResult;
    use std::io::{BufRead, BufReader, Write};
    use std::thread::JoinHandle;

    use crate::testutil::TempDir;

    impl TempDir {
        fn sock(&self) -> PathBuf {
            self.0.join("tend.sock")
        }
    }

    /// One loop turn, as the event loop will run it.
    fn turn(server: &mut ControlServer, ps: &mut PollSet) -> Vec<(ClientId, Request)> {
        ps.clear();
        server.register(ps);
        let now = Instant::now();
        let timeout = server
            .next_deadline()
            .map_or(Duration::from_millis(50), |d| {
                d.saturating_duration_since(now)
                    .min(Duration::from_millis(50))
            });
        ps.wait(Some(timeout)).unwrap();
        let now = Instant::now();
        server.on_time(now);
        let mut out = Vec::new();
        server.on_poll(ps, now, &mut out);
        out
    }

    /// Run the server until `client` finishes, replying to each request
    /// with `answer`; returns the client's result.
    fn serve<T: Send + 'static>(
        server: &mut ControlServer,
        client: JoinHandle<T>,
        mut answer: impl FnMut(&mut ControlServer, ClientId, Request),
    ) -> T {
        let mut ps = PollSet::default();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !client.is_finished() {
            assert!(Instant::now() < deadline, "client did not finish");
            for (id, req) in turn(server, &mut ps) {
                answer(server, id, req);
            }
        }
        client.join().unwrap()
    }

    /// Send `bytes`, read every line until EOF.
    fn exchange(path: &Path, bytes: &[u8]) -> Vec<String> {
        let mut s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // A refused client may be hung up on before it is done writing;
        // the reply is still readable.
        if let Err(e) = s.write_all(bytes) {
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
        }
        // ECONNRESET after the reply (we hung up with input unread) ends
        // the reply like EOF.
        BufReader::new(s).lines().map_while(Result::ok).collect()
    }

    fn echo_ok(server: &mut ControlServer, id: ClientId, _req: Request) {
        server.reply(id, &Reply::ok());
    }

    fn error_of(line: &str) -> String {
        let r: Reply = serde_json::from_str(line).unwrap();
        assert!(!r.ok, "{line}");
        r.error.unwrap()
    }

    #[test]
    fn allowed_same_uid_or_root_only() {
        assert!(allowed(1000, 1000));
        assert!(allowed(0, 1000));
        assert!(allowed(0, 0));
        assert!(!allowed(1001, 1000));
        assert!(!allowed(1000, 0));
    }

    #[test]
    fn parse_names_each_problem() {
        assert_eq!(
            parse(br#"{"v":1,"cmd":"status"}"#),
            Ok(Request::Status {
                v: 1,
                names: vec![]
            })
        );
        let cases: [(&[u8], &str); 9] = [
            (b"not json", "malformed request: "),
            (b"", "malformed request: "),
            (b"[1]", "malformed request: expected a JSON object"),
            (br#"{"cmd":"status"}"#, "missing \"v\""),
            (
                br#"{"v":2,"cmd":"status"}"#,
                "unsupported protocol version 2",
            ),
            (
                br#"{"v":"1","cmd":"status"}"#,
                "unsupported protocol version \"1\"",
            ),
            (br#"{"v":1}"#, "missing \"cmd\""),
            (br#"{"v":1,"cmd":"fly"}"#, "unknown command \"fly\""),
            (
                br#"{"v":1,"cmd":"stop","nmes":["a"]}"#,
                "bad stop request: unknown field `nmes`",
            ),
        ];
        for (line, want) in cases {
            let e = parse(line).unwrap_err();
            assert!(e.contains(want), "{:?}: {e}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn every_command_parses() {
        for cmd in COMMANDS {
            let line = format!(r#"{{"v":1,"cmd":"{cmd}"}}"#);
            assert!(parse(line.as_bytes()).is_ok(), "{cmd}");
        }
    }

    #[test]
    fn valid_request_is_pushed_and_answered() {
        let dir = TempDir::new("valid");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        let path = dir.sock();
        let client = std::thread::spawn(move || {
            exchange(&path, b"{\"v\":1,\"cmd\":\"stop\",\"names\":[\"web\"]}\n")
        });
        let mut seen = Vec::new();
        let lines = serve(&mut server, client, |s, id, req| {
            seen.push(req);
            s.reply(
                id,
                &Reply {
                    ok: true,
                    results: vec![ActionResult {
                        name: "web".into(),
                        state: "stopped".into(),
                        pid: None,
                        message: "stopped (was pid 7)".into(),
                    }],
                    ..Reply::default()
                },
            );
        });
        assert_eq!(
            seen,
            vec![Request::Stop {
                v: 1,
                names: vec!["web".into()],
                all: false
            }]
        );
        assert_eq!(
            lines,
            vec![
                r#"{"ok":true,"results":[{"name":"web","state":"stopped","pid":null,"message":"stopped (was pid 7)"}]}"#
            ]
        );
        let mut ps = PollSet::default();
        turn(&mut server, &mut ps);
        assert_eq!(server.client_count(), 0);
    }

    #[test]
    fn request_without_newline_then_eof_is_a_request() {
        let dir = TempDir::new("eof");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        let path = dir.sock();
        let client = std::thread::spawn(move || {
            let mut s = UnixStream::connect(&path).unwrap();
            s.write_all(br#"{"v":1,"cmd":"health"}"#).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            BufReader::new(s)
                .lines()
                .map(|l| l.unwrap())
                .collect::<Vec<_>>()
        });
        let lines = serve(&mut server, client, echo_ok);
        assert_eq!(lines, vec![r#"{"ok":true}"#]);
    }

    #[test]
    fn garbage_gets_an_error_and_the_next_client_is_served() {
        let dir = TempDir::new("garbage");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        let path = dir.sock();
        let client = std::thread::spawn(move || {
            let bad = exchange(&path, b"hello there\n");
            let good = exchange(&path, b"{\"v\":1,\"cmd\":\"status\"}\n");
            (bad, good)
        });
        let mut n = 0;
        let (bad, good) = serve(&mut server, client, |s, id, req| {
            n += 1;
            assert!(matches!(req, Request::Status { .. }));
            s.reply(id, &Reply::ok());
        });
        assert_eq!(n, 1);
        assert_eq!(bad.len(), 1);
        assert!(
            error_of(&bad[0]).starts_with("malformed request: "),
            "{bad:?}"
        );
        assert_eq!(good, vec![r#"{"ok":true}"#]);
    }

    #[test]
    fn line_limit_is_64_kib() {
        let dir = TempDir::new("long");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        let path = dir.sock();
        let client = std::thread::spawn(move || {
            let too_long = exchange(&path, &vec![b'a'; MAX_REQUEST + 1]);
            // Exactly 64 KiB of line (JSON padded with spaces) is fine.
            let mut fits = br#"{"v":1,"cmd":"status"}"#.to_vec();
            fits.resize(MAX_REQUEST, b' ');
            fits.push(b'\n');
            let ok = exchange(&path, &fits);
            (too_long, ok)
        });
        let (too_long, ok) = serve(&mut server, client, echo_ok);
        assert_eq!(too_long.len(), 1);
        assert_eq!(
            error_of(&too_long[0]),
            "request line longer than 65536 bytes"
        );
        assert_eq!(ok, vec![r#"{"ok":true}"#]);
    }

    #[test]
    fn wrong_version_and_unknown_command_get_errors() {
        let dir = TempDir::new("version");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        let path = dir.sock();
        let client = std::thread::spawn(move || {
            (
                exchange(&path, b"{\"v\":9,\"cmd\":\"status\"}\n"),
                exchange(&path, b"{\"v\":1,\"cmd\":\"launch\"}\n"),
            )
        });
        let (v, cmd) = serve(&mut server, client, |_, _, req| {
            panic!("no request should pass: {req:?}")
        });
        assert_eq!(
            error_of(&v[0]),
            "unsupported protocol version 9 (this tend speaks 1)"
        );
        assert_eq!(error_of(&cmd[0]), "unknown command \"launch\"");
    }

    #[test]
    fn three_hundred_concurrent_clients() {
        const N: usize = 300;
        let dir = TempDir::new("many");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        let path = dir.sock();
        let client = std::thread::spawn(move || {
            // All connected and all sent before any reply is read.
            let mut conns: Vec<UnixStream> = (0..N)
                .map(|i| {
                    let mut s = UnixStream::connect(&path).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
                    let req = format!("{{\"v\":1,\"cmd\":\"status\",\"names\":[\"p{i}\"]}}\n");
                    s.write_all(req.as_bytes()).unwrap();
                    s
                })
                .collect();
            conns
                .iter_mut()
                .map(|s| {
                    let mut line = String::new();
                    BufReader::new(s).read_line(&mut line).unwrap();
                    line
                })
                .collect::<Vec<_>>()
        });
        // The dispatcher holds every request until all N are in, so the
        // server must carry N open clients at once.
        let mut pending = Vec::new();
        let mut peak = 0;
        let lines = serve(&mut server, client, |s, id, req| {
            let Request::Status { names, .. } = req else {
                panic!("{req:?}")
            };
            pending.push((id, names[0].clone()));
            peak = peak.max(s.client_count());
            if pending.len() == N {
                for (id, name) in pending.drain(..) {
                    s.reply(id, &Reply::error(name));
                }
            }
        });
        assert_eq!(peak, N);
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(error_of(line), format!("p{i}"));
        }
    }

    #[test]
    fn socket_is_0600_stale_socket_replaced_and_removed_on_drop() {
        let dir = TempDir::new("mode");
        // A socket file left by a dead tend.
        drop(UnixListener::bind(dir.sock()).unwrap());
        assert!(dir.sock().exists());
        let server = ControlServer::bind(&dir.sock()).unwrap();
        let mode = std::fs::metadata(dir.sock()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(UnixStream::connect(dir.sock()).is_ok());
        drop(server);
        assert!(!dir.sock().exists());
    }

    #[test]
    fn bind_errors_name_the_path() {
        let dir = TempDir::new("errors");
        std::fs::write(dir.sock(), "x").unwrap();
        let e = ControlServer::bind(&dir.sock()).err().unwrap();
        assert!(matches!(e, ControlError::NotASocket { .. }));
        assert!(e
            .to_string()
            .ends_with("tend.sock: the file exists and is not a socket"));

        let long = dir.0.join("x".repeat(120)).join("tend.sock");
        let e = ControlServer::bind(&long).err().unwrap();
        assert!(matches!(e, ControlError::PathTooLong { .. }), "{e}");

        let missing = dir.0.join("nope").join("tend.sock");
        let e = ControlServer::bind(&missing).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot listen on {}: No such file or directory",
                missing.display()
            )
        );
    }

    #[test]
    fn silent_client_is_closed_after_the_idle_timeout() {
        let dir = TempDir::new("idle");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        server.idle_timeout = Duration::from_millis(200);
        let path = dir.sock();
        let started = Instant::now();
        let client = std::thread::spawn(move || {
            let s = UnixStream::connect(&path).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            BufReader::new(s)
                .lines()
                .map(|l| l.unwrap())
                .collect::<Vec<_>>()
        });
        let lines = serve(&mut server, client, echo_ok);
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(error_of(&lines[0]), "timeout: no request within 0.2s");
        assert_eq!(server.client_count(), 0);
        assert_eq!(server.next_deadline(), None);
    }

    #[test]
    fn waiting_client_has_no_idle_deadline() {
        let dir = TempDir::new("waiting");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        server.idle_timeout = Duration::from_millis(50);
        let mut s = UnixStream::connect(dir.sock()).unwrap();
        s.write_all(b"{\"v\":1,\"cmd\":\"stop\",\"all\":true}\n")
            .unwrap();
        let mut ps = PollSet::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        let id = loop {
            assert!(Instant::now() < deadline);
            if let Some((id, _)) = turn(&mut server, &mut ps).pop() {
                break id;
            }
        };
        assert_eq!(server.next_deadline(), None);
        // Well past the idle timeout the request is still in our hands.
        let later = Instant::now() + Duration::from_secs(1);
        server.on_time(later);
        assert_eq!(server.client_count(), 1);
        server.reply(id, &Reply::ok());
        // The next turn closes the connection: the reply went out.
        turn(&mut server, &mut ps);
        assert_eq!(server.client_count(), 0);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let lines: Vec<String> = BufReader::new(s).lines().map(|l| l.unwrap()).collect();
        assert_eq!(lines, vec![r#"{"ok":true}"#]);
    }

    #[test]
    fn subscriber_gets_reply_then_broadcasts() {
        let dir = TempDir::new("sub");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        let mut s = UnixStream::connect(dir.sock()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"{\"v\":1,\"cmd\":\"events\",\"follow\":true}\n")
            .unwrap();
        let mut ps = PollSet::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        let id = loop {
            assert!(Instant::now() < deadline);
            if let Some((id, req)) = turn(&mut server, &mut ps).pop() {
                assert_eq!(req, Request::Events { v: 1, follow: true });
                break id;
            }
        };
        // Subscribe first: an event before the reply goes out after it.
        server.subscribe(id);
        server.broadcast(r#"{"event":"early"}"#);
        server.reply(id, &Reply::ok());
        server.broadcast("{\"event\":\"started\"}\n");
        for _ in 0..3 {
            turn(&mut server, &mut ps);
        }
        assert_eq!(server.client_count(), 1, "subscriber stays open");
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut lines = Vec::new();
        for _ in 0..3 {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            lines.push(l);
        }
        assert_eq!(
            lines,
            vec![
                "{\"ok\":true}\n",
                "{\"event\":\"early\"}\n",
                "{\"event\":\"started\"}\n"
            ]
        );
        // The subscriber hangs up: the server notices and forgets it.
        drop(r);
        drop(s);
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.client_count() > 0 {
            assert!(Instant::now() < deadline, "hung-up subscriber kept");
            turn(&mut server, &mut ps);
        }
    }

    #[test]
    fn subscriber_that_does_not_read_is_dropped() {
        let dir = TempDir::new("slow");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        let mut s = UnixStream::connect(dir.sock()).unwrap();
        s.write_all(b"{\"v\":1,\"cmd\":\"events\",\"follow\":true}\n")
            .unwrap();
        let mut ps = PollSet::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        let id = loop {
            assert!(Instant::now() < deadline);
            if let Some((id, _)) = turn(&mut server, &mut ps).pop() {
                break id;
            }
        };
        server.reply(id, &Reply::ok());
        server.subscribe(id);
        turn(&mut server, &mut ps);
        let line = "x".repeat(1023);
        let mut sent = 0;
        while server.client_count() == 1 {
            server.broadcast(&line);
            sent += 1024;
            assert!(sent < 64 << 20, "never dropped");
        }
        // Dropped once the socket buffer and 1 MiB of queue were full.
        assert!(sent > MAX_SUBSCRIBER_QUEUE);
        // Other clients are unaffected.
        let path = dir.sock();
        let client = std::thread::spawn(move || exchange(&path, b"{\"v\":1,\"cmd\":\"info\"}\n"));
        assert_eq!(serve(&mut server, client, echo_ok), vec![r#"{"ok":true}"#]);
        drop(s);
    }

    /// Not a test by itself: the client half of `other_uid_is_refused`,
    /// run as another user by re-executing this test binary.
    #[test]
    #[ignore = "helper run by other_uid_is_refused"]
    fn peer_client_helper() {
        let Some(path) = std::env::var_os("TEND_PEER_SOCK") else {
            return;
        };
        let lines = exchange(Path::new(&path), b"{\"v\":1,\"cmd\":\"status\"}\n");
        println!("REPLY:{}", lines.join("|"));
    }

    #[test]
    fn other_uid_is_refused() {
        use std::os::unix::process::CommandExt;
        // SAFETY: geteuid cannot fail and has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            println!("skipped: needs root to run a client as another uid");
            return;
        }
        let dir = TempDir::new("peer");
        let mut server = ControlServer::bind(&dir.sock()).unwrap();
        // Mode 0600 alone already keeps other users out; open it up so the
        // uid check is what refuses them.
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.sock(), std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sys::control::tests::peer_client_helper",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("TEND_PEER_SOCK", dir.sock())
            .uid(65534)
            .gid(65534)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut ps = PollSet::default();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "helper did not finish");
            let reqs = turn(&mut server, &mut ps);
            assert!(reqs.is_empty(), "request from another uid passed: {reqs:?}");
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(
                r#"REPLY:{"ok":false,"error":"permission denied: uid 65534 is not the owner"}"#
            ),
            "stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
