//! The http probe: connect (via the tcp `Connector`), send one
//! `GET path HTTP/1.1` with `Connection: close`, read only the status
//! line, close. Success is a status of 200–399.
//!
//! All I/O is non-blocking and resumable: a partial write continues on the
//! next POLLOUT, a partial status line on the next POLLIN. The response is
//! read into a bounded buffer (4 KiB): a status line longer than that is a
//! malformed response, not an allocation. Headers and body are never read.
//! No TLS, no redirects followed (a 3xx is a success, like Kubernetes).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;

use super::tcp::{Conn, Connector};
use super::{fmt_addr, os_text, Outcome, Step};
use crate::sys::poll::{self, PollSet};

/// The most of the response we look at for a status line.
const MAX_STATUS_LINE: usize = 4096;
/// How much of a malformed response goes into the failure message.
const SHOW_MALFORMED: usize = 64;

enum Phase {
    Connecting(Connector),
    /// Sending `request[written..]`.
    Writing(TcpStream, SocketAddr),
    Reading(TcpStream, SocketAddr),
    /// Only between two phases (and after the end): owns nothing.
    Closed,
}

pub(crate) struct Http {
    phase: Phase,
    request: Vec<u8>,
    written: usize,
    /// The response so far, at most MAX_STATUS_LINE bytes.
    buf: Vec<u8>,
    idx: Option<usize>,
}

impl Http {
    pub(crate) fn start(addrs: &[SocketAddr], host: &str, port: u16, path: &str) -> (Http, Step) {
        let (conn, c) = Connector::start(addrs);
        let mut h = Http {
            phase: Phase::Connecting(conn),
            request: request(host, port, path),
            written: 0,
            buf: Vec::new(),
            idx: None,
        };
        let step = h.after_connect(c);
        (h, step)
    }

    pub(crate) fn register(&mut self, ps: &mut PollSet) {
        self.idx = match &mut self.phase {
            Phase::Connecting(c) => {
                c.register(ps);
                None
            }
            Phase::Writing(s, _) => Some(ps.add(s.as_raw_fd(), poll::OUT)),
            Phase::Reading(s, _) => Some(ps.add(s.as_raw_fd(), poll::IN)),
            Phase::Closed => None,
        };
    }

    pub(crate) fn on_poll(&mut self, ps: &PollSet) -> Step {
        let idx = self.idx.take();
        match &mut self.phase {
            Phase::Connecting(c) => {
                let c = c.on_poll(ps);
                self.after_connect(c)
            }
            Phase::Writing(..) => match idx {
                Some(i) if ps.writable(i) => self.write(),
                _ => Step::Pending,
            },
            Phase::Reading(..) => match idx {
                Some(i) if ps.readable(i) => self.read(),
                _ => Step::Pending,
            },
            Phase::Closed => Step::Pending,
        }
    }

    fn after_connect(&mut self, c: Conn) -> Step {
        match c {
            Conn::Pending => Step::Pending,
            Conn::Failed(msg) => Step::Done(Outcome::Failure(msg)),
            Conn::Connected(s, addr) => {
                // A fresh connection is writable: try at once, no extra turn.
                self.phase = Phase::Writing(s, addr);
                self.write()
            }
        }
    }

    fn write(&mut self) -> Step {
        let Phase::Writing(s, addr) = &mut self.phase else {
            return Step::Pending;
        };
        while self.written < self.request.len() {
            match s.write(&self.request[self.written..]) {
                Ok(0) => {
                    return fail_io("write", addr, &io::ErrorKind::WriteZero.into());
                }
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return fail_io("write", addr, &e),
            }
        }
        if let Phase::Writing(s, addr) = std::mem::replace(&mut self.phase, Phase::Closed) {
            self.phase = Phase::Reading(s, addr);
        }
        // The answer may already be there (loopback): try at once.
        self.read()
    }

