//! Chunks: writing items as zstd frames (compressed on a worker thread) and
//! reading them back, tracking plaintext positions and SHA-256 as they go.
//! The byte layout is in `format`.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};

use super::format::{
    bad, Item, ItemRef, Trailer, CHUNK_BYTES, FOOTER_LEN, FOOTER_TAG, MAX_CHUNK, SKIP_CHUNK,
    SKIP_FOOTER,
};
use crate::error::{Error, Result};

/// Where the writer stands: the plaintext position, the hash of the region
/// since the previous mark, and the hash of everything so far.
pub(crate) struct Mark {
    pub pos: u64,
    pub region: [u8; 32],
    pub total: [u8; 32],
}

/// What the caller hands the pipeline, in order.
enum Msg {
    /// Items to compress into one frame.
    Chunk(Vec<u8>),
    Raw(Vec<u8>),
    Mark(std::sync::mpsc::SyncSender<Mark>),
}

/// What the compressor hands the writer, in the same order.
enum Out {
    /// A compressed chunk, to write behind its skippable-frame head.
    Frame(Vec<u8>),
    Raw(Vec<u8>),
    Mark(std::sync::mpsc::SyncSender<Mark>),
}

/// Writes items as chunks, in a pipeline beside the caller, who keeps
/// reading the store: one thread compresses, another hashes, encrypts and
/// writes (one thread for all of it was the bottleneck of a backup: zstd
/// alone is most of a core, and the three SHA-256 passes and age the rest).
/// At most a few chunks are in flight, so memory stays flat.
pub(crate) struct ChunkWriter<W: Write + Send + 'static> {
    tx: Option<std::sync::mpsc::SyncSender<Msg>>,
    compressor: Option<std::thread::JoinHandle<Result<()>>>,
    writer: Option<std::thread::JoinHandle<Result<W>>>,
    buf: Vec<u8>,
}

/// The worker's end: the output, its position and hashes.
struct Sink<W> {
    out: W,
    pos: u64,
    total: Sha256,
    region: Sha256,
}

impl<W: Write> Sink<W> {
    fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes)?;
        self.total.update(bytes);
        self.region.update(bytes);
        self.pos += bytes.len() as u64;
        Ok(())
    }
}

/// The first stage: compresses chunks into frames, passing everything else
/// on in order. Stops when the writer stopped (its error says why).
fn compressor(
    rx: std::sync::mpsc::Receiver<Msg>,
    tx: std::sync::mpsc::SyncSender<Out>,
) -> Result<()> {
    let mut zstd = zstd::bulk::Compressor::new(3)?;
    for msg in rx {
        let msg = match msg {
            Msg::Chunk(plain) => Out::Frame(zstd.compress(&plain)?),
            Msg::Raw(bytes) => Out::Raw(bytes),
            Msg::Mark(reply) => Out::Mark(reply),
        };
        if tx.send(msg).is_err() {
            break;
        }
    }
    Ok(())
}

/// The second stage: hashes and writes what the compressor passes on.
fn writer<W: Write>(out: W, rx: std::sync::mpsc::Receiver<Out>) -> Result<W> {
    let mut sink = Sink {
        out,
        pos: 0,
        total: Sha256::new(),
        region: Sha256::new(),
    };
    for msg in rx {
        match msg {
            Out::Frame(frame) => {
                let mut head = Vec::with_capacity(16);
                head.extend_from_slice(&SKIP_CHUNK.to_le_bytes());
                head.extend_from_slice(&8u32.to_le_bytes());
                head.extend_from_slice(&(frame.len() as u64).to_le_bytes());
                sink.emit(&head)?;
                sink.emit(&frame)?;
            }
            Out::Raw(bytes) => sink.emit(&bytes)?,
            Out::Mark(reply) => {
                let region = std::mem::take(&mut sink.region).finalize().into();
                let mark = Mark {
                    pos: sink.pos,
                    region,
                    total: sink.total.clone().finalize().into(),
                };
                // The caller waits on this reply; if it went away there is nobody to tell.
                let _ = reply.send(mark);
            }
        }
    }
    Ok(sink.out)
}

