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

    /// Append the lines of `data`, which end at the offsets `ends` (each
    /// line newline-terminated), rotating between lines as needed, without
    /// copying them: the common case is one write of the whole batch.
    pub fn append_batch(&mut self, data: &[u8], ends: &[usize]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.verify();
        self.open()?;
        let mut start = 0;
        let mut k = 0;
        while start < data.len() {
            // The last line end that still fits; at least one line.
            let room = self.max_size.saturating_sub(self.size) as usize;
            let fit = ends[k..].partition_point(|&e| e - start <= room);
            let (end, next_k) = if fit > 0 {
                (ends[k + fit - 1], k + fit)
            } else if self.size > 0 {
                self.rotate()?;
                continue;
            } else {
                // One line longer than max_size: written whole.
                (ends[k], k + 1)
            };
            let res = match self.file.as_mut() {
                Some(f) => f.write_all(&data[start..end]),
                None => Ok(()),
            };
            if let Err(e) = res {
                self.file = None;
                return Err(e);
            }
            self.size += (end - start) as u64;
            start = end;
            k = next_k;
            if start < data.len() {
                self.rotate()?;
            }
        }
        Ok(())
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
    pub fn feed(&mut self, mut data: &[u8], emit: &mut impl FnMut(&[u8])) {
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
                        for piece in self.partial.chunks(MAX_LINE) {
                            emit(piece);
                        }
                        self.partial.clear();
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
    pub fn finish(&mut self, emit: &mut impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            let p = std::mem::take(&mut self.partial);
            emit(&p);
        }
    }
}

/// The first `b` in `s`, eight bytes at a time (the classic "has zero
/// byte" word trick): the output path scans every byte a child writes.
fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(b);
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[i..i + 8]);
        let x = u64::from_le_bytes(word) ^ pattern;
        if x.wrapping_sub(LO) & !x & HI != 0 {
            break;
        }
        i += 8;
    }
    s[i..].iter().position(|&c| c == b).map(|p| p + i)
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
    fn memchr_finds_the_first_newline_at_every_offset() {
        for len in 0..40 {
            for at in 0..=len {
                let mut v = vec![b'x'; len];
                if at < len {
                    v[at] = b'\n';
                    if at + 3 < len {
                        v[at + 3] = b'\n';
                    }
                }
                let want = if at < len { Some(at) } else { None };
                assert_eq!(memchr(b'\n', &v), want, "len {len} at {at}");
            }
        }
        // Bytes that trip naive word tricks (0x80, 0x8a = '\n' | 0x80).
        assert_eq!(
            memchr(
                b'\n',
                &[0x8a, 0x80, 0x0b, 0x09, 0xff, 0x8a, 0x80, 0x00, b'\n']
            ),
            Some(8)
        );
    }

    #[test]
    fn a_batch_rotates_between_its_lines() {
        let tmp = crate::testutil::TempDir::new("batch");
        let dir = &tmp.0;
        let mut f = LogFile::new(dir.join("b.log"), 100, 10);
        // 30 lines of 10 bytes in one batch: 3 full files of 100 bytes.
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for i in 0..30 {
            data.extend_from_slice(format!("line {i:04}\n").as_bytes());
            ends.push(data.len());
        }
        f.append_batch(&data, &ends).unwrap();
        let mut all = String::new();
        for name in ["b.log.2", "b.log.1", "b.log"] {
            let s = std::fs::read_to_string(dir.join(name)).unwrap();
            assert_eq!(s.len(), 100, "{name}");
            all.push_str(&s);
        }
        assert_eq!(all.as_bytes(), &data[..]);
        // A line longer than max_size is written whole, alone.
        let long = vec![b'y'; 150];
        let mut l = long.clone();
        l.push(b'\n');
        f.append_batch(&l, &[l.len()]).unwrap();
        assert_eq!(std::fs::read(dir.join("b.log")).unwrap(), l);
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
        let tmp = crate::testutil::TempDir::new("rotation");
        let dir = &tmp.0;
        let mut f = LogFile::new(dir.join("x.log"), 100, 3);
        let lines: Vec<String> = (0..50).map(|i| format!("line {i:04}\n")).collect();
        for l in &lines {
            f.append_batch(l.as_bytes(), &[l.len()]).unwrap();
        }
        let mut got = Vec::new();
        for name in ["x.log.3", "x.log.2", "x.log.1", "x.log"] {
            if let Ok(s) = std::fs::read_to_string(dir.join(name)) {
                assert!(s.len() <= 100, "{name} too big");
                got.extend(s.lines().map(String::from));
            }
        }
        // Ten 10-byte lines fill a file; keep=3 leaves NAME.log and three
        // rotated files: the last 40 lines, in order, once; 0..10 deleted.
        let want: Vec<String> = lines.iter().map(|l| l.trim_end().to_string()).collect();
        assert_eq!(got, want[10..], "{got:?}");
        // The directory disappears: the next write recreates it.
        std::fs::remove_dir_all(dir).unwrap();
        f.verify();
        f.append(b"again\n").unwrap();
        assert!(std::fs::read_to_string(dir.join("x.log"))
            .unwrap()
            .contains("again"));
    }
}
