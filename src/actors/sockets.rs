//! One user's open sockets, shared by their user actor, which adds and
//! removes them, and the rooms they are in, which put room traffic on them
//! directly.
//!
//! Rooms used to hand each item to the user actor, which offered it to
//! every socket: two hand-offs per delivery on the one actor thread.
//! Offering from the room saves the user actor's mailbox envelope, wake-up
//! and handler per delivery: on the fan-out benchmark the actor thread's
//! CPU fell by a fifth to a quarter, about 1 µs per delivery
//! (bench/findings.md). The lock is only
//! ever taken on the actor thread (rooms and user actors share it), so it
//! is never contended; it is a `Mutex` because actor messages must be
//! `Send`.

use super::messages::{ConnHandle, ConnId, Outgoing};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

#[derive(Clone, Debug, Default)]
pub struct Sockets(Arc<Mutex<Vec<ConnHandle>>>);

impl Sockets {
    fn lock(&self) -> MutexGuard<'_, Vec<ConnHandle>> {
        // Nothing panics while holding it; a poisoned list is still whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a socket: every item offered from now on reaches it too.
    /// Returns how many are open now.
    pub fn add(&self, conn: ConnHandle) -> usize {
        let mut conns = self.lock();
        conns.push(conn);
        conns.len()
    }

    /// Removes a socket; returns how many are left, or `None` if it was
    /// not there.
    pub fn remove(&self, id: ConnId) -> Option<usize> {
        let mut conns = self.lock();
        let at = conns.iter().position(|c| c.id == id)?;
        conns.swap_remove(at);
        Some(conns.len())
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Offers the item to every socket without waiting; true if at least
    /// one took it. A socket whose queue is full is kicked by `offer`
    /// (and only that one: the others have queues of their own and keep
    /// up); the registry removes it when its tasks end.
    pub fn offer(&self, item: &Outgoing) -> bool {
        let mut reached = false;
        for conn in self.lock().iter() {
            reached |= conn.offer(item.clone());
        }
        reached
    }

    /// Calls `f` with every open socket.
    pub fn each(&self, mut f: impl FnMut(&ConnHandle)) {
        for conn in self.lock().iter() {
            f(conn);
        }
    }
}
