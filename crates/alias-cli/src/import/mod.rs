//! `mixpanel-alias import`: aliases from a CSV or NDJSON file of any size, plain or
//! gzip-compressed, streamed in bounded memory, with a failures file, a checkpoint to
//! resume from, and progress.
//!
//! The pieces: [`input`] reads rows on a thread of its own; the delivery pulls them as a
//! stream (see `feed`), which never holds up its answers, timers or a stop;
//! [`tracker::Tracker`] follows each row to its outcome and keeps [`failures`],
//! [`checkpoint`] and [`progress`] in step.
//!
//! The tracker has one owner, the loop that hands it what happens: the stream tells it
//! of each row read, and the delivery of each outcome, through one queue, so it sees a
//! row before the row's outcome, and nothing else reaches into it. Each row's work is
//! asked for by a flag: a digest of the input before it only with `--checkpoint`, the row
//! as read kept only with `--failures`.

mod appended;
pub(crate) mod checkpoint;
mod clashes;
mod ending;
mod failure_columns;
mod failures;
pub(crate) mod input;
mod outcomes;
mod progress;
mod resolve;
mod same_file;
mod signals;
mod tracker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alias_core::identity::IdentitySystem;
use alias_core::{
    Config, CreateAlias, DeliveryError, Rejection, Tally, driver::stop_signal,
    wire::IDENTITY_EVENTS_NOT_ALLOWED,
};
use futures_util::{Stream, StreamExt};

use self::checkpoint::{Checkpoint, Location};
use self::ending::Ending;
use self::failures::Failures;
use self::input::{
    Digests, FormatArg, Input, InputPath, ReadError, Resume, Row, RowOptions, read_ahead,
};
use self::outcomes::Outcomes;
use self::progress::Progress;
use self::resolve::{OnAmbiguous, Resolution};
use self::tracker::{Event, Read, Summary, Tracker};
use crate::console;
use crate::exit::{self, UsageError};
use crate::options::{Batching, CommonArgs};
use crate::sender::Sender;

/// Import aliases in bulk from CSV or NDJSON.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file to import, or - for standard input, plain or gzip-compressed (recognised
    /// by its first bytes). CSV needs a header naming the distinct_id and alias columns;
    /// optional time (seconds or milliseconds since 1970) and $insert_id columns are sent
    /// as they are.
    #[arg(value_name = "FILE")]
    input: PathBuf,

    /// The input format; auto means NDJSON for .ndjson and .jsonl files (also followed by
    /// .gz), CSV otherwise.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,

    /// Send the other columns (CSV) or fields (NDJSON) as extra event properties; without
    /// it they are ignored, but kept in the failures file.
    #[arg(long)]
    extra_columns: bool,

    /// Aliases per request (Mixpanel takes at most 2000).
    #[arg(
        long,
        default_value_t = 2000,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=2000)
    )]
    batch_size: u16,

    /// Requests in flight at once.
    #[arg(
        long,
        default_value_t = 4,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=64)
    )]
    concurrency: u16,

    /// Write the rows that were not accepted here, in the input's format plus line and
    /// reason. Importing this file again (same flags) sends them again. Without it, they are
    /// listed on stderr by line.
    #[arg(long, value_name = "PATH")]
    failures: Option<PathBuf>,

    /// Record every row's outcome here, accepted ones too, as NDJSON: line, outcome,
    /// distinct_id, alias, time, $insert_id and reason. Mixpanel keeps no list of a
    /// project's aliases; this file is the record of what was linked. Resumed with
    /// --checkpoint, each row is in it once.
    #[arg(long, value_name = "PATH")]
    outcomes: Option<PathBuf>,

    /// Record progress here; running the same command again resumes where an interrupted
    /// import stopped, without sending acknowledged rows again, once it has checked that the
    /// input's bytes up to there are the ones imported before. Locked (PATH.lock) while an
    /// import uses it.
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<PathBuf>,

    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(
        long,
        default_value_t = 5,
        value_name = "SECS",
        help_heading = "Advanced"
    )]
    progress_interval: u64,

    /// Check the file first, as `mixpanel-alias check` does, and send nothing if it finds
    /// problems. The value is the project's identity system; without one, simplified with
    /// --link association, original otherwise.
    #[arg(
        long,
        value_enum,
        value_name = "ID_MERGE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "auto"
    )]
    check: Option<CheckArg>,

    /// With --link association: follow chains through the file, so that every
    /// anonymous id of a cluster links to its one user: rows (a,b),(b,u) are sent as
    /// (a,u),(b,u). Under Simplified ID Merge chains do not merge, and a would never reach
    /// u. Reads the file twice before sending (not standard input).
    #[arg(long)]
    resolve_chains: bool,

    /// With --resolve-chains, a cluster holding more than one user: error sends nothing
    /// and names its rows; first links it to its first user in the file; skip sends
    /// nothing for its rows and reports them as invalid.
    #[arg(
        long,
        value_enum,
        default_value_t = OnAmbiguous::Error,
        requires = "resolve_chains"
    )]
    on_ambiguous: OnAmbiguous,

    #[command(flatten)]
    common: CommonArgs,
}

