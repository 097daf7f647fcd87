//! A bounded queue with one consumer that takes everything queued at once.
//!
//! It replaces tokio's bounded mpsc for a socket's outgoing frames, where
//! it is measured to matter: tokio's channel allocates a block of 32 slots
//! and two cache-padded halves up front (about 1.5 KiB per socket, kept
//! while the socket is idle), and hands items over one at a time. Here an
//! empty queue owns no buffer, the consumer takes a whole burst in one lock
//! and one wake-up, and the buffer of a burst leaves with it (so it is
//! freed once the burst is written, not kept for the socket's life).
//!
//! The bound counts the items of the batch the consumer is still writing,
//! so a client that stops reading is refused after `bound` items, as with a
//! channel that hands over one item at a time.

use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

/// Why [`QueueSender::offer`] did not queue an item.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// `bound` items are waiting or being written.
    Full,
    /// The consumer is gone.
    Closed,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// The consumer's task, woken when an item lands in an empty queue.
    waker: AtomicWaker,
    /// Live senders; the consumer learns when the last one goes.
    senders: AtomicUsize,
    bound: usize,
}

struct State<T> {
    items: VecDeque<T>,
    /// Items of the last batch taken, still counted against the bound.
    taken: usize,
    closed: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the state torn
        // (each critical section is a push, a take or a flag), so a
        // poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A new queue holding at most `bound` items (at least one).
pub fn queue<T>(bound: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            taken: 0,
            closed: false,
        }),
        waker: AtomicWaker::new(),
        senders: AtomicUsize::new(1),
        bound: bound.max(1),
    });
    (
        QueueSender {
            shared: shared.clone(),
        },
        QueueReceiver { shared },
    )
}

/// The producing side; clones share the queue.
pub struct QueueSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> QueueSender<T> {
    /// Queues `item` without waiting.
    pub fn offer(&self, item: T) -> Result<(), Refused> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(Refused::Closed);
        }
        if state.items.len() + state.taken >= self.shared.bound {
            return Err(Refused::Full);
        }
        let was_empty = state.items.is_empty();
        state.items.push_back(item);
        drop(state);
        // A queue that already held items has woken its consumer, which
        // takes this item with them.
        if was_empty {
            self.shared.waker.wake();
        }
        Ok(())
    }
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        QueueSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for QueueSender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.waker.wake();
        }
    }
}

impl<T> fmt::Debug for QueueSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueSender")
            .field("bound", &self.shared.bound)
            .finish_non_exhaustive()
    }
}

/// The consuming side; dropping it closes the queue.
pub struct QueueReceiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> QueueReceiver<T> {
    /// Everything queued, oldest first, once there is something; `None`
    /// when the queue is empty and every sender is gone. Taking a batch
    /// says the previous one is written: its items stop counting against
    /// the bound.
    pub fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Option<VecDeque<T>>> {
        self.shared.waker.register(cx.waker());
        let mut state = self.shared.lock();
        let batch = std::mem::take(&mut state.items);
        state.taken = batch.len();
        drop(state);
        if !batch.is_empty() {
            return Poll::Ready(Some(batch));
        }
        if self.shared.senders.load(Ordering::Acquire) == 0 {
            // The last sender may have queued an item between the take
            // above and its leaving: look once more before ending.
            let last = std::mem::take(&mut self.shared.lock().items);
            if !last.is_empty() {
                return Poll::Ready(Some(last));
            }
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    /// [`Self::poll_take`] as a future.
    pub async fn take(&mut self) -> Option<VecDeque<T>> {
        poll_fn(|cx| self.poll_take(cx)).await
    }
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut state = self.shared.lock();
            state.closed = true;
            std::mem::take(&mut state.items)
        };
        // Dropped outside the lock: items may own other queues' handles.
        drop(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;

    fn take_now<T>(rx: &mut QueueReceiver<T>) -> Poll<Option<VecDeque<T>>> {
        rx.poll_take(&mut Context::from_waker(noop_waker_ref()))
    }

    #[test]
    fn takes_everything_queued_in_order() {
        let (tx, mut rx) = queue(8);
        assert!(take_now(&mut rx).is_pending());
        for i in 0..5 {
            tx.offer(i).unwrap();
        }
        let Poll::Ready(Some(batch)) = take_now(&mut rx) else {
            panic!("nothing taken");
        };
        assert_eq!(batch.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert!(take_now(&mut rx).is_pending());
    }

    #[test]
    fn the_bound_counts_the_batch_being_written() {
        let (tx, mut rx) = queue(3);
        for i in 0..3 {
            tx.offer(i).unwrap();
        }
        assert_eq!(tx.offer(3), Err(Refused::Full));
        let Poll::Ready(Some(batch)) = take_now(&mut rx) else {
            panic!("nothing taken");
        };
        assert_eq!(batch.len(), 3);
        // Taken but not yet written: still full.
        assert_eq!(tx.offer(3), Err(Refused::Full));
        // Asking for more says the batch is written.
        assert!(take_now(&mut rx).is_pending());
        tx.offer(3).unwrap();
        tx.offer(4).unwrap();
        tx.offer(5).unwrap();
        assert_eq!(tx.offer(6), Err(Refused::Full));
    }

    #[test]
    fn an_empty_queue_owns_no_buffer() {
        let (tx, mut rx) = queue(1000);
        for i in 0..1000 {
            tx.offer(i).unwrap();
        }
        let Poll::Ready(Some(batch)) = take_now(&mut rx) else {
            panic!("nothing taken");
        };
        assert!(batch.capacity() >= 1000);
        assert_eq!(rx.shared.lock().items.capacity(), 0);
    }

    #[test]
    fn a_dropped_receiver_closes_and_gone_senders_end_it() {
        let (tx, rx) = queue(4);
        let tx2 = tx.clone();
        drop(rx);
        assert_eq!(tx.offer(1), Err(Refused::Closed));
        assert_eq!(tx2.offer(1), Err(Refused::Closed));

        let (tx, mut rx) = queue(4);
        let tx2 = tx.clone();
        tx.offer(7).unwrap();
        drop(tx);
        drop(tx2);
        assert!(matches!(take_now(&mut rx), Poll::Ready(Some(b)) if b.len() == 1));
        assert!(matches!(take_now(&mut rx), Poll::Ready(None)));
    }

    #[tokio::test]
    async fn an_offer_wakes_the_waiting_consumer() {
        let (tx, mut rx) = queue(4);
        let consumer = tokio::spawn(async move { rx.take().await.map(|b| b.len()) });
        tokio::task::yield_now().await;
        tx.offer(1).unwrap();
        assert_eq!(consumer.await.unwrap(), Some(1));
    }
}
