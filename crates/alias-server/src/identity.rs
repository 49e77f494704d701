//! The three identity systems: what `$create_alias` does under each, and Simplified ID
//! Merge's links of `$device_id` to `$user_id` (`docs/mixpanel-facts.md` §7).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use alias_core::wire::EVENT_NAME;
use serde::{Deserialize, Serialize};

/// A Mixpanel project's identity system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdentitySystem {
    /// Original ID Merge (2020): aliases merge clusters, chaining allowed; an id already
    /// used as an alias is refused (`errAliasAlreadyExists`), and so is a merge that would
    /// make a cluster of 500 ids or more (`errManyIDs`).
    #[default]
    Original,
    /// Legacy (before 2020): an id can be aliased once; the alias points at what the
    /// distinct_id pointed at when the alias was made, and is not retroactive.
    Legacy,
    /// Simplified ID Merge (2023), as a live probe saw it (`docs/mixpanel-facts.md` §7):
    ///
    /// - `/import` refuses a whole request that carries `$create_alias`, `$identify` or
    ///   `$merge` (strict or not): a strict 400 whose one failed record is the string
    ///   [`IDENTITY_EVENTS_NOT_ALLOWED`](alias_core::wire::IDENTITY_EVENTS_NOT_ALLOWED), and
    ///   nothing of the request stored.
    /// - `/track` stores those events and answers success, but they change no identity.
    ///   The facts leave this open; success is the likelier answer, since Mixpanel answers
    ///   `/track` before it looks at identities, and the docs say the events are "ignored".
    /// - Any event carrying both `$device_id` and `$user_id` links the device id to the
    ///   user id, which becomes the canonical id. A device id stays with its first user: a
    ///   later event naming another user is stored without moving it, with
    ///   `$identity_failure_reason: errAnonDistinctIdAssignedAlready`. A user id takes any
    ///   number of device ids.
    Simplified,
}

/// The events that ask for an identity change, which Simplified ID Merge refuses on
/// `/import`.
const IDENTITY_EVENTS: [&str; 3] = [EVENT_NAME, "$identify", "$merge"];

/// Simplified ID Merge's `$identity_failure_reason` for a `$device_id` already linked to
/// another `$user_id` (Mixpanel's identity FAQ).
pub(crate) const DEVICE_ASSIGNED_ALREADY: &str = "errAnonDistinctIdAssignedAlready";

impl IdentitySystem {
    /// Whether `/import` refuses a whole request that carries an event named `name`.
    pub(crate) fn refuses_on_import(self, name: &str) -> bool {
        self == Self::Simplified && IDENTITY_EVENTS.contains(&name)
    }
}

impl fmt::Display for IdentitySystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Original => "original",
            Self::Legacy => "legacy",
            Self::Simplified => "simplified",
        })
    }
}

impl FromStr for IdentitySystem {
    type Err = UnknownIdentitySystem;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.trim().to_ascii_lowercase().as_str() {
            "original" => Ok(Self::Original),
            "legacy" => Ok(Self::Legacy),
            "simplified" => Ok(Self::Simplified),
            _ => Err(UnknownIdentitySystem(name.to_owned())),
        }
    }
}

/// A name that is not an identity system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identity system {0:?}: expected original, legacy or simplified")]
pub struct UnknownIdentitySystem(pub String);

/// What the server knows about one id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The id asked about.
    pub id: String,
    /// The id its events are counted under.
    pub canonical: String,
    /// Every id counted under `canonical`, sorted.
    pub cluster: Vec<String>,
}

/// Why a merge was refused, as Mixpanel writes it in `$failure_reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) reason: &'static str,
    pub(crate) description: String,
}

/// Clusters reach at most this many ids minus one under Original ID Merge.
pub const MAX_CLUSTER_IDS: usize = 500;

/// The ids seen so far and how they are linked.
#[derive(Debug, Default)]
pub(crate) struct IdentityGraph {
    /// Every id seen, mapped to the id it is counted under.
    canonical: HashMap<String, String>,
    /// Each canonical id's cluster, itself included.
    clusters: HashMap<String, BTreeSet<String>>,
    /// Ids already used as an alias (Original and Legacy).
    aliased: HashSet<String>,
}

impl IdentityGraph {
    /// Records an id seen on an event, as its own cluster if it is new.
    pub(crate) fn see(&mut self, id: &str) {
        if !self.canonical.contains_key(id) {
            self.canonical.insert(id.to_owned(), id.to_owned());
            self.clusters
                .insert(id.to_owned(), BTreeSet::from([id.to_owned()]));
        }
    }

