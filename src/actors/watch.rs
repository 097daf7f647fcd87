//! Users who follow the commits of the rooms they are in, and the bounded
//! channel that tells whoever acts for them that a followed room has new
//! messages: bots with a webhook (every room, for the webhook deliverer)
//! and users with an enabled auto-reply rule (direct rooms only, for the
//! auto-replier).
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

    /// Replaces the set of following users. An unchanged set keeps the
    /// generation, so periodic sweeps do not make every room ask again.
    pub fn set_followers(&self, users: HashSet<UserId>) {
        if let Some(inner) = &self.inner {
            // A poisoned lock only means a writer panicked mid-swap; the
            // set is replaced whole, so it is still consistent.
            let mut followers = inner.followers.write().unwrap_or_else(|e| e.into_inner());
            if *followers != users {
                *followers = users;
                inner.generation.fetch_add(1, Ordering::Release);
            }
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

/// The watches a room actor reports its commits to.
#[derive(Clone, Default)]
pub struct RoomWatches {
    /// Bots with a webhook; any kind of room.
    pub webhooks: RoomWatch,
    /// Owners of enabled auto-reply rules; direct rooms only.
    pub auto_replies: RoomWatch,
}

/// One room's view of a watch: whether a member follows the room, cached
/// until the watch's generation or the room's members change.
pub(super) struct Followed {
    watch: RoomWatch,
    /// As of a watch generation; `None` after a membership change.
    cached: Option<(u64, bool)>,
}

impl Followed {
    pub fn new(watch: RoomWatch) -> Self {
        Followed {
            watch,
            cached: None,
        }
    }

    /// The room's members changed: ask the watch again next time.
    pub fn forget(&mut self) {
        self.cached = None;
    }

    /// Nudges the watch about `room` if one of `members` follows it.
    pub fn nudge_if_followed<'a>(
        &mut self,
        room: RoomId,
        members: impl Iterator<Item = &'a UserId>,
    ) {
        let generation = self.watch.generation();
        let followed = match self.cached {
            Some((seen, followed)) if seen == generation => followed,
            _ => {
                let followed = self.watch.any_follower(members);
                self.cached = Some((generation, followed));
                followed
            }
        };
        if followed {
            self.watch.nudge(room);
        }
    }
}
