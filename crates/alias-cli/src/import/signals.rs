//! Ctrl-C (SIGINT) and SIGTERM: the first stops the import promptly (nothing more is sent,
//! retries are not waited for, the requests in flight are answered within their timeout,
//! the checkpoint is written); the second ends the process at once.

use alias_core::driver::Stopper;

use crate::stop_signal::StopSignal;
use crate::{console, exit};

/// Watches for SIGINT and SIGTERM on a thread of its own, stopping the delivery with
/// `stopper` on the first.
///
/// A second signal exits with [`exit::FAILURES`] without waiting: the last checkpoint
/// written (if `checkpointed`) stays valid, so the import can still be resumed from it. If
/// the watcher cannot start, the signals keep their default effect (ending the process),
/// which the checkpoint also survives.
pub(crate) fn watch(stopper: Stopper, checkpointed: bool) {
    let started = std::thread::Builder::new()
        .name("import-signals".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::warn!(%error, "cannot watch for Ctrl-C; it will end the import at once");
                    return;
                }
            };
            runtime.block_on(async {
                let mut signal = match StopSignal::listen() {
                    Ok(signal) => signal,
                    Err(error) => {
                        tracing::warn!(%error, "cannot watch for Ctrl-C; it will end the import at once");
                        return;
                    }
                };
                if let Err(error) = signal.next().await {
                    tracing::warn!(%error, "cannot watch for Ctrl-C; it will end the import at once");
                    return;
                }
                console::message(if checkpointed {
                    "stopping: waiting for the requests in flight (at most the request timeout), \
                     then writing the checkpoint; press Ctrl-C again to stop at once"
                } else {
                    "stopping: waiting for the requests in flight (at most the request timeout); \
                     press Ctrl-C again to stop at once"
                });
                stopper.stop();
                if signal.next().await.is_err() {
                    return;
                }
                console::message(if checkpointed {
                    "stopped at once; the last checkpoint written is still valid"
                } else {
                    "stopped at once"
                });
                std::process::exit(i32::from(exit::FAILURES));
            });
        });
    if let Err(error) = started {
        tracing::warn!(%error, "cannot watch for Ctrl-C; it will end the import at once");
    }
}
