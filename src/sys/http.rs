//! The `--http` endpoint (SPEC §4): a tiny HTTP/1.1 responder for
//! `GET /healthz`, `GET /status` and `GET /metrics`, driven by the one poll
//! loop like the control socket.
//!
//! It owns the TCP listener, every connection and their buffers; it never
//! blocks and never reads the clock (`now` comes in). It does not know the
//! supervisor: each request that needs the status document calls the
//! caller's `doc()` (at most once per `on_poll`), and the renderers are
//! `crate::status::{json, prometheus}`.
//!
//! Every connection carries one request (`Connection: close`): read the
//! request head (at most `MAX_HEAD` bytes, else `400` and close), answer at
//! once into a per-connection buffer written on POLLOUT with
//! crate::sys::ffi::send_nosignal(MSG_NOSIGNAL) (a client that went away never raises SIGPIPE), then
//! half-close and discard what the client still sends for a short while
//! ("lingering close"), so a client that sent more than we read still gets
//! its response instead of a reset. A connection that does not finish its
//! request head within `IDLE_TIMEOUT` of being accepted, or stops taking
//! its response for as long, is closed: slow clients cost an fd and a few
//! KiB, never time. At most `MAX_CONNS` are open; beyond that new ones wait
//! in the kernel's backlog.
//!
//! # Correct order, each loop turn
//!
//! `register` (also drops finished connections) → `PollSet::wait` (with
//! `next_deadline` in the timeout) → `on_time(now)` → `on_poll(&ps, now,
//! &mut doc)`.
//!
//! # Addresses
//!
//! `bind` takes `IP:PORT` (`127.0.0.1:9100`, `[::1]:9100`), `HOST:PORT`
//! (resolved once, with the system resolver, when binding: use an IP to
//! avoid a lookup), or `:PORT`, which means every IPv4 interface
//! (`0.0.0.0:PORT`), as in Go and Prometheus exporters.

#![allow(dead_code)]

use std::fmt;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::accept::Accepted;
use crate::proto::StatusDoc;
use crate::sys::poll::{PollSet, IN, OUT};

/// The request line and headers together, at most; more is a 400.
pub const MAX_HEAD: usize = 8 * 1024;
/// A connection must deliver its request head within this long of being
/// accepted, and must keep taking its response at least this often.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// After the response, how long the input is read and discarded before
/// the close (lingering close).
pub const LINGER: Duration = Duration::from_secs(2);
/// Open connections at most; more wait in the listen backlog.
pub const MAX_CONNS: usize = 128;
/// Accepts per loop turn, so a connection storm cannot starve children's
/// output or signals; the rest wait in the backlog for the next turn.
const ACCEPT_PER_TURN: usize = 64;
/// Bytes discarded per connection per turn while lingering.
const LINGER_READ_PER_TURN: usize = 256 * 1024;

const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const JSON_TYPE: &str = "application/json";
const TEXT_TYPE: &str = "text/plain; charset=utf-8";

/// Why the HTTP listener could not be set up. `addr` is the text the user
/// gave.
#[derive(Debug)]
pub enum HttpError {
    /// Not `HOST:PORT`, `[IPV6]:PORT` or `:PORT`.
    Address { addr: String },
    /// The host name did not resolve (or to nothing).
    Resolve { addr: String, error: io::Error },
    /// socket/bind/listen failed (the error of the last address tried).
    Bind { addr: String, error: io::Error },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Address { addr } => write!(
                f,
                "cannot listen on {addr}: expected HOST:PORT like 127.0.0.1:9100, [::1]:9100 or :9100"
            ),
            HttpError::Resolve { addr, error } => write!(
                f,
                "cannot listen on {addr}: cannot resolve the host: {}",
                crate::error::os_text(error)
            ),
            HttpError::Bind { addr, error } => {
                write!(f, "cannot listen on {addr}: {}", crate::error::os_text(error))
            }
        }
    }
}

impl std::error::Error for HttpError {}

/// The socket addresses `addr` stands for, in the order to try them.
fn resolve(addr: &str) -> Result<Vec<SocketAddr>, HttpError> {
    let bad = || HttpError::Address {
        addr: addr.to_string(),
    };
    if let Some(port) = addr.strip_prefix(':') {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let port: u16 = port.parse().map_err(|_| bad())?;
        return Ok(vec![SocketAddr::from(([0, 0, 0, 0], port))]);
    }
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Ok(vec![sa]);
    }
    // HOST:PORT with a name: the port must be there and numeric, and the
    // host must not be an unbracketed IPv6 address.
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty()
        || host.contains(':')
        || port.is_empty()
        || !port.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|error| HttpError::Resolve {
            addr: addr.to_string(),
            error,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(HttpError::Resolve {
            addr: addr.to_string(),
            error: io::Error::new(io::ErrorKind::NotFound, "no address found"),
        });
    }
    Ok(addrs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the request head.
    Reading,
    /// Sending `out[sent..]`.
    Writing,
    /// Response sent and write side shut down: discard input until EOF or
    /// the linger deadline, then close.
    Lingering,
}

