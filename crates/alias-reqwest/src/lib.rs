//! Deliver Mixpanel `$create_alias` calls with [reqwest].
//!
//! A thin adapter over [`alias_core`]: the core encodes aliases into requests, parses the
//! answers and decides every retry, `Retry-After` wait, 413 split and budget; this crate only
//! carries requests over reqwest and sleeps on tokio's timer. The [`Client`] is async
//! (tokio); the [`blocking::Client`] (feature `blocking`) serves code without a runtime.
//! Both have the same methods:
//!
//! - `send(aliases) -> Report`: any number of aliases, each ending accepted, rejected (with
//!   Mixpanel's field and message), invalid, or handed back undelivered (with the last error).
//! - `send_stream(input, on_finished) -> DeliveryStats`: the same for an input of any
//!   length, in bounded memory, each outcome handed over as soon as it is final.
//! - `create_alias(distinct_id, alias) -> Result<(), AliasError>`: one alias, one call.
//!
//! ```no_run
//! use alias_reqwest::{Alias, Client, Config, DistinctId, Region, RetryPolicy, Token};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::builder(Token::new("YOUR_PROJECT_TOKEN")?)
//!     .region(Region::Eu)
//!     // A few seconds at most: the default policy retries an unreachable host for minutes.
//!     .retry_policy(RetryPolicy::single_call())
//!     .build();
//! let client = Client::new(config)?;
//! client
//!     .create_alias(DistinctId::new("anon-123")?, Alias::new("user@example.com")?)
//!     .await?;
//! // Here: accepted for ingestion, which is not yet a merge (see below).
//! # Ok(()) }
//! ```
//!
//! # What `Ok(())` means
//!
//! Accepted for ingestion, not linked: Mixpanel answers before it merges identities, so a
//! merge it then refuses (`errAliasAlreadyExists`, `errManyIDs`) shows later as
//! `$failure_reason` on the stored event, and on `/track` an event with an unknown token
//! is answered with success too. An `Err` ([`AliasError`]) says why not: rejected with
//! Mixpanel's field and message, invalid before sending, or undelivered with the last
//! error once the [`RetryPolicy`] gave up.
//!
//! # Transport limits
//!
//! Every request runs under [`TransportLimits`]: a connect timeout (10 s by default), a
//! request timeout (30 s, up to the last byte of the answer) and a cap on the answer's body
//! (1 MiB). A timeout, a refused, reset or closed connection, or an oversized answer becomes
//! a [`TransportError`](alias_core::driver::TransportError) that the core retries; nothing here
//! panics on what the network does.
//!
//! # Redirects
//!
//! Clients this crate builds follow no redirect: Mixpanel never redirects ingestion, and
//! following one could carry an `/import` request's credentials to another host. A 3xx
//! answer is reported as an unexpected answer. If you hand in your own reqwest client, build
//! it with `.redirect(reqwest::redirect::Policy::none())` too.
//!
//! # Features
//!
//! - `rustls` (default): TLS through rustls. `native-tls`: the platform's TLS.
//! - `blocking`: the [`blocking::Client`].
#![deny(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
mod client;
mod transport;

pub use alias_core;
/// The names a caller of this crate needs, so that `use alias_reqwest::{...}` is enough.
pub use alias_core::prelude::*;
/// The generic clients behind [`Client`] and [`blocking::Client`], re-exported so that
/// their methods are documented here.
pub use alias_core::{AliasClient, BlockingClient};
pub use client::{Client, ClientBuilder, ReqwestClient, TokioTimer};

/// A client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// reqwest refused the settings, e.g. the TLS back end could not start.
    #[error("cannot build the reqwest client")]
    Build(#[source] reqwest::Error),
    /// The thread that builds a blocking client could not run.
    #[cfg(feature = "blocking")]
    #[error("cannot run the thread that builds the blocking client")]
    Thread(#[source] std::io::Error),
}

/// The README's examples, run as doc tests so that they keep compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

/// The workspace README's examples use this crate; they run as doc tests too.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod workspace_readme {}
