//! systemd's readiness protocol (sd_notify) without libsystemd: one
//! datagram per message to the Unix socket named by `NOTIFY_SOCKET`
//! (`READY=1`, `STATUS=...`, `WATCHDOG=1`, `STOPPING=1`, `RELOADING=1`),
//! and the watchdog period from `WATCHDOG_USEC`/`WATCHDOG_PID`.
//!
//! It owns one unbound, non-blocking datagram socket. It decides nothing:
//! the event loop chooses what to send and when. Sending never blocks and
//! never fails loudly — systemd not listening must not disturb
//! supervision — so errors are dropped.
//!
//! The variables are meant for tend alone: the caller strips `ENV_VARS`
//! from every child's environment, so a child that speaks sd_notify itself
//! cannot tell systemd it is ready on tend's behalf.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// The environment of the sd_notify protocol; children must not inherit it.
pub const ENV_VARS: &[&str] = &["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// Where the datagrams go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Path(PathBuf),
    /// Linux abstract namespace: the name after the `@`.
    Abstract(Vec<u8>),
}

/// A handle on systemd's notification socket.
#[derive(Debug)]
pub struct Notify {
    sock: UnixDatagram,
    target: Target,
}

/// Parse the value of `NOTIFY_SOCKET`: an absolute path, or `@name` for
/// the abstract namespace. Anything else (empty, relative, `vsock:`) is
/// not a socket tend can use.
fn target(value: &OsStr) -> Option<Target> {
    let b = value.as_bytes();
    match b.first() {
        Some(b'/') => Some(Target::Path(PathBuf::from(value))),
        Some(b'@') if b.len() > 1 => Some(Target::Abstract(b[1..].to_vec())),
        _ => None,
    }
}

/// The watchdog ping period from the values of `WATCHDOG_USEC` and
/// `WATCHDOG_PID`: half the timeout, as sd_watchdog_enabled(3) advises;
/// None when unset, zero or malformed, or meant for another process.
fn watchdog(usec: Option<&str>, pid: Option<&str>, our_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != our_pid {
            return None;
        }
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

impl Notify {
    /// From `NOTIFY_SOCKET`; None when unset or unusable, or when the
    /// socket cannot be created.
    pub fn from_env() -> Option<Notify> {
        let value = std::env::var_os("NOTIFY_SOCKET")?;
        Notify::new(&value)
    }

    fn new(value: &OsStr) -> Option<Notify> {
        let target = target(value)?;
        if matches!(target, Target::Abstract(_)) && !cfg!(target_os = "linux") {
            return None;
        }
        let sock = UnixDatagram::unbound().ok()?;
        sock.set_nonblocking(true).ok()?;
        Some(Notify { sock, target })
    }

    /// Send `msg` (e.g. `READY=1`, or several `KEY=VALUE` lines) as one
    /// datagram. Non-blocking; errors (no listener, full queue) ignored.
    pub fn send(&self, msg: &str) {
        let _ = match &self.target {
            Target::Path(p) => self.sock.send_to(msg.as_bytes(), p),
            Target::Abstract(name) => self.send_abstract(name, msg.as_bytes()),
        };
    }

    #[cfg(target_os = "linux")]
    fn send_abstract(&self, name: &[u8], msg: &[u8]) -> std::io::Result<usize> {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        self.sock.send_to_addr(msg, &addr)
    }

    #[cfg(not(target_os = "linux"))]
    fn send_abstract(&self, _name: &[u8], _msg: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

/// The watchdog ping period: `WATCHDOG_USEC`/2, when `WATCHDOG_USEC` is set
/// and `WATCHDOG_PID` is unset or tend's own PID.
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog(usec.as_deref(), pid.as_deref(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    use crate::testutil::TempDir;

    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn target_forms() {
        assert_eq!(
            target(OsStr::new("/run/systemd/notify")),
            Some(Target::Path("/run/systemd/notify".into()))
        );
        assert_eq!(
            target(OsStr::new("@tend/notify")),
            Some(Target::Abstract(b"tend/notify".to_vec()))
        );
        for v in ["", "@", "relative/sock", "vsock:2:1234"] {
            assert_eq!(target(OsStr::new(v)), None, "{v:?}");
        }
    }

    #[test]
    fn watchdog_is_half_the_timeout_for_us_only() {
        let half = Some(Duration::from_millis(100));
        assert_eq!(watchdog(Some("200000"), None, 42), half);
        assert_eq!(watchdog(Some("200000"), Some("42"), 42), half);
        assert_eq!(watchdog(Some("200000"), Some("43"), 42), None);
        assert_eq!(watchdog(Some("200000"), Some("x"), 42), None);
        assert_eq!(watchdog(None, Some("42"), 42), None);
        assert_eq!(watchdog(Some("0"), None, 42), None);
        assert_eq!(watchdog(Some("-5"), None, 42), None);
        assert_eq!(watchdog(Some("soon"), None, 42), None);
        assert_eq!(watchdog(Some("1"), None, 42), Some(Duration::ZERO));
    }

    #[test]
    fn env_vars_name_the_protocol() {
        for v in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            assert!(ENV_VARS.contains(&v), "{v}");
        }
    }

    #[test]
    fn sends_datagrams_to_a_path() {
        let dir = TempDir::new("path");
        let path = dir.0.join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notify::new(path.as_os_str()).unwrap();
        n.send("READY=1");
        n.send("STATUS=2 processes: 2 running, 2 ready\nWATCHDOG=1");
        assert_eq!(recv(&server), "READY=1");
        assert_eq!(
            recv(&server),
            "STATUS=2 processes: 2 running, 2 ready\nWATCHDOG=1"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_datagrams_to_an_abstract_name() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("tend-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notify::new(OsStr::new(&format!("@{name}"))).unwrap();
        n.send("STOPPING=1");
        assert_eq!(recv(&server), "STOPPING=1");
    }

    #[test]
    fn send_without_listener_is_ignored_and_quick() {
        let dir = TempDir::new("gone");
        let path = dir.0.join("nobody.sock");
        let n = Notify::new(path.as_os_str()).unwrap();
        let started = Instant::now();
        for _ in 0..1000 {
            n.send("WATCHDOG=1");
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn full_queue_does_not_block() {
        let dir = TempDir::new("full");
        let path = dir.0.join("notify.sock");
        // Bound but never read: the queue fills, send must not block.
        let _server = UnixDatagram::bind(&path).unwrap();
        let n = Notify::new(path.as_os_str()).unwrap();
        let started = Instant::now();
        for _ in 0..10_000 {
            n.send("WATCHDOG=1");
        }
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
