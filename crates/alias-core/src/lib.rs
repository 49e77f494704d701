//! A sans-IO protocol core for Mixpanel's `$create_alias` call.
//!
//! This crate turns aliases into [`http::Request<Vec<u8>>`] values and Mixpanel's answers
//! ([`http::Response`] of any byte body) into typed outcomes. It never opens a socket,
//! sleeps, spawns, reads a clock or draws a random number: time and randomness are passed
//! in, so every decision is testable without a network. Adapter crates
//! (`alias-reqwest`, `alias-surf`) do the I/O.
//!
//! The pieces:
//! - [`CreateAlias`], [`DistinctId`], [`Alias`]: validated input. Bad input is a
//!   [`ValidationError`] naming the field, before anything is encoded.
//! - [`Config`]: region or host, endpoint (`/track` or `/import` with [`Credentials`]),
//!   wire options, batch limits, [`RetryPolicy`].
//! - [`Config::encode`]: aliases into requests within Mixpanel's limits.
//! - [`parse_response`]: any answer into a [`Verdict`].
//! - [`Delivery`]: the state machine that retries, splits and tracks every alias to a
//!   final [`AliasOutcome`]; [`drive`] runs it over any [`Transport`] and [`Clock`].
//!
//! ```
//! use std::time::SystemTime;
//! use alias_core::{Config, CreateAlias, Region, Token, Verdict, parse_response};
//!
//! let config = Config::new(Token::new("YOUR_PROJECT_TOKEN")?).region(Region::Eu);
//! let link = CreateAlias::from_ids("anon-123", "user@example.com")?;
//! let batches = config.encode(&[link], SystemTime::now())?;
//! let request = &batches[0].request;
//! assert_eq!(request.uri(), "https://api-eu.mixpanel.com/track");
//! assert!(request.body().starts_with(b"data=%7B%22event%22%3A%22%24create_alias%22"));
//!
//! // ... any HTTP stack sends `request`, and hands back the answer:
//! let answer = http::Response::builder().status(200).body(b"{\"status\":1,\"error\":null}")?;
//! assert_eq!(parse_response(&answer)?, Verdict::Accepted { imported: None });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod batch;
mod client;
mod config;
mod create_alias;
mod delivery;
mod drive;
mod encode;
mod error;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz;
mod id;
mod pacing;
mod parse;
mod report;
mod retry;
mod secret;
#[cfg(feature = "server")]
pub mod server;
mod stop;

pub use client::{AliasClient, AliasClientBuilder, HttpClient};
pub use config::{
    ApiHost, BatchLimits, Config, Credentials, Endpoint, EventName, Link, Region, TrackBody,
};
pub use create_alias::{CreateAlias, EVENT_NAME, MAX_PROPERTIES};
pub use delivery::{Action, Delivery, Outgoing, RequestId};
pub use drive::{Clock, Transport, TransportLimits, deliver, deliver_all, deliver_one, drive};
pub use encode::{Batch, MAX_EVENT_BYTES, USER_AGENT};
pub use error::{
    ConfigError, EncodeError, Field, ParseError, Problem, TransportError, TransportErrorKind,
    ValidationError, escape_controls,
};
pub use id::{Alias, DistinctId, InsertId, MAX_ID_BYTES, MAX_INSERT_ID_BYTES, is_placeholder};
pub use parse::{
    FailedRecord, IDENTITY_EVENTS_NOT_ALLOWED, RetryAfter, TEMPORARY_FAILURE, Verdict,
    parse_response,
};
pub use report::{
    AliasError, AliasOutcome, DeliveryError, DeliveryStats, Rejection, Report, ReportEntry, Tally,
    Undelivered,
};
pub use retry::RetryPolicy;
pub use secret::{Secret, Token};
pub use stop::{StopSignal, Stopper, stop_signal};

pub use http;
