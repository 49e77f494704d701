//! The three library clients behind one blocking interface, for suites that run the same
//! case through each: the adapter suite, hostile answers, secret hygiene, the soak.

use futures_util::stream;

use alias_core::{
    Alias, Config, CreateAlias, DistinctId, Report, delivery::AliasError, delivery::DeliveryStats,
    delivery::ReportEntry, driver::TransportLimits,
};

/// A library client under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Adapter {
    /// `alias_reqwest::Client` on tokio.
    ReqwestAsync,
    /// `alias_reqwest::blocking::Client`.
    ReqwestBlocking,
    /// `alias_surf::Client` on async-std.
    Surf,
}

impl Adapter {
    /// Every library client.
    pub const ALL: [Self; 3] = [Self::ReqwestAsync, Self::ReqwestBlocking, Self::Surf];

    /// The client's name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::ReqwestAsync => "reqwest",
            Self::ReqwestBlocking => "reqwest-blocking",
            Self::Surf => "surf",
        }
    }

    /// A client of this adapter for `config`, under `limits`.
    ///
    /// # Panics
    ///
    /// When the HTTP client cannot start (its TLS back end, a thread, a runtime): no test
    /// can go on without one.
    pub fn client(self, config: Config, limits: TransportLimits) -> Client {
        match self {
            Self::ReqwestAsync => Client::ReqwestAsync(
                alias_reqwest::Client::builder(config)
                    .limits(limits)
                    .build()
                    .expect("the reqwest client builds"),
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime starts"),
            ),
            Self::ReqwestBlocking => Client::ReqwestBlocking(
                alias_reqwest::blocking::Client::builder(config)
                    .limits(limits)
                    .build()
                    .expect("the blocking reqwest client builds"),
            ),
            Self::Surf => Client::Surf(
                alias_surf::Client::builder(config)
                    .limits(limits)
                    .build()
                    .expect("the surf client builds"),
            ),
        }
    }
}

/// A client of any adapter behind one blocking interface. Async clients run on the calling
/// thread (a current-thread tokio runtime, async-std's `block_on`), so that thread-local
/// tracing subscribers see their spans.
#[derive(Debug)]
pub enum Client {
    /// reqwest's async client, with the runtime it runs on.
    ReqwestAsync(alias_reqwest::Client, tokio::runtime::Runtime),
    /// reqwest's blocking client.
    ReqwestBlocking(alias_reqwest::blocking::Client),
    /// surf's client, run by async-std.
    Surf(alias_surf::Client),
}

impl Client {
    /// Delivers `aliases` and reports each outcome, in input order.
    pub fn send(&self, aliases: Vec<CreateAlias>) -> Report {
        match self {
            Self::ReqwestAsync(client, runtime) => runtime.block_on(client.send(aliases)),
            Self::ReqwestBlocking(client) => client.send(aliases),
            Self::Surf(client) => async_std::task::block_on(client.send(aliases)),
        }
    }

    /// Delivers `input`, handing each outcome to `on_finished` as soon as it is final.
    pub fn send_stream(
        &self,
        input: impl IntoIterator<Item = CreateAlias>,
        on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        match self {
            Self::ReqwestAsync(client, runtime) => {
                runtime.block_on(client.send_stream(stream::iter(input), on_finished))
            }
            Self::ReqwestBlocking(client) => client.send_stream(input, on_finished),
            Self::Surf(client) => {
                async_std::task::block_on(client.send_stream(stream::iter(input), on_finished))
            }
        }
    }

    /// Links `alias` to `distinct_id` with the one-alias call.
    ///
    /// # Panics
    ///
    /// When either id is invalid: tests pass valid ones.
    pub fn create_alias(&self, distinct_id: &str, alias: &str) -> Result<(), AliasError> {
        let distinct_id = DistinctId::new(distinct_id).expect("a valid distinct_id");
        let alias = Alias::new(alias).expect("a valid alias");
        match self {
            Self::ReqwestAsync(client, runtime) => {
                runtime.block_on(client.create_alias(distinct_id, alias))
            }
            Self::ReqwestBlocking(client) => client.create_alias(distinct_id, alias),
            Self::Surf(client) => {
                async_std::task::block_on(client.create_alias(distinct_id, alias))
            }
        }
    }
}

/// Runs each case, a function `fn(Adapter)` in scope, once per library client: one test
/// per case in each of the modules `reqwest_async`, `reqwest_blocking` and `surf`, so that
/// the three cannot drift apart unnoticed.
///
/// ```text
/// fn success(adapter: Adapter) { /* ... */ }
/// alias_tests::adapter_suite!(success);
/// ```
#[macro_export]
macro_rules! adapter_suite {
    ($($case:ident),* $(,)?) => {
        $crate::adapter_suite!(@for reqwest_async, ReqwestAsync, $($case),*);
        $crate::adapter_suite!(@for reqwest_blocking, ReqwestBlocking, $($case),*);
        $crate::adapter_suite!(@for surf, Surf, $($case),*);
    };
    (@for $module:ident, $adapter:ident, $($case:ident),*) => {
        mod $module {
            $(
                #[test]
                fn $case() {
                    super::$case($crate::adapter::Adapter::$adapter);
                }
            )*
        }
    };
}
