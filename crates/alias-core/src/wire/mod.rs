//! The wire: what a `$create_alias` call is made of and how it travels. Validated ids and
//! events, the configuration, requests encoded from aliases, and answers parsed into
//! verdicts. Nothing here keeps state between requests.

pub(crate) mod config;
pub(crate) mod create_alias;
pub(crate) mod credentials;
pub(crate) mod encode;
pub(crate) mod event_bytes;
mod from_text;
pub(crate) mod host;
pub(crate) mod id;
pub(crate) mod link;
pub(crate) mod parse;
pub(crate) mod secret;
pub(crate) mod time;

pub use crate::error::{ConfigError, EncodeError, Field, ParseError, Problem};
pub use crate::escape::escape_controls;
pub use config::{BatchLimits, ConfigBuilder, RetryPolicy, TimeWindow, TrackBody};
pub use create_alias::{EVENT_NAME, MAX_PROPERTIES};
pub use encode::{MAX_EVENT_BYTES, USER_AGENT};
pub use host::Region;
pub use id::{MAX_ID_BYTES, MAX_INSERT_ID_BYTES, is_placeholder};
pub use link::{EventName, Link};
pub use parse::{
    FailedRecord, IDENTITY_EVENTS_NOT_ALLOWED, RetryAfter, TEMPORARY_FAILURE, Verdict,
    parse_response,
};
pub use time::event_time;
