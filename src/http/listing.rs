//! What offset-paged collections share: the `query=` filter, `offset` and
//! `limit`, and the reply with `meta {count, pagination}`.

use super::context::Ctx;
pub use super::pagination::Pagination;
use super::response::Reply;
use super::users::limit as checked_limit;
use crate::error::Result;
use crate::query::{Field, Filter};
use serde::{Deserialize, Serialize};

/// The checked filter of a `query=` parameter; none when it is absent.
/// A present but empty `query=` is refused like any other bad filter.
pub fn filter(text: Option<&str>, fields: &[Field]) -> Result<Option<Filter>> {
    Ok(text.map(|t| Filter::parse(t, fields)).transpose()?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OffsetQuery {
    offset: Option<u32>,
    limit: Option<u32>,
}

/// `offset` (default 0) and `limit` (default 20, at most 100) of a list
/// that takes nothing else; any other parameter is a 400.
pub fn offset_page(ctx: &Ctx) -> Result<(u32, u32)> {
    let q: OffsetQuery = ctx.query()?;
    Ok((q.offset.unwrap_or(0), checked_limit(q.limit)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilteredOffsetQuery {
    offset: Option<u32>,
    limit: Option<u32>,
    query: Option<String>,
}

/// [`offset_page`] plus a `query=` filter checked against `fields`.
pub fn filtered_offset_page(ctx: &Ctx, fields: &[Field]) -> Result<(u32, u32, Option<Filter>)> {
    let q: FilteredOffsetQuery = ctx.query()?;
    Ok((
        q.offset.unwrap_or(0),
        checked_limit(q.limit)?,
        filter(q.query.as_deref(), fields)?,
    ))
}

#[derive(Serialize)]
struct OffsetMeta {
    /// Items on this page.
    count: usize,
    pagination: Pagination,
}

/// A page of an offset-paged list with `meta {count, pagination}`.
pub fn offset_reply<T: Serialize>(
    ctx: &Ctx,
    items: &[T],
    total: u64,
    offset: u32,
    limit: u32,
) -> Reply {
    let meta = OffsetMeta {
        count: items.len(),
        pagination: Pagination::by_offset(offset.into(), u64::from(limit), total, |o| {
            ctx.link_with("offset", &o.to_string())
        }),
    };
    Reply::with_meta(&items, Some(&meta))
}
