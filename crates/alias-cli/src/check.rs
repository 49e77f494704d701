//! `mixpanel-alias check`: what Mixpanel will make of an import file, predicted offline
//! before anything is sent. A 200 says nothing about a merge (Mixpanel applies identity
//! rules after answering) and a merge cannot be undone, so the problems are found first.
//!
//! The whole file goes through one union-find under the rules of `alias_core::identity`
//! (`docs/mixpanel-facts.md` §7), over ids interned by hash ([`crate::clusters`]): a few
//! bytes per id whatever its length.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use alias_core::identity::{IdentitySystem, MAX_CLUSTER_IDS, SimplifiedId};
use alias_core::wire::is_placeholder;
use clap::ValueEnum;
use serde::Serialize;

use crate::clusters::{Clusters, NONE, Role, hash};
use crate::console;
use crate::exit::{self, UsageError};
use crate::import::input::{FormatArg, InputPath, PairRow, Pass, ReadError};
use crate::serve::IdMerge;

/// `--hub-threshold`'s default, which `import --check` uses.
pub(crate) const DEFAULT_HUB_THRESHOLD: u32 = 100;

/// Rows read before the file's number of ids is estimated from its size.
const ESTIMATE_AFTER_ROWS: u64 = 4096;

/// Rows read, then looked up together.
const BATCH: usize = 64;

/// How many line numbers each kind of problem lists.
const FIRST_LINES: usize = 5;

/// Check an import file offline: the merges Mixpanel will make of it, and the rows it
/// will refuse or merge in ways that cannot be undone.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file to check, or - for standard input: the same files as `import` reads.
    #[arg(value_name = "FILE")]
    input: PathBuf,

    /// The input format, as for `import`.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,

    /// The project's identity system (Project Settings, Identity Merge).
    #[arg(long, value_enum, default_value_t = IdMerge::Original)]
    id_merge: IdMerge,

    /// An id in more pairs than this is reported as a hub: often a shared or default
    /// value rather than one person's id.
    #[arg(long, default_value_t = DEFAULT_HUB_THRESHOLD, value_name = "N")]
    hub_threshold: u32,

    /// The import will run with --keep-order, so Legacy chains resolve as written.
    #[arg(long)]
    keep_order: bool,

    /// The report's format: text for people, json (one line) for programs.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// `--output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// Lines for people.
    Text,
    /// One JSON object.
    Json,
}

/// What a check looks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// The project's identity system.
    pub(crate) system: IdentitySystem,
    /// Ids in more pairs than this are hubs.
    pub(crate) hub_threshold: u32,
    /// The import keeps input order (Legacy chains are then no problem).
    pub(crate) keep_order: bool,
}

/// Runs `check` and gives its exit code: 0 clean, 1 problems, 2 usage.
pub(crate) fn run(args: &Args) -> Result<ExitCode, UsageError> {
    let settings = Settings {
        system: args.id_merge.into(),
        hub_threshold: args.hub_threshold,
        keep_order: args.keep_order,
    };
    let path = InputPath::new(&args.input);
    let report = check_file(&path, args.format, settings)?;
    report.print(args.output);
    Ok(exit::of_run(report.is_clean()))
}

/// Checks the file at `path` in `format` under `settings`.
pub(crate) fn check_file(
    path: &InputPath,
    format: FormatArg,
    settings: Settings,
) -> Result<Report, UsageError> {
    let mut input = Pass::open(path, format)?;
    let mut check = Check::new(settings);
    let text_size = input.text_size();
    let mut batch: Vec<PairRow> = std::iter::repeat_with(PairRow::default)
        .take(BATCH)
        .collect();
    let mut ended = false;
    while !ended {
        let mut read = 0;
        for row in &mut batch {
            if !input
                .next(row)
                .map_err(|error| unreadable(path, "check", error))?
            {
                ended = true;
                break;
            }
            read += 1;
        }
        let rows = &batch[..read];
        check.prefetch(rows.iter().filter_map(PairRow::pair));
        for row in rows {
            if let Some(ids) = ids_estimate(check.rows, row.end, text_size) {
                check.reserve(ids);
            }
            match row.pair() {
                Some((distinct_id, alias)) => check.pair(row.line, distinct_id, alias),
                None => check.refused_row(row.line, row.ids()),
            }
        }
    }
    Ok(check.report(path.name()))
}

