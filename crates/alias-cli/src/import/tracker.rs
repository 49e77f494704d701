//! Follows every row from the moment it is read to its final outcome, and keeps the
//! failures file, the checkpoint and the progress display in step with it.
//!
//! Rows are settled in input order: valid rows come back from the delivery in the order
//! they went in, and an invalid row waits behind the rows read before it. So every row
//! before the first one not yet settled has its outcome recorded (counted, and listed in
//! the failures file if it failed), and nothing after it has: the checkpoint's mark is
//! the boundary before that row.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alias_core::{
    AliasOutcome, CreateAlias, DeliveryError, Tally, delivery::ReportEntry, delivery::Undelivered,
    driver::Stopper,
};

use super::checkpoint::{Checkpoint, Location};
use super::ending::Ending;
use super::failures::Failures;
use super::input::{MAX_ROW_BYTES, Mark, ReadError, Row, Source};
use super::outcomes::Outcomes;
use super::progress::Progress;
use crate::exit::UsageError;
use crate::outcome;

/// How often, at most, the checkpoint is replaced while rows finish. A hard kill loses at
/// most this much progress; the rows sent again are deduplicated by the server.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// A row read and not yet settled.
#[derive(Debug)]
struct Unsettled {
    line: u64,
    /// The boundary before it: where a resumed import starts while it is unsettled.
    start: Mark,
    /// How far into the input as stored it reaches, for progress.
    position: u64,
    /// As read, with `--failures`.
    source: Option<Source>,
    fate: Fate,
}

/// What became of a row read.
#[derive(Debug)]
enum Fate {
    /// Handed to the delivery, at this place among the aliases it was given (from 0): the
    /// [`ReportEntry::position`] of its outcome.
    Sent(u64),
    /// Not sent, for this reason.
    Invalid(String),
}

impl Fate {
    /// Why it was not sent, if it was not.
    fn reason(self) -> Option<String> {
        match self {
            Self::Sent(_) => None,
            Self::Invalid(reason) => Some(reason),
        }
    }
}

/// A row read, as the tracker follows it: all of it but the alias, which goes on to the
/// delivery.
#[derive(Debug)]
pub(crate) struct Read {
    line: u64,
    end: Mark,
    position: u64,
    source: Option<Source>,
    /// Why it cannot be sent; `None` for a row handed to the delivery.
    invalid: Option<String>,
}

impl Read {
    /// Splits `row` into what the tracker follows and the alias to send, if it is valid.
    pub(crate) fn of(row: Row) -> (Self, Option<CreateAlias>) {
        let (alias, invalid) = match row.alias {
            Ok(alias) => (Some(alias), None),
            Err(reason) => (None, Some(reason)),
        };
        let read = Self {
            line: row.line,
            end: row.end,
            position: row.position,
            source: row.source,
            invalid,
        };
        (read, alias)
    }
}

/// What happens to an import, in the order it happens: the reading side (the stream the
/// delivery pulls) and the delivery's outcomes both report here, through one queue.
#[derive(Debug)]
pub(crate) enum Event {
    /// A row was read (and, if valid, handed to the delivery right after).
    Read(Read),
    /// Reading failed or was refused.
    ReadFailed(ReadError),
    /// Every row was read.
    InputEnded,
    /// The delivery's outcome for the oldest row under way.
    Finished(ReportEntry),
}

impl From<ReportEntry> for Event {
    fn from(entry: ReportEntry) -> Self {
        Self::Finished(entry)
    }
}

