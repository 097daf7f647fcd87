//! One actor per connected user: their open sockets (WebSocket or SSE) and
//! the rooms they are in. Rooms deliver to the user actor; it hands each
//! item to every socket. It also announces the user's presence when it
//! starts and stops, and keeps the delivered positions.
//!
//! Delivered positions are batched: a delivery only raises a number in
//! this actor's memory, and the numbers that moved are written every
//! `delivered_flush` and when the actor stops. The hot path never waits on
//! SQLite; the cost is that a crash loses up to one interval of them (the
//! stored position then trails the truth; it never runs ahead of it).
//!
//! Online time follows presence, not each socket: the actor opens an
//! online interval when it starts (the user comes online) and closes it
//! when it stops, at the moment the last socket closed. A reconnect within
//! the presence grace keeps the one interval going (the few seconds
//! between count as online), so a reload costs no writes; the time spent
//! waiting out the grace after the last socket does not count. One write
//! when the user comes online, one when they go offline. While a socket is
//! open, a timer on the automation clock sends `goal_exceeded` (see
//! [`super::goal`]).

use super::goal::{self, GoalReached};
use super::messages::*;
use super::{ActorLimits, RegistryActor};
use crate::clock::Clock;
use crate::model::{RoomId, Seq, Timestamp, UserId};
use crate::protocol::{Encoded, PresenceStatus, ServerFrame};
use crate::store::StoreHandle;
use actix::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Deliveries that may wait for this actor. Rooms `try_send`; when this is
/// full the user is evicted (and resumes on reconnect) rather than slowing
/// the room.
const MAILBOX: usize = 1024;

pub struct UserActor {
    user_id: UserId,
    registry: Addr<RegistryActor>,
    store: StoreHandle,
    conns: HashMap<ConnId, ConnHandle>,
    /// Rooms this user is in, so going offline can tell exactly those.
    rooms: HashSet<RoomId>,
    limits: ActorLimits,
    /// Highest seq per room that reached a socket and is not written yet.
    delivered: HashMap<RoomId, Seq>,
    /// The automation clock online time is measured on.
    clock: Arc<Clock>,
    /// The write that opens this stretch's online interval, and its id
    /// (`None` if it failed). Not waited for: connecting never waits on
    /// SQLite, and the close awaits it.
    interval: Option<JoinHandle<Option<i64>>>,
    /// When the last socket closed, while none is open: where the interval
    /// ends if none comes back within the grace.
    idle_since: Option<Timestamp>,
    /// The online-time goal timer, while a socket is open.
    goal_timer: Option<SpawnHandle>,
}

impl UserActor {
    pub fn new(
        user_id: UserId,
        registry: Addr<RegistryActor>,
        store: StoreHandle,
        limits: ActorLimits,
        clock: Arc<Clock>,
    ) -> Self {
        UserActor {
            user_id,
            registry,
            store,
            conns: HashMap::new(),
            rooms: HashSet::new(),
            limits,
            delivered: HashMap::new(),
            clock,
            interval: None,
            idle_since: None,
            goal_timer: None,
        }
    }

    /// (Re)starts the goal timer: after a goal change or a socket coming
    /// back, it works out anew when the goal will be passed.
    fn arm_goal_timer(&mut self, ctx: &mut Context<Self>) {
        self.stop_goal_timer(ctx);
        let watch = goal::watch(self.store.clone(), self.clock.clone(), self.user_id);
        let handle = ctx.spawn(watch.into_actor(self).map(|reached, act, ctx| {
            act.goal_timer = None;
            if let Some(reached) = reached {
                act.goal_reached(&reached);
                act.arm_goal_timer(ctx);
            }
        }));
        self.goal_timer = Some(handle);
    }

