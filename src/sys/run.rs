//! `tend run`: validate the plan, detach if asked, take the PID lock, open
//! the control socket, and hand over to the event loop. Every failure
//! before supervision starts is a one-line error and an exit code of SPEC
//! §6 (2 config, 3 lock held, 1 anything else).

use super::control::ControlServer;
use super::daemon::{self, Detached, Notifier};
use super::event_loop::{Options, Supervisor};
use super::lock::{LockError, PidLock};
use crate::cli::RunArgs;
use std::path::{Path, PathBuf};

pub fn main(dir: &Path, run: &RunArgs) -> u8 {
    let cwd = match std::env::current_dir() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tend: error: cannot read the current directory: {e}");
            return 1;
        }
    };
    let plan = match crate::validate::plan_for_run(run, &cwd) {
        Ok(p) => p,
        Err(errs) => {
            for e in &errs {
                eprintln!("tend: error: {e}");
            }
            return 2;
        }
    };
    let dir = absolute(&cwd, dir);
    let log_dir = run
        .log_dir
        .as_ref()
        .map_or_else(|| dir.join("logs"), |d| absolute(&cwd, d));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("tend: error: cannot create {}: {e}", dir.display());
        return 1;
    }
    let mut notifier = Notifier::none();
    if run.detach {
        match daemon::detach(&dir.join("logs").join("tend.log")) {
            Ok(Detached::Parent(code)) => return code,
            Ok(Detached::Daemon(n)) => notifier = n,
            Err(e) => {
                eprintln!("tend: error: cannot detach: {e}");
                return 1;
            }
        }
    }
    let fail = |n: &mut Notifier, code: u8, msg: String| -> u8 {
        eprintln!("tend: error: {msg}");
        n.error(code, &msg);
        code
    };
    let lock = match PidLock::acquire(&dir.join("tend.pid")) {
        Ok(l) => l,
        Err(e @ LockError::Held { .. }) => return fail(&mut notifier, 3, e.to_string()),
        Err(e) => return fail(&mut notifier, 1, e.to_string()),
    };
    let control = match ControlServer::bind(&dir.join("tend.sock")) {
        Ok(c) => c,
        Err(e) => return fail(&mut notifier, 1, e.to_string()),
    };
    let http = match &plan.http {
        None => None,
        Some(addr) => match super::http::HttpServer::bind(addr) {
            Ok(h) => Some(h),
            Err(e) => return fail(&mut notifier, 1, e.to_string()),
        },
    };
    let opts = Options {
        dir,
        log_dir,
        quiet: run.quiet,
        interactive: run.interactive,
        detached: run.detach,
        stop_file_override: run.stop_file.as_ref().map(|f| absolute(&cwd, f)),
        http_override: run.http.clone(),
    };
    let sup = match Supervisor::new(plan, opts, Some(control), http) {
        Ok(s) => s,
        Err(e) => return fail(&mut notifier, 1, format!("cannot start: {e}")),
    };
    notifier.ready();
    let code = sup.run();
    drop(lock);
    code
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}
