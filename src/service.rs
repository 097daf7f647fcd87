//! Operations that both front ends offer (REST and WebSocket): the same
//! validation, the same store calls, the same broadcasts.

use crate::actors::messages::{
    AddMember, Announce, By, ChangeMessage, DeleteRoom, EndSessions, Post, Posted, RemoveMember,
};
use crate::actors::room_actor;
use crate::app::App;
use crate::auth;
use crate::error::{Error, Result};
use crate::model::validate::{self, Checker, FieldError};
use crate::model::{
    ChangedMessage, FileId, LinkPreview, Message, MessageChange, MessageKind, NewMessage, NewRoom,
    NewUser, Role, RoomDetails, RoomId, RoomKind, SearchHit, SearchQuery, Session, StoredFile,
    Timestamp, User, UserId, UserPatch,
};
use crate::protocol::ServerFrame;

/// A room as a client asks for it, before validation.
pub struct RoomRequest {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub public: Option<bool>,
    pub participants: Vec<UserId>,
}

/// Creates a room and sends `room_created` to every online participant.
/// Returns the room and whether it is new (an existing direct room between
/// the same two people is returned as it is).
pub async fn create_room(
    app: &App,
    creator: UserId,
    req: RoomRequest,
) -> Result<(RoomDetails, bool)> {
    let mut c = Checker::default();
    let kind = match req.kind.as_deref() {
        None => RoomKind::Group,
        Some(k) => RoomKind::parse(k).unwrap_or_else(|| {
            c.push(FieldError::new(
                "type",
                "invalid",
                "type must be one of direct, group, channel",
            ));
            RoomKind::Group
        }),
    };
    let name = c
        .optional_text("name", req.name.as_deref(), validate::MAX_ROOM_NAME_CHARS)
        .map(|n| n.trim().to_owned());
    let mut others: Vec<UserId> = req
        .participants
        .into_iter()
        .filter(|p| *p != creator)
        .collect();
    others.sort_unstable();
    others.dedup();
    if others.len() > validate::MAX_PARTICIPANTS {
        c.push(FieldError::new(
            "participants",
            "too_many",
            format!(
                "a room starts with at most {} participants",
                validate::MAX_PARTICIPANTS
            ),
        ));
    }
    if kind == RoomKind::Direct && others.len() != 1 {
        c.push(FieldError::new(
            "participants",
            "count",
            "a direct room needs exactly one other participant",
        ));
    }
    if kind != RoomKind::Direct && others.is_empty() && name.is_none() {
        c.push(FieldError::new(
            "participants",
            "required",
            "give at least one other participant, or a name for a room to invite people to later",
        ));
    }
    c.finish().map_err(Error::Validation)?;
    let new = NewRoom {
        kind,
        name,
        public: req.public.unwrap_or(false) && kind != RoomKind::Direct,
        creator_id: creator,
        participants: others,
    };
    let (details, created) =
        app.store
            .run(move |s| s.create_room(&new))
            .await
            .map_err(|e| match e {
                // Naming a user who does not exist is a field error, not a clash.
                crate::store::StoreError::Conflict(reason) => {
                    Error::Validation(vec![FieldError::new("participants", "unknown", reason)])
                }
                other => other.into(),
            })?;
    if created {
        let room = room_actor(&app.registry, &app.store, details.room.id).await?;
        let frame = ServerFrame::RoomCreated { room: &details }.encode();
        room.send(Announce { frame }).await?;
    }
    Ok((details, created))
}

/// A message as a client sends it, before validation.
pub struct MessageRequest {
    pub message_id: Option<String>,
    pub content: Option<String>,
    pub kind: Option<String>,
    pub reply_id: Option<String>,
    /// The messageId to forward: its content and type are copied.
    pub forward_of: Option<String>,
    /// An uploaded file the sender may read; the message carries it.
    pub file_id: Option<FileId>,
    /// For a link: what it points at, as the client saw it.
    pub preview: Option<LinkPreview>,
}

/// [`new_message`], after looking up the message a forward copies. Only a
/// forward costs a read here; other posts go straight on.
pub async fn message_from_request(
    app: &App,
    sender: UserId,
    req: MessageRequest,
) -> Result<NewMessage> {
    let original = match req.forward_of.clone() {
        None => None,
        Some(id) => {
            let found = app
                .store
                .run(move |s| s.readable_message(&id, sender))
                .await?;
            // Unknown, deleted, or in a room the sender is not in: all the
            // same to the client, which must not learn which.
            Some(found.ok_or_else(|| {
                Error::validation(
                    "forwardOf",
                    "unknown",
                    "forwardOf must name a message in one of your rooms",
                )
            })?)
        }
    };
    let file = match req.file_id {
        None => None,
        Some(id) => Some(
            app.store
                .run(move |s| s.file_readable_by(id, sender))
                .await?
                .ok_or_else(|| {
                    Error::validation(
                        "fileId",
                        "unknown",
                        "fileId must name a file you uploaded or that was posted in one of your rooms",
                    )
                })?,
        ),
    };
    new_message(sender, req, original, file.as_ref())
}

