//! One actor per active room. It owns the member list, the next `seq`, and
//! the fan-out. Writes go to the group-commit writer one batch at a time:
//! while a batch is being committed, new posts queue here and travel
//! together in the next batch. With one batch in flight, seqs are assigned
//! in order, stay gap-free, and fan-out follows commit order.
//!
//! The fan-out puts each item on the online members' sockets itself (their
//! shared [`super::Sockets`] lists) and remembers the highest seq that
//! reached a socket of each member. Those delivered positions are written
//! every `delivered_flush`, when a member goes offline and when the actor
//! stops: the hot path never waits on SQLite; the cost is that a crash
//! loses up to one interval of them (the stored position then trails the
//! truth; it never runs ahead of it).

use super::messages::*;
use super::watch::Followed;
use super::{ActorLimits, RegistryActor, RoomWatches};
use crate::error::Error;
use crate::model::{
    ChangedMessage, Message, MessageChange, NewMessage, Rev, Role, RoomId, RoomKind, Seq,
    Timestamp, UserId,
};
use crate::protocol::{
    answer, AckBody, Encoded, EncodedMessage, Format, Formats, ResumeStatus, ServerFrame,
    TypingState,
};
use crate::store::{BatchResult, OpOutcome, RoomBatch, RoomOp, StoreHandle};
use actix::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Room mailbox size. Client-driven senders await `send`, so a full
/// mailbox pushes back on them instead of growing memory.
const MAILBOX: usize = 1024;
/// A member's typing events closer together than this are dropped.
const TYPING_INTERVAL: Duration = Duration::from_secs(2);

/// Who hears how a queued op ended.
enum Responder {
    /// A caller awaiting the actor's answer (REST, participants, seen).
    Caller(oneshot::Sender<Result<OpOutcome, Error>>),
    /// A WebSocket sender: the ack or error goes straight to its socket.
    Socket(SocketReply),
}

impl Responder {
    fn send(self, result: Result<OpOutcome, Error>) {
        match self {
            Responder::Caller(tx) => {
                let _ = tx.send(result);
            }
            Responder::Socket(reply) => {
                let result = match result {
                    Ok(OpOutcome::Inserted(m) | OpOutcome::Duplicate(m)) => Ok(m),
                    Ok(OpOutcome::Changed(c)) => Ok(c.message),
                    Ok(OpOutcome::Failed(e)) => Err(e.into()),
                    Ok(OpOutcome::Done) => Err(Error::Internal("post returned no message".into())),
                    Err(e) => Err(e),
                };
                let body = result.as_ref().map(|message| AckBody::Message { message });
                let frame = answer(reply.conn.format, reply.request_id.as_deref(), body);
                reply.conn.offer(Outgoing::Frame(frame));
            }
        }
    }

    /// The encoding the answer is read in, for a socket.
    fn format(&self) -> Option<Format> {
        match self {
            Responder::Caller(_) => None,
            Responder::Socket(reply) => Some(reply.conn.format),
        }
    }

    /// Answers a post that inserted `message`: a socket gets its `ack` made
    /// from the bytes its `message_created` was made from.
    fn posted(self, outcome: OpOutcome, message: &EncodedMessage) {
        match self {
            Responder::Caller(tx) => {
                let _ = tx.send(Ok(outcome));
            }
            Responder::Socket(reply) => {
                let frame = message.ack(reply.conn.format, reply.request_id.as_deref());
                reply.conn.offer(Outgoing::Frame(frame));
            }
        }
    }
}

/// What the room does once an op has committed. The op itself (with its
/// message body) goes to the writer; only this small summary stays here.
enum AfterCommit {
    Broadcast,
    Joined {
        user_id: UserId,
        role: Role,
    },
    Left {
        user_id: UserId,
    },
    Read {
        user_id: UserId,
        seq: Seq,
    },
    /// A message was edited, deleted or reacted to by `user_id`.
    Changed {
        user_id: UserId,
    },
}

impl From<&RoomOp> for AfterCommit {
    fn from(op: &RoomOp) -> Self {
        match *op {
            RoomOp::Post(_) => AfterCommit::Broadcast,
            RoomOp::AddParticipant { user_id, role, .. } => AfterCommit::Joined { user_id, role },
            RoomOp::RemoveParticipant { user_id, .. } => AfterCommit::Left { user_id },
            RoomOp::MarkRead { user_id, seq } => AfterCommit::Read { user_id, seq },
            RoomOp::Change { user_id, .. } => AfterCommit::Changed { user_id },
        }
    }
}

enum State {
    Loading,
    Ready,
    /// The room does not exist (deleted, or never did).
    Gone,
}

