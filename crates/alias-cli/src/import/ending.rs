//! How an import ended: what the tracker concludes, the progress line's last words and
//! the exit code all read.

/// How an import ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Every row of the input has its outcome.
    Complete,
    /// Stopped by a signal before the end of the input.
    Interrupted,
    /// Stopped by an error (reading the input, writing a file); the message says what to do.
    Failed(String),
    /// Stopped at a row that cannot be read (longer than the limit), or before the first
    /// row because the input is not the one the checkpoint was written for; the message
    /// says what to do.
    Refused(String),
}
