//! A real S3 implementation on loopback for the object storage tests: moto
//! in server mode, installed by `.ci/moto.sh` into target/moto-venv, started
//! per test on a free port of 127.0.0.1 and killed when the test ends. Where
//! it is not installed the tests say so and skip, unless
//! `CRMSTORE_S3_TESTS=require` (CI), where they fail.
//!
//! Also a byte-counting TCP proxy in front of it, which can cut every
//! connection after a number of uploaded bytes: a server that dies mid-upload.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The secret key the tests give: no output may show it.
pub(crate) const SECRET: &str = "testing-secret-value";

pub(crate) struct Moto {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Moto {
    /// A fresh server, or `None` (with a note) where moto is not installed.
    /// `env` goes to the server (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`).
    pub(crate) fn start(env: &[(&str, &str)]) -> Option<Moto> {
        let bin =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/moto_server");
        if !bin.exists() {
            assert!(
                std::env::var("CRMSTORE_S3_TESTS").as_deref() != Ok("require"),
                "moto is required here but not installed: run .ci/moto.sh"
            );
            eprintln!("skipping: moto is not installed (run .ci/moto.sh to run the S3 tests)");
            return None;
        }
        let port = free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto { child, port };
        let start = Instant::now();
        while moto.http("GET", "/", b"").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One plain HTTP/1.1 request (moto takes unsigned ones unless told
    /// otherwise): the response's status and body.
    pub(crate) fn http(&self, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        s.write_all(head.as_bytes()).ok()?;
        s.write_all(body).ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).ok()?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        Some((status, body))
    }

    pub(crate) fn create_bucket(&self, name: &str) {
        let (status, body) = self.http("PUT", &format!("/{name}"), b"").unwrap();
        assert_eq!(status, 200, "{body}");
    }

    /// Deletes object `key` of `bucket` (moto refuses an unsigned delete:
    /// boto3 from moto's venv signs it).
    pub(crate) fn delete(&self, bucket: &str, key: &str) {
        let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/python");
        let script = "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], \
            aws_access_key_id='t', aws_secret_access_key='t', region_name='us-east-1')\
            .delete_object(Bucket=sys.argv[2], Key=sys.argv[3])";
        let status = Command::new(python)
            .args(["-c", script, &self.endpoint(), bucket, key])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The object names under `prefix` in `bucket`.
    pub(crate) fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (_, body) = self
            .http(
                "GET",
                &format!("/{bucket}?list-type=2&prefix={prefix}"),
                b"",
            )
            .unwrap();
        body.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }

    /// How many multipart uploads of `bucket` are neither completed nor aborted.
    pub(crate) fn open_uploads(&self, bucket: &str) -> usize {
        let (status, body) = self
            .http("GET", &format!("/{bucket}?uploads"), b"")
            .unwrap();
        assert_eq!(status, 200, "{body}");
        body.matches("<UploadId>").count()
    }

    /// The variables the `crmstore` binary reads to reach this server.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        self.env_at(self.endpoint())
    }

    /// [`Moto::env`], reaching the server through `proxy`.
    pub(crate) fn env_through(&self, proxy: &Proxy) -> Vec<(&'static str, String)> {
        self.env_at(proxy.endpoint())
    }

    fn env_at(&self, endpoint: String) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("CRMSTORE_REMOTE_RETRIES", "2".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy to `port` on 127.0.0.1 that counts the bytes through it each
/// way, and once `cut_after` of them have gone up, closes every connection
/// and refuses every new one.
pub(crate) struct Proxy {
    pub port: u16,
    /// Bytes sent up to the server, and received from it.
    pub sent: Arc<AtomicU64>,
    pub received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub(crate) fn start(to: u16, cut_after: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            sent: Arc::new(AtomicU64::new(0)),
            received: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (sent, received, stop) = (
            Arc::clone(&proxy.sent),
            Arc::clone(&proxy.received),
            Arc::clone(&proxy.stop),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                let up = Pipe {
                    from: client.try_clone().unwrap(),
                    to: server.try_clone().unwrap(),
                    count: Arc::clone(&sent),
                    stop: Arc::clone(&stop),
                    cut_after,
                };
                let down = Pipe {
                    from: server,
                    to: client,
                    count: Arc::clone(&received),
                    stop: Arc::clone(&stop),
                    cut_after: u64::MAX,
                };
                std::thread::spawn(move || up.run());
                std::thread::spawn(move || down.run());
            }
        });
        proxy
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the stop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One direction of one proxied connection.
struct Pipe {
    from: TcpStream,
    to: TcpStream,
    count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    cut_after: u64,
}

impl Pipe {
    fn run(mut self) {
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = match self.from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let total = self.count.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
            if total > self.cut_after {
                self.stop.store(true, Ordering::SeqCst);
            }
            if self.stop.load(Ordering::SeqCst) && self.cut_after != u64::MAX {
                break;
            }
            if self.to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = self.from.shutdown(Shutdown::Both);
        let _ = self.to.shutdown(Shutdown::Both);
    }
}