pub struct RoomActor {
    room_id: RoomId,
    registry: Addr<RegistryActor>,
    store: StoreHandle,
    limits: ActorLimits,
    /// Told after each commit that added messages, if a member is a bot
    /// with a webhook.
    webhooks: Followed,
    /// Told likewise in a direct room, if a member has an enabled
    /// auto-reply rule.
    auto_replies: Followed,
    state: State,
    kind: RoomKind,
    members: HashMap<UserId, Role>,
    /// Online members: their actor and their sockets.
    online: HashMap<UserId, OnlineUser>,
    /// Online users who are not (yet) members: someone whose join is being
    /// committed. Kept so the join can put them online at once.
    standby: HashMap<UserId, OnlineUser>,
    /// Per member, the highest seq that reached one of their sockets and is
    /// not written yet.
    delivered: HashMap<UserId, Seq>,
    /// The seq the next inserted message gets.
    next_seq: Seq,
    /// The rev the next changed message gets.
    next_rev: Rev,
    queued: Vec<(RoomOp, Responder)>,
    in_flight: bool,
    last_typing: HashMap<UserId, Instant>,
    /// Members typing now, and when that ends unless they type again.
    typing_until: HashMap<UserId, Instant>,
    /// Members' read positions (absent: 0), so a `seen` that moves nothing
    /// costs no write and no broadcast.
    read: HashMap<UserId, Seq>,
}

impl RoomActor {
    pub fn new(
        room_id: RoomId,
        registry: Addr<RegistryActor>,
        store: StoreHandle,
        limits: ActorLimits,
        watches: RoomWatches,
    ) -> Self {
        RoomActor {
            room_id,
            registry,
            store,
            limits,
            webhooks: Followed::new(watches.webhooks),
            auto_replies: Followed::new(watches.auto_replies),
            state: State::Loading,
            kind: RoomKind::Group,
            members: HashMap::new(),
            online: HashMap::new(),
            standby: HashMap::new(),
            delivered: HashMap::new(),
            next_seq: 1,
            next_rev: 1,
            queued: Vec::new(),
            in_flight: false,
            last_typing: HashMap::new(),
            typing_until: HashMap::new(),
            read: HashMap::new(),
        }
    }

    /// Ends a member's typing (expired, stopped, or they posted) and tells
    /// the others; nothing happens when they were not typing.
    fn stop_typing(&mut self, user_id: UserId) {
        if self.typing_until.remove(&user_id).is_none() {
            return;
        }
        // A start right after a stop is news, whatever the rate limit.
        self.last_typing.remove(&user_id);
        let frame = ServerFrame::Typing {
            room_id: self.room_id,
            user_id,
            state: TypingState::Stop,
            expires_at: None,
        };
        self.fan_out(
            &Outgoing::Frame(self.encode_for_online(&frame)),
            Some(user_id),
        );
    }

    /// The caller's role, or NotFound: non-members learn nothing, not even
    /// that the room exists.
    fn role_of(&self, user: UserId) -> Result<Role, Error> {
        match (&self.state, self.members.get(&user)) {
            (State::Ready, Some(role)) => Ok(*role),
            _ => Err(Error::not_found("room")),
        }
    }

    /// The role of whoever asks (`None` for the administrator), or NotFound
    /// when a member asks about a room they are not in, or the room is gone.
    fn caller_role(&self, by: By) -> Result<Option<Role>, Error> {
        match by {
            By::Member(user) => self.role_of(user).map(Some),
            By::Admin if matches!(self.state, State::Ready) => Ok(None),
            By::Admin => Err(Error::not_found("room")),
        }
    }

    /// Puts one item on every socket of every online member (except
    /// `skip`), without ever waiting. A socket whose queue is full is
    /// kicked (it reconnects and resumes); the member's other sockets and
    /// the other members go on.
    fn fan_out(&mut self, item: &Outgoing, skip: Option<UserId>) {
        let seq = match item {
            Outgoing::RoomFrame { seq, .. } => Some(*seq),
            _ => None,
        };
        for (user, member) in &self.online {
            if Some(*user) == skip {
                continue;
            }
            if let (true, Some(seq)) = (member.sockets.offer(item), seq) {
                let newest = self.delivered.entry(*user).or_default();
                *newest = (*newest).max(seq);
            }
        }
    }

    /// The encodings the online sockets read.
    fn online_formats(&self) -> Formats {
        let mut formats = Formats::default();
        for member in self.online.values() {
            member
                .sockets
                .each(|conn| formats = formats.with(conn.format));
        }
        formats
    }

