#![doc = include_str!("../README.md")]
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
