//! Log files: `DIR/logs/NAME.log` (and `events.jsonl`), appended in whole
//! lines and rotated to `NAME.log.1` … `NAME.log.KEEP` at `max_size`.
//! Rotation happens only between lines, so no line is split or written
//! twice. A log directory that vanished is recreated on the next write;
//! failures are returned for the caller to report (rate-limited there),
//! never raised: children keep running whatever the disk does.
//!
//! Also `LineSplitter`: a child's pipe bytes → complete lines, with lines
//! longer than 64 KiB split and a last partial line kept until EOF.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Longest line kept whole; longer ones are split into pieces this size.
pub const MAX_LINE: usize = 64 * 1024;

pub struct LogFile {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_size: u64,
    keep: u32,
}

impl LogFile {
    pub fn new(path: PathBuf, max_size: u64, keep: u32) -> LogFile {
        LogFile {
            path,
            file: None,
            size: 0,
            max_size: max_size.max(1),
            keep,
        }
    }

    fn open(&mut self) -> io::Result<()> {
        if self.file.is_some() {
            return Ok(());
        }
        let open = |p: &Path| OpenOptions::new().create(true).append(true).open(p);
        let f = match open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(dir) = self.path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                open(&self.path)?
            }
            Err(e) => return Err(e),
        };
        self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
        self.file = Some(f);
        Ok(())
    }

    /// Rotate: NAME.log.(k-1) → NAME.log.k, …, NAME.log → NAME.log.1.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let name = |k: u32| {
            let mut s = self.path.clone().into_os_string();
            s.push(format!(".{k}"));
            PathBuf::from(s)
        };
        if self.keep == 0 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            let _ = std::fs::remove_file(name(self.keep));
            for k in (1..self.keep).rev() {
                let _ = std::fs::rename(name(k), name(k + 1));
            }
            std::fs::rename(&self.path, name(1))?;
        }
        self.size = 0;
        self.open()
    }

    /// Append whole lines (`data` ends with a newline). Rotates first when
    /// they would push the file past `max_size` (a single batch larger than
    /// max_size is written whole rather than split).
    pub fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        // A file deleted under us (its directory removed, an outside
        // rotation) would swallow every line written to it: check first.
        self.verify();
        self.open()?;
        if self.size > 0 && self.size + data.len() as u64 > self.max_size {
            self.rotate()?;
        }
        let res = match self.file.as_mut() {
            Some(f) => f.write_all(data),
            None => Ok(()),
        };
        match res {
            Ok(()) => {
                self.size += data.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Reopen next time: the file or its directory may be gone.
                self.file = None;
                Err(e)
            }
        }
    }

    /// Append many lines, each already newline-terminated, rotating
    /// between lines as needed.
    pub fn append_lines<'a>(&mut self, lines: impl Iterator<Item = &'a [u8]>) -> io::Result<()> {
        let mut batch: Vec<u8> = Vec::new();
        let mut first_err = None;
        for line in lines {
            if self.size + (batch.len() + line.len()) as u64 > self.max_size && !batch.is_empty() {
                if let Err(e) = self.append(&batch) {
                    first_err.get_or_insert(e);
                }
                batch.clear();
            }
            batch.extend_from_slice(line);
        }
        if let Err(e) = self.append(&batch) {
            first_err.get_or_insert(e);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// If the file was deleted or moved away under us (its directory
    /// removed, an outside logrotate), drop it so the next write recreates
    /// it. Costs a stat and an fstat per batch of lines.
    pub fn verify(&mut self) {
        use std::os::unix::fs::MetadataExt;
        let Some(f) = &self.file else { return };
        let same = match (f.metadata(), std::fs::metadata(&self.path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if !same {
            self.file = None;
        }
    }
}

/// Bytes from a pipe → complete lines.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feed bytes; `emit` gets each complete line without its newline.
    pub fn feed(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8])) {
        while !data.is_empty() {
            match memchr(b'\n', data) {
                Some(i) => {
                    let (line, rest) = data.split_at(i);
                    if self.partial.is_empty() {
                        for piece in line.chunks(MAX_LINE) {
                            emit(piece);
                        }
                        if line.is_empty() {
                            emit(line);
                        }
                    } else {
                        self.partial.extend_from_slice(line);
                        let p = std::mem::take(&mut self.partial);
                        for piece in p.chunks(MAX_LINE) {
                            emit(piece);
                        }
                    }
                    data = &rest[1..];
                }
                None => {
                    self.partial.extend_from_slice(data);
                    data = &[];
                    while self.partial.len() >= MAX_LINE {
                        let rest = self.partial.split_off(MAX_LINE);
                        let piece = std::mem::replace(&mut self.partial, rest);
                        emit(&piece);
                    }
                }
            }
        }
    }

    /// EOF: the last line without a newline, if any.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.partial.is_empty() {
            let p = std::mem::take(&mut self.partial);
            emit(&p);
        }
    }
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut |l| out.push(l.to_vec()));
        }
        s.finish(&mut |l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn splits_lines_across_chunks() {
        assert_eq!(
            split(&[b"a\nb", b"c\n", b"\nd"]),
            vec![b"a".to_vec(), b"bc".to_vec(), b"".to_vec(), b"d".to_vec()]
        );
    }

    #[test]
    fn long_lines_are_split_at_64k() {
        let big = vec![b'x'; MAX_LINE * 2 + 10];
        let mut data = big.clone();
        data.push(b'\n');
        for chunking in [1usize, 7, 4096, 65536, data.len()] {
            let chunks: Vec<&[u8]> = data.chunks(chunking).collect();
            let out = split(&chunks);
            assert_eq!(
                out.iter().map(|l| l.len()).collect::<Vec<_>>(),
                vec![MAX_LINE, MAX_LINE, 10],
                "chunking {chunking}"
            );
        }
    }

    #[test]
    fn rotation_keeps_every_line_once() {
        let dir = std::env::temp_dir().join(format!("tend-logs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut f = LogFile::new(dir.join("x.log"), 100, 3);
        let lines: Vec<String> = (0..50).map(|i| format!("line {i:04}\n")).collect();
        for l in &lines {
            f.append_lines(std::iter::once(l.as_bytes())).unwrap();
        }
        let mut got = Vec::new();
        for name in ["x.log.3", "x.log.2", "x.log.1", "x.log"] {
            if let Ok(s) = std::fs::read_to_string(dir.join(name)) {
                assert!(s.len() <= 100, "{name} too big");
                got.extend(s.lines().map(String::from));
            }
        }
        // keep=3: the oldest lines were deleted, the rest are in order, once.
        let want: Vec<String> = lines.iter().map(|l| l.trim_end().to_string()).collect();
        assert!(want.ends_with(&got), "{got:?}");
        assert!(got.len() >= 30);
        // The directory disappears: the next write recreates it.
        std::fs::remove_dir_all(&dir).unwrap();
        f.verify();
        f.append(b"again\n").unwrap();
        assert!(std::fs::read_to_string(dir.join("x.log"))
            .unwrap()
            .contains("again"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
