//! The per-event rules of `docs/mixpanel-facts.md` §3, §4 and §8.

use alias_core::server::{Api, Event, MISSING_TOKEN, Record};
use alias_core::{
    InsertId, wire::EVENT_NAME, wire::MAX_EVENT_BYTES, wire::MAX_PROPERTIES, wire::is_placeholder,
};
use serde_json::Value;

/// 1971-01-01T00:00:00Z in milliseconds: `/import` refuses anything earlier.
const EARLIEST_IMPORT_MS: u64 = 31_536_000_000;
/// How far ahead of the server's clock an `/import` event time may be. `/track` takes any
/// future time and overwrites it (see `ingest`).
const MAX_FUTURE_MS: u64 = 3_600_000;
/// `/track` takes events of the last five days only.
const TRACK_WINDOW_MS: u64 = 5 * 24 * 3_600_000;

/// What the rules depend on besides the event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub(crate) api: Api,
    /// Strict `/import`: `time`, `distinct_id` and `$insert_id` are required.
    pub(crate) require_ids: bool,
    /// The server's clock, in milliseconds since the Unix epoch.
    pub(crate) now_ms: u64,
}

/// Why an event was refused: the field as strict answers name it, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) field: String,
    pub(crate) message: String,
    /// The event's `$insert_id`, when it had a string one, for the strict answer.
    pub(crate) insert_id: Option<String>,
}

