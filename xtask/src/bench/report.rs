//! The figures against the targets of issue 7: one table on stdout, the same as JSON.

use std::path::Path;

use alias_tests::ClientKind;
use serde_json::{Value, json};

use super::Sender;
use super::check::{self, CheckRun};
use super::pacing::PacedRun;
use super::python::SDK;
use super::workload::{BATCH, CONCURRENCY, CsvFile};

/// Every library client at this share of the server's ceiling or more.
const CEILING_SHARE: f64 = 0.8;
/// The CLI at this share of the ceiling or more: it reads, validates and records each row
/// besides sending it, on the same two cores, and still must not cost much.
const CLI_CEILING_SHARE: f64 = 0.85;
/// The CLI's peak resident memory for the large import, plain or gzip, at most.
const MAX_IMPORT_RSS: u64 = 64 * 1024 * 1024;
/// Every client at this multiple of the Python SDK's rate or more.
const PYTHON_MULTIPLE: f64 = 100.0;
/// The import under a rolling limit takes at most 1/0.9 of the best possible time.
const BEST_SHARE: f64 = 0.9;
/// The paced import has at most this share of its requests answered 429.
const MAX_REFUSED_SHARE: f64 = 0.05;

/// Everything one `cargo xtask bench` measured.
#[derive(Debug)]
pub(super) struct Figures {
    /// Aliases per throughput run.
    pub(super) aliases: usize,
    /// Aliases per second of each run, by sender, in [`Sender::ALL`] order.
    pub(super) throughput: Vec<(Sender, Vec<f64>)>,
    /// The large import, of each [`CsvFile`] in [`CsvFile::ALL`] order.
    pub(super) imports: Vec<Import>,
    /// The imports without limit, under a rolling limit, and under 429 faults.
    pub(super) pacing: Vec<PacedRun>,
    /// `mixpanel-alias check` of large files.
    pub(super) checks: Vec<CheckRun>,
    /// The Python SDK's figure, or why there is none.
    pub(super) python: Result<Python, String>,
    /// The machine's CPU and cores.
    pub(super) machine: String,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages before and after measuring.
    pub(super) load: [String; 2],
}

/// The CLI's large import.
#[derive(Debug)]
pub(super) struct Import {
    /// How the CSV was stored.
    pub(super) file: CsvFile,
    pub(super) rows: usize,
    /// `None` where `/proc` is not available.
    pub(super) peak_rss: Option<u64>,
    pub(super) aliases_per_second: f64,
}

impl Import {
    /// Its peak memory, against the target, and its rate.
    fn lines(&self) -> [Line; 2] {
        let what = format!(
            "cli import of {} rows, {}",
            thousands(self.rows),
            self.file.name()
        );
        [
            peak_rss_line(&what, self.peak_rss, MAX_IMPORT_RSS),
            Line {
                measurement: format!("{what}: rate"),
                figure: rate(self.aliases_per_second),
                target: None,
            },
        ]
    }

    /// Its figures as JSON.
    fn json(&self) -> Value {
        json!({
            "rows": self.rows,
            "peak_rss_bytes": self.peak_rss,
            "aliases_per_second": self.aliases_per_second,
        })
    }
}

/// The Python SDK's run.
#[derive(Debug)]
pub(super) struct Python {
    pub(super) aliases: usize,
    pub(super) aliases_per_second: f64,
}

/// One line of the table: a figure, and its target when it has one.
#[derive(Debug)]
struct Line {
    measurement: String,
    figure: String,
    target: Option<Target>,
}

#[derive(Debug)]
struct Target {
    text: String,
    /// The figure divided by the target's bound; `None` for a count that must be zero,
    /// where a ratio means nothing.
    ratio: Option<f64>,
    met: bool,
}

impl Target {
    fn at_least(text: String, value: f64, bound: f64) -> Self {
        Self {
            text,
            ratio: Some(value / bound),
            met: value >= bound,
        }
    }

    /// A count that must be zero.
    fn none(text: String, count: u64) -> Self {
        Self {
            text,
            ratio: None,
            met: count == 0,
        }
    }

    fn at_most(text: String, value: f64, bound: f64) -> Self {
        Self {
            text,
            ratio: Some(value / bound),
            met: value <= bound,
        }
    }
}

impl Figures {
    fn best(&self, sender: Sender) -> f64 {
        self.throughput
            .iter()
            .filter(|(s, _)| *s == sender)
            .flat_map(|(_, rates)| rates.iter().copied())
            .fold(0.0, f64::max)
    }

