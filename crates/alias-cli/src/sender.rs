//! The HTTP client chosen by `--transport` (or the dry-run printer) under one
//! [`AliasClient`], run on a tokio runtime of its own behind one blocking call.

use std::future::Future;

use alias_core::http::{Request, Response};
use alias_core::{
    AliasClient, Config, CreateAlias, delivery::DeliveryStats, delivery::ReportEntry,
    driver::HttpClient, driver::TransportError, driver::TransportLimits,
};
use alias_reqwest::{ReqwestClient, TokioTimer};
#[cfg(feature = "surf")]
use alias_surf::SurfClient;
use futures_util::Stream;
use std::sync::mpsc;
use std::task::Poll;
use tokio::runtime::Runtime;

use crate::dry_run::Printer;
use crate::exit::UsageError;
use crate::options::{Settings, TransportArg};

/// Sends a stream of aliases with the chosen carrier and hands back each outcome.
#[derive(Debug)]
pub(crate) struct Sender {
    client: AliasClient<Carrier, TokioTimer>,
    /// Runs the delivery, its timers, and reqwest's connections; surf's carry themselves.
    runtime: Runtime,
}

/// What carries the requests.
#[derive(Debug)]
enum Carrier {
    /// alias-reqwest's client.
    Reqwest(ReqwestClient),
    /// alias-surf's client.
    #[cfg(feature = "surf")]
    Surf(SurfClient),
    /// Prints requests to stdout instead of sending them.
    Print(Printer<std::io::Stdout>),
}

impl HttpClient for Carrier {
    async fn send(
        &self,
        request: Request<Vec<u8>>,
        limits: &TransportLimits,
    ) -> Result<Response<Vec<u8>>, TransportError> {
        match self {
            Self::Reqwest(http) => http.send(request, limits).await,
            #[cfg(feature = "surf")]
            Self::Surf(http) => http.send(request, limits).await,
            Self::Print(printer) => printer.print(&request),
        }
    }
}

/// How often a delivery in progress is ticked.
const TICK: std::time::Duration = std::time::Duration::from_secs(1);

impl Sender {
    /// The sender that `settings` ask for, over `settings.config`.
    pub(crate) fn new(settings: Settings) -> Result<Self, UsageError> {
        let Settings {
            config,
            transport,
            dry_run,
            limits,
        } = settings;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|error| {
                UsageError::new(format!(
                    "cannot start the async runtime: {error}; check the process's thread \
                     limits (ulimit -u)"
                ))
            })?;
        let carrier = if dry_run {
            Carrier::Print(Printer::new(std::io::stdout()))
        } else {
            match transport {
                TransportArg::Reqwest => Carrier::Reqwest(build(&limits, "reqwest")?),
                #[cfg(feature = "surf")]
                TransportArg::Surf => Carrier::Surf(build(&limits, "surf")?),
            }
        };
        let client = AliasClient::builder(config)
            .limits(limits)
            .build_with(carrier);
        Ok(Self { client, runtime })
    }

    /// The configuration requests are built from.
    pub(crate) fn config(&self) -> &Config {
        self.client.config()
    }

    /// Delivers every alias of `input`, putting each outcome on `events` in input order;
    /// blocks until the last one, or until `stop` completes and the requests in flight are
    /// answered. Memory stays bounded whatever the input's length: input is pulled only as
    /// requests go out.
    ///
    /// Meanwhile `on_event` takes each event of the queue in turn (`input` may put its own
    /// on it too), and `None` every second, so that progress shows even while no answer
    /// comes; it is done once every sender of the queue is gone, `input`'s and the
    /// delivery's with it. `on_event` is the only one to handle what happens, so it owns
    /// whatever it keeps.
    ///
    /// Events must be put on the queue from within the delivery only (by `input` as it is
    /// pulled, or as an outcome): the queue is drained whole right after each of the
    /// delivery's turns, in the same task, so no event waits and nothing needs waking.
    pub(crate) fn send_stream<E: From<ReportEntry>>(
        &self,
        input: impl Stream<Item = CreateAlias>,
        stop: impl Future<Output = ()>,
        (events, received): (mpsc::Sender<E>, mpsc::Receiver<E>),
        mut on_event: impl FnMut(Option<E>),
    ) -> DeliveryStats {
        let on_finished = move |entry: ReportEntry| {
            // The receiver outlives the delivery (it is drained below until every sender
            // is gone), so the send cannot fail.
            let _ = events.send(E::from(entry));
        };
        self.runtime.block_on(async {
            let delivery = self.client.send_stream_until(input, stop, on_finished);
            let mut interval = tokio::time::interval(TICK);
            // Polled after the delivery on every turn of the join below.
            let handling = std::future::poll_fn(|cx| {
                loop {
                    match received.try_recv() {
                        Ok(event) => on_event(Some(event)),
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(mpsc::TryRecvError::Disconnected) => return Poll::Ready(()),
                    }
                }
                while interval.poll_tick(cx).is_ready() {
                    on_event(None);
                }
                Poll::Pending
            });
            futures_util::future::join(delivery, handling).await.0
        })
    }
}

/// The default client of an adapter, or a usage error that suggests another.
fn build<H: alias_core::driver::DefaultHttpClient>(
    limits: &TransportLimits,
    name: &str,
) -> Result<H, UsageError>
where
    H::Error: std::fmt::Display,
{
    H::build(limits).map_err(|e| {
        UsageError::new(format!(
            "--transport {name} cannot start: {e}; try another --transport"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use alias_core::Token;

    use super::*;

    /// An event of the test's own, beside the delivery's outcomes.
    #[derive(Debug)]
    enum Event {
        Queued,
        Finished,
    }

    impl From<ReportEntry> for Event {
        fn from(_: ReportEntry) -> Self {
            Self::Finished
        }
    }

    /// Whatever the input queues in one turn is handled before the input is polled again:
    /// the queue never holds more than one turn's worth.
    #[test]
    fn what_the_input_queues_is_handled_before_its_next_turn() {
        const QUEUED: usize = 10_000;
        let sender = Sender::new(Settings {
            config: Config::builder(Token::new("test-token").unwrap()).build(),
            transport: TransportArg::Reqwest,
            dry_run: true,
            limits: TransportLimits::default(),
        })
        .unwrap();
        let (events, received) = mpsc::channel();
        let handled = Cell::new(0);
        let mut turns = 0;
        let queue = events.clone();
        let seen = &handled;
        // Owns its end of the queue, as the import's input does, so that the queue closes
        // once the delivery is done with it.
        let input = futures_util::stream::poll_fn(move |cx| {
            turns += 1;
            if turns == 1 {
                for _ in 0..QUEUED {
                    queue.send(Event::Queued).unwrap();
                }
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            assert_eq!(seen.get(), QUEUED, "handled before turn {turns}");
            Poll::Ready(None)
        });
        sender.send_stream(input, std::future::pending(), (events, received), |event| {
            if let Some(event) = event {
                assert!(matches!(event, Event::Queued), "{event:?}");
                handled.set(handled.get() + 1);
            }
        });
        assert_eq!(handled.get(), QUEUED);
    }
}
