//! Archives on object storage (S3, GCS, Azure) through `object_store`: a
//! backup destination given as `s3://bucket/prefix`, `gs://...` or
//! `az://...` (DESIGN.md "Growing past one machine").
//!
//! Credentials, region and endpoint come from each provider's standard
//! environment variables (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`,
//! `GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`, ...), never from
//! the command line. Errors name the URL and what failed, with every
//! credential the environment holds and every URL query (a SAS token) cut
//! out. The library is synchronous: requests run on one process-wide tokio
//! runtime ([`block_on`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutPayload, RetryConfig,
};

use crate::error::{Error, Result};

pub(crate) mod folder;
mod ranged;
mod upload;

pub(crate) use ranged::RangedReader;
pub(crate) use upload::Upload;

/// The URL schemes read as object storage; anything else is a local path
/// (`file:///p` is the folder `/p`).
const SCHEMES: [&str; 3] = ["s3://", "gs://", "az://"];

/// How many times a failed request is retried (with exponential backoff
/// from 100 ms, at most 15 s apart) before the error is reported;
/// `CRMSTORE_REMOTE_RETRIES` changes it.
const RETRIES: usize = 10;

/// The largest sidecar read: a sidecar is a few KiB per account; anything
/// far larger is not one (the folder is not trusted).
const MAX_SIDECAR: u64 = 64 << 20;

/// A folder on object storage: a bucket (or container) and a prefix.
pub(crate) struct Remote {
    store: Arc<dyn ObjectStore>,
    /// `scheme://bucket[/prefix]`, without a trailing slash: what names every
    /// archive in errors and listings.
    url: String,
    prefix: String,
    rt: &'static tokio::runtime::Runtime,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Remote({})", self.url)
    }
}

/// A backup folder or archive as given on a command line or in `serve`'s
/// config: a path, `file:///path` (that path), or an object storage URL
/// (kept as it is; the backup functions take it as their path).
///
/// # Errors
/// `Invalid` for a `file://` URL naming another host.
pub fn destination(given: &str) -> Result<std::path::PathBuf> {
    match given.strip_prefix("file://") {
        Some(path) if path.starts_with('/') => Ok(path.into()),
        Some(_) => Err(Error::Invalid(format!(
            "`{given}`: a file URL names a path on this machine (file:///path)"
        ))),
        None => Ok(given.into()),
    }
}

/// The runtime every request to object storage runs on: one per process,
/// started on first use and never dropped (a runtime dropped inside an
/// application's async code panics). `None` when it could not start.
fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("crmstore-remote")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

