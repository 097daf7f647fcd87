//! The registry: which room actors and user actors are running. Its handlers
//! only touch maps and never wait, so it is never the bottleneck of a room.

use super::messages::*;
use super::{ActorLimits, RoomActor, RoomWatches, Sockets, UserActor};
use crate::clock::Clock;
use crate::error::Error;
use crate::model::{RoomId, UserId};
use crate::store::StoreHandle;
use actix::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// Registry mailbox size: every connect, disconnect and room activation
/// passes through here.
const MAILBOX: usize = 4096;

pub struct RegistryActor {
    store: StoreHandle,
    limits: ActorLimits,
    /// The automation clock, handed to every user actor (online time).
    clock: Arc<Clock>,
    /// Handed to every room actor: who follows which room's commits.
    watches: RoomWatches,
    rooms: HashMap<RoomId, Addr<RoomActor>>,
    /// Online users: their actor and sockets, and how many sockets they
    /// have open.
    users: HashMap<UserId, (OnlineUser, usize)>,
}

impl RegistryActor {
    pub fn new(store: StoreHandle, limits: ActorLimits, clock: Arc<Clock>) -> Self {
        RegistryActor {
            store,
            limits,
            clock,
            watches: RoomWatches::default(),
            rooms: HashMap::new(),
            users: HashMap::new(),
        }
    }
}

impl RegistryActor {
    /// Room actors started from now on report their commits to `watches`.
    pub fn watching(mut self, watches: RoomWatches) -> Self {
        self.watches = watches;
        self
    }
}

impl Actor for RegistryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
    }
}

impl Handler<Connect> for RegistryActor {
    type Result = ResponseFuture<Result<(), Error>>;

    fn handle(&mut self, msg: Connect, ctx: &mut Self::Context) -> Self::Result {
        let registry = ctx.address();
        let store = self.store.clone();
        let clock = self.clock.clone();
        let entry = self.users.entry(msg.user_id).or_insert_with(|| {
            let sockets = Sockets::default();
            let actor = UserActor::new(msg.user_id, registry, store, clock, sockets.clone());
            (
                OnlineUser {
                    addr: actor.start(),
                    sockets,
                },
                0,
            )
        });
        entry.1 += 1;
        let addr = entry.0.addr.clone();
        Box::pin(async move {
            addr.send(AddConn { conn: msg.conn }).await?;
            Ok(())
        })
    }
}

impl Handler<Disconnect> for RegistryActor {
    type Result = ();

    /// The last socket closing stops the user actor (and makes the user
    /// offline) only after `presence_grace`, and only if no socket came
    /// back meanwhile: a reload or a network switch does not flap.
    fn handle(&mut self, msg: Disconnect, ctx: &mut Self::Context) {
        let Some((user, count)) = self.users.get_mut(&msg.user_id) else {
            return;
        };
        *count = count.saturating_sub(1);
        user.addr.do_send(RemoveConn {
            conn_id: msg.conn_id,
        });
        if *count > 0 {
            return;
        }
        let (user_id, addr) = (msg.user_id, user.addr.clone());
        ctx.run_later(self.limits.presence_grace, move |act, _| {
            let idle = act
                .users
                .get(&user_id)
                .is_some_and(|(user, count)| user.addr == addr && *count == 0);
            if idle {
                act.users.remove(&user_id);
                addr.do_send(Shutdown);
            }
        });
    }
}

impl Handler<LookupRoom> for RegistryActor {
    type Result = Option<Addr<RoomActor>>;

    fn handle(&mut self, msg: LookupRoom, _: &mut Self::Context) -> Self::Result {
        self.rooms.get(&msg.room_id).cloned()
    }
}

impl Handler<ActivateRoom> for RegistryActor {
    type Result = MessageResult<ActivateRoom>;

    fn handle(&mut self, msg: ActivateRoom, ctx: &mut Self::Context) -> Self::Result {
        let registry = ctx.address();
        let store = self.store.clone();
        let limits = self.limits;
        let watches = self.watches.clone();
        let addr = self
            .rooms
            .entry(msg.room_id)
            .or_insert_with(|| {
                RoomActor::new(msg.room_id, registry, store, limits, watches).start()
            })
            .clone();
        MessageResult(addr)
    }
}

impl Handler<ForgetRoom> for RegistryActor {
    type Result = ();

    fn handle(&mut self, msg: ForgetRoom, _: &mut Self::Context) {
        if self.rooms.get(&msg.room_id) == Some(&msg.addr) {
            self.rooms.remove(&msg.room_id);
        }
    }
}

impl Handler<OnlineUsers> for RegistryActor {
    type Result = MessageResult<OnlineUsers>;

    fn handle(&mut self, msg: OnlineUsers, _: &mut Self::Context) -> Self::Result {
        MessageResult(
            msg.user_ids
                .into_iter()
                .filter_map(|id| self.users.get(&id).map(|(user, _)| (id, user.clone())))
                .collect(),
        )
    }
}

impl Handler<UserOnline> for RegistryActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: UserOnline, _: &mut Self::Context) -> Self::Result {
        let sends: Vec<_> = msg
            .rooms
            .iter()
            .filter_map(|id| self.rooms.get(id))
            .map(|room| {
                room.send(MemberOnline {
                    user_id: msg.user_id,
                    user: msg.user.clone(),
                })
            })
            .collect();
        Box::pin(async move {
            // A room that stopped meanwhile has nothing to deliver.
            let _ = futures_util::future::join_all(sends).await;
        })
    }
}

impl Handler<UserOffline> for RegistryActor {
    type Result = ();

    fn handle(&mut self, msg: UserOffline, _: &mut Self::Context) {
        for room in msg.rooms.iter().filter_map(|id| self.rooms.get(id)) {
            room.do_send(MemberOffline {
                user_id: msg.user_id,
                addr: msg.addr.clone(),
            });
        }
    }
}

impl Handler<GoalChanged> for RegistryActor {
    type Result = ();

    fn handle(&mut self, msg: GoalChanged, _: &mut Self::Context) {
        if let Some((user, _)) = self.users.get(&msg.user_id) {
            user.addr.do_send(msg);
        }
    }
}

impl Handler<EndSessions> for RegistryActor {
    type Result = ();

    fn handle(&mut self, msg: EndSessions, _: &mut Self::Context) {
        if let Some((user, _)) = self.users.get(&msg.user_id) {
            user.addr.do_send(msg);
        }
    }
}