/// `--check` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CheckArg {
    /// Simplified with --link association, original otherwise.
    Auto,
    /// Original ID Merge.
    Original,
    /// Legacy.
    Legacy,
    /// Simplified ID Merge.
    Simplified,
}

/// `--check`: checks the input and says on stderr what it found; `false` when it found
/// problems, and nothing is to be sent.
fn check_first(args: &Args, check: CheckArg, path: &InputPath) -> Result<bool, UsageError> {
    if *path == InputPath::Stdin {
        return Err(UsageError::new(
            "--check reads the input twice, which standard input cannot be read: pass a file, \
             or run `mixpanel-alias check` on it first",
        ));
    }
    let system = match check {
        CheckArg::Auto if args.common.links_by_association() => IdentitySystem::Simplified,
        CheckArg::Auto | CheckArg::Original => IdentitySystem::Original,
        CheckArg::Legacy => IdentitySystem::Legacy,
        CheckArg::Simplified => IdentitySystem::Simplified,
    };
    let settings = crate::check::Settings {
        system,
        hub_threshold: crate::check::DEFAULT_HUB_THRESHOLD,
        keep_order: args.common.keep_order(),
    };
    let report = crate::check::check_file(path, args.format, settings)?;
    for line in report.text() {
        console::message(&format!("check: {line}"));
    }
    Ok(report.is_clean())
}

/// `--resolve-chains`: each cluster's user, from a read of the whole file.
fn resolve_first(args: &Args, path: &InputPath) -> Result<Option<Resolution>, UsageError> {
    if !args.resolve_chains {
        return Ok(None);
    }
    if !args.common.links_by_association() {
        return Err(UsageError::new(
            "--resolve-chains is for --link association (Simplified ID Merge), where chains \
             do not merge; $create_alias chains merge by themselves: add --link association \
             or drop --resolve-chains",
        ));
    }
    if *path == InputPath::Stdin {
        return Err(UsageError::new(
            "--resolve-chains reads the input twice before sending, which standard input \
             cannot be read: pass a file",
        ));
    }
    Resolution::read(path, args.format, args.on_ambiguous).map(Some)
}

