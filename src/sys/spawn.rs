//! Fork/exec of a supervised child, with the hygiene every supervisor
//! needs. The checklist (s6, tini, std's own comments):
//!
//! 1. Allocate before fork: argv, env, cwd, user lookups happen here in the
//!    parent; the `pre_exec` closure makes only async-signal-safe syscalls.
//! 2. New session (`setsid`): the child leads its own process group, so
//!    stop signals reach everything it starts, and no terminal signals
//!    from tend's terminal reach it. (`--interactive`: own group, not own
//!    session, so it can be the terminal's foreground group.)
//! 3. stdin from `/dev/null`; stdout and stderr are the same pipe, so the
//!    log keeps them in order of arrival.
//! 4. Every signal disposition back to default and an empty signal mask
//!    (std resets the mask and SIGPIPE; we reset the rest: TTIN, TTOU and
//!    anything else tend ignores would otherwise stay ignored across exec).
//! 5. PR_SET_PDEATHSIG(SIGKILL) on Linux: if tend dies, its children die.
//! 6. Exec failure comes back through std's close-on-exec pipe; it becomes
//!    127 (not found) or 126 (not executable), shell style.
//! 7. Never `Child::wait()`: the reaper in `event_loop` owns waitpid.

use crate::plan::ProcSpec;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

pub struct Spawned {
    pub pid: u32,
    /// Read end of the child's stdout+stderr pipe (None in interactive mode).
    pub output: Option<OwnedFd>,
}

pub struct SpawnError {
    pub message: String,
    /// 127 not found, 126 not executable / other.
    pub code: i32,
}

/// How the child's stdio and session are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Supervised child: own session, stdout+stderr into one pipe.
    Capture,
    /// `--interactive`: tend's stdio, own process group (not session), so
    /// it can be the terminal's foreground group.
    Interactive,
    /// Hooks: own session, stdin /dev/null, output to tend's own stderr.
    Hook,
}

/// Spawn `spec`'s command.
pub fn spawn(spec: &ProcSpec, mode: Mode) -> Result<Spawned, SpawnError> {
    let interactive = mode == Mode::Interactive;
    let fail = |what: String, e: &io::Error| SpawnError {
        message: format!("spawn {}: {what}", spec.name),
        code: match e.raw_os_error() {
            Some(libc::ENOENT) => 127,
            _ => 126,
        },
    };
    if let Some(cwd) = &spec.cwd {
        if !cwd.is_dir() {
            let e = io::Error::from_raw_os_error(libc::ENOENT);
            return Err(fail(
                format!("cwd {}: No such file or directory", quote(cwd)),
                &e,
            ));
        }
    }
    let mut cmd = Command::new(&spec.command);
    cmd.args(&spec.args);
    // systemd's notify socket and watchdog are tend's, not the child's.
    for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        cmd.env_remove(k);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    let mut output = None;
    if interactive {
        cmd.stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
    } else if mode == Mode::Hook {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(
                std::io::stderr()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| fail(format!("dup stderr: {e}"), &e))?,
            ))
            .stderr(Stdio::inherit());
    } else {
        let (r, w) = crate::sys::ffi::pipe().map_err(|e| fail(format!("pipe: {e}"), &e))?;
        let w2 = w.try_clone().map_err(|e| fail(format!("pipe: {e}"), &e))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(w))
            .stderr(Stdio::from(w2));
        output = Some(r);
    }
    // Resolve the user before fork; the child only makes syscalls.
    let mut ids: Option<(CString, u32, u32)> = None;
    if let Some(u) = &spec.user {
        let Some((uid, gid, home)) = crate::sys::ffi::lookup_user(&u.user) else {
            let e = io::Error::from_raw_os_error(libc::EINVAL);
            return Err(fail(format!("unknown user {}", quote(&u.user)), &e));
        };
        let gid = match &u.group {
            None => gid,
            Some(g) => match crate::sys::ffi::lookup_group(g) {
                Some(gid) => gid,
                None => {
                    let e = io::Error::from_raw_os_error(libc::EINVAL);
                    return Err(fail(format!("unknown group {}", quote(g)), &e));
                }
            },
        };
        let cname = CString::new(u.user.as_str()).map_err(|_| {
            let e = io::Error::from_raw_os_error(libc::EINVAL);
            fail(format!("bad user name {}", quote(&u.user)), &e)
        })?;
        if !spec.env.iter().any(|(k, _)| k == "HOME") {
            cmd.env("HOME", home);
        }
        if !spec.env.iter().any(|(k, _)| k == "USER") {
            cmd.env("USER", &u.user);
            cmd.env("LOGNAME", &u.user);
        }
        ids = Some((cname, uid, gid));
    }
    let am_root = crate::sys::ffi::getuid() == 0;
    // SAFETY: the closure runs in the forked child before exec and calls
    // only async-signal-safe functions (setsid, setpgid, signal,
    // rt_sigaction, sigprocmask, prctl, initgroups/setgid/setuid on pre-built values);
    // it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if interactive {
                if libc::setpgid(0, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            child_signal_hygiene()?;
            if let Some((name, uid, gid)) = &ids {
                if am_root && libc::initgroups(name.as_ptr(), *gid as _) < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::setgid(*gid) < 0 || libc::setuid(*uid) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    match cmd.spawn() {
        Ok(child) => {
            let pid = child.id();
            // Dropping `Child` neither waits nor kills; the reaper owns it.
            drop(child);
            if let Some(r) = &output {
                use std::os::fd::AsRawFd;
                let _ = crate::sys::ffi::set_nonblocking(r.as_raw_fd());
            }
            Ok(Spawned { pid, output })
        }
        Err(e) => Err(fail(
            format!("{}: {}", crate::error::os_text(&e), quote(&spec.command)),
            &e,
        )),
    }
}

/// Runs in a forked child before exec (supervised children and exec
/// probes alike): default dispositions for every signal (ignored ones would
/// survive exec), an empty signal mask, and death with tend
/// (PR_SET_PDEATHSIG; tend is single-threaded, so "the parent thread died"
/// means tend died). Only async-signal-safe calls.
pub(crate) fn child_signal_hygiene() -> io::Result<()> {
    for sig in 1..65 {
        // SAFETY: signal() with SIG_DFL is async-signal-safe; KILL and STOP
        // are skipped, reserved numbers fall back to the raw syscall.
        unsafe {
            if sig != libc::SIGKILL
                && sig != libc::SIGSTOP
                && libc::signal(sig, libc::SIG_DFL) == libc::SIG_ERR
            {
                reset_reserved_signal(sig);
            }
        }
    }
    // SAFETY: a zeroed sigset_t is valid plain data, emptied before use;
    // prctl takes integers only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
    }
    Ok(())
}

/// glibc's `signal` refuses the signals it reserves for itself (32 and 33),
/// so a SIG_IGN tend inherited on them would survive exec into the child.
/// The kernel's `rt_sigaction` takes them: an all-zero kernel sigaction is
/// SIG_DFL, no flags, empty mask, whatever the architecture's field order.
/// Async-signal-safe (one raw syscall); errors ignored, as for `signal`.
#[cfg(target_os = "linux")]
fn reset_reserved_signal(sig: i32) {
    let act = [0u64; 4];
    // SAFETY: `act` is a valid, zeroed kernel sigaction (SIG_DFL) at least
    // as large as the kernel's struct; old action pointer is null; 8 is the
    // size of the kernel's sigset_t.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig as libc::c_long,
            act.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8 as libc::c_long,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn reset_reserved_signal(_sig: i32) {}

fn quote(p: impl AsRef<Path>) -> String {
    format!("'{}'", p.as_ref().display())
}
