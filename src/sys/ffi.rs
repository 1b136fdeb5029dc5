//! The few libc calls tend makes that std does not wrap, each in a small
//! safe function with a `SAFETY:` line. Nothing here keeps state.

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A pipe with both ends close-on-exec: (read, write).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: `fds` is a valid array of two ints for pipe to fill.
        check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    }
    // SAFETY: the call succeeded, so both fds are open and owned by nobody
    // else.
    let pair = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(target_os = "linux"))]
    {
        use std::os::fd::AsRawFd;
        set_cloexec(pair.0.as_raw_fd())?;
        set_cloexec(pair.1.as_raw_fd())?;
    }
    Ok(pair)
}

/// Close-on-exec, where the kernel has no atomic flag for it.
#[cfg(not(target_os = "linux"))]
pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD on an fd have no memory-safety requirements.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) })?;
    Ok(())
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on an fd have no memory-safety requirements.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// Resize a pipe (Linux F_SETPIPE_SZ); false where refused or unsupported.
pub fn set_pipe_size(fd: RawFd, size: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: F_SETPIPE_SZ takes an integer; no memory is passed.
        unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, size as libc::c_int) >= 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, size);
        false
    }
}

/// read(2) into `buf`; Ok(0) is EOF. EINTR is retried.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// write(2) from `buf`; EINTR is retried.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// send(2) on a socket that never raises SIGPIPE for a peer that went
/// away (elsewhere than Linux: write(2), with SIGPIPE ignored by tend).
pub fn send_nosignal(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// What `waitpid(-1, WNOHANG)` found.
pub enum Reaped {
    Child {
        pid: u32,
        status: libc::c_int,
    },
    /// Children exist but none has exited.
    None,
    /// No children at all.
    NoChildren,
}

pub fn reap_one() -> Reaped {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            return Reaped::Child {
                pid: pid as u32,
                status,
            };
        }
        if pid == 0 {
            return Reaped::None;
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return Reaped::NoChildren;
    }
}

/// Decode a wait status: (exit code, terminating signal).
pub fn decode_status(status: libc::c_int) -> crate::core::ExitStatus {
    if libc::WIFSIGNALED(status) {
        crate::core::ExitStatus::Signal(libc::WTERMSIG(status))
    } else {
        crate::core::ExitStatus::Code(libc::WEXITSTATUS(status))
    }
}

/// kill(2) a process group. ESRCH (already gone) is not an error.
pub fn kill_group(pgid: u32, sig: i32) -> io::Result<()> {
    if pgid <= 1 {
        // Never signal group 0 (our own) or -1 (everyone).
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill has no memory-safety requirements; pgid > 1 checked.
    let r = unsafe { libc::kill(-(pgid as libc::pid_t), sig) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(());
        }
        return Err(e);
    }
    Ok(())
}

/// Does process group `pgid` still have members (zombies included)?
pub fn group_exists(pgid: u32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(-(pgid as libc::pid_t), 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// kill(2) one process. ESRCH is not an error.
pub fn kill_pid(pid: u32, sig: i32) -> io::Result<()> {
    if pid <= 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill has no memory-safety requirements; pid > 1 checked.
    let r = unsafe { libc::kill(pid as libc::pid_t, sig) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(());
        }
        return Err(e);
    }
    Ok(())
}

/// Signal every process we may signal (`kill(-1, sig)`): only for PID 1
/// cleaning its namespace before exit.
pub fn kill_everyone(sig: i32) {
    // SAFETY: kill has no memory-safety requirements.
    unsafe {
        libc::kill(-1, sig);
    }
}

pub fn getpid() -> u32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() as u32 }
}

pub fn getuid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the fd.
    unsafe { libc::isatty(fd) == 1 }
}

/// What kind of file an fd is, for choosing how to write to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdKind {
    Regular,
    Pipe,
    Tty,
    Other,
    Closed,
}

pub fn fd_kind(fd: RawFd) -> FdKind {
    // SAFETY: zeroed stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return FdKind::Closed;
    }
    if isatty(fd) {
        return FdKind::Tty;
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFBLK => FdKind::Regular,
        libc::S_IFIFO | libc::S_IFSOCK => FdKind::Pipe,
        libc::S_IFCHR => FdKind::Other,
        _ => FdKind::Other,
    }
}

/// Take an exclusive advisory lock without blocking. Ok(false): held by
/// someone else.
pub fn try_lock(fd: RawFd) -> io::Result<bool> {
    // SAFETY: flock has no memory-safety requirements.
    let r = unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(e)
}

/// Ignore a signal (TTIN/TTOU: a background tend must not stop).
pub fn ignore_signal(sig: i32) {
    // SAFETY: SIG_IGN is a valid disposition for catchable signals.
    unsafe {
        libc::signal(sig, libc::SIG_IGN);
    }
}

/// Make tend a child subreaper: orphaned descendants are reparented to it.
#[cfg(target_os = "linux")]
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn set_child_subreaper() -> io::Result<()> {
    Ok(())
}

/// Move the terminal's foreground process group (`--interactive`).
pub fn tcsetpgrp(fd: RawFd, pgid: u32) -> io::Result<()> {
    // SAFETY: tcsetpgrp has no memory-safety requirements.
    check(unsafe { libc::tcsetpgrp(fd, pgid as libc::pid_t) })?;
    Ok(())
}

pub fn getpgrp() -> u32 {
    // SAFETY: getpgrp cannot fail.
    unsafe { libc::getpgrp() as u32 }
}

/// Look a user up: (uid, primary gid, home).
pub fn lookup_user(name: &str) -> Option<(u32, u32, String)> {
    if let Ok(uid) = name.parse::<u32>() {
        return Some((uid, uid, "/".to_string()));
    }
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: zeroed passwd is a valid out-buffer.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; `buf` outlives the
    // strings getpwnam_r points into, which are copied before return.
    let r = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut res,
        )
    };
    if r != 0 || res.is_null() {
        return None;
    }
    let home = if pw.pw_dir.is_null() {
        "/".to_string()
    } else {
        // SAFETY: pw_dir points into `buf`, NUL-terminated by getpwnam_r.
        unsafe { CStr::from_ptr(pw.pw_dir) }
            .to_string_lossy()
            .into_owned()
    };
    Some((pw.pw_uid, pw.pw_gid, home))
}

pub fn lookup_group(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: zeroed group is a valid out-buffer.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::group = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the duration of the call.
    let r = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut gr,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut res,
        )
    };
    if r != 0 || res.is_null() {
        return None;
    }
    Some(gr.gr_gid)
}
