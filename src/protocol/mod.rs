//! WebSocket frames: what clients send (`action`) and what the server sends
//! (`type`), and their two encodings: JSON text frames (this file, the
//! shapes of PRODUCT.md) and bincode binary frames ([`binary`]), selected by
//! the subprotocol. Decoding never panics and tells "not JSON" apart from
//! "JSON of the wrong shape".

pub mod binary;

use crate::error::Error;
use crate::model::{
    FileId, LinkPreview, Message, Rev, RoomDetails, RoomId, Seq, Timestamp, UserId,
};
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Subprotocol for JSON server frames (also the default).
pub const SUBPROTOCOL_JSON: &str = "palaver.v1.json";
/// Subprotocol for bincode server frames.
pub const SUBPROTOCOL_BINCODE: &str = "palaver.v1.bincode";

/// How a connection wants its server frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Bincode,
}

/// The encodings a set of sockets reads, so a frame is encoded only in
/// those. Nearly every client reads JSON; on the persist load a message
/// was written three times (ack, JSON echo, bincode echo) and the bincode
/// copy went to nobody.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Formats {
    json: bool,
    bincode: bool,
}

impl Formats {
    pub const ALL: Formats = Formats {
        json: true,
        bincode: true,
    };

    /// These, and `format` too.
    pub fn with(self, format: Format) -> Formats {
        match format {
            Format::Json => Formats { json: true, ..self },
            Format::Bincode => Formats {
                bincode: true,
                ..self
            },
        }
    }
}

/// A server frame in both encodings. Fan-out encodes a frame once into
/// this, and every socket takes the bytes of its format. Cloning is one
/// reference-count increment, and the handle is one pointer wide, which
/// keeps every per-socket queue slot small.
#[derive(Debug, Clone)]
pub struct Encoded(std::sync::Arc<EncodedBytes>);

#[derive(Debug)]
pub struct EncodedBytes {
    pub json: Bytes,
    pub bincode: Bytes,
}

impl std::ops::Deref for Encoded {
    type Target = EncodedBytes;

    fn deref(&self) -> &EncodedBytes {
        &self.0
    }
}

impl Encoded {
    pub fn new(json: Bytes, bincode: Bytes) -> Self {
        Encoded(std::sync::Arc::new(EncodedBytes { json, bincode }))
    }

    pub fn get(&self, format: Format) -> &Bytes {
        match format {
            Format::Json => &self.json,
            Format::Bincode => &self.bincode,
        }
    }
}

/// Largest frame a client may send, in bytes. A message body is at most
/// 4,000 characters (16 KB of UTF-8), so this leaves room for the envelope.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// A client frame: `{"action": "...", "requestId": "...", ...}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientFrame {
    /// Echoed in the `ack` or `error` that answers this frame.
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Auth {
        token: String,
    },
    #[serde(rename_all = "camelCase")]
    CreateRoom {
        #[serde(deserialize_with = "ids")]
        participants: Vec<UserId>,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        name: Option<String>,
    },
    /// `senderId` and `createdAt` in the frame are ignored: the sender is
    /// the authenticated user and the time is the server's. A forward
    /// (`forwardOf`) has no `content`: the original's is copied.
    #[serde(rename_all = "camelCase")]
    CreateMessage {
        #[serde(deserialize_with = "id")]
        room_id: RoomId,
        #[serde(default)]
        message_id: Option<String>,
        #[serde(default)]
        content: Option<String>,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        reply_id: Option<String>,
        #[serde(default)]
        forward_of: Option<String>,
        #[serde(default, deserialize_with = "optional_id")]
        file_id: Option<FileId>,
        #[serde(default)]
        preview: Option<LinkPreview>,
    },
    #[serde(rename_all = "camelCase")]
    EditMessage {
        #[serde(deserialize_with = "id")]
        room_id: RoomId,
        message_id: String,
        content: String,
    },
    #[serde(rename_all = "camelCase")]
    DeleteMessage {
        #[serde(deserialize_with = "id")]
        room_id: RoomId,
        message_id: String,
    },
    #[serde(rename_all = "camelCase")]
    React {
        #[serde(deserialize_with = "id")]
        room_id: RoomId,
        message_id: String,
        emoji: String,
    },
    #[serde(rename_all = "camelCase")]
    Unreact {
        #[serde(deserialize_with = "id")]
        room_id: RoomId,
        message_id: String,
        emoji: String,
    },
    /// `state` defaults to `start`; `stop` ends the typing at once.
    #[serde(rename_all = "camelCase")]
    Typing {
        #[serde(deserialize_with = "id")]
        room_id: RoomId,
        #[serde(default)]
        state: TypingState,
    },
    #[serde(rename_all = "camelCase")]
    Seen {
        #[serde(deserialize_with = "id")]
        room_id: RoomId,
        seq: Seq,
    },
    /// `rooms` maps a room id to the last seq the client has; `revs`, to
    /// the last change rev it has (rooms missing from it get no changes).
    Resume {
        rooms: BTreeMap<String, Seq>,
        #[serde(default)]
        revs: BTreeMap<String, Rev>,
    },
    Ping,
}