/// The state of one import run.
#[derive(Debug)]
pub(crate) struct Tracker {
    /// Rows read and not yet settled, in input order.
    unsettled: VecDeque<Unsettled>,
    /// The boundary after the last row read.
    read_to: Mark,
    /// How far into the input as stored the rows settled in this run reach, for progress;
    /// `None` until one is.
    done_position: Option<u64>,
    /// Outcomes of all runs of this import, the checkpointed ones included.
    tally: Tally,
    /// Rows settled in this run.
    rows: u64,
    /// In a dry run, rows that would have been sent (rather than counted as accepted).
    dry_run: Option<u64>,
    failures: Option<Failures>,
    outcomes: Option<Outcomes>,
    /// Where the checkpoint goes, and its last state.
    checkpoint: Option<(Location, Checkpoint)>,
    checkpointed: Instant,
    progress: Progress,
    stopper: Stopper,
    input_ended: bool,
    /// What stopped the run early, if anything: [`Ending::Failed`] or [`Ending::Refused`].
    halted: Option<Ending>,
    /// The delivery abandoned a row: no outcome from it on is recorded.
    stopped_short: bool,
    /// The checkpoint must stay as it is: what comes after it may not be recorded (writing
    /// the failures file or the checkpoint failed), or the input is not the one it
    /// describes.
    keep_checkpoint: bool,
    /// What ended the sending for every row (Simplified ID Merge refusing
    /// `$create_alias`, refused credentials, an unreachable host), and how many rows it
    /// kept from being delivered.
    sending_ended: Option<(DeliveryError, u64)>,
    /// The line of the first row left undelivered with a checkpoint and no failures file:
    /// the checkpoint stays before it, so that running the same command again sends it.
    held_at: Option<u64>,
    /// Writing the failures file failed: it does not hold every row that failed.
    failures_unwritable: bool,
    /// Aliases handed to the delivery in this run.
    sent: u64,
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
    /// The failures file, if there is one and it holds every row that failed.
    pub(crate) failures: Option<PathBuf>,
    /// Writing the failures file failed, so it does not hold every row that failed.
    pub(crate) failures_unwritable: bool,
    /// The line the first row without an outcome starts on, or after.
    pub(crate) resume_line: u64,
    /// Rows read and left without an outcome (a stop came first).
    pub(crate) unsettled: u64,
    /// The line reading stopped at, unless the whole input was read.
    pub(crate) unread_from: Option<u64>,
    /// Rows settled in this run.
    pub(crate) rows: u64,
    /// What ended the sending for every row, and the rows it kept from being delivered.
    pub(crate) sending_ended: Option<(DeliveryError, u64)>,
    /// The line the checkpoint stays before, since the row there was not delivered and no
    /// failures file holds it.
    pub(crate) held_at: Option<u64>,
}

/// A file the run writes beside its checkpoint, whose length the checkpoint records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Failures,
    Outcomes,
}

impl Output {
    const ALL: [Self; 2] = [Self::Failures, Self::Outcomes];

    /// The flag that names it.
    fn flag(self) -> &'static str {
        match self {
            Self::Failures => "--failures",
            Self::Outcomes => "--outcomes",
        }
    }

    /// What it is, in words.
    fn what(self) -> &'static str {
        match self {
            Self::Failures => "the failures file",
            Self::Outcomes => "the outcome ledger",
        }
    }
}

impl Tracker {
    /// A run starting at `start` (the checkpoint it resumes from, or a fresh one).
    pub(crate) fn new(
        start: &Checkpoint,
        checkpoint: Option<Location>,
        (failures, outcomes): (Option<Failures>, Option<Outcomes>),
        progress: Progress,
        stopper: Stopper,
        dry_run: bool,
    ) -> Self {
        Self {
            unsettled: VecDeque::new(),
            read_to: start.resume.clone(),
            done_position: None,
            tally: start.tally(),
            rows: 0,
            dry_run: dry_run.then_some(0),
            failures,
            outcomes,
            checkpoint: checkpoint.map(|location| (location, start.clone())),
            checkpointed: Instant::now(),
            progress,
            stopper,
            input_ended: false,
            halted: None,
            stopped_short: false,
            keep_checkpoint: false,
            sending_ended: None,
            held_at: None,
            failures_unwritable: false,
            sent: 0,
        }
    }

    /// Takes what happened next.
    pub(crate) fn handle(&mut self, event: Event) {
        match event {
            Event::Read(read) => self.read(read),
            Event::ReadFailed(error) => self.read_failed(error),
            Event::InputEnded => self.input_ended(),
            Event::Finished(entry) => self.finished(entry),
        }
    }

    /// Takes a row just read: a valid one waits for its outcome, an invalid one is settled
    /// once the rows before it are.
    fn read(&mut self, row: Read) {
        let start = std::mem::replace(&mut self.read_to, row.end);
        let fate = match row.invalid {
            Some(reason) => Fate::Invalid(reason),
            None => {
                self.sent += 1;
                Fate::Sent(self.sent - 1)
            }
        };
        let invalid = matches!(fate, Fate::Invalid(_));
        self.unsettled.push_back(Unsettled {
            line: row.line,
            start,
            position: row.position,
            source: row.source,
            fate,
        });
        if invalid {
            self.settle_invalid();
        }
    }

