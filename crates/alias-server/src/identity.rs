//! The identity systems the server applies: the model of `alias_core::identity`, which
//! `mixpanel-alias check` predicts with too (`docs/mixpanel-facts.md` §7).

pub use alias_core::identity::{Identity, IdentitySystem, MAX_CLUSTER_IDS, UnknownIdentitySystem};
pub(crate) use alias_core::identity::{IdentityEvent, IdentityGraph};