    /// The clients: best run each.
    fn clients(&self) -> impl Iterator<Item = (Sender, f64)> + '_ {
        self.throughput
            .iter()
            .filter(|(sender, _)| *sender != Sender::Ceiling)
            .map(|&(sender, _)| (sender, self.best(sender)))
    }

    fn lines(&self) -> Vec<Line> {
        let mut lines = self.throughput_lines();
        lines.extend(self.imports.iter().flat_map(Import::lines));
        lines.extend(self.pacing_lines());
        lines.extend(self.checks.iter().flat_map(check_lines));
        lines.extend(self.python_lines());
        lines
    }

    /// Time, refusals and losses of each import under a limit or faults; the pacing
    /// targets hold under the rolling limit, and nothing may be undelivered anywhere.
    fn pacing_lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        for run in &self.pacing {
            let how = run.scenario.describe();
            let rows = thousands(run.rows);
            let share = run.share_of_best();
            let refused = run.refused_share();
            let targeted = run.has_pacing_targets();
            lines.extend([
                Line {
                    measurement: format!("import of {rows} rows, {how}: time"),
                    figure: format!(
                        "{:.1} s, {share:.2} of the best possible ({:.1} s), {}",
                        run.elapsed.as_secs_f64(),
                        run.best.as_secs_f64(),
                        rate(run.rows as f64 / run.elapsed.as_secs_f64())
                    ),
                    target: targeted.then(|| {
                        Target::at_least(format!(">= {BEST_SHARE} of best"), share, BEST_SHARE)
                    }),
                },
                Line {
                    measurement: format!("import, {how}: requests answered 429"),
                    figure: format!(
                        "{} of {} ({:.1}%)",
                        run.rate_limited,
                        run.requests,
                        refused * 100.0
                    ),
                    target: targeted.then(|| {
                        Target::at_most(
                            format!("<= {:.0}% 429", MAX_REFUSED_SHARE * 100.0),
                            refused,
                            MAX_REFUSED_SHARE,
                        )
                    }),
                },
                Line {
                    measurement: format!("import, {how}: rows undelivered"),
                    figure: run.undelivered.to_string(),
                    target: Some(Target::none("0 undelivered".to_owned(), run.undelivered)),
                },
            ]);
        }
        lines
    }

    fn throughput_lines(&self) -> Vec<Line> {
        let ceiling = self.best(Sender::Ceiling);
        let ceiling_line = Line {
            measurement: "server ceiling (raw keep-alive HTTP/1.1)".to_owned(),
            figure: rate(ceiling),
            target: None,
        };
        let client_lines = self.clients().map(|(sender, best)| {
            let share = match sender {
                Sender::Client(ClientKind::Cli) => CLI_CEILING_SHARE,
                _ => CEILING_SHARE,
            };
            Line {
                measurement: sender.name().to_owned(),
                figure: format!("{} ({:.2} of ceiling)", rate(best), best / ceiling),
                target: Some(Target::at_least(
                    format!(">= {share} of ceiling"),
                    best / ceiling,
                    share,
                )),
            }
        });
        std::iter::once(ceiling_line).chain(client_lines).collect()
    }

    fn python_lines(&self) -> Vec<Line> {
        let python = match &self.python {
            Ok(python) => python,
            Err(why) => {
                return vec![Line {
                    measurement: format!("python SDK {SDK}"),
                    figure: format!("not measured: {why}"),
                    target: None,
                }];
            }
        };
        let slowest = self
            .clients()
            .map(|(_, best)| best)
            .fold(f64::INFINITY, f64::min);
        let multiple = slowest / python.aliases_per_second;
        vec![
            Line {
                measurement: format!("python SDK {SDK}, {} alias() calls", python.aliases),
                figure: rate(python.aliases_per_second),
                target: None,
            },
            Line {
                measurement: "slowest client / python SDK".to_owned(),
                figure: format!("{multiple:.0}x"),
                target: Some(Target::at_least(
                    format!(">= {PYTHON_MULTIPLE:.0}x"),
                    multiple,
                    PYTHON_MULTIPLE,
                )),
            },
        ]
    }

    /// Prints the table.
    pub(super) fn print(&self) {
        let runs = self.throughput.first().map_or(0, |(_, rates)| rates.len());
        println!(
            "{} aliases per run, batches of {BATCH}, {CONCURRENCY} in flight; best of {runs} runs",
            thousands(self.aliases)
        );
        println!("machine: {}", self.machine);
        println!(
            "load average (1, 5, 15 min): {} before, {} after",
            self.load[0], self.load[1]
        );
        println!();
        print_row(["measurement", "figure", "target", "figure/target"]);
        println!("{}", "-".repeat(WIDTHS.iter().sum::<usize>() + 19));
        for line in self.lines() {
            let (target, ratio) = match &line.target {
                Some(target) => {
                    let verdict = if target.met { "met" } else { "MISSED" };
                    let ratio = match target.ratio {
                        Some(ratio) => format!("{ratio:.2} {verdict}"),
                        None => verdict.to_owned(),
                    };
                    (target.text.as_str(), ratio)
                }
                None => ("", String::new()),
            };
            print_row([&line.measurement, &line.figure, target, &ratio]);
        }
    }

    /// The figures of the import of `file`, as JSON; `null` if it was not measured.
    fn import_json(&self, file: CsvFile) -> Value {
        self.imports
            .iter()
            .find(|import| import.file == file)
            .map_or(Value::Null, Import::json)
    }

    /// Writes every figure, each run's included, as JSON to `path`.
    pub(super) fn write_json(&self, path: &Path) -> Result<(), String> {
        let throughput: serde_json::Map<String, Value> = self
            .throughput
            .iter()
            .map(|(sender, rates)| {
                let figure = json!({ "best": self.best(*sender), "runs": rates });
                (sender.name().to_owned(), figure)
            })
            .collect();
        let targets: Vec<Value> = self
            .lines()
            .into_iter()
            .filter_map(|line| {
                let target = line.target?;
                Some(json!({
                    "measurement": line.measurement,
                    "figure": line.figure,
                    "target": target.text,
                    "ratio": target.ratio,
                    "met": target.met,
                }))
            })
            .collect();
        let python = match &self.python {
            Ok(python) => json!({
                "sdk": SDK,
                "aliases": python.aliases,
                "aliases_per_second": python.aliases_per_second,
            }),
            Err(why) => json!({ "sdk": SDK, "not_measured": why }),
        };
        let document = json!({
            "machine": self.machine,
            "load_average": { "before": self.load[0], "after": self.load[1] },
            "aliases_per_run": self.aliases,
            "batch": BATCH,
            "concurrency": CONCURRENCY,
            "aliases_per_second": throughput,
            "cli_import": self.import_json(CsvFile::Plain),
            "cli_import_gzip": self.import_json(CsvFile::Gzip),
            "limited_imports": self.pacing.iter().map(|run| json!({
                "scenario": run.scenario.describe(),
                "rows": run.rows,
                "seconds": run.elapsed.as_secs_f64(),
                "best_seconds": run.best.as_secs_f64(),
                "share_of_best": run.share_of_best(),
                "requests": run.requests,
                "requests_rate_limited": run.rate_limited,
                "undelivered": run.undelivered,
            })).collect::<Vec<_>>(),
            "check": self.checks.iter().map(|run| json!({
                "rows": run.rows,
                "seconds": run.elapsed.as_secs_f64(),
                "peak_rss_bytes": run.peak_rss,
            })).collect::<Vec<_>>(),
            "python_sdk": python,
            "targets": targets,
        });
        let text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// A check's time and peak memory, against their targets.
fn check_lines(run: &CheckRun) -> [Line; 2] {
    let (seconds, bytes) = check::targets(run.rows);
    let what = format!("cli check of {} pairs", thousands(run.rows));
    let elapsed = run.elapsed.as_secs_f64();
    [
        Line {
            measurement: format!("{what}: time"),
            figure: format!("{elapsed:.2} s"),
            target: Some(Target::at_most(
                format!("<= {seconds:.0} s"),
                elapsed,
                seconds,
            )),
        },
        peak_rss_line(&what, run.peak_rss, bytes),
    ]
}

/// The peak memory of `what` (`None` where `/proc` is not available), against `limit` bytes.
fn peak_rss_line(what: &str, peak: Option<u64>, limit: u64) -> Line {
    Line {
        measurement: format!("{what}: peak RSS"),
        figure: peak.map_or("not measured (no /proc)".to_owned(), |peak| {
            format!("{:.1} MiB", mib(peak))
        }),
        target: peak.map(|peak| {
            Target::at_most(
                format!("<= {:.0} MiB", mib(limit)),
                peak as f64,
                limit as f64,
            )
        }),
    }
}

/// The widths of the table's first three columns; a longer cell still gets a space after it.
const WIDTHS: [usize; 3] = [54, 40, 22];

fn print_row([measurement, figure, target, ratio]: [&str; 4]) {
    let [a, b, c] = WIDTHS;
    println!("{measurement:<a$} {figure:<b$} {target:<c$} {ratio}");
}

fn rate(per_second: f64) -> String {
    format!("{} aliases/s", thousands(per_second.round() as usize))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `1234567` as `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn targets_say_whether_they_are_met() {
        let above = Target::at_least(String::new(), 0.9, 0.8);
        assert!(above.met && (above.ratio.unwrap() - 1.125).abs() < 1e-9);
        assert!(!Target::at_least(String::new(), 0.7, 0.8).met);
        let under = Target::at_most(String::new(), 32.0, 64.0);
        assert!(under.met && (under.ratio.unwrap() - 0.5).abs() < 1e-9);
        assert!(!Target::at_most(String::new(), 65.0, 64.0).met);
        let nothing_lost = Target::none(String::new(), 0);
        assert!(nothing_lost.met && nothing_lost.ratio.is_none());
        assert!(!Target::none(String::new(), 1).met);
    }
}