/// Kinds of message that carry a file.
const FILE_KINDS: [MessageKind; 5] = [
    MessageKind::Image,
    MessageKind::File,
    MessageKind::Audio,
    MessageKind::Video,
    MessageKind::Voice,
];

/// Checks a message and stamps it with the server's time; the sender is
/// the authenticated user, whatever the client claimed. `original` is the
/// message `req.forward_of` names, and `file` the upload `req.file_id`
/// names, both already looked up (and readable by the sender).
pub fn new_message(
    sender: UserId,
    req: MessageRequest,
    original: Option<Message>,
    file: Option<&StoredFile>,
) -> Result<NewMessage> {
    let mut c = Checker::default();
    let content = match &original {
        // An attachment's caption is optional; its file name stands in.
        None if req.content.is_none() && file.is_some() => file.map(|f| f.name.clone()),
        None => c
            .text(
                "content",
                req.content.as_deref(),
                validate::MAX_CONTENT_CHARS,
            )
            .map(str::to_owned),
        Some(_)
            if req.content.is_some()
                || req.kind.is_some()
                || req.file_id.is_some()
                || req.preview.is_some() =>
        {
            c.push(FieldError::new(
                "content",
                "forward",
                "a forward copies the original's content, type and file; send none of them",
            ));
            None
        }
        Some(m) if m.kind == MessageKind::System => {
            c.push(FieldError::new(
                "forwardOf",
                "system",
                "system messages cannot be forwarded",
            ));
            None
        }
        Some(m) => Some(m.content.clone()),
    };
    let kind = match req.kind.as_deref() {
        None if file.is_some_and(StoredFile::is_image) => MessageKind::Image,
        None if file.is_some() => MessageKind::File,
        None if req.preview.is_some() => MessageKind::Link,
        None => original.as_ref().map_or(MessageKind::Text, |m| m.kind),
        Some(k) => match MessageKind::parse(k) {
            Some(kind) if kind != MessageKind::System => kind,
            _ => {
                c.push(FieldError::new(
                    "type",
                    "invalid",
                    format!("type must be one of {}", MessageKind::CLIENT_KINDS),
                ));
                MessageKind::Text
            }
        },
    };
    if let Some(file) = file {
        if !FILE_KINDS.contains(&kind) {
            c.push(FieldError::new(
                "type",
                "file",
                "a message with a fileId has type image, file, audio, video or voice",
            ));
        } else if kind == MessageKind::Image && !file.is_image() {
            c.push(FieldError::new(
                "fileId",
                "not_image",
                "an image message needs a file that is an image",
            ));
        }
    }
    if let Some(preview) = &req.preview {
        if kind != MessageKind::Link {
            c.push(FieldError::new(
                "preview",
                "not_link",
                "a preview belongs to a message of type link",
            ));
        }
        check_preview(&mut c, preview);
    }
    let message_id = validate::message_id(&mut c, req.message_id.as_deref());
    let reply_id = match req.reply_id.as_deref() {
        None => None,
        Some(r) => match uuid::Uuid::parse_str(r) {
            Ok(u) => Some(u.hyphenated().to_string()),
            Err(_) => {
                c.push(FieldError::new(
                    "replyId",
                    "format",
                    "replyId must be a messageId (UUID)",
                ));
                None
            }
        },
    };
    c.finish().map_err(Error::Validation)?;
    Ok(NewMessage {
        message_id: message_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        sender_id: Some(sender),
        kind,
        // `c.finish()` above guarantees content was present and valid.
        content: content.unwrap_or_default(),
        reply_id,
        file_id: original.as_ref().map_or(file.map(|f| f.id), |m| m.file_id),
        preview: match &original {
            Some(m) => m.preview.clone(),
            None => req.preview,
        },
        forward_of: original.map(|m| m.message_id),
        created_at: Timestamp::now(),
        auto_reply: false,
    })
}

/// Longest URL a preview keeps.
const MAX_URL_CHARS: usize = 2048;

