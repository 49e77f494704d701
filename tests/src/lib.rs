//! The conformance suite: every client against the reference server, written once.
//!
//! Cases live as data in `tests/vectors/*.json` (see its README). This crate loads them
//! ([`vector`]), runs one case through one client against a fresh in-process
//! `alias-server` ([`run`]), and checks what must hold afterwards ([`check`]): each alias's
//! outcome, the stored events, the identity clusters and the server's counters.
//! `cargo test` (tests/conformance.rs) and `cargo xtask conformance` both call
//! [`run::run_case`], so the suite cannot drift between the two.
#![deny(missing_docs)]

pub mod adapter;
pub mod check;
pub mod cli;
pub mod client;
pub mod mutation;
pub mod raw_server;
pub mod run;
pub mod trace;
pub mod vector;

pub use client::ClientKind;
pub use run::{CaseResult, Remote, run_case, run_case_remotely};
pub use vector::{Case, Group, load_groups};
