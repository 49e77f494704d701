//! Mixpanel's identity rules, as one sans-IO model: what `$create_alias`, `$identify`,
//! `$merge` and Simplified ID Merge's `$device_id` + `$user_id` do to a project's ids under
//! each identity system (`docs/mixpanel-facts.md` §7).
//!
//! The reference server applies it to every stored event, and `mixpanel-alias check`
//! predicts an import with its rules ([`IdentitySystem::cluster_cap`],
//! [`SimplifiedId::of_distinct_id`], [`MAX_CLUSTER_IDS`]) before anything is sent.
//!
//! The rules, per system:
//!
//! - Every system: an alias maps to one distinct_id. The same pair sent again changes
//!   nothing and fails nothing; the alias sent with another distinct_id is refused
//!   ([`ALIAS_ALREADY_EXISTS`]). An id aliased to itself changes nothing (the facts leave
//!   it open).
//! - Original ID Merge: an alias merges the two ids' clusters, and so do `$identify`
//!   (`$anon_id` into `$identified_id`, unless the anonymous id is merged already) and
//!   `$merge` (`$distinct_ids`, on `/import` only). A cluster holds at most
//!   [`MAX_CLUSTER_IDS`] ids: a merge past that is refused ([`MANY_IDS`]). Refusals are
//!   written on the event as `$failure_reason` and `$failure_description`.
//! - Legacy: an alias points at what its distinct_id pointed at when it was made; later
//!   aliases do not move the ids that point at it (not retroactive). Refusals are not
//!   written on the event: `$failure_reason` is documented for Original ID Merge only.
//! - Simplified ID Merge: `$create_alias`, `$identify` and `$merge` change nothing (and
//!   `/import` refuses them, [`IdentitySystem::refuses_on_import`]). An event with both
//!   `$device_id` and `$user_id` links the device to the user; a device stays with its
//!   first user ([`DEVICE_ASSIGNED_ALREADY`], as `$identity_failure_reason`). Users never
//!   merge with each other. A distinct_id `$device:X` is device `X`; any other is a user.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::wire::create_alias::EVENT_NAME;
use crate::wire::id::is_placeholder;

/// The most ids one cluster holds under Original ID Merge: a merge that would make a
/// bigger one is refused with [`MANY_IDS`].
pub const MAX_CLUSTER_IDS: usize = 500;

/// The refusal of an alias already mapped to another distinct_id.
pub const ALIAS_ALREADY_EXISTS: &str = "errAliasAlreadyExists";

/// The refusal of a merge that would make a cluster of more than [`MAX_CLUSTER_IDS`] ids.
pub const MANY_IDS: &str = "errManyIDs";

/// The refusal of an anonymous id already linked elsewhere: a Simplified ID Merge device
/// linked to another user (Mixpanel's identity FAQ), or an Original ID Merge `$anon_id`
/// already merged (the docs name no reason for that one; this is the nearest documented).
pub const DEVICE_ASSIGNED_ALREADY: &str = "errAnonDistinctIdAssignedAlready";

/// The prefix that marks a Simplified ID Merge distinct_id as a device id.
pub const DEVICE_PREFIX: &str = "$device:";

/// The events that ask for an identity change, which Simplified ID Merge refuses on
/// `/import`.
pub const IDENTITY_EVENTS: [&str; 3] = [EVENT_NAME, "$identify", "$merge"];

/// A Mixpanel project's identity system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdentitySystem {
    /// Original ID Merge (2020): aliases, `$identify` and `$merge` merge clusters of at
    /// most [`MAX_CLUSTER_IDS`] ids.
    #[default]
    Original,
    /// Legacy (before 2020): an id can be aliased once; the alias points at what the
    /// distinct_id pointed at when the alias was made, and is not retroactive.
    Legacy,
    /// Simplified ID Merge (2023, the default since 2024): `$device_id` with `$user_id`
    /// links a device to a user; identity events change nothing.
    Simplified,
}

impl IdentitySystem {
    /// Whether `/import` refuses a whole request that carries an event named `name`
    /// (`docs/mixpanel-facts.md` §7: a live probe of a Simplified project).
    pub fn refuses_on_import(self, name: &str) -> bool {
        self == Self::Simplified && IDENTITY_EVENTS.contains(&name)
    }