    /// Encodes a frame in just the encodings the online sockets read. The
    /// frame is offered in the same handler, so no socket can join in
    /// between and find its encoding missing.
    fn encode_for_online(&self, frame: &ServerFrame) -> Encoded {
        frame.encode_in(self.online_formats())
    }

    /// Writes the delivered positions gathered since the last flush, off
    /// the actor (a pooled connection on the blocking pool).
    fn flush_delivered(&mut self) {
        if self.delivered.is_empty() {
            return;
        }
        let positions: Vec<(UserId, Seq)> = self.delivered.drain().collect();
        let (store, room_id) = (self.store.clone(), self.room_id);
        actix::spawn(async move {
            if let Err(e) = store
                .run(move |s| s.mark_delivered(room_id, &positions))
                .await
            {
                tracing::warn!(room_id, error = %e, "cannot write delivered positions");
            }
        });
    }

    fn fan_out_message(&mut self, frame: &ServerFrame, seq: Seq) {
        let item = Outgoing::RoomFrame {
            room_id: self.room_id,
            seq,
            frame: self.encode_for_online(frame),
        };
        self.fan_out(&item, None);
    }

    /// Tells every online member about a committed change, in the frame
    /// its kind calls for.
    fn fan_out_change(&mut self, c: &ChangedMessage, user_id: UserId) {
        let m = &c.message;
        let (room_id, message_id, seq, rev) = (self.room_id, m.message_id.as_str(), m.seq, m.rev);
        // Every committed change sets the time of its kind; the fallback
        // is never used.
        let at = |t: Option<Timestamp>| t.unwrap_or(m.created_at);
        let frame = match (&c.reaction, m.deleted) {
            (Some((emoji, added, count)), _) => ServerFrame::ReactionUpdated {
                room_id,
                message_id,
                seq,
                rev,
                user_id,
                emoji,
                added: *added,
                count: *count,
            },
            (None, true) => ServerFrame::MessageDeleted {
                room_id,
                message_id,
                seq,
                rev,
                deleted_at: at(m.deleted_at),
            },
            (None, false) => ServerFrame::MessageUpdated {
                room_id,
                message_id,
                seq,
                rev,
                content: &m.content,
                edited_at: at(m.edited_at),
            },
        };
        let item = Outgoing::RoomChange {
            room_id,
            frame: self.encode_for_online(&frame),
        };
        self.fan_out(&item, None);
    }

