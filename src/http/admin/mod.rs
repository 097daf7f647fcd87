//! The Management API under `/api/admin`: the administrator's login and
//! CRUD over every model. Every handler starts with [`Ctx::admin`], which
//! answers 404 while no administrator is configured.
//!
//! [`Ctx::admin`]: super::context::Ctx::admin

pub mod auth;
pub mod bots;
pub mod stats;
