//! Every actor message, in one file, as small named structs.

use super::{RoomActor, Sockets, UserActor};
use crate::error::Error;
use crate::model::{
    ChangedMessage, Message, MessageChange, NewMessage, Rev, Role, RoomId, Seq, UserId,
};
use crate::net::queue::{QueueSender, Refused};
use crate::protocol::ResumeStatus;
use crate::protocol::{Encoded, Format};
use actix::prelude::*;
use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

pub type ConnId = u64;

/// The sending side of one WebSocket connection, as actors see it: a
/// bounded queue of outgoing items, and a token that closes the socket.
#[derive(Clone, Debug)]
pub struct ConnHandle {
    pub id: ConnId,
    pub queue: QueueSender<Outgoing>,
    /// The encoding this socket's client reads; frames meant for it alone
    /// are encoded only in this one.
    pub format: Format,
    /// The login session the socket authenticated with; ending the session
    /// closes the socket.
    pub session_id: i64,
    /// Fires when the connection must close at once; the writer then sends
    /// a close frame that says why and stops.
    pub kick: Kick,
}

/// Why the server closed a socket on its own initiative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KickReason {
    /// Its outgoing queue filled up: it can reconnect and resume.
    TooSlow = 1,
    /// Its session was logged out or revoked: it must log in again.
    SessionEnded = 2,
}

/// A one-shot "close now" signal carrying its reason, awaited by the one
/// task that serves the connection.
///
/// An atomic and a waker, rather than a `CancellationToken` and a reason
/// beside it: every socket has one, so this is one small allocation where
/// those were two (the token's tree node is the bigger), and `kicked()`
/// borrows it where the token's future held a waiter entry of its own in
/// the socket's task.
#[derive(Clone, Debug, Default)]
pub struct Kick {
    inner: Arc<KickState>,
}

#[derive(Debug, Default)]
struct KickState {
    /// 0 until kicked, then the first `KickReason` given.
    reason: AtomicU8,
    waker: AtomicWaker,
}

impl Kick {
    /// The first reason given wins.
    pub fn kick(&self, reason: KickReason) {
        let _ = self.inner.reason.compare_exchange(
            0,
            reason as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.inner.waker.wake();
    }

    pub fn is_kicked(&self) -> bool {
        self.reason().is_some()
    }

    fn reason(&self) -> Option<KickReason> {
        match self.inner.reason.load(Ordering::Acquire) {
            0 => None,
            2 => Some(KickReason::SessionEnded),
            _ => Some(KickReason::TooSlow),
        }
    }

    /// Resolves once kicked, with the reason. Only the task that serves
    /// the connection waits for this (the last task to poll is woken).
    pub fn kicked(&self) -> impl std::future::Future<Output = KickReason> + '_ {
        std::future::poll_fn(|cx| {
            self.inner.waker.register(cx.waker());
            match self.reason() {
                Some(reason) => std::task::Poll::Ready(reason),
                None => std::task::Poll::Pending,
            }
        })
    }
}

impl ConnHandle {
    pub fn new(id: ConnId, queue: QueueSender<Outgoing>, format: Format, session_id: i64) -> Self {
        ConnHandle {
            id,
            queue,
            format,
            session_id,
            kick: Kick::default(),
        }
    }

    /// Queues without waiting; a full queue means the client cannot keep up,
    /// so it is disconnected (it can reconnect and `resume` without loss).
    pub fn offer(&self, item: Outgoing) -> bool {
        match self.queue.offer(item) {
            Ok(()) => true,
            Err(Refused::Full) => {
                tracing::debug!(
                    conn = self.id,
                    "outgoing queue full; disconnecting slow client"
                );
                self.kick.kick(KickReason::TooSlow);
                false
            }
            Err(Refused::Closed) => false,
        }
    }
}

/// What a connection's task writes to its socket. Frames are encoded once per
/// fan-out and shared (cloning `Encoded` only bumps reference counts).
#[derive(Clone, Debug)]
pub enum Outgoing {
    /// A frame not tied to a room's sequence (ack, error, room_created...).
    Frame(Encoded),
    /// A frame carrying a room message with its seq, so the writer can keep
    /// a resume replay and live traffic in order and without duplicates.
    RoomFrame {
        room_id: RoomId,
        seq: Seq,
        frame: Encoded,
    },
    /// A change to an existing message (edit, delete, reaction). It has no
    /// seq of its own (its `rev` orders it for the client), but it is held
    /// during a resume like a message, so it never overtakes the replay.
    RoomChange { room_id: RoomId, frame: Encoded },
    /// From now on hold this room's live frames until `ResumeData` arrives.
    ResumeStart { room_id: RoomId },
    /// The missed frames, oldest first, and the current state of older
    /// messages that changed while the client was away; then release what
    /// was held.
    ResumeData {
        room_id: RoomId,
        replay: Box<Replay>,
    },
}

/// What a resume sends a socket, boxed in [`Outgoing::ResumeData`]: a
/// socket queue's slots are as big as the biggest item, while resumes are
/// rare.
#[derive(Clone, Debug)]
pub struct Replay {
    pub frames: Vec<(Seq, Encoded)>,
    pub changes: Vec<Encoded>,
}

// ---- registry ----

/// A socket of `user_id` authenticated. Resolves once every active room of
/// the user delivers to it.
#[derive(Message)]
#[rtype(result = "Result<(), Error>")]
pub struct Connect {
    pub user_id: UserId,
    pub conn: ConnHandle,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub user_id: UserId,
    pub conn_id: ConnId,
}

/// The actor of a room, if it is running.
#[derive(Message)]
#[rtype(result = "Option<Addr<RoomActor>>")]
pub struct LookupRoom {
    pub room_id: RoomId,
}

