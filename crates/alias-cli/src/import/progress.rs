//! Progress on stderr: a bar when stderr is a terminal, a plain line every few seconds
//! otherwise (logs, CI), so that neither fills a log file with redraws.
//!
//! How far the import is goes by the input as stored: its bytes for a plain file, its
//! compressed bytes for a gzip file, whose size is all there is to compare with. A
//! position that is not known (standard input has no size; a resumed gzip import does
//! not know where it resumed until its first row is done) shows no percentage rather than
//! a wrong one.
//!
//! 100% is kept for an import that read its input to the end, which the last line says;
//! before that a line shows 99% at most: a compressed input's position runs ahead of its
//! rows by what the decoder reads ahead, and what follows the last row (blank lines) is
//! never part of one. A run that stops early says where.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use alias_core::Tally;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::ending::Ending;
use crate::console;

/// How often the bar's text is rebuilt: often enough to look live.
const BAR_REFRESH: Duration = Duration::from_millis(100);

/// Reports an import's progress.
#[derive(Debug)]
pub(crate) struct Progress {
    display: Display,
    started: Instant,
    shown: Instant,
    every: Duration,
    /// The input's size in bytes as stored, when known: for the percentage and the ETA.
    size: Option<u64>,
    /// Where this run started in the input as stored, when known.
    start: Option<u64>,
    /// The first position known in this run: what an earlier run did (a resumed import)
    /// is left out of the rate.
    first_position: Option<u64>,
}

#[derive(Debug)]
enum Display {
    Bar(ProgressBar),
    Lines,
}

impl Progress {
    /// Progress over an input of `size` bytes as stored (if known), from `start` in it
    /// (if known); plain lines come every `every`.
    pub(crate) fn new(size: Option<u64>, start: Option<u64>, every: Duration) -> Self {
        let display = if std::io::stderr().is_terminal() {
            Display::Bar(bar(size))
        } else {
            Display::Lines
        };
        let now = Instant::now();
        Self {
            display,
            started: now,
            shown: now,
            every,
            size,
            start,
            first_position: start,
        }
    }

    /// Shows `tally` (all rows so far), the rate of the `rows` done in this run, and how far
    /// into the input as stored they reach (`done`; `None` before any row of this run is
    /// done), when it is time to.
    pub(crate) fn update(&mut self, tally: &Tally, rows: u64, done: Option<u64>) {
        let position = done.or(self.start);
        if let Some(position) = position {
            self.first_position.get_or_insert(position);
        }
        let due = match self.display {
            Display::Bar(_) => BAR_REFRESH,
            Display::Lines => self.every,
        };
        if self.shown.elapsed() >= due {
            self.show(tally, rows, position);
        }
    }

    /// Shows the state now, whatever the time since the last.
    fn show(&mut self, tally: &Tally, rows: u64, position: Option<u64>) {
        self.shown = Instant::now();
        match &self.display {
            Display::Bar(bar) => {
                if let Some(position) = position {
                    // Short of the end, as `percent` is.
                    let short = self.size.map_or(position, |size| size.saturating_sub(1));
                    bar.set_position(position.min(short));
                }
                bar.set_message(self.counts(tally, rows));
            }
            Display::Lines => console::message(&self.line(tally, rows, position)),
        }
    }

    /// The rate and the rows done in this run, then the outcomes of every run of the
    /// import, in the order of the summary line: most wanted first, since a narrow terminal
    /// cuts the end of the bar's message.
    fn counts(&self, tally: &Tally, rows: u64) -> String {
        format!(
            "{:.0} rows/s, {} this run; totals accepted={} rejected={} undelivered={} invalid={}",
            rows as f64 / self.started.elapsed().as_secs_f64().max(1e-3),
            console::count(rows, "row", "rows"),
            tally.accepted,
            tally.rejected,
            tally.undelivered,
            tally.invalid
        )
    }

    /// The state as one plain line.
    fn line(&self, tally: &Tally, rows: u64, position: Option<u64>) -> String {
        let mut line = format!("progress: {}", self.counts(tally, rows));
        if let (Some(percent), Some(position), Some(size)) =
            (self.percent(position), position, self.size)
        {
            line.push_str(&format!(", {percent}% done"));
            if let Some(eta) = self.eta(position, size) {
                line.push_str(&format!(", ETA {}s", eta.as_secs()));
            }
        }
        line
    }

