//! Drivers: the loops that run a [`Delivery`](crate::delivery::Delivery) over an HTTP client and a
//! timer, and the client type every adapter offers. The only part of the crate that reads
//! the clock, draws a random seed or waits: the async loop waits on the adapter's
//! [`Timer`], the blocking one on a channel from worker threads of its own,
//! never on a runtime; every request goes out through the adapter's HTTP client. The loops
//! hold no policy: what to send, when to retry and when to stop waiting for input is the
//! delivery's to say.

pub(crate) mod async_loop;
mod attempt;
pub(crate) mod blocking_loop;
pub(crate) mod client;
pub(crate) mod http;
pub(crate) mod stop;
mod trace;

pub use crate::error::{TransportError, TransportErrorKind};
pub use async_loop::drive;
pub use blocking_loop::drive_blocking;
pub use client::{Async, Blocking, ClientBuilder};
pub use http::{BlockingHttpClient, DefaultHttpClient, HttpClient, Timer, TransportLimits};
pub use stop::{StopSignal, Stopper, stop_signal};