/// After [`ESTIMATE_AFTER_ROWS`] rows ending at `offset`, the ids a file of `text_size`
/// can hold at the rows' size so far: room for them all saves growing the tables (and
/// holding two copies while they grow).
pub(crate) fn ids_estimate(rows: u64, offset: u64, text_size: Option<u64>) -> Option<usize> {
    if rows != ESTIMATE_AFTER_ROWS {
        return None;
    }
    let rows = text_size? / (offset / ESTIMATE_AFTER_ROWS).max(1);
    Some(usize::try_from(rows.saturating_mul(2)).unwrap_or(usize::MAX))
}

/// The usage error of a file that cannot be read to `doing` it.
pub(crate) fn unreadable(path: &InputPath, doing: &str, error: ReadError) -> UsageError {
    let what = match error {
        ReadError::Unreadable(why) => why,
        ReadError::TooLong { line } => format!("the row on line {line} is too long"),
        ReadError::Changed { line, .. } => format!("the input changed at line {line}"),
    };
    UsageError::new(format!("FILE {}: cannot {doing} it: {what}", path.name()))
}

/// The kinds of problem, in the order the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// A row whose alias is its distinct_id.
    SelfAlias,
    /// A row with a placeholder id.
    PlaceholderId,
    /// Another row that cannot be sent (a missing id, a bad time, ...).
    InvalidRow,
    /// An alias already mapped to another distinct_id (Original, Legacy).
    AliasMappedTwice,
    /// A device linked to a second user (Simplified).
    DeviceLinkedTwice,
    /// A cluster past the cap (Original).
    ClusterOverCap,
    /// A Legacy chain that resolves as written only when sent in order.
    LegacyChain,
    /// An id in more pairs than the threshold.
    HubId,
}

impl Kind {
    /// What it means, and what to do about it.
    fn advice(self, settings: &Settings) -> String {
        match self {
            Self::SelfAlias => "an id aliased to itself changes nothing: drop the row".into(),
            Self::PlaceholderId => {
                "a placeholder id (null, undefined, anonymous, ...) that Mixpanel refuses".into()
            }
            Self::InvalidRow => "a row import cannot send (see import's failures)".into(),
            Self::AliasMappedTwice => {
                "an alias already mapped to another distinct_id: refused, errAliasAlreadyExists"
                    .into()
            }
            Self::DeviceLinkedTwice => "a device already linked to another user: not moved, \
                 errAnonDistinctIdAssignedAlready"
                .into(),
            Self::ClusterOverCap => format!(
                "a cluster past {MAX_CLUSTER_IDS} ids: merges past that are refused, errManyIDs"
            ),
            Self::LegacyChain => "an alias chained to an earlier row: resolves as written only \
                 if sent in order; import with --keep-order"
                .into(),
            Self::HubId => format!(
                "an id in more than {} pairs: often a shared or default value, which would \
                 merge unrelated people",
                settings.hub_threshold
            ),
        }
    }

    /// The kinds that apply under `settings`.
    fn applicable(settings: &Settings) -> Vec<Self> {
        let mut kinds = vec![Self::SelfAlias, Self::PlaceholderId, Self::InvalidRow];
        kinds.push(match settings.system {
            IdentitySystem::Simplified => Self::DeviceLinkedTwice,
            _ => Self::AliasMappedTwice,
        });
        if settings.system.cluster_cap().is_some() {
            kinds.push(Self::ClusterOverCap);
        }
        if settings.system == IdentitySystem::Legacy && !settings.keep_order {
            kinds.push(Self::LegacyChain);
        }
        kinds.push(Self::HubId);
        kinds
    }
}

/// One kind of problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Problem {
    /// Which.
    pub(crate) kind: Kind,
    /// How many (rows, or ids for hubs, or clusters).
    pub(crate) count: u64,
    /// The first lines it was seen on.
    pub(crate) lines: Vec<u64>,
    /// For clusters past the cap: the first ones' sizes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) sizes: Vec<u64>,
    /// What it means.
    pub(crate) advice: String,
}

/// The file as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    /// Rows read.
    pub(crate) rows: u64,
    /// Rows that make a pair of ids to send.
    pub(crate) pairs: u64,
    /// Distinct ids in those pairs.
    pub(crate) ids: u64,
    /// Clusters they make once merged.
    pub(crate) clusters: u64,
    /// The largest cluster's size.
    pub(crate) largest_cluster: u64,
    /// Pairs predicted to merge two clusters.
    pub(crate) merges_predicted: u64,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Report {
    /// The file's name.
    pub(crate) file: String,
    /// The identity system it was checked for.
    pub(crate) id_merge: String,
    /// The totals.
    pub(crate) summary: Summary,
    /// Every kind that applies, found or not.
    pub(crate) problems: Vec<Problem>,
}

