//! Work the server does on a user's behalf, on the automation clock:
//! scheduled messages (the message queue), disappearing messages,
//! auto-seen periods, auto-replies in direct rooms, and the heartbeat
//! online time falls back on after a crash.

pub mod auto_reply;
pub mod auto_seen;
pub mod destruct;
pub mod heartbeat;
mod rounds;
pub mod scheduler;
