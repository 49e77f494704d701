//! What the server keeps: every copy of every event as it arrived, the query view that
//! dedups them as Mixpanel's queries do, the identity graph, counters.

use std::collections::HashMap;

use alias_core::server::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use alias_core::identity::REFUSAL_PROPERTIES;

use crate::identity::{Identity, IdentityEvent, IdentityGraph, IdentitySystem};

/// Counters since the start or the last reset.
///
/// Every event received ends in exactly one of `events_stored`, `duplicates_dropped` and
/// `events_rejected`, so
/// `events_received == events_stored + duplicates_dropped + events_rejected`. Raw storage
/// holds `events_stored + duplicates_dropped` events; the query view `events_stored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Requests to `/track` and `/import`, faulted and rate-limited ones included.
    pub requests: u64,
    /// Events decoded from those requests, except those of requests the rate limit
    /// refuses: like the events of a request a fault answers unread, they are turned away
    /// before they are looked at, and come back when the client retries.
    pub events_received: u64,
    /// Events in the query view: each (event, time, distinct_id, `$insert_id`) once, and
    /// every event without `$insert_id`.
    pub events_stored: u64,
    /// Copies of an event already in the query view (same event, time, distinct_id and
    /// `$insert_id`): kept in raw storage, folded into that event by the query view, as
    /// Mixpanel's queries dedup them (`docs/mixpanel-facts.md` §8).
    pub duplicates_dropped: u64,
    /// Events refused: invalid, in a request refused whole (credentials, too many events),
    /// or sent to `/track` with another project's token.
    pub events_rejected: u64,
    /// Faults injected.
    pub faults_injected: u64,
    /// Requests refused with 429 by the rate limit (the `429` fault counts in
    /// `faults_injected` instead). Absent from the stats of servers that predate it.
    #[serde(default)]
    pub requests_rate_limited: u64,
}

/// Mixpanel's dedup key: (event, time, distinct_id, `$insert_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DedupKey {
    event: String,
    time: Option<u64>,
    distinct_id: String,
    insert_id: String,
}

impl DedupKey {
    /// The key of an event that has a `$insert_id`; without one there is no dedup.
    fn of(event: &Event) -> Option<Self> {
        let insert_id = event.insert_id()?.to_owned();
        let distinct_id = match event.properties.get("distinct_id") {
            Some(Value::String(id)) => id.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        Some(Self {
            event: event.event.clone(),
            time: event.time_millis(),
            distinct_id,
            insert_id,
        })
    }
}

/// Which events a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum View {
    /// As Mixpanel's queries show them: one event per dedup key, the latest copy's
    /// properties at the first copy's position.
    #[default]
    Query,
    /// Every copy, in arrival order.
    Raw,
}

/// The stored data.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// Every copy, in arrival order.
    raw: Vec<Event>,
    /// The query view: positions in `raw`, one per dedup key (and per event without one).
    view: Vec<usize>,
    /// Each dedup key's position in `view`.
    keys: HashMap<DedupKey, usize>,
    identity: IdentityGraph,
    pub(crate) stats: Stats,
}

impl Store {
    /// Stores `event`, received through `/import` when `via_import`. A copy of an event
    /// in the query view replaces it there (the latest copy wins) and keeps its identity
    /// outcome; any other event is applied to the identity graph and added to the view.
    pub(crate) fn store(&mut self, mut event: Event, system: IdentitySystem, via_import: bool) {
        let position = self.raw.len();
        let key = DedupKey::of(&event);
        if let Some(&slot) = key.as_ref().and_then(|key| self.keys.get(key)) {
            let earlier = &self.raw[self.view[slot]];
            // The identity outcome is set when the first copy of a key is applied, and
            // carried over to later copies, which are not applied again (a repeated alias
            // would otherwise read as an alias used twice).
            for name in REFUSAL_PROPERTIES {
                match earlier.properties.get(name) {
                    Some(value) => event.properties.insert(name.to_owned(), value.clone()),
                    None => event.properties.remove(name),
                };
            }
            self.view[slot] = position;
            self.raw.push(event);
            self.stats.duplicates_dropped += 1;
            return;
        }
        if let Some(key) = key {
            self.keys.insert(key, self.view.len());
        }
        self.apply_identity(&mut event, system, via_import);
        self.view.push(position);
        self.raw.push(event);
        self.stats.events_stored += 1;
    }