/// Ids are integers; a string holding an integer is accepted too, since the
/// seed interface shows ids as strings.
fn id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum AnyId {
        Int(i64),
        Str(String),
    }
    match AnyId::deserialize(d)? {
        AnyId::Int(i) => Ok(i),
        AnyId::Str(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("'{s}' is not an id (an integer)"))),
    }
}

/// An optional id, in either form [`id`] accepts.
fn optional_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "id")] i64);
    Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
}

fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "id")] i64);
    Ok(Vec::<Wrapped>::deserialize(d)?
        .into_iter()
        .map(|w| w.0)
        .collect())
}

/// Whether a member started or stopped typing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypingState {
    #[default]
    Start,
    Stop,
}

/// Whether a user has a socket (or SSE stream) open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceStatus {
    Online,
    Offline,
}

/// Why a client frame could not be decoded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is {0} bytes; the limit is {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    #[error("frame is not valid JSON: {0}")]
    Syntax(String),
    #[error("frame is not a valid action: {0}")]
    Shape(String),
}

/// Decodes a JSON text frame.
pub fn decode(bytes: &[u8]) -> Result<ClientFrame, DecodeError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => DecodeError::Shape(e.to_string()),
        _ => DecodeError::Syntax(e.to_string()),
    })
}

/// Outcome of one room in a `resume`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum ResumeStatus {
    /// `count` missed messages follow (or already followed) on this socket.
    /// If the client sent a rev for the room, `changed` `message_changed`
    /// frames follow them, and `last_rev` is the rev it is now caught up to.
    #[serde(rename_all = "camelCase")]
    Replayed {
        count: u64,
        last_seq: Seq,
        #[serde(skip_serializing_if = "Option::is_none")]
        changed: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_rev: Option<Rev>,
    },
    /// The gap is larger than the server replays; page history over REST.
    #[serde(rename_all = "camelCase")]
    CannotRecover { last_seq: Seq, limit: u64 },
    /// Not a room of yours (or no such room).
    NotFound,
}

