//! An object read with ranged GETs, as `Read + Seek`: what lets age's
//! seekable stream decrypt one account out of a remote full archive while
//! fetching only that account's frames (and the trailer that locates them).
//!
//! Reads fetch a window ahead; the window doubles while reading goes on in
//! order (from 256 KiB to 8 MiB, so a whole-archive read takes few requests)
//! and starts small again after a seek (so a jump costs little).

use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;

use super::Remote;

const FIRST_WINDOW: u64 = 256 << 10;
const LAST_WINDOW: u64 = 8 << 20;

pub(crate) struct RangedReader {
    remote: Remote,
    name: String,
    size: u64,
    pos: u64,
    /// Bytes fetched, and where they start.
    window: Bytes,
    window_at: u64,
    next_len: u64,
}

impl RangedReader {
    pub(super) fn new(remote: Remote, name: String, size: u64) -> RangedReader {
        RangedReader {
            remote,
            name,
            size,
            pos: 0,
            window: Bytes::new(),
            window_at: 0,
            next_len: FIRST_WINDOW,
        }
    }

    /// The object's URL (what errors name).
    pub(crate) fn url(&self) -> String {
        self.remote.url_of(&self.name)
    }
}

impl Read for RangedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let end = self.window_at + self.window.len() as u64;
        if !(self.window_at..end).contains(&self.pos) {
            let sequential = self.pos == end && !self.window.is_empty();
            self.next_len = if sequential {
                (self.next_len * 2).min(LAST_WINDOW)
            } else {
                FIRST_WINDOW
            };
            let to = self.pos.saturating_add(self.next_len).min(self.size);
            let got = self
                .remote
                .get_range(&self.name, self.pos..to)
                .map_err(|e| match e {
                    crate::Error::Io(e) => e,
                    other => std::io::Error::other(other.to_string()),
                })?;
            if got.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("`{}` ends early", self.url()),
                ));
            }
            self.window = got;
            self.window_at = self.pos;
        }
        // In the window: the offset fits in usize as the window's length does.
        let from = usize::try_from(self.pos - self.window_at).unwrap_or(usize::MAX);
        let have = self.window.get(from..).unwrap_or_default();
        let n = have.len().min(buf.len());
        buf[..n].copy_from_slice(&have[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangedReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        self.pos = target;
        Ok(target)
    }
}