    /// Queues one op for the next batch; resolves with its outcome once the
    /// batch is committed. An op the store refused resolves to its error.
    fn enqueue(
        &mut self,
        op: RoomOp,
        ctx: &mut Context<Self>,
    ) -> impl std::future::Future<Output = Result<OpOutcome, Error>> + 'static {
        let (tx, rx) = oneshot::channel();
        self.queue(op, Responder::Caller(tx), ctx);
        async move {
            match rx.await {
                Ok(Ok(OpOutcome::Failed(e))) => Err(e.into()),
                Ok(result) => result,
                Err(_) => Err(Error::ShuttingDown),
            }
        }
    }

    /// Queues an op for the next batch, or answers `Overloaded` at once
    /// when the room already holds as many as it may.
    fn queue(&mut self, op: RoomOp, responder: Responder, ctx: &mut Context<Self>) {
        if self.queued.len() >= self.limits.room_queue {
            return responder.send(Err(Error::Overloaded(
                "the room is busy; retry shortly".into(),
            )));
        }
        self.queued.push((op, responder));
        self.flush(ctx);
    }

    /// `enqueue` for ops that write a message (posts, participant changes).
    fn enqueue_message(
        &mut self,
        op: RoomOp,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<Message, Error>> {
        let outcome = self.enqueue(op, ctx);
        Box::pin(async move {
            match outcome.await? {
                OpOutcome::Inserted(m) | OpOutcome::Duplicate(m) => Ok(m),
                _ => Err(Error::Internal("write op returned no message".into())),
            }
        })
    }

    /// Sends the queued ops to the writer unless a batch is already there.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight || self.queued.is_empty() || !matches!(self.state, State::Ready) {
            return;
        }
        let take = self.queued.len().min(self.limits.room_batch);
        let (ops, responders): (Vec<_>, Vec<_>) = self.queued.drain(..take).unzip();
        let after: Vec<AfterCommit> = ops.iter().map(AfterCommit::from).collect();
        let batch = RoomBatch {
            room_id: self.room_id,
            next_seq: self.next_seq,
            next_rev: self.next_rev,
            ops,
        };
        match self.store.submit(batch) {
            Ok(rx) => {
                self.in_flight = true;
                let done = async move { rx.await.unwrap_or(Err(crate::store::StoreError::Closed)) };
                ctx.spawn(done.into_actor(self).map(move |result, act, ctx| {
                    act.in_flight = false;
                    act.committed(result, after, responders);
                    act.flush(ctx);
                }));
            }
            Err(e) => {
                let e: Error = e.into();
                for r in responders {
                    r.send(Err(e.clone()));
                }
            }
        }
    }

    /// Applies a committed batch: advance seq, update members, fan out, ack.
    fn committed(
        &mut self,
        result: BatchResult,
        after: Vec<AfterCommit>,
        responders: Vec<Responder>,
    ) {
        let outcomes = match result {
            Ok(outcomes) => outcomes,
            Err(e) => {
                let e: Error = e.into();
                for r in responders {
                    r.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut inserted = false;
        for ((after, outcome), responder) in after.into_iter().zip(outcomes).zip(responders) {
            match (&outcome, after) {
                (OpOutcome::Inserted(m), AfterCommit::Broadcast) => {
                    inserted = true;
                    self.next_seq = m.seq + 1;
                    let message = self.broadcast_message(m, responder.format());
                    responder.posted(outcome, &message);
                    continue;
                }
                (OpOutcome::Inserted(m), after) => {
                    inserted = true;
                    self.next_seq = m.seq + 1;
                    self.apply(after, m);
                }
                (OpOutcome::Done, AfterCommit::Read { user_id, seq }) => {
                    // Two `seen` in one batch may commit out of order; only
                    // one that moves the position forward is news.
                    let read = self.read.entry(user_id).or_default();
                    if seq <= *read {
                        responder.send(Ok(OpOutcome::Done));
                        continue;
                    }
                    *read = seq;
                    let frame = ServerFrame::Seen {
                        room_id: self.room_id,
                        user_id,
                        seq,
                    };
                    self.fan_out(&Outgoing::Frame(self.encode_for_online(&frame)), None);
                }
                (OpOutcome::Changed(c), AfterCommit::Changed { user_id }) if c.changed => {
                    self.next_rev = c.message.rev + 1;
                    self.fan_out_change(c, user_id);
                }
                _ => {}
            }
            responder.send(Ok(outcome));
        }
        if inserted {
            self.webhooks
                .nudge_if_followed(self.room_id, self.members.keys());
            if self.kind == RoomKind::Direct {
                self.auto_replies
                    .nudge_if_followed(self.room_id, self.members.keys());
            }
        }
    }

    /// Members changed: whether one follows the room is asked again.
    fn forget_followers(&mut self) {
        self.webhooks.forget();
        self.auto_replies.forget();
    }

    /// Tells every online member about a posted message and returns it
    /// serialized, so the sender's ack (read in `ack_format`) is made from
    /// the same bytes.
    fn broadcast_message(&mut self, m: &Message, ack_format: Option<Format>) -> EncodedMessage {
        let mut formats = self.online_formats();
        if let Some(format) = ack_format {
            formats = formats.with(format);
        }
        let message = EncodedMessage::new(m, formats);
        let item = Outgoing::RoomFrame {
            room_id: self.room_id,
            seq: m.seq,
            frame: message.created(),
        };
        self.fan_out(&item, None);
        // Posting ends typing.
        if let Some(sender) = m.sender_id {
            self.stop_typing(sender);
        }
        message
    }

    /// The in-memory side of a committed op, then its broadcast.
    fn apply(&mut self, after: AfterCommit, m: &Message) {
        match after {
            AfterCommit::Broadcast | AfterCommit::Read { .. } | AfterCommit::Changed { .. } => {
                self.broadcast_message(m, None);
            }
            AfterCommit::Joined { user_id, role } => {
                self.members.insert(user_id, role);
                self.forget_followers();
                if let Some(user) = self.standby.remove(&user_id) {
                    user.addr.do_send(JoinedRoom {
                        room_id: self.room_id,
                    });
                    self.online.insert(user_id, user);
                }
                let frame = ServerFrame::ParticipantAdded {
                    room_id: self.room_id,
                    user_id,
                    message: m,
                };
                self.fan_out_message(&frame, m.seq);
            }
            AfterCommit::Left { user_id } => {
                let frame = ServerFrame::ParticipantRemoved {
                    room_id: self.room_id,
                    user_id,
                    message: m,
                };
                // The removed member hears it too, then stops hearing.
                self.fan_out_message(&frame, m.seq);
                self.members.remove(&user_id);
                self.forget_followers();
                // Rejoining starts from a fresh participants row.
                self.read.remove(&user_id);
                self.delivered.remove(&user_id);
                if let Some(user) = self.online.remove(&user_id) {
                    user.addr.do_send(LeftRoom {
                        room_id: self.room_id,
                    });
                    self.standby.insert(user_id, user);
                }
            }
        }
    }
}

impl Actor for RoomActor {
    type Context = Context<Self>;

    /// Loads the room before any message is handled (`wait` holds the
    /// mailbox), so every handler sees members and the next seq.
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        let room_id = self.room_id;
        let store = self.store.clone();
        let registry = self.registry.clone();
        let load = async move {
            let loaded = store
                .run(move |s| {
                    let Some(room) = s.room(room_id)? else {
                        return Ok(None);
                    };
                    let members = s.room_members(room_id)?;
                    let (last_seq, last_rev) = (s.last_seq(room_id)?, s.last_rev(room_id)?);
                    let read = s.read_positions(room_id)?;
                    Ok(Some((room, members, (last_seq, last_rev), read)))
                })
                .await;
            let loaded = match loaded {
                Ok(loaded) => loaded,
                Err(e) => {
                    tracing::error!(room_id, error = %e, "cannot load room");
                    None
                }
            };
            let online = match &loaded {
                Some((_, members, _, _)) => registry
                    .send(OnlineUsers {
                        user_ids: members.iter().map(|(id, _)| *id).collect(),
                    })
                    .await
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            (loaded, online)
        };
        ctx.wait(load.into_actor(self).map(|(loaded, online), act, ctx| {
            let Some((room, members, (last_seq, last_rev), read)) = loaded else {
                act.state = State::Gone;
                act.registry.do_send(ForgetRoom {
                    room_id: act.room_id,
                    addr: ctx.address(),
                });
                return;
            };
            act.kind = room.kind;
            act.members = members.into_iter().collect();
            act.online = online.into_iter().collect();
            act.next_seq = last_seq + 1;
            act.next_rev = last_rev + 1;
            act.read = read.into_iter().collect();
            act.state = State::Ready;
        }));
        ctx.run_interval(self.limits.delivered_flush, |act, _| act.flush_delivered());
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.flush_delivered();
    }
}

impl RoomActor {
    /// May `sender` post here? Non-members learn nothing (404).
    fn check_poster(&self, sender: UserId) -> Result<(), Error> {
        let role = self.role_of(sender)?;
        if self.kind == RoomKind::Channel && !role.manages() {
            return Err(Error::Forbidden(
                "only channel admins may post in a channel".into(),
            ));
        }
        Ok(())
    }
}

impl Handler<PostFromSocket> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: PostFromSocket, ctx: &mut Self::Context) {
        let responder = Responder::Socket(msg.reply_to);
        match self.check_poster(msg.sender) {
            Ok(()) => self.queue(RoomOp::Post(msg.message), responder, ctx),
            Err(e) => responder.send(Err(e)),
        }
    }
}

