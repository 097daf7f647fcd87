//! The bincode encoding (subprotocol `palaver.v1.bincode`): the same frames
//! as JSON, as binary WebSocket frames. bincode has no field names, so it
//! cannot carry the JSON shapes' tags, flattening or untagged unions; these
//! externally tagged mirror types are the binary schema, in bincode 2's
//! `standard()` configuration (little endian, variable-length integers).
//! Clients decode server frames into [`ServerFrameBin`] and encode
//! [`ClientFrameBin`].

use super::{
    AckBody, Action, ClientFrame, DecodeError, PresenceStatus, ResumeStatus, ServerFrame,
    TypingState, MAX_FRAME_BYTES,
};
use crate::model::{
    FileId, LinkPreview, Message, Participant, Rev, Room, RoomDetails, RoomId, Seq, Timestamp,
    UserId,
};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME_BYTES>()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientFrameBin {
    pub request_id: Option<String>,
    pub action: ActionBin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActionBin {
    Auth {
        token: String,
    },
    CreateRoom {
        participants: Vec<UserId>,
        kind: Option<String>,
        name: Option<String>,
    },
    CreateMessage {
        room_id: RoomId,
        message_id: Option<String>,
        content: Option<String>,
        kind: Option<String>,
        reply_id: Option<String>,
        forward_of: Option<String>,
        file_id: Option<FileId>,
        preview: Option<LinkPreview>,
    },
    EditMessage {
        room_id: RoomId,
        message_id: String,
        content: String,
    },
    DeleteMessage {
        room_id: RoomId,
        message_id: String,
    },
    /// `add`: react; otherwise take the reaction back.
    React {
        room_id: RoomId,
        message_id: String,
        emoji: String,
        add: bool,
    },
    Typing {
        room_id: RoomId,
    },
    Seen {
        room_id: RoomId,
        seq: Seq,
    },
    Resume {
        rooms: BTreeMap<RoomId, Seq>,
        revs: BTreeMap<RoomId, Rev>,
    },
    Ping,
}

impl From<ActionBin> for Action {
    fn from(a: ActionBin) -> Self {
        match a {
            ActionBin::Auth { token } => Action::Auth { token },
            ActionBin::CreateRoom {
                participants,
                kind,
                name,
            } => Action::CreateRoom {
                participants,
                kind,
                name,
            },
            ActionBin::CreateMessage {
                room_id,
                message_id,
                content,
                kind,
                reply_id,
                forward_of,
                file_id,
                preview,
            } => Action::CreateMessage {
                room_id,
                message_id,
                content,
                kind,
                reply_id,
                forward_of,
                file_id,
                preview,
            },
            ActionBin::EditMessage {
                room_id,
                message_id,
                content,
            } => Action::EditMessage {
                room_id,
                message_id,
                content,
            },
            ActionBin::DeleteMessage {
                room_id,
                message_id,
            } => Action::DeleteMessage {
                room_id,
                message_id,
            },
            ActionBin::React {
                room_id,
                message_id,
                emoji,
                add: true,
            } => Action::React {
                room_id,
                message_id,
                emoji,
            },
            ActionBin::React {
                room_id,
                message_id,
                emoji,
                add: false,
            } => Action::Unreact {
                room_id,
                message_id,
                emoji,
            },
            ActionBin::Typing { room_id } => Action::Typing {
                room_id,
                state: TypingState::Start,
            },
            ActionBin::Seen { room_id, seq } => Action::Seen { room_id, seq },
            ActionBin::Resume { rooms, revs } => {
                let keyed = |m: BTreeMap<RoomId, u64>| {
                    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                };
                Action::Resume {
                    rooms: keyed(rooms),
                    revs: keyed(revs),
                }
            }
            ActionBin::Ping => Action::Ping,
        }
    }
}

/// Decodes a binary client frame. bincode cannot tell broken bytes from a
/// wrong shape, so every failure is `Shape`.
pub fn decode(bytes: &[u8]) -> Result<ClientFrame, DecodeError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    let (frame, used): (ClientFrameBin, usize) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| DecodeError::Shape(format!("bad bincode frame: {e}")))?;
    if used != bytes.len() {
        return Err(DecodeError::Shape(format!(
            "bad bincode frame: {} bytes after the frame",
            bytes.len() - used
        )));
    }
    Ok(ClientFrame {
        request_id: frame.request_id,
        action: frame.action.into(),
    })
}

