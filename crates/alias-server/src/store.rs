//! What the server keeps: stored events, the dedup index, the identity graph, counters.

use std::collections::HashSet;

use alias_core::server::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::identity::{Identity, IdentityEvent, IdentityGraph, IdentitySystem};

/// Counters since the start or the last reset.
///
/// Every event received ends in exactly one of `events_stored`, `duplicates_dropped` and
/// `events_rejected`, so
/// `events_received == events_stored + duplicates_dropped + events_rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Requests to `/track` and `/import`, faulted and rate-limited ones included.
    pub requests: u64,
    /// Events decoded from those requests, except those of requests the rate limit
    /// refuses: like the events of a request a fault answers unread, they are turned away
    /// before they are looked at, and come back when the client retries.
    pub events_received: u64,
    /// Events stored.
    pub events_stored: u64,
    /// Events dropped as a repeat of a stored one (same event, time, distinct_id and
    /// `$insert_id`).
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

/// The stored data.
#[derive(Debug, Default)]
pub(crate) struct Store {
    events: Vec<Event>,
    keys: HashSet<DedupKey>,
    identity: IdentityGraph,
    pub(crate) stats: Stats,
}

impl Store {
    /// Stores `event`, received through `/import` when `via_import`, unless it repeats a
    /// stored one, and applies it to the identity graph.
    pub(crate) fn store(&mut self, mut event: Event, system: IdentitySystem, via_import: bool) {
        if let Some(key) = DedupKey::of(&event) {
            if self.keys.contains(&key) {
                self.stats.duplicates_dropped += 1;
                return;
            }
            self.keys.insert(key);
        }
        let identity_event = IdentityEvent {
            name: &event.event,
            properties: &event.properties,
            via_import,
        };
        // A refused change is recorded on the event, as Mixpanel does.
        if let Err(refusal) = self.identity.apply(system, &identity_event) {
            for (name, value) in refusal.recorded_as(system) {
                event.properties.insert(name.to_owned(), value.into());
            }
        }
        self.events.push(event);
        self.stats.events_stored += 1;
    }

    /// The stored events, in arrival order.
    pub(crate) fn events(&self) -> &[Event] {
        &self.events
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
