//! What an `accept(2)` on a non-blocking listener means for the loop, in
//! one place for the control socket and the HTTP endpoint: a connection,
//! "try again" (EINTR, a peer that gave up), "the backlog is empty", or a
//! resource failure (EMFILE, ENFILE, ENOBUFS, ENOMEM) after which the
//! listener stays readable — so the caller must stop polling it for
//! `PAUSE` instead of spinning.

use std::io;
use std::time::Duration;

/// How long a listener is left alone after a resource failure.
pub const PAUSE: Duration = Duration::from_millis(100);

pub enum Accepted<S> {
    Stream(S),
    Retry,
    Empty,
    Failed(io::Error),
}

pub fn classify<S, A>(res: io::Result<(S, A)>) -> Accepted<S> {
    match res {
        Ok((s, _)) => Accepted::Stream(s),
        Err(e) => match e.kind() {
            io::ErrorKind::WouldBlock => Accepted::Empty,
            io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => Accepted::Retry,
            _ => Accepted::Failed(e),
        },
    }
}
