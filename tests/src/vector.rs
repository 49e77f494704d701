//! The vector files: their shape, loading, and alias generators.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Map, Value};

/// One vector file: a named group of cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's name, a column of the conformance table.
    pub group: String,
    /// Its cases.
    pub cases: Vec<Case>,
}

/// One case: a server, a client configuration, aliases to send and what must hold after.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Short kebab-case name.
    pub name: String,
    /// What the case proves.
    pub about: String,
    /// How the reference server is set up.
    #[serde(default)]
    pub server: ServerSpec,
    /// How the client is configured.
    #[serde(default)]
    pub client: ClientSpec,
    /// Sends made one after the other; each is a list of aliases.
    pub sends: Vec<Vec<AliasSpec>>,
    /// What must hold afterwards.
    pub expect: Expect,
}

/// The reference server's settings for a case.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// `original` (default), `legacy` or `simplified`.
    pub identity: Option<String>,
    /// A fault spec such as `503=0.5`.
    pub faults: Option<String>,
    /// The fault seed.
    pub seed: Option<u64>,
    /// The server's body limit.
    pub max_body_bytes: Option<usize>,
    /// How far the server's clock is from the client's, in seconds (negative: behind).
    pub clock_skew_secs: Option<i64>,
    /// The project's rate limit, in events per second.
    pub rate_limit: Option<u32>,
    /// The project's rate limit, in uncompressed bytes per second.
    pub rate_limit_bytes: Option<u64>,
    /// The rate limit's rolling window, in milliseconds (default a minute).
    pub rate_limit_window_ms: Option<u64>,
    /// 429s carry `Retry-After` (default false, as at Mixpanel).
    pub retry_after: Option<bool>,
    /// 429s are a proxy's HTML page (default false: Mixpanel's JSON).
    pub html_429: Option<bool>,
}

/// The client's settings for a case.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// `track` (default) or `import`.
    pub endpoint: Option<String>,
    /// `/track` body: `form_json` (default), `form_base64`, `json_array`.
    pub body: Option<String>,
    /// `/import` credentials: `service_account`, `project_token`, `project_secret`, `wrong`.
    pub credentials: Option<String>,
    /// The project token, if not the server's.
    pub token: Option<String>,
    /// Send no token at all (default false): `/import` with credentials that name the
    /// project (`service_account` or `project_secret`).
    pub no_token: Option<bool>,
    /// `verbose` (default true).
    pub verbose: Option<bool>,
    /// `strict` (default: the endpoint's).
    pub strict: Option<bool>,
    /// gzip bodies (default false).
    pub gzip: Option<bool>,
    /// `us`, `eu` or `in`: only for request-only cases (others go to the local server).
    pub region: Option<String>,
    /// Events per request.
    pub max_events: Option<usize>,
    /// Uncompressed body bytes per request.
    pub max_body_bytes: Option<usize>,
    /// Attempts per request.
    pub max_attempts: Option<u32>,
    /// Requests in flight at once.
    pub concurrency: Option<usize>,
    /// Send in input order (`Config::ordered`, `--keep-order`).
    pub ordered: Option<bool>,
    /// `create_alias` (default) or `association`, with `association_event` its name.
    pub link: Option<String>,
    /// The event name of an `association` link.
    pub association_event: Option<String>,
}

/// An alias to send, or a generator of many.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum AliasSpec {
    /// `{ "generate": n, "distinct_id": "root-{i}", "alias": "user-{i}" }`.
    Generate {
        /// How many.
        generate: usize,
        /// The distinct_id pattern; `{i}` counts from 0.
        distinct_id: String,
        /// The alias pattern; `{i}` counts from 0.
        alias: String,
        /// A `pad` property of this many bytes on each, to make large requests.
        pad_bytes: Option<usize>,
    },
    /// One alias.
    One {
        /// The existing id.
        distinct_id: String,
        /// The new id.
        alias: String,
        /// Extra properties.
        #[serde(default)]
        properties: Map<String, Value>,
        /// The event time, as seconds from now (negative: in the past).
        time_offset_secs: Option<i64>,
    },
}