impl<W: Write + Send + 'static> ChunkWriter<W> {
    pub fn new(out: W) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let (frames, frames_rx) = std::sync::mpsc::sync_channel(2);
        let compressor = std::thread::spawn(move || compressor(rx, frames));
        let writer = std::thread::spawn(move || writer(out, frames_rx));
        ChunkWriter {
            tx: Some(tx),
            compressor: Some(compressor),
            writer: Some(writer),
            buf: Vec::with_capacity(CHUNK_BYTES + 4096),
        }
    }

    fn send(&mut self, msg: Msg) -> Result<()> {
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(msg).is_ok())
            .unwrap_or(false);
        if sent {
            Ok(())
        } else {
            // The worker stopped: its own error says why.
            Err(self
                .join()
                .err()
                .unwrap_or_else(|| Error::Io(std::io::Error::other("archive writer stopped"))))
        }
    }

    /// Stops the pipeline: the output, or the first stage's error.
    fn join(&mut self) -> Result<W> {
        self.tx = None;
        let failed = || Error::Io(std::io::Error::other("archive writer failed"));
        let compressed = match self.compressor.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(failed()),
        };
        let written = match self.writer.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(failed()),
        };
        compressed.and(written)
    }

    pub fn push(&mut self, item: &ItemRef<'_>) -> Result<()> {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        postcard::to_io(item, &mut self.buf)
            .map_err(|e| Error::Invalid(format!("cannot encode archive item: {e}")))?;
        let len = u32::try_from(self.buf.len() - start - 4)
            .map_err(|_| Error::Invalid("archive item too large".into()))?;
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        if self.buf.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands what is gathered to the worker as one chunk.
    pub fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES + 4096));
        self.send(Msg::Chunk(chunk))
    }

    /// Flushes and waits for the worker: where it stands, and the region
    /// hash since the previous mark (which starts a new region).
    pub fn mark(&mut self) -> Result<Mark> {
        self.flush()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(Msg::Mark(tx))?;
        match rx.recv() {
            Ok(m) => Ok(m),
            Err(_) => Err(self
                .join()
                .err()
                .unwrap_or_else(|| Error::Io(std::io::Error::other("archive writer stopped")))),
        }
    }

    /// Writes the trailer chunk and the footer; returns the inner writer.
    pub fn finish(mut self, trailer: &Trailer) -> Result<W> {
        let at = self.mark()?.pos;
        self.push(&ItemRef::Trailer(trailer))?;
        self.flush()?;
        let mut foot = Vec::with_capacity(FOOTER_LEN as usize);
        foot.extend_from_slice(&SKIP_FOOTER.to_le_bytes());
        foot.extend_from_slice(&16u32.to_le_bytes());
        foot.extend_from_slice(&at.to_le_bytes());
        foot.extend_from_slice(&FOOTER_TAG);
        self.send(Msg::Raw(foot))?;
        self.join()
    }
}

impl<W: Write + Send + 'static> Drop for ChunkWriter<W> {
    /// A writer given up on (an error) stops its workers and drops the
    /// output before the error goes on: an upload is aborted, a file closed,
    /// while the caller still waits (a process may exit right after).
    fn drop(&mut self) {
        if self.writer.is_some() {
            drop(self.join());
        }
    }
}

/// Reads one chunk's items; `None` at the footer. Tracks position and hash.
pub(crate) struct ChunkReader<R: Read> {
    inp: R,
    pub pos: u64,
    /// SHA-256 of every byte read since `new`.
    pub hash: Sha256,
    /// The raw bytes of the chunk `next` read last (for hashing regions).
    pub last: Vec<u8>,
}

impl<R: Read> ChunkReader<R> {
    pub fn new(inp: R, pos: u64) -> Self {
        ChunkReader {
            inp,
            pos,
            hash: Sha256::new(),
            last: Vec::new(),
        }
    }