    fn read(&mut self) -> Step {
        let Phase::Reading(s, addr) = &mut self.phase else {
            return Step::Pending;
        };
        let mut chunk = [0u8; 1024];
        loop {
            let room = (MAX_STATUS_LINE - self.buf.len()).min(chunk.len());
            match s.read(&mut chunk[..room]) {
                Ok(0) => {
                    return Step::Done(if self.buf.is_empty() {
                        Outcome::Failure("connection closed before a response".into())
                    } else {
                        // A status line cut off by EOF without CRLF: judge
                        // what came.
                        judge(&self.buf, &self.buf)
                    });
                }
                Ok(n) => {
                    let start = self.buf.len();
                    self.buf.extend_from_slice(&chunk[..n]);
                    if let Some(nl) = self.buf[start..].iter().position(|&b| b == b'\n') {
                        let line = &self.buf[..start + nl];
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        return Step::Done(judge(line, &self.buf));
                    }
                    if self.buf.len() >= MAX_STATUS_LINE {
                        return Step::Done(malformed(&self.buf));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return fail_io("read", addr, &e),
            }
        }
    }
}

/// `GET /path HTTP/1.1` with Host, `Connection: close` and our agent.
fn request(host: &str, port: u16, path: &str) -> Vec<u8> {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let path = if path.is_empty() { "/" } else { path };
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nUser-Agent: tend/{}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// Outcome of a status line (without its line end); `raw` is the response
/// so far, shown when the line is malformed.
fn judge(line: &[u8], raw: &[u8]) -> Outcome {
    match parse_status(line) {
        Some(code) if (200..=399).contains(&code) => Outcome::Success,
        Some(code) => Outcome::Failure(format!("status {code}")),
        None => malformed(raw),
    }
}

/// The code of `HTTP/<version> <3 digits>[ <reason>]`, or None.
fn parse_status(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let version = &rest[..sp];
    if version.is_empty() || !version.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let after = &rest[sp + 1..];
    let digits = after.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if !matches!(after.get(3), None | Some(b' ')) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn malformed(raw: &[u8]) -> Outcome {
    let shown = &raw[..raw.len().min(SHOW_MALFORMED)];
    Outcome::Failure(format!("malformed response: {}", shown.escape_ascii()))
}

fn fail_io(op: &str, addr: &SocketAddr, e: &io::Error) -> Step {
    Step::Done(Outcome::Failure(format!(
        "{op} {}: {}",
        fmt_addr(addr),
        os_text(e)
    )))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::drive;
    use super::super::{Attempt, Outcome};
    use super::*;
    use crate::plan::ProbeKind;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    /// A one-connection server: reads the request head, sends `reply`
    /// (None: send nothing and hold the connection until the client
    /// closes), and hands the request it read back to the test.
    fn serve(bind: &str, reply: Option<&'static [u8]>) -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
        let l = TcpListener::bind(bind).unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = Vec::new();
            let mut b = [0u8; 512];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&b[..n]),
                }
            }
            let _ = tx.send(req);
            match reply {
                Some(r) => {
                    let _ = s.write_all(r);
                }
                None => {
                    // Hold the connection open until the prober hangs up.
                    let _ = s.read(&mut b);
                }
            }
        });
        (addr, rx)
    }

    fn kind(addr: &SocketAddr, path: &str) -> ProbeKind {
        ProbeKind::Http {
            url: format!("http://{addr}{path}"),
            host: addr.ip().to_string(),
            port: addr.port(),
            path: path.into(),
        }
    }

    fn probe(addr: SocketAddr, timeout: Duration) -> Outcome {
        let mut a = Attempt::start(&kind(&addr, "/health"), &[addr], timeout, Instant::now());
        drive(&mut a)
    }

    fn answer(reply: &'static [u8]) -> Outcome {
        let (addr, _rx) = serve("127.0.0.1:0", Some(reply));
        probe(addr, Duration::from_secs(5))
    }

    #[test]
    fn ok_200_and_the_request_sent() {
        let (addr, rx) = serve(
            "127.0.0.1:0",
            Some(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        );
        assert_eq!(probe(addr, Duration::from_secs(5)), Outcome::Success);
        let req = String::from_utf8(rx.recv().unwrap()).unwrap();
        assert_eq!(
            req,
            format!(
                "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nUser-Agent: tend/{}\r\n\r\n",
                addr.port(),
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn status_line_in_pieces() {
        // One byte per segment: the reader must resume across POLLINs.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_nodelay(true).unwrap();
            for b in b"HTTP/1.1 500 Oops\r\n" {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
            }
            let _ = s.read(&mut [0u8; 512]);
        });
        assert_eq!(
            probe(addr, Duration::from_secs(5)),
            Outcome::Failure("status 500".into())
        );
    }

    #[test]
    fn status_503_fails() {
        assert_eq!(
            answer(b"HTTP/1.1 503 Service Unavailable\r\n\r\n"),
            Outcome::Failure("status 503".into())
        );
    }

    #[test]
    fn redirect_302_is_success() {
        assert_eq!(
            answer(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n"),
            Outcome::Success
        );
    }

    #[test]
    fn status_line_without_reason_and_http10() {
        assert_eq!(answer(b"HTTP/1.0 204\r\n\r\n"), Outcome::Success);
        assert_eq!(
            answer(b"HTTP/1.1 404\n\n"),
            Outcome::Failure("status 404".into())
        );
    }

    #[test]
    fn malformed_response() {
        assert_eq!(
            answer(b"SSH-2.0-OpenSSH_9.6\r\n"),
            Outcome::Failure("malformed response: SSH-2.0-OpenSSH_9.6\\r\\n".into())
        );
    }

    #[test]
    fn endless_line_is_malformed_and_bounded() {
        static BIG: [u8; 8192] = [b'x'; 8192];
        let (addr, _rx) = serve("127.0.0.1:0", Some(&BIG));
        assert_eq!(
            probe(addr, Duration::from_secs(5)),
            Outcome::Failure(format!("malformed response: {}", "x".repeat(64)))
        );
    }

    #[test]
    fn closed_before_a_response() {
        assert_eq!(
            answer(b""),
            Outcome::Failure("connection closed before a response".into())
        );
    }

    #[test]
    fn status_cut_by_eof_still_counts() {
        assert_eq!(answer(b"HTTP/1.1 200 OK"), Outcome::Success);
    }

    #[test]
    fn silent_server_times_out() {
        let (addr, _rx) = serve("127.0.0.1:0", None);
        assert_eq!(
            probe(addr, Duration::from_millis(300)),
            Outcome::Failure("timed out after 300ms".into())
        );
    }

    #[test]
    fn refused() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert_eq!(
            probe(addr, Duration::from_secs(5)),
            Outcome::Failure(format!("connect {addr}: connection refused"))
        );
    }

    #[test]
    fn ipv6_loopback() {
        if TcpListener::bind("[::1]:0").is_err() {
            eprintln!("skipped: no IPv6 loopback here");
            return;
        }
        let (addr, rx) = serve("[::1]:0", Some(b"HTTP/1.1 200 OK\r\n\r\n"));
        assert_eq!(probe(addr, Duration::from_secs(5)), Outcome::Success);
        let req = String::from_utf8(rx.recv().unwrap()).unwrap();
        assert!(
            req.contains(&format!("\r\nHost: [::1]:{}\r\n", addr.port())),
            "{req}"
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status(b"HTTP/2 503"), Some(503));
        assert_eq!(parse_status(b"HTTP/1.1 20 OK"), None);
        assert_eq!(parse_status(b"HTTP/1.1 2000"), None);
        assert_eq!(parse_status(b"HTTP/ 200"), None);
        assert_eq!(parse_status(b"http/1.1 200"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[test]
    fn request_brackets_ipv6_and_defaults_the_path() {
        let r = String::from_utf8(request("::1", 80, "")).unwrap();
        assert!(r.starts_with("GET / HTTP/1.1\r\nHost: [::1]:80\r\n"), "{r}");
    }
}
