//! The one way `create` and `import` write to standard output and standard error.
//!
//! `println!` and `eprintln!` panic when a write fails (exit 101): a reader that went away
//! (`| head -1`) or a full disk (`> /dev/full`) would then end an import halfway, with rows
//! read and never sent. Here a failed write never ends anything:
//!
//! - a message for stderr (progress, advice, errors, logs) is dropped;
//! - the result line for stdout is repeated on stderr, with why it could not be written,
//!   in case stderr still takes it.
//!
//! Neither changes the exit code: it says what became of the aliases, which the lost line
//! only repeated.
//!
//! Lines quote text from outside (ids, fields, file names, a server's answer), so every
//! line is shown with its control characters escaped ([`escape_controls`]).

use std::io::{self, Write};

use alias_core::escape_controls;

/// Writes `line` to standard output: the result of the command, for scripts to read.
pub(crate) fn result(line: &str) {
    let line = escape_controls(line);
    let mut stdout = io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        message(&format!(
            "cannot write the result to standard output ({error}); it was: {line}"
        ));
    }
}

/// Writes `line` to standard error, or nothing if standard error is closed or full.
pub(crate) fn message(line: &str) {
    // Nowhere is left to report a failure to write to standard error.
    let _ = writeln!(io::stderr().lock(), "{}", escape_controls(line));
}

/// The log subscriber's writer: standard error, where a failed write drops the log line.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Logs;

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The subscriber would report a write error on stderr itself, which is what failed.
        let _ = io::stderr().lock().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().lock().flush();
        Ok(())
    }
}
