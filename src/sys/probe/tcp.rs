//! The tcp probe (success = a connection is established) and the
//! non-blocking connector it shares with the http probe.
//!
//! `Connector` walks the pre-resolved addresses in order: a non-blocking
//! `socket` + `connect` (EINPROGRESS), POLLOUT, then `SO_ERROR` says how
//! it went; a failed address moves on to the next one. It never blocks
//! and never resolves names (see `resolve`). The three libc calls it needs
//! (socket, connect, getsockopt) are wrapped at the bottom, each with its
//! SAFETY comment; everything after the connect is std (`TcpStream`).

use std::io;
use std::mem;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::{fmt_addr, os_text, Outcome, Step};
use crate::sys::poll::{self, PollSet};

/// Where a connector stands after being advanced.
pub(crate) enum Conn {
    Pending,
    /// Connected; the stream is non-blocking.
    Connected(TcpStream, SocketAddr),
    /// Every address failed: `connect 127.0.0.1:3000: connection refused`
    /// (one `; `-separated entry per address tried).
    Failed(String),
}

pub(crate) struct Connector {
    addrs: Vec<SocketAddr>,
    /// Index in `addrs` of the next address to try.
    next: usize,
    /// The socket whose connect is in progress, and its address.
    current: Option<(OwnedFd, SocketAddr)>,
    errors: Vec<String>,
    /// PollSet index of `current`, valid for one wait only.
    idx: Option<usize>,
}

impl Connector {
    pub(crate) fn start(addrs: &[SocketAddr]) -> (Connector, Conn) {
        let mut c = Connector {
            addrs: addrs.to_vec(),
            next: 0,
            current: None,
            errors: Vec::new(),
            idx: None,
        };
        let conn = c.try_next();
        (c, conn)
    }

    pub(crate) fn register(&mut self, ps: &mut PollSet) {
        self.idx = self
            .current
            .as_ref()
            .map(|(fd, _)| ps.add(fd.as_raw_fd(), poll::OUT));
    }

    pub(crate) fn on_poll(&mut self, ps: &PollSet) -> Conn {
        let Some(idx) = self.idx.take() else {
            return Conn::Pending;
        };
        if !ps.writable(idx) {
            return Conn::Pending;
        }
        let Some((fd, addr)) = self.current.take() else {
            return Conn::Pending;
        };
        match so_error(fd.as_raw_fd()) {
            Ok(None) => Conn::Connected(TcpStream::from(fd), addr),
            Ok(Some(e)) | Err(e) => {
                self.fail(&addr, &e);
                self.try_next()
            }
        }
    }

    /// Start connects until one is in progress or connected, or no
    /// address is left.
    fn try_next(&mut self) -> Conn {
        while let Some(&addr) = self.addrs.get(self.next) {
            self.next += 1;
            match connect_nonblocking(&addr) {
                Ok((fd, true)) => return Conn::Connected(TcpStream::from(fd), addr),
                Ok((fd, false)) => {
                    self.current = Some((fd, addr));
                    return Conn::Pending;
                }
                Err(e) => self.fail(&addr, &e),
            }
        }
        if self.errors.is_empty() {
            Conn::Failed("no address to connect to".to_string())
        } else {
            Conn::Failed(self.errors.join("; "))
        }
    }

    fn fail(&mut self, addr: &SocketAddr, e: &io::Error) {
        self.errors
            .push(format!("connect {}: {}", fmt_addr(addr), os_text(e)));
    }
}

/// The tcp probe: connected means healthy; the socket is closed at once.
pub(crate) struct Tcp {
    conn: Connector,
}

impl Tcp {
    pub(crate) fn start(addrs: &[SocketAddr]) -> (Tcp, Step) {
        let (conn, c) = Connector::start(addrs);
        (Tcp { conn }, step(c))
    }

    pub(crate) fn register(&mut self, ps: &mut PollSet) {
        self.conn.register(ps);
    }

    pub(crate) fn on_poll(&mut self, ps: &PollSet) -> Step {
        step(self.conn.on_poll(ps))
    }
}

fn step(c: Conn) -> Step {
    match c {
        Conn::Pending => Step::Pending,
        // Dropping the stream closes it: the probe only asks "can I connect".
        Conn::Connected(_, _) => Step::Done(Outcome::Success),
        Conn::Failed(msg) => Step::Done(Outcome::Failure(msg)),
    }
}

