//! The Management API under `/api/admin`: the administrator's login and
//! CRUD over every model. Every handler starts with [`Ctx::admin`], which
//! answers 404 while no administrator is configured. Lists share one query
//! shape ([`list`]): page, limit, sort, direction and allow-listed filters.
//!
//! [`Ctx::admin`]: super::context::Ctx::admin

pub mod auth;
pub mod bots;
pub mod list;
pub mod messages;
pub mod participants;
pub mod rooms;
pub mod sessions;
pub mod stats;
pub mod users;
