//! Deliver Mixpanel `$create_alias` calls with [surf].
//!
//! **surf and async-std are unmaintained upstream** (RUSTSEC-2026-0169; async-std is
//! discontinued). This crate exists for code already built on them. For new code, use
//! `alias-reqwest`, or `alias-core` with an HTTP client of your choice.
//!
//! A thin adapter over [`alias_core`]: the core encodes aliases into requests, parses the
//! answers and decides every retry, `Retry-After` wait, 413 split and budget; this crate only
//! translates requests and answers between `http` and surf's `http-types`, field by field,
//! and waits on [`futures_timer`], which needs no particular runtime. Its [`Client`] has the
//! same methods as `alias-reqwest`'s:
//!
//! - `send(aliases) -> Report`: any number of aliases, each ending accepted, rejected (with
//!   Mixpanel's field and message), invalid, or handed back undelivered (with the last error).
//! - `send_stream(input, on_finished) -> DeliveryStats`: the same for an input of any
//!   length, in bounded memory, each outcome handed over as soon as it is final.
//! - `create_alias(distinct_id, alias) -> Result<(), AliasError>`: one alias, one call.
//!
//! ```no_run
//! use alias_surf::{Alias, Client, Config, DistinctId, Region, RetryPolicy, Token};
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
//! Every request runs under [`TransportLimits`]: a request timeout (30 s by default) from
//! sending to the last byte of the answer, and a cap on the answer's body (1 MiB). surf's
//! backends offer no connect-only timeout, so connecting counts against the request
//! timeout. A timeout, a refused, reset or closed connection, or an oversized answer becomes
//! a [`TransportError`](alias_core::driver::TransportError) that the core retries; nothing here
//! panics on what the network does.
//!
//! # Redirects
//!
//! Clients this crate builds have no middleware, so they follow no redirect: Mixpanel never
//! redirects ingestion, and following one could carry an `/import` request's credentials to
//! another host. If you hand in your own surf client, do not give it surf's `Redirect`
//! middleware.
//!
//! # Connections
//!
//! Clients this crate builds open a connection per request: async-h1's pool would lend a
//! connection whose exchange was given up (a timeout, a capped body) to the next request,
//! which would then read the late answer of the one before as its own, and report accepted
//! an alias the server never stored. Give a surf client of your own no keep-alive either.
//!
//! # Logging
//!
//! async-h1 logs every request at TRACE level through the `log` crate (target
//! `async_h1`), with its headers: an `/import` request's `Authorization` included. Keep
//! that target below TRACE wherever credentials are used, e.g.
//! `RUST_LOG=trace,async_h1=debug`. This crate logs no secret itself.
//!
//! # Features
//!
//! One surf backend: `h1-client-rustls` (default: async-h1 with rustls), `h1-client`
//! (async-h1 with native TLS), `curl-client` (libcurl), `hyper-client` (hyper 0.13).
#![deny(missing_docs)]

mod client;
mod transport;

pub use alias_core;
/// The generic client behind [`Client`], re-exported so that its methods are documented
/// here.
pub use alias_core::AliasClient;
/// The names a caller of this crate needs, so that `use alias_surf::{...}` is enough.
pub use alias_core::prelude::*;
pub use client::{Client, ClientBuilder, FuturesTimer, SurfClient};

/// The surf client could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the surf client: {0}")]
pub struct Error(String);

/// The README's examples, run as doc tests so that they keep compiling.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
