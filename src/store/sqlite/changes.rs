//! Edits, deletes and reactions, applied by the writer: the checks (which
//! room, who sent it, already deleted?) read the row in the same
//! transaction that changes it, so no other write can slip in between.

use super::{messages, reactions};
use crate::model::{ChangedMessage, Message, MessageChange, Rev, RoomId, Timestamp, UserId};
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;

/// Applies `change` to a message of `room` on behalf of `user`. A change
/// that alters nothing (a repeated delete or reaction) writes nothing and
/// comes back with `changed: false`; otherwise the message gets `rev`.
pub fn apply(
    conn: &Connection,
    room: RoomId,
    rev: Rev,
    user: UserId,
    message_id: &str,
    change: MessageChange,
    at: Timestamp,
) -> StoreResult<ChangedMessage> {
    let mut m = match messages::by_message_id(conn, message_id)? {
        Some(m) if m.room_id == room => m,
        // A message of another room is as unknown as one that never was.
        _ => return Err(StoreError::NotFound("message")),
    };
    // Answers carry the message as the caller now sees it, reactions too.
    let seen = |mut message: Message| -> StoreResult<Message> {
        if !message.deleted {
            message.reactions = reactions::of_message(conn, room, message.seq, Some(user))?;
        }
        Ok(message)
    };
    let unchanged = |message: Message| -> StoreResult<ChangedMessage> {
        Ok(ChangedMessage {
            message: seen(message)?,
            reaction: None,
            changed: false,
        })
    };
    let mut reaction = None;
    match change {
        MessageChange::Edit { content } => {
            if m.deleted {
                return Err(StoreError::Conflict("the message was deleted".into()));
            }
            if m.sender_id != Some(user) {
                return Err(StoreError::Forbidden(
                    "only the sender may edit a message".into(),
                ));
            }
            messages::set_content(conn, room, m.seq, &content, at, rev)?;
            m.content = content;
            m.edited_at = Some(at);
        }
        MessageChange::Delete { moderator } => {
            if m.sender_id != Some(user) && !moderator {
                return Err(StoreError::Forbidden(
                    "only the sender or the room's owner and admins may delete a message".into(),
                ));
            }
            if m.deleted {
                return unchanged(m);
            }
            messages::tombstone(conn, room, m.seq, at, rev)?;
            m.content.clear();
            m.preview = None;
            m.file_id = None;
            m.deleted = true;
            m.deleted_at = Some(at);
        }
        MessageChange::React { emoji, add } => {
            if m.deleted {
                return Err(StoreError::Conflict("the message was deleted".into()));
            }
            let changed = if add {
                reactions::add(conn, room, m.seq, &emoji, user, at)?
            } else {
                reactions::remove(conn, room, m.seq, &emoji, user)?
            };
            if !changed {
                return unchanged(m);
            }
            messages::set_rev(conn, room, m.seq, rev)?;
            let count = reactions::count(conn, room, m.seq, &emoji)?;
            reaction = Some((emoji, add, count));
        }
    }
    m.rev = rev;
    Ok(ChangedMessage {
        message: seen(m)?,
        reaction,
        changed: true,
    })
}
