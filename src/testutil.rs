//! Helpers shared by the unit tests of several modules (compiled only for
//! tests): a temporary directory removed on drop, and a status document
//! entry to vary with struct-update syntax.

use crate::proto::{BreakerStatus, ProcStatus};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, unique per test process
/// and call, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("tend-unit-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create a temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A stopped process that never ran: every field at its empty value.
pub fn proc_status(name: &str) -> ProcStatus {
    ProcStatus {
        name: name.to_string(),
        state: "stopped".into(),
        health: "unknown".into(),
        ready: false,
        pid: None,
        uptime_ms: 0,
        starts: 0,
        restarts: 0,
        last_start: None,
        last_exit: None,
        last_error: None,
        next_restart_ms: None,
        breaker: BreakerStatus {
            open: false,
            failures: 0,
            retry_at: None,
        },
    }
}
