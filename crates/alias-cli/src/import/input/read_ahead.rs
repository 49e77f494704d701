//! The queue from the reader thread to the delivery, bounded in items and in bytes: rows
//! may each be up to the row limit long, so a bound on their number alone would let the
//! reader hold gigabytes.
//!
//! The reader, a thread, waits for room; the delivery, an async loop, takes items as a
//! [`Stream`], so that waiting for the next row never holds up its answers, timers or stop.
//!
//! A plain `VecDeque` under a lock rather than a channel: a row then costs no allocation
//! of its own, and each end wakes the other only when that one waits, which kept the
//! queue's cost per row out of the import's profile. A reader waiting for room is woken
//! only once the queue is down to half its bounds: a reader faster than the delivery
//! keeps the queue full, and waking it for every row taken cost a pair of thread switches
//! a row (twice the import's futex calls).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_util::Stream;

/// What both ends share.
#[derive(Debug)]
struct Shared<T> {
    max_items: usize,
    max_bytes: u64,
    state: Mutex<State<T>>,
    /// Signalled when an item is taken or the receiver goes, for a sender that waits.
    room: Condvar,
}

#[derive(Debug)]
struct State<T> {
    /// The items sent and not yet taken, each with its length in bytes.
    items: VecDeque<(T, u64)>,
    /// The sum of those lengths.
    bytes: u64,
    /// The sender waits for room.
    sender_waiting: bool,
    /// The receiver found the queue empty and waits to be woken.
    receiver_waiting: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every change under the lock is a single push, pop or assignment, which a panic
        // cannot leave half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A queue of at most `items` items and `bytes` bytes, save that one item is always let
/// through however large, so that no item can block the queue for ever.
pub(crate) fn queue<T>(items: usize, bytes: u64) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        max_items: items.max(1),
        max_bytes: bytes,
        state: Mutex::new(State {
            items: VecDeque::new(),
            bytes: 0,
            sender_waiting: false,
            receiver_waiting: None,
            sender_gone: false,
            receiver_gone: false,
        }),
        room: Condvar::new(),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

/// The reader's end.
#[derive(Debug)]
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiver is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

impl<T> Sender<T> {
    /// Sends `item`, `bytes` long, once there is room for it.
    pub(crate) fn send(&self, item: T, bytes: u64) -> Result<(), Closed> {
        let shared = &*self.shared;
        let full = |state: &State<T>| {
            state.items.len() >= shared.max_items
                || (state.bytes > 0 && state.bytes.saturating_add(bytes) > shared.max_bytes)
        };
        let mut state = shared.lock();
        while full(&state) && !state.receiver_gone {
            state.sender_waiting = true;
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.sender_waiting = false;
        if state.receiver_gone {
            return Err(Closed);
        }
        state.items.push_back((item, bytes));
        state.bytes += bytes;
        let receiver = state.receiver_waiting.take();
        drop(state);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.sender_gone = true;
        let receiver = state.receiver_waiting.take();
        drop(state);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
    }
}

/// The delivery's end: a [`Stream`] of the items, which ends once the sender is gone and
/// everything it sent was taken.
#[derive(Debug)]
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let shared = &*self.shared;
        let mut state = shared.lock();
        match state.items.pop_front() {
            Some((item, bytes)) => {
                state.bytes -= bytes;
                let wake_sender = state.sender_waiting
                    && state.items.len() <= shared.max_items / 2
                    && state.bytes <= shared.max_bytes / 2;
                drop(state);
                if wake_sender {
                    shared.room.notify_one();
                }
                Poll::Ready(Some(item))
            }
            None if state.sender_gone => Poll::Ready(None),
            None => {
                match &mut state.receiver_waiting {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => state.receiver_waiting = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.lock().receiver_gone = true;
        self.shared.room.notify_one();
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
        assert_eq!(receiver.shared.lock().bytes, 9);
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
    fn a_receiver_waiting_on_an_empty_queue_is_woken_by_a_send_and_by_the_end() {
        let (sender, mut receiver) = queue(10, 100);
        let sending = std::thread::spawn(move || {
            // Late enough that the receiver has found the queue empty and waits.
            std::thread::sleep(std::time::Duration::from_millis(50));
            sender.send(7, 1).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(50));
        });
        assert_eq!(next(&mut receiver), Some(7));
        assert_eq!(next(&mut receiver), None, "the sender's end wakes it too");
        sending.join().unwrap();
    }

    #[test]
    fn a_waiting_sender_is_woken_once_the_queue_is_half_empty() {
        let (sender, mut receiver) = queue(4, 1000);
        for item in 0..4 {
            sender.send(item, 1).unwrap();
        }
        let sending = std::thread::spawn(move || sender.send(4, 1));
        while !receiver.shared.lock().sender_waiting {
            std::thread::yield_now();
        }
        assert_eq!(next(&mut receiver), Some(0));
        // Three left: over half, so the sender is not woken, and still waits.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(receiver.shared.lock().sender_waiting);
        assert_eq!(next(&mut receiver), Some(1));
        assert_eq!(sending.join().unwrap(), Ok(()));
        assert_eq!(receiver.shared.lock().items.len(), 3);
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