impl Handler<Post> for RoomActor {
    type Result = ResponseFuture<Result<Posted, Error>>;

    fn handle(&mut self, msg: Post, ctx: &mut Self::Context) -> Self::Result {
        let allowed = match msg.by {
            By::Member(sender) => self.check_poster(sender),
            By::Admin => self.caller_role(By::Admin).map(|_| ()),
        };
        if let Err(e) = allowed {
            return Box::pin(async { Err(e) });
        }
        let outcome = self.enqueue(RoomOp::Post(msg.message), ctx);
        Box::pin(async move {
            match outcome.await? {
                OpOutcome::Inserted(message) => Ok(Posted {
                    message,
                    duplicate: false,
                }),
                OpOutcome::Duplicate(message) => Ok(Posted {
                    message,
                    duplicate: true,
                }),
                _ => Err(Error::Internal("post returned no message".into())),
            }
        })
    }
}

impl Handler<ChangeMessage> for RoomActor {
    type Result = ResponseFuture<Result<ChangedMessage, Error>>;

    fn handle(&mut self, msg: ChangeMessage, ctx: &mut Self::Context) -> Self::Result {
        let role = match self.caller_role(msg.by) {
            Ok(role) => role,
            Err(e) => return Box::pin(async { Err(e) }),
        };
        let change = match msg.change {
            // The administrator moderates every room; a member by role.
            MessageChange::Delete { .. } => MessageChange::Delete {
                moderator: role.is_none_or(|r| r.manages()),
            },
            _ if msg.by == By::Admin => {
                return Box::pin(async {
                    Err(Error::Forbidden(
                        "the administrator may delete messages, not edit or react".into(),
                    ))
                })
            }
            other => other,
        };
        let op = RoomOp::Change {
            message_id: msg.message_id,
            // The administrator is no user: no message is theirs.
            user_id: match msg.by {
                By::Member(user) => user,
                By::Admin => 0,
            },
            change,
            at: Timestamp::now(),
        };
        let outcome = self.enqueue(op, ctx);
        Box::pin(async move {
            match outcome.await? {
                OpOutcome::Changed(c) => Ok(c),
                _ => Err(Error::Internal("change returned no message".into())),
            }
        })
    }
}

