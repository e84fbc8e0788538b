//! An archive streamed up as a multipart upload: invisible until complete,
//! aborted on any failure (an upload neither completed nor aborted is billed
//! and invisible, so a bucket lifecycle rule should end stragglers a kill
//! left: docs/operations.md).
//!
//! Memory stays bounded: one part being filled and at most [`IN_FLIGHT`]
//! parts on their way, each [`PART`] bytes.

use std::io::Write;

use bytes::Bytes;
use object_store::{MultipartUpload, PutPayload, PutResult};
use tokio::task::JoinSet;

use super::{block_on, failed, io_failed, Remote};
use crate::error::{Error, Result};

/// The size of every part but the last (providers ask for at least 5 MiB).
pub(crate) const PART: usize = 8 << 20;

/// Parts uploading at once.
const IN_FLIGHT: usize = 2;

pub(crate) struct Upload {
    /// `None` once completed or aborted.
    upload: Option<Box<dyn MultipartUpload>>,
    buffer: Vec<u8>,
    tasks: JoinSet<object_store::Result<()>>,
    rt: &'static tokio::runtime::Runtime,
    url: String,
    /// The first part that failed: every later write refuses.
    broken: Option<String>,
    parts: usize,
}

impl Upload {
    pub(super) fn start(remote: &Remote, name: &str) -> Result<Upload> {
        let url = remote.url_of(name);
        let upload = remote.run(object_store::ObjectStoreExt::put_multipart(
            remote.store.as_ref(),
            &remote.key(name),
        ));
        let upload = upload.map_err(|e| failed("cannot start uploading", &url, &e))?;
        Ok(Upload {
            upload: Some(upload),
            buffer: Vec::with_capacity(PART),
            tasks: JoinSet::new(),
            rt: remote.rt,
            url,
            broken: None,
            parts: 0,
        })
    }

    /// Waits until fewer than `most` parts are on their way; the first
    /// failure breaks the upload.
    fn drain_to(&mut self, most: usize) -> std::io::Result<()> {
        while self.tasks.len() > most {
            let joined = block_on(self.rt, self.tasks.join_next());
            let failure = match joined {
                Some(Ok(Ok(()))) | None => continue,
                Some(Ok(Err(e))) => io_failed("cannot upload", &self.url, &e).to_string(),
                Some(Err(e)) => format!("cannot upload `{}`: {e}", self.url),
            };
            self.broken = Some(failure.clone());
            return Err(std::io::Error::other(failure));
        }
        Ok(())
    }

    fn send(&mut self, part: Bytes) -> std::io::Result<()> {
        self.drain_to(IN_FLIGHT - 1)?;
        let Some(upload) = self.upload.as_mut() else {
            let gone = format!("`{}` is no longer being uploaded", self.url);
            return Err(std::io::Error::other(gone));
        };
        let put = upload.put_part(PutPayload::from(part));
        self.tasks.spawn_on(put, self.rt.handle());
        self.parts += 1;
        Ok(())
    }

    /// Sends what is left, waits for every part and completes the upload:
    /// the object appears whole. On any failure the upload is aborted.
    pub(crate) fn finish(mut self) -> Result<PutResult> {
        let rest = Bytes::from(std::mem::take(&mut self.buffer));
        // An empty object still takes one (empty) part.
        let sent = if rest.is_empty() && self.parts > 0 {
            Ok(())
        } else {
            self.send(rest)
        };
        let done = sent.and_then(|()| self.drain_to(0)).and_then(|()| {
            let upload = self
                .upload
                .as_mut()
                .ok_or_else(|| std::io::Error::other(format!("`{}` was aborted", self.url)))?;
            let completed = block_on(self.rt, upload.complete());
            completed.map_err(|e| io_failed("cannot complete the upload of", &self.url, &e))
        });
        match done {
            Ok(result) => {
                self.upload = None;
                Ok(result)
            }
            Err(e) => Err(Error::Io(self.abort(e))),
        }
    }

    /// Aborts the upload (dropped parts are invisible, and billed until
    /// aborted); `e` is what went wrong, with a word when the abort failed too.
    fn abort(&mut self, e: std::io::Error) -> std::io::Error {
        self.tasks.abort_all();
        let Some(mut upload) = self.upload.take() else {
            return e;
        };
        match block_on(self.rt, upload.abort()) {
            Ok(()) => e,
            Err(a) => std::io::Error::other(format!(
                "{e}; the upload could not be aborted either ({}): a bucket lifecycle rule \
                 removes it (docs/operations.md)",
                io_failed("cannot abort", &self.url, &a)
            )),
        }
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(why) = &self.broken {
            return Err(std::io::Error::other(why.clone()));
        }
        self.buffer.extend_from_slice(buf);
        while self.buffer.len() >= PART {
            let rest = self.buffer.split_off(PART);
            let part = Bytes::from(std::mem::replace(&mut self.buffer, rest));
            self.buffer.reserve(PART);
            self.send(part)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Upload {
    /// An upload dropped before it completed (a failed backup) is aborted.
    fn drop(&mut self) {
        if self.upload.is_some() {
            drop(self.abort(std::io::Error::other("stopped")));
        }
    }
}
