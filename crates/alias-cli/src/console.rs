//! The one way `create`, `import` and `completions` write to standard output and standard
//! error.
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
//! only repeated. A completion script is the exception: it is written whole and unescaped
//! ([`verbatim`]), and `completions` exits 1 when it cannot be, since the script is all it
//! produces.
//!
//! Lines quote text from outside (ids, fields, file names, a server's answer), so every
//! line is shown with its control characters escaped ([`escape_controls`]).

use std::io::{self, Write};

use alias_core::wire::escape_controls;

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

/// Writes `output` to standard output byte for byte, for output that is ours alone and is
/// read whole by a program, such as a completion script: it holds no text from outside to
/// escape, and its line ends are part of it. A failed write is the caller's to report.
pub(crate) fn verbatim(output: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(output)?;
    stdout.flush()
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

/// `count` of a noun, `one` in the singular for one, else `many`: "1 row", "2 rows".
pub(crate) fn count(count: u64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// "was" for one, "were" for any other count.
pub(crate) fn was(count: u64) -> &'static str {
    if count == 1 { "was" } else { "were" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "row", "rows"), "1 row");
        assert_eq!(count(0, "row", "rows"), "0 rows");
        assert_eq!(count(2, "alias", "aliases"), "2 aliases");
        assert_eq!((was(1), was(0), was(7)), ("was", "were", "were"));
    }
}
