//! tend's own stdout and stderr, written so that tend never stalls or dies
//! of them: output is queued in a bounded buffer and written only when
//! poll says the fd can take it; a full buffer drops the oldest bytes
//! (the log files are the record that never drops); EPIPE, EIO or a closed
//! fd turn the writer off for good. Regular files are written at once.

use super::ffi::{self, FdKind};
use super::poll::{PollSet, HUP_ERR};
use std::collections::VecDeque;
use std::os::fd::RawFd;

/// Queue bound; past it the oldest output is dropped.
const CAP: usize = 1 << 20;
/// Bytes written per poll round to a pipe or terminal: POLLOUT on a pipe
/// promises room for at least this much without blocking.
const CHUNK: usize = 4096;

pub struct Writer {
    fd: RawFd,
    kind: FdKind,
    buf: VecDeque<u8>,
    dead: bool,
    dropped: u64,
    idx: Option<usize>,
}

impl Writer {
    pub fn new(fd: RawFd) -> Writer {
        let kind = ffi::fd_kind(fd);
        Writer {
            fd,
            kind,
            buf: VecDeque::new(),
            dead: kind == FdKind::Closed,
            dropped: 0,
            idx: None,
        }
    }

    /// Queue `data`; files are written through at once.
    pub fn write(&mut self, data: &[u8]) {
        if self.dead {
            return;
        }
        if self.kind == FdKind::Regular && self.buf.is_empty() {
            let mut off = 0;
            while off < data.len() {
                match ffi::write(self.fd, &data[off..]) {
                    Ok(0) => break,
                    Ok(n) => off += n,
                    Err(_) => {
                        self.dead = true;
                        return;
                    }
                }
            }
            if off == data.len() {
                return;
            }
            self.buf.extend(&data[off..]);
            return;
        }
        self.buf.extend(data);
        if self.buf.len() > CAP {
            let excess = self.buf.len() - CAP;
            self.buf.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    pub fn register(&mut self, ps: &mut PollSet) {
        self.idx = None;
        if !self.dead && !self.buf.is_empty() {
            self.idx = Some(ps.add(self.fd, super::poll::OUT));
        }
    }

    pub fn on_poll(&mut self, ps: &PollSet) {
        let Some(i) = self.idx else { return };
        let rev = ps.revents(i);
        if rev & HUP_ERR != 0 {
            // The reader went away: writing would raise SIGPIPE/EPIPE.
            self.dead = true;
            self.buf.clear();
            return;
        }
        if rev & super::poll::OUT == 0 {
            return;
        }
        let limit = if self.kind == FdKind::Regular {
            usize::MAX
        } else {
            CHUNK
        };
        let (a, b) = self.buf.as_slices();
        let slice = if a.is_empty() { b } else { a };
        let n = slice.len().min(limit);
        match ffi::write(self.fd, &slice[..n]) {
            Ok(w) => {
                self.buf.drain(..w);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                self.dead = true;
                self.buf.clear();
            }
        }
    }

    /// Best effort before exit: write what fits without blocking long.
    pub fn flush_on_exit(&mut self) {
        let mut ps = PollSet::default();
        for _ in 0..64 {
            if self.dead || self.buf.is_empty() {
                return;
            }
            ps.clear();
            self.register(&mut ps);
            if ps.wait(Some(std::time::Duration::from_millis(20))).is_err() {
                return;
            }
            if ps.revents(0) == 0 {
                return;
            }
            self.on_poll(&ps);
        }
    }
}
