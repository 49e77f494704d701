//! A reference Mixpanel ingestion server, for testing `$create_alias` clients on loopback.
//!
//! It behaves as the project's facts sheet says Mixpanel does, down to the bytes of each
//! answer: every `/track` and `/import` wire form of the official SDKs, `/import`
//! credentials, the limits, plain, verbose and strict answers, `$insert_id` dedup, the
//! three identity systems with their alias criteria (Simplified ID Merge as a live probe
//! saw it), a per-project rate limit, and faults injected on demand from a seed. A JSON
//! inspection API (and the same accessors on [`Server`]) tells what it stored.
//!
//! The server runs on a thread of its own with its own tokio runtime, so tests using
//! tokio, async-std or blocking clients can all start one.
//!
//! ```
//! use alias_server::{IdentitySystem, Server, DEFAULT_TOKEN};
//!
//! let server = Server::builder()
//!     .identity(IdentitySystem::Original)
//!     .start()?;
//! let body = format!(
//!     r#"data={{"event":"$create_alias","properties":{{"distinct_id":"anon-1","alias":"user-1","token":"{DEFAULT_TOKEN}"}}}}&verbose=1"#
//! );
//! # let answer = post_form(&format!("{}/track", server.url()), &body)?;
//! # assert_eq!(answer, r#"{"status":1,"error":null}"#);
//! // ... any HTTP client posts `body` to `{server.url()}/track` ...
//! assert_eq!(server.stats().events_stored, 1);
//! assert_eq!(server.identity("user-1").unwrap().canonical, "anon-1");
//! # fn post_form(url: &str, body: &str) -> std::io::Result<String> {
//! #     use std::io::{Read, Write};
//! #     let authority = url.trim_start_matches("http://").split('/').next().unwrap();
//! #     let mut stream = std::net::TcpStream::connect(authority)?;
//! #     write!(stream, "POST /track HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
//! #     let mut answer = String::new();
//! #     stream.read_to_string(&mut answer)?;
//! #     Ok(answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod credentials;
mod faults;
mod http;
mod identity;
mod ingest;
mod inspect;
mod listing;
mod rate_limit;
mod server;
mod shared;
mod store;
mod unknown_tokens;
mod validate;

pub use alias_core::server::Event;
pub use credentials::{
    DEFAULT_PROJECT_ID, DEFAULT_PROJECT_SECRET, DEFAULT_SERVICE_ACCOUNT_SECRET,
    DEFAULT_SERVICE_ACCOUNT_USER, DEFAULT_TOKEN, ServiceAccount,
};
pub use faults::{Fault, FaultSpec, FaultSpecError};
pub use identity::{Identity, IdentitySystem, MAX_CLUSTER_IDS, UnknownIdentitySystem};
pub use server::{Server, ServerBuilder, StartError};
pub use store::Stats;
