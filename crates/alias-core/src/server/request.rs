//! What a decoded ingestion request holds.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::auth::BasicAuth;

/// The ingestion endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// `/track`: no HTTP authentication, the token travels inside each event.
    Track,
    /// `/import`: HTTP Basic authentication, strict validation by default.
    Import,
}

impl Api {
    /// The endpoint a path names: its last segment, so that `/mixpanel/track` (a proxy's
    /// mount point) and `/track/` work too; `None` for any other path.
    pub fn of_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/').rsplit('/').next() {
            Some("track") => Some(Self::Track),
            Some("import") => Some(Self::Import),
            _ => None,
        }
    }

    /// The endpoint's path, `/track` or `/import`.
    pub fn path(self) -> &'static str {
        match self {
            Self::Track => "/track",
            Self::Import => "/import",
        }
    }
}

/// Where the events were found and how they were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireForm {
    /// The `data` query parameter (`GET /track?data=...`, as the Node SDK sends it).
    QueryData {
        /// Whether `data` held base64 of the JSON rather than the JSON itself.
        base64: bool,
    },
    /// The `data` field of a form body (Python, Ruby, PHP, Go).
    FormData {
        /// Whether `data` held base64 of the JSON rather than the JSON itself.
        base64: bool,
    },
    /// A JSON body: one object or an array of them.
    Json,
    /// A body of several JSON values one after another, usually one per line (NDJSON).
    Ndjson,
}

/// The query and form parameters of an ingestion call, besides `data`.
///
/// Flags are on for `1` or `true` (any case), off for anything else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params {
    /// `verbose=1`: answer JSON with an error message instead of a bare `1`/`0`.
    pub verbose: bool,
    /// `strict`: validate each event and answer per-record errors; `None` when absent, since
    /// its default depends on the endpoint (see [`DecodedRequest::is_strict`]).
    pub strict: Option<bool>,
    /// `ip=1`: geolocate from the request's IP.
    pub ip: bool,
    /// `test=1`: sent by the Node and browser SDKs; undocumented.
    pub test: bool,
    /// `img=1`: legacy, asks for an image answer.
    pub img: bool,
    /// `callback`: legacy JSONP callback name.
    pub callback: Option<String>,
    /// `project_id`: the project a service account acts on (`/import`).
    pub project_id: Option<String>,
}

impl Params {
    /// Applies one parameter; unknown names and `data` are ignored.
    pub(crate) fn set(&mut self, name: &str, value: &str) {
        match name {
            "verbose" => self.verbose = flag(value),
            "strict" => self.strict = Some(flag(value)),
            "ip" => self.ip = flag(value),
            "test" => self.test = flag(value),
            "img" => self.img = flag(value),
            "callback" => self.callback = Some(value.to_owned()),
            "project_id" => self.project_id = Some(value.to_owned()),
            _ => {}
        }
    }
}

fn flag(value: &str) -> bool {
    let value = value.trim();
    value == "1" || value.eq_ignore_ascii_case("true")
}

/// One well-formed event: a name and an object of properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event name, e.g. `$create_alias`.
    pub event: String,
    /// The event's properties, in the order they were sent.
    pub properties: Map<String, Value>,
}

impl Event {
    /// A string property, if present and a string.
    pub fn str_property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(Value::as_str)
    }

    /// `properties.distinct_id`, if a string.
    pub fn distinct_id(&self) -> Option<&str> {
        self.str_property("distinct_id")
    }

    /// `properties.alias`, if a string.
    pub fn alias(&self) -> Option<&str> {
        self.str_property("alias")
    }

    /// `properties.token`, if a string.
    pub fn token(&self) -> Option<&str> {
        self.str_property("token")
    }

    /// `properties.$insert_id`, if a string.
    pub fn insert_id(&self) -> Option<&str> {
        self.str_property("$insert_id")
    }

    /// `properties.time` in milliseconds since the Unix epoch, if it is a non-negative
    /// number or a numeric string.
    ///
    /// Mixpanel takes seconds or milliseconds; a value below 10^11 is read as seconds, since
    /// as milliseconds it would fall in 1973 and as seconds it reaches the year 5138.
    pub fn time_millis(&self) -> Option<u64> {
        crate::wire::time::event_time_millis(self.properties.get("time")?)
    }
}

/// One element of the request's event list.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A well-formed event.
    Event(Event),
    /// A value that is not `{"event": "<string>", "properties": {...}}`, kept whole so that
    /// the server can refuse it by position.
    Malformed {
        /// The value as sent.
        value: Value,
        /// The field at fault, as strict answers name it (`event`, `properties`).
        field: &'static str,
        /// What is wrong with it.
        message: &'static str,
    },
}

