//! # palaver — a self-hosted realtime chat server
//!
//! One binary serves chat over a REST API (hyper) and a WebSocket action
//! protocol (tokio-tungstenite), with every message kept in an embedded
//! SQLite file.
//!
//! ## Layout — what each module owns
//!
//! - [`model`] — domain types (users, rooms, messages, seqs) and input
//!   validation. Imports nothing else of ours.
//! - [`store`] — the `Store` trait and its SQLite implementation: pool and
//!   pragmas, migrations from `data/migrations`, one file per table group
//!   (messages, reactions...), the message changes (edit, delete, react)
//!   the writer applies, the group-commit writer thread, and the
//!   checkpointer thread that copies the WAL back beside it. The FTS5
//!   search index is a second file, `search.db`, kept by the indexer thread
//!   from the notes the writer hands it after each commit (a bounded queue;
//!   what it drops, the indexer reads back from `palaver.db` by its marks).
//!   All SQL lives here.
//!   `store::list` is the one list query (a `query::Filter`, sort, page over
//!   allow-listed fields) that every Management API collection shares.
//! - [`actors`] — actix actors: the registry, one actor per active room
//!   (members, next seq, fan-out straight onto the members' sockets, read
//!   and batched delivered positions, typing), one per connected user
//!   (their shared socket list, rooms, presence, online interval,
//!   online-time goal timer). Actors share the System arbiter thread, so
//!   the socket lists they share are never contended (spreading rooms and
//!   users over one arbiter per core was measured: fan-out CPU per
//!   delivery rose from 19.1 to 21.4 µs and persistence gained nothing).
//!   The listeners' tasks run on the multi-thread tokio runtime. All actor
//!   messages are in `actors/messages.rs`.
//! - [`protocol`] — WebSocket frames (client actions, server frames) and
//!   their JSON codec with size limits.
//! - [`net`] — the WebSocket listener; one task per connection that reads
//!   and decodes actions, calls actors, and writes its bounded queue
//!   (`net/queue.rs`) in resume order (`net/ordering.rs`).
//! - [`http`] — the hyper server, router, request context, one file per
//!   resource; `http/admin/` is the Management API (one file per resource,
//!   `list.rs` parses page, sort and filters).
//!   `http/events.rs` is the Server-Sent Events stream, which reuses the
//!   WebSocket writer's per-room ordering (`net::ordering`).
//! - [`query`] — the `query=` filter language: scan, parse to a tree,
//!   check against an endpoint's allow-list of fields, compile to an SQL
//!   expression with every value bound. Emits only allow-listed column
//!   expressions and fixed operator tokens; the store runs the result.
//! - [`service`] — operations both front ends offer (create room, post).
//! - [`analytics`] — pure functions over a person's messages: conversation
//!   time, the per-day chart, resource counts, noisy and best contacts.
//! - [`online_time`] — pure functions over online intervals: minutes per
//!   UTC day and when a daily goal is passed. The user actor records the
//!   intervals and sends `goal_exceeded`.
//! - [`automation`] — work done on a user's behalf on the automation
//!   clock: the scheduler that posts scheduled messages exactly once, the
//!   sweeps for disappearing messages and auto-seen periods, the
//!   auto-replier that answers matching messages in direct rooms (nudged by
//!   room actors like the webhook deliverer, reading after per-(owner,
//!   room) cursors), and the heartbeat that bounds online intervals a crash
//!   left open. It sits beside `service` (it posts through it), not among
//!   the actors.
//! - [`clock`] — the time automation runs on: the system clock, which a
//!   server started with `--test-clock` lets tests move forward.
//! - [`files`] — uploaded bytes on disk: content-addressed blobs under
//!   `data/files`, streamed in with a size limit, and cached image variants.
//! - [`webhooks`] — bots' outgoing webhooks: a task that reads new
//!   messages after per-(bot, room) cursors and POSTs them, HMAC-signed,
//!   with retries; room actors nudge it through a bounded channel.
//! - [`auth`] — argon2id passwords and bearer tokens (hashed at rest); the
//!   Management API's administrator and its in-memory tokens; phone login's one-time codes (HMAC'd at rest), the SMS senders (log
//!   file or HTTP webhook) and the outbox task that delivers SMS from the
//!   `sms_outbox` table with retries.
//! - [`error`] — the crate error and the ONE mapping to HTTP statuses,
//!   error envelopes and WebSocket close codes.
//! - [`config`] — every address, path and limit; flags > env > TOML > default.
//! - [`ratelimit`] — token buckets for logins, login codes and WebSocket
//!   actions.
//! - [`server`] — wires store, actors and listeners; drains on shutdown.
//! - [`shutdown`] — Ctrl-C / SIGTERM.
//!
//! Binaries besides `palaver` (`src/main.rs`): `palaver-load`, the load
//! generator (`src/bin/palaver-load/`), and `palaver-relay`, a bare
//! broadcast relay that is the transport ceiling fan-out is compared with.
//! `benches/` holds the criterion benches, `bench/run.sh` the load runs that
//! write `BENCHMARKS.md`.
//!
//! ## Data flows one way
//!
//! ```text
//! socket ─► net (handshake, auth, limits) ─► protocol (decode) ─┐
//! HTTP ───► http (route, auth, body) ───────────────────────────┤
//!                                                               ▼
//!                                 service ─► room actor ─► store writer (group commit)
//!                                                 │
//!                                                 └─► fan-out: encode once (only in the
//!                                                     encodings online sockets read), offer
//!                                                     the same bytes to each member's sockets
//! ```
//!
//! A message is acknowledged only after its transaction commits; a room has
//! at most one batch at the writer, so seqs are gap-free and fan-out follows
//! commit order.

pub mod actors;
pub mod analytics;
pub mod app;
pub mod auth;
pub mod automation;
pub mod clock;
pub mod config;
pub mod error;
pub mod files;
pub mod http;
pub mod model;
pub mod net;
pub mod online_time;
pub mod protocol;
pub mod query;
pub mod ratelimit;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod store;
pub mod webhooks;