struct Conn {
    stream: TcpStream,
    phase: Phase,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    /// Start of the current deadline: accept time while reading, the last
    /// write progress while writing, the half-close while lingering.
    since: Instant,
    /// Index in the PollSet of the last `register`.
    idx: Option<usize>,
    /// To be dropped at the next `register`/`on_time`.
    done: bool,
}

impl Conn {
    fn deadline(&self, idle: Duration, linger: Duration) -> Instant {
        match self.phase {
            Phase::Reading | Phase::Writing => self.since + idle,
            Phase::Lingering => self.since + linger,
        }
    }

    fn respond(&mut self, bytes: Vec<u8>, now: Instant) {
        self.phase = Phase::Writing;
        self.inbuf = Vec::new();
        self.out = bytes;
        self.sent = 0;
        self.since = now;
        self.flush(now);
    }

    /// Write what the socket takes now; on completion half-close and start
    /// lingering. A send error means the client is gone.
    fn flush(&mut self, now: Instant) {
        while self.sent < self.out.len() {
            match crate::sys::ffi::send_nosignal(self.stream.as_raw_fd(), &self.out[self.sent..]) {
                Ok(0) => {
                    self.done = true;
                    return;
                }
                Ok(n) => {
                    self.sent += n;
                    self.since = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.done = true;
                    return;
                }
            }
        }
        self.out = Vec::new();
        self.sent = 0;
        // FIN after the response; the client may still be sending.
        if self.stream.shutdown(Shutdown::Write).is_err() {
            self.done = true;
            return;
        }
        self.phase = Phase::Lingering;
        self.since = now;
    }

    /// Read and drop input while lingering; done at EOF or error.
    fn discard(&mut self) {
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0;
        while total < LINGER_READ_PER_TURN {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.done = true;
                    return;
                }
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.done = true;
                    return;
                }
            }
        }
    }
}

/// The caller's status document, fetched at most once per `on_poll`.
struct DocCache<'a> {
    make: &'a mut dyn FnMut() -> StatusDoc,
    doc: Option<StatusDoc>,
}

impl DocCache<'_> {
    fn get(&mut self) -> &StatusDoc {
        let make = &mut self.make;
        self.doc.get_or_insert_with(make)
    }
}

pub struct HttpServer {
    listener: TcpListener,
    addr: SocketAddr,
    conns: Vec<Conn>,
    listener_idx: Option<usize>,
    accept_paused_until: Option<Instant>,
    warning: Option<String>,
    pub(crate) idle_timeout: Duration,
    pub(crate) linger: Duration,
    pub(crate) max_conns: usize,
}