/// The actor of a room known to exist, started if needed.
#[derive(Message)]
#[rtype(result = "Addr<RoomActor>")]
pub struct ActivateRoom {
    pub room_id: RoomId,
}

/// A room actor is going away (room deleted or never existed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ForgetRoom {
    pub room_id: RoomId,
    pub addr: Addr<RoomActor>,
}

/// An online user as the others see them: their actor, and their open
/// sockets, which rooms deliver to directly.
#[derive(Clone)]
pub struct OnlineUser {
    pub addr: Addr<UserActor>,
    pub sockets: Sockets,
}

/// Which of these users are online.
#[derive(Message)]
#[rtype(result = "Vec<(UserId, OnlineUser)>")]
pub struct OnlineUsers {
    pub user_ids: Vec<UserId>,
}

/// A user actor has loaded its rooms; tell the running ones.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UserOnline {
    pub user_id: UserId,
    pub user: OnlineUser,
    pub rooms: Vec<RoomId>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct UserOffline {
    pub user_id: UserId,
    pub addr: Addr<UserActor>,
    pub rooms: Vec<RoomId>,
}

/// Sessions of a user ended (logout, revoke): close their sockets now.
/// `None` means every session of the user.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct EndSessions {
    pub user_id: UserId,
    pub session_ids: Option<Vec<i64>>,
}

/// The user's online-time goal was set or cleared: look at it again.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct GoalChanged {
    pub user_id: UserId,
}

// ---- room ----

/// Post a message. Answers after the message is committed (or was a retry).
#[derive(Message)]
#[rtype(result = "Result<Posted, Error>")]
pub struct Post {
    /// A member, or the administrator (whose posts are system messages).
    pub by: By,
    pub message: NewMessage,
}

/// Post from a WebSocket: the room itself puts the `ack` (or `error`) on
/// the sender's socket after commit, so the answer takes no extra hop
/// through the connection's tasks. Sent with `do_send`: the permit, one of
/// the socket's bounded in-flight slots, is what bounds these.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PostFromSocket {
    pub sender: UserId,
    pub message: NewMessage,
    pub reply_to: SocketReply,
}

/// Where and how to answer a socket's request.
pub struct SocketReply {
    pub conn: ConnHandle,
    pub request_id: Option<String>,
    /// Released when the answer is queued.
    pub permit: tokio::sync::OwnedSemaphorePermit,
}

/// A posted message, and whether it was already stored (a retry).
#[derive(Debug, Clone)]
pub struct Posted {
    pub message: Message,
    pub duplicate: bool,
}

/// Edit, delete or react to a message of the room; answers after commit.
/// For a delete, the room sets `moderator` from the caller's role.
#[derive(Message)]
#[rtype(result = "Result<ChangedMessage, Error>")]
pub struct ChangeMessage {
    /// A member (whose role decides a delete), or the administrator, who
    /// may only delete.
    pub by: By,
    pub message_id: String,
    pub change: MessageChange,
}

/// Who asks for a change to a room's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// A participant: their role decides what they may do.
    Member(UserId),
    /// The server's administrator (Management API): no role is needed, but
    /// the room's own rules (a direct room has two people) still hold.
    Admin,
}

impl By {
    /// How system messages name who did it.
    pub fn describe(self) -> String {
        match self {
            By::Member(id) => format!("user {id}"),
            By::Admin => "an administrator".to_owned(),
        }
    }
}

#[derive(Message)]
#[rtype(result = "Result<Message, Error>")]
pub struct AddMember {
    pub by: By,
    pub user_id: UserId,
    pub role: Role,
}

#[derive(Message)]
#[rtype(result = "Result<Message, Error>")]
pub struct RemoveMember {
    pub by: By,
    pub user_id: UserId,
}

#[derive(Message)]
#[rtype(result = "Result<(), Error>")]
pub struct DeleteRoom {
    pub by: By,
}

/// Change a participant's role (administrator only).
#[derive(Message)]
#[rtype(result = "Result<(), Error>")]
pub struct SetRole {
    pub user_id: UserId,
    pub role: Role,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct MemberOnline {
    pub user_id: UserId,
    pub user: OnlineUser,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct MemberOffline {
    pub user_id: UserId,
    pub addr: Addr<UserActor>,
}

/// Send an already-encoded frame to every online member (`room_created`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Announce {
    pub frame: Encoded,
}

/// A member started (`active`) or stopped typing.
#[derive(Message)]
#[rtype(result = "Result<(), Error>")]
pub struct Typing {
    pub user_id: UserId,
    pub active: bool,
}

#[derive(Message)]
#[rtype(result = "Result<(), Error>")]
pub struct MarkSeen {
    pub user_id: UserId,
    pub seq: Seq,
}

/// Move a member's read position to the room's last message, as a `seen`
/// of that seq would (auto-seen periods).
#[derive(Message)]
#[rtype(result = "Result<(), Error>")]
pub struct MarkAllSeen {
    pub user_id: UserId,
}

/// Replay what `conn` missed after `after`, then let live frames through.
#[derive(Message)]
#[rtype(result = "ResumeStatus")]
pub struct Resume {
    pub user_id: UserId,
    pub conn: ConnHandle,
    pub after: Seq,
    /// The highest change rev the client has; `None` skips the changes.
    pub after_rev: Option<Rev>,
}

// ---- user ----

#[derive(Message)]
#[rtype(result = "()")]
pub struct AddConn {
    pub conn: ConnHandle,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveConn {
    pub conn_id: ConnId,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct JoinedRoom {
    pub room_id: RoomId,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct LeftRoom {
    pub room_id: RoomId,
}

/// The last socket is gone: leave the rooms and stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;