    /// Takes the outcome of the oldest row under way.
    ///
    /// A row the delivery abandoned (it stopped before the row's answer) is not done: it
    /// stays first among the unsettled rows, so that the checkpoint stays before it and a
    /// resumed run sends it again, with the same stamps. The outcomes after it are not
    /// recorded either, since the checkpoint cannot pass it.
    fn finished(&mut self, entry: ReportEntry) {
        let abandoned = matches!(
            &entry.outcome,
            AliasOutcome::Undelivered(Undelivered {
                last_error: DeliveryError::Abandoned,
                ..
            })
        );
        self.stopped_short |= abandoned;
        if self.stopped_short {
            return;
        }
        if self.held_at.is_none()
            && self.failures.is_none()
            && self.checkpoint.is_some()
            && let (AliasOutcome::Undelivered(_), Some(row)) =
                (&entry.outcome, self.unsettled.front())
        {
            // Only a failures file would hold the row for sending again; without one, the
            // checkpoint must not pass it. The rows after it still get their outcomes, and
            // those sent again keep their stamps, so the server drops the copies.
            self.held_at = Some(row.line);
            self.write_checkpoint(false);
            self.keep_checkpoint = true;
        }
        if self.dry_run.is_some()
            && let AliasOutcome::Undelivered(undelivered) = &entry.outcome
        {
            // A dry run prints its requests: one that did not go out could not be printed,
            // and the ones after it cannot be either. Its output is all a dry run makes, so
            // it stops there, without counting rows it never tried to send.
            let message = format!(
                "cannot print the requests ({}); a dry run sends nothing, and stops once its \
                 output is closed or full",
                undelivered.last_error
            );
            self.halt(Ending::Failed(message), false);
            self.stopped_short = true;
            return;
        }
        // Outcomes come in the order the aliases went in, so the row of this one is the
        // oldest unsettled (invalid rows before it have settled): its place says so. A
        // delivery that broke that order would put outcomes on the wrong rows; the run
        // stops instead, its checkpoint before them.
        let its_row =
            |row: &Unsettled| matches!(row.fate, Fate::Sent(sent) if sent == entry.position);
        let Some(row) = self
            .unsettled
            .front()
            .is_some_and(its_row)
            .then(|| self.unsettled.pop_front())
            .flatten()
        else {
            let message = format!(
                "the delivery reported the outcome of alias {} out of the order the aliases \
                 were sent in, so it cannot be matched to its row: the run stopped there. \
                 Run the same command again{}",
                entry.position,
                self.resume_hint()
            );
            self.halt(Ending::Failed(message), true);
            self.stopped_short = true;
            return;
        };
        self.rows += 1;
        self.done_position = Some(row.position);
        match (&mut self.dry_run, entry.outcome.is_accepted()) {
            (Some(would_send), true) => *would_send += 1,
            _ => self.tally.add(&entry.outcome),
        }
        if let Some(outcomes) = &mut self.outcomes
            && let Err(error) = outcomes.write_outcome(row.line, &entry.alias, &entry.outcome)
        {
            self.output_broken(Output::Outcomes, &error);
        }
        let ended = sending_ended(&entry.outcome);
        if let Some(cause) = &ended {
            let (_, rows) = self.sending_ended.get_or_insert_with(|| (cause.clone(), 0));
            *rows += 1;
        }
        // What ended the sending is said once at the end for every row: its rows go to
        // the failures file, if there is one, but not one by one to the screen.
        if let Some(reason) = outcome::reason(&entry.outcome)
            && (ended.is_none() || self.failures.is_some())
        {
            self.record_failure(row.line, row.source.as_ref(), Some(&entry.alias), &reason);
        }
        self.settle_invalid();
    }

    /// Settles the invalid rows that no row under way precedes, then shows progress and
    /// writes the checkpoint when it is due.
    fn settle_invalid(&mut self) {
        while self
            .unsettled
            .front()
            .is_some_and(|row| matches!(row.fate, Fate::Invalid(_)))
        {
            let Some(row) = self.unsettled.pop_front() else {
                break;
            };
            self.tally.invalid += 1;
            self.rows += 1;
            self.done_position = Some(row.position);
            let invalid = row.fate.reason().unwrap_or_default();
            if let Some(outcomes) = &mut self.outcomes
                && let Err(error) = outcomes.write(row.line, None, "invalid", Some(&invalid))
            {
                self.output_broken(Output::Outcomes, &error);
            }
            let reason = format!("invalid: {invalid}");
            self.record_failure(row.line, row.source.as_ref(), None, &reason);
        }
        self.progress
            .update(&self.tally, self.rows, self.done_position);
        if self.checkpointed.elapsed() >= CHECKPOINT_EVERY {
            self.write_checkpoint(false);
        }
    }

