//! Work the server does on a user's behalf: scheduled messages (the
//! message queue, on the automation clock) and auto-replies in direct
//! rooms.

pub mod auto_reply;
pub mod scheduler;

use crate::error::Error;

/// Failures worth another try: the server was busy or stopping. Anything
/// else (the user left the room, the room is gone, a store failure that
/// would repeat) is final, so one bad item never holds up the rest.
pub(crate) fn is_passing(e: &Error) -> bool {
    matches!(e, Error::Overloaded(_) | Error::ShuttingDown)
}
