//! `tend run --detach`: the reliable form of `& disown`. The parent forks,
//! the child starts a new session and forks again (so the daemon can never
//! reacquire a terminal), and the daemon reports back through a pipe once
//! it holds the lock and answers on its socket — or with its own error.
//! Only then does the parent print the PID and exit.

use super::ffi;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// In the daemon: where to send "ready" or an error.
pub struct Notifier {
    fd: Option<OwnedFd>,
}

impl Notifier {
    /// Nothing to notify (not detached).
    pub fn none() -> Notifier {
        Notifier { fd: None }
    }

    pub fn ready(&mut self) {
        self.send(&format!("ok {}\n", ffi::getpid()));
    }

    pub fn error(&mut self, code: u8, msg: &str) {
        self.send(&format!("err {code} {msg}\n"));
    }

    fn send(&mut self, s: &str) {
        if let Some(fd) = self.fd.take() {
            let mut f = std::fs::File::from(fd);
            let _ = f.write_all(s.as_bytes());
        }
    }
}

/// What `detach` returns in each process.
pub enum Detached {
    /// In the original process: exit with this code (message printed).
    Parent(u8),
    /// In the daemon: carry on, report through the notifier.
    Daemon(Notifier),
}

/// Fork into the background with stdio on `log`.
pub fn detach(log: &Path) -> io::Result<Detached> {
    if let Some(d) = log.parent() {
        std::fs::create_dir_all(d)?;
    }
    let logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let devnull = std::fs::File::open("/dev/null")?;
    let (r, w) = ffi::pipe()?;
    match fork()? {
        Some(child) => {
            drop(w);
            // The intermediate child exits at once after its own fork.
            wait_for(child);
            let mut s = String::new();
            let mut f = std::fs::File::from(r);
            let _ = f.read_to_string(&mut s);
            let line = s.lines().next().unwrap_or("");
            if let Some(pid) = line.strip_prefix("ok ") {
                println!("{pid}");
                return Ok(Detached::Parent(0));
            }
            if let Some(rest) = line.strip_prefix("err ") {
                let (code, msg) = rest.split_once(' ').unwrap_or((rest, ""));
                eprintln!("tend: error: {msg}");
                return Ok(Detached::Parent(code.parse().unwrap_or(1)));
            }
            eprintln!(
                "tend: error: the background tend exited before it was ready; see {}",
                log.display()
            );
            Ok(Detached::Parent(1))
        }
        None => {
            drop(r);
            // SAFETY: setsid has no memory-safety requirements.
            unsafe {
                libc::setsid();
            }
            if fork()?.is_some() {
                // The intermediate: leave at once; the daemon is reparented.
                // SAFETY: _exit skips destructors and atexit handlers, which
                // belong to the parent process.
                unsafe { libc::_exit(0) }
            }
            // SAFETY: dup2 onto 0/1/2 of fds we own; no memory involved.
            unsafe {
                libc::dup2(devnull.as_raw_fd(), 0);
                libc::dup2(logf.as_raw_fd(), 1);
                libc::dup2(logf.as_raw_fd(), 2);
            }
            Ok(Detached::Daemon(Notifier { fd: Some(w) }))
        }
    }
}

/// fork(2): Some(child pid) in the parent, None in the child.
fn fork() -> io::Result<Option<u32>> {
    // SAFETY: tend is single-threaded here (before the supervisor starts),
    // so the child may run arbitrary code after fork.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        p => Ok(Some(p as u32)),
    }
}

fn wait_for(pid: u32) {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if r >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}