impl HttpServer {
    /// Listen on `addr` (see "Addresses" above), non-blocking and
    /// close-on-exec. Tries each resolved address until one binds.
    pub fn bind(addr: &str) -> Result<HttpServer, HttpError> {
        let mut last = None;
        for sa in resolve(addr)? {
            match TcpListener::bind(sa) {
                Ok(l) => {
                    let bound = l.set_nonblocking(true).and_then(|()| l.local_addr());
                    match bound {
                        Ok(local) => {
                            return Ok(HttpServer {
                                listener: l,
                                addr: local,
                                conns: Vec::new(),
                                listener_idx: None,
                                accept_paused_until: None,
                                warning: None,
                                idle_timeout: IDLE_TIMEOUT,
                                linger: LINGER,
                                max_conns: MAX_CONNS,
                            })
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(e) => last = Some(e),
            }
        }
        Err(HttpError::Bind {
            addr: addr.to_string(),
            error: last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable)),
        })
    }

    /// The address actually bound (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Add the listener (unless paused or full) and every connection to
    /// `ps`. Finished connections are closed first.
    pub fn register(&mut self, ps: &mut PollSet) {
        self.conns.retain(|c| !c.done);
        let accepting = self.accept_paused_until.is_none() && self.conns.len() < self.max_conns;
        self.listener_idx = accepting.then(|| ps.add(self.listener.as_raw_fd(), IN));
        for c in &mut self.conns {
            let ev = match c.phase {
                Phase::Reading | Phase::Lingering => IN,
                Phase::Writing => OUT,
            };
            c.idx = Some(ps.add(c.stream.as_raw_fd(), ev));
        }
    }

    /// Handle what the last `wait` reported: accept, read request heads,
    /// answer complete ones at once, write queued output, discard input of
    /// answered connections. `doc` is called only for a route that needs
    /// the status document, and at most once per call.
    pub fn on_poll(&mut self, ps: &PollSet, now: Instant, doc: &mut dyn FnMut() -> StatusDoc) {
        let mut cache = DocCache {
            make: doc,
            doc: None,
        };
        for c in &mut self.conns {
            let Some(idx) = c.idx.take() else { continue };
            match c.phase {
                Phase::Reading if ps.readable(idx) => read_request(c, now, &mut cache),
                Phase::Writing if ps.writable(idx) => c.flush(now),
                Phase::Lingering if ps.readable(idx) => c.discard(),
                Phase::Reading | Phase::Writing | Phase::Lingering => {}
            }
        }
        if let Some(idx) = self.listener_idx.take() {
            if ps.readable(idx) {
                self.accept_all(now, &mut cache);
            }
        }
    }

    fn accept_all(&mut self, now: Instant, cache: &mut DocCache<'_>) {
        for _ in 0..ACCEPT_PER_TURN {
            if self.conns.iter().filter(|c| !c.done).count() >= self.max_conns {
                return;
            }
            let stream = match super::accept::classify(self.listener.accept()) {
                Accepted::Stream(s) => s,
                Accepted::Retry => continue,
                Accepted::Empty => return,
                Accepted::Failed(e) => {
                    self.accept_paused_until = Some(now + super::accept::PAUSE);
                    self.warning = Some(format!(
                        "http: cannot accept a connection: {}",
                        crate::error::os_text(&e)
                    ));
                    return;
                }
            };
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let mut c = Conn {
                stream,
                phase: Phase::Reading,
                inbuf: Vec::new(),
                out: Vec::new(),
                sent: 0,
                since: now,
                idx: None,
                done: false,
            };
            // The request often arrives with the connection: answer it now
            // rather than a loop turn later.
            read_request(&mut c, now, cache);
            if !c.done {
                self.conns.push(c);
            }
        }
    }

    /// The earliest connection deadline, or the end of an accept pause.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns
            .iter()
            .filter(|c| !c.done)
            .map(|c| c.deadline(self.idle_timeout, self.linger))
            .chain(self.accept_paused_until)
            .min()
    }

    /// Close connections past their deadline (one that never finished its
    /// request gets a best-effort `408`) and end an accept pause that is due.
    pub fn on_time(&mut self, now: Instant) {
        if self.accept_paused_until.is_some_and(|t| t <= now) {
            self.accept_paused_until = None;
        }
        let (idle, linger) = (self.idle_timeout, self.linger);
        self.conns.retain(|c| {
            if c.done {
                return false;
            }
            if c.deadline(idle, linger) > now {
                return true;
            }
            if c.phase == Phase::Reading {
                let r = Response::text(408, "request timeout\n");
                let _ = crate::sys::ffi::send_nosignal(c.stream.as_raw_fd(), &r.encode(false));
            }
            false
        });
    }

    /// Open connections.
    pub fn conn_count(&self) -> usize {
        self.conns.iter().filter(|c| !c.done).count()
    }

    /// The last accept failure (EMFILE...), once, for tend's own log.
    pub fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }
}

/// Read the request head as far as the socket allows (never more than
/// `MAX_HEAD + 1` bytes) and answer it once it is complete or bad.
fn read_request(c: &mut Conn, now: Instant, cache: &mut DocCache<'_>) {
    let mut buf = [0u8; 4096];
    loop {
        let room = (MAX_HEAD + 1).saturating_sub(c.inbuf.len()).min(buf.len());
        if room == 0 {
            break;
        }
        match c.stream.read(&mut buf[..room]) {
            Ok(0) => {
                // The client half-closed. Nothing sent: a probe of the
                // port, close quietly. Else answer what we have.
                if c.inbuf.iter().all(|b| b.is_ascii_whitespace()) {
                    c.done = true;
                    return;
                }
                let parsed = match parse_head(&c.inbuf) {
                    Parsed::Need => Parsed::Bad("incomplete request"),
                    p => p,
                };
                let bytes = answer(parsed, cache);
                c.respond(bytes, now);
                return;
            }
            Ok(n) => {
                c.inbuf.extend_from_slice(&buf[..n]);
                if !matches!(parse_head(&c.inbuf), Parsed::Need) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                c.done = true;
                return;
            }
        }
    }
    match parse_head(&c.inbuf) {
        Parsed::Need => {}
        parsed => {
            let bytes = answer(parsed, cache);
            c.respond(bytes, now);
        }
    }
}

