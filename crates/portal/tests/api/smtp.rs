//! A real SMTP server for tests: Debian's `python3-aiosmtpd`, started on a loopback port, storing every message
//! it receives as a file in a Maildir that tests read back. Stopped (killed by its process id) on drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's package installs for Debian's interpreter, which may not be the first `python3` on PATH.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// A loopback port nothing listens on (right now).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn url_for(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}")
}

pub(crate) struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    pub(crate) async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts the server on `port` and returns once it accepts connections. Fails (never skips) when the module
    /// is missing.
    pub(crate) async fn start_on(port: u16) -> Self {
        let present = Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|status| status.success())
            .unwrap_or(false);
        assert!(
            present,
            "the Python module aiosmtpd is missing for {}: run .ci/ensure-smtp (it installs Debian's \
             python3-aiosmtpd), then run the tests again",
            python()
        );
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("smtpd.log")).unwrap();
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "the SMTP server stopped ({status}) before accepting connections: {}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP server does not accept connections on port {port}: {}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn url(&self) -> String {
        url_for(self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("smtpd.log")).unwrap_or_default()
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Every message received so far, raw, oldest first (Maildir names start with the delivery time).
    pub(crate) fn messages(&self) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir().join(sub)) {
                files.extend(entries.filter_map(Result::ok).map(|entry| entry.path()));
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|path| std::fs::read(path).unwrap())
            .collect()
    }

    /// Waits (with a deadline) until at least `count` messages arrived.
    pub(crate) async fn wait_for_messages(&self, count: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP server received {} message(s), {count} expected: {}",
                messages.len(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