    /// The most ids a cluster holds, when there is a limit (Original ID Merge only).
    pub fn cluster_cap(self) -> Option<usize> {
        (self == Self::Original).then_some(MAX_CLUSTER_IDS)
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

/// What a Simplified ID Merge distinct_id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimplifiedId<'a> {
    /// A user id: any distinct_id without the [`DEVICE_PREFIX`].
    User(&'a str),
    /// A device id: `$device:X` names device `X`.
    Device(&'a str),
}

impl<'a> SimplifiedId<'a> {
    /// What `distinct_id` names under Simplified ID Merge.
    pub fn of_distinct_id(distinct_id: &'a str) -> Self {
        match distinct_id.strip_prefix(DEVICE_PREFIX) {
            Some(device) => Self::Device(device),
            None => Self::User(distinct_id),
        }
    }

    /// The id itself, without the [`DEVICE_PREFIX`] of a device.
    pub fn id(self) -> &'a str {
        match self {
            Self::User(id) | Self::Device(id) => id,
        }
    }
}

/// An event, as the identity rules read it.
#[derive(Debug, Clone, Copy)]
pub struct IdentityEvent<'a> {
    /// The event name.
    pub name: &'a str,
    /// Its properties.
    pub properties: &'a Map<String, Value>,
    /// Whether it came through `/import` (where alone `$merge` merges).
    pub via_import: bool,
}

impl IdentityEvent<'_> {
    fn text(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(Value::as_str)
    }

    /// A property naming an id: a string that is not a placeholder.
    fn id(&self, name: &str) -> Option<&str> {
        self.text(name).filter(|id| !is_placeholder(id))
    }
}

/// Why an identity change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Mixpanel's reason, e.g. [`ALIAS_ALREADY_EXISTS`].
    pub reason: &'static str,
    /// What happened, in words.
    pub description: String,
}

/// Every property a refusal may write on an event, under any system
/// ([`Refusal::recorded_as`]).
pub const REFUSAL_PROPERTIES: [&str; 3] =
    [FAILURE_REASON, FAILURE_DESCRIPTION, IDENTITY_FAILURE_REASON];

const FAILURE_REASON: &str = "$failure_reason";
const FAILURE_DESCRIPTION: &str = "$failure_description";
const IDENTITY_FAILURE_REASON: &str = "$identity_failure_reason";

impl Refusal {
    /// The properties Mixpanel writes on the refused event under `system`: none under
    /// Legacy, where no failure property is documented.
    pub fn recorded_as(&self, system: IdentitySystem) -> Vec<(&'static str, String)> {
        match system {
            IdentitySystem::Original => vec![
                (FAILURE_REASON, self.reason.to_owned()),
                (FAILURE_DESCRIPTION, self.description.clone()),
            ],
            IdentitySystem::Legacy => Vec::new(),
            IdentitySystem::Simplified => {
                vec![(IDENTITY_FAILURE_REASON, self.reason.to_owned())]
            }
        }
    }
}

/// What is known about one id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The id asked about.
    pub id: String,
    /// The id its events are counted under.
    pub canonical: String,
    /// Every id counted under `canonical`, sorted.
    pub cluster: Vec<String>,
}

/// An id in the graph. Under Simplified ID Merge a device id and a user id of the same
/// text are different ids; elsewhere every id is an [`Node::Id`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Id(String),
    Device(String),
}

impl Node {
    fn name(&self) -> &str {
        match self {
            Self::Id(id) | Self::Device(id) => id,
        }
    }

    fn of_distinct_id(system: IdentitySystem, distinct_id: &str) -> Self {
        match (system, SimplifiedId::of_distinct_id(distinct_id)) {
            (IdentitySystem::Simplified, SimplifiedId::Device(device)) => {
                Self::Device(device.to_owned())
            }
            _ => Self::Id(distinct_id.to_owned()),
        }
    }
}

/// A project's ids and how they are linked.
#[derive(Debug, Default)]
pub struct IdentityGraph {
    /// Every id seen, mapped to the id it is counted under.
    canonical: HashMap<Node, Node>,
    /// Each canonical id's cluster, itself included.
    clusters: HashMap<Node, BTreeSet<Node>>,
    /// Original and Legacy: each alias and the distinct_id it was mapped to.
    aliases: HashMap<String, String>,
}