impl Handler<AddMember> for RoomActor {
    type Result = ResponseFuture<Result<Message, Error>>;

    fn handle(&mut self, msg: AddMember, ctx: &mut Self::Context) -> Self::Result {
        let check = self.caller_role(msg.by).and_then(|role| {
            if self.kind == RoomKind::Direct {
                Err(Error::Conflict(
                    "a direct room always has exactly two participants".into(),
                ))
            } else if role.is_some_and(|r| !r.manages()) {
                Err(Error::Forbidden(
                    "only the room's owner or admins may add participants".into(),
                ))
            } else if self.members.contains_key(&msg.user_id) {
                Err(Error::Conflict(format!(
                    "user {} is already a participant",
                    msg.user_id
                )))
            } else {
                Ok(())
            }
        });
        if let Err(e) = check {
            return Box::pin(async { Err(e) });
        }
        let system = NewMessage::system(format!(
            "user {} was added by {}",
            msg.user_id,
            msg.by.describe()
        ));
        let op = RoomOp::AddParticipant {
            user_id: msg.user_id,
            role: msg.role,
            system,
        };
        // If the new member is online, have their actor ready for the moment
        // the join commits.
        let registry = self.registry.clone();
        let user_id = msg.user_id;
        let lookup = async move {
            registry
                .send(OnlineUsers {
                    user_ids: vec![user_id],
                })
                .await
        };
        ctx.wait(lookup.into_actor(self).map(|found, act, _| {
            for (id, user) in found.unwrap_or_default() {
                act.standby.insert(id, user);
            }
        }));
        self.enqueue_message(op, ctx)
    }
}

impl Handler<RemoveMember> for RoomActor {
    type Result = ResponseFuture<Result<Message, Error>>;

    fn handle(&mut self, msg: RemoveMember, ctx: &mut Self::Context) -> Self::Result {
        let leaving = msg.by == By::Member(msg.user_id);
        // The administrator may also take the owner out, and a person out of
        // a direct room (their account is being deleted).
        let check = self.caller_role(msg.by).and_then(|role| {
            let target = self.members.get(&msg.user_id).copied();
            match target {
                None => Err(Error::not_found("participant")),
                Some(_) if self.kind == RoomKind::Direct && role.is_some() => Err(Error::Conflict(
                    "a direct room always has exactly two participants; delete it instead".into(),
                )),
                Some(Role::Owner) if role.is_some() => Err(Error::Conflict(
                    "the owner cannot leave or be removed; delete the room instead".into(),
                )),
                Some(_) if leaving || role.is_none_or(|r| r.manages()) => Ok(()),
                Some(_) => Err(Error::Forbidden(
                    "only the room's owner or admins may remove other participants".into(),
                )),
            }
        });
        if let Err(e) = check {
            return Box::pin(async { Err(e) });
        }
        let text = if leaving {
            format!("user {} left", msg.user_id)
        } else {
            format!("user {} was removed by {}", msg.user_id, msg.by.describe())
        };
        let op = RoomOp::RemoveParticipant {
            user_id: msg.user_id,
            system: NewMessage::system(text),
        };
        self.enqueue_message(op, ctx)
    }
}

impl Handler<DeleteRoom> for RoomActor {
    type Result = ResponseActFuture<Self, Result<(), Error>>;

    fn handle(&mut self, msg: DeleteRoom, _: &mut Self::Context) -> Self::Result {
        let check = self.caller_role(msg.by).and_then(|role| match role {
            None | Some(Role::Owner) => Ok(()),
            _ => Err(Error::Forbidden(
                "only the room's owner may delete it".into(),
            )),
        });
        if let Err(e) = check {
            return Box::pin(actix::fut::ready(Err(e)));
        }
        let room_id = self.room_id;
        let store = self.store.clone();
        let delete = async move { store.run(move |s| s.delete_room(room_id)).await };
        Box::pin(delete.into_actor(self).map(|result, act, ctx| {
            result?;
            act.state = State::Gone;
            let frame = ServerFrame::RoomDeleted {
                room_id: act.room_id,
            };
            act.fan_out(&Outgoing::Frame(act.encode_for_online(&frame)), None);
            for user in act.online.values() {
                user.addr.do_send(LeftRoom {
                    room_id: act.room_id,
                });
            }
            act.members.clear();
            act.online.clear();
            // The participants rows are gone with the room.
            act.delivered.clear();
            act.registry.do_send(ForgetRoom {
                room_id: act.room_id,
                addr: ctx.address(),
            });
            Ok(())
        }))
    }
}

