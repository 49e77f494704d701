//! Progress on stderr: a bar when stderr is a terminal, a plain line every few seconds
//! otherwise (logs, CI), so that neither fills a log file with redraws.
//!
//! How far the import is goes by the input as stored: its bytes for a plain file, its
//! compressed bytes for a gzip file, whose size is all there is to compare with. A
//! position that is not known (standard input has no size; a resumed gzip import does
//! not know where it resumed until its first row is done) shows no percentage rather than
//! a wrong one.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use alias_core::Tally;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
                    bar.set_position(position);
                }
                bar.set_message(self.counts(tally, rows));
            }
            Display::Lines => console::message(&self.line(tally, rows, position)),
        }
    }

    /// The rate, the outcomes, and the rows done in this run: most wanted first, since a
    /// narrow terminal cuts the end of the bar's message.
    fn counts(&self, tally: &Tally, rows: u64) -> String {
        format!(
            "{:.0} rows/s, accepted={} rejected={} invalid={} undelivered={}, {rows} rows",
            rows as f64 / self.started.elapsed().as_secs_f64().max(1e-3),
            tally.accepted,
            tally.rejected,
            tally.invalid,
            tally.undelivered
        )
    }

    /// The state as one plain line.
    fn line(&self, tally: &Tally, rows: u64, position: Option<u64>) -> String {
        let mut line = format!("progress: {}", self.counts(tally, rows));
        if let Some((position, size)) = position.zip(self.size.filter(|&size| size > 0)) {
            line.push_str(&format!(", {}% done", position.min(size) * 100 / size));
            if let Some(eta) = self.eta(position, size) {
                line.push_str(&format!(", ETA {}s", eta.as_secs()));
            }
        }
        line
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

    /// Removes the bar, if any, and prints the final state as a plain line.
    pub(crate) fn finish(&mut self, tally: &Tally, rows: u64, done: Option<u64>) {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
        console::message(&self.line(tally, rows, done.or(self.start)));
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
