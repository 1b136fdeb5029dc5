//! The exec probe: run a command (an argv directly, or a string through
//! `/bin/sh -c`), success = exit 0, failure = its exit status or signal
//! plus the first 4 KiB of its merged stdout/stderr.
//!
//! Fork hygiene, in order: one close-on-exec pipe whose write end becomes
//! both stdout and stderr (so output arrives merged, in order); stdin from
//! `/dev/null`; a new process group (`process_group(0)`) so a timeout kills
//! the probe and everything it started with one `killpg`; in the child,
//! every signal disposition reset to default, an empty signal mask, and
//! PR_SET_PDEATHSIG so a crashed tend does not leave probes behind.
//!
//! It must never wait: `std::process::Child` is dropped unwaited, and the
//! central reaper (the only `waitpid` caller) delivers the exit through
//! `on_exit`. The outcome is decided at exit, not at pipe EOF, because a
//! grandchild may hold the pipe open forever: at exit we read what is
//! there and stop. After a normal exit, whatever is left in the group is
//! killed too, so a probe cannot leak background processes each interval.
//!
//! The one wait that remains is inside `Command::spawn`: it reads std's
//! close-on-exec error pipe until the child has exec'd (or failed to),
//! which takes the time of a fork + exec, not of the probe.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{self, Stdio};

use super::{os_text, Outcome, Step};
use crate::sys::poll::{self, PollSet};

/// How much output a failure message keeps.
const KEEP_OUTPUT: usize = 4096;
/// Reads per drain, so a flooding probe cannot stall the loop (64 KiB).
const READS_PER_DRAIN: usize = 16;

