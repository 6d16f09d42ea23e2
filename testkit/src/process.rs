//! Child processes for tests: workspace binaries with a clean environment, SIGTERM by
//! pid, waiting for a line of a child's output, and free loopback ports.

use std::{
    ffi::OsStr,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::Command,
    sync::mpsc,
    time::{Duration, Instant},
};

/// A free loopback TCP port: bound, read, released. Another process could take it in
/// between; on a test machine that is rare enough, and the ephemeral range is
/// allocated round-robin, so a port just released is the last one handed out again.
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A built binary of this workspace (`enclave-app`, `host-proxy`, `lottery`, …),
/// found in cargo's target directory: beside the running test or harness executable
/// (a harness binary sits in `target/<profile>/`, a test binary in
/// `target/<profile>/deps/`), else in `$CARGO_TARGET_DIR/debug` (default: the
/// workspace's `target/debug`).
///
/// # Panics
/// When it has not been built, with the command that builds it.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let beside = exe.parent().map(Path::to_path_buf);
    let above = beside
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")),
        PathBuf::from,
    );
    [beside, above, Some(target_dir.join("debug"))]
        .into_iter()
        .flatten()
        .map(|dir| dir.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not built beside {} nor in {}: run `cargo build --workspace --bins` \
                 (scripts/test does)",
                exe.display(),
                target_dir.display()
            )
        })
}

/// `program` with an empty environment (`env_clear`) plus exactly `vars`, so the
/// environment the tests run in (`RUST_LOG`, `ENCLAVE_*`, `HOST_PROXY_*`,
/// `LOTTERY_*`, …) cannot leak into the child.
pub fn command(program: impl AsRef<OsStr>, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(program);
    command.env_clear().envs(vars.iter().copied());
    command
}

/// [`command`] for the workspace binary `name` ([`workspace_binary`]).
///
/// # Panics
/// When the binary has not been built.
pub fn workspace_command(name: &str, vars: &[(&str, &str)]) -> Command {
    command(workspace_binary(name), vars)
}

/// Sends SIGTERM to process `pid` (a graceful stop: services log it and exit 0).
///
/// # Errors
/// When the signal cannot be sent (no such process, not ours, a pid out of range).
pub fn terminate(pid: u32) -> std::io::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .map_err(std::io::Error::from)
}

/// The lines of a child's stdout or stderr, read on a thread of their own so a test
/// can wait for one with a timeout; every line received is kept.
#[derive(Debug)]
pub struct Lines {
    receiver: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    /// Starts reading `stream` (e.g. `child.stderr.take()`) line by line until EOF.
    pub fn read<R: Read + Send + 'static>(stream: R) -> Self {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            receiver,
            seen: Vec::new(),
        }
    }

    /// Waits up to `timeout` for a line that satisfies `matches`; `None` when none
    /// came in time (or the stream ended first).
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.receiver.recv_timeout(left) else {
                return None;
            };
            self.seen.push(line.clone());
            if matches(&line) {
                return Some(line);
            }
        }
        None
    }

    /// Reads until the stream ends (the child has exited and closed it), or until no
    /// line has come for `idle`.
    pub fn drain(&mut self, idle: Duration) {
        while let Ok(line) = self.receiver.recv_timeout(idle) {
            self.seen.push(line);
        }
    }

    /// Every line received so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Takes every line received so far.
    pub fn take_seen(&mut self) -> Vec<String> {
        std::mem::take(&mut self.seen)
    }
}