impl Handler<SetRole> for RoomActor {
    type Result = ResponseActFuture<Self, Result<(), Error>>;

    /// Stored first, then the members map follows, so what the room
    /// enforces never runs ahead of what is committed.
    fn handle(&mut self, msg: SetRole, _: &mut Self::Context) -> Self::Result {
        let check = self.caller_role(By::Admin).and_then(|_| {
            if self.members.contains_key(&msg.user_id) {
                Ok(())
            } else {
                Err(Error::not_found("participant"))
            }
        });
        if let Err(e) = check {
            return Box::pin(actix::fut::ready(Err(e)));
        }
        let (room_id, user_id, role) = (self.room_id, msg.user_id, msg.role);
        let store = self.store.clone();
        let write = async move { store.run(move |s| s.set_role(room_id, user_id, role)).await };
        Box::pin(write.into_actor(self).map(move |result, act, _| {
            result?;
            if let Some(current) = act.members.get_mut(&user_id) {
                *current = role;
            }
            Ok(())
        }))
    }
}

impl Handler<MemberOnline> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: MemberOnline, _: &mut Self::Context) {
        if self.members.contains_key(&msg.user_id) {
            self.online.insert(msg.user_id, msg.user);
        } else {
            self.standby.insert(msg.user_id, msg.user);
        }
    }
}

impl Handler<MemberOffline> for RoomActor {
    type Result = ();

    /// The member's delivered position is written now, as it no longer
    /// moves (with the others' pending ones: one write for the room).
    fn handle(&mut self, msg: MemberOffline, _: &mut Self::Context) {
        for map in [&mut self.online, &mut self.standby] {
            if map.get(&msg.user_id).is_some_and(|u| u.addr == msg.addr) {
                map.remove(&msg.user_id);
            }
        }
        if self.delivered.contains_key(&msg.user_id) {
            self.flush_delivered();
        }
    }
}

impl Handler<Announce> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: Announce, _: &mut Self::Context) {
        self.fan_out(&Outgoing::Frame(msg.frame), None);
    }
}

impl Handler<Typing> for RoomActor {
    type Result = Result<(), Error>;

    /// A start is broadcast at most once per TYPING_INTERVAL per member
    /// and lasts `typing_ttl`; a timer then sends `stop` unless a later
    /// start moved the end. Nothing of it is stored.
    fn handle(&mut self, msg: Typing, ctx: &mut Self::Context) -> Self::Result {
        let user_id = msg.user_id;
        self.role_of(user_id)?;
        if !msg.active {
            self.stop_typing(user_id);
            return Ok(());
        }
        let now = Instant::now();
        let recent = self
            .last_typing
            .get(&user_id)
            .is_some_and(|at| now.duration_since(*at) < TYPING_INTERVAL);
        if recent {
            return Ok(());
        }
        let ttl = self.limits.typing_ttl;
        self.last_typing.insert(user_id, now);
        self.typing_until.insert(user_id, now + ttl);
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let frame = ServerFrame::Typing {
            room_id: self.room_id,
            user_id,
            state: TypingState::Start,
            expires_at: Some(Timestamp(Timestamp::now().millis().saturating_add(ttl_ms))),
        };
        self.fan_out(
            &Outgoing::Frame(self.encode_for_online(&frame)),
            Some(user_id),
        );
        ctx.run_later(ttl, move |act, _| {
            let expired = act
                .typing_until
                .get(&user_id)
                .is_some_and(|until| *until <= Instant::now());
            if expired {
                act.stop_typing(user_id);
            }
        });
        Ok(())
    }
}

impl Handler<MarkSeen> for RoomActor {
    type Result = ResponseFuture<Result<(), Error>>;

    fn handle(&mut self, msg: MarkSeen, ctx: &mut Self::Context) -> Self::Result {
        self.mark_read(msg.user_id, msg.seq, ctx)
    }
}

impl Handler<MarkAllSeen> for RoomActor {
    type Result = ResponseFuture<Result<(), Error>>;

