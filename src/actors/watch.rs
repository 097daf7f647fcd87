//! Users who follow the commits of every room they are in (bots with a
//! webhook), and the bounded channel that tells their deliverer a followed
//! room has new messages.
//!
//! A room actor decides whether it is followed only when its members or
//! the follower set change (a generation number says when); on every other
//! commit it pays one atomic load. Rooms without followers send nothing,
//! and the commit path itself is untouched.

use crate::model::{RoomId, UserId};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

#[derive(Clone, Default)]
pub struct RoomWatch {
    /// `None`: nobody follows anything (benches, actors without a deliverer).
    inner: Option<Arc<Inner>>,
}

struct Inner {
    /// Bumped on every change of `followers`.
    generation: AtomicU64,
    followers: RwLock<HashSet<UserId>>,
    tx: mpsc::Sender<RoomId>,
}

impl RoomWatch {
    /// A watch and the receiving end of its nudges, which hold at most
    /// `capacity` room ids.
    pub fn new(capacity: usize) -> (RoomWatch, mpsc::Receiver<RoomId>) {
        let (tx, rx) = mpsc::channel(capacity);
        let inner = Inner {
            generation: AtomicU64::new(1),
            followers: RwLock::new(HashSet::new()),
            tx,
        };
        (
            RoomWatch {
                inner: Some(Arc::new(inner)),
            },
            rx,
        )
    }

    /// Replaces the set of following users.
    pub fn set_followers(&self, users: HashSet<UserId>) {
        if let Some(inner) = &self.inner {
            // A poisoned lock only means a writer panicked mid-swap; the
            // set is replaced whole, so it is still consistent.
            *inner.followers.write().unwrap_or_else(|e| e.into_inner()) = users;
            inner.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// Changes whenever the follower set does (0: no watch at all).
    pub fn generation(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |inner| inner.generation.load(Ordering::Acquire))
    }

    /// Does any of `members` follow its rooms?
    pub fn any_follower<'a>(&self, mut members: impl Iterator<Item = &'a UserId>) -> bool {
        let Some(inner) = &self.inner else {
            return false;
        };
        let followers = inner.followers.read().unwrap_or_else(|e| e.into_inner());
        !followers.is_empty() && members.any(|m| followers.contains(m))
    }

    /// A followed room committed new messages. Never waits: when the
    /// channel is full the deliverer is already behind, and its periodic
    /// sweep reads everything from the store anyway.
    pub fn nudge(&self, room: RoomId) {
        if let Some(inner) = &self.inner {
            let _ = inner.tx.try_send(room);
        }
    }
}