/// A server frame: `{"type": "...", ...}`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    RoomCreated {
        room: &'a RoomDetails,
    },
    MessageCreated {
        message: &'a Message,
    },
    #[serde(rename_all = "camelCase")]
    MessageUpdated {
        room_id: RoomId,
        message_id: &'a str,
        seq: Seq,
        rev: Rev,
        content: &'a str,
        edited_at: Timestamp,
    },
    #[serde(rename_all = "camelCase")]
    MessageDeleted {
        room_id: RoomId,
        message_id: &'a str,
        seq: Seq,
        rev: Rev,
        deleted_at: Timestamp,
    },
    /// `count` people now react with `emoji`; `user_id` just added or
    /// removed theirs.
    #[serde(rename_all = "camelCase")]
    ReactionUpdated {
        room_id: RoomId,
        message_id: &'a str,
        seq: Seq,
        rev: Rev,
        user_id: UserId,
        emoji: &'a str,
        added: bool,
        count: u64,
    },
    /// The current state of a message that changed while the client was
    /// away (sent on `resume`).
    MessageChanged {
        message: &'a Message,
    },
    #[serde(rename_all = "camelCase")]
    ParticipantAdded {
        room_id: RoomId,
        user_id: UserId,
        message: &'a Message,
    },
    #[serde(rename_all = "camelCase")]
    ParticipantRemoved {
        room_id: RoomId,
        user_id: UserId,
        message: &'a Message,
    },
    #[serde(rename_all = "camelCase")]
    RoomDeleted {
        room_id: RoomId,
    },
    /// `start` carries `expiresAt`: without a new `typing` by then the
    /// room hears `stop` (clients may also hide it themselves at that time).
    #[serde(rename_all = "camelCase")]
    Typing {
        room_id: RoomId,
        user_id: UserId,
        state: TypingState,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<Timestamp>,
    },
    /// To the users who share a room with `user_id`, when their first
    /// socket opens and when their last one closes.
    #[serde(rename_all = "camelCase")]
    Presence {
        user_id: UserId,
        status: PresenceStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_seen_at: Option<Timestamp>,
    },
    #[serde(rename_all = "camelCase")]
    Seen {
        room_id: RoomId,
        user_id: UserId,
        seq: Seq,
    },
    #[serde(rename_all = "camelCase")]
    Ack {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
        #[serde(flatten)]
        body: AckBody<'a>,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
        code: &'a str,
        reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    #[serde(rename_all = "camelCase")]
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
    },
    /// To the user's own sockets, at most once a UTC day: their online
    /// time today (`minutes`) passed their goal.
    #[serde(rename_all = "camelCase")]
    GoalExceeded {
        date: &'a str,
        goal_minutes: u32,
        minutes: u64,
    },
}

/// What an `ack` carries, by the action it answers.
#[derive(Debug, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum AckBody<'a> {
    Authenticated {
        user_id: UserId,
    },
    Message {
        message: &'a Message,
    },
    Room {
        room: &'a RoomDetails,
    },
    Resume {
        rooms: BTreeMap<String, ResumeStatus>,
    },
    Empty {},
}

impl ServerFrame<'_> {
    /// The frame in both encodings. Serializing these types cannot fail
    /// (string keys, no non-finite floats, sizes known), so this never panics.
    pub fn encode(&self) -> Encoded {
        self.encode_in(Formats::ALL)
    }

    /// Only the encodings in `formats`; the others stay empty, so the
    /// result must reach only sockets reading one of those.
    pub fn encode_in(&self, formats: Formats) -> Encoded {
        let json = if formats.json {
            self.to_json()
        } else {
            Bytes::new()
        };
        let bincode = if formats.bincode {
            binary::encode_server(self)
        } else {
            Bytes::new()
        };
        Encoded::new(json, bincode)
    }

    /// Only the encoding one socket needs (acks, errors, pongs); the other
    /// side of the pair stays empty.
    pub fn encode_for(&self, format: Format) -> Encoded {
        self.encode_in(Formats::default().with(format))
    }

    pub fn to_json(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.json_size_hint());
        if serde_json::to_writer(&mut out, self).is_err() {
            out.clear();
        }
        Bytes::from(out)
    }

    /// Bytes to reserve for the JSON of this frame. A message frame written
    /// into an empty buffer grew it six times, copying what was written each
    /// time, and the copies showed on the room actors' thread on the persist
    /// load (a new message's own frames are now made by [`EncodedMessage`],
    /// which reserves the same room). The envelope of a message (ids,
    /// timestamps, status) stays under [`MESSAGE_ENVELOPE_BYTES`]; its
    /// content is added.
    fn json_size_hint(&self) -> usize {
        let message = match self {
            ServerFrame::MessageCreated { message }
            | ServerFrame::Ack {
                body: AckBody::Message { message },
                ..
            } => message,
            _ => return SMALL_FRAME_BYTES,
        };
        // JSON escapes can only make the content longer; a longer frame
        // grows the buffer once more, as before.
        MESSAGE_ENVELOPE_BYTES + message.content.len()
    }
}

