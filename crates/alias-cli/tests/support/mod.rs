//! What the `create` and `import` tests share: the command, pointed at an in-process
//! reference server, with fast retries and a clean environment.
// Each test file compiles this module and uses a part of it.
#![allow(dead_code)]

use std::process::Child;
use std::time::Duration;

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
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("mixpanel-alias"));
    for variable in alias_cli::ENVIRONMENT {
        command.env_remove(variable);
    }
    command
        .arg(subcommand)
        .args(["--api-host", server.url(), "--retry-initial-ms"])
        .arg(first_retry.as_millis().to_string())
        .env("MIXPANEL_TOKEN", DEFAULT_TOKEN);
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

/// The transports `--transport` offers.
pub(crate) const TRANSPORTS: [&str; 2] = ["reqwest", "surf"];

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

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// The exit status, once the process has ended.
    pub(crate) fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.0
            .as_mut()?
            .try_wait()
            .expect("the process can be waited for")
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
