//! The adapter chosen by `--transport` (or the dry-run printer), behind one blocking call.

use alias_core::{Config, CreateAlias, DeliveryStats, ReportEntry};
use alias_reqwest::TokioClock;
use tokio::runtime::Runtime;

use crate::dry_run::Printer;
use crate::exit::UsageError;
use crate::options::{Settings, TransportArg};

/// Sends a stream of aliases with the chosen adapter and hands back each outcome.
#[derive(Debug)]
pub(crate) enum Sender {
    /// alias-reqwest's async client, on a tokio runtime of its own.
    Reqwest {
        /// The client.
        client: alias_reqwest::Client,
        /// Runs the client's connections while the calling thread drives the delivery.
        runtime: Runtime,
    },
    /// alias-surf's client, on async-std's global executor.
    Surf(alias_surf::Client),
    /// Prints requests to stdout instead of sending them.
    DryRun {
        /// The configuration, with placeholder secrets.
        config: Config,
        /// Runs the delivery loop and its (never needed) backoff timer.
        runtime: Runtime,
    },
}

impl Sender {
    /// The sender that `settings` ask for, over `settings.config`.
    pub(crate) fn new(settings: Settings) -> Result<Self, UsageError> {
        let Settings {
            config,
            transport,
            dry_run,
            limits,
        } = settings;
        if dry_run {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(runtime_error)?;
            return Ok(Self::DryRun { config, runtime });
        }
        match transport {
            TransportArg::Reqwest => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(runtime_error)?;
                let client = alias_reqwest::Client::builder(config)
                    .limits(limits)
                    .build()
                    .map_err(|e| {
                        UsageError::new(format!(
                            "--transport reqwest cannot start: {e}; try --transport surf"
                        ))
                    })?;
                Ok(Self::Reqwest { client, runtime })
            }
            TransportArg::Surf => alias_surf::Client::builder(config)
                .limits(limits)
                .build()
                .map(Self::Surf)
                .map_err(|e| {
                    UsageError::new(format!(
                        "--transport surf cannot start: {e}; try --transport reqwest"
                    ))
                }),
        }
    }

    /// The configuration requests are built from.
    pub(crate) fn config(&self) -> &Config {
        match self {
            Self::Reqwest { client, .. } => client.config(),
            Self::Surf(client) => client.config(),
            Self::DryRun { config, .. } => config,
        }
    }

    /// Delivers every alias of `input`, handing each outcome to `on_finished` in input
    /// order; blocks until the last one. Memory stays bounded whatever the input's length:
    /// input is pulled only as requests go out.
    pub(crate) fn send_stream(
        &self,
        input: impl IntoIterator<Item = CreateAlias>,
        on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        let input = futures_util::stream::iter(input);
        match self {
            Self::Reqwest { client, runtime } => {
                runtime.block_on(client.send_stream(input, on_finished))
            }
            Self::Surf(client) => async_std::task::block_on(client.send_stream(input, on_finished)),
            Self::DryRun { config, runtime } => runtime.block_on(alias_core::deliver(
                config.clone(),
                &Printer::new(std::io::stdout()),
                &TokioClock,
                0,
                input,
                std::future::pending(),
                on_finished,
            )),
        }
    }
}

fn runtime_error(error: std::io::Error) -> UsageError {
    UsageError::new(format!(
        "cannot start the async runtime: {error}; check the process's thread limits (ulimit -u)"
    ))
}
