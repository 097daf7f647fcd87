//! One actor per connected user: their open sockets and the rooms they are
//! in. Rooms deliver to the user actor; it hands each item to every socket.

use super::messages::*;
use super::RegistryActor;
use crate::model::{RoomId, UserId};
use crate::store::StoreHandle;
use actix::prelude::*;
use std::collections::{HashMap, HashSet};

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
}

impl UserActor {
    pub fn new(user_id: UserId, registry: Addr<RegistryActor>, store: StoreHandle) -> Self {
        UserActor {
            user_id,
            registry,
            store,
            conns: HashMap::new(),
            rooms: HashSet::new(),
        }
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
    }
}

impl Handler<AddConn> for UserActor {
    type Result = ();

    fn handle(&mut self, msg: AddConn, _: &mut Self::Context) {
        self.conns.insert(msg.conn.id, msg.conn);
    }
}

impl Handler<RemoveConn> for UserActor {
    type Result = ();

    fn handle(&mut self, msg: RemoveConn, _: &mut Self::Context) {
        self.conns.remove(&msg.conn_id);
    }
}

impl Handler<Deliver> for UserActor {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _: &mut Self::Context) {
        // A socket that cannot take the item is kicked by `offer`; the
        // registry removes it when its tasks end.
        for conn in self.conns.values() {
            conn.offer(msg.item.clone());
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
        self.registry.do_send(UserOffline {
            user_id: self.user_id,
            addr: ctx.address(),
            rooms: self.rooms.drain().collect(),
        });
        ctx.stop();
    }
}