/// Room [`ServerFrame::json_size_hint`] leaves for a message frame besides
/// the content (a preview, when there is one, may need one more growth).
const MESSAGE_ENVELOPE_BYTES: usize = 512;
/// Room it leaves for any other frame.
const SMALL_FRAME_BYTES: usize = 128;

// ---- answers to a request, in one socket's format ----

/// The `error` frame for `e`, echoing the request id.
pub fn error_frame(format: Format, request_id: Option<&str>, e: &Error) -> Encoded {
    let reason = e.reason();
    let retry_after = match e {
        Error::RateLimited { retry_after_secs } => Some(*retry_after_secs),
        _ => None,
    };
    ServerFrame::Error {
        request_id,
        code: e.code(),
        reason: &reason,
        retry_after,
    }
    .encode_for(format)
}

/// The `ack` or `error` that answers a request.
pub fn answer(
    format: Format,
    request_id: Option<&str>,
    result: Result<AckBody<'_>, &Error>,
) -> Encoded {
    match result {
        Ok(body) => ServerFrame::Ack { request_id, body }.encode_for(format),
        Err(e) => error_frame(format, request_id, e),
    }
}

// ---- a committed message, serialized once ----

/// `{"type":"message_created","message":` — what precedes the message in
/// its JSON frame.
const CREATED_JSON_HEAD: &[u8] = br#"{"type":"message_created","message":"#;
/// `{"type":"ack"`, then the request id if there is one, then
/// `,"message":` and the message: an ack's JSON frame.
const ACK_JSON_HEAD: &[u8] = br#"{"type":"ack""#;
const ACK_JSON_REQUEST_ID: &[u8] = br#","requestId":"#;
const ACK_JSON_MESSAGE: &[u8] = br#","message":"#;

/// A newly committed message serialized once, in the encodings asked for,
/// for the two frames that carry it whole: the `message_created` the
/// room's online members receive and the `ack` its sender receives. Both
/// frames end with the message, so each is its head spliced before the
/// same bytes — byte for byte what serializing the whole frame writes
/// (tests check both encodings). Serializing a message twice (timestamps
/// to text, string escapes, a buffer per copy) was ≈ 3% of the server's
/// CPU on the persist load, all of it on the room actors' thread.
#[derive(Debug)]
pub struct EncodedMessage {
    json: Vec<u8>,
    bincode: Vec<u8>,
}

impl EncodedMessage {
    /// Only the encodings in `formats`; frames made from it must reach
    /// only sockets reading one of those.
    pub fn new(message: &Message, formats: Formats) -> Self {
        let json = if formats.json {
            let mut out = Vec::with_capacity(MESSAGE_ENVELOPE_BYTES + message.content.len());
            if serde_json::to_writer(&mut out, message).is_err() {
                out.clear();
            }
            out
        } else {
            Vec::new()
        };
        let bincode = if formats.bincode {
            binary::encode_message(message)
        } else {
            Vec::new()
        };
        EncodedMessage { json, bincode }
    }

    /// `message_created`, in the encodings this was made in.
    pub fn created(&self) -> Encoded {
        let json = if self.json.is_empty() {
            Bytes::new()
        } else {
            let mut out = Vec::with_capacity(CREATED_JSON_HEAD.len() + self.json.len() + 1);
            out.extend_from_slice(CREATED_JSON_HEAD);
            self.close_json(out)
        };
        let bincode = if self.bincode.is_empty() {
            Bytes::new()
        } else {
            binary::message_created(&self.bincode)
        };
        Encoded::new(json, bincode)
    }