/// Runs the import. The last stdout line is `accepted=N rejected=N undelivered=N invalid=N`
/// for all runs of this import (the checkpointed ones included).
pub(crate) fn run(args: &Args) -> Result<ExitCode, UsageError> {
    let settings = args.common.settings(Some(Batching {
        batch_size: usize::from(args.batch_size),
        concurrency: usize::from(args.concurrency),
    }))?;
    if settings.dry_run && args.outcomes.is_some() {
        return Err(UsageError::new(
            "--outcomes cannot be used with --dry-run: a dry run sends nothing, so no row has \
             an outcome to record; drop one of them",
        ));
    }
    if settings.dry_run && args.checkpoint.is_some() {
        return Err(UsageError::new(
            "--checkpoint cannot be used with --dry-run: a dry run sends nothing, so it must \
             not mark rows done; drop one of them",
        ));
    }
    let path = InputPath::new(&args.input);
    if let Some(check) = args.check
        && !check_first(args, check, &path)?
    {
        return Ok(exit::of_run(false));
    }
    let mut resolution = resolve_first(args, &path)?;
    let checkpoint = args.checkpoint.as_deref().map(Location::new);
    clashes::refuse(
        &path,
        &[
            ("--failures", args.failures.as_deref()),
            ("--outcomes", args.outcomes.as_deref()),
        ],
        checkpoint.as_ref(),
    )?;
    // Held to the end of the run.
    let _lock = checkpoint.as_ref().map(Location::lock).transpose()?;
    let format = args.format.resolve(&path);
    let resumed = checkpoint
        .as_ref()
        .map(Checkpoint::load)
        .transpose()?
        .flatten();
    if let (Some(found), Some(checkpoint)) = (&resumed, &checkpoint) {
        refuse_stamps_too_old_for_track(found, checkpoint, &settings.config, SystemTime::now())?;
    }
    // Only a checkpoint needs the digest of the input before each row.
    let digests = if checkpoint.is_some() {
        Digests::Kept
    } else {
        Digests::Skipped
    };
    let input = Input::open(&path, format, args.extra_columns, digests)?;
    let input_name = path.name();
    // Whether the input is the one the checkpoint was written for is decided as it is read
    // (`Resume`), whatever its length, so a shorter one is refused there too.
    if let (Some(found), Some(checkpoint)) = (&resumed, &checkpoint)
        && !found.complete
    {
        console::message(&format!(
            "resuming from line {} (checkpoint {})",
            found.resume.line,
            checkpoint.path().display()
        ));
    }
    // Rows without a time get the import's start, fixed for every retry and resume so
    // that a copy sent twice is the same event. Set back by the clock lead tolerated: a
    // time from Mixpanel's future would be overwritten on arrival, and a second copy
    // would escape dedup (`docs/mixpanel-facts.md` §8).
    let stamp = SystemTime::now()
        .checked_sub(settings.config.max_clock_ahead())
        .unwrap_or(UNIX_EPOCH);
    let start = resumed
        .clone()
        .unwrap_or_else(|| Checkpoint::start(path.identity(), stamp));

    let failures = args
        .failures
        .as_deref()
        .map(|failures| {
            let resume_len = resumed.as_ref().map(|r| r.failures_len.unwrap_or(0));
            Failures::open(failures, input.header(), resume_len)
        })
        .transpose()?;
    let outcomes = args
        .outcomes
        .as_deref()
        .map(|outcomes| {
            let resume_len = resumed.as_ref().map(|r| r.outcomes_len.unwrap_or(0));
            Outcomes::open(outcomes, resume_len)
        })
        .transpose()?;
    let dry_run = settings.dry_run;
    let sender = Sender::new(settings)?;
    tracing::debug!(config = ?sender.config(), ?format, "importing");

    let (stopper, stop) = stop_signal();
    signals::watch(stopper.clone(), checkpoint.is_some());
    let progress = Progress::new(
        input.size(),
        input.position_of(&start.resume),
        Duration::from_secs(args.progress_interval),
    );
    let options = RowOptions {
        extra_columns: args.extra_columns,
        default_time: start.default_time(),
        keep_rows: args.failures.is_some(),
    };
    let resume = Resume::at(start.resume.clone());
    let rows = input.spawn(options, resume, stop.clone()).map_err(|e| {
        UsageError::new(format!(
            "cannot start the input reader: {e}; check the process's thread limits \
                 (ulimit -u)"
        ))
    })?;
    let mut tracker = Tracker::new(
        &start,
        checkpoint,
        (failures, outcomes),
        progress,
        stopper,
        dry_run,
    );
    if resumed.is_none() {
        tracker.write_first_checkpoint()?;
    }
    let (events, received) = std::sync::mpsc::channel();
    let stats = sender.send_stream(
        feed(rows, events.clone(), resolution.as_mut()),
        stop,
        (events, received),
        |event| match event {
            Some(event) => tracker.handle(event),
            None => tracker.tick(),
        },
    );
    tracing::debug!(?stats, "delivery ended");
    let summary = tracker.end();
    if let Some(resolution) = &resolution {
        let coverage = resolution.coverage();
        console::message(&format!(
            "coverage: {} of {} anonymous ids sent with their cluster's one user",
            coverage.linked, coverage.anonymous
        ));
    }
    if let (Some(_), Ending::Failed(error)) = (summary.would_send, &summary.ending) {
        // The output is all a dry run makes: with it gone, one line says why it stopped.
        console::message(&format!("error: {error}"));
        return Ok(ExitCode::from(exit::FAILURES));
    }
    if let Some(would_send) = summary.would_send {
        console::message(&format!(
            "dry run: {} in {} would be sent; nothing was sent",
            console::count(would_send, "alias", "aliases"),
            console::count(stats.requests, "request", "requests")
        ));
    }
    Ok(conclude(&summary, args, resumed.as_ref(), &input_name))
}

