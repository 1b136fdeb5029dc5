//! The PID lock: `DIR/tend.pid` holds tend's PID under an exclusive
//! advisory lock (flock) for tend's whole life. A second tend on the same
//! DIR fails and names the holder. The kernel drops the lock when its
//! holder dies, so a lock left by a killed tend is simply taken over.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub struct PidLock {
    path: PathBuf,
    /// Holds the flock for as long as tend lives.
    _file: File,
}

pub enum LockError {
    /// Another tend holds it (its PID, when readable).
    Held {
        path: PathBuf,
        pid: Option<u32>,
    },
    Io {
        path: PathBuf,
        error: io::Error,
    },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "another tend (pid {pid}) is running on {}",
                path.parent().unwrap_or(path).display()
            ),
            LockError::Held { path, pid: None } => write!(
                f,
                "another tend is running on {}",
                path.parent().unwrap_or(path).display()
            ),
            LockError::Io { path, error } => write!(f, "cannot lock {}: {error}", path.display()),
        }
    }
}

impl PidLock {
    pub fn acquire(path: &Path) -> Result<PidLock, LockError> {
        let io_err = |error| LockError::Io {
            path: path.to_path_buf(),
            error,
        };
        for _ in 0..10 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(io_err)?;
            if !super::ffi::try_lock(file.as_raw_fd()).map_err(io_err)? {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                return Err(LockError::Held {
                    path: path.to_path_buf(),
                    pid: s.trim().parse().ok(),
                });
            }
            // The previous holder may have unlinked the file between our
            // open and our lock: then we locked a ghost; try again.
            let same = match (file.metadata(), std::fs::metadata(path)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            file.set_len(0).map_err(io_err)?;
            file.rewind().map_err(io_err)?;
            writeln!(file, "{}", super::ffi::getpid()).map_err(io_err)?;
            return Ok(PidLock {
                path: path.to_path_buf(),
                _file: file,
            });
        }
        Err(io_err(io::Error::other("the lock file keeps changing")))
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock, so nobody locks a file that
        // is about to disappear.
        let _ = std::fs::remove_file(&self.path);
    }
}
