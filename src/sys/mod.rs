//! `sys`: the impure, thin shell — the only code that talks to the kernel
//! (fork/exec, signals, fds, files, sockets, the clock).

pub mod control;
pub mod poll;