    /// Applies `$create_alias` (`alias` becomes another name of `distinct_id`) under
    /// `system`. Both ids are seen either way.
    pub(crate) fn alias(
        &mut self,
        system: IdentitySystem,
        distinct_id: &str,
        alias: &str,
    ) -> Result<(), Refusal> {
        self.see(distinct_id);
        self.see(alias);
        // Facts §7 leave an id aliased to itself open: it changes nothing, so it is
        // accepted as a no-op under every system.
        if distinct_id == alias || system == IdentitySystem::Simplified {
            return Ok(());
        }
        if self.aliased.contains(alias) {
            let points_to = self.canonical_of(alias);
            return Err(Refusal {
                reason: "errAliasAlreadyExists",
                description: format!("{alias:?} is already an alias of {points_to:?}"),
            });
        }
        let target = self.canonical_of(distinct_id);
        let source = self.canonical_of(alias);
        match system {
            IdentitySystem::Original => {
                if source != target {
                    let size = self.cluster_len(&target) + self.cluster_len(&source);
                    if size >= MAX_CLUSTER_IDS {
                        return Err(Refusal {
                            reason: "errManyIDs",
                            description: format!(
                                "merging would make a cluster of {size} ids; fewer than {MAX_CLUSTER_IDS} are allowed"
                            ),
                        });
                    }
                    self.merge_cluster(&source, &target);
                }
            }
            IdentitySystem::Legacy => self.move_id(alias, &source, &target),
            IdentitySystem::Simplified => {}
        }
        self.aliased.insert(alias.to_owned());
        Ok(())
    }