impl Record {
    /// Sorts a JSON value into an event or a malformed record.
    pub(crate) fn from_value(value: Value) -> Self {
        let malformed = |value, field, message| Self::Malformed {
            value,
            field,
            message,
        };
        let Value::Object(mut object) = value else {
            return malformed(value, "event", "an event must be a JSON object");
        };
        let name = match object.get("event") {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            _ => {
                return malformed(
                    Value::Object(object),
                    "event",
                    "'event' must be a non-empty string",
                );
            }
        };
        match object.remove("properties") {
            Some(Value::Object(properties)) => Self::Event(Event {
                event: name,
                properties,
            }),
            other => {
                if let Some(properties) = other {
                    object.insert("properties".to_owned(), properties);
                }
                malformed(
                    Value::Object(object),
                    "properties",
                    "'properties' must be a JSON object",
                )
            }
        }
    }

    /// The event's name, when the record has a non-empty string one, well-formed or not:
    /// a server may refuse a request for the kind of events it carries before it looks at
    /// each one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Event(event) => Some(&event.event),
            Self::Malformed { value, .. } => value
                .get("event")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty()),
        }
    }

    /// The event, if the record is well-formed.
    pub fn as_event(&self) -> Option<&Event> {
        match self {
            Self::Event(event) => Some(event),
            Self::Malformed { .. } => None,
        }
    }
}

/// An ingestion request, decoded: endpoint, parameters, credentials and events.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRequest {
    /// `/track` or `/import`.
    pub api: Api,
    /// The parameters from the query and the form body (the body's win).
    pub params: Params,
    /// The HTTP Basic credentials, if the request had an `Authorization` header.
    pub auth: Option<BasicAuth>,
    /// Where and how the events were written.
    pub form: WireForm,
    /// Whether the body was gzip-compressed.
    pub gzip: bool,
    /// The body's size once decompressed, in bytes (0 for `GET`): what Mixpanel's
    /// per-project limit of uncompressed bytes counts (`docs/mixpanel-facts.md` §6).
    pub body_bytes: usize,
    /// The events, in request order.
    pub records: Vec<Record>,
}

impl DecodedRequest {
    /// Whether the request asks for strict validation: `strict=1`, or `/import` without a
    /// `strict` parameter (strict is the default in Mixpanel's API specification).
    pub fn is_strict(&self) -> bool {
        self.params.strict.unwrap_or(self.api == Api::Import)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(properties: Value) -> Event {
        match Record::from_value(json!({"event": "e", "properties": properties})) {
            Record::Event(event) => event,
            Record::Malformed { .. } => unreachable!("the test builds a well-formed event"),
        }
    }

    #[test]
    fn time_in_seconds_or_milliseconds() {
        assert_eq!(
            event(json!({"time": 1_700_000_000})).time_millis(),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            event(json!({"time": 1_700_000_000_123_u64})).time_millis(),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            event(json!({"time": 1_700_000_000.5})).time_millis(),
            Some(1_700_000_000_500)
        );
        assert_eq!(
            event(json!({"time": "1700000000"})).time_millis(),
            Some(1_700_000_000_000)
        );
        assert_eq!(event(json!({"time": -1})).time_millis(), None);
        assert_eq!(event(json!({"time": "soon"})).time_millis(), None);
        assert_eq!(event(json!({})).time_millis(), None);
    }

    #[test]
    fn malformed_records_keep_the_value_and_name_the_field() {
        let cases = [
            (json!([1]), "event"),
            (json!({"properties": {}}), "event"),
            (json!({"event": "", "properties": {}}), "event"),
            (json!({"event": "e"}), "properties"),
            (json!({"event": "e", "properties": [1]}), "properties"),
        ];
        for (value, expected_field) in cases {
            match Record::from_value(value.clone()) {
                Record::Malformed {
                    value: kept, field, ..
                } => {
                    assert_eq!(kept, value);
                    assert_eq!(field, expected_field);
                }
                Record::Event(event) => panic!("{value} decoded as {event:?}"),
            }
        }
    }

    #[test]
    fn the_name_of_well_formed_and_malformed_records() {
        let name = |value: Value| Record::from_value(value).name().map(str::to_owned);
        assert_eq!(
            name(json!({"event": "$identify", "properties": {}})).as_deref(),
            Some("$identify")
        );
        assert_eq!(
            name(json!({"event": "$merge", "properties": 7})).as_deref(),
            Some("$merge")
        );
        assert_eq!(name(json!({"event": "", "properties": {}})), None);
        assert_eq!(name(json!({"event": 1})), None);
        assert_eq!(name(json!("$create_alias")), None);
    }

    #[test]
    fn flags_and_strict_default() {
        let mut params = Params::default();
        for (name, value) in [
            ("verbose", "1"),
            ("ip", "TRUE"),
            ("test", "0"),
            ("img", "yes"),
        ] {
            params.set(name, value);
        }
        assert!(params.verbose && params.ip && !params.test && !params.img);
        assert_eq!(params.strict, None);
        let mut request = DecodedRequest {
            api: Api::Import,
            params,
            auth: None,
            form: WireForm::Json,
            gzip: false,
            body_bytes: 0,
            records: Vec::new(),
        };
        assert!(request.is_strict());
        request.params.set("strict", "0");
        assert!(!request.is_strict());
        request.api = Api::Track;
        request.params.strict = None;
        assert!(!request.is_strict());
    }
}
