//! Actors: a registry, one actor per active room, one per connected user.
//! They know the model and the store (through its trait) — never sockets,
//! HTTP or the wire format beyond the encoded frame bytes they pass along.

mod goal;
pub mod messages;
mod registry;
mod room;
mod sockets;
mod user;
mod watch;

pub use registry::RegistryActor;
pub use room::RoomActor;
pub use sockets::Sockets;
pub use user::UserActor;
pub use watch::{RoomWatch, RoomWatches};

use crate::error::Error;
use crate::model::RoomId;
use crate::store::StoreHandle;
use actix::Addr;
use messages::{ActivateRoom, LookupRoom};
use std::time::Duration;

/// Bounds the room actors work within.
#[derive(Debug, Clone, Copy)]
pub struct ActorLimits {
    /// Ops a room holds while a batch is being committed; past it, posts
    /// fail with 503 instead of piling up.
    pub room_queue: usize,
    /// Most ops of one room sent to the writer in one batch.
    pub room_batch: usize,
    /// Largest gap a `resume` replays; beyond it the client pages over REST.
    pub resume_limit: u64,
    /// A `typing` not renewed within this time ends with a `stop` frame.
    pub typing_ttl: Duration,
    /// A user whose last socket closed stays online this long, so a quick
    /// reconnect (a page reload, a network switch) sends no presence frames.
    pub presence_grace: Duration,
    /// How often a room actor writes the delivered positions it gathered.
    pub delivered_flush: Duration,
}

impl Default for ActorLimits {
    fn default() -> Self {
        ActorLimits {
            room_queue: 10_000,
            room_batch: 1_000,
            resume_limit: 1_000,
            typing_ttl: Duration::from_secs(5),
            presence_grace: Duration::from_secs(2),
            delivered_flush: Duration::from_secs(5),
        }
    }
}

/// The running actor of an existing room, started on first use. A room
/// that does not exist is NotFound and starts no actor.
pub async fn room_actor(
    registry: &Addr<RegistryActor>,
    store: &StoreHandle,
    room_id: RoomId,
) -> Result<Addr<RoomActor>, Error> {
    if let Some(addr) = registry.send(LookupRoom { room_id }).await? {
        return Ok(addr);
    }
    let exists = store.run(move |s| s.room(room_id)).await?.is_some();
    if !exists {
        return Err(Error::not_found("room"));
    }
    Ok(registry.send(ActivateRoom { room_id }).await?)
}
