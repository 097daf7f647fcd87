//! Work the server does on a user's behalf, on the automation clock:
//! scheduled messages (the message queue), and the heartbeat online time
//! falls back on after a crash.

pub mod heartbeat;
pub mod scheduler;
