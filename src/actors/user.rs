//! One actor per connected user: their open sockets (WebSocket or SSE) and
//! the rooms they are in. It keeps the user's [`Sockets`] list, which the
//! rooms share and put room traffic on directly, and announces the user's
//! presence when it starts and stops.
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
use super::{RegistryActor, Sockets};
use crate::clock::Clock;
use crate::model::{RoomId, Timestamp, UserId};
use crate::protocol::{Encoded, PresenceStatus, ServerFrame};
use crate::store::StoreHandle;
use actix::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Messages that may wait for this actor: sockets coming and going, room
/// membership changes. Room traffic does not pass through here.
const MAILBOX: usize = 1024;

pub struct UserActor {
    user_id: UserId,
    registry: Addr<RegistryActor>,
    store: StoreHandle,
    /// The open sockets, shared with the rooms that deliver to them.
    sockets: Sockets,
    /// Rooms this user is in, so going offline can tell exactly those.
    rooms: HashSet<RoomId>,
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
        clock: Arc<Clock>,
        sockets: Sockets,
    ) -> Self {
        UserActor {
            user_id,
            registry,
            store,
            sockets,
            rooms: HashSet::new(),
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
        self.sockets.offer(&Outgoing::Frame(reached.frame()));
    }
}

/// The online users who share a room with `user_id`.
async fn online_co_members(
    store: &StoreHandle,
    registry: &Addr<RegistryActor>,
    user_id: UserId,
) -> Vec<(UserId, OnlineUser)> {
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
/// `user_id`, straight onto their sockets.
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
    let item = Outgoing::Frame(frame);
    for (_, user) in online {
        user.sockets.offer(&item);
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
        let user = OnlineUser {
            addr: ctx.address(),
            sockets: self.sockets.clone(),
        };
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
                    user,
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
    }
}

impl Handler<AddConn> for UserActor {
    type Result = ();

    /// A new socket also learns who of the people sharing a room with
    /// the user is online now; later changes come as they happen.
    fn handle(&mut self, msg: AddConn, ctx: &mut Self::Context) {
        let conn = msg.conn.clone();
        if self.sockets.add(msg.conn) == 1 {
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
        if self.sockets.remove(msg.conn_id) == Some(0) {
            self.idle_since = Some(self.clock.now());
            self.stop_goal_timer(ctx);
        }
    }
}

impl Handler<GoalChanged> for UserActor {
    type Result = ();

    fn handle(&mut self, _: GoalChanged, ctx: &mut Self::Context) {
        if !self.sockets.is_empty() {
            self.arm_goal_timer(ctx);
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

impl Handler<EndSessions> for UserActor {
    type Result = ();

    fn handle(&mut self, msg: EndSessions, _: &mut Self::Context) {
        let ended = |id: i64| msg.session_ids.as_ref().is_none_or(|ids| ids.contains(&id));
        self.sockets.each(|conn| {
            if ended(conn.session_id) {
                conn.kick.kick(KickReason::SessionEnded);
            }
        });
    }
}

impl Handler<Shutdown> for UserActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
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