    /// The sender's `ack`, in its socket's format only, which must be one
    /// this was made in.
    pub fn ack(&self, format: Format, request_id: Option<&str>) -> Encoded {
        // Like `created`: no message bytes, no frame (a head alone would
        // not decode).
        if self.bytes(format).is_empty() {
            return Encoded::new(Bytes::new(), Bytes::new());
        }
        match format {
            Format::Json => {
                let id_len = request_id.map_or(0, |id| ACK_JSON_REQUEST_ID.len() + id.len() + 2);
                let mut out = Vec::with_capacity(
                    ACK_JSON_HEAD.len() + id_len + ACK_JSON_MESSAGE.len() + self.json.len() + 1,
                );
                out.extend_from_slice(ACK_JSON_HEAD);
                if let Some(id) = request_id {
                    out.extend_from_slice(ACK_JSON_REQUEST_ID);
                    // Writing a string into a Vec cannot fail.
                    let _ = serde_json::to_writer(&mut out, id);
                }
                out.extend_from_slice(ACK_JSON_MESSAGE);
                Encoded::new(self.close_json(out), Bytes::new())
            }
            Format::Bincode => {
                Encoded::new(Bytes::new(), binary::ack_message(request_id, &self.bincode))
            }
        }
    }

    fn bytes(&self, format: Format) -> &[u8] {
        match format {
            Format::Json => &self.json,
            Format::Bincode => &self.bincode,
        }
    }

