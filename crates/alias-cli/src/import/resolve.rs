//! `import --resolve-chains`: under Simplified ID Merge chains do not merge
//! (`docs/mixpanel-facts.md` §7): rows (a,b),(b,u) sent as they are link device a to user
//! b and device b to user u, and a never reaches u. The file is read first, its ids joined
//! into clusters (text for text, a `$device:` distinct_id as its device), and each row is
//! then sent as (its distinct_id, its cluster's one user): (a,u),(b,u).
//!
//! A cluster's user is an id found only in the alias column (the `$user_id`); every id of
//! the distinct_id column is anonymous (a `$device_id`).

use std::collections::HashMap;

use alias_core::identity::SimplifiedId;
use alias_core::{Alias, CreateAlias, InsertId};
use serde_json::Value;

use super::input::{FormatArg, Header, InputPath, PairRow, Pass, Row, Source};
use crate::clusters::{Clusters, NONE, Role, hash};
use crate::exit::UsageError;

/// How many line numbers an ambiguity error names.
const FIRST_LINES: usize = 5;

/// Flags of an id.
const ANONYMOUS: u8 = 1;
const IN_ALIAS_COLUMN: u8 = 2;
/// Flag of a cluster's root.
const AMBIGUOUS: u8 = 4;

/// `--on-ambiguous` values: what to do with a cluster holding more than one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnAmbiguous {
    /// Link its anonymous ids to its first user in file order.
    First,
    /// Send nothing for its rows; they are reported as invalid.
    Skip,
    /// Send nothing at all, and name the rows (exit 2).
    Error,
}

/// How many anonymous ids get their cluster's user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Coverage {
    /// Anonymous ids (those of the distinct_id column).
    pub(crate) anonymous: u64,
    /// Those sent with their cluster's user.
    pub(crate) linked: u64,
}

/// Each cluster's user, found in a read of the whole file.
#[derive(Debug)]
pub(crate) struct Resolution {
    clusters: Clusters,
    flags: Vec<u8>,
    /// The user of each root, [`NONE`] for none.
    users: Vec<u32>,
    /// The text of each user chosen.
    texts: HashMap<u32, Box<str>>,
    on_ambiguous: OnAmbiguous,
    /// The alias column of a CSV input.
    alias_column: Option<usize>,
    /// The `$insert_id` column of a CSV input.
    insert_id_column: Option<usize>,
    coverage: Coverage,
}

/// The key of the distinct_id column's text: a `$device:X` distinct_id is device X.
fn anonymous_key(distinct_id: &str) -> u64 {
    hash(Role::Id, SimplifiedId::of_distinct_id(distinct_id).id())
}

impl Resolution {
    /// Reads the file at `path` (twice: the clusters, then their users' texts).
    pub(crate) fn read(
        path: &InputPath,
        format: FormatArg,
        on_ambiguous: OnAmbiguous,
    ) -> Result<Self, UsageError> {
        let mut resolution = Self::new(on_ambiguous);
        let mut rows = 0;
        let clusters = Pass::open(path, format)?;
        let text_size = clusters.text_size();
        for_each_pair(clusters, path, |_, end, distinct_id, alias| {
            if let Some(ids) = crate::check::ids_estimate(rows, end, text_size) {
                resolution.clusters.reserve(ids);
                resolution.flags.reserve(ids);
            }
            rows += 1;
            resolution.pair(distinct_id, alias);
        })?;
        resolution.choose_users();
        let mut ambiguous_lines = Vec::new();
        let mut ambiguous_rows = 0_u64;
        let header = for_each_pair(
            Pass::open(path, format)?,
            path,
            |line, _, distinct_id, alias| {
                if resolution.keep_text(distinct_id, alias) {
                    ambiguous_rows += 1;
                    if ambiguous_lines.len() < FIRST_LINES {
                        ambiguous_lines.push(line.to_string());
                    }
                }
            },
        )?;
        if on_ambiguous == OnAmbiguous::Error && ambiguous_rows > 0 {
            return Err(UsageError::new(format!(
                "--resolve-chains: {ambiguous_rows} rows (first lines {}) are in clusters that \
                 hold more than one user (an id found only in the alias column), and a device \
                 links to one user only; nothing was sent. Give each cluster one user in the \
                 file, or pass --on-ambiguous first (its first user) or skip (report its rows \
                 as invalid)",
                ambiguous_lines.join(" ")
            )));
        }
        let column = |name: &str| {
            header
                .as_ref()
                .and_then(|h| h.names.iter().position(|n| n == name))
        };
        resolution.alias_column = column("alias");
        resolution.insert_id_column = column("$insert_id");
        Ok(resolution)
    }

