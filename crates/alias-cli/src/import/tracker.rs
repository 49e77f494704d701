//! Follows every row from the moment it is read to its final outcome, and keeps the
//! failures file, the checkpoint and the progress display in step with it.
//!
//! Valid rows enter the delivery in input order and come back in that order, so the rows
//! under way are a queue: the checkpoint's line is the first row still under way, or, when
//! none is, the line after the last row read.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use alias_core::{CreateAlias, ReportEntry, Tally};

use super::checkpoint::{Checkpoint, Location};
use super::failures::Failures;
use super::input::{MAX_ROW_BYTES, ReadError, Row, Source};
use super::progress::Progress;
use crate::outcome;

/// How often, at most, the checkpoint is replaced while rows finish. A hard kill loses at
/// most this much progress; the rows sent again are deduplicated by the server.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// How an import ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Every row of the input has its outcome.
    Complete,
    /// Stopped by a signal before the end of the input.
    Interrupted,
    /// Stopped by an error (reading the input, writing a file); the message says what to do.
    Failed(String),
    /// Stopped at a row that cannot be read (longer than the limit): the rows before it are
    /// done, and the message says what to do.
    Refused(String),
}

/// The state of one import run.
#[derive(Debug)]
pub(crate) struct Tracker {
    /// Rows handed to the delivery and not yet finished: their line, end offset and
    /// content.
    pending: VecDeque<(u64, u64, Source)>,
    /// The input's byte offset past the last row finished, for progress.
    done_bytes: u64,
    /// The line after the last row read.
    next_line: u64,
    /// Outcomes of all runs of this import, the checkpointed ones included.
    tally: Tally,
    /// Rows finished in this run.
    rows: u64,
    /// In a dry run, rows that would have been sent (rather than counted as accepted).
    dry_run: Option<u64>,
    failures: Option<Failures>,
    /// Where the checkpoint goes, and its last state.
    checkpoint: Option<(Location, Checkpoint)>,
    checkpointed: Instant,
    progress: Progress,
    stop: Arc<AtomicBool>,
    input_ended: bool,
    /// What stopped the run early, if anything: [`Ending::Failed`] or [`Ending::Refused`].
    halted: Option<Ending>,
    /// Writing the failures file or the checkpoint failed: the checkpoint must stay where
    /// it is, since what comes after it may not be recorded.
    records_broken: bool,
    announced_stop: bool,
}

/// What a run did, for the final report.
#[derive(Debug)]
pub(crate) struct Summary {
    /// How it ended.
    pub(crate) ending: Ending,
    /// Outcomes of all runs of this import.
    pub(crate) tally: Tally,
    /// In a dry run, how many rows would have been sent.
    pub(crate) would_send: Option<u64>,
    /// The failures file, if any.
    pub(crate) failures: Option<PathBuf>,
    /// The first line without an outcome.
    pub(crate) resume_line: u64,
    /// Rows given their outcome in this run.
    pub(crate) rows: u64,
}

impl Tracker {
    /// A run starting at `start` (the checkpoint it resumes from, or a fresh one).
    pub(crate) fn new(
        start: &Checkpoint,
        checkpoint: Option<Location>,
        failures: Option<Failures>,
        progress: Progress,
        stop: Arc<AtomicBool>,
        dry_run: bool,
    ) -> Self {
        Self {
            pending: VecDeque::new(),
            done_bytes: 0,
            next_line: start.resume_line,
            tally: start.tally(),
            rows: 0,
            dry_run: dry_run.then_some(0),
            failures,
            checkpoint: checkpoint.map(|location| (location, start.clone())),
            checkpointed: Instant::now(),
            progress,
            stop,
            input_ended: false,
            halted: None,
            records_broken: false,
            announced_stop: false,
        }
    }

    /// Takes a row just read: a valid one goes on to the delivery, an invalid one is
    /// recorded as failed at once.
    pub(crate) fn read(&mut self, row: Row) -> Option<CreateAlias> {
        self.next_line = row.line + 1;
        match row.alias {
            Ok(alias) => {
                self.pending.push_back((row.line, row.end, row.source));
                Some(alias)
            }
            Err(reason) => {
                self.tally.invalid += 1;
                self.rows += 1;
                self.done_bytes = row.end;
                self.record_failure(row.line, &row.source, None, &format!("invalid: {reason}"));
                self.stepped();
                None
            }
        }
    }

    /// Takes the outcome of the oldest row under way.
    pub(crate) fn finished(&mut self, entry: ReportEntry) {
        let Some((line, end, source)) = self.pending.pop_front() else {
            // The delivery reports exactly the aliases it was given, in order.
            debug_assert!(false, "an outcome for a row that was not sent");
            return;
        };
        self.rows += 1;
        self.done_bytes = end;
        match (&mut self.dry_run, entry.outcome.is_accepted()) {
            (Some(would_send), true) => *would_send += 1,
            _ => self.tally.add(&entry.outcome),
        }
        if let Some(reason) = outcome::reason(&entry.outcome) {
            self.record_failure(line, &source, Some(&entry.alias), &reason);
        }
        self.stepped();
    }