/// A preview is the client's word, so only its shape is checked: web URLs
/// (nothing a browser would run, like `javascript:`) and bounded texts.
fn check_preview(c: &mut Checker, p: &LinkPreview) {
    let web_url = |name: &str, url: &str, c: &mut Checker| {
        let ok = url.chars().count() <= MAX_URL_CHARS
            && (url.starts_with("https://") || url.starts_with("http://"))
            && url
                .parse::<hyper::Uri>()
                .is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty()));
        if !ok {
            c.push(FieldError::new(
                name,
                "url",
                format!("{name} must be an http(s) URL of at most {MAX_URL_CHARS} characters"),
            ));
        }
    };
    web_url("preview.url", &p.url, c);
    if let Some(image) = &p.image_url {
        web_url("preview.imageUrl", image, c);
    }
    c.optional_text("preview.title", p.title.as_deref(), 256);
    c.optional_text("preview.description", p.description.as_deref(), 1024);
    c.optional_text("preview.siteName", p.site_name.as_deref(), 128);
}

/// Checks new content for an edit.
pub fn edit(content: Option<&str>) -> Result<MessageChange> {
    let mut c = Checker::default();
    let content = c.text("content", content, validate::MAX_CONTENT_CHARS);
    c.finish().map_err(Error::Validation)?;
    Ok(MessageChange::Edit {
        content: content.unwrap_or_default().to_owned(),
    })
}

/// Checks a reaction to add (`add`) or take back.
pub fn reaction(emoji: &str, add: bool) -> Result<MessageChange> {
    let mut c = Checker::default();
    validate::emoji(&mut c, emoji);
    c.finish().map_err(Error::Validation)?;
    Ok(MessageChange::React {
        emoji: emoji.to_owned(),
        add,
    })
}

/// Edits, deletes or reacts through the room actor: answered after commit,
/// broadcast to the room's online members.
pub async fn change_message(
    app: &App,
    room_id: RoomId,
    by: By,
    message_id: String,
    change: MessageChange,
) -> Result<ChangedMessage> {
    // Ids are UUIDs; anything else names no message.
    let message_id = uuid::Uuid::parse_str(&message_id)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| Error::not_found("message"))?;
    let room = room_actor(&app.registry, &app.store, room_id).await?;
    room.send(ChangeMessage {
        by,
        message_id,
        change,
    })
    .await?
}

/// Searches the messages of the caller's rooms.
pub async fn search(app: &App, q: SearchQuery) -> Result<(Vec<SearchHit>, u64)> {
    let mut c = Checker::default();
    c.text("q", Some(q.q.as_str()), validate::MAX_QUERY_CHARS);
    c.finish().map_err(Error::Validation)?;
    Ok(app.store.run(move |s| s.search(&q)).await?)
}

/// Posts through the room actor: answered after commit, fanned out live.
pub async fn post_message(app: &App, room_id: RoomId, message: NewMessage) -> Result<Posted> {
    let sender = message.sender_id.unwrap_or_default();
    let room = room_actor(&app.registry, &app.store, room_id).await?;
    room.send(Post {
        by: By::Member(sender),
        message,
    })
    .await?
}

/// Posts an announcement from the administrator into a room: a system
/// message, stored and fanned out like any other.
pub async fn announce(app: &App, room_id: RoomId, content: Option<&str>) -> Result<Posted> {
    let mut c = Checker::default();
    let content = c
        .text("content", content, validate::MAX_CONTENT_CHARS)
        .map(str::to_owned);
    c.finish().map_err(Error::Validation)?;
    let message = NewMessage::system(content.unwrap_or_default());
    let room = room_actor(&app.registry, &app.store, room_id).await?;
    room.send(Post {
        by: By::Admin,
        message,
    })
    .await?
}

/// The session behind a bearer token, if it is valid now.
pub async fn authenticate(app: &App, token: &str) -> Result<Session> {
    let hash = auth::token_hash(token);
    if let Some(session) = app.sessions.get(&hash) {
        return Ok(session);
    }
    let key = hash.clone();
    let session = app
        .store
        .run(move |s| s.session_by_token_hash(&key))
        .await?
        .ok_or_else(|| Error::Unauthorized("the token is not valid".into()))?;
    if session.revoked {
        return Err(Error::Unauthorized("the token was logged out".into()));
    }
    let now = Timestamp::now();
    if session.expires_at <= now {
        return Err(Error::Unauthorized(
            "the token has expired; log in again".into(),
        ));
    }
    // Sliding expiry: a session in use past half its lifetime gets a full
    // lifetime again (checked on cache misses, so at most once a minute).
    let ttl = app.config.token_ttl_secs;
    let mut session = session;
    if session.expires_at < now.plus_seconds(ttl / 2) {
        let (id, expires_at) = (session.id, now.plus_seconds(ttl));
        app.store
            .run(move |s| s.extend_session(id, expires_at))
            .await?;
        session.expires_at = expires_at;
    }
    app.sessions.put(hash, session.clone());
    Ok(session)
}