    /// Shows progress when it is due, whether or not a row settled since: an import whose
    /// requests get no answer is not silent.
    pub(crate) fn tick(&mut self) {
        self.progress
            .update(&self.tally, self.rows, self.done_position);
    }

    /// The input ended: every row was read.
    fn input_ended(&mut self) {
        self.input_ended = true;
    }

    /// Reading the input failed or was refused: stop, keeping what was done.
    fn read_failed(&mut self, error: ReadError) {
        match error {
            ReadError::Unreadable(error) => {
                let message = format!(
                    "cannot read the input: {error}; fix or restore the input, then run the \
                     same command again{}",
                    self.resume_hint()
                );
                self.halt(Ending::Failed(message), false);
            }
            ReadError::TooLong { line } => {
                let again = match self.resume_hint() {
                    "" => format!("import the rows from line {line} on"),
                    hint => format!("run the same command again{hint}, at that row"),
                };
                let message = format!(
                    "line {line} starts a row longer than {MAX_ROW_BYTES} bytes (Mixpanel takes \
                     events under 1 MB; in a CSV, a quote left open runs on to the next quote): \
                     it and the rows after it were not read. Shorten or remove that row, then \
                     {again}"
                );
                self.halt(Ending::Refused(message), false);
            }
            ReadError::Changed { offset, line } => {
                let checkpoint = self
                    .checkpoint
                    .as_ref()
                    .map(|(location, _)| location.path().display().to_string())
                    .unwrap_or_default();
                let message = format!(
                    "the input is not the one --checkpoint {checkpoint} was written for: its \
                     first {offset} bytes (to line {line}) differ from the ones imported then, \
                     or it is shorter. Pass the input that checkpoint belongs to; or, to import \
                     this input from its start, pass another --checkpoint path or delete that \
                     one"
                );
                self.halt(Ending::Refused(message), true);
            }
        }
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
        source: Option<&Source>,
        sent: Option<&CreateAlias>,
        reason: &str,
    ) {
        // The import keeps the rows whenever it writes a failures file.
        let (Some(failures), Some(source)) = (&mut self.failures, source) else {
            self.progress.println(&format!("line {line}: {reason}"));
            return;
        };
        if let Err(error) = failures.write(line, source, sent, reason) {
            self.output_broken(Output::Failures, &error);
        }
    }

    /// Writing `output` failed: stop, keeping the checkpoint before what that file may be
    /// missing.
    fn output_broken(&mut self, output: Output, error: &std::io::Error) {
        self.failures_unwritable |= output == Output::Failures;
        let message = format!(
            "cannot write {} {}: {error}; free space or pass another {} path, then run the \
             same command again{}",
            output.what(),
            self.output_path(output).unwrap_or(Path::new("")).display(),
            output.flag(),
            self.resume_hint()
        );
        self.halt(Ending::Failed(message), true);
    }

    /// Where `output` is written, if this run writes it.
    fn output_path(&self, output: Output) -> Option<&Path> {
        match output {
            Output::Failures => self.failures.as_ref().map(Failures::path),
            Output::Outcomes => self.outcomes.as_ref().map(Outcomes::path),
        }
    }

    /// Writes out what `output` buffers, and onto the disk when `durable` (a checkpoint
    /// will record its length); gives its length, `None` when this run does not write it.
    fn write_out(&mut self, output: Output, durable: bool) -> std::io::Result<Option<u64>> {
        match output {
            Output::Failures => self
                .failures
                .as_mut()
                .map(|f| if durable { f.sync() } else { f.flush() })
                .transpose(),
            Output::Outcomes => self
                .outcomes
                .as_mut()
                .map(|f| if durable { f.sync() } else { f.flush() })
                .transpose(),
        }
    }

    /// Writes out every output for a checkpoint about to record their lengths, or says
    /// which one failed.
    fn output_lens(&mut self, durable: bool) -> Result<[Option<u64>; 2], (Output, std::io::Error)> {
        let mut lens = [None; 2];
        for (len, output) in lens.iter_mut().zip(Output::ALL) {
            *len = self.write_out(output, durable).map_err(|e| (output, e))?;
        }
        Ok(lens)
    }

    /// The boundary before the first row not yet settled.
    fn resume_mark(&self) -> &Mark {
        self.unsettled
            .front()
            .map_or(&self.read_to, |row| &row.start)
    }