/// What a request head says so far.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// Not complete yet, nothing wrong so far.
    Need,
    Request {
        method: String,
        /// The path, without query or fragment.
        path: String,
    },
    /// 400 with this reason.
    Bad(&'static str),
    /// 505: a well-formed request line of another HTTP version.
    Version,
}

/// tchar of RFC 9110 §5.6.2: what methods and header names are made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parse a request head: request line, headers, blank line. Leading empty
/// lines are skipped (RFC 9112 §2.2). A request line with bytes no request
/// line can hold is refused before it is complete, so a TLS handshake or
/// binary junk gets its 400 at once instead of at the idle deadline.
fn parse_head(buf: &[u8]) -> Parsed {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let rest = &buf[start..];
    let line_end = rest.iter().position(|&b| b == b'\n');
    let line = &rest[..line_end.unwrap_or(rest.len())];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().any(|&b| !(b' '..=b'~').contains(&b)) {
        return Parsed::Bad("malformed request line");
    }
    let too_big = Parsed::Bad("request head larger than 8 KiB");
    let Some(line_end) = line_end else {
        return if buf.len() > MAX_HEAD {
            too_big
        } else {
            Parsed::Need
        };
    };
    // The head ends at the first empty line after the request line.
    let mut pos = line_end + 1;
    let mut headers = Vec::new();
    loop {
        let Some(n) = rest[pos..].iter().position(|&b| b == b'\n') else {
            return if buf.len() > MAX_HEAD {
                too_big
            } else {
                Parsed::Need
            };
        };
        let h = &rest[pos..pos + n];
        let h = h.strip_suffix(b"\r").unwrap_or(h);
        pos += n + 1;
        if start + pos > MAX_HEAD {
            return too_big;
        }
        if h.is_empty() {
            break;
        }
        headers.push(h);
    }
    for h in headers {
        let name_len = h.iter().position(|&b| b == b':');
        match name_len {
            Some(n) if n > 0 && h[..n].iter().all(|&b| is_tchar(b)) => {}
            _ => return Parsed::Bad("malformed header line"),
        }
    }
    parse_request_line(line)
}

fn parse_request_line(line: &[u8]) -> Parsed {
    let bad = Parsed::Bad("malformed request line");
    // Checked printable ASCII by the caller.
    let Ok(line) = std::str::from_utf8(line) else {
        return bad;
    };
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return bad;
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return bad;
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => {}
        v => {
            let b = v.as_bytes();
            let well_formed = b.len() == 8
                && v.starts_with("HTTP/")
                && b[5].is_ascii_digit()
                && b[6] == b'.'
                && b[7].is_ascii_digit();
            return if well_formed { Parsed::Version } else { bad };
        }
    }
    let path = if target.starts_with('/') {
        target
    } else if let Some(after) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        // absolute-form (what a proxy would send): keep the path.
        after.find('/').map_or("/", |i| &after[i..])
    } else if target == "*" {
        target
    } else {
        return bad;
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    Parsed::Request {
        method: method.to_string(),
        path: path.to_string(),
    }
}

