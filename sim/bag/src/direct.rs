//! Positioned reads of byte ranges that bypass the page cache (`O_DIRECT`) where the file system
//! allows it, else ordinary reads.
//!
//! A replay reads each MCAP chunk once. A buffered read copies it through the page cache, and on
//! the virtual machines this project runs on that copy cost more CPU than decoding the bag: for
//! a 157 MB bag, `dd` took 0.5-1.2 s of system time buffered and 0.02 s with `iflag=direct`, and
//! `_copy_to_iter` was a third of a lidar-only replay's profile. A direct read goes by DMA into
//! a reused, aligned buffer. File systems without `O_DIRECT` (tmpfs) refuse it at open or at the
//! first read; then reads fall back to the page cache for good.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Alignment of offsets, lengths and buffer addresses for direct reads (the largest logical
/// block size in use).
const ALIGN: usize = 4096;

/// Reads byte ranges of one file into a buffer it reuses.
pub struct RangeReader {
    file: File,
    direct: Option<File>,
    buf: Vec<u8>,
}

impl RangeReader {
    /// Reads `file` (already open); also opens `path` for direct reads when it can.
    pub fn new(path: &Path, file: File) -> Self {
        Self {
            file,
            direct: open_direct(path),
            buf: Vec::new(),
        }
    }

    /// The `length` bytes at `offset`; an error if the file ends first.
    pub fn read(&mut self, offset: u64, length: usize) -> io::Result<&[u8]> {
        if let Some(direct) = &self.direct {
            let start = offset - offset % ALIGN as u64;
            let head = (offset - start) as usize;
            let span = (head + length).div_ceil(ALIGN) * ALIGN;
            self.buf.resize(span + ALIGN, 0);
            let pad = self.buf.as_ptr().align_offset(ALIGN);
            match read_up_to(direct, &mut self.buf[pad..pad + span], start) {
                Ok(n) if n >= head + length => {
                    return Ok(&self.buf[pad + head..pad + head + length]);
                }
                Ok(_) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => self.direct = None,
                Err(e) => return Err(e),
            }
        }
        self.buf.resize(length, 0);
        self.file.read_exact_at(&mut self.buf, offset)?;
        Ok(&self.buf)
    }
}

/// Reads into `buf` from `offset` until it is full or the file ends; the bytes read.
fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> Option<File> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges at unaligned offsets, across block edges and up to the end of a file whose length
    /// is no multiple of the block, read the same as the bytes written; past the end is an error.
    #[test]
    fn ranges_read_back_exactly_direct_or_not() {
        let dir = std::env::temp_dir().join(format!("fusionrt-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.bin");
        let bytes: Vec<u8> = (0..3 * ALIGN + 123).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut reader = RangeReader::new(&path, File::open(&path).unwrap());
        let ranges = [
            (0, 10),
            (5, ALIGN),
            (ALIGN - 1, 2),
            (ALIGN, ALIGN),
            (2 * ALIGN + 100, ALIGN + 23),
            (bytes.len() - 1, 1),
        ];
        for (offset, length) in ranges {
            let got = reader.read(offset as u64, length).unwrap();
            assert_eq!(got, &bytes[offset..offset + length], "{offset}+{length}");
        }
        assert!(reader.read(bytes.len() as u64 - 5, 10).is_err());
        // The same through the page cache.
        reader.direct = None;
        assert_eq!(reader.read(7, 5000).unwrap(), &bytes[7..5007]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