    /// The last line of a run that ended as `ending` says, `position` into the input.
    fn last_line(
        &self,
        tally: &Tally,
        rows: u64,
        position: Option<u64>,
        ending: &Ending,
    ) -> String {
        let at = |stopped: &str| match self.percent(position) {
            Some(percent) => format!("{stopped} at {percent}%"),
            None => stopped.to_owned(),
        };
        let sized = self.size.is_some_and(|size| size > 0);
        let end = match ending {
            Ending::Complete if sized => "100% done".to_owned(),
            Ending::Complete => "done".to_owned(),
            Ending::Interrupted => at("interrupted"),
            Ending::Failed(_) | Ending::Refused(_) => at("stopped"),
        };
        format!("progress: {}, {end}", self.counts(tally, rows))
    }

    /// How far `position` is into the input, in percent, when both are known; 99 at most,
    /// since only a finished import is done.
    fn percent(&self, position: Option<u64>) -> Option<u64> {
        let (position, size) = position.zip(self.size.filter(|&size| size > 0))?;
        Some((position.min(size) * 100 / size).min(99))
    }

    /// The time left at the rate so far, once there is a rate.
    fn eta(&self, position: u64, size: u64) -> Option<Duration> {
        let done = position.saturating_sub(self.first_position.unwrap_or(position));
        if done == 0 {
            return None;
        }
        let left = size.saturating_sub(position);
        Some(self.started.elapsed().mul_f64(left as f64 / done as f64))
    }

    /// Prints a line on stderr without breaking the bar.
    pub(crate) fn println(&self, line: &str) {
        match &self.display {
            Display::Bar(bar) => bar.suspend(|| console::message(line)),
            Display::Lines => console::message(line),
        }
    }

    /// Removes the bar, if any, and prints the final state as a plain line: `100% done`
    /// when the run read its input to the end, else where it was interrupted or stopped.
    pub(crate) fn finish(&mut self, tally: &Tally, rows: u64, done: Option<u64>, ending: &Ending) {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
        console::message(&self.last_line(tally, rows, done.or(self.start), ending));
    }
}

/// A bar on stderr. indicatif drops the lines it cannot draw, so a closed terminal costs
/// the display only.
fn bar(size: Option<u64>) -> ProgressBar {
    let (bar, template) = match size {
        Some(size) => (
            ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr()),
            "{spinner} {elapsed_precise} [{bar:16}] {percent:>3}% ETA {eta} {wide_msg}",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} {elapsed_precise} {wide_msg}",
        ),
    };
    // The templates above are fixed and valid; a failure would only lose the styling.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain lines over an input of `size` bytes, started at its beginning.
    fn lines(size: Option<u64>) -> Progress {
        let now = Instant::now();
        Progress {
            display: Display::Lines,
            started: now,
            shown: now,
            every: Duration::from_secs(5),
            size,
            start: Some(0),
            first_position: Some(0),
        }
    }

    fn end(line: String) -> String {
        line.rsplit(", ").next().unwrap().to_owned()
    }

    #[test]
    fn the_last_line_says_done_only_for_a_finished_import() {
        let tally = Tally::default();
        let progress = lines(Some(1000));
        let last = |position, ending: &Ending| end(progress.last_line(&tally, 7, position, ending));
        // The last row may end before blank lines, or a decoder may have read the whole
        // file before the last rows are done: only the ending decides.
        assert_eq!(last(Some(990), &Ending::Complete), "100% done");
        assert_eq!(last(None, &Ending::Complete), "100% done");
        assert_eq!(last(Some(500), &Ending::Interrupted), "interrupted at 50%");
        assert_eq!(last(Some(1000), &Ending::Interrupted), "interrupted at 99%");
        assert_eq!(last(None, &Ending::Interrupted), "interrupted");
        let failed = Ending::Failed("cannot read the input".into());
        assert_eq!(last(Some(120), &failed), "stopped at 12%");
        assert_eq!(
            last(Some(0), &Ending::Refused("long row".into())),
            "stopped at 0%"
        );

        let unknown_size = lines(None);
        let last = |ending: &Ending| end(unknown_size.last_line(&tally, 7, Some(4000), ending));
        assert_eq!(last(&Ending::Complete), "done");
        assert_eq!(last(&Ending::Interrupted), "interrupted");
        assert_eq!(last(&failed), "stopped");
    }

    #[test]
    fn a_line_before_the_end_shows_at_most_99_percent() {
        let tally = Tally::default();
        let progress = lines(Some(1000));
        let line = |position| progress.line(&tally, 7, position);
        assert!(
            line(Some(250)).contains(", 25% done"),
            "{}",
            line(Some(250))
        );
        assert!(
            line(Some(1000)).contains(", 99% done"),
            "{}",
            line(Some(1000))
        );
        assert!(
            line(Some(5000)).contains(", 99% done"),
            "{}",
            line(Some(5000))
        );
        assert!(!line(None).contains('%'), "{}", line(None));
    }
}
