//! A sans-IO protocol core for Mixpanel's `$create_alias` call.
//!
//! This crate turns aliases into [`http::Request<Vec<u8>>`] values and Mixpanel's answers
//! ([`http::Response`] of any byte body) into typed outcomes. Its protocol, from
//! [`CreateAlias`] to [`Delivery`](delivery::Delivery), never opens a socket, sleeps, spawns, reads a clock or
//! draws a random number: time and randomness are passed in, so every decision is testable
//! without a network. Only the drivers ([`AliasClient`], [`BlockingClient`]) read the
//! clock, draw a jitter seed and wait (the blocking one on worker threads of its own); they
//! send through an [`HttpClient`](driver::HttpClient) or [`BlockingHttpClient`](driver::BlockingHttpClient) that an adapter crate
//! (`alias-reqwest`, `alias-surf`) or the caller supplies, and do no I/O themselves.
//!
//! The pieces:
//! - [`CreateAlias`], [`DistinctId`], [`Alias`]: validated input. Bad input is a
//!   [`ValidationError`] naming the field, before anything is encoded. Every validated
//!   text type ([`DistinctId`], [`Alias`], [`InsertId`], [`EventName`](wire::EventName), [`Token`],
//!   [`Secret`]) is made by its `new`, by `str::parse` or by `try_from` a `&str` or a
//!   `String`, all with the same checks.
//! - [`Config`]: region or host, endpoint (`/track` or `/import` with [`Credentials`]),
//!   wire options, batch limits, [`RetryPolicy`](wire::RetryPolicy).
//! - [`Config::encode`]: aliases into requests within Mixpanel's limits.
//! - [`parse_response`](wire::parse_response): any answer into a [`Verdict`](wire::Verdict).
//! - [`Delivery`](delivery::Delivery): the state machine that retries, splits, paces and tracks every alias
//!   to a final [`AliasOutcome`].
//! - [`identity`]: Mixpanel's identity rules as a model, which the reference server applies
//!   and `mixpanel-alias check` predicts with.
//! - [`AliasClient`] and [`BlockingClient`]: a delivery driven over any [`HttpClient`](driver::HttpClient)
//!   (with a [`Timer`](driver::Timer)) or [`BlockingHttpClient`](driver::BlockingHttpClient); a closure is one. Adapter crates
//!   implement these traits for their HTTP client and nothing more.
//!
//! The root holds what a caller of a client names; the rest lives in three modules:
//! [`wire`] (configuration details, encoding, answers), [`delivery`] (the state machine and
//! its report) and [`driver`] (the loops, the HTTP client traits, stop signals).
//! [`prelude`] gathers what an application names.
//!
//! ```
//! use std::time::SystemTime;
//! use alias_core::http;
//! use alias_core::{Config, CreateAlias, wire::Region, Token, wire::Verdict, wire::parse_response};
//!
//! let config = Config::builder(Token::new("YOUR_PROJECT_TOKEN")?)
//!     .region(Region::Eu)
//!     .build();
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

pub mod delivery;
pub mod driver;
mod error;
mod escape;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz;
pub mod identity;
#[cfg(feature = "server")]
pub mod server;
mod snippet;
pub mod wire;

pub use delivery::report::{AliasOutcome, DeliveryError, Rejection, Report, Tally};
pub use driver::client::{AliasClient, BlockingClient};
pub use error::ValidationError;
pub use wire::config::{Config, Endpoint};
pub use wire::create_alias::CreateAlias;
pub use wire::credentials::Credentials;
pub use wire::host::ApiHost;
pub use wire::id::{Alias, DistinctId, InsertId};
pub use wire::secret::{Secret, Token};

pub use http;

/// The names a caller of a client needs besides the client itself. Each adapter crate
/// re-exports them, so that `use alias_reqwest::{Client, Config, ...}` is enough.
pub mod prelude {
    pub use crate::{
        Alias, AliasOutcome, ApiHost, Config, CreateAlias, Credentials, DeliveryError, DistinctId,
        Endpoint, InsertId, Rejection, Report, Secret, Tally, Token, ValidationError,
        delivery::AliasError, driver::TransportLimits, wire::ConfigError, wire::EventName,
        wire::Link, wire::Region, wire::RetryPolicy,
    };
}

/// The README's examples, run as doc tests so that they keep compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
