//! The one poll(2) set. Every fd source (signal pipe, child output, control
//! socket, probes, HTTP) registers its fds here each loop turn and reads its
//! own `revents` back by the index `add` returned.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

pub const IN: i16 = libc::POLLIN;
pub const OUT: i16 = libc::POLLOUT;
/// Any of these in `revents` means the fd is done or broken.
pub const HUP_ERR: i16 = libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;

#[derive(Default)]
pub struct PollSet {
    fds: Vec<libc::pollfd>,
}

impl PollSet {
    pub fn clear(&mut self) {
        self.fds.clear();
    }

    /// Register `fd` for `events`; returns the index to read `revents` with.
    pub fn add(&mut self, fd: RawFd, events: i16) -> usize {
        self.fds.push(libc::pollfd {
            fd,
            events,
            revents: 0,
        });
        self.fds.len() - 1
    }

    /// What happened on the fd registered at `idx` in the last `wait`.
    pub fn revents(&self, idx: usize) -> i16 {
        self.fds.get(idx).map_or(0, |p| p.revents)
    }

    /// True when the fd at `idx` is readable, hung up or in error: reading
    /// it will not block and tells which.
    pub fn readable(&self, idx: usize) -> bool {
        self.revents(idx) & (IN | HUP_ERR) != 0
    }

    pub fn writable(&self, idx: usize) -> bool {
        self.revents(idx) & (OUT | HUP_ERR) != 0
    }

    /// Block until an fd is ready or `timeout` passes (None: forever).
    /// EINTR is not an error: it returns Ok(0) and the caller loops.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        let ms: libc::c_int = match timeout {
            None => -1,
            // Round up so a deadline 0.3 ms away does not spin with 0.
            Some(d) => {
                let ms = d.as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as libc::c_int
            }
        };
        for p in &mut self.fds {
            p.revents = 0;
        }
        // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd of
        // the given length for the duration of the call.
        let n = unsafe { libc::poll(self.fds.as_mut_ptr(), self.fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        Ok(n as usize)
    }
}