    pub fn inner(&mut self) -> &mut R {
        &mut self.inp
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.inp.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => bad("truncated"),
            _ => crate::backup::crypto::read_error(e),
        })?;
        self.hash.update(&*buf);
        self.last.extend_from_slice(buf);
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// The next chunk's items, or `None` at the footer (returning the
    /// trailer offset it names).
    pub fn next(&mut self) -> Result<Chunk> {
        self.last.clear();
        let mut head = [0u8; 8];
        self.read_exact(&mut head)?;
        let (magic, size) = (
            u32::from_le_bytes([head[0], head[1], head[2], head[3]]),
            u32::from_le_bytes([head[4], head[5], head[6], head[7]]),
        );
        match (magic, size) {
            (SKIP_CHUNK, 8) => {
                let mut len = [0u8; 8];
                self.read_exact(&mut len)?;
                let len = u64::from_le_bytes(len);
                if len > MAX_CHUNK {
                    return Err(bad(format_args!(
                        "chunk of {len} bytes is larger than any crmstore writes"
                    )));
                }
                // Read what is there rather than allocate what the length claims.
                let mut frame = Vec::with_capacity(CHUNK_BYTES);
                (&mut self.inp)
                    .take(len)
                    .read_to_end(&mut frame)
                    .map_err(crate::backup::crypto::read_error)?;
                if frame.len() as u64 != len {
                    return Err(bad("truncated"));
                }
                self.hash.update(&frame);
                self.last.extend_from_slice(&frame);
                self.pos += len;
                let mut plain = Vec::with_capacity(CHUNK_BYTES);
                zstd::stream::read::Decoder::new(frame.as_slice())
                    .and_then(|d| d.take(MAX_CHUNK + 1).read_to_end(&mut plain))
                    .map_err(|e| bad(format_args!("chunk does not decompress: {e}")))?;
                if plain.len() as u64 > MAX_CHUNK {
                    return Err(bad("chunk decompresses to more than any crmstore writes"));
                }
                Ok(Chunk::Items(parse_items(&plain)?))
            }
            (SKIP_FOOTER, 16) => {
                let mut foot = [0u8; 16];
                self.read_exact(&mut foot)?;
                if foot[8..] != FOOTER_TAG {
                    return Err(bad("footer is damaged"));
                }
                let mut at = [0u8; 8];
                at.copy_from_slice(&foot[..8]);
                Ok(Chunk::Footer(u64::from_le_bytes(at)))
            }
            _ => Err(bad(format_args!(
                "unexpected bytes at offset {}",
                self.pos - 8
            ))),
        }
    }
}

pub(crate) enum Chunk {
    Items(Vec<Item>),
    Footer(u64),
}

fn parse_items(mut plain: &[u8]) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    while !plain.is_empty() {
        let (len, rest) = plain
            .split_at_checked(4)
            .ok_or_else(|| bad("item length cut short"))?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (body, rest) = rest
            .split_at_checked(len)
            .ok_or_else(|| bad("item cut short"))?;
        items.push(
            postcard::from_bytes(body)
                .map_err(|e| bad(format_args!("item does not decode: {e}")))?,
        );
        plain = rest;
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::format::Counts;

    #[test]
    fn borrowed_and_owned_items_encode_alike() {
        let owned = Item::Trashed(3, 9, vec![1, 2, 250]);
        let borrowed = ItemRef::Trashed(3, 9, &[1, 2, 250]);
        assert_eq!(
            postcard::to_allocvec(&owned).unwrap(),
            postcard::to_allocvec(&borrowed).unwrap()
        );
        let t = Trailer {
            accounts: vec![],
            totals: Counts::default(),
            digest: [7; 32],
        };
        assert_eq!(
            postcard::to_allocvec(&Item::Trailer(t.clone())).unwrap(),
            postcard::to_allocvec(&ItemRef::Trailer(&t)).unwrap()
        );
    }

    #[test]
    fn a_written_stream_reads_back() {
        let mut w = ChunkWriter::new(Vec::new());
        w.push(&ItemRef::Account(4)).unwrap();
        let m = w.mark().unwrap();
        w.push(&ItemRef::Record(1, b"abc")).unwrap();
        let t = Trailer {
            accounts: vec![],
            totals: Counts::default(),
            digest: [0; 32],
        };
        let bytes = w.finish(&t).unwrap();
        let mut r = ChunkReader::new(bytes.as_slice(), 0);
        let Chunk::Items(a) = r.next().unwrap() else {
            panic!()
        };
        assert_eq!(a, [Item::Account(4)]);
        assert_eq!(r.pos, m.pos);
        let Chunk::Items(b) = r.next().unwrap() else {
            panic!()
        };
        assert_eq!(b, [Item::Record(1, b"abc".to_vec())]);
        let Chunk::Items(c) = r.next().unwrap() else {
            panic!()
        };
        assert_eq!(c, [Item::Trailer(t)]);
        assert!(matches!(r.next().unwrap(), Chunk::Footer(_)));
    }

    /// Takes `left` bytes, then fails as a full disk does.
    struct Full {
        left: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left < buf.len() {
                return Err(std::io::Error::other("disk full"));
            }
            self.left -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_stops_the_pipeline_with_its_own_error() {
        let mut w = ChunkWriter::new(Full { left: 100 });
        let body = vec![7u8; 4096];
        // Chunks go out until the output refuses one; then a push, mark or
        // finish reports the output's error, never a generic one or a hang.
        let mut failed = None;
        for id in 0..10_000u64 {
            if let Err(e) = w.push(&ItemRef::Record(id, &body)) {
                failed = Some(e);
                break;
            }
        }
        let e = match failed {
            Some(e) => e,
            None => w.mark().map(|_| ()).unwrap_err(),
        };
        assert!(e.to_string().contains("disk full"), "{e}");
    }
}