/// Tells what the run did and what is left to do, and gives the exit code.
fn conclude(
    summary: &Summary,
    args: &Args,
    resumed: Option<&Checkpoint>,
    input_name: &str,
) -> ExitCode {
    if let Ending::Refused(error) = &summary.ending
        && summary.rows == 0
    {
        // Refused before the first row: a usage error like any other, nothing on stdout.
        console::message(&format!("error: {error}"));
        return ExitCode::from(exit::USAGE);
    }
    report(summary, args.checkpoint.as_deref());
    if summary.ending == Ending::Complete
        && summary.rows == 0
        && let (Some(found), Some(checkpoint)) = (resumed, &args.checkpoint)
        && found.complete
    {
        console::message(&format!(
            "{input_name} was already imported to the end (checkpoint {}): nothing was sent; \
             delete the checkpoint to import it again",
            checkpoint.display()
        ));
    }
    let exit = finish_line(&summary.tally);
    match summary.ending {
        Ending::Complete => exit,
        Ending::Interrupted | Ending::Failed(_) => ExitCode::from(exit::FAILURES),
        Ending::Refused(_) => ExitCode::from(exit::USAGE),
    }
}

/// Refuses to resume a `/track` import whose stamps (the `time` given to rows without one,
/// which a resumed run must keep for the server to drop copies) are older than `/track`
/// takes: every row left would be refused. `/import` takes them. A complete import is let
/// through, since it sends nothing unless rows were added.
fn refuse_stamps_too_old_for_track(
    checkpoint: &Checkpoint,
    location: &Location,
    config: &Config,
    now: SystemTime,
) -> Result<(), UsageError> {
    let age = now
        .duration_since(checkpoint.default_time())
        .unwrap_or_default();
    if checkpoint.complete || age < config.time_window().past {
        return Ok(());
    }
    Err(UsageError::new(format!(
        "--checkpoint {}: this import started {} days ago, and a resumed run gives rows \
         without a time of their own the time of that start, so that a row sent twice is \
         the same event; /track takes events of the last 5 days only, so it would refuse \
         them all. Resume with --endpoint import (with its credentials), which takes old \
         events: nothing was sent",
        location.path().display(),
        age.as_secs() / 86_400
    )))
}