    fn stop_goal_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.goal_timer.take() {
            ctx.cancel_future(handle);
        }
    }

    fn goal_reached(&self, reached: &GoalReached) {
        let frame = reached.frame();
        for conn in self.conns.values() {
            conn.offer(Outgoing::Frame(frame.clone()));
        }
    }

    /// Writes the delivered positions gathered since the last flush, off
    /// the actor (a pooled connection on the blocking pool).
    fn flush_delivered(&mut self) {
        if self.delivered.is_empty() {
            return;
        }
        let positions: Vec<(RoomId, Seq)> = self.delivered.drain().collect();
        let (store, user_id) = (self.store.clone(), self.user_id);
        actix::spawn(async move {
            if let Err(e) = store
                .run(move |s| s.mark_delivered(user_id, &positions))
                .await
            {
                tracing::warn!(user_id, error = %e, "cannot write delivered positions");
            }
        });
    }
}

/// The online users who share a room with `user_id`, with their actors.
async fn online_co_members(
    store: &StoreHandle,
    registry: &Addr<RegistryActor>,
    user_id: UserId,
) -> Vec<(UserId, Addr<UserActor>)> {
    let user_ids = match store.run(move |s| s.co_members(user_id)).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(user_id, error = %e, "cannot find who shares a room");
            return Vec::new();
        }
    };
    if user_ids.is_empty() {
        return Vec::new();
    }
    registry
        .send(OnlineUsers { user_ids })
        .await
        .unwrap_or_default()
}

/// Sends a presence frame to every online user who shares a room with
/// `user_id`. Presence is ephemeral: a recipient whose mailbox is full
/// just misses it.
async fn announce(
    store: StoreHandle,
    registry: Addr<RegistryActor>,
    user_id: UserId,
    status: PresenceStatus,
    last_seen_at: Option<Timestamp>,
) {
    let online = online_co_members(&store, &registry, user_id).await;
    let frame: Encoded = ServerFrame::Presence {
        user_id,
        status,
        last_seen_at,
    }
    .encode();
    for (_, addr) in online {
        let _ = addr.try_send(Deliver {
            item: Outgoing::Frame(frame.clone()),
        });
    }
}

impl Actor for UserActor {
    type Context = Context<Self>;

    /// Loads the user's rooms and registers with the running ones before
    /// handling anything else, so a socket added next already receives
    /// every room's traffic.
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        let user_id = self.user_id;
        let store = self.store.clone();
        let registry = self.registry.clone();
        let addr = ctx.address();
        let load = async move {
            let rooms = match store.run(move |s| s.room_ids_of_user(user_id)).await {
                Ok(rooms) => rooms,
                Err(e) => {
                    tracing::error!(user_id, error = %e, "cannot load rooms of user");
                    Vec::new()
                }
            };
            let _ = registry
                .send(UserOnline {
                    user_id,
                    addr,
                    rooms: rooms.clone(),
                })
                .await;
            rooms
        };
        ctx.wait(load.into_actor(self).map(|rooms, act, _| {
            act.rooms.extend(rooms);
        }));
        let (store, at) = (self.store.clone(), self.clock.now());
        self.interval = Some(actix::spawn(async move {
            match store
                .run(move |s| s.open_online_interval(user_id, at))
                .await
            {
                Ok(id) => Some(id),
                Err(e) => {
                    tracing::warn!(user_id, error = %e, "cannot open an online interval");
                    None
                }
            }
        }));
        ctx.spawn(
            announce(
                self.store.clone(),
                self.registry.clone(),
                user_id,
                PresenceStatus::Online,
                None,
            )
            .into_actor(self),
        );
        ctx.run_interval(self.limits.delivered_flush, |act, _| act.flush_delivered());
    }
}

impl Handler<AddConn> for UserActor {
    type Result = ();

