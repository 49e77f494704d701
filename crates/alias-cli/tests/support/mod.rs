//! What the `create` and `import` tests share: the command, pointed at an in-process
//! reference server, with fast retries and a clean environment; the inputs and checkpoints
//! of the import tests; and bounded waits for what a running import does.
// Each test file compiles this module and uses a part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::ops::Range;
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use alias_server::{DEFAULT_TOKEN, FaultSpec, Server};
use assert_cmd::Command;

/// A reference server with every default.
pub(crate) fn server() -> Server {
    Server::start().expect("the reference server starts")
}

/// A reference server that stores each request's events, then holds its answer back for
/// `delay`: long enough to stop an import midway, with requests stored and unanswered.
pub(crate) fn slow_server(delay: Duration) -> Server {
    Server::builder()
        .faults("slow=1".parse::<FaultSpec>().expect("a valid fault spec"))
        .slow_delay(delay)
        .start()
        .expect("the reference server starts")
}

/// `mixpanel-alias SUBCOMMAND` sending to `server`, with its token, millisecond retries, and
/// no `MIXPANEL_*` or `RUST_LOG` from the environment.
pub(crate) fn mixpanel_alias(subcommand: &str, server: &Server) -> Command {
    Command::from_std(spawnable(subcommand, server))
}

/// [`mixpanel_alias`] as a standard command, for tests that spawn it and watch it run.
pub(crate) fn spawnable(subcommand: &str, server: &Server) -> std::process::Command {
    spawnable_retrying(subcommand, server, Duration::from_millis(1))
}

/// [`spawnable`], with the first retry after `first_retry` (the documented policy scaled).
pub(crate) fn spawnable_retrying(
    subcommand: &str,
    server: &Server,
    first_retry: Duration,
) -> std::process::Command {
    at_url_retrying(subcommand, server.url(), first_retry)
}

/// `mixpanel-alias SUBCOMMAND --api-host URL`, with the reference server's token and no
/// `MIXPANEL_*` or `RUST_LOG` from the environment, for tests that point it at a URL other
/// than a running [`Server`]'s: an unreachable or a refused one, or a hand-written server.
/// The developer's own token or credentials must never reach a test run, nor change what
/// the command reads.
pub(crate) fn at_url(subcommand: &str, url: &str) -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("mixpanel-alias"));
    for variable in alias_cli::ENVIRONMENT {
        command.env_remove(variable);
    }
    command
        .arg(subcommand)
        .args(["--api-host", url])
        .env("MIXPANEL_TOKEN", DEFAULT_TOKEN);
    command
}

/// [`at_url`], with the first retry after `first_retry`.
pub(crate) fn at_url_retrying(
    subcommand: &str,
    url: &str,
    first_retry: Duration,
) -> std::process::Command {
    let mut command = at_url(subcommand, url);
    command
        .arg("--retry-initial-ms")
        .arg(first_retry.as_millis().to_string());
    command
}

/// `bytes` as one gzip member.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// A CSV of the `distinct_id,alias` header and a row `anon-I,user-I` for each `I` of `rows`.
pub(crate) fn aliases_csv(rows: Range<usize>) -> String {
    let rows: String = rows.map(|i| format!("anon-{i},user-{i}\n")).collect();
    format!("distinct_id,alias\n{rows}")
}

/// The last line of stdout: an import's summary (`accepted=… rejected=…`), or "" when
/// nothing was printed.
pub(crate) fn summary(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or_default()
}

/// The input offset a checkpoint resumes at (in the decompressed text for a gzip input);
/// 0 while there is none: not written yet, or caught midway through a write.
pub(crate) fn resume_offset(checkpoint: &Path) -> u64 {
    std::fs::read(checkpoint)
        .ok()
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .and_then(|state| state["resume"]["offset"].as_u64())
        .unwrap_or(0)
}

/// The arguments of an import of `input` checkpointed to `checkpoint` in batches of 50,
/// two in flight: against a [`slow_server`], slow enough to be stopped midway.
pub(crate) fn resume_args(input: &Path, checkpoint: &Path) -> Vec<OsString> {
    vec![
        input.into(),
        "--checkpoint".into(),
        checkpoint.into(),
        "--batch-size".into(),
        "50".into(),
        "--concurrency".into(),
        "2".into(),
    ]
}

/// How long [`wait_until`] waits before it gives up. A guard against a test that would
/// otherwise hang forever, not a measure of speed: far above what any wait takes, even on
/// a loaded machine.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Returns once `condition` holds, polled every 10 ms; panics naming `what` if it still
/// does not after [`HANG_GUARD`], so that a regression fails the test rather than hanging
/// it.
pub(crate) fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_GUARD;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "still waiting for {what} after {HANG_GUARD:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The transports `--transport` offers: surf only with the `surf` feature, which
/// `cargo test --workspace` turns on (the `tests` crate asks for it).
pub(crate) const TRANSPORTS: &[&str] = if cfg!(feature = "surf") {
    &["reqwest", "surf"]
} else {
    &["reqwest"]
};

/// Standard output and error of a finished command, as text.
pub(crate) fn output(assert: &assert_cmd::assert::Assert) -> (String, String) {
    let output = assert.get_output();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A process that is killed and reaped if a test stops before it ends.
#[derive(Debug)]
pub(crate) struct Running(Option<Child>);

impl Running {
    /// Starts `command`.
    pub(crate) fn spawn(command: &mut std::process::Command) -> Self {
        Self(Some(command.spawn().expect("the binary starts")))
    }

    /// The exit status, once the process has ended.
    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        self.0
            .as_mut()?
            .try_wait()
            .expect("the process can be waited for")
    }

    /// The exit status if the process ends within `limit`, polled every 10 ms; `None` if it
    /// is still running then (it is killed when this is dropped). A watchdog: the caller
    /// decides what a process still running means, rather than waiting for it forever.
    pub(crate) fn wait_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM, the signal an import stops at cleanly, with `kill -TERM`: the standard
    /// library only sends SIGKILL. Returns how `kill` exited, for the caller to check.
    pub(crate) fn terminate(&self) -> ExitStatus {
        // A taken process has no id here: `kill -TERM 0` would signal the whole group.
        let pid = self.0.as_ref().expect("not taken").id();
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs")
    }

    /// The process, to wait for it.
    pub(crate) fn take(mut self) -> Child {
        self.0.take().expect("taken once")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            // Best effort: the child may have ended already.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
