//! Logs on stderr, filtered by `RUST_LOG` (default `warn`), with one exception that no
//! `RUST_LOG` can lift: the trace logs that print whole requests. A log line that cannot be
//! written is dropped (see [`console`]).
//!
//! surf's HTTP/1 client (`async_h1`) logs each request with `Debug` at trace level, its
//! `Authorization` header included, which would print an `/import` credential. The
//! project's own crates never log a secret (tokens and secrets redact themselves).

use std::io::IsTerminal;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::console;

/// Targets whose trace logs print request headers.
const HEADER_DUMPING_TARGETS: [&str; 1] = ["async_h1"];

/// Installs the logger for the whole process. Colours only on a terminal, and not when
/// `NO_COLOR` is set (no-color.org): escape codes in a log file are noise.
pub(crate) fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_env_filter(filter)
        .with_writer(|| console::Logs)
        .log_internal_errors(false)
        .finish()
        .with(filter_fn(prints_no_headers))
        .init();
}

/// Whether an event or span may be logged: anything but the trace logs of the targets
/// that print request headers.
fn prints_no_headers(metadata: &Metadata<'_>) -> bool {
    *metadata.level() < Level::TRACE
        || !HEADER_DUMPING_TARGETS
            .iter()
            .any(|target| metadata.target().starts_with(target))
}