impl Report {
    /// Whether no problem was found.
    pub(crate) fn is_clean(&self) -> bool {
        self.problems.iter().all(|p| p.count == 0)
    }

    /// Writes the report on standard output.
    pub(crate) fn print(&self, output: Output) {
        match output {
            Output::Json => match serde_json::to_string(self) {
                Ok(json) => console::result(&json),
                Err(error) => console::message(&format!("cannot write the report: {error}")),
            },
            Output::Text => {
                for line in self.text() {
                    console::result(&line);
                }
            }
        }
    }

    /// The report as lines of text.
    pub(crate) fn text(&self) -> Vec<String> {
        let s = &self.summary;
        let mut lines = vec![format!(
            "{} ({} ID merge): {} rows, {} pairs, {} ids, {} clusters, largest {} ids, \
             {} merges predicted",
            self.file,
            self.id_merge,
            s.rows,
            s.pairs,
            s.ids,
            s.clusters,
            s.largest_cluster,
            s.merges_predicted
        )];
        for problem in self.problems.iter().filter(|p| p.count > 0) {
            let lines_text: Vec<String> = problem.lines.iter().map(u64::to_string).collect();
            let sizes = if problem.sizes.is_empty() {
                String::new()
            } else {
                let sizes: Vec<String> = problem.sizes.iter().map(u64::to_string).collect();
                format!(", sizes {}", sizes.join(" "))
            };
            lines.push(format!(
                "{}: {} (first lines {}{sizes}): {}",
                serde_json::to_value(problem.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                problem.count,
                lines_text.join(" "),
                problem.advice
            ));
        }
        lines.push(if self.is_clean() {
            "no problems found".to_owned()
        } else {
            "problems found: fix them before importing (merges cannot be undone)".to_owned()
        });
        lines
    }
}

/// Flags of an id.
const WAS_DISTINCT_ID: u8 = 1;
const WAS_ALIAS: u8 = 2;
/// Flags of a cluster's root.
const OVER_CAP: u8 = 4;

/// Counts and first lines of one kind.
#[derive(Debug, Default)]
struct Found {
    count: u64,
    lines: Vec<u64>,
}

impl Found {
    fn add(&mut self, line: u64) {
        self.count += 1;
        if self.lines.len() < FIRST_LINES {
            self.lines.push(line);
        }
    }
}

/// The state of a check: the ids, interned by hash, and a union-find over them.
#[derive(Debug)]
struct Check {
    settings: Settings,
    clusters: Clusters,
    /// Pairs each id is in.
    uses: Vec<u32>,
    /// Original and Legacy: the distinct_id an alias is mapped to. Simplified: the user a
    /// device is linked to.
    mapped: Vec<u32>,
    flags: Vec<u8>,
    rows: u64,
    pairs: u64,
    merges: u64,
    found: HashMap<KindKey, Found>,
}

/// [`Kind`] as a map key.
type KindKey = u8;

impl Check {
    fn new(settings: Settings) -> Self {
        Self {
            settings,
            clusters: Clusters::default(),
            uses: Vec::new(),
            mapped: Vec::new(),
            flags: Vec::new(),
            rows: 0,
            pairs: 0,
            merges: 0,
            found: HashMap::new(),
        }
    }

    /// Makes room for `ids` ids in all, at most [`NONE`].
    fn reserve(&mut self, ids: usize) {
        let more = self.clusters.reserve(ids);
        self.uses.reserve_exact(more);
        self.mapped.reserve_exact(more);
        self.flags.reserve_exact(more);
    }

    fn add(&mut self, kind: Kind, line: u64) {
        self.found.entry(kind as KindKey).or_default().add(line);
    }

    /// A row the import would refuse: why, as far as its ids tell.
    fn refused_row(&mut self, line: u64, [distinct_id, alias]: [Option<&str>; 2]) {
        self.rows += 1;
        let kind = if distinct_id.into_iter().chain(alias).any(is_placeholder) {
            Kind::PlaceholderId
        } else if distinct_id.is_some() && distinct_id == alias {
            Kind::SelfAlias
        } else {
            Kind::InvalidRow
        };
        self.add(kind, line);
    }