/// Explains on stderr what is left to do.
fn report(summary: &Summary, checkpoint: Option<&std::path::Path>) {
    if let Some((cause, rows)) = &summary.sending_ended {
        console::message(&sending_ended(cause, *rows, summary.failures.as_deref()));
        return;
    }
    let failed = summary.tally.total() - summary.tally.accepted;
    let not_accepted = format!(
        "{} {} not accepted",
        console::count(failed, "row", "rows"),
        console::was(failed)
    );
    if failed > 0 {
        console::message(&match &summary.failures {
            None if summary.failures_unwritable => format!(
                "{not_accepted}, and the failures file could not be written (see the error \
                 below), so it does not hold them all"
            ),
            Some(path) => format!(
                "{not_accepted}; {} lists them with the reason of each: fix the invalid ones, \
                 then import that file with the same flags",
                path.display()
            ),
            None => format!(
                "{not_accepted} (listed above by line); pass --failures PATH to collect them \
                 in a file that can be imported again"
            ),
        });
    }
    if let (Some(line), Some(path)) = (summary.held_at, checkpoint) {
        console::message(&format!(
            "the checkpoint {} stays before line {line}, the first row not delivered: run the \
             same command again to send the rows from there again (the server drops those it \
             already has)",
            path.display()
        ));
    }
    let resume = match checkpoint {
        Some(path) => format!(
            "run the same command again to resume from the checkpoint {}",
            path.display()
        ),
        None => format!(
            "import the rows from line {} on again (pass --checkpoint PATH to resume \
             automatically next time)",
            summary.resume_line
        ),
    };
    let unread = match summary.unread_from {
        Some(line) => format!("the input from line {line} on was never read"),
        None => "the whole input was read".to_owned(),
    };
    match &summary.ending {
        Ending::Complete => {}
        Ending::Interrupted => console::message(&format!(
            "interrupted: {} read {} not sent, and {unread}; {resume}",
            console::count(summary.unsettled, "row", "rows"),
            console::was(summary.unsettled)
        )),
        Ending::Failed(error) | Ending::Refused(error) => {
            console::message(&format!("error: {error}"));
        }
    }
}

/// The one message of an import whose sending ended for every row (Mixpanel refused the
/// whole project, or was never reached): what happened, where the rows are, and what to do.
fn sending_ended(cause: &DeliveryError, rows: u64, failures: Option<&std::path::Path>) -> String {
    let kept = match failures {
        Some(path) => format!(" ({} lists them)", path.display()),
        None => String::new(),
    };
    let stopped = format!(
        "nothing more was sent: {} {} not accepted{kept}",
        console::count(rows, "row", "rows"),
        console::was(rows)
    );
    match cause {
        DeliveryError::Refused(Rejection::IdentityEventsNotAllowed { status }) => format!(
            "Mixpanel refused $create_alias for the whole project (HTTP {status}: \
             {IDENTITY_EVENTS_NOT_ALLOWED:?}): the project uses Simplified ID Merge, where \
             $create_alias links nothing; {stopped}. Link the ids with association events \
             instead: run the same import with --link association --association-event NAME \
             (see \"Which identity system is my project on?\" in the README)"
        ),
        DeliveryError::Refused(other) => format!(
            "Mixpanel refused the credentials ({other}); {stopped}. Check --token and, with \
             --endpoint import, the service account or project secret, then run the same \
             import again"
        ),
        DeliveryError::Unreachable(error) => format!(
            "the server was never reached ({error}); {stopped}. Check --api-host (or \
             --region) and the network, then run the same import again"
        ),
        other => format!("{other}; {stopped}"),
    }
}

/// Prints the summary line, last on stdout, and gives the exit code it implies.
fn finish_line(tally: &Tally) -> ExitCode {
    console::result(&format!(
        "accepted={} rejected={} undelivered={} invalid={}",
        tally.accepted, tally.rejected, tally.undelivered, tally.invalid
    ));
    exit::of_run(tally.accepted == tally.total())
}

