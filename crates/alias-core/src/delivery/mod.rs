//! Delivery: what happens to aliases between requests. The state machine that owns them
//! until each has an outcome (and every timer: retries, pacing, the linger of a partly
//! filled batch), the one batching rule, the retry and pacing decisions, and the report.
//! Built on the wire layer; time and randomness are passed in.

pub(crate) mod answer;
pub(crate) mod batch;
pub(crate) mod clocks;
pub(crate) mod machine;
pub(crate) mod pacing;
pub(crate) mod report;
pub(crate) mod retry;

pub use batch::Batch;
pub use machine::{Delivery, Input, Outgoing, RequestId};
pub use report::{AliasError, DeliveryStats, ReportEntry, Undelivered};
