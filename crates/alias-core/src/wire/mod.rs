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