/// After sessions were revoked in the store: forget them here and close
/// their live sockets. `None` means every session of the user.
pub fn end_sessions(app: &App, user_id: UserId, session_ids: Option<Vec<i64>>) {
    let ended = |s: &Session| {
        s.user_id == user_id && session_ids.as_ref().is_none_or(|ids| ids.contains(&s.id))
    };
    app.sessions.forget_where(ended);
    app.registry.do_send(EndSessions {
        user_id,
        session_ids,
    });
}

/// An account as a client (or the administrator) asks for it, before
/// validation. As a body it admits these fields only.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    pub login: Option<String>,
    pub password: Option<String>,
    pub name: Option<String>,
    pub avatar: Option<String>,
}

/// Validates and creates an account (sign-up and the Management API).
pub async fn create_user(app: &App, req: UserRequest) -> Result<User> {
    let mut c = Checker::default();
    validate::login(&mut c, req.login.as_deref());
    validate::password(&mut c, "password", req.password.as_deref());
    c.text("name", req.name.as_deref(), validate::MAX_NAME_CHARS);
    c.optional_text("avatar", req.avatar.as_deref(), validate::MAX_AVATAR_CHARS);
    c.finish().map_err(Error::Validation)?;
    let password = req.password.unwrap_or_default();
    let new = NewUser {
        login: req.login.unwrap_or_default(),
        password_hash: String::new(),
        name: req.name.unwrap_or_default().trim().to_owned(),
        avatar: req.avatar,
    };
    let _slot = app.password_slot().await?;
    Ok(app
        .store
        .run(move |s| {
            let password_hash = auth::hash_for_store(&password)?;
            s.create_user(&NewUser {
                password_hash,
                ..new
            })
        })
        .await?)
}

/// Changes an account (Management API). A new password ends every session
/// of the user and closes their sockets.
pub async fn update_user(
    app: &App,
    user_id: UserId,
    patch: UserPatch,
    password: Option<String>,
) -> Result<User> {
    let _slot = match password {
        Some(_) => Some(app.password_slot().await?),
        None => None,
    };
    let ended = password.is_some();
    let user = app
        .store
        .run(move |s| {
            let password_hash = password.as_deref().map(auth::hash_for_store).transpose()?;
            let user = s.update_user(
                user_id,
                &UserPatch {
                    password_hash,
                    ..patch
                },
            )?;
            if ended {
                s.revoke_all_sessions(user_id, None, Timestamp::now())?;
            }
            Ok(user)
        })
        .await?;
    if ended {
        end_sessions(app, user_id, None);
    }
    Ok(user)
}

/// Deletes an account: its sessions end (sockets close), it leaves every
/// room through the room's actor (members see `participant_removed`), then
/// the row goes.
pub async fn delete_user(app: &App, user_id: UserId) -> Result<()> {
    let rooms = app
        .store
        .run(move |s| {
            s.user(user_id)?
                .ok_or(crate::store::StoreError::NotFound("user"))?;
            s.revoke_all_sessions(user_id, None, Timestamp::now())?;
            s.room_ids_of_user(user_id)
        })
        .await?;
    end_sessions(app, user_id, None);
    for room_id in rooms {
        match remove_participant(app, room_id, By::Admin, user_id).await {
            // The room went, or they left, meanwhile: nothing to undo.
            Ok(_) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(app.store.run(move |s| s.delete_user(user_id)).await?)
}

/// Adds `user_id` through the room's actor: a system message and
/// `participant_added` for everyone in the room.
pub async fn add_participant(
    app: &App,
    room_id: RoomId,
    by: By,
    user_id: UserId,
    role: Role,
) -> Result<Message> {
    let exists = app.store.run(move |s| s.user(user_id)).await?.is_some();
    if !exists {
        return Err(Error::validation(
            "userId",
            "unknown",
            format!("user {user_id} does not exist"),
        ));
    }
    let room = room_actor(&app.registry, &app.store, room_id).await?;
    room.send(AddMember { by, user_id, role }).await?
}

/// Removes (or, when `by` is the user, lets leave) through the room's
/// actor: a system message and `participant_removed`.
pub async fn remove_participant(
    app: &App,
    room_id: RoomId,
    by: By,
    user_id: UserId,
) -> Result<Message> {
    let room = room_actor(&app.registry, &app.store, room_id).await?;
    room.send(RemoveMember { by, user_id }).await?
}

/// Deletes a room; every online participant gets `room_deleted`.
pub async fn delete_room(app: &App, room_id: RoomId, by: By) -> Result<()> {
    let room = room_actor(&app.registry, &app.store, room_id).await?;
    room.send(DeleteRoom { by }).await?
}
