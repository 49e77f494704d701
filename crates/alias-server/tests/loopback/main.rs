//! The server over loopback: every wire form, every answer byte for byte, the identity
//! rules, dedup, every fault, the inspection API, and hardening against hostile clients.

mod answers;
mod common;
mod dedup;
mod faults;
mod fixture;
mod hardening;
mod hostile;
mod identity;
mod inspect;
mod lifecycle;
mod rate_limit;
mod unknown_tokens;
mod wire_forms;
