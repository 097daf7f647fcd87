//! Work the server does on a user's behalf, on the automation clock:
//! scheduled messages (the message queue), disappearing messages,
//! auto-seen periods, and auto-replies in direct rooms.

pub mod auto_reply;
pub mod auto_seen;
pub mod destruct;
mod rounds;
pub mod scheduler;