    /// Writes the first checkpoint of a fresh import, before anything is sent: it holds
    /// the `time` given to rows without one, without which a row sent again after a hard
    /// kill would be a new event rather than a copy the server drops.
    pub(crate) fn write_first_checkpoint(&mut self) -> Result<(), UsageError> {
        if self.checkpoint.is_none() {
            return Ok(());
        }
        let [failures_len, outcomes_len] = self.output_lens(true).map_err(|(output, e)| {
            UsageError::new(format!(
                "{} {}: cannot write it: {e}; free space, or pass a path in a writable folder",
                output.flag(),
                self.output_path(output).unwrap_or(Path::new("")).display()
            ))
        })?;
        let Some((location, state)) = &mut self.checkpoint else {
            return Ok(());
        };
        state.failures_len = failures_len;
        state.outcomes_len = outcomes_len;
        self.checkpointed = Instant::now();
        state.store(location).map_err(|e| {
            UsageError::new(format!(
                "--checkpoint {}: cannot write it: {e}; free space, or pass a path in a \
                 writable folder",
                location.path().display()
            ))
        })
    }

    /// Flushes the failures file (and syncs it, when a checkpoint will record its length),
    /// then replaces the checkpoint, unless it must be kept as it is.
    fn write_checkpoint(&mut self, complete: bool) {
        self.checkpointed = Instant::now();
        if self.keep_checkpoint {
            return;
        }
        // A checkpoint records how far each file reaches, which must be on the disk first.
        let [failures_len, outcomes_len] = match self.output_lens(self.checkpoint.is_some()) {
            Ok(lens) => lens,
            Err((output, error)) => {
                self.output_broken(output, &error);
                return;
            }
        };
        let resume = self.resume_mark().clone();
        let Some((location, stored)) = &mut self.checkpoint else {
            return;
        };
        let state = Checkpoint {
            resume,
            failures_len,
            outcomes_len,
            complete,
            ..stored.clone()
        }
        .with_tally(&self.tally);
        match state.store(location) {
            Ok(()) => *stored = state,
            Err(error) => {
                // The file still holds the last state stored, which stays true: what was
                // done since is only sent again, with the same stamps.
                let message = format!(
                    "cannot write the checkpoint {}: {error}. It keeps the state it last held \
                     (line {}); fix what stops the write (free space, permissions), then run \
                     the same command again: the rows from that line on are sent again with \
                     the same stamps, and the server drops those it already has",
                    location.path().display(),
                    stored.resume.line
                );
                self.halt(Ending::Failed(message), true);
            }
        }
    }

    /// Stops the run, as `ending` says unless something stopped it already;
    /// `keep_checkpoint` when the checkpoint must not be written again.
    fn halt(&mut self, ending: Ending, keep_checkpoint: bool) {
        self.halted.get_or_insert(ending);
        self.keep_checkpoint |= keep_checkpoint;
        self.stopper.stop();
    }

    /// Ends the run: the last checkpoint, the final progress, and what it did.
    pub(crate) fn end(mut self) -> Summary {
        let complete = self.input_ended
            && self.unsettled.is_empty()
            && self.halted.is_none()
            && !self.stopper.is_stopped();
        self.write_checkpoint(complete);
        let ending = match self.halted.take() {
            Some(halted) => halted,
            None if complete => Ending::Complete,
            None => Ending::Interrupted,
        };
        self.progress
            .finish(&self.tally, self.rows, self.done_position, &ending);
        let resume_line = self.resume_mark().line;
        Summary {
            unsettled: self.unsettled.len() as u64,
            unread_from: (!self.input_ended).then_some(self.read_to.line),
            ending,
            tally: self.tally,
            would_send: self.dry_run,
            failures: self
                .failures
                .filter(|_| !self.failures_unwritable)
                .map(|f| f.path().to_owned()),
            failures_unwritable: self.failures_unwritable,
            resume_line,
            rows: self.rows,
            sending_ended: self.sending_ended,
            held_at: self.held_at,
        }
    }
}