/// One response, before encoding.
#[derive(Debug, PartialEq, Eq)]
struct Response {
    status: u16,
    content_type: &'static str,
    body: String,
    /// Add `Allow: GET, HEAD` (a 405).
    allow: bool,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT_TYPE,
            body: body.into(),
            allow: false,
        }
    }

    /// Status line, headers and (unless `head_only`) the body. The
    /// `Content-Length` is the body's also for HEAD.
    fn encode(&self, head_only: bool) -> Vec<u8> {
        let mut s = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if self.allow {
            s.push_str("Allow: GET, HEAD\r\n");
        }
        s.push_str("\r\n");
        if !head_only {
            s.push_str(&self.body);
        }
        s.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// The bytes to send for a parsed (complete or bad) head.
fn answer(parsed: Parsed, cache: &mut DocCache<'_>) -> Vec<u8> {
    match parsed {
        Parsed::Request { method, path } => {
            let head_only = method == "HEAD";
            route(&method, &path, cache).encode(head_only)
        }
        Parsed::Bad(why) => Response::text(400, format!("bad request: {why}\n")).encode(false),
        Parsed::Version => Response::text(505, "only HTTP/1.x is served\n").encode(false),
        // Not called with an incomplete head; answer it as bad rather
        // than panic.
        Parsed::Need => Response::text(400, "bad request: incomplete request\n").encode(false),
    }
}

/// The routes. A known path with a method other than GET or HEAD is a
/// 405; an unknown path is a 404 whatever the method.
fn route(method: &str, path: &str, cache: &mut DocCache<'_>) -> Response {
    let known = matches!(path, "/healthz" | "/status" | "/metrics");
    if !known {
        return Response::text(404, "not found\n");
    }
    if method != "GET" && method != "HEAD" {
        let mut r = Response::text(405, "method not allowed\n");
        r.allow = true;
        return r;
    }
    let doc = cache.get();
    match path {
        "/healthz" => healthz(doc),
        "/status" => Response {
            status: 200,
            content_type: JSON_TYPE,
            body: crate::status::json(doc),
            allow: false,
        },
        _ => Response {
            status: 200,
            content_type: METRICS_TYPE,
            body: crate::status::prometheus(doc),
            allow: false,
        },
    }
}

/// 200 `ok` when every process is ready, else 503 naming the others.
fn healthz(doc: &StatusDoc) -> Response {
    let not_ready: Vec<&str> = doc
        .processes
        .iter()
        .filter(|p| !p.ready)
        .map(|p| p.name.as_str())
        .collect();
    if not_ready.is_empty() {
        Response::text(200, "ok\n")
    } else {
        Response::text(503, format!("not ready: {}\n", not_ready.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ProcStatus, TendInfo};
    use std::io::Write;
    use std::thread::JoinHandle;

    fn proc_(name: &str, ready: bool) -> ProcStatus {
        ProcStatus {
            state: "running".to_string(),
            ready,
            pid: Some(4242),
            uptime_ms: 1500,
            starts: 2,
            restarts: 1,
            last_start: Some("2026-01-02T03:04:05Z".into()),
            ..crate::testutil::proc_status(name)
        }
    }

    fn doc(procs: &[(&str, bool)]) -> StatusDoc {
        StatusDoc {
            tend: TendInfo {
                pid: 7,
                uptime_ms: 2000,
                version: "0.1.0".into(),
            },
            processes: procs.iter().map(|&(n, r)| proc_(n, r)).collect(),
            children: Vec::new(),
        }
    }

    fn server() -> HttpServer {
        HttpServer::bind("127.0.0.1:0").unwrap()
    }

    /// One loop turn, as the event loop will run it.
    fn turn(s: &mut HttpServer, ps: &mut PollSet, d: &StatusDoc, calls: &mut usize) {
        ps.clear();
        s.register(ps);
        let now = Instant::now();
        let timeout = s.next_deadline().map_or(Duration::from_millis(50), |t| {
            t.saturating_duration_since(now)
                .min(Duration::from_millis(50))
        });
        ps.wait(Some(timeout)).unwrap();
        let now = Instant::now();
        s.on_time(now);
        s.on_poll(ps, now, &mut || {
            *calls += 1;
            d.clone()
        });
    }

    /// Run the server until every client finishes; their results.
    fn serve<T: Send + 'static>(
        s: &mut HttpServer,
        d: &StatusDoc,
        clients: Vec<JoinHandle<T>>,
    ) -> Vec<T> {
        let mut ps = PollSet::default();
        let mut calls = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !clients.iter().all(|c| c.is_finished()) {
            assert!(Instant::now() < deadline, "clients did not finish");
            turn(s, &mut ps, d, &mut calls);
        }
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    }

    /// Send `bytes`, read the whole response until EOF.
    fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(bytes).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn client(addr: SocketAddr, req: &str) -> JoinHandle<String> {
        let req = req.to_string();
        std::thread::spawn(move || exchange(addr, req.as_bytes()))
    }

    fn get(path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n")
    }

    /// (status, headers lowercased, body).
    fn split(resp: &str) -> (u16, Vec<(String, String)>, String) {
        let (head, body) = resp.split_once("\r\n\r\n").expect(resp);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status = status_line[9..12].parse().unwrap();
        let headers = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        (status, headers, body.to_string())
    }

    fn header<'a>(h: &'a [(String, String)], name: &str) -> &'a str {
        &h.iter().find(|(k, _)| k == name).unwrap().1
    }

    fn one(s: &mut HttpServer, d: &StatusDoc, req: &str) -> (u16, Vec<(String, String)>, String) {
        let addr = s.local_addr();
        let resp = serve(s, d, vec![client(addr, req)]).pop().unwrap();
        let (status, headers, body) = split(&resp);
        assert_eq!(header(&headers, "connection"), "close", "{resp}");
        assert_eq!(
            header(&headers, "content-length"),
            body.len().to_string(),
            "{resp}"
        );
        (status, headers, body)
    }

    #[test]
    fn healthz_is_ok_when_all_ready() {
        let mut s = server();
        let (st, h, body) = one(
            &mut s,
            &doc(&[("web", true), ("db", true)]),
            &get("/healthz"),
        );
        assert_eq!((st, body.as_str()), (200, "ok\n"));
        assert_eq!(header(&h, "content-type"), TEXT_TYPE);
    }

    #[test]
    fn healthz_is_503_naming_the_unready() {
        let mut s = server();
        let d = doc(&[("web", false), ("db", true), ("worker", false)]);
        let (st, _, body) = one(&mut s, &d, &get("/healthz"));
        assert_eq!((st, body.as_str()), (503, "not ready: web, worker\n"));
    }

    #[test]
    fn status_is_the_json_document() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        let (st, h, body) = one(&mut s, &d, &get("/status?pretty=1"));
        assert_eq!(st, 200);
        assert_eq!(header(&h, "content-type"), "application/json");
        assert_eq!(body, crate::status::json(&d));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["processes"][0]["name"], "web");
    }

    #[test]
    fn metrics_is_prometheus_text() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        let (st, h, body) = one(&mut s, &d, &get("/metrics"));
        assert_eq!(st, 200);
        assert_eq!(
            header(&h, "content-type"),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(body, crate::status::prometheus(&d));
        for m in [
            "tend_up 1",
            "tend_process_up{name=\"web\"} 1",
            "tend_process_ready{name=\"web\"} 1",
            "tend_process_restarts_total{name=\"web\"} 1",
            "tend_process_uptime_seconds{name=\"web\"} 1.5",
            "# TYPE tend_process_last_exit_code gauge",
        ] {
            assert!(body.lines().any(|l| l == m), "{m} missing:\n{body}");
        }
    }

    #[test]
    fn head_has_headers_and_no_body() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        let addr = s.local_addr();
        let req = "HEAD /status HTTP/1.1\r\nHost: x\r\n\r\n";
        let resp = serve(&mut s, &d, vec![client(addr, req)]).pop().unwrap();
        let (st, h, body) = split(&resp);
        assert_eq!(st, 200);
        assert_eq!(body, "");
        assert_eq!(
            header(&h, "content-length"),
            crate::status::json(&d).len().to_string()
        );
    }

    #[test]
    fn http_1_0_and_bare_lf_are_served() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        let (st, _, body) = one(&mut s, &d, "GET /healthz HTTP/1.0\n\n");
        assert_eq!((st, body.as_str()), (200, "ok\n"));
        let (st, _, _) = one(&mut s, &d, "\r\nGET http://h:1/healthz HTTP/1.1\r\n\r\n");
        assert_eq!(st, 200);
    }

    #[test]
    fn unknown_path_is_404_and_does_not_build_the_doc() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        let addr = s.local_addr();
        let clients = vec![
            client(addr, &get("/")),
            client(addr, &get("/nope")),
            client(addr, "POST /nope HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
        ];
        let mut ps = PollSet::default();
        let mut calls = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !clients.iter().all(|c| c.is_finished()) {
            assert!(Instant::now() < deadline);
            turn(&mut s, &mut ps, &d, &mut calls);
        }
        for c in clients {
            let (st, _, body) = split(&c.join().unwrap());
            assert_eq!((st, body.as_str()), (404, "not found\n"));
        }
        assert_eq!(calls, 0, "doc() called for a 404");
    }

    #[test]
    fn other_methods_are_405_with_allow() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        for m in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
            let req = format!("{m} /status HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
            let (st, h, body) = one(&mut s, &d, &req);
            assert_eq!((st, body.as_str()), (405, "method not allowed\n"), "{m}");
            assert_eq!(header(&h, "allow"), "GET, HEAD");
        }
    }

    #[test]
    fn garbage_is_400_and_closed() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        for req in [
            "hello\r\n\r\n",
            "GET /status\r\n\r\n",
            "GET  /status HTTP/1.1\r\n\r\n",
            "GET status HTTP/1.1\r\n\r\n",
            "GET /status HTTP/1.1 extra\r\n\r\n",
            "GE(T /status HTTP/1.1\r\n\r\n",
            "GET /status HTTP/1.1\r\nno colon here\r\n\r\n",
            "GET /status HTTP/1.1\r\n folded: x\r\n\r\n",
            "GET /status FTP/1.1\r\n\r\n",
            // A TLS ClientHello starts like this: refused at once.
            "\u{16}\u{3}\u{1}\u{2}\u{0}",
        ] {
            let (st, _, body) = one(&mut s, &d, req);
            assert_eq!(st, 400, "{req:?}");
            assert!(body.starts_with("bad request: "), "{req:?}: {body}");
        }
        let (st, _, _) = one(&mut s, &d, "GET /status HTTP/2.0\r\n\r\n");
        assert_eq!(st, 505);
    }

    #[test]
    fn half_closed_before_the_head_ends_is_400() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        let addr = s.local_addr();
        let c = std::thread::spawn(move || {
            let mut t = TcpStream::connect(addr).unwrap();
            t.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            t.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n").unwrap();
            t.shutdown(Shutdown::Write).unwrap();
            let mut out = String::new();
            t.read_to_string(&mut out).unwrap();
            out
        });
        let (st, _, body) = split(&serve(&mut s, &d, vec![c]).pop().unwrap());
        assert_eq!(
            (st, body.as_str()),
            (400, "bad request: incomplete request\n")
        );
    }

    #[test]
    fn a_megabyte_of_headers_is_400_and_the_server_keeps_serving() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        let addr = s.local_addr();
        let big = std::thread::spawn(move || {
            let mut req = b"GET /status HTTP/1.1\r\n".to_vec();
            while req.len() < 1 << 20 {
                req.extend_from_slice(
                    b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
                );
            }
            req.extend_from_slice(b"\r\n");
            exchange(addr, &req)
        });
        let small = client(addr, &get("/healthz"));
        let mut out = serve(&mut s, &d, vec![big, small]);
        let (st, _, body) = split(&out.remove(0));
        assert_eq!(st, 400);
        assert_eq!(body, "bad request: request head larger than 8 KiB\n");
        let (st, _, _) = split(&out.remove(0));
        assert_eq!(st, 200);
        // And after it, too.
        let (st, _, _) = one(&mut s, &d, &get("/healthz"));
        assert_eq!(st, 200);
    }

    #[test]
    fn hundred_concurrent_clients_are_all_answered() {
        let mut s = server();
        let d = doc(&[("web", true), ("db", false)]);
        let addr = s.local_addr();
        let paths = ["/healthz", "/status", "/metrics", "/nope"];
        let clients: Vec<_> = (0..100)
            .map(|i| client(addr, &get(paths[i % paths.len()])))
            .collect();
        let out = serve(&mut s, &d, clients);
        assert_eq!(out.len(), 100);
        for (i, resp) in out.iter().enumerate() {
            let (st, _, _) = split(resp);
            let want = [503, 200, 200, 404][i % paths.len()];
            assert_eq!(st, want, "client {i}: {resp}");
        }
    }

    #[test]
    fn idle_client_is_closed() {
        let mut s = server();
        s.idle_timeout = Duration::from_millis(200);
        let d = doc(&[("web", true)]);
        let addr = s.local_addr();
        let started = Instant::now();
        // Connects, sends half a request line, then waits for the close.
        let idle = std::thread::spawn(move || exchange(addr, b"GET /sta"));
        let resp = serve(&mut s, &d, vec![idle]).pop().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200));
        let (st, _, _) = split(&resp);
        assert_eq!(st, 408);
        let mut ps = PollSet::default();
        turn(&mut s, &mut ps, &d, &mut 0);
        assert_eq!(s.conn_count(), 0);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn silent_connection_is_closed_without_a_request() {
        let mut s = server();
        s.idle_timeout = Duration::from_millis(100);
        let d = doc(&[]);
        let addr = s.local_addr();
        let silent = std::thread::spawn(move || exchange(addr, b""));
        let resp = serve(&mut s, &d, vec![silent]).pop().unwrap();
        assert!(resp.starts_with("HTTP/1.1 408 "), "{resp}");
    }

    #[test]
    fn connections_beyond_the_limit_wait_in_the_backlog() {
        let mut s = server();
        s.max_conns = 2;
        s.idle_timeout = Duration::from_millis(300);
        let d = doc(&[("web", true)]);
        let addr = s.local_addr();
        // Two silent clients take both slots until their idle deadline;
        // the third is answered after that, not refused.
        let a = std::thread::spawn(move || exchange(addr, b""));
        let b = std::thread::spawn(move || exchange(addr, b""));
        let mut ps = PollSet::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.conn_count() < 2 {
            assert!(Instant::now() < deadline);
            turn(&mut s, &mut ps, &d, &mut 0);
        }
        let c = client(addr, &get("/healthz"));
        let out = serve(&mut s, &d, vec![a, b, c]);
        let (st, _, _) = split(&out[2]);
        assert_eq!(st, 200);
    }

    #[test]
    fn client_gone_before_the_response_is_forgotten() {
        let mut s = server();
        let d = doc(&[("web", true)]);
        let addr = s.local_addr();
        let c = std::thread::spawn(move || {
            let mut t = TcpStream::connect(addr).unwrap();
            t.write_all(get("/metrics").as_bytes()).unwrap();
        });
        serve(&mut s, &d, vec![c]);
        let mut ps = PollSet::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.conn_count() > 0 {
            assert!(Instant::now() < deadline, "connection kept");
            turn(&mut s, &mut ps, &d, &mut 0);
        }
    }

    #[test]
    fn doc_is_built_once_per_turn() {
        let d = doc(&[("web", true)]);
        let mut calls = 0;
        let mut make = || {
            calls += 1;
            d.clone()
        };
        let mut cache = DocCache {
            make: &mut make,
            doc: None,
        };
        for path in ["/healthz", "/status", "/metrics"] {
            assert_eq!(route("GET", path, &mut cache).status, 200);
        }
        drop(cache);
        assert_eq!(calls, 1);
    }

    #[test]
    fn parse_head_cases() {
        let req = |m: &str, p: &str| Parsed::Request {
            method: m.into(),
            path: p.into(),
        };
        let cases: &[(&[u8], Parsed)] = &[
            (b"", Parsed::Need),
            (b"GET /x HTTP/1.1", Parsed::Need),
            (b"GET /x HTTP/1.1\r\nHost: a\r\n", Parsed::Need),
            (b"GET /x HTTP/1.1\r\n\r\n", req("GET", "/x")),
            (b"GET /x?y=1#z HTTP/1.1\r\n\r\n", req("GET", "/x")),
            (
                b"HEAD http://h/metrics HTTP/1.0\n\n",
                req("HEAD", "/metrics"),
            ),
            (b"GET http://h HTTP/1.1\r\n\r\n", req("GET", "/")),
            (b"OPTIONS * HTTP/1.1\r\n\r\n", req("OPTIONS", "*")),
            (b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", req("GET", "/")),
            (b"GET /x HTTP/1.1\r\nA: b\r\nC:\r\n\r\n", req("GET", "/x")),
            (b"GET /x HTTP/3.0\r\n\r\n", Parsed::Version),
            (b"\x16\x03\x01", Parsed::Bad("malformed request line")),
            (b"GET /\xff", Parsed::Bad("malformed request line")),
            (
                b"GET /x\tHTTP/1.1\r\n\r\n",
                Parsed::Bad("malformed request line"),
            ),
            (
                b"GET /x HTTP/1.1\r\n: v\r\n\r\n",
                Parsed::Bad("malformed header line"),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                &parse_head(input),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let mut long = b"GET /x HTTP/1.1\r\n".to_vec();
        long.resize(MAX_HEAD + 1, b'a');
        assert_eq!(
            parse_head(&long),
            Parsed::Bad("request head larger than 8 KiB")
        );
        let mut fits = b"GET /x HTTP/1.1\r\nA: ".to_vec();
        fits.resize(MAX_HEAD - 4, b'a');
        fits.extend_from_slice(b"\r\n\r\n");
        assert_eq!(fits.len(), MAX_HEAD);
        assert_eq!(parse_head(&fits), req("GET", "/x"));
        let mut line = vec![b'G'; MAX_HEAD + 1];
        line[1] = b' ';
        assert_eq!(
            parse_head(&line),
            Parsed::Bad("request head larger than 8 KiB")
        );
    }

    #[test]
    fn bind_errors_name_the_address() {
        let s = server();
        let taken = s.local_addr().to_string();
        let e = HttpServer::bind(&taken).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!("cannot listen on {taken}: Address already in use")
        );
        for bad in [
            "9100",
            "127.0.0.1",
            ":",
            ":x",
            "::1:9100",
            "host:",
            "127.0.0.1:99999",
        ] {
            let e = HttpServer::bind(bad).err().unwrap();
            assert!(matches!(e, HttpError::Address { .. }), "{bad}: {e}");
            assert_eq!(
                e.to_string(),
                format!("cannot listen on {bad}: expected HOST:PORT like 127.0.0.1:9100, [::1]:9100 or :9100")
            );
        }
    }

    #[test]
    fn address_forms() {
        assert_eq!(
            resolve(":9100").unwrap(),
            vec!["0.0.0.0:9100".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("[::1]:9100").unwrap(),
            vec!["[::1]:9100".parse::<SocketAddr>().unwrap()]
        );
        assert!(resolve("localhost:9100")
            .unwrap()
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 9100));
        let s = HttpServer::bind(":0").unwrap();
        assert!(s.local_addr().ip().is_unspecified());
        assert_ne!(s.local_addr().port(), 0);
    }
}
