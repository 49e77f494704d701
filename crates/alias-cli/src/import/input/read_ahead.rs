//! The queue from the reader thread to the delivery, bounded in items and in bytes: rows
//! may each be up to the row limit long, so a bound on their number alone would let the
//! reader hold gigabytes.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// What both ends share: the bytes sent and not yet taken.
#[derive(Debug)]
struct Budget {
    max: u64,
    state: Mutex<Held>,
    taken: Condvar,
}

#[derive(Debug)]
struct Held {
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
        max: bytes,
        state: Mutex::new(Held {
            bytes: 0,
            closed: false,
        }),
        taken: Condvar::new(),
    });
    let (send, receive) = mpsc::sync_channel(items);
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
    items: mpsc::SyncSender<(T, u64)>,
    budget: Arc<Budget>,
}

/// The receiver is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

impl<T> Sender<T> {
    /// Sends `item`, `bytes` long, once there is room for it.
    pub(crate) fn send(&self, item: T, bytes: u64) -> Result<(), Closed> {
        let mut held = self.budget.lock();
        while held.bytes > 0 && held.bytes.saturating_add(bytes) > self.budget.max {
            if held.closed {
                return Err(Closed);
            }
            held = self
                .budget
                .taken
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if held.closed {
            return Err(Closed);
        }
        held.bytes += bytes;
        drop(held);
        self.items.send((item, bytes)).map_err(|_| Closed)
    }
}

/// The delivery's end.
#[derive(Debug)]
pub(crate) struct Receiver<T> {
    items: mpsc::Receiver<(T, u64)>,
    budget: Arc<Budget>,
}

impl<T> Receiver<T> {
    /// The next item, waiting at most `timeout` for it.
    pub(crate) fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let (item, bytes) = self.items.recv_timeout(timeout)?;
        self.budget.lock().bytes -= bytes;
        self.budget.taken.notify_one();
        Ok(item)
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
    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn items_wait_while_the_bytes_held_are_over_the_budget() {
        let (sender, receiver) = queue(100, 10);
        sender.send('a', 6).unwrap();
        sender.send('b', 4).unwrap();
        let sending = std::thread::spawn(move || {
            // Waits until 'a' is taken: 10 bytes are held.
            sender.send('c', 5).unwrap();
            sender
        });
        assert_eq!(receiver.recv_timeout(WAIT), Ok('a'));
        let sender = sending.join().unwrap();
        assert_eq!(receiver.budget.lock().bytes, 9);
        assert_eq!(receiver.recv_timeout(WAIT), Ok('b'));
        assert_eq!(receiver.recv_timeout(WAIT), Ok('c'));
        // One item larger than the whole budget still goes through, alone.
        sender.send('d', 50).unwrap();
        assert_eq!(receiver.recv_timeout(WAIT), Ok('d'));
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
