//! `sys`: the impure, thin shell — the only code that talks to the kernel
//! (fork/exec, signals, fds, files, sockets, the clock).

pub mod accept;
pub mod control;
pub mod daemon;
pub mod event_loop;
pub mod ffi;
pub mod http;
pub mod lock;
pub mod logs;
pub mod notify;
pub mod output;
pub mod poll;
pub mod probe;
pub mod procfs;
pub mod run;
pub mod signals;
pub mod spawn;
pub mod timers;
pub mod watch;
