//! Signals in: the signal-hook self-pipe. A handler only sets a flag and
//! writes a byte; the loop polls the pipe's read end, drains it first and
//! only then reads the flags (signal-hook's order), so no signal is lost.
//!
//! Every signal tend acts on or forwards gets a handler, which also matters
//! as PID 1: the kernel drops signals PID 1 has no handler for.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct Signals {
    read: UnixStream,
    /// Kept open for the handlers, which write to its raw fd.
    _write: UnixStream,
    flags: Vec<(i32, Arc<AtomicBool>)>,
}

impl Signals {
    /// Install handlers for `sigs` (duplicates ignored).
    pub fn install(sigs: &[i32]) -> io::Result<Signals> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let mut flags: Vec<(i32, Arc<AtomicBool>)> = Vec::new();
        for &sig in sigs {
            if flags.iter().any(|(s, _)| *s == sig) {
                continue;
            }
            let flag = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(sig, Arc::clone(&flag))?;
            signal_hook::low_level::pipe::register_raw(sig, write.as_raw_fd())?;
            flags.push((sig, flag));
        }
        unblock(flags.iter().map(|(s, _)| *s));
        Ok(Signals {
            read,
            _write: write,
            flags,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Empty the pipe, then collect the signals that arrived (each once,
    /// however often it came), SIGCHLD included.
    pub fn drain(&mut self) -> Vec<i32> {
        let mut buf = [0u8; 256];
        while let Ok(n) = io::Read::read(&mut self.read, &mut buf) {
            if n == 0 {
                break;
            }
        }
        self.flags
            .iter()
            .filter(|(_, f)| f.swap(false, Ordering::SeqCst))
            .map(|(s, _)| *s)
            .collect()
    }
}

/// The signal mask survives exec: a caller that had some of tend's signals
/// blocked (a parent that forgot to restore its mask) would leave them
/// pending forever, so TERM would never stop tend nor CHLD reap.
fn unblock(sigs: impl Iterator<Item = i32>) {
    // SAFETY: `set` is initialised by sigemptyset before use; a null old
    // set is allowed; pthread_sigmask has no other requirements.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in sigs {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}
