//! Ctrl-C (SIGINT) and SIGTERM: the first asks the import to stop reading and finish what is
//! in flight; the second ends the process at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit;

/// Watches for SIGINT and SIGTERM on a thread of its own, setting `stop` on the first.
///
/// A second signal exits with [`exit::FAILURES`] without waiting: the last checkpoint
/// written stays valid, so the import can still be resumed from it. If the watcher cannot
/// start, the signals keep their default effect (ending the process), which the
/// checkpoint also survives.
pub(crate) fn watch(stop: Arc<AtomicBool>) {
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
                let mut signal = match Signal::new() {
                    Ok(signal) => signal,
                    Err(error) => {
                        tracing::warn!(%error, "cannot watch for Ctrl-C; it will end the import at once");
                        return;
                    }
                };
                signal.next().await;
                stop.store(true, Ordering::SeqCst);
                signal.next().await;
                eprintln!("stopped at once; the last checkpoint written is still valid");
                std::process::exit(i32::from(exit::FAILURES));
            });
        });
    if let Err(error) = started {
        tracing::warn!(%error, "cannot watch for Ctrl-C; it will end the import at once");
    }
}

/// SIGINT or SIGTERM, whichever comes.
struct Signal {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signal {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            terminate: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
