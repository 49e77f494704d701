//! Drivers: the loops that run a [`Delivery`](crate::Delivery) over an HTTP client and a
//! timer, and the client type every adapter offers. The only part of the crate that waits;
//! it does so through the traits an adapter implements, never on a runtime of its own.

pub(crate) mod async_loop;
pub(crate) mod blocking_loop;
pub(crate) mod client;
pub(crate) mod http;
pub(crate) mod stop;
