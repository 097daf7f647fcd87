//! Work the server does on a user's behalf, on the automation clock:
//! scheduled messages (the message queue).

pub mod scheduler;
