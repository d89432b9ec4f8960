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
}

impl Server {
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
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
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Self { child, base_url }
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
