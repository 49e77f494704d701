//! The peer figure: the official Python SDK's `alias()` in a loop against the same server.
//!
//! The SDK goes into a virtual environment under `target/bench/`, so nothing is installed
//! outside the build directory. `mixpanel_python.py` says what it patches and why.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use alias_server::DEFAULT_TOKEN;

use super::server::ServerProcess;

/// The SDK measured: the version the project's facts sheet describes, whose `alias()` the
/// driver patches.
pub(super) const SDK: &str = "mixpanel==5.4.1";

const DRIVER: &str = include_str!("mixpanel_python.py");

/// Times `count` `alias()` calls with the aliases of `csv`, after installing the SDK into
/// `dir/python-venv` (once). Fails, with the reason, when python3, its `venv` module or
/// pip cannot do their part.
pub(super) fn measure(
    dir: &Path,
    csv: &Path,
    count: usize,
    server: &ServerProcess,
) -> Result<Duration, String> {
    let venv = dir.join("python-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        checked(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        )?;
    }
    checked(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            SDK,
        ]),
        "pip install",
    )?;
    let driver = dir.join("mixpanel_python.py");
    fs::write(&driver, DRIVER).map_err(|e| format!("cannot write {}: {e}", driver.display()))?;
    let output = checked(
        Command::new(&python)
            .arg(&driver)
            .args([server.url(), DEFAULT_TOKEN])
            .arg(csv)
            .arg(count.to_string()),
        "the Python driver",
    )?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let seconds: f64 = stdout
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .ok_or_else(|| format!("the Python driver printed no time: {stdout:?}"))?;
    server.expect_stored(count)?;
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("bad time {seconds}: {e}"))
}

fn checked(command: &mut Command, what: &str) -> Result<Output, String> {
    let output = command
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output)
}
