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
struct FilteredOffsetQuery {
    offset: Option<u32>,
    limit: Option<u32>,
    query: Option<String>,
}

/// `offset` (default 0), `limit` (default 20, at most 100) and a `query=`
/// filter checked against `fields`; any other parameter is a 400.
pub fn filtered_offset_page(ctx: &Ctx, fields: &[Field]) -> Result<(u32, u32, Option<Filter>)> {
    let (offset, limit, filter) = filtered_whole_list(ctx, fields)?;
    Ok((offset, checked_limit(limit)?, filter))
}

/// Like [`filtered_offset_page`] for a short list a client wants whole
/// (the rooms one is in): no `limit` means every row from `offset`.
pub fn filtered_whole_list(
    ctx: &Ctx,
    fields: &[Field],
) -> Result<(u32, Option<u32>, Option<Filter>)> {
    let q: FilteredOffsetQuery = ctx.query()?;
    Ok((
        q.offset.unwrap_or(0),
        q.limit.map(|n| checked_limit(Some(n))).transpose()?,
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
    whole_list_reply(ctx, items, total, offset, Some(limit))
}

/// [`offset_reply`] for a list read by [`filtered_whole_list`]: without a
/// `limit` the page is every row, so its size is the total.
pub fn whole_list_reply<T: Serialize>(
    ctx: &Ctx,
    items: &[T],
    total: u64,
    offset: u32,
    limit: Option<u32>,
) -> Reply {
    let per_page = limit.map_or(total, u64::from);
    let meta = OffsetMeta {
        count: items.len(),
        pagination: Pagination::by_offset(offset.into(), per_page, total, |o| {
            ctx.link_with("offset", &o.to_string())
        }),
    };
    Reply::with_meta(&items, Some(&meta))
}