/// One concrete alias of a case, as text: the clients validate it themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct RawAlias {
    /// The existing id.
    pub distinct_id: String,
    /// The new id.
    pub alias: String,
    /// Extra properties.
    pub properties: Map<String, Value>,
    /// The event time, if the case sets one.
    pub time: Option<SystemTime>,
}

impl Case {
    /// The concrete aliases of each send, times taken relative to `now`.
    pub fn expand(&self, now: SystemTime) -> Vec<Vec<RawAlias>> {
        self.sends
            .iter()
            .map(|send| send.iter().flat_map(|spec| spec.expand(now)).collect())
            .collect()
    }

    /// How many aliases the case sends in all.
    pub fn alias_count(&self) -> usize {
        self.sends
            .iter()
            .flatten()
            .map(|spec| match spec {
                AliasSpec::Generate { generate, .. } => *generate,
                AliasSpec::One { .. } => 1,
            })
            .sum()
    }
}

impl AliasSpec {
    fn expand(&self, now: SystemTime) -> Vec<RawAlias> {
        match self {
            Self::Generate {
                generate,
                distinct_id,
                alias,
                pad_bytes,
            } => (0..*generate)
                .map(|i| RawAlias {
                    distinct_id: distinct_id.replace("{i}", &i.to_string()),
                    alias: alias.replace("{i}", &i.to_string()),
                    properties: pad_bytes
                        .map(|bytes| Map::from_iter([("pad".to_owned(), "x".repeat(bytes).into())]))
                        .unwrap_or_default(),
                    time: None,
                })
                .collect(),
            Self::One {
                distinct_id,
                alias,
                properties,
                time_offset_secs,
            } => vec![RawAlias {
                distinct_id: distinct_id.clone(),
                alias: alias.clone(),
                properties: properties.clone(),
                time: time_offset_secs.map(|offset| offset_time(now, offset)),
            }],
        }
    }
}

/// `now` moved by `secs` seconds.
pub fn offset_time(now: SystemTime, secs: i64) -> SystemTime {
    let by = Duration::from_secs(secs.unsigned_abs());
    if secs < 0 { now - by } else { now + by }
}

/// What must hold after a case ran.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// How many aliases ended each way (`accepted`, `rejected`, `invalid`, `undelivered`);
    /// kinds not named must be 0.
    pub outcomes: Option<Map<String, Value>>,
    /// Each alias's outcome in order: `"accepted"`, `"invalid"`, `"undelivered"`,
    /// `"rejected"`, or `{ "rejected": "properties.field" }`.
    pub per_alias: Option<Vec<Value>>,
    /// Server counters: exact numbers or `{ "min": n }`.
    pub stats: Option<Map<String, Value>>,
    /// Stored events, matched in order by alias (and distinct_id when given).
    pub events: Option<Vec<EventExpect>>,
    /// Identity lookups.
    pub identity: Option<Vec<IdentityExpect>>,
    /// A request-only case: the URL of the first request.
    pub url: Option<String>,
}

/// A stored event that must exist.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventExpect {
    /// Its name, when it matters (association events).
    pub event: Option<String>,
    /// Its `properties.alias`, when it has one.
    pub alias: Option<String>,
    /// Its `properties.distinct_id`, when it matters.
    pub distinct_id: Option<String>,
    /// `null` (no refusal), a `$failure_reason`, or `{ "any": true }`; absent: not checked.
    #[serde(default, deserialize_with = "present")]
    pub failure_reason: Option<Value>,
    /// Properties that must have these values.
    pub properties: Option<Map<String, Value>>,
}

/// Tells an explicit `null` apart from an absent key.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// What the server must say of an id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityExpect {
    /// The id looked up.
    pub id: String,
    /// Its canonical id.
    pub canonical: Option<String>,
    /// Its whole cluster, sorted.
    pub cluster: Option<Vec<String>>,
    /// Its cluster's size.
    pub cluster_size: Option<usize>,
}

/// The folder holding the vector files.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Loads every `*.json` group in `dir`, sorted by file name.
pub fn load_groups(dir: &Path) -> Result<Vec<Group>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a vector group: {e}", path.display()))
        })
        .collect()
}
