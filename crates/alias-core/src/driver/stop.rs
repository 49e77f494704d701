//! A stop request that any thread can make and any runtime can wait for.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// Asks the deliveries holding the matching [`StopSignal`] to stop promptly: nothing more
/// is sent, aliases waiting for a send or a retry are handed back undelivered
/// ([`DeliveryError::Abandoned`](crate::DeliveryError::Abandoned)) at once, and the
/// deliveries end as soon as the requests in flight are answered (within their timeout).
///
/// Made by [`stop_signal`]. Cheap to clone; [`Stopper::stop`] is a plain call, fit for a
/// signal-handling thread.
#[derive(Debug, Clone)]
pub struct Stopper(Arc<Shared>);

/// Completes once the matching [`Stopper`] asked to stop. Cheap to clone; needs no runtime.
#[derive(Debug, Clone)]
pub struct StopSignal(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    stopped: AtomicBool,
    waiting: Mutex<Vec<Waker>>,
}

/// A new stop request: the [`Stopper`] makes it, the [`StopSignal`] waits for it.
///
/// ```
/// use alias_core::driver::stop_signal;
///
/// let (stopper, signal) = stop_signal();
/// assert!(!signal.is_stopped());
/// stopper.stop();
/// assert!(signal.is_stopped());
/// ```
pub fn stop_signal() -> (Stopper, StopSignal) {
    let shared = Arc::new(Shared::default());
    (Stopper(Arc::clone(&shared)), StopSignal(shared))
}

impl Stopper {
    /// Whether the stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Asks to stop. Calling it again does nothing more.
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        let waiting = std::mem::take(
            &mut *self
                .0
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for waker in waiting {
            waker.wake();
        }
    }
}

impl StopSignal {
    /// Whether the stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }
}

impl Future for StopSignal {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_stopped() {
            return Poll::Ready(());
        }
        let mut waiting = self
            .0
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Checked again under the lock: a stop between the first check and here has
        // already taken the list, and would never wake this waker.
        if self.is_stopped() {
            return Poll::Ready(());
        }
        if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_waiting_signal_is_woken_once_by_the_stop() {
        let (stopper, signal) = stop_signal();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let mut signal = pin!(signal);
        assert!(signal.as_mut().poll(&mut cx).is_pending());
        assert!(signal.as_mut().poll(&mut cx).is_pending());
        let other = stopper.clone();
        other.stop();
        stopper.stop();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "registered once, woken once"
        );
        assert!(signal.as_mut().poll(&mut cx).is_ready());
    }
}