    /// The two ids of a pair, as the system reads them.
    fn keys<'a>(&self, distinct_id: &'a str, alias: &'a str) -> [(Role, &'a str); 2] {
        match self.settings.system {
            // Sent as $device_id and $user_id: the device is the distinct_id column, read
            // as Simplified reads a distinct_id.
            IdentitySystem::Simplified => {
                let device = SimplifiedId::of_distinct_id(distinct_id).id();
                [(Role::Device, device), (Role::User, alias)]
            }
            _ => [(Role::Id, distinct_id), (Role::Id, alias)],
        }
    }

    /// Reads the table slots where the ids of `pairs` start probing, all before any is
    /// needed: the cache misses then overlap instead of coming one after another.
    fn prefetch<'a>(&self, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
        let mut seen = 0;
        for (distinct_id, alias) in pairs {
            for (role, text) in self.keys(distinct_id, alias) {
                seen ^= self.clusters.peek(hash(role, text));
            }
        }
        std::hint::black_box(seen);
    }

    /// The id of `text` in `role`, new or not.
    fn intern(&mut self, role: Role, text: &str) -> u32 {
        let (id, new) = self.clusters.intern(hash(role, text));
        if new {
            self.uses.push(0);
            self.mapped.push(NONE);
            self.flags.push(0);
        }
        id
    }

    /// A row that makes a pair.
    fn pair(&mut self, line: u64, distinct_id: &str, alias: &str) {
        self.rows += 1;
        self.pairs += 1;
        let [(first_role, first), (second_role, second)] = self.keys(distinct_id, alias);
        let (first, second) = (
            self.intern(first_role, first),
            self.intern(second_role, second),
        );
        for id in [first, second] {
            let uses = &mut self.uses[id as usize];
            *uses = uses.saturating_add(1);
            if *uses == self.settings.hub_threshold.saturating_add(1) {
                self.add(Kind::HubId, line);
            }
        }
        match self.settings.system {
            IdentitySystem::Simplified => {
                // Devices hold the link: first write wins.
                let linked = self.mapped[first as usize];
                if linked != NONE && linked != second {
                    self.add(Kind::DeviceLinkedTwice, line);
                    return;
                }
                self.mapped[first as usize] = second;
            }
            system => {
                let mapped = self.mapped[second as usize];
                if mapped != NONE && mapped != first {
                    self.add(Kind::AliasMappedTwice, line);
                    return;
                }
                if system == IdentitySystem::Legacy
                    && (self.flags[first as usize] & WAS_ALIAS != 0
                        || self.flags[second as usize] & WAS_DISTINCT_ID != 0)
                    && !self.settings.keep_order
                    && mapped == NONE
                {
                    self.add(Kind::LegacyChain, line);
                }
                self.flags[first as usize] |= WAS_DISTINCT_ID;
                self.flags[second as usize] |= WAS_ALIAS;
                self.mapped[second as usize] = first;
            }
        }
        let Some((root, absorbed)) = self.clusters.union(first, second) else {
            return;
        };
        self.flags[root as usize] |= self.flags[absorbed as usize] & OVER_CAP;
        let cap = self.settings.system.cluster_cap();
        let size = self.clusters.size(root) as usize;
        match cap {
            Some(cap) if size > cap => {
                if self.flags[root as usize] & OVER_CAP == 0 {
                    self.flags[root as usize] |= OVER_CAP;
                    self.add(Kind::ClusterOverCap, line);
                }
            }
            _ => self.merges += 1,
        }
    }

    fn report(mut self, file: String) -> Report {
        let mut roots = 0;
        let mut largest = 0;
        let mut over_cap = Vec::new();
        for id in 0..self.clusters.len() {
            // Ids are numbered by `u32`s.
            let id = id as u32;
            if self.clusters.is_root(id) {
                roots += 1;
                let size = self.clusters.size(id);
                largest = largest.max(size);
                if self.flags[id as usize] & OVER_CAP != 0 {
                    over_cap.push(u64::from(size));
                }
            }
        }
        let settings = self.settings;
        let problems = Kind::applicable(&settings)
            .into_iter()
            .map(|kind| {
                let found = self.found.remove(&(kind as KindKey)).unwrap_or_default();
                let (count, sizes) = if kind == Kind::ClusterOverCap {
                    (
                        over_cap.len() as u64,
                        over_cap.iter().take(FIRST_LINES).copied().collect(),
                    )
                } else {
                    (found.count, Vec::new())
                };
                Problem {
                    kind,
                    count,
                    lines: found.lines,
                    sizes,
                    advice: kind.advice(&settings),
                }
            })
            .collect();
        Report {
            file,
            id_merge: settings.system.to_string(),
            summary: Summary {
                rows: self.rows,
                pairs: self.pairs,
                ids: self.clusters.len() as u64,
                clusters: roots,
                largest_cluster: u64::from(largest),
                merges_predicted: self.merges,
            },
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(system: IdentitySystem, pairs: &[(&str, &str)]) -> Report {
        let mut check = Check::new(Settings {
            system,
            hub_threshold: 2,
            keep_order: false,
        });
        for (i, (distinct_id, alias)) in pairs.iter().enumerate() {
            check.pair(i as u64 + 2, distinct_id, alias);
        }
        check.report("test".into())
    }

    fn found(report: &Report, kind: Kind) -> (u64, Vec<u64>) {
        let problem = report.problems.iter().find(|p| p.kind == kind).unwrap();
        (problem.count, problem.lines.clone())
    }

    #[test]
    fn original_clusters_merge_and_a_remapped_alias_is_found() {
        let report = check(
            IdentitySystem::Original,
            &[("a", "b"), ("b", "c"), ("a", "b"), ("x", "b"), ("y", "z")],
        );
        assert_eq!(found(&report, Kind::AliasMappedTwice), (1, vec![5]));
        assert_eq!(
            report.summary,
            Summary {
                rows: 5,
                pairs: 5,
                ids: 6,
                clusters: 3,
                largest_cluster: 3,
                merges_predicted: 3,
            }
        );
        // b is in four pairs, past the threshold of 2 on its third.
        assert_eq!(found(&report, Kind::HubId), (1, vec![4]));
    }

    #[test]
    fn original_finds_the_cluster_past_500_ids() {
        let pairs: Vec<(String, String)> = (0..MAX_CLUSTER_IDS)
            .map(|i| ("root".to_owned(), format!("id-{i}")))
            .collect();
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let report = check(IdentitySystem::Original, &pairs);
        let problem = report
            .problems
            .iter()
            .find(|p| p.kind == Kind::ClusterOverCap)
            .unwrap();
        assert_eq!(
            (problem.count, &problem.lines, &problem.sizes),
            (1, &vec![501], &vec![501])
        );
        assert_eq!(report.summary.merges_predicted, 499);
        // Simplified has no cap.
        let report = check(IdentitySystem::Simplified, &pairs);
        assert!(
            report
                .problems
                .iter()
                .all(|p| p.kind != Kind::ClusterOverCap)
        );
    }

    #[test]
    fn legacy_chains_are_found_unless_order_is_kept() {
        let pairs = [("a", "b"), ("b", "c"), ("d", "e"), ("f", "d")];
        let report = check(IdentitySystem::Legacy, &pairs);
        assert_eq!(found(&report, Kind::LegacyChain), (2, vec![3, 5]));
        let mut check = Check::new(Settings {
            system: IdentitySystem::Legacy,
            hub_threshold: 100,
            keep_order: true,
        });
        for (i, (d, a)) in pairs.iter().enumerate() {
            check.pair(i as u64, d, a);
        }
        assert!(check.report("t".into()).is_clean());
    }

    #[test]
    fn simplified_devices_link_once_and_users_never_merge() {
        let report = check(
            IdentitySystem::Simplified,
            &[
                ("d1", "u1"),
                ("d1", "u2"),
                ("$device:d2", "u1"),
                ("u1", "u2"),
            ],
        );
        assert_eq!(found(&report, Kind::DeviceLinkedTwice), (1, vec![3]));
        // d1 and d2 with u1; the device "u1" with u2: two clusters of users.
        assert_eq!(report.summary.clusters, 2);
        assert_eq!(report.summary.largest_cluster, 3);
    }

    #[test]
    fn refused_rows_are_sorted_by_why() {
        let mut check = Check::new(Settings {
            system: IdentitySystem::Original,
            hub_threshold: 100,
            keep_order: false,
        });
        check.refused_row(2, [Some("same"), Some("same")]);
        check.refused_row(3, [Some("null"), Some("user")]);
        check.refused_row(4, [None, Some("user")]);
        let report = check.report("t".into());
        assert_eq!(found(&report, Kind::SelfAlias), (1, vec![2]));
        assert_eq!(found(&report, Kind::PlaceholderId), (1, vec![3]));
        assert_eq!(found(&report, Kind::InvalidRow), (1, vec![4]));
        assert!(!report.is_clean());
        assert_eq!(report.summary.rows, 3);
    }
}