    fn new(on_ambiguous: OnAmbiguous) -> Self {
        Self {
            clusters: Clusters::default(),
            flags: Vec::new(),
            users: Vec::new(),
            texts: HashMap::new(),
            on_ambiguous,
            alias_column: None,
            insert_id_column: None,
            coverage: Coverage::default(),
        }
    }

    /// How many anonymous ids get their cluster's user.
    pub(crate) fn coverage(&self) -> Coverage {
        self.coverage
    }

    fn intern(&mut self, key: u64, flag: u8) -> u32 {
        let (id, new) = self.clusters.intern(key);
        if new {
            self.flags.push(0);
        }
        self.flags[id as usize] |= flag;
        id
    }

    /// The first read: a row's two ids join one cluster.
    fn pair(&mut self, distinct_id: &str, alias: &str) {
        let anonymous = self.intern(anonymous_key(distinct_id), ANONYMOUS);
        let user = self.intern(hash(Role::Id, alias), IN_ALIAS_COLUMN);
        self.clusters.union(anonymous, user);
    }

    /// Gives each cluster its first user (ids are numbered in file order), marks those
    /// with more than one, and counts the coverage.
    fn choose_users(&mut self) {
        let ids = self.clusters.len();
        self.users = vec![NONE; ids];
        for id in 0..ids {
            // Ids are numbered by `u32`s.
            let id = id as u32;
            if self.flags[id as usize] == IN_ALIAS_COLUMN {
                let root = self.clusters.find(id) as usize;
                if self.users[root] == NONE {
                    self.users[root] = id;
                } else {
                    self.flags[root] |= AMBIGUOUS;
                }
            }
        }
        for id in 0..ids {
            let id = id as u32;
            if self.flags[id as usize] & ANONYMOUS != 0 {
                self.coverage.anonymous += 1;
                if self.user_of(id).is_ok() {
                    self.coverage.linked += 1;
                }
            }
        }
    }

    /// The user of `id`'s cluster, or why it has none to link to.
    fn user_of(&mut self, id: u32) -> Result<u32, &'static str> {
        let root = self.clusters.find(id) as usize;
        let user = self.users[root];
        if user == NONE {
            return Err(
                "--resolve-chains: its cluster has no user (every id of it is in the \
                        distinct_id column of some row), so there is no one to link it to",
            );
        }
        if self.flags[root] & AMBIGUOUS != 0 && self.on_ambiguous != OnAmbiguous::First {
            return Err(
                "--resolve-chains: its cluster holds more than one user (ids found \
                        only in the alias column), and a device links to one user only: \
                        give the cluster one user, or import with --on-ambiguous first",
            );
        }
        Ok(user)
    }

    /// The second read: keeps the text of a chosen user; gives whether the row's cluster
    /// is ambiguous.
    fn keep_text(&mut self, distinct_id: &str, alias: &str) -> bool {
        if let Some(id) = self.clusters.get(hash(Role::Id, alias)) {
            let root = self.clusters.find(id) as usize;
            if self.users[root] == id && !self.texts.contains_key(&id) {
                self.texts.insert(id, alias.into());
            }
        }
        self.clusters
            .get(anonymous_key(distinct_id))
            .is_some_and(|id| {
                let root = self.clusters.find(id) as usize;
                self.flags[root] & AMBIGUOUS != 0
            })
    }

    /// The row as it is sent: its alias is its cluster's user, or it is invalid.
    pub(crate) fn resolve(&mut self, mut row: Row) -> Row {
        let Ok(link) = &row.alias else {
            return row;
        };
        let Some(id) = self
            .clusters
            .get(anonymous_key(link.distinct_id().as_str()))
        else {
            // Read in the first pass: only a file changed since has a row not seen.
            row.alias = Err("--resolve-chains: the row was not in the file when it was \
                             read first (the file changed)"
                .to_owned());
            return row;
        };
        let user = match self.user_of(id) {
            Ok(user) => user,
            Err(why) => {
                row.alias = Err(why.to_owned());
                return row;
            }
        };
        let Some(user) = self.texts.get(&user) else {
            row.alias = Err("--resolve-chains: the file changed since it was read first".into());
            return row;
        };
        if link.alias().as_str() == &**user {
            return row;
        }
        match relinked(link, user) {
            Ok(link) => {
                if let Some(source) = &mut row.source {
                    self.rewrite_source(source, user, link.insert_id());
                }
                row.alias = Ok(link);
            }
            Err(why) => row.alias = Err(why),
        }
        row
    }

    /// Writes the new alias (and `$insert_id`, if the row has one) into the row as read,
    /// so that a failures file holds the row as it was sent.
    fn rewrite_source(&self, source: &mut Source, user: &str, insert_id: Option<&InsertId>) {
        match source {
            Source::Json(fields) => {
                fields.insert("alias".to_owned(), Value::from(user));
                if let (Some(field), Some(id)) = (fields.get_mut("$insert_id"), insert_id) {
                    *field = Value::from(id.as_str());
                }
            }
            Source::Csv(record) => {
                let replaced = |i: usize, field: &[u8]| match (self.alias_column, insert_id) {
                    _ if Some(i) == self.alias_column => user.as_bytes().to_vec(),
                    (_, Some(id)) if Some(i) == self.insert_id_column => {
                        id.as_str().as_bytes().to_vec()
                    }
                    _ => field.to_vec(),
                };
                let fields: Vec<Vec<u8>> = record
                    .iter()
                    .enumerate()
                    .map(|(i, field)| replaced(i, field))
                    .collect();
                *record = csv::ByteRecord::from(fields);
            }
            Source::Text(_) => {}
        }
    }
}