/// Runs `f` to its end on `rt`. The library is synchronous, but may be called
/// from inside an application's async runtime (or `serve`'s blocking pool),
/// where tokio refuses to block on another runtime: there a thread of its own
/// waits instead.
pub(super) fn block_on<F>(rt: &'static tokio::runtime::Runtime, f: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return rt.block_on(f);
    }
    std::thread::scope(|s| match s.spawn(|| rt.block_on(f)).join() {
        Ok(out) => out,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Whether `p` names object storage (a URL of a scheme [`Remote`] takes).
pub(crate) fn is_remote(p: &Path) -> bool {
    p.to_str()
        .is_some_and(|s| SCHEMES.iter().any(|scheme| s.starts_with(scheme)))
}

impl Remote {
    /// The folder at `url` (`s3://bucket/prefix`).
    ///
    /// # Errors
    /// `Invalid` for a URL that names no bucket or a provider this build
    /// cannot reach; `Io` when the client cannot be built (missing region,
    /// unreadable credentials), naming the URL.
    pub(crate) fn open(url: &str) -> Result<Remote> {
        let trimmed = url.trim_end_matches('/');
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| Error::Invalid(format!("`{url}` is not a URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || prefix.split('/').any(|s| s == ".." || s == ".") {
            return Err(Error::Invalid(format!(
                "`{url}` names no bucket, or a prefix with `.`/`..`"
            )));
        }
        let base = format!("{scheme}://{bucket}");
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: std::env::var("CRMSTORE_REMOTE_RETRIES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(RETRIES),
            retry_timeout: Duration::from_secs(180),
        };
        let built: object_store::Result<Arc<dyn ObjectStore>> = match scheme {
            "s3" => object_store::aws::AmazonS3Builder::from_env()
                .with_url(base)
                .with_retry(retry)
                .build()
                .map(|s| Arc::new(s) as _),
            "gs" => object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(base)
                .with_retry(retry)
                .build()
                .map(|s| Arc::new(s) as _),
            "az" => object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(base)
                .with_retry(retry)
                .build()
                .map(|s| Arc::new(s) as _),
            other => {
                return Err(Error::Invalid(format!(
                    "`{url}`: `{other}://` is not object storage crmstore knows (s3, gs, az)"
                )))
            }
        };
        let store = built.map_err(|e| failed("cannot reach", trimmed, &e))?;
        let rt = runtime().ok_or_else(|| {
            Error::Io(std::io::Error::other(format!(
                "cannot start the object storage client for `{trimmed}`"
            )))
        })?;
        Ok(Remote {
            store,
            url: trimmed.to_string(),
            prefix: prefix.to_string(),
            rt,
        })
    }

    /// The archive at `url`: its folder, and its name there.
    ///
    /// # Errors
    /// As [`Remote::open`]; `Invalid` for a URL that ends in no file name.
    pub(crate) fn open_file(url: &str) -> Result<(Remote, String)> {
        let (dir, name) = url
            .rsplit_once('/')
            .filter(|(d, n)| !n.is_empty() && d.contains("://") && !d.ends_with(':'))
            .ok_or_else(|| Error::Invalid(format!("`{url}` names no archive")))?;
        Ok((Remote::open(dir)?, name.to_string()))
    }

    /// The URL of `name` in this folder.
    pub(crate) fn url_of(&self, name: &str) -> String {
        format!("{}/{name}", self.url)
    }

    fn key(&self, name: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(name)
        } else {
            Key::from(format!("{}/{name}", self.prefix))
        }
    }

    fn run<F>(&self, f: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        block_on(self.rt, f)
    }

    /// Every object directly in this folder, by name (deeper "folders" left out).
    pub(crate) fn list(&self) -> Result<Vec<(String, ObjectMeta)>> {
        let prefix = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        let listed = self.run(self.store.list_with_delimiter(prefix.as_ref()));
        let listed = listed.map_err(|e| failed("cannot list", &self.url, &e))?;
        Ok(listed
            .objects
            .into_iter()
            .filter_map(|m| Some((m.location.filename()?.to_string(), m)))
            .collect())
    }

    /// The object `name`, when it is at most `MAX_SIDECAR` bytes.
    /// One request: the response's size is checked before its body is read.
    pub(crate) fn get_small(&self, name: &str) -> Result<Bytes> {
        let url = self.url_of(name);
        let got = self.run(async {
            let got = self.store.get(&self.key(name)).await?;
            if got.meta.size > MAX_SIDECAR {
                return Ok(None);
            }
            got.bytes().await.map(Some)
        });
        got.map_err(|e| failed("cannot read", &url, &e))?
            .ok_or_else(|| Error::Invalid(format!("`{url}` is too large for a sidecar")))
    }

    pub(crate) fn head(&self, name: &str) -> Result<ObjectMeta> {
        let head = self.run(self.store.head(&self.key(name)));
        head.map_err(|e| failed("cannot read", &self.url_of(name), &e))
    }

    /// Bytes `range` of `name`.
    pub(crate) fn get_range(&self, name: &str, range: std::ops::Range<u64>) -> Result<Bytes> {
        let got = self.run(self.store.get_range(&self.key(name), range));
        got.map_err(|e| failed("cannot read", &self.url_of(name), &e))
    }

    /// Writes `bytes` as `name`; with `create`, only where no object is
    /// (where the provider can say so: otherwise it overwrites).
    pub(crate) fn put(&self, name: &str, bytes: Vec<u8>, create: bool) -> Result<()> {
        let key = self.key(name);
        let payload = PutPayload::from(bytes);
        let mode = if create {
            PutMode::Create
        } else {
            PutMode::Overwrite
        };
        let put = self.run(async {
            match self
                .store
                .put_opts(&key, payload.clone(), mode.into())
                .await
            {
                Err(object_store::Error::NotImplemented { .. }) => {
                    self.store.put(&key, payload).await
                }
                other => other,
            }
        });
        put.map(drop)
            .map_err(|e| failed("cannot write", &self.url_of(name), &e))
    }

    pub(crate) fn delete(&self, name: &str) -> Result<()> {
        let deleted = self.run(self.store.delete(&self.key(name)));
        deleted.map_err(|e| failed("cannot remove", &self.url_of(name), &e))
    }

    /// A multipart upload of `name`, not visible until finished.
    pub(crate) fn upload(&self, name: &str) -> Result<Upload> {
        Upload::start(self, name)
    }

    /// `name` read with ranged requests, `Read + Seek`.
    pub(crate) fn reader(&self, name: &str) -> Result<RangedReader> {
        let size = self.head(name)?.size;
        Ok(RangedReader::new(
            self.clone_handle(),
            name.to_string(),
            size,
        ))
    }

    fn clone_handle(&self) -> Remote {
        Remote {
            store: Arc::clone(&self.store),
            url: self.url.clone(),
            prefix: self.prefix.clone(),
            rt: self.rt,
        }
    }

    /// Every byte of `name`, in order, through `visit` (what `list` hashes).
    pub(crate) fn stream(&self, name: &str, mut visit: impl FnMut(&[u8]) + Send) -> Result<u64> {
        let url = self.url_of(name);
        self.run(async {
            let mut body = self.store.get(&self.key(name)).await?.into_stream();
            let mut n = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                n += chunk.len() as u64;
                visit(&chunk);
            }
            Ok(n)
        })
        .map_err(|e: object_store::Error| failed("cannot read", &url, &e))
    }
}

/// An object storage failure as `Io`, naming what was done to which URL,
/// with nothing secret in it.
pub(crate) fn failed(what: &str, url: &str, e: &object_store::Error) -> Error {
    Error::Io(io_failed(what, url, e))
}

/// [`failed`] as the `std::io::Error` a `Read` or `Write` gives.
pub(crate) fn io_failed(what: &str, url: &str, e: &object_store::Error) -> std::io::Error {
    let kind = match e {
        object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => std::io::ErrorKind::AlreadyExists,
        _ => std::io::ErrorKind::Other,
    };
    let message = scrub(&e.to_string());
    std::io::Error::new(kind, format!("{what} `{url}`: {message}"))
}

/// `text` with every credential the environment holds replaced, and the
/// query of every URL in it cut (where a SAS token travels).
fn scrub(text: &str) -> String {
    const SECRETS: [&str; 8] = [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_STORAGE_SAS_KEY",
        "AZURE_STORAGE_TOKEN",
    ];
    let mut out = text.to_string();
    for name in SECRETS {
        if let Ok(value) = std::env::var(name) {
            if value.len() >= 4 {
                out = out.replace(&value, "***");
            }
        }
    }
    out.split(' ')
        .map(|word| match (word.contains("://"), word.split_once('?')) {
            (true, Some((url, _))) => format!("{url}?***"),
            _ => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix_and_nothing_else_is_remote() {
        assert!(is_remote(Path::new("s3://b/p")));
        assert!(!is_remote(Path::new("/var/backups")));
        assert!(!is_remote(Path::new("file:///var/backups")));
        for bad in ["s3://", "s3:///p", "s3://b/../x", "ftp://b/p"] {
            assert!(matches!(Remote::open(bad), Err(Error::Invalid(_))), "{bad}");
        }
        assert!(matches!(
            Remote::open_file("s3://b"),
            Err(Error::Invalid(_))
        ));
        assert_eq!(destination("file:///var/b").unwrap(), Path::new("/var/b"));
        assert_eq!(destination("s3://b/p").unwrap(), Path::new("s3://b/p"));
        assert!(destination("file://host/b").is_err());
    }

    #[test]
    fn requests_may_be_waited_for_inside_an_applications_async_runtime() {
        let rt = runtime().unwrap();
        assert_eq!(block_on(rt, async { 7 }), 7);
        let app = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(app.block_on(async { block_on(rt, async { 8 }) }), 8);
    }

    #[test]
    fn errors_carry_no_url_query() {
        let said = scrub("request to https://acct.blob/c/x?sig=SECRET&se=1 failed");
        assert!(!said.contains("SECRET"), "{said}");
        assert!(said.contains("https://acct.blob/c/x?***"));
    }
}