    fn handle(&mut self, msg: MarkAllSeen, ctx: &mut Self::Context) -> Self::Result {
        let last = self.next_seq.saturating_sub(1);
        self.mark_read(msg.user_id, last, ctx)
    }
}

impl RoomActor {
    /// Moves a member's read position forward to `seq`; answered after
    /// commit, when the room has been told with a `seen` frame.
    fn mark_read(
        &mut self,
        user_id: UserId,
        seq: Seq,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<(), Error>> {
        if let Err(e) = self.role_of(user_id) {
            return Box::pin(async { Err(e) });
        }
        let last = self.next_seq.saturating_sub(1);
        if seq > last {
            let e = Error::validation(
                "seq",
                "range",
                format!("seq {seq} is past the room's last message ({last})"),
            );
            return Box::pin(async { Err(e) });
        }
        // Read positions only move forward: an older `seen` is a no-op.
        if self.read.get(&user_id).copied().unwrap_or(0) >= seq {
            return Box::pin(async { Ok(()) });
        }
        let op = RoomOp::MarkRead { user_id, seq };
        let outcome = self.enqueue(op, ctx);
        Box::pin(async move { outcome.await.map(|_| ()) })
    }
}

impl Handler<Resume> for RoomActor {
    type Result = ResponseFuture<ResumeStatus>;

    /// Everything below `next_seq` is committed and already fanned out;
    /// everything from it on will be fanned out after this. So the gap is
    /// exactly (after, next_seq - 1], and the conn holds live frames of this
    /// room from `ResumeStart` until the replay has been written. Changes
    /// work the same way with revs: those up to `next_rev - 1` are read
    /// from the store, later ones arrive live, after the replay.
    fn handle(&mut self, msg: Resume, _: &mut Self::Context) -> Self::Result {
        let last = self.next_seq.saturating_sub(1);
        let last_rev = self.next_rev.saturating_sub(1);
        if self.role_of(msg.user_id).is_err() {
            return Box::pin(async { ResumeStatus::NotFound });
        }
        // Reported only to a client that asked for changes.
        let asked = msg.after_rev.is_some();
        let after_rev = msg.after_rev.filter(|rev| *rev < last_rev);
        if msg.after >= last && after_rev.is_none() {
            return Box::pin(async move {
                ResumeStatus::Replayed {
                    count: 0,
                    last_seq: last,
                    changed: asked.then_some(0),
                    last_rev: asked.then_some(last_rev),
                }
            });
        }
        let gap = last.saturating_sub(msg.after);
        let limit = self.limits.resume_limit;
        if gap > limit
            || !msg.conn.offer(Outgoing::ResumeStart {
                room_id: self.room_id,
            })
        {
            return Box::pin(async move {
                ResumeStatus::CannotRecover {
                    last_seq: last,
                    limit,
                }
            });
        }
        let room_id = self.room_id;
        let store = self.store.clone();
        let (after, user) = (msg.after.min(last), msg.user_id);
        Box::pin(async move {
            // `gap` and `limit` are <= resume_limit, which the config keeps
            // within u32.
            let read = store
                .run(move |s| {
                    let fresh = match gap {
                        0 => Vec::new(),
                        gap => s.messages_after(room_id, after, gap as u32, user)?,
                    };
                    let changed = match after_rev {
                        None => Vec::new(),
                        Some(rev) => s.changed_after(room_id, rev, after, limit as u32, user)?,
                    };
                    Ok((fresh, changed))
                })
                .await;
            let (fresh, changed) = read.unwrap_or_else(|e| {
                tracing::error!(room_id, error = %e, "resume read failed");
                Default::default()
            });
            let format = msg.conn.format;
            let frames: Vec<(Seq, crate::protocol::Encoded)> = fresh
                .iter()
                .map(|m| {
                    (
                        m.seq,
                        ServerFrame::MessageCreated { message: m }.encode_for(format),
                    )
                })
                .collect();
            let changes: Vec<_> = changed
                .iter()
                .map(|m| ServerFrame::MessageChanged { message: m }.encode_for(format))
                .collect();
            // A full page of changes may have more behind it: the client is
            // caught up to the last one sent, and resumes from there.
            let caught_up = match changed.last() {
                Some(m) if changed.len() as u64 >= limit => m.rev,
                _ => last_rev,
            };
            let (count, changed) = (frames.len() as u64, changes.len() as u64);
            msg.conn.offer(Outgoing::ResumeData {
                room_id,
                replay: Box::new(Replay { frames, changes }),
            });
            ResumeStatus::Replayed {
                count,
                last_seq: last,
                changed: asked.then_some(changed),
                last_rev: asked.then_some(caught_up),
            }
        })
    }
}