    /// The input ended: every row was read.
    pub(crate) fn input_ended(&mut self) {
        self.input_ended = true;
    }

    /// Reading the input failed: stop, keeping what was done.
    pub(crate) fn read_failed(&mut self, error: ReadError) {
        let ending = match error {
            ReadError::Unreadable(error) => Ending::Failed(format!(
                "cannot read the input: {error}; fix or restore the input, then run the same \
                 command again{}",
                self.resume_hint()
            )),
            ReadError::TooLong { line } => {
                self.next_line = line;
                let again = match self.resume_hint() {
                    "" => format!("import the rows from line {line} on"),
                    hint => format!("run the same command again{hint}, at that row"),
                };
                Ending::Refused(format!(
                    "line {line} starts a row longer than {MAX_ROW_BYTES} bytes (Mixpanel takes \
                     events under 1 MB; in a CSV, a quote left open runs on to the next quote): \
                     it and the rows after it were not read. Shorten or remove that row, then \
                     {again}"
                ))
            }
        };
        self.halt(ending, false);
    }

    /// Whether the run should stop reading, announcing it the first time.
    pub(crate) fn should_stop(&mut self) -> bool {
        let stop = self.stop.load(Ordering::SeqCst);
        if stop && !self.announced_stop && self.halted.is_none() {
            self.announced_stop = true;
            self.progress.println(
                "stopping: finishing the batches in flight, then writing the checkpoint; press \
                 Ctrl-C again to stop at once",
            );
        }
        stop
    }

    fn resume_hint(&self) -> &'static str {
        if self.checkpoint.is_some() {
            " to resume from the checkpoint"
        } else {
            ""
        }
    }

    fn record_failure(
        &mut self,
        line: u64,
        source: &Source,
        sent: Option<&CreateAlias>,
        reason: &str,
    ) {
        let Some(failures) = &mut self.failures else {
            self.progress.println(&format!("line {line}: {reason}"));
            return;
        };
        if let Err(error) = failures.write(line, source, sent, reason) {
            self.failures_broken(&error);
        }
    }

    fn failures_broken(&mut self, error: &std::io::Error) {
        let path = self
            .failures
            .as_ref()
            .map(|f| f.path().display().to_string())
            .unwrap_or_default();
        let message = format!(
            "cannot write the failures file {path}: {error}; free space or pass another \
             --failures path, then run the same command again{}",
            self.resume_hint()
        );
        self.halt(Ending::Failed(message), true);
    }

    /// After each row: progress, and the checkpoint when it is due.
    fn stepped(&mut self) {
        self.progress
            .update(&self.tally, self.rows, self.done_bytes);
        if self.checkpointed.elapsed() >= CHECKPOINT_EVERY {
            self.write_checkpoint(false);
        }
    }

    /// The first line that is not yet done.
    fn resume_line(&self) -> u64 {
        self.pending
            .front()
            .map_or(self.next_line, |(line, ..)| *line)
    }

    /// Flushes the failures file, then replaces the checkpoint. Once recording failed,
    /// nothing more is written, so that the checkpoint stays at the last state known to be
    /// recorded.
    fn write_checkpoint(&mut self, complete: bool) {
        self.checkpointed = Instant::now();
        if self.records_broken {
            return;
        }
        let failures_len = match self.failures.as_mut().map(Failures::flush).transpose() {
            Ok(len) => len,
            Err(error) => {
                self.failures_broken(&error);
                return;
            }
        };
        let resume_line = self.resume_line();
        let Some((location, state)) = &mut self.checkpoint else {
            return;
        };
        state.resume_line = resume_line;
        state.failures_len = failures_len;
        state.complete = complete;
        state.set_tally(&self.tally);
        if let Err(error) = state.store(location) {
            let message = format!(
                "cannot write the checkpoint {}: {error}; free space or pass another \
                 --checkpoint path",
                location.path().display()
            );
            self.halt(Ending::Failed(message), true);
        }
    }

    /// Stops the run, as `ending` says unless something stopped it already;
    /// `records_broken` when the failure was in recording outcomes.
    fn halt(&mut self, ending: Ending, records_broken: bool) {
        self.halted.get_or_insert(ending);
        self.records_broken |= records_broken;
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Ends the run: the last checkpoint, the final progress, and what it did.
    pub(crate) fn end(mut self) -> Summary {
        let complete =
            self.input_ended && self.halted.is_none() && !self.stop.load(Ordering::SeqCst);
        self.write_checkpoint(complete);
        self.progress
            .finish(&self.tally, self.rows, self.done_bytes);
        let resume_line = self.resume_line();
        let ending = match self.halted.take() {
            Some(halted) => halted,
            None if complete => Ending::Complete,
            None => Ending::Interrupted,
        };
        Summary {
            ending,
            tally: self.tally,
            would_send: self.dry_run,
            failures: self.failures.map(|f| f.path().to_owned()),
            resume_line,
            rows: self.rows,
        }
    }
}