/// Encodes a client frame (for clients written in Rust, tests, the load generator).
pub fn encode_client(frame: &ClientFrameBin) -> Vec<u8> {
    bincode::serde::encode_to_vec(frame, config()).unwrap_or_default()
}

/// Decodes a server frame (for clients written in Rust, tests, the load generator).
pub fn decode_server(bytes: &[u8]) -> Result<ServerFrameBin, String> {
    bincode::serde::decode_from_slice(bytes, config())
        .map(|(frame, _)| frame)
        .map_err(|e| e.to_string())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerFrameBin {
    RoomCreated {
        room: Room,
        participants: Vec<Participant>,
    },
    MessageCreated {
        message: Message,
    },
    MessageUpdated {
        room_id: RoomId,
        message_id: String,
        seq: Seq,
        rev: Rev,
        content: String,
        edited_at: Timestamp,
    },
    MessageDeleted {
        room_id: RoomId,
        message_id: String,
        seq: Seq,
        rev: Rev,
        deleted_at: Timestamp,
    },
    ReactionUpdated {
        room_id: RoomId,
        message_id: String,
        seq: Seq,
        rev: Rev,
        user_id: UserId,
        emoji: String,
        added: bool,
        count: u64,
    },
    MessageChanged {
        message: Message,
    },
    ParticipantAdded {
        room_id: RoomId,
        user_id: UserId,
        message: Message,
    },
    ParticipantRemoved {
        room_id: RoomId,
        user_id: UserId,
        message: Message,
    },
    RoomDeleted {
        room_id: RoomId,
    },
    Typing {
        room_id: RoomId,
        user_id: UserId,
        state: TypingState,
        expires_at: Option<Timestamp>,
    },
    Presence {
        user_id: UserId,
        status: PresenceStatus,
        last_seen_at: Option<Timestamp>,
    },
    Seen {
        room_id: RoomId,
        user_id: UserId,
        seq: Seq,
    },
    Ack {
        request_id: Option<String>,
        body: AckBin,
    },
    Error {
        request_id: Option<String>,
        code: String,
        reason: String,
        retry_after: Option<u64>,
    },
    Pong {
        request_id: Option<String>,
    },
    GoalExceeded {
        date: String,
        goal_minutes: u32,
        minutes: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AckBin {
    Authenticated {
        user_id: UserId,
    },
    /// Boxed: a message is far larger than the other acks (bincode encodes
    /// a box as its contents, so the wire format is the same).
    Message {
        message: Box<Message>,
    },
    Room {
        room: Room,
        participants: Vec<Participant>,
    },
    Resume {
        rooms: BTreeMap<String, ResumeStatusBin>,
    },
    Empty,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ResumeStatusBin {
    Replayed {
        count: u64,
        last_seq: Seq,
        changed: Option<u64>,
        last_rev: Option<Rev>,
    },
    CannotRecover {
        last_seq: Seq,
        limit: u64,
    },
    NotFound,
}

fn details(d: &RoomDetails) -> (Room, Vec<Participant>) {
    (d.room.clone(), d.participants.clone())
}

impl From<&ResumeStatus> for ResumeStatusBin {
    fn from(s: &ResumeStatus) -> Self {
        match *s {
            ResumeStatus::Replayed {
                count,
                last_seq,
                changed,
                last_rev,
            } => ResumeStatusBin::Replayed {
                count,
                last_seq,
                changed,
                last_rev,
            },
            ResumeStatus::CannotRecover { last_seq, limit } => {
                ResumeStatusBin::CannotRecover { last_seq, limit }
            }
            ResumeStatus::NotFound => ResumeStatusBin::NotFound,
        }
    }
}

impl From<&AckBody<'_>> for AckBin {
    fn from(body: &AckBody<'_>) -> Self {
        match body {
            AckBody::Authenticated { user_id } => AckBin::Authenticated { user_id: *user_id },
            AckBody::Message { message } => AckBin::Message {
                message: Box::new((*message).clone()),
            },
            AckBody::Room { room } => {
                let (room, participants) = details(room);
                AckBin::Room { room, participants }
            }
            AckBody::Resume { rooms } => AckBin::Resume {
                rooms: rooms.iter().map(|(k, v)| (k.clone(), v.into())).collect(),
            },
            AckBody::Empty {} => AckBin::Empty,
        }
    }
}

impl From<&ServerFrame<'_>> for ServerFrameBin {
    fn from(frame: &ServerFrame<'_>) -> Self {
        match frame {
            ServerFrame::RoomCreated { room } => {
                let (room, participants) = details(room);
                ServerFrameBin::RoomCreated { room, participants }
            }
            ServerFrame::MessageCreated { message } => ServerFrameBin::MessageCreated {
                message: (*message).clone(),
            },
            ServerFrame::MessageUpdated {
                room_id,
                message_id,
                seq,
                rev,
                content,
                edited_at,
            } => ServerFrameBin::MessageUpdated {
                room_id: *room_id,
                message_id: (*message_id).to_owned(),
                seq: *seq,
                rev: *rev,
                content: (*content).to_owned(),
                edited_at: *edited_at,
            },
            ServerFrame::MessageDeleted {
                room_id,
                message_id,
                seq,
                rev,
                deleted_at,
            } => ServerFrameBin::MessageDeleted {
                room_id: *room_id,
                message_id: (*message_id).to_owned(),
                seq: *seq,
                rev: *rev,
                deleted_at: *deleted_at,
            },
            ServerFrame::ReactionUpdated {
                room_id,
                message_id,
                seq,
                rev,
                user_id,
                emoji,
                added,
                count,
            } => ServerFrameBin::ReactionUpdated {
                room_id: *room_id,
                message_id: (*message_id).to_owned(),
                seq: *seq,
                rev: *rev,
                user_id: *user_id,
                emoji: (*emoji).to_owned(),
                added: *added,
                count: *count,
            },
            ServerFrame::MessageChanged { message } => ServerFrameBin::MessageChanged {
                message: (*message).clone(),
            },
            ServerFrame::ParticipantAdded {
                room_id,
                user_id,
                message,
            } => ServerFrameBin::ParticipantAdded {
                room_id: *room_id,
                user_id: *user_id,
                message: (*message).clone(),
            },
            ServerFrame::ParticipantRemoved {
                room_id,
                user_id,
                message,
            } => ServerFrameBin::ParticipantRemoved {
                room_id: *room_id,
                user_id: *user_id,
                message: (*message).clone(),
            },
            ServerFrame::RoomDeleted { room_id } => {
                ServerFrameBin::RoomDeleted { room_id: *room_id }
            }
            ServerFrame::Typing {
                room_id,
                user_id,
                state,
                expires_at,
            } => ServerFrameBin::Typing {
                room_id: *room_id,
                user_id: *user_id,
                state: *state,
                expires_at: *expires_at,
            },
            ServerFrame::Presence {
                user_id,
                status,
                last_seen_at,
            } => ServerFrameBin::Presence {
                user_id: *user_id,
                status: *status,
                last_seen_at: *last_seen_at,
            },
            ServerFrame::Seen {
                room_id,
                user_id,
                seq,
            } => ServerFrameBin::Seen {
                room_id: *room_id,
                user_id: *user_id,
                seq: *seq,
            },
            ServerFrame::Ack { request_id, body } => ServerFrameBin::Ack {
                request_id: request_id.map(str::to_owned),
                body: body.into(),
            },
            ServerFrame::Error {
                request_id,
                code,
                reason,
                retry_after,
            } => ServerFrameBin::Error {
                request_id: request_id.map(str::to_owned),
                code: (*code).to_owned(),
                reason: (*reason).to_owned(),
                retry_after: *retry_after,
            },
            ServerFrame::Pong { request_id } => ServerFrameBin::Pong {
                request_id: request_id.map(str::to_owned),
            },
            ServerFrame::GoalExceeded {
                date,
                goal_minutes,
                minutes,
            } => ServerFrameBin::GoalExceeded {
                date: (*date).to_owned(),
                goal_minutes: *goal_minutes,
                minutes: *minutes,
            },
        }
    }
}

/// The frame as bincode bytes.
pub fn encode_server(frame: &ServerFrame<'_>) -> Bytes {
    let mirror = ServerFrameBin::from(frame);
    Bytes::from(bincode::serde::encode_to_vec(&mirror, config()).unwrap_or_default())
}

// ---- frames that end with a message, from its bytes ----
//
// bincode writes an enum as its variant's index (a varint) followed by the
// variant's fields in order, and a message is the last field of both
// `MessageCreated` and `Ack { body: AckBin::Message }`. So those frames
// are a short head followed by the message's own bytes, which
// [`super::EncodedMessage`] serializes once for both. The indices are the
// variants' positions in the enums above (a test checks the result
// against encoding the whole mirror).

/// `ServerFrameBin::MessageCreated`.
const MESSAGE_CREATED: u32 = 1;
/// `ServerFrameBin::Ack`.
const ACK: u32 = 12;
/// `AckBin::Message`.
const ACK_MESSAGE: u32 = 1;

/// Room for a head: two varint indices and a request id of any usual
/// length (a longer one grows the buffer once).
const HEAD_BYTES: usize = 64;

/// The message alone, as it appears inside a frame. Serialized from the
/// borrowed message: its bytes are those of the owned copy the mirror
/// types hold.
pub fn encode_message(message: &Message) -> Vec<u8> {
    bincode::serde::encode_to_vec(message, config()).unwrap_or_default()
}

/// `head` serialized, then `message` (bytes from [`encode_message`]).
fn with_head(head: &impl Serialize, message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(HEAD_BYTES + message.len());
    // Writing into a Vec cannot fail.
    let _ = bincode::serde::encode_into_std_write(head, &mut out, config());
    out.extend_from_slice(message);
    Bytes::from(out)
}

/// `message_created` for a message encoded by [`encode_message`].
pub fn message_created(message: &[u8]) -> Bytes {
    with_head(&MESSAGE_CREATED, message)
}

/// The `ack` carrying a message encoded by [`encode_message`].
pub fn ack_message(request_id: Option<&str>, message: &[u8]) -> Bytes {
    with_head(&(ACK, request_id, ACK_MESSAGE), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageKind, NewMessage, Reaction};

    #[test]
    fn client_frames_round_trip() {
        let frame = ClientFrameBin {
            request_id: Some("r".into()),
            action: ActionBin::CreateMessage {
                room_id: 7,
                message_id: None,
                content: Some("hi".into()),
                kind: None,
                reply_id: None,
                forward_of: None,
                file_id: None,
                preview: None,
            },
        };
        let decoded = decode(&encode_client(&frame)).unwrap();
        assert_eq!(decoded.request_id.as_deref(), Some("r"));
        assert!(
            matches!(decoded.action, Action::CreateMessage { room_id: 7, ref content, .. } if content.as_deref() == Some("hi"))
        );
    }

    #[test]
    fn garbage_and_trailing_bytes_are_rejected() {
        assert!(decode(&[0xff; 9]).is_err());
        let mut bytes = encode_client(&ClientFrameBin {
            request_id: None,
            action: ActionBin::Ping,
        });
        bytes.push(0);
        assert!(matches!(decode(&bytes), Err(DecodeError::Shape(_))));
    }

    #[test]
    fn server_frames_decode_to_the_mirror() {
        let mut message = NewMessage {
            message_id: "m".into(),
            sender_id: Some(3),
            kind: MessageKind::Text,
            content: "hello".into(),
            reply_id: None,
            forward_of: None,
            file_id: None,
            preview: None,
            created_at: Timestamp(1_718_541_296_789),
            auto_reply: false,
        }
        .into_message(1, 2);
        message.edited_at = Some(Timestamp(1_718_541_296_790));
        message.rev = 4;
        message.reactions.push(Reaction {
            emoji: "👍".into(),
            count: 2,
            me: true,
        });
        let encoded = ServerFrame::MessageCreated { message: &message }.encode();
        assert_eq!(
            decode_server(&encoded.bincode).unwrap(),
            ServerFrameBin::MessageCreated {
                message: message.clone()
            }
        );
        assert!(encoded.bincode.len() < encoded.json.len());
    }
}