    /// Applies `event` to the identity graph with the one identity model; a refused change
    /// is recorded on the event, as Mixpanel does.
    fn apply_identity(&mut self, event: &mut Event, system: IdentitySystem, via_import: bool) {
        let identity_event = IdentityEvent {
            name: &event.event,
            properties: &event.properties,
            via_import,
        };
        if let Err(refusal) = self.identity.apply(system, &identity_event) {
            for (name, value) in refusal.recorded_as(system) {
                event.properties.insert(name.to_owned(), value.into());
            }
        }
    }

    /// The query view, in the order each event first arrived.
    #[cfg(test)]
    pub(crate) fn events(&self) -> Vec<&Event> {
        self.view.iter().map(|&at| &self.raw[at]).collect()
    }

    /// How many events `view` holds.
    pub(crate) fn len(&self, view: View) -> usize {
        match view {
            View::Query => self.view.len(),
            View::Raw => self.raw.len(),
        }
    }

    /// The event at `position` of `view`.
    pub(crate) fn get(&self, view: View, position: usize) -> Option<&Event> {
        match view {
            View::Query => self.raw.get(*self.view.get(position)?),
            View::Raw => self.raw.get(position),
        }
    }

    /// What is known about `id`.
    pub(crate) fn identity(&self, id: &str) -> Option<Identity> {
        self.identity.identity(id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(value: Value) -> Event {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn dedup_needs_all_four_parts_to_match() {
        let mut store = Store::default();
        let base = json!({"event": "e", "properties": {"distinct_id": "d", "time": 1_700_000_000, "$insert_id": "i"}});
        store.store(event(base.clone()), IdentitySystem::Original, false);
        store.store(event(base.clone()), IdentitySystem::Original, false);
        // Seconds and milliseconds of the same instant are the same time.
        let mut in_millis = base.clone();
        in_millis["properties"]["time"] = json!(1_700_000_000_000_u64);
        store.store(event(in_millis), IdentitySystem::Original, false);
        for (path, value) in [
            ("event", json!("other")),
            ("time", json!(1_700_000_001)),
            ("distinct_id", json!("d2")),
            ("$insert_id", json!("j")),
        ] {
            let mut changed = base.clone();
            if path == "event" {
                changed["event"] = value;
            } else {
                changed["properties"][path] = value;
            }
            store.store(event(changed), IdentitySystem::Original, false);
        }
        let mut no_insert_id = base;
        no_insert_id["properties"]
            .as_object_mut()
            .unwrap()
            .remove("$insert_id");
        store.store(event(no_insert_id.clone()), IdentitySystem::Original, false);
        store.store(event(no_insert_id), IdentitySystem::Original, false);
        assert_eq!(store.stats.events_stored, 7);
        assert_eq!(store.stats.duplicates_dropped, 2);
        assert_eq!(store.events().len(), 7);
        assert_eq!(store.len(View::Query), 7);
        assert_eq!(store.len(View::Raw), 9);
    }

    #[test]
    fn the_latest_copy_wins_at_the_first_position_and_raw_keeps_all() {
        let mut store = Store::default();
        let copy = |n: u64| {
            event(
                json!({"event": "e", "properties": {"distinct_id": "d", "time": 1_700_000_000,
                "$insert_id": "i", "n": n}}),
            )
        };
        store.store(copy(1), IdentitySystem::Original, false);
        store.store(
            event(json!({"event": "other", "properties": {"n": 2}})),
            IdentitySystem::Original,
            false,
        );
        store.store(copy(3), IdentitySystem::Original, false);
        let n = |e: &Event| e.properties["n"].as_u64();
        assert_eq!(
            store.events().into_iter().map(n).collect::<Vec<_>>(),
            [Some(3), Some(2)]
        );
        let raw: Vec<_> = (0..store.len(View::Raw))
            .map(|i| n(store.get(View::Raw, i).unwrap()))
            .collect();
        assert_eq!(raw, [Some(1), Some(2), Some(3)]);
        assert_eq!(store.get(View::Query, 2), None);
    }

    #[test]
    fn a_repeated_alias_is_applied_once_and_keeps_its_outcome() {
        let mut store = Store::default();
        let alias = |d: &str, a: &str, insert_id: &str| {
            event(
                json!({"event": "$create_alias", "properties": {"distinct_id": d, "alias": a,
                "time": 1_700_000_000, "$insert_id": insert_id}}),
            )
        };
        store.store(
            alias("anon-1", "user", "i1"),
            IdentitySystem::Original,
            false,
        );
        store.store(
            alias("anon-1", "user", "i1"),
            IdentitySystem::Original,
            false,
        );
        assert_eq!(store.events()[0].str_property("$failure_reason"), None);
        store.store(
            alias("other", "user", "i2"),
            IdentitySystem::Original,
            false,
        );
        store.store(
            alias("other", "user", "i2"),
            IdentitySystem::Original,
            false,
        );
        let refused = store.events()[1];
        assert_eq!(
            refused.str_property("$failure_reason"),
            Some("errAliasAlreadyExists")
        );
        assert_eq!(store.stats.duplicates_dropped, 2);
        assert_eq!(store.identity("user").unwrap().canonical, "anon-1");
    }

    #[test]
    fn a_refused_merge_is_recorded_on_the_event() {
        let mut store = Store::default();
        let alias = |d: &str, a: &str| {
            event(json!({"event": "$create_alias", "properties": {"distinct_id": d, "alias": a}}))
        };
        store.store(alias("anon-1", "user"), IdentitySystem::Original, false);
        store.store(alias("other", "user"), IdentitySystem::Original, false);
        let events = store.events();
        assert_eq!(events[0].str_property("$failure_reason"), None);
        assert_eq!(
            events[1].str_property("$failure_reason"),
            Some("errAliasAlreadyExists")
        );
        assert!(events[1].str_property("$failure_description").is_some());
        assert_eq!(store.identity("user").unwrap().canonical, "anon-1");
    }

    fn association(device_id: &str, user_id: &str) -> Event {
        event(json!({"event": "Sign in", "properties": {
            "distinct_id": user_id, "$device_id": device_id, "$user_id": user_id}}))
    }

    #[test]
    fn simplified_links_devices_to_users_and_keeps_the_first_link() {
        let mut store = Store::default();
        let system = IdentitySystem::Simplified;
        store.store(association("device-1", "user-a"), system, false);
        store.store(association("device-1", "user-b"), system, false);
        store.store(association("null", "user-c"), system, false);
        let reasons: Vec<_> = store
            .events()
            .iter()
            .map(|e| e.str_property("$identity_failure_reason"))
            .collect();
        assert_eq!(
            reasons,
            [None, Some("errAnonDistinctIdAssignedAlready"), None]
        );
        let identity = store.identity("device-1").unwrap();
        assert_eq!(identity.canonical, "user-a");
        assert_eq!(identity.cluster, ["device-1", "user-a"]);
        assert_eq!(store.identity("user-b").unwrap().cluster, ["user-b"]);
        // A placeholder device id links nothing.
        assert!(store.identity("null").is_none());
        assert_eq!(store.stats.events_stored, 3);
    }

    #[test]
    fn other_systems_keep_device_and_user_ids_as_plain_properties() {
        for system in [IdentitySystem::Original, IdentitySystem::Legacy] {
            let mut store = Store::default();
            store.store(association("device-1", "user-a"), system, false);
            assert!(store.identity("device-1").is_none(), "{system}");
            assert_eq!(store.identity("user-a").unwrap().cluster, ["user-a"]);
            assert_eq!(store.events()[0].properties.len(), 3);
        }
    }

    #[test]
    fn ordinary_events_make_their_user_known() {
        let mut store = Store::default();
        store.store(
            event(json!({"event": "e", "properties": {"distinct_id": "u1"}})),
            IdentitySystem::Original,
            false,
        );
        store.store(
            event(json!({"event": "e", "properties": {"distinct_id": ""}})),
            IdentitySystem::Original,
            false,
        );
        assert_eq!(store.identity("u1").unwrap().cluster, vec!["u1".to_owned()]);
        assert!(store.identity("").is_none());
    }
}