    /// A new socket also learns who of the people sharing a room with
    /// the user is online now; later changes come as they happen.
    fn handle(&mut self, msg: AddConn, ctx: &mut Self::Context) {
        let conn = msg.conn.clone();
        self.conns.insert(msg.conn.id, msg.conn);
        if self.conns.len() == 1 {
            self.idle_since = None;
            self.arm_goal_timer(ctx);
        }
        let (store, registry, user_id) = (self.store.clone(), self.registry.clone(), self.user_id);
        let snapshot = async move {
            for (other, _) in online_co_members(&store, &registry, user_id).await {
                let frame = ServerFrame::Presence {
                    user_id: other,
                    status: PresenceStatus::Online,
                    last_seen_at: None,
                };
                conn.offer(Outgoing::Frame(frame.encode_for(conn.format)));
            }
        };
        ctx.spawn(snapshot.into_actor(self));
    }
}

impl Handler<RemoveConn> for UserActor {
    type Result = ();

    fn handle(&mut self, msg: RemoveConn, ctx: &mut Self::Context) {
        if self.conns.remove(&msg.conn_id).is_some() && self.conns.is_empty() {
            self.idle_since = Some(self.clock.now());
            self.stop_goal_timer(ctx);
        }
    }
}

impl Handler<GoalChanged> for UserActor {
    type Result = ();

    fn handle(&mut self, _: GoalChanged, ctx: &mut Self::Context) {
        if !self.conns.is_empty() {
            self.arm_goal_timer(ctx);
        }
    }
}

impl Handler<Deliver> for UserActor {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _: &mut Self::Context) {
        // A socket that cannot take the item is kicked by `offer`; the
        // registry removes it when its tasks end.
        let mut reached = false;
        for conn in self.conns.values() {
            reached |= conn.offer(msg.item.clone());
        }
        if let (true, Outgoing::RoomFrame { room_id, seq, .. }) = (reached, &msg.item) {
            let newest = self.delivered.entry(*room_id).or_default();
            *newest = (*newest).max(*seq);
        }
    }
}

impl Handler<JoinedRoom> for UserActor {
    type Result = ();

    fn handle(&mut self, msg: JoinedRoom, _: &mut Self::Context) {
        self.rooms.insert(msg.room_id);
    }
}

impl Handler<LeftRoom> for UserActor {
    type Result = ();

    fn handle(&mut self, msg: LeftRoom, _: &mut Self::Context) {
        self.rooms.remove(&msg.room_id);
    }
}

impl Handler<Evict> for UserActor {
    type Result = ();

    fn handle(&mut self, _: Evict, _: &mut Self::Context) {
        for conn in self.conns.values() {
            conn.kick.kick(KickReason::TooSlow);
        }
    }
}

impl Handler<EndSessions> for UserActor {
    type Result = ();

    fn handle(&mut self, msg: EndSessions, _: &mut Self::Context) {
        let ended = |id: i64| msg.session_ids.as_ref().is_none_or(|ids| ids.contains(&id));
        for conn in self.conns.values().filter(|c| ended(c.session_id)) {
            conn.kick.kick(KickReason::SessionEnded);
        }
    }
}

impl Handler<Shutdown> for UserActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        self.flush_delivered();
        let (store, registry, user_id) = (self.store.clone(), self.registry.clone(), self.user_id);
        let at = Timestamp::now();
        let opening = self.interval.take();
        let offline_at = self.idle_since.unwrap_or_else(|| self.clock.now());
        actix::spawn(async move {
            // Before the offline announcement: whoever sees the user go
            // offline then reads the closed interval.
            let opened = match opening {
                Some(opening) => opening.await.ok().flatten(),
                None => None,
            };
            if let Some(id) = opened {
                if let Err(e) = store
                    .run(move |s| s.close_online_interval(id, offline_at))
                    .await
                {
                    tracing::warn!(user_id, error = %e, "cannot close the online interval");
                }
            }
            if let Err(e) = store.run(move |s| s.set_last_seen(user_id, at)).await {
                tracing::warn!(user_id, error = %e, "cannot record last seen time");
            }
            announce(store, registry, user_id, PresenceStatus::Offline, Some(at)).await;
        });
        self.registry.do_send(UserOffline {
            user_id: self.user_id,
            addr: ctx.address(),
            rooms: self.rooms.drain().collect(),
        });
        ctx.stop();
    }
}
