//! `cargo xtask fuzz`: mutated and random inputs thrown at the two parsers that read bytes
//! off the network, `alias_core::parse_response` (clients) and
//! `alias_core::server::decode_request` (the reference server).
//!
//! cargo-fuzz needs a nightly toolchain, so this is a stable, coverage-free harness: it
//! replays the committed seeds of `fuzz/corpus/<target>/` (raw HTTP messages), then mutates
//! them until the time is up, keeping every mutant that shows a new behaviour (see
//! [`target`]). A panic, in the function or in a check of its result, is caught, reported
//! and its input written to `fuzz/crashes/`; the run then exits non-zero. Each crash
//! becomes a regression test in alias-core.

mod mutate;
mod target;
mod wire;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Once;
use std::time::{Duration, Instant};

use fastrand::Rng;
use target::Target;

/// The corpus grows by new behaviours up to this many entries; past it, mutants are still
/// run but no longer kept.
const MAX_CORPUS: usize = 4096;

/// One execution in this many is a fresh random input rather than a mutant.
const RANDOM_ONE_IN: u32 = 50;

/// Options of `cargo xtask fuzz`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How long to fuzz, in seconds, shared between the targets.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Only this target; repeatable. Default: every target.
    #[arg(long = "target", value_enum)]
    targets: Vec<Target>,
    /// The seed of the mutations, to replay a run. Default: a random one, printed.
    #[arg(long)]
    seed: Option<u64>,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let targets = if args.targets.is_empty() {
        Target::ALL.to_vec()
    } else {
        args.targets.clone()
    };
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    println!("fuzz: seed {seed} (replay with --seed {seed})");
    let share = Duration::from_secs(args.seconds) / targets.len() as u32;
    let dir = fuzz_dir();
    let mut crashed = false;
    for target in targets {
        let seeds = match load_corpus(&dir.join("corpus").join(target.name())) {
            Ok(seeds) => seeds,
            Err(error) => {
                eprintln!("fuzz: {error}");
                return ExitCode::from(2);
            }
        };
        let mut campaign = Campaign::new(target, seeds, Rng::with_seed(seed));
        campaign.run(Budget::Time(share));
        campaign.print();
        for crash in &campaign.crashes {
            let file = dir.join("crashes").join(crash.file_name(target));
            let saved = std::fs::create_dir_all(file.parent().unwrap_or(&dir))
                .and_then(|()| std::fs::write(&file, &crash.input));
            match saved {
                Ok(()) => println!("  CRASH {} (input: {})", crash.message, file.display()),
                Err(error) => println!("  CRASH {} (input not saved: {error})", crash.message),
            }
        }
        crashed |= !campaign.crashes.is_empty();
    }
    if crashed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `fuzz/` at the workspace root.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Every file of a corpus folder, in name order, so that a seed replays the same run.
fn load_corpus(dir: &Path) -> Result<Vec<Vec<u8>>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    let seeds = paths
        .iter()
        .map(|path| std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display())))
        .collect::<Result<Vec<_>, _>>()?;
    if seeds.is_empty() {
        return Err(format!("{} holds no seeds", dir.display()));
    }
    Ok(seeds)
}

/// When a campaign stops.
#[derive(Debug, Clone, Copy)]
enum Budget {
    /// After this long.
    Time(Duration),
    /// After this many executions; for tests, whose run must not depend on the machine.
    #[cfg(test)]
    Executions(u64),
}

/// A panic caught during one execution.
#[derive(Debug)]
struct Crash {
    /// Where and why: the panic's own text.
    message: String,
    input: Vec<u8>,
}

impl Crash {
    fn file_name(&self, target: Target) -> String {
        let mut hasher = DefaultHasher::new();
        self.input.hash(&mut hasher);
        format!("{}-{:016x}.http", target.name(), hasher.finish())
    }
}

/// One target's run: its corpus, the behaviours seen, the counters.
struct Campaign {
    target: Target,
    seeds: usize,
    corpus: Vec<Vec<u8>>,
    behaviours: HashSet<String>,
    rng: Rng,
    executions: u64,
    elapsed: Duration,
    slowest: Duration,
    /// One crash per panic site: a bug found a thousand ways is still one bug.
    crashes: Vec<Crash>,
    crash_sites: HashSet<String>,
}

impl Campaign {
    fn new(target: Target, seeds: Vec<Vec<u8>>, rng: Rng) -> Self {
        Self {
            target,
            seeds: seeds.len(),
            corpus: seeds,
            behaviours: HashSet::new(),
            rng,
            executions: 0,
            elapsed: Duration::ZERO,
            slowest: Duration::ZERO,
            crashes: Vec::new(),
            crash_sites: HashSet::new(),
        }
    }