    /// Simplified ID Merge: links `device_id` to `user_id`, which stays canonical. A device
    /// id already linked to another user stays there (first write wins), and the refusal
    /// is [`DEVICE_ASSIGNED_ALREADY`]. Both ids are seen either way.
    pub(crate) fn link(&mut self, device_id: &str, user_id: &str) -> Result<(), &'static str> {
        self.see(device_id);
        self.see(user_id);
        let target = self.canonical_of(user_id);
        let current = self.canonical_of(device_id);
        if current == target {
            return Ok(());
        }
        if current != device_id {
            return Err(DEVICE_ASSIGNED_ALREADY);
        }
        self.merge_cluster(&current, &target);
        Ok(())
    }

    /// What is known about `id`, if it was ever seen.
    pub(crate) fn identity(&self, id: &str) -> Option<Identity> {
        let canonical = self.canonical.get(id)?;
        let cluster = self
            .clusters
            .get(canonical)
            .map(|members| members.iter().cloned().collect())
            .unwrap_or_default();
        Some(Identity {
            id: id.to_owned(),
            canonical: canonical.clone(),
            cluster,
        })
    }

    fn canonical_of(&self, id: &str) -> String {
        self.canonical
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }

    fn cluster_len(&self, canonical: &str) -> usize {
        self.clusters.get(canonical).map_or(1, BTreeSet::len)
    }

    /// Original ID Merge: every id of `source`'s cluster joins `target`'s.
    fn merge_cluster(&mut self, source: &str, target: &str) {
        let moved = self.clusters.remove(source).unwrap_or_default();
        for id in &moved {
            self.canonical.insert(id.clone(), target.to_owned());
        }
        self.clusters
            .entry(target.to_owned())
            .or_default()
            .extend(moved);
    }

    /// Legacy: only the alias itself moves; ids that pointed at it keep doing so, since
    /// legacy aliasing is a one-step lookup, not a merge.
    fn move_id(&mut self, id: &str, from: &str, to: &str) {
        if let Some(members) = self.clusters.get_mut(from) {
            members.remove(id);
            if members.is_empty() {
                self.clusters.remove(from);
            }
        }
        self.canonical.insert(id.to_owned(), to.to_owned());
        self.clusters
            .entry(to.to_owned())
            .or_default()
            .insert(id.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(graph: &IdentityGraph, id: &str) -> (String, Vec<String>) {
        let identity = graph.identity(id).unwrap();
        (identity.canonical, identity.cluster)
    }

    fn strings(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn names_parse_in_any_case() {
        assert_eq!("Legacy".parse(), Ok(IdentitySystem::Legacy));
        assert_eq!(IdentitySystem::Simplified.to_string(), "simplified");
        assert_eq!(
            "v3".parse::<IdentitySystem>(),
            Err(UnknownIdentitySystem("v3".into()))
        );
    }

    #[test]
    fn original_chains_and_refuses_a_second_use_of_an_alias() {
        let mut graph = IdentityGraph::default();
        let system = IdentitySystem::Original;
        graph.alias(system, "anon", "user").unwrap();
        graph.alias(system, "user", "email").unwrap();
        graph.alias(system, "anon", "phone").unwrap();
        assert_eq!(
            cluster(&graph, "email"),
            ("anon".into(), strings(&["anon", "email", "phone", "user"]))
        );
        let refusal = graph.alias(system, "other", "user").unwrap_err();
        assert_eq!(refusal.reason, "errAliasAlreadyExists");
        assert_eq!(
            cluster(&graph, "other"),
            ("other".into(), strings(&["other"]))
        );
        // A canonical id that was never an alias can still join another cluster.
        graph.alias(system, "other", "anon").unwrap();
        assert_eq!(cluster(&graph, "user").1.len(), 5);
        assert_eq!(cluster(&graph, "user").0, "other");
    }

    #[test]
    fn original_refuses_the_merge_that_reaches_500_ids() {
        let mut graph = IdentityGraph::default();
        let system = IdentitySystem::Original;
        for i in 1..MAX_CLUSTER_IDS - 1 {
            graph.alias(system, "root", &format!("id-{i}")).unwrap();
        }
        assert_eq!(cluster(&graph, "root").1.len(), 499);
        let refusal = graph.alias(system, "root", "one-too-many").unwrap_err();
        assert_eq!(refusal.reason, "errManyIDs");
        assert_eq!(cluster(&graph, "root").1.len(), 499);
        assert_eq!(
            cluster(&graph, "one-too-many").1,
            strings(&["one-too-many"])
        );
    }

    #[test]
    fn legacy_aliases_once_and_is_not_retroactive() {
        let mut graph = IdentityGraph::default();
        let system = IdentitySystem::Legacy;
        graph.alias(system, "anon", "user").unwrap();
        assert_eq!(
            graph.alias(system, "elsewhere", "user").unwrap_err().reason,
            "errAliasAlreadyExists"
        );
        // Aliasing to an alias points at what it resolves to.
        graph.alias(system, "user", "email").unwrap();
        assert_eq!(
            cluster(&graph, "email"),
            ("anon".into(), strings(&["anon", "email", "user"]))
        );
        // Moving a canonical id leaves the ids that pointed at it behind.
        graph.alias(system, "company", "anon").unwrap();
        assert_eq!(cluster(&graph, "anon").0, "company");
        assert_eq!(cluster(&graph, "user").0, "anon");
    }

    #[test]
    fn simplified_links_a_device_to_its_first_user_only() {
        let mut graph = IdentityGraph::default();
        graph.link("device-1", "user-a").unwrap();
        graph.link("device-2", "user-a").unwrap();
        // The same link again changes nothing and fails nothing.
        graph.link("device-1", "user-a").unwrap();
        assert_eq!(
            cluster(&graph, "device-1"),
            (
                "user-a".into(),
                strings(&["device-1", "device-2", "user-a"])
            )
        );
        assert_eq!(
            graph.link("device-1", "user-b"),
            Err(DEVICE_ASSIGNED_ALREADY)
        );
        assert_eq!(cluster(&graph, "device-1").0, "user-a");
        assert_eq!(
            cluster(&graph, "user-b"),
            ("user-b".into(), strings(&["user-b"]))
        );
    }

    #[test]
    fn simplified_has_no_cluster_cap() {
        let mut graph = IdentityGraph::default();
        for i in 0..MAX_CLUSTER_IDS {
            graph.link(&format!("device-{i}"), "user").unwrap();
        }
        assert_eq!(cluster(&graph, "user").1.len(), MAX_CLUSTER_IDS + 1);
    }

    #[test]
    fn only_simplified_refuses_identity_events_on_import() {
        for name in ["$create_alias", "$identify", "$merge"] {
            assert!(IdentitySystem::Simplified.refuses_on_import(name));
            assert!(!IdentitySystem::Original.refuses_on_import(name));
            assert!(!IdentitySystem::Legacy.refuses_on_import(name));
        }
        assert!(!IdentitySystem::Simplified.refuses_on_import("Sign up"));
    }

    #[test]
    fn simplified_ignores_aliases_and_self_aliases_change_nothing() {
        let mut graph = IdentityGraph::default();
        graph
            .alias(IdentitySystem::Simplified, "anon", "user")
            .unwrap();
        graph
            .alias(IdentitySystem::Simplified, "anon", "user")
            .unwrap();
        assert_eq!(cluster(&graph, "user"), ("user".into(), strings(&["user"])));
        graph.alias(IdentitySystem::Original, "x", "x").unwrap();
        graph.alias(IdentitySystem::Original, "y", "x").unwrap();
        assert_eq!(cluster(&graph, "x").0, "y");
        assert!(graph.identity("never-seen").is_none());
    }
}
