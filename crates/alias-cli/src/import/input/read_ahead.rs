//! The queue from the reader thread to the delivery, bounded in items and in bytes: rows
//! may each be up to the row limit long, so a bound on their number alone would let the
//! reader hold gigabytes.
//!
//! The reader, a thread, waits for room; the delivery, an async loop, takes items as a
//! [`Stream`], so that waiting for the next row never holds up its answers, timers or stop.

use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_channel::mpsc;
use futures_util::Stream;

/// What both ends share: the bytes sent and not yet taken.
#[derive(Debug)]
struct Budget {
    max_items: usize,
    max: u64,
    state: Mutex<Held>,
    taken: Condvar,
}

#[derive(Debug)]
struct Held {
    items: usize,
    bytes: u64,
    /// The receiver is gone: nothing sent will be taken.
    closed: bool,
}

impl Budget {
    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // The lock guards two plain numbers, which a panic cannot leave half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A queue of at most `items` items and `bytes` bytes, save that one item is always let
/// through however large, so that no item can block the queue for ever.
pub(crate) fn queue<T>(items: usize, bytes: u64) -> (Sender<T>, Receiver<T>) {
    let budget = Arc::new(Budget {
        max_items: items.max(1),
        max: bytes,
        state: Mutex::new(Held {
            items: 0,
            bytes: 0,
            closed: false,
        }),
        taken: Condvar::new(),
    });
    // Unbounded: the budget bounds it, on the sender's side, where waiting is allowed.
    let (send, receive) = mpsc::unbounded();
    (
        Sender {
            items: send,
            budget: Arc::clone(&budget),
        },
        Receiver {
            items: receive,
            budget,
        },
    )
}

/// The reader's end.
#[derive(Debug)]
pub(crate) struct Sender<T> {
    items: mpsc::UnboundedSender<(T, u64)>,
    budget: Arc<Budget>,
}

/// The receiver is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

impl<T> Sender<T> {
    /// Sends `item`, `bytes` long, once there is room for it.
    pub(crate) fn send(&self, item: T, bytes: u64) -> Result<(), Closed> {
        let mut held = self.budget.lock();
        let full = |held: &Held| {
            held.items >= self.budget.max_items
                || (held.bytes > 0 && held.bytes.saturating_add(bytes) > self.budget.max)
        };
        while full(&held) && !held.closed {
            held = self
                .budget
                .taken
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if held.closed {
            return Err(Closed);
        }
        held.items += 1;
        held.bytes += bytes;
        drop(held);
        self.items.unbounded_send((item, bytes)).map_err(|_| Closed)
    }
}

/// The delivery's end: a [`Stream`] of the items, which ends once the sender is gone and
/// everything it sent was taken.
#[derive(Debug)]
pub(crate) struct Receiver<T> {
    items: mpsc::UnboundedReceiver<(T, u64)>,
    budget: Arc<Budget>,
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let polled = Pin::new(&mut self.items).poll_next(cx);
        if let Poll::Ready(Some((_, bytes))) = &polled {
            let mut held = self.budget.lock();
            held.items -= 1;
            held.bytes -= bytes;
            drop(held);
            self.budget.taken.notify_one();
        }
        polled.map(|item| item.map(|(item, _)| item))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.budget.lock().closed = true;
        self.budget.taken.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use futures::executor::block_on;

    use super::*;

    fn next<T>(receiver: &mut Receiver<T>) -> Option<T> {
        block_on(receiver.next())
    }

    #[test]
    fn items_wait_while_the_bytes_held_are_over_the_budget() {
        let (sender, mut receiver) = queue(100, 10);
        sender.send('a', 6).unwrap();
        sender.send('b', 4).unwrap();
        let sending = std::thread::spawn(move || {
            // Waits until 'a' is taken: 10 bytes are held.
            sender.send('c', 5).unwrap();
            sender
        });
        assert_eq!(next(&mut receiver), Some('a'));
        let sender = sending.join().unwrap();
        assert_eq!(receiver.budget.lock().bytes, 9);
        assert_eq!(next(&mut receiver), Some('b'));
        assert_eq!(next(&mut receiver), Some('c'));
        // One item larger than the whole budget still goes through, alone.
        sender.send('d', 50).unwrap();
        assert_eq!(next(&mut receiver), Some('d'));
        drop(sender);
        assert_eq!(next(&mut receiver), None, "ends with its sender");
    }

    #[test]
    fn items_wait_while_the_queue_holds_its_count() {
        let (sender, mut receiver) = queue(2, 1000);
        sender.send(1, 1).unwrap();
        sender.send(2, 1).unwrap();
        let sending = std::thread::spawn(move || sender.send(3, 1));
        assert_eq!(next(&mut receiver), Some(1));
        assert_eq!(sending.join().unwrap(), Ok(()));
        assert_eq!(next(&mut receiver), Some(2));
        assert_eq!(next(&mut receiver), Some(3));
    }

    #[test]
    fn a_sender_waiting_for_room_stops_when_the_receiver_goes() {
        let (sender, receiver) = queue(100, 10);
        sender.send(1, 10).unwrap();
        let sending = std::thread::spawn(move || sender.send(2, 1));
        drop(receiver);
        assert_eq!(sending.join().unwrap(), Err(Closed));
    }
}