/// What ended the sending for every row, if `outcome` stands for it: a refusal of the
/// whole project (the rejection itself, or an alias not sent because of it), or a host
/// found unreachable.
fn sending_ended(outcome: &AliasOutcome) -> Option<DeliveryError> {
    match outcome {
        AliasOutcome::Rejected(rejection) if rejection.is_project_level() => {
            Some(DeliveryError::Refused(rejection.clone()))
        }
        AliasOutcome::Undelivered(Undelivered {
            last_error: error @ (DeliveryError::Refused(_) | DeliveryError::Unreachable(_)),
            ..
        }) => Some(error.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn mark(offset: u64) -> Mark {
        Mark {
            offset,
            line: offset,
            sha256: Some([0; 32]),
        }
    }

    fn row(line: u64, alias: Result<CreateAlias, String>) -> Row {
        Row {
            line,
            position: line + 1,
            end: mark(line + 1),
            source: Some(Source::Text(format!("row {line}"))),
            alias,
        }
    }

    /// Hands `row` to `tracker` as the import does; gives the alias sent.
    fn read(tracker: &mut Tracker, row: Row) -> Option<CreateAlias> {
        let (read, alias) = Read::of(row);
        tracker.handle(Event::Read(read));
        alias
    }

    fn tracker() -> Tracker {
        let start = Checkpoint::start("in.ndjson".into(), UNIX_EPOCH);
        let progress = Progress::new(None, Some(0), Duration::from_secs(3600));
        let (stopper, _) = alias_core::driver::stop_signal();
        let mut tracker = Tracker::new(&start, None, (None, None), progress, stopper, false);
        tracker.read_to = mark(1);
        tracker
    }

    #[test]
    fn an_invalid_row_is_settled_after_the_rows_read_before_it() {
        let mut tracker = tracker();
        let valid = CreateAlias::from_ids("anon-1", "user-1").unwrap();
        assert!(read(&mut tracker, row(1, Ok(valid.clone()))).is_some());
        assert!(read(&mut tracker, row(2, Err("bad".into()))).is_none());
        assert!(read(&mut tracker, row(3, Ok(valid.clone()))).is_some());
        // Row 1 is under way: nothing after its start is settled, the invalid row included.
        assert_eq!(tracker.tally.invalid, 0);
        assert_eq!(tracker.resume_mark(), &mark(1));
        tracker.finished(ReportEntry {
            position: 0,
            alias: valid,
            outcome: AliasOutcome::Accepted,
        });
        assert_eq!((tracker.tally.accepted, tracker.tally.invalid), (1, 1));
        assert_eq!(
            tracker.resume_mark(),
            &mark(3),
            "row 3 is the one under way"
        );
        assert_eq!(tracker.rows, 2);
    }

    #[test]
    fn an_abandoned_row_keeps_the_checkpoint_before_it() {
        let mut tracker = tracker();
        let valid = CreateAlias::from_ids("anon-1", "user-1").unwrap();
        for line in 1..=3 {
            read(&mut tracker, row(line, Ok(valid.clone())));
        }
        let outcome = |position, outcome| ReportEntry {
            position,
            alias: valid.clone(),
            outcome,
        };
        tracker.finished(outcome(0, AliasOutcome::Accepted));
        tracker.finished(outcome(
            1,
            AliasOutcome::Undelivered(Undelivered {
                attempts: 1,
                last_error: DeliveryError::Abandoned,
            }),
        ));
        tracker.finished(outcome(2, AliasOutcome::Accepted));
        assert_eq!((tracker.tally.accepted, tracker.tally.undelivered), (1, 0));
        assert_eq!(tracker.resume_mark(), &mark(2), "row 2 is sent again");
        tracker.input_ended();
        assert_eq!(tracker.end().ending, Ending::Interrupted);
    }

    /// An outcome is matched to its row by its place among the aliases sent: one that
    /// does not come in that order stops the run rather than landing on another row.
    #[test]
    fn an_outcome_out_of_order_stops_the_run() {
        let mut tracker = tracker();
        let valid = CreateAlias::from_ids("anon-1", "user-1").unwrap();
        read(&mut tracker, row(1, Ok(valid.clone())));
        read(&mut tracker, row(2, Err("bad".into())));
        read(&mut tracker, row(3, Ok(valid.clone())));
        tracker.finished(ReportEntry {
            position: 1,
            alias: valid,
            outcome: AliasOutcome::Accepted,
        });
        assert_eq!(tracker.tally.accepted, 0, "row 1 is not row 3's outcome");
        assert_eq!(tracker.resume_mark(), &mark(1));
        match tracker.end().ending {
            Ending::Failed(message) => assert!(
                message.contains("outcome of alias 1 out of the order"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_invalid_row_with_nothing_under_way_is_settled_at_once() {
        let mut tracker = tracker();
        assert!(read(&mut tracker, row(1, Err("bad".into()))).is_none());
        assert_eq!(tracker.tally.invalid, 1);
        assert_eq!(tracker.resume_mark(), &mark(2));
    }
}
