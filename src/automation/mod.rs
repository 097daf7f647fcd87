//! Work the server does on a user's behalf, on the automation clock:
//! scheduled messages (the message queue), disappearing messages and
//! auto-seen periods.

pub mod auto_seen;
pub mod destruct;
mod rounds;
pub mod scheduler;