/// `link` with `user` as its alias, its time and properties kept; a `$insert_id` it had
/// becomes the one of the new pair, so that the server does not drop the new event as a
/// copy of one sent with the old alias.
fn relinked(link: &CreateAlias, user: &str) -> Result<CreateAlias, String> {
    let reason = super::input::reason;
    let alias = Alias::new(user).map_err(reason)?;
    let mut relinked = CreateAlias::new(link.distinct_id().clone(), alias).map_err(reason)?;
    for (name, value) in link.properties() {
        relinked = relinked.with_property(name, value).map_err(reason)?;
    }
    if let Some(time) = link.time() {
        relinked = relinked.with_time(time).map_err(reason)?;
    }
    if link.insert_id().is_some() {
        let insert_id = InsertId::derive(relinked.distinct_id(), relinked.alias());
        relinked = relinked.with_insert_id(insert_id);
    }
    Ok(relinked)
}

/// Calls `each` with the line, end offset, distinct_id and alias of each row of `input`
/// (the file at `path`) that makes a pair; gives the CSV header.
fn for_each_pair(
    mut input: Pass,
    path: &InputPath,
    mut each: impl FnMut(u64, u64, &str, &str),
) -> Result<Option<Header>, UsageError> {
    let header = input.header().cloned();
    let mut row = PairRow::default();
    while input
        .next(&mut row)
        .map_err(|error| crate::check::unreadable(path, "resolve chains in", error))?
    {
        if let Some((distinct_id, alias)) = row.pair() {
            each(row.line, row.end, distinct_id, alias);
        }
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolution(on_ambiguous: OnAmbiguous, pairs: &[(&str, &str)]) -> Resolution {
        let mut resolution = Resolution::new(on_ambiguous);
        for (distinct_id, alias) in pairs {
            resolution.pair(distinct_id, alias);
        }
        resolution.choose_users();
        for (distinct_id, alias) in pairs {
            resolution.keep_text(distinct_id, alias);
        }
        resolution
    }

    fn user(resolution: &mut Resolution, distinct_id: &str) -> Result<String, &'static str> {
        let id = resolution.clusters.get(anonymous_key(distinct_id)).unwrap();
        let user = resolution.user_of(id)?;
        Ok(resolution.texts[&user].to_string())
    }

    #[test]
    fn a_chain_resolves_to_its_one_user() {
        let mut r = resolution(OnAmbiguous::Error, &[("a", "b"), ("$device:b", "u")]);
        assert_eq!(user(&mut r, "a"), Ok("u".to_owned()));
        assert_eq!(user(&mut r, "b"), Ok("u".to_owned()));
        assert_eq!(
            r.coverage(),
            Coverage {
                anonymous: 2,
                linked: 2
            }
        );
    }

    #[test]
    fn an_ambiguous_cluster_takes_its_first_user_or_none() {
        let pairs = [("a", "u1"), ("b", "u2"), ("a", "b"), ("c", "v")];
        let mut r = resolution(OnAmbiguous::First, &pairs);
        assert_eq!(user(&mut r, "b"), Ok("u1".to_owned()));
        assert_eq!(
            r.coverage(),
            Coverage {
                anonymous: 3,
                linked: 3
            }
        );
        let mut r = resolution(OnAmbiguous::Skip, &pairs);
        assert!(user(&mut r, "a").is_err());
        assert_eq!(user(&mut r, "c"), Ok("v".to_owned()));
        assert_eq!(
            r.coverage(),
            Coverage {
                anonymous: 3,
                linked: 1
            }
        );
    }

    #[test]
    fn a_cycle_has_no_user() {
        let mut r = resolution(OnAmbiguous::First, &[("a", "b"), ("b", "a")]);
        assert!(user(&mut r, "a").unwrap_err().contains("no user"));
        assert_eq!(
            r.coverage(),
            Coverage {
                anonymous: 2,
                linked: 0
            }
        );
    }
}
