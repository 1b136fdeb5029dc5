//! Watching for the STOP file without waking up: inotify on the file's
//! directory (Linux). Elsewhere, or when the directory cannot be watched,
//! `new` fails and the loop falls back to looking every 500 ms.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

pub struct StopWatch {
    fd: OwnedFd,
}

impl StopWatch {
    #[cfg(target_os = "linux")]
    pub fn new(stop_file: &Path) -> io::Result<StopWatch> {
        use std::os::unix::ffi::OsStrExt;
        let dir = match stop_file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let cdir = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: inotify_init1 takes flags only.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd we own from here on.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
        let mask = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE | libc::IN_ATTRIB;
        // SAFETY: `cdir` is a valid NUL-terminated path for the call.
        let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), cdir.as_ptr(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(StopWatch { fd })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn new(_stop_file: &Path) -> io::Result<StopWatch> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Consume pending notifications; the caller then checks the file.
    pub fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = super::ffi::read(self.fd.as_raw_fd(), &mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}