pub(crate) enum Command<'a> {
    Argv(&'a [String]),
    Shell(&'a str),
}

pub(crate) struct Exec {
    /// The child, until its exit was delivered by `on_exit`.
    pid: Option<u32>,
    /// Read end of the output pipe (non-blocking), until EOF or the end.
    pipe: Option<File>,
    /// The first KEEP_OUTPUT bytes of output; the rest is read and dropped.
    out: Vec<u8>,
    idx: Option<usize>,
    /// Finished: exited, or killed on timeout (its later exit is ignored).
    done: bool,
}

impl Exec {
    /// Spawn the command; Err is the failure message (`spawn ./check.sh:
    /// no such file or directory`).
    pub(crate) fn start(cmd: Command) -> Result<Exec, String> {
        let (program, mut command) = match cmd {
            Command::Argv(argv) => {
                let Some((prog, args)) = argv.split_first() else {
                    return Err("spawn: empty command".to_string());
                };
                let mut c = process::Command::new(prog);
                c.args(args);
                (prog.as_str(), c)
            }
            Command::Shell(s) => {
                let mut c = process::Command::new("/bin/sh");
                c.arg("-c").arg(s);
                ("/bin/sh", c)
            }
        };
        let fail = |e: io::Error| format!("spawn {program}: {}", os_text(&e));
        let (read, write) = crate::sys::ffi::pipe().map_err(fail)?;
        crate::sys::ffi::set_nonblocking(read.as_raw_fd()).map_err(fail)?;
        let write2 = write.try_clone().map_err(fail)?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(write2))
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe syscalls (sigaction, sigprocmask, prctl)
        // on stack data; it allocates nothing and takes no locks.
        unsafe {
            command.pre_exec(crate::sys::spawn::child_signal_hygiene);
        }
        let child = command.spawn().map_err(fail)?;
        let pid = child.id();
        // Never waited here: the central reaper owns waitpid. Dropping
        // `command` closes our copies of the pipe's write end, so EOF
        // comes when the child (and its descendants) close theirs.
        drop(child);
        drop(command);
        Ok(Exec {
            pid: Some(pid),
            pipe: Some(File::from(read)),
            out: Vec::new(),
            idx: None,
            done: false,
        })
    }

    pub(crate) fn register(&mut self, ps: &mut PollSet) {
        self.idx = self.pipe.as_ref().map(|p| ps.add(p.as_raw_fd(), poll::IN));
    }

    pub(crate) fn on_poll(&mut self, ps: &PollSet) -> Step {
        if let Some(i) = self.idx.take() {
            if ps.readable(i) {
                self.drain();
            }
        }
        // Only the exit decides: EOF may come first, or never.
        Step::Pending
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    pub(crate) fn finished(&self) -> bool {
        self.done
    }

    pub(crate) fn on_exit(&mut self, wait_status: i32) -> Step {
        let Some(pid) = self.pid.take() else {
            return Step::Pending;
        };
        if self.done {
            return Step::Pending;
        }
        self.done = true;
        // Everything the child itself wrote is in the pipe by now.
        self.drain();
        self.pipe = None;
        // Leftovers of the probe (background jobs) die with it. The group
        // id cannot have been reused: the leader was reaped this very turn
        // and any surviving member keeps the id taken. ESRCH (none left)
        // is the usual case and fine.
        let _ = killpg(pid);
        let output = String::from_utf8_lossy(&self.out).trim().to_string();
        let what = if libc::WIFEXITED(wait_status) {
            match libc::WEXITSTATUS(wait_status) {
                0 => return Step::Done(Outcome::Success),
                code => format!("exit status {code}"),
            }
        } else if libc::WIFSIGNALED(wait_status) {
            format!(
                "killed by signal {}",
                crate::signal::name(libc::WTERMSIG(wait_status))
            )
        } else {
            format!("unexpected wait status {wait_status}")
        };
        Step::Done(Outcome::Failure(if output.is_empty() {
            what
        } else {
            format!("{what}: {output}")
        }))
    }

    /// Timeout: SIGKILL the whole group and stop reading. The pid stays so
    /// the reaper can still route (and we ignore) the exit.
    pub(crate) fn kill(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.pipe = None;
        if let Some(pid) = self.pid {
            // Safe against pid reuse: the leader is not reaped yet (the
            // pid is cleared in on_exit), so the group id is still ours.
            let _ = killpg(pid);
        }
    }

    /// Read what is available without blocking, keeping the first
    /// KEEP_OUTPUT bytes.
    fn drain(&mut self) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let mut chunk = [0u8; 4096];
        for _ in 0..READS_PER_DRAIN {
            match pipe.read(&mut chunk) {
                Ok(0) => {
                    self.pipe = None;
                    return;
                }
                Ok(n) => {
                    let keep = (KEEP_OUTPUT - self.out.len()).min(n);
                    self.out.extend_from_slice(&chunk[..keep]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.pipe = None;
                    return;
                }
            }
        }
    }
}

/// SIGKILL to the process group `pgid`.
fn killpg(pgid: u32) -> io::Result<()> {
    // SAFETY: plain syscall; the caller guarantees the group is ours.
    if unsafe { libc::killpg(pgid as libc::pid_t, libc::SIGKILL) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{drive, reap_blocking};
    use super::super::{Attempt, Outcome};
    use crate::plan::ProbeKind;
    use std::time::{Duration, Instant};

    fn argv(a: &[&str]) -> ProbeKind {
        ProbeKind::Exec(a.iter().map(|s| s.to_string()).collect())
    }

    fn run(kind: ProbeKind, timeout: Duration) -> Outcome {
        let mut a = Attempt::start(&kind, &[], timeout, Instant::now());
        drive(&mut a)
    }

    fn run5(kind: ProbeKind) -> Outcome {
        run(kind, Duration::from_secs(5))
    }

    #[test]
    fn true_succeeds() {
        assert_eq!(run5(argv(&["true"])), Outcome::Success);
    }

    #[test]
    fn false_fails_with_status() {
        assert_eq!(
            run5(argv(&["false"])),
            Outcome::Failure("exit status 1".into())
        );
    }

    #[test]
    fn shell_output_is_in_the_message() {
        assert_eq!(
            run5(ProbeKind::Shell("echo oops; echo err >&2; exit 3".into())),
            Outcome::Failure("exit status 3: oops\nerr".into())
        );
    }

    #[test]
    fn argv_is_not_a_shell() {
        assert_eq!(
            run5(argv(&["sh", "-c", "echo \"$0\"; exit 2", "a;b"])),
            Outcome::Failure("exit status 2: a;b".into())
        );
    }

    #[test]
    fn output_is_capped_at_4k() {
        let o = run5(ProbeKind::Shell(
            "head -c 100000 /dev/zero | tr '\\0' x; exit 1".into(),
        ));
        let Outcome::Failure(msg) = o else {
            panic!("{o:?}")
        };
        assert_eq!(msg, format!("exit status 1: {}", "x".repeat(4096)));
    }

    #[test]
    fn missing_program_fails_at_start() {
        let a = Attempt::start(
            &argv(&["/nonexistent/tend-probe"]),
            &[],
            Duration::from_secs(5),
            Instant::now(),
        );
        assert_eq!(
            a.outcome(),
            Some(&Outcome::Failure(
                "spawn /nonexistent/tend-probe: no such file or directory".into()
            ))
        );
        assert_eq!(a.pid(), None);
    }

    #[test]
    fn killed_by_a_signal() {
        assert_eq!(
            run5(ProbeKind::Shell("echo bye; kill -TERM $$".into())),
            Outcome::Failure("killed by signal TERM: bye".into())
        );
    }

    #[test]
    fn signals_are_reset_in_the_child() {
        // tend's runtime ignores SIGPIPE and handles others; the probe must
        // start clean. glibc refuses to touch its reserved 32 and 33, which
        // some parents (not tend) leave ignored, so only 1-31 are checked.
        let o = run5(ProbeKind::Shell("cat /proc/self/status; exit 1".into()));
        let Outcome::Failure(status) = o else {
            panic!("{o:?}")
        };
        let mask = |key: &str| {
            let line = status.lines().find(|l| l.starts_with(key)).unwrap();
            u64::from_str_radix(line[key.len()..].trim(), 16).unwrap()
        };
        assert_eq!(mask("SigIgn:") & 0x7fff_ffff, 0, "{status}");
        assert_eq!(mask("SigBlk:"), 0, "{status}");
    }

    #[test]
    fn grandchild_holding_the_pipe_does_not_block_the_outcome() {
        // The background sleep keeps the pipe open; the exit decides, and
        // the leftover is killed with the group.
        become_subreaper();
        let kind = ProbeKind::Shell("sleep 30 & echo started; exit 4".into());
        let mut a = Attempt::start(&kind, &[], Duration::from_secs(5), Instant::now());
        let pgid = a.pid().unwrap() as libc::pid_t;
        assert_eq!(
            drive(&mut a),
            Outcome::Failure("exit status 4: started".into())
        );
        wait_group_gone(pgid);
    }

    #[test]
    fn hang_is_killed_on_timeout_with_its_group() {
        become_subreaper();
        let kind = ProbeKind::Shell("sleep 10 & sleep 10".into());
        let mut a = Attempt::start(&kind, &[], Duration::from_millis(200), Instant::now());
        let pid = a.pid().unwrap();
        assert_eq!(
            drive(&mut a),
            Outcome::Failure("timed out after 200ms".into())
        );
        // The pid is still routable after the kill; its exit is ignored.
        assert_eq!(a.pid(), Some(pid));
        let st = reap_blocking(pid);
        assert!(libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL);
        a.on_exit(st);
        assert_eq!(a.pid(), None);
        assert_eq!(a.take_outcome(), None);
        wait_group_gone(pid as libc::pid_t);
    }

    /// Make the test process a child subreaper, so the probe's orphaned
    /// grandchildren are reparented to us and `wait_group_gone` can reap
    /// them, whatever PID 1 of the test machine does with zombies.
    fn become_subreaper() {
        // SAFETY: plain prctl with constant arguments.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0);
    }

    /// Wait until kill(-pgid, 0) reports ESRCH: no member of the group is
    /// left, zombies included (we reap them, see `become_subreaper`).
    fn wait_group_gone(pgid: libc::pid_t) {
        let stop = Instant::now() + Duration::from_secs(10);
        loop {
            let mut st = 0;
            // SAFETY: reaps only members of the probe's group, our children
            // through the subreaper; a valid out pointer.
            while unsafe { libc::waitpid(-pgid, &mut st, libc::WNOHANG) } > 0 {}
            // SAFETY: signal 0 only checks for existence.
            let r = unsafe { libc::kill(-pgid, 0) };
            let errno = std::io::Error::last_os_error().raw_os_error();
            if r != 0 && errno == Some(libc::ESRCH) {
                return;
            }
            assert!(Instant::now() < stop, "group {pgid} still alive");
            let mut ps = crate::sys::poll::PollSet::default();
            ps.wait(Some(Duration::from_millis(5))).unwrap();
        }
    }
}