    /// A frame's head, then the message and the `}` closing the frame.
    fn close_json(&self, mut head: Vec<u8>) -> Bytes {
        head.extend_from_slice(&self.json);
        head.push(b'}');
        Bytes::from(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_encoded_only_in_the_formats_asked_for() {
        let frame = ServerFrame::Pong { request_id: None };
        let both = frame.encode_in(Formats::ALL);
        assert!(!both.json.is_empty() && !both.bincode.is_empty());
        let json = frame.encode_in(Formats::default().with(Format::Json));
        assert_eq!(json.json, both.json);
        assert!(json.bincode.is_empty());
        let bincode = frame.encode_for(Format::Bincode);
        assert_eq!(bincode.bincode, both.bincode);
        assert!(bincode.json.is_empty());
    }

    #[test]
    fn seed_004_create_message_frame_decodes() {
        let f = decode(
            br#"{"action":"create_message","roomId":"456","messageId":"0190a1b2-0000-7000-8000-000000000003",
                "content":"How are you?","senderId":"user_123","createdAt":"2024-06-16T12:36:10.000Z"}"#,
        )
        .unwrap();
        match f.action {
            Action::CreateMessage {
                room_id, content, ..
            } => {
                assert_eq!(room_id, 456);
                assert_eq!(content.as_deref(), Some("How are you?"));
            }
            other => panic!("decoded as {other:?}"),
        }
    }

    #[test]
    fn seed_004_create_room_frame_decodes() {
        let f = decode(br#"{"action":"create_room","participants":[1,"2"]}"#).unwrap();
        assert!(
            matches!(f.action, Action::CreateRoom { participants, .. } if participants == [1, 2])
        );
    }

    #[test]
    fn bad_frames_are_classified() {
        assert!(matches!(decode(b"{not json"), Err(DecodeError::Syntax(_))));
        assert!(matches!(
            decode(b"{\"action\":\"fly\"}"),
            Err(DecodeError::Shape(_))
        ));
        assert!(matches!(
            decode(br#"{"action":"create_message","roomId":"room_456","content":"x"}"#),
            Err(DecodeError::Shape(_))
        ));
        let big = vec![b' '; MAX_FRAME_BYTES + 1];
        assert_eq!(
            decode(&big).unwrap_err(),
            DecodeError::TooLarge(MAX_FRAME_BYTES + 1)
        );
    }

    /// A message frame fits the room reserved for it, so writing it never
    /// grows (and copies) the buffer.
    #[test]
    fn message_frames_fit_their_size_hint() {
        use crate::model::{MessageKind, NewMessage};
        let message = NewMessage {
            message_id: "0190a1b2-0000-7000-8000-00000000000a".into(),
            sender_id: Some(123_456_789),
            kind: MessageKind::Text,
            content: "x".repeat(64),
            reply_id: Some("0190a1b2-0000-7000-8000-00000000000b".into()),
            forward_of: Some("0190a1b2-0000-7000-8000-00000000000c".into()),
            file_id: Some(987_654_321),
            preview: None,
            created_at: Timestamp::now(),
            auto_reply: false,
        }
        .into_message(123_456_789, 4_000_000_000);
        let request_id = "12345678901234567890";
        for frame in [
            ServerFrame::MessageCreated { message: &message },
            ServerFrame::Ack {
                request_id: Some(request_id),
                body: AckBody::Message { message: &message },
            },
        ] {
            let json = frame.to_json();
            assert!(
                json.len() <= frame.json_size_hint(),
                "{} bytes: {}",
                json.len(),
                String::from_utf8_lossy(&json)
            );
        }
    }

    /// The frames made from a message serialized once are byte for byte
    /// those of serializing each whole frame, in both encodings.
    #[test]
    fn spliced_message_frames_equal_whole_frames() {
        use crate::model::{LinkPreview, MessageKind, NewMessage, Reaction};
        let mut message = NewMessage {
            message_id: "0190a1b2-0000-7000-8000-00000000000a".into(),
            sender_id: Some(42),
            kind: MessageKind::Link,
            content: "quote \" backslash \\ tab \t nul \u{0} é 👍 </script>".into(),
            reply_id: Some("r".into()),
            forward_of: None,
            file_id: Some(7),
            preview: Some(LinkPreview {
                url: "https://example.com/?a=1&b=\"2\"".into(),
                title: Some("T".into()),
                description: None,
                image_url: None,
                site_name: None,
            }),
            created_at: Timestamp(1_718_541_296_789),
            auto_reply: false,
        }
        .into_message(9, 12);
        message.reactions.push(Reaction {
            emoji: "👍".into(),
            count: 2,
            me: false,
        });
        let once = EncodedMessage::new(&message, Formats::ALL);
        let created = ServerFrame::MessageCreated { message: &message }.encode();
        assert_eq!(once.created().json, created.json);
        assert_eq!(once.created().bincode, created.bincode);
        for request_id in [None, Some("m1"), Some("a\"b\\c\u{1}é")] {
            let whole = ServerFrame::Ack {
                request_id,
                body: AckBody::Message { message: &message },
            }
            .encode();
            assert_eq!(once.ack(Format::Json, request_id).json, whole.json);
            assert_eq!(once.ack(Format::Bincode, request_id).bincode, whole.bincode);
        }
        // Only the encodings asked for are made.
        let json_only = EncodedMessage::new(&message, Formats::default().with(Format::Json));
        assert!(json_only.created().bincode.is_empty());
        assert_eq!(json_only.created().json, created.json);
    }

    #[test]
    fn ack_and_error_echo_request_id() {
        let ack = ServerFrame::Ack {
            request_id: Some("r1"),
            body: AckBody::Empty {},
        }
        .to_json();
        assert_eq!(&ack[..], br#"{"type":"ack","requestId":"r1"}"#);
        let err = ServerFrame::Error {
            request_id: Some("r2"),
            code: "not_found",
            reason: "room not found",
            retry_after: None,
        }
        .to_json();
        assert_eq!(
            &err[..],
            br#"{"type":"error","requestId":"r2","code":"not_found","reason":"room not found"}"#
        );
    }
}
