use portal_persistence::testing::TestDatabase;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BINARY: &str = env!("CARGO_BIN_EXE_portal");

/// A `portal` command with a clean environment: only what the test gives it.
pub fn portal(data_dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .arg("--data-dir")
        .arg(data_dir);
    command
}

/// The database this test should use: SQLite in the data dir by default, or a fresh PostgreSQL database.
pub struct Setup {
    pub data_dir: PathBuf,
    pub database: Option<TestDatabase>,
    _scratch: tempfile::TempDir,
}

impl Setup {
    pub async fn new() -> Self {
        let scratch = tempfile::tempdir().unwrap();
        let database = if std::env::var(portal_persistence::testing::TEST_DATABASE_URL_VAR).is_ok()
        {
            Some(TestDatabase::new().await.unwrap())
        } else {
            None
        };
        Self {
            data_dir: scratch.path().join("data"),
            database,
            _scratch: scratch,
        }
    }

    pub fn command(&self) -> Command {
        let mut command = portal(&self.data_dir);
        if let Some(database) = &self.database {
            command.env("DATABASE_URL", database.url());
        }
        command
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

/// A running `portal serve`.
pub struct Server {
    pub child: Child,
    pub base_url: String,
    /// Every later line of standard output, as printed.
    pub output: std::sync::mpsc::Receiver<String>,
    /// Every line of standard error (the logs), when started with [`Server::start_with_logs`].
    pub logs: Option<std::sync::mpsc::Receiver<String>>,
}

impl Server {
    pub fn start(command: Command) -> Self {
        Self::start_with(command, &[])
    }

    /// `portal serve --bind 127.0.0.1:0` with more flags.
    pub fn start_with(command: Command, flags: &[&str]) -> Self {
        Self::spawn(command, "127.0.0.1:0", flags, false)
    }

    /// `portal serve --bind <bind>` with more flags: a test that restarts the portal keeps the port it chose
    /// (the webhooks registered at Billit name it).
    pub fn start_on(command: Command, bind: &str, flags: &[&str]) -> Self {
        Self::spawn(command, bind, flags, false)
    }

    /// `portal serve --bind 127.0.0.1:0`, its logs (standard error) kept in [`Server::logs`].
    pub fn start_with_logs(command: Command) -> Self {
        Self::spawn(command, "127.0.0.1:0", &[], true)
    }

    fn spawn(mut command: Command, bind: &str, flags: &[&str], keep_logs: bool) -> Self {
        let mut child = command
            .args(["serve", "--bind", bind])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(if keep_logs {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .unwrap();
        let logs = child.stderr.take().map(|stderr| {
            let (sender, logs) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let _unread = sender.send(line);
                }
            });
            logs
        });
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        // The first line announces the address; reading blocks until the server is listening.
        let first = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        let base_url = first
            .strip_prefix("Portal listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        let (sender, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.by_ref().map_while(Result::ok) {
                // Nobody listening any more is fine: the lines are still drained.
                let _unread = sender.send(line);
            }
        });
        Self {
            child,
            base_url,
            output,
            logs,
        }
    }

    /// The lines printed after the address, up to and including the first that contains `until` (with a deadline).
    pub fn lines_until(&self, until: &str) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self
                .output
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no line with '{until}' in: {lines:#?}"));
            let done = line.contains(until);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Server {
    /// SIGKILL (what `Child::kill` sends on unix): no shutdown, no draining, no lease released, as a crash or
    /// the kernel's OOM killer would end it. Waits until the process is gone, so its port is free again.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
