//! How `create` and `import` end: the exit codes of their contract, and the usage error.
//!
//! The codes say what became of the aliases; a closed or full output never changes them
//! (see [`crate::console`]). The README's table says the same for users.

use std::fmt;
use std::process::ExitCode;

use crate::console;

/// Exit code when every alias was accepted.
pub(crate) const ACCEPTED: u8 = 0;
/// Exit code when any alias was rejected, invalid or undelivered, or the run was cut short
/// (by a signal, or by an error reading the input or writing the failures file or the
/// checkpoint).
pub(crate) const FAILURES: u8 = 1;
/// Exit code for a usage or configuration error, which stops a run before it sends
/// anything (an input that is not the one its checkpoint was written for is one); and for
/// an import stopped at a row it refuses to read (longer than the row limit), after the
/// rows before it.
pub(crate) const USAGE: u8 = 2;

/// A usage or configuration error: the run cannot start as asked.
///
/// The message names the flag (or argument) at fault and says what to do instead, since it
/// is the only thing the operator sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageError(String);

impl UsageError {
    /// An error with this message.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// Prints the error on stderr and gives the usage exit code.
    pub(crate) fn report(&self) -> ExitCode {
        console::message(&format!("error: {self}"));
        ExitCode::from(USAGE)
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The exit code of a run that got as far as sending: 0 only when nothing failed.
pub(crate) fn of_run(all_accepted: bool) -> ExitCode {
    ExitCode::from(if all_accepted { ACCEPTED } else { FAILURES })
}