    fn run(&mut self, budget: Budget) {
        install_panic_capture();
        let started = Instant::now();
        for index in 0..self.seeds {
            let seed = self.corpus[index].clone();
            self.execute(seed);
        }
        loop {
            let spent = match budget {
                Budget::Time(limit) => started.elapsed() >= limit,
                #[cfg(test)]
                Budget::Executions(limit) => self.executions >= limit,
            };
            if spent {
                break;
            }
            let input = self.next_input();
            self.execute(input);
        }
        self.elapsed = started.elapsed();
    }

    fn next_input(&mut self) -> Vec<u8> {
        let max_len = self.target.max_len();
        if self.rng.u32(..RANDOM_ONE_IN) == 0 {
            let len = self.rng.usize(..=max_len.min(512));
            return (0..len).map(|_| self.rng.u8(..)).collect();
        }
        let mut input = self.corpus[self.rng.usize(..self.corpus.len())].clone();
        let other = &self.corpus[self.rng.usize(..self.corpus.len())];
        mutate::mutate(
            &mut self.rng,
            &mut input,
            other,
            self.target.dictionary(),
            max_len,
        );
        input
    }

    fn execute(&mut self, input: Vec<u8>) {
        let tight = self.rng.u8(..4) == 0;
        let target = self.target;
        self.execute_with(input, |input| target.run(input, tight));
    }

    /// Runs `run` on `input`, catching a panic, and keeps the input if it showed a new
    /// behaviour or crashed at a new site.
    fn execute_with(&mut self, input: Vec<u8>, run: impl FnOnce(&[u8]) -> String) {
        let started = Instant::now();
        CAPTURING.set(true);
        let result = panic::catch_unwind(AssertUnwindSafe(|| run(&input)));
        CAPTURING.set(false);
        self.slowest = self.slowest.max(started.elapsed());
        self.executions += 1;
        match result {
            Ok(behaviour) => {
                if self.behaviours.insert(behaviour) && self.corpus.len() < MAX_CORPUS {
                    self.corpus.push(input);
                }
            }
            Err(_) => {
                let message = CAUGHT
                    .take()
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                let site = message.lines().next().unwrap_or_default().to_owned();
                if self.crash_sites.insert(site) {
                    self.crashes.push(Crash { message, input });
                }
            }
        }
    }

    fn print(&self) {
        let per_second = self.executions as f64 / self.elapsed.as_secs_f64().max(1e-9);
        println!(
            "fuzz {}: {} executions in {:.1} s ({:.0}/s), {} seeds, {} behaviours, corpus {}, slowest {:.2} ms, {} crashes",
            self.target.name(),
            self.executions,
            self.elapsed.as_secs_f64(),
            per_second,
            self.seeds,
            self.behaviours.len(),
            self.corpus.len(),
            self.slowest.as_secs_f64() * 1000.0,
            self.crashes.len(),
        );
    }
}

thread_local! {
    /// Whether a panic on this thread comes from a fuzzed execution.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// The text of the last such panic.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Routes panics of fuzzed executions into [`CAUGHT`] instead of stderr, where thousands
/// of them would bury the report; every other panic goes to the hook there was before.
fn install_panic_capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CAPTURING.get() {
                CAUGHT.set(Some(info.to_string()));
            } else {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_corpus_replays_and_mutates_without_a_crash() {
        for target in Target::ALL {
            let seeds = load_corpus(&fuzz_dir().join("corpus").join(target.name())).unwrap();
            assert!(
                seeds.len() >= 20,
                "{}: {} seeds",
                target.name(),
                seeds.len()
            );
            let mut campaign = Campaign::new(target, seeds, Rng::with_seed(7));
            campaign.run(Budget::Executions(3000));
            assert_eq!(campaign.executions, 3000);
            assert!(campaign.crashes.is_empty(), "{:?}", campaign.crashes);
            // The seeds alone show many behaviours: every answer form, every wire form.
            assert!(campaign.behaviours.len() >= 15, "{:?}", campaign.behaviours);
        }
    }

    #[test]
    fn a_panic_is_kept_once_per_site_with_its_message_and_input() {
        install_panic_capture();
        let mut campaign = Campaign::new(
            Target::ParseResponse,
            vec![b"x".to_vec()],
            Rng::with_seed(1),
        );
        let boom = |input: &[u8]| -> String { panic!("boom on {} bytes", input.len()) };
        campaign.execute_with(b"first".to_vec(), boom);
        campaign.execute_with(b"second".to_vec(), boom);
        campaign.execute_with(b"fine".to_vec(), |_| "ok".to_owned());
        assert_eq!(campaign.executions, 3);
        let [crash] = &campaign.crashes[..] else {
            panic!("one crash site expected: {:?}", campaign.crashes);
        };
        assert!(
            crash.message.contains("boom on 5 bytes"),
            "{}",
            crash.message
        );
        assert!(crash.message.contains("fuzz.rs"), "{}", crash.message);
        assert_eq!(crash.input, b"first");
        assert!(
            crash
                .file_name(Target::ParseResponse)
                .starts_with("parse_response-")
        );
        assert_eq!(
            campaign.corpus.len(),
            2,
            "the new behaviour joined the corpus"
        );
    }
}
