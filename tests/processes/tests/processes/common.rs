//! Starting the peer process (`tokenhop-cache-peer`) and the emulator, reading what the
//! peer says with a deadline, stopping and killing processes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokenhop_emulator::{Emulator, EmulatorHandle, names};

/// A started peer: its lines arrive on a channel (read by a thread), what it logs is
/// kept (and shown), and it is killed when dropped.
pub struct Peer {
    child: Child,
    lines: Receiver<String>,
    stdin: Option<ChildStdin>,
    logged: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    /// Starts `tokenhop-cache-peer ROLE CACHE_FILE`.
    pub fn start(role: &str, cache: &Path) -> Self {
        Self::spawn(Self::command(role, cache))
    }

    /// Starts `tokenhop-cache-peer ROLE CACHE_FILE AUTHORITY CLIENT_ID` for the
    /// emulator's app named `app`, with its secret (if it has one) in the environment.
    pub fn start_with_app(role: &str, cache: &Path, emulator: &EmulatorHandle, app: &str) -> Self {
        Self::spawn(Self::app_command(role, cache, emulator, app))
    }

    /// The command [`Peer::start`] runs, to add to.
    pub fn command(role: &str, cache: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tokenhop-cache-peer"));
        command.arg(role).arg(cache);
        command
    }

    /// The command [`Peer::start_with_app`] runs, to add to.
    pub fn app_command(role: &str, cache: &Path, emulator: &EmulatorHandle, app: &str) -> Command {
        let mut command = Self::command(role, cache);
        let config = emulator.config().app(app).unwrap();
        command.arg(emulator.authority()).arg(&config.client_id);
        if let Some(secret) = &config.secret {
            command.env("TOKENHOP_TEST_CLIENT_SECRET", secret);
        }
        command
    }

    /// Starts a command made by [`Peer::command`] or [`Peer::app_command`].
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logged = Arc::new(Mutex::new(Vec::new()));
        let (stderr, keep) = (child.stderr.take().unwrap(), Arc::clone(&logged));
        let pid = child.id();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[peer {pid}] {line}");
                keep.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            lines,
            stdin,
            logged,
        }
    }

    /// The lines the peer logged (stderr) so far that hold every one of `words`.
    pub fn logged(&self, words: &[&str]) -> Vec<String> {
        self.logged
            .lock()
            .unwrap()
            .iter()
            .filter(|line| words.iter().all(|w| line.contains(w)))
            .cloned()
            .collect()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line, or `None` when none came within `wait` (or the peer ended).
    pub fn next_line(&self, wait: Duration) -> Option<String> {
        self.lines.recv_timeout(wait).ok()
    }

    /// Reads lines until one satisfies `wanted` (returned) or `wait` is over (`None`).
    pub fn wait_for(&self, wait: Duration, mut wanted: impl FnMut(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.next_line(left)?;
            if wanted(&line) {
                return Some(line);
            }
        }
        None
    }

    /// Sends a line to the peer's stdin.
    pub fn tell(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A stopped process must be continued to die of SIGKILL promptly everywhere.
        signal(self.pid(), "CONT");
        self.kill();
    }
}

/// Sends a signal by name (`STOP`, `CONT`) with kill(1).
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

/// An emulator on loopback (the peers reach it over HTTP).
pub async fn emulator() -> EmulatorHandle {
    Emulator::builder().start().await.unwrap()
}

/// The confidential app the daemons use.
pub const APP: &str = names::CONFIDENTIAL_SECRET;

/// How long a peer may take to say something it says at once.
pub const PROMPTLY: Duration = Duration::from_secs(20);
