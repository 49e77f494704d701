//! A child process run to its end, timed, with its peak resident memory from the kernel.
//!
//! The peak is `VmHWM` of `/proc/<pid>/status`, the kernel's own high-water mark of the
//! resident set, read every few milliseconds until the process exits. Being a high-water
//! mark, one reading covers everything before it: only growth in the last interval before
//! exit could be missed. This needs no dependency and no `unsafe` (`getrusage` would need
//! both) and no tool that a machine may lack (`/usr/bin/time`).

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How often `VmHWM` is read.
const INTERVAL: Duration = Duration::from_millis(5);

/// How a process ran.
#[derive(Debug)]
pub(super) struct Sampled {
    pub(super) status: ExitStatus,
    /// From spawning to exit.
    pub(super) elapsed: Duration,
    /// The highest `VmHWM` read, in bytes; `None` where `/proc` is not available.
    pub(super) peak_rss: Option<u64>,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

/// Runs `command` to its end, capturing its output.
pub(super) fn run(command: &mut Command) -> Result<Sampled, String> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    thread::scope(|scope| {
        // Drained while it runs, so that a full pipe never stalls it.
        let out = scope.spawn(move || read_all(&mut stdout));
        let err = scope.spawn(move || read_all(&mut stderr));
        let (status, peak_rss) = wait_sampling(&mut child, &status_file)?;
        let elapsed = started.elapsed();
        let joined = |reader: thread::ScopedJoinHandle<'_, String>| {
            reader
                .join()
                .map_err(|_| "an output reader panicked".to_owned())
        };
        Ok(Sampled {
            status,
            elapsed,
            peak_rss,
            stdout: joined(out)?,
            stderr: joined(err)?,
        })
    })
}

fn wait_sampling(
    child: &mut Child,
    status_file: &str,
) -> Result<(ExitStatus, Option<u64>), String> {
    let mut peak = None;
    loop {
        if let Some(hwm) = vm_hwm(status_file) {
            peak = peak.max(Some(hwm));
        }
        if let Some(status) = child.try_wait().map_err(|e| format!("cannot wait: {e}"))? {
            return Ok((status, peak));
        }
        thread::sleep(INTERVAL);
    }
}

/// `VmHWM` in bytes, or `None` once the process is gone.
fn vm_hwm(status_file: &str) -> Option<u64> {
    parse_vm_hwm(&std::fs::read_to_string(status_file).ok()?)
}

/// The `VmHWM:   1234 kB` line of a status file, in bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

fn read_all(pipe: &mut impl Read) -> String {
    let mut bytes = Vec::new();
    // A read error only shortens what is shown on failure.
    let _ = pipe.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_water_mark_is_read_in_bytes() {
        let status = "Name:\tmixpanel-alias\nVmPeak:\t  99 kB\nVmHWM:\t   2048 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(2048 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tzombie\n"), None);
    }

    #[test]
    fn this_process_has_a_peak() {
        let status_file = format!("/proc/{}/status", std::process::id());
        assert!(vm_hwm(&status_file).is_some_and(|bytes| bytes > 0));
    }
}
