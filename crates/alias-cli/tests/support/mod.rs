//! What the `create` and `import` tests share: the command, pointed at an in-process
//! reference server, with fast retries and a clean environment.
// Each test file compiles this module and uses a part of it.
#![allow(dead_code)]

use alias_server::{DEFAULT_TOKEN, Server};
use assert_cmd::Command;

/// The variables the command reads; cleared so that the caller's shell cannot leak in.
const ENVIRONMENT: [&str; 5] = [
    "MIXPANEL_TOKEN",
    "MIXPANEL_SERVICE_ACCOUNT_USER",
    "MIXPANEL_SERVICE_ACCOUNT_SECRET",
    "MIXPANEL_PROJECT_SECRET",
    "RUST_LOG",
];

/// A reference server with every default.
pub(crate) fn server() -> Server {
    Server::start().expect("the reference server starts")
}

/// `mixpanel-alias SUBCOMMAND` sending to `server`, with its token, millisecond retries, and
/// no `MIXPANEL_*` or `RUST_LOG` from the environment.
pub(crate) fn mixpanel_alias(subcommand: &str, server: &Server) -> Command {
    Command::from_std(spawnable(subcommand, server))
}

/// [`mixpanel_alias`] as a standard command, for tests that spawn it and watch it run.
pub(crate) fn spawnable(subcommand: &str, server: &Server) -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("mixpanel-alias"));
    for variable in ENVIRONMENT {
        command.env_remove(variable);
    }
    command
        .arg(subcommand)
        .args(["--api-host", server.url(), "--retry-initial-ms", "1"])
        .env("MIXPANEL_TOKEN", DEFAULT_TOKEN);
    command
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