/// Milliseconds since the epoch, the wire's precision of `time`.
fn epoch_millis(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// The rows read, as the delivery pulls them: each is told to the tracker through
/// `events` before its alias goes on, invalid rows are skipped, and the stream ends at the
/// end of the input or on a read error.
///
/// The tracker is not shared: it takes what happens from one queue, in order, from this
/// reading side and from the delivery's outcomes alike, and an outcome always comes after
/// the row it is for. A run of invalid rows hands the queue over to the tracker every
/// [`READ_TURN`] rows, so that it settles them and they never pile up in the queue.
fn feed<'a>(
    rows: read_ahead::Receiver<Result<Row, ReadError>>,
    events: std::sync::mpsc::Sender<Event>,
    mut resolution: Option<&'a mut Resolution>,
) -> impl Stream<Item = CreateAlias> + 'a {
    let mut rows = Some(rows);
    futures_util::stream::poll_fn(move |cx| {
        // The receiver is drained until this stream and the delivery are gone: sending
        // cannot fail.
        let tell = |event| {
            let _ = events.send(event);
        };
        let mut turn = 0;
        while let Some(receiver) = rows.as_mut() {
            if turn == READ_TURN {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            turn += 1;
            match receiver.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(mut row))) => {
                    if let Some(resolution) = resolution.as_deref_mut() {
                        row = resolution.resolve(row);
                    }
                    let (read, alias) = Read::of(row);
                    tell(Event::Read(read));
                    if let Some(alias) = alias {
                        return Poll::Ready(Some(alias));
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    tell(Event::ReadFailed(error));
                    rows = None;
                }
                Poll::Ready(None) => {
                    tell(Event::InputEnded);
                    rows = None;
                }
            }
        }
        Poll::Ready(None)
    })
}

/// Rows the reading side takes in one go before the tracker's turn.
const READ_TURN: usize = 1024;

#[cfg(test)]
mod tests {
    use std::task::Context;

    use super::input::Mark;
    use super::*;

    fn row(line: u64, alias: Result<CreateAlias, String>) -> Row {
        Row {
            line,
            end: Mark::start(),
            position: 0,
            source: None,
            alias,
        }
    }

    /// The tracker learns of every row before its alias goes on, and a long run of invalid
    /// rows, which the delivery never pulls, hands over every [`READ_TURN`] rows rather
    /// than piling up in the queue.
    #[test]
    fn a_run_of_invalid_rows_gives_the_tracker_its_turn() {
        let invalid = 3 * READ_TURN;
        let (rows, received) = read_ahead::queue(invalid + 1, u64::MAX);
        for line in 0..invalid as u64 {
            rows.send(Ok(row(line, Err("bad".into()))), 0).unwrap();
        }
        let valid = CreateAlias::from_ids("anon-1", "user-1").unwrap();
        rows.send(Ok(row(99_999, Ok(valid.clone()))), 0).unwrap();
        drop(rows);
        let (events, queued) = std::sync::mpsc::channel();
        let mut stream = std::pin::pin!(feed(received, events, None));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);

        for turn in 1..=3 {
            assert!(
                stream.as_mut().poll_next(&mut cx).is_pending(),
                "turn {turn}"
            );
            let events: Vec<Event> = queued.try_iter().collect();
            assert_eq!(events.len(), READ_TURN, "turn {turn}");
            assert!(events.iter().all(|event| matches!(event, Event::Read(_))));
        }
        assert_eq!(stream.as_mut().poll_next(&mut cx), Poll::Ready(Some(valid)));
        assert!(matches!(queued.try_recv(), Ok(Event::Read(_))));
        assert_eq!(stream.as_mut().poll_next(&mut cx), Poll::Ready(None));
        assert!(matches!(queued.try_recv(), Ok(Event::InputEnded)));
        assert!(queued.try_recv().is_err(), "nothing else");
    }
}