impl IdentityGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `event` under `system`. Its ids are seen either way; a refused change
    /// leaves the graph as it was but for them.
    pub fn apply(
        &mut self,
        system: IdentitySystem,
        event: &IdentityEvent<'_>,
    ) -> Result<(), Refusal> {
        if let Some(id) = event.text("distinct_id").filter(|id| !id.is_empty()) {
            self.see(&Node::of_distinct_id(system, id));
        }
        if event.name == EVENT_NAME {
            if let Some(alias) = event.id("alias") {
                self.see(&Node::Id(alias.to_owned()));
            }
        }
        match (system, event.name) {
            (IdentitySystem::Simplified, _) => {
                if let (Some(device), Some(user)) = (event.id("$device_id"), event.id("$user_id")) {
                    return self.link(device, user);
                }
                Ok(())
            }
            (_, EVENT_NAME) => match (event.id("distinct_id"), event.id("alias")) {
                (Some(distinct_id), Some(alias)) => self.alias(system, distinct_id, alias),
                _ => Ok(()),
            },
            (IdentitySystem::Original, "$identify") => {
                match (event.id("$identified_id"), event.id("$anon_id")) {
                    (Some(identified), Some(anon)) => self.identify(identified, anon),
                    _ => Ok(()),
                }
            }
            (IdentitySystem::Original, "$merge") if event.via_import => {
                let ids = event
                    .properties
                    .get("$distinct_ids")
                    .and_then(Value::as_array);
                match ids.map(Vec::as_slice) {
                    Some([Value::String(a), Value::String(b)])
                        if !is_placeholder(a) && !is_placeholder(b) =>
                    {
                        self.merge(a, b)
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// `$create_alias` under Original ID Merge or Legacy: `alias` becomes another name of
    /// `distinct_id`.
    fn alias(
        &mut self,
        system: IdentitySystem,
        distinct_id: &str,
        alias: &str,
    ) -> Result<(), Refusal> {
        let (target, source) = (Node::Id(distinct_id.to_owned()), Node::Id(alias.to_owned()));
        self.see(&target);
        self.see(&source);
        if distinct_id == alias {
            return Ok(());
        }
        match self.aliases.get(alias) {
            Some(mapped) if mapped == distinct_id => return Ok(()),
            Some(mapped) => {
                return Err(Refusal {
                    reason: ALIAS_ALREADY_EXISTS,
                    description: format!("{alias:?} is already an alias of {mapped:?}"),
                });
            }
            None => {}
        }
        let (to, from) = (self.canonical_of(&target), self.canonical_of(&source));
        if system == IdentitySystem::Legacy {
            self.move_id(&source, &from, &to);
        } else if from != to {
            self.check_cap(&from, &to)?;
            self.merge_cluster(&from, &to);
        }
        self.aliases
            .insert(alias.to_owned(), distinct_id.to_owned());
        Ok(())
    }

    /// `$identify` under Original ID Merge: `anon`'s cluster joins `identified`'s, unless
    /// `anon` is merged with another id already.
    fn identify(&mut self, identified: &str, anon: &str) -> Result<(), Refusal> {
        let (target, source) = (Node::Id(identified.to_owned()), Node::Id(anon.to_owned()));
        self.see(&target);
        self.see(&source);
        let (to, from) = (self.canonical_of(&target), self.canonical_of(&source));
        if from == to {
            return Ok(());
        }
        if self.cluster_len(&from) > 1 {
            return Err(Refusal {
                reason: DEVICE_ASSIGNED_ALREADY,
                description: format!("{anon:?} is already merged with {:?}", from.name()),
            });
        }
        self.check_cap(&from, &to)?;
        self.merge_cluster(&from, &to);
        Ok(())
    }

    /// `$merge` under Original ID Merge: the two ids' clusters become one.
    fn merge(&mut self, first: &str, second: &str) -> Result<(), Refusal> {
        let (target, source) = (Node::Id(first.to_owned()), Node::Id(second.to_owned()));
        self.see(&target);
        self.see(&source);
        let (to, from) = (self.canonical_of(&target), self.canonical_of(&source));
        if from != to {
            self.check_cap(&from, &to)?;
            self.merge_cluster(&from, &to);
        }
        Ok(())
    }

    /// Simplified ID Merge: links `device` to `user`, which stays canonical. A device
    /// already linked to another user stays there (first write wins). A device's cluster
    /// is only ever itself until it joins a user's, so no link brings two users together.
    fn link(&mut self, device: &str, user: &str) -> Result<(), Refusal> {
        let (device_node, user_node) = (Node::Device(device.to_owned()), Node::Id(user.to_owned()));
        self.see(&device_node);
        self.see(&user_node);
        let target = self.canonical_of(&user_node);
        let current = self.canonical_of(&device_node);
        if current == target {
            return Ok(());
        }
        if current != device_node {
            return Err(Refusal {
                reason: DEVICE_ASSIGNED_ALREADY,
                description: format!(
                    "device {device:?} is linked to user {:?} already",
                    current.name()
                ),
            });
        }
        self.merge_cluster(&current, &target);
        Ok(())
    }

    /// What is known about `id`, if it was ever seen: a user (or plain) id first, then a
    /// device id (`$device:X` asks for device `X` only).
    pub fn identity(&self, id: &str) -> Option<Identity> {
        let canonical = [Node::Id(id.to_owned()), Node::Device(id.to_owned())]
            .into_iter()
            .chain(
                id.strip_prefix(DEVICE_PREFIX)
                    .map(|d| Node::Device(d.to_owned())),
            )
            .find_map(|node| self.canonical.get(&node))?;
        // Under Simplified ID Merge a device and a user may share a text: listed once.
        let cluster: BTreeSet<String> = self
            .clusters
            .get(canonical)
            .map(|members| members.iter().map(|m| m.name().to_owned()).collect())
            .unwrap_or_default();
        Some(Identity {
            id: id.to_owned(),
            canonical: canonical.name().to_owned(),
            cluster: cluster.into_iter().collect(),
        })
    }

    /// Records an id as its own cluster if it is new.
    fn see(&mut self, node: &Node) {
        if !self.canonical.contains_key(node) {
            self.canonical.insert(node.clone(), node.clone());
            self.clusters
                .insert(node.clone(), BTreeSet::from([node.clone()]));
        }
    }

    fn canonical_of(&self, node: &Node) -> Node {
        self.canonical
            .get(node)
            .cloned()
            .unwrap_or_else(|| node.clone())
    }

    fn cluster_len(&self, canonical: &Node) -> usize {
        self.clusters.get(canonical).map_or(1, BTreeSet::len)
    }

    fn check_cap(&self, from: &Node, to: &Node) -> Result<(), Refusal> {
        let size = self.cluster_len(from) + self.cluster_len(to);
        if size > MAX_CLUSTER_IDS {
            return Err(Refusal {
                reason: MANY_IDS,
                description: format!(
                    "merging would make a cluster of {size} ids; at most {MAX_CLUSTER_IDS} are allowed"
                ),
            });
        }
        Ok(())
    }

    /// Every id of `source`'s cluster joins `target`'s.
    fn merge_cluster(&mut self, source: &Node, target: &Node) {
        let moved = self.clusters.remove(source).unwrap_or_default();
        for node in &moved {
            self.canonical.insert(node.clone(), target.clone());
        }
        self.clusters
            .entry(target.clone())
            .or_default()
            .extend(moved);
    }

    /// Legacy: only the alias itself moves; ids that pointed at it keep doing so, since
    /// legacy aliasing is a one-step lookup, not a merge.
    fn move_id(&mut self, node: &Node, from: &Node, to: &Node) {
        if let Some(members) = self.clusters.get_mut(from) {
            members.remove(node);
            if members.is_empty() {
                self.clusters.remove(from);
            }
        }
        self.canonical.insert(node.clone(), to.clone());
        self.clusters
            .entry(to.clone())
            .or_default()
            .insert(node.clone());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Applies an event named `name` with `properties` (an object) through `/track`.
    fn apply(
        graph: &mut IdentityGraph,
        system: IdentitySystem,
        name: &str,
        properties: Value,
    ) -> Result<(), &'static str> {
        apply_via(graph, system, name, properties, false)
    }

    fn apply_via(
        graph: &mut IdentityGraph,
        system: IdentitySystem,
        name: &str,
        properties: Value,
        via_import: bool,
    ) -> Result<(), &'static str> {
        let Value::Object(properties) = properties else {
            panic!("properties must be an object")
        };
        let event = IdentityEvent {
            name,
            properties: &properties,
            via_import,
        };
        graph.apply(system, &event).map_err(|r| r.reason)
    }

    fn alias(
        graph: &mut IdentityGraph,
        system: IdentitySystem,
        d: &str,
        a: &str,
    ) -> Result<(), &'static str> {
        apply(
            graph,
            system,
            EVENT_NAME,
            json!({"distinct_id": d, "alias": a}),
        )
    }

    fn link(graph: &mut IdentityGraph, device: &str, user: &str) -> Result<(), &'static str> {
        let properties = json!({"distinct_id": user, "$device_id": device, "$user_id": user});
        apply(graph, IdentitySystem::Simplified, "Logged in", properties)
    }

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
    fn original_chains_and_refuses_an_alias_sent_with_another_distinct_id() {
        let mut graph = IdentityGraph::new();
        let system = IdentitySystem::Original;
        alias(&mut graph, system, "anon-0", "user").unwrap();
        alias(&mut graph, system, "user", "email").unwrap();
        alias(&mut graph, system, "anon-0", "phone").unwrap();
        assert_eq!(
            cluster(&graph, "email"),
            (
                "anon-0".into(),
                strings(&["anon-0", "email", "phone", "user"])
            )
        );
        assert_eq!(
            alias(&mut graph, system, "other", "user"),
            Err(ALIAS_ALREADY_EXISTS)
        );
        assert_eq!(
            cluster(&graph, "other"),
            ("other".into(), strings(&["other"]))
        );
        // A canonical id that was never an alias can still join another cluster.
        alias(&mut graph, system, "other", "anon-0").unwrap();
        assert_eq!(cluster(&graph, "user").1.len(), 5);
        assert_eq!(cluster(&graph, "user").0, "other");
    }

    #[test]
    fn the_same_pair_sent_again_is_not_refused_under_original_or_legacy() {
        for system in [IdentitySystem::Original, IdentitySystem::Legacy] {
            let mut graph = IdentityGraph::new();
            alias(&mut graph, system, "anon-0", "user").unwrap();
            assert_eq!(
                alias(&mut graph, system, "anon-0", "user"),
                Ok(()),
                "{system}"
            );
            assert_eq!(
                cluster(&graph, "user").1,
                strings(&["anon-0", "user"]),
                "{system}"
            );
            assert_eq!(
                alias(&mut graph, system, "elsewhere", "user"),
                Err(ALIAS_ALREADY_EXISTS),
                "{system}"
            );
        }
    }

    #[test]
    fn original_holds_500_ids_and_refuses_the_501st() {
        let mut graph = IdentityGraph::new();
        let system = IdentitySystem::Original;
        for i in 1..MAX_CLUSTER_IDS {
            alias(&mut graph, system, "root", &format!("id-{i}")).unwrap();
        }
        assert_eq!(cluster(&graph, "root").1.len(), MAX_CLUSTER_IDS);
        assert_eq!(
            alias(&mut graph, system, "root", "one-too-many"),
            Err(MANY_IDS)
        );
        assert_eq!(cluster(&graph, "root").1.len(), MAX_CLUSTER_IDS);
        assert_eq!(
            cluster(&graph, "one-too-many").1,
            strings(&["one-too-many"])
        );
    }

    #[test]
    fn original_identify_merges_an_anonymous_id_not_merged_yet() {
        let mut graph = IdentityGraph::new();
        let system = IdentitySystem::Original;
        let identify = |graph: &mut IdentityGraph, user: &str, anon: &str| {
            let properties = json!({"distinct_id": user, "$identified_id": user, "$anon_id": anon});
            apply(graph, system, "$identify", properties)
        };
        identify(&mut graph, "user-a", "anon-1").unwrap();
        identify(&mut graph, "user-a", "anon-2").unwrap();
        assert_eq!(
            cluster(&graph, "anon-2"),
            ("user-a".into(), strings(&["anon-1", "anon-2", "user-a"]))
        );
        // The same identify again is a no-op; the anonymous id with another user is not.
        identify(&mut graph, "user-a", "anon-1").unwrap();
        assert_eq!(
            identify(&mut graph, "user-b", "anon-1"),
            Err(DEVICE_ASSIGNED_ALREADY)
        );
        assert_eq!(cluster(&graph, "user-b").1, strings(&["user-b"]));
        // Legacy and Simplified read $identify as an ordinary event.
        for other in [IdentitySystem::Legacy, IdentitySystem::Simplified] {
            let mut graph = IdentityGraph::new();
            let properties = json!({"distinct_id": "u", "$identified_id": "u", "$anon_id": "a"});
            apply(&mut graph, other, "$identify", properties).unwrap();
            assert!(graph.identity("a").is_none(), "{other}");
        }
    }

    #[test]
    fn original_merge_joins_two_clusters_on_import_only() {
        let mut graph = IdentityGraph::new();
        let system = IdentitySystem::Original;
        alias(&mut graph, system, "a", "a-1").unwrap();
        alias(&mut graph, system, "b", "b-1").unwrap();
        let merge = json!({"distinct_id": "a", "$distinct_ids": ["a-1", "b-1"]});
        apply_via(&mut graph, system, "$merge", merge.clone(), false).unwrap();
        assert_eq!(cluster(&graph, "b").1, strings(&["b", "b-1"]));
        apply_via(&mut graph, system, "$merge", merge, true).unwrap();
        assert_eq!(cluster(&graph, "b").1, strings(&["a", "a-1", "b", "b-1"]));
        // Only two ids make a $merge.
        let three = json!({"$distinct_ids": ["x", "y", "z"]});
        apply_via(&mut graph, system, "$merge", three, true).unwrap();
        assert!(graph.identity("y").is_none());
    }

    #[test]
    fn original_merge_is_capped_too() {
        let mut graph = IdentityGraph::new();
        let system = IdentitySystem::Original;
        for i in 1..300 {
            alias(&mut graph, system, "a", &format!("a-{i}")).unwrap();
        }
        for i in 1..202 {
            alias(&mut graph, system, "b", &format!("b-{i}")).unwrap();
        }
        let merge = json!({"$distinct_ids": ["a", "b"]});
        assert_eq!(
            apply_via(&mut graph, system, "$merge", merge, true),
            Err(MANY_IDS)
        );
        assert_eq!(cluster(&graph, "b").0, "b");
    }

    #[test]
    fn legacy_aliases_once_and_is_not_retroactive() {
        let mut graph = IdentityGraph::new();
        let system = IdentitySystem::Legacy;
        alias(&mut graph, system, "anon-0", "user").unwrap();
        assert_eq!(
            alias(&mut graph, system, "elsewhere", "user"),
            Err(ALIAS_ALREADY_EXISTS)
        );
        // Aliasing to an alias points at what it resolves to.
        alias(&mut graph, system, "user", "email").unwrap();
        assert_eq!(
            cluster(&graph, "email"),
            ("anon-0".into(), strings(&["anon-0", "email", "user"]))
        );
        // Moving a canonical id leaves the ids that pointed at it behind.
        alias(&mut graph, system, "company", "anon-0").unwrap();
        assert_eq!(cluster(&graph, "anon-0").0, "company");
        assert_eq!(cluster(&graph, "user").0, "anon-0");
    }

    #[test]
    fn only_original_and_simplified_record_refusals_on_the_event() {
        let refusal = Refusal {
            reason: ALIAS_ALREADY_EXISTS,
            description: "why".into(),
        };
        let names = |system| -> Vec<&str> {
            refusal
                .recorded_as(system)
                .into_iter()
                .map(|(name, _)| name)
                .collect()
        };
        assert_eq!(
            names(IdentitySystem::Original),
            ["$failure_reason", "$failure_description"]
        );
        assert!(names(IdentitySystem::Legacy).is_empty());
        assert_eq!(
            names(IdentitySystem::Simplified),
            ["$identity_failure_reason"]
        );
    }

    #[test]
    fn simplified_links_a_device_to_its_first_user_only() {
        let mut graph = IdentityGraph::new();
        link(&mut graph, "device-1", "user-a").unwrap();
        link(&mut graph, "device-2", "user-a").unwrap();
        link(&mut graph, "device-1", "user-a").unwrap();
        assert_eq!(
            cluster(&graph, "device-1"),
            (
                "user-a".into(),
                strings(&["device-1", "device-2", "user-a"])
            )
        );
        assert_eq!(
            link(&mut graph, "device-1", "user-b"),
            Err(DEVICE_ASSIGNED_ALREADY)
        );
        assert_eq!(cluster(&graph, "device-1").0, "user-a");
        assert_eq!(
            cluster(&graph, "user-b"),
            ("user-b".into(), strings(&["user-b"]))
        );
    }

    #[test]
    fn simplified_never_merges_two_users() {
        let mut graph = IdentityGraph::new();
        link(&mut graph, "device-1", "user-a").unwrap();
        // user-a sent as a device id names a device, not the user.
        link(&mut graph, "user-a", "user-b").unwrap();
        assert_eq!(
            cluster(&graph, "device-1"),
            ("user-a".into(), strings(&["device-1", "user-a"]))
        );
        assert_eq!(
            cluster(&graph, "user-b"),
            ("user-b".into(), strings(&["user-a", "user-b"]))
        );
        assert_eq!(cluster(&graph, "user-a").0, "user-a");
    }

    #[test]
    fn simplified_reads_a_device_prefix_as_a_device() {
        assert_eq!(
            SimplifiedId::of_distinct_id("$device:abc"),
            SimplifiedId::Device("abc")
        );
        assert_eq!(
            SimplifiedId::of_distinct_id("abc"),
            SimplifiedId::User("abc")
        );
        assert_eq!(SimplifiedId::of_distinct_id("$device:abc").id(), "abc");
        let mut graph = IdentityGraph::new();
        let system = IdentitySystem::Simplified;
        apply(
            &mut graph,
            system,
            "Page view",
            json!({"distinct_id": "$device:d1"}),
        )
        .unwrap();
        assert_eq!(
            cluster(&graph, "$device:d1"),
            ("d1".into(), strings(&["d1"]))
        );
        link(&mut graph, "d1", "user").unwrap();
        assert_eq!(cluster(&graph, "$device:d1").0, "user");
        // A placeholder never links.
        link(&mut graph, "null", "user").unwrap();
        assert!(graph.identity("null").is_none());
    }

    #[test]
    fn simplified_has_no_cluster_cap_and_ignores_identity_events() {
        assert_eq!(IdentitySystem::Simplified.cluster_cap(), None);
        assert_eq!(IdentitySystem::Original.cluster_cap(), Some(500));
        let mut graph = IdentityGraph::new();
        for i in 0..MAX_CLUSTER_IDS {
            link(&mut graph, &format!("device-{i}"), "user").unwrap();
        }
        assert_eq!(cluster(&graph, "user").1.len(), MAX_CLUSTER_IDS + 1);
        alias(&mut graph, IdentitySystem::Simplified, "anon-0", "other").unwrap();
        assert_eq!(cluster(&graph, "other").1, strings(&["other"]));
    }

    #[test]
    fn only_simplified_refuses_identity_events_on_import() {
        for name in IDENTITY_EVENTS {
            assert!(IdentitySystem::Simplified.refuses_on_import(name));
            assert!(!IdentitySystem::Original.refuses_on_import(name));
            assert!(!IdentitySystem::Legacy.refuses_on_import(name));
        }
        assert!(!IdentitySystem::Simplified.refuses_on_import("Sign up"));
    }

    #[test]
    fn a_self_alias_changes_nothing() {
        let mut graph = IdentityGraph::new();
        alias(&mut graph, IdentitySystem::Original, "x", "x").unwrap();
        alias(&mut graph, IdentitySystem::Original, "y", "x").unwrap();
        assert_eq!(cluster(&graph, "x").0, "y");
        assert!(graph.identity("never-seen").is_none());
    }
}