/// Checks one record; a well-formed event that passes every rule comes back whole.
pub(crate) fn check(record: Record, rules: &Rules) -> Result<Event, Failure> {
    match record {
        Record::Malformed {
            value,
            field,
            message,
        } => Err(Failure {
            field: field.to_owned(),
            message: message.to_owned(),
            insert_id: value
                .pointer("/properties/$insert_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }),
        Record::Event(event) => match check_event(&event, rules) {
            Ok(()) => Ok(event),
            Err((field, message)) => Err(Failure {
                field: field.to_owned(),
                message,
                insert_id: event.insert_id().map(str::to_owned),
            }),
        },
    }
}

type Refused = (&'static str, String);

fn check_event(event: &Event, rules: &Rules) -> Result<(), Refused> {
    // `/import` takes the project from its credentials, checked before any event: its
    // events need no token (Mixpanel's API specification requires only `event` and
    // `properties` there).
    if rules.api == Api::Track && event.token().is_none_or(|t| t.trim().is_empty()) {
        return Err(("properties.token", MISSING_TOKEN.to_owned()));
    }
    let count = event.properties.len();
    if count >= MAX_PROPERTIES {
        return Err((
            "properties",
            format!("the event has {count} properties; fewer than {MAX_PROPERTIES} are allowed"),
        ));
    }
    check_size(event)?;
    if event.event == EVENT_NAME {
        check_alias_id(event, "distinct_id", "properties.distinct_id")?;
        check_alias_id(event, "alias", "properties.alias")?;
    } else {
        check_distinct_id(event, rules)?;
    }
    check_time(event, rules)?;
    check_insert_id(event, rules)
}

/// Each event must be smaller than 1 MB of JSON (`docs/mixpanel-facts.md` §3), measured as compact JSON:
/// the size does not depend on how the client spaced or escaped it.
fn check_size(event: &Event) -> Result<(), Refused> {
    let mut size = JsonSize(0);
    // Counting never fails, and an event (a JSON object with string keys) always
    // serializes.
    let _ = serde_json::to_writer(&mut size, event);
    if size.0 >= MAX_EVENT_BYTES {
        return Err((
            "properties",
            format!(
                "the event is {} bytes of JSON; fewer than {MAX_EVENT_BYTES} are allowed",
                size.0
            ),
        ));
    }
    Ok(())
}

/// A writer that only counts the bytes written to it.
struct JsonSize(usize);

impl std::io::Write for JsonSize {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Both ids of `$create_alias` must be real ids: a placeholder or an empty id would merge
/// unrelated users.
fn check_alias_id(event: &Event, name: &str, field: &'static str) -> Result<(), Refused> {
    match event.properties.get(name) {
        Some(Value::String(id)) if is_placeholder(id) => Err((
            field,
            format!("{id:?} is not allowed as an id of $create_alias (empty or a placeholder)"),
        )),
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err((field, format!("'{name}' must be a string"))),
        None => Err((field, format!("'{name}' is missing"))),
    }
}

/// Other events may have an empty distinct_id ("not associated with any user"), but not a
/// placeholder one.
fn check_distinct_id(event: &Event, rules: &Rules) -> Result<(), Refused> {
    const FIELD: &str = "properties.distinct_id";
    let text = match event.properties.get("distinct_id") {
        None if rules.require_ids => return Err((FIELD, "'distinct_id' is missing".to_owned())),
        None => return Ok(()),
        Some(Value::String(id)) if id.trim().is_empty() => return Ok(()),
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err((FIELD, "'distinct_id' must be a string".to_owned())),
    };
    if is_placeholder(&text) {
        return Err((FIELD, format!("{text:?} is not allowed as a distinct_id")));
    }
    Ok(())
}

fn check_time(event: &Event, rules: &Rules) -> Result<(), Refused> {
    const FIELD: &str = "properties.time";
    if !event.properties.contains_key("time") {
        return if rules.require_ids {
            Err((FIELD, "'time' is missing".to_owned()))
        } else {
            Ok(())
        };
    }
    let Some(time) = event.time_millis() else {
        return Err((
            FIELD,
            "'time' must be seconds or milliseconds since the Unix epoch".to_owned(),
        ));
    };
    match rules.api {
        Api::Import if time > rules.now_ms.saturating_add(MAX_FUTURE_MS) => {
            Err((FIELD, "'time' is more than 1 hour in the future".to_owned()))
        }
        Api::Import if time < EARLIEST_IMPORT_MS => {
            Err((FIELD, "'time' is before 1971-01-01".to_owned()))
        }
        Api::Track if time < rules.now_ms.saturating_sub(TRACK_WINDOW_MS) => Err((
            FIELD,
            "'time' is more than 5 days ago: /track takes recent events only, use /import"
                .to_owned(),
        )),
        _ => Ok(()),
    }
}

fn check_insert_id(event: &Event, rules: &Rules) -> Result<(), Refused> {
    const FIELD: &str = "properties.$insert_id";
    match event.properties.get("$insert_id") {
        None if rules.require_ids => Err((FIELD, "'$insert_id' is missing".to_owned())),
        None => Ok(()),
        Some(Value::String(id)) => InsertId::new(id.as_str())
            .map(|_| ())
            .map_err(|e| (FIELD, format!("'$insert_id' {}", e.problem))),
        Some(_) => Err((FIELD, "'$insert_id' must be a string".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW_MS: u64 = 1_750_000_000_000;

    fn rules(api: Api, require_ids: bool) -> Rules {
        Rules {
            api,
            require_ids,
            now_ms: NOW_MS,
        }
    }

    /// The record the decoder makes of `value`.
    fn record(value: Value) -> Record {
        let body = serde_json::to_vec(&value).unwrap();
        let request = http::Request::post("/import").body(body).unwrap();
        let decoded = alias_core::server::decode_request(&request, &Default::default()).unwrap();
        decoded.records.into_iter().next().unwrap()
    }

    fn refusal(value: Value, rules: &Rules) -> Option<(String, String)> {
        check(record(value), rules)
            .err()
            .map(|f| (f.field, f.message))
    }

    fn alias(properties: Value) -> Value {
        json!({"event": "$create_alias", "properties": properties})
    }

    #[test]
    fn track_needs_a_token() {
        let track = rules(Api::Track, false);
        assert_eq!(
            refusal(alias(json!({"distinct_id": "a", "alias": "b"})), &track),
            Some(("properties.token".into(), "token, missing or empty".into()))
        );
        assert_eq!(
            refusal(
                alias(json!({"distinct_id": "a", "alias": "b", "token": " "})),
                &track
            )
            .map(|r| r.0),
            Some("properties.token".into())
        );
        assert_eq!(
            refusal(
                alias(json!({"distinct_id": "a", "alias": "b"})),
                &rules(Api::Import, false)
            ),
            None
        );
    }

    #[test]
    fn alias_ids_must_be_real() {
        let track = rules(Api::Track, false);
        for (properties, field) in [
            (
                json!({"distinct_id": "NULL", "alias": "b"}),
                "properties.distinct_id",
            ),
            (
                json!({"distinct_id": "a", "alias": "undefined"}),
                "properties.alias",
            ),
            (
                json!({"distinct_id": "", "alias": "b"}),
                "properties.distinct_id",
            ),
            (json!({"distinct_id": "a"}), "properties.alias"),
            (json!({"distinct_id": "a", "alias": 7}), "properties.alias"),
        ] {
            let mut properties = properties;
            properties["token"] = json!("t");
            assert_eq!(
                refusal(alias(properties.clone()), &track).map(|r| r.0),
                Some(field.to_owned()),
                "{properties}"
            );
        }
    }

    #[test]
    fn ordinary_events_may_have_no_user_but_not_a_placeholder() {
        let track = rules(Api::Track, false);
        let event =
            |id: Value| json!({"event": "e", "properties": {"token": "t", "distinct_id": id}});
        assert_eq!(refusal(event(json!("")), &track), None);
        assert_eq!(refusal(event(json!(42)), &track), None);
        assert!(refusal(event(json!(-1)), &track).is_some());
        assert!(refusal(event(json!("anonymous")), &track).is_some());
        assert!(refusal(event(json!(true)), &track).is_some());
    }

    #[test]
    fn strict_import_requires_time_distinct_id_and_insert_id() {
        let strict = rules(Api::Import, true);
        let full =
            json!({"distinct_id": "a", "alias": "b", "time": 1_700_000_000, "$insert_id": "x-1"});
        assert_eq!(refusal(alias(full.clone()), &strict), None);
        for missing in ["time", "$insert_id"] {
            let mut properties = full.clone();
            properties.as_object_mut().unwrap().remove(missing);
            let (field, message) = refusal(alias(properties.clone()), &strict).unwrap();
            assert_eq!(field, format!("properties.{missing}"));
            assert!(message.contains("missing"), "{message}");
            assert_eq!(refusal(alias(properties), &rules(Api::Import, false)), None);
        }
        let event = json!({"event": "e", "properties": {"time": 1_700_000_000, "$insert_id": "x"}});
        assert_eq!(
            refusal(event, &strict).map(|r| r.0),
            Some("properties.distinct_id".into())
        );
    }

    #[test]
    fn time_windows() {
        let event = |time: Value| json!({"event": "e", "properties": {"token": "t", "distinct_id": "d", "time": time}});
        let import = rules(Api::Import, false);
        let track = rules(Api::Track, false);
        assert!(refusal(event(json!(1000)), &import).is_some());
        assert!(refusal(event(json!(NOW_MS + 2 * 3_600_000)), &import).is_some());
        assert_eq!(refusal(event(json!(NOW_MS + 3_600_000)), &import), None);
        // /track overwrites a future time instead.
        assert_eq!(refusal(event(json!(NOW_MS + 2 * 3_600_000)), &track), None);
        assert_eq!(refusal(event(json!(63_072_000)), &import), None);
        assert!(refusal(event(json!(63_072_000)), &track).is_some());
        assert_eq!(refusal(event(json!(NOW_MS / 1000 - 3600)), &track), None);
        assert!(refusal(event(json!("later")), &track).is_some());
    }

    #[test]
    fn insert_id_rules_and_the_failure_keeps_it() {
        let strict = rules(Api::Import, true);
        let event = json!({"event": "e", "properties": {"distinct_id": "d", "time": 1_700_000_000, "$insert_id": "not_valid"}});
        let failure = check(record(event), &strict).unwrap_err();
        assert_eq!(failure.field, "properties.$insert_id");
        assert_eq!(failure.insert_id.as_deref(), Some("not_valid"));
        assert!(failure.message.contains("'_'"), "{}", failure.message);
    }

    #[test]
    fn events_of_1_mib_of_json_or_more() {
        let track = rules(Api::Track, false);
        // {"event":"e","properties":{"token":"t","distinct_id":"d","padding":"…"}}
        let overhead =
            r#"{"event":"e","properties":{"token":"t","distinct_id":"d","padding":""}}"#.len();
        let event = |padding: usize| {
            json!({"event": "e", "properties": {
            "token": "t", "distinct_id": "d", "padding": "p".repeat(padding)}})
        };
        assert_eq!(refusal(event(MAX_EVENT_BYTES - overhead - 1), &track), None);
        let (field, message) = refusal(event(MAX_EVENT_BYTES - overhead), &track).unwrap();
        assert_eq!(field, "properties");
        assert_eq!(
            message,
            "the event is 1048576 bytes of JSON; fewer than 1048576 are allowed"
        );
        assert!(refusal(event(MAX_EVENT_BYTES), &rules(Api::Import, true)).is_some());
    }

    #[test]
    fn too_many_properties() {
        let mut properties = serde_json::Map::new();
        for i in 0..MAX_PROPERTIES {
            properties.insert(format!("p{i}"), json!(i));
        }
        properties.insert("token".into(), json!("t"));
        let event = json!({"event": "e", "properties": properties});
        assert_eq!(
            refusal(event, &rules(Api::Track, false)).map(|r| r.0),
            Some("properties".into())
        );
    }
}