/// A non-blocking, close-on-exec stream socket for `addr`, with its
/// connect started. `true` when it connected at once, `false` when the
/// connect is in progress (wait for POLLOUT, then `so_error`).
fn connect_nonblocking(addr: &SocketAddr) -> io::Result<(OwnedFd, bool)> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    #[cfg(target_os = "linux")]
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    #[cfg(not(target_os = "linux"))]
    let ty = libc::SOCK_STREAM;
    // SAFETY: plain syscall with constant arguments; no memory is passed.
    let raw = unsafe { libc::socket(domain, ty, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor returned by socket() above that
    // nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    #[cfg(not(target_os = "linux"))]
    {
        crate::sys::ffi::set_nonblocking(fd.as_raw_fd())?;
        crate::sys::ffi::set_cloexec(fd.as_raw_fd())?;
    }
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` is a properly initialised sockaddr_in/sockaddr_in6
    // of `len` bytes, alive for the call; `fd` is an open socket.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr>(),
            len,
        )
    };
    if r == 0 {
        return Ok((fd, true));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // EINTR on a non-blocking connect: it goes on asynchronously, just
        // like EINPROGRESS (POSIX).
        Some(libc::EINPROGRESS) | Some(libc::EINTR) => Ok((fd, false)),
        _ => Err(e),
    }
}

/// The result of an asynchronous connect: Ok(None) when connected.
fn so_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let mut err: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err` and `len` are valid, writable and sized as the kernel
    // expects for SO_ERROR (an int).
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_in is plain old data; all-zero is valid (and
            // covers the BSD-only sin_len field).
            let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned
            // for sockaddr_in.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in>()
                    .write(sin)
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_in6 is plain old data; all-zero is valid.
            let mut sin6: libc::sockaddr_in6 = unsafe { mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_scope_id = a.scope_id();
            // SAFETY: sockaddr_storage is larger than and suitably aligned
            // for sockaddr_in6.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in6>()
                    .write(sin6)
            };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::drive;
    use super::super::{Attempt, Outcome};
    use crate::plan::ProbeKind;
    use std::net::{SocketAddr, TcpListener};
    use std::time::{Duration, Instant};

    fn kind(port: u16) -> ProbeKind {
        ProbeKind::Tcp {
            host: "127.0.0.1".into(),
            port,
        }
    }

    fn run(addrs: &[SocketAddr]) -> Outcome {
        let mut a = Attempt::start(&kind(0), addrs, Duration::from_secs(5), Instant::now());
        drive(&mut a)
    }

    #[test]
    fn connects_to_a_listener() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(run(&[l.local_addr().unwrap()]), Outcome::Success);
    }

    /// A port that was just bound and released: nothing listens there.
    fn closed_port() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    #[test]
    fn refused_names_the_address() {
        let addr = closed_port();
        assert_eq!(
            run(&[addr]),
            Outcome::Failure(format!("connect {addr}: connection refused"))
        );
    }

    #[test]
    fn falls_through_to_the_next_address() {
        let bad = closed_port();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(run(&[bad, l.local_addr().unwrap()]), Outcome::Success);
    }

    #[test]
    fn every_address_failing_lists_each() {
        let (a, b) = (closed_port(), closed_port());
        assert_eq!(
            run(&[a, b]),
            Outcome::Failure(format!(
                "connect {a}: connection refused; connect {b}: connection refused"
            ))
        );
    }

    #[test]
    fn no_address_fails_at_once() {
        let a = Attempt::start(&kind(1), &[], Duration::from_secs(5), Instant::now());
        assert_eq!(
            a.outcome(),
            Some(&Outcome::Failure("no address to connect to".into()))
        );
    }

    #[test]
    fn ipv6_loopback() {
        let l = match TcpListener::bind("[::1]:0") {
            Ok(l) => l,
            Err(e) => {
                eprintln!("skipped: no IPv6 loopback here ({e})");
                return;
            }
        };
        let addr = l.local_addr().unwrap();
        assert_eq!(run(&[addr]), Outcome::Success);
        drop(l);
        assert_eq!(
            run(&[addr]),
            Outcome::Failure(format!("connect {addr}: connection refused"))
        );
        assert!(addr.to_string().starts_with("[::1]:"));
    }
}
