//! What collections share: the `query=` filter, `offset` paging, and the
//! `meta.pagination` block that tells the client where a page sits
//! (PRODUCT.md's collection rules).

use super::context::Ctx;
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// 1-based page the offset falls in.
    current_page: u64,
    /// Page size: the `limit` asked for (or the default).
    per_page: u64,
    /// Rows skipped before this page.
    offset: u64,
    /// Every row that matches the filters, on all pages.
    total: u64,
    total_pages: u64,
    links: Links,
}

/// The same request at the neighbouring offsets; `null` at either end.
#[derive(Debug, Serialize)]
pub struct Links {
    next: Option<String>,
    previous: Option<String>,
}

impl Pagination {
    /// `link(offset)` is this request with `offset` changed.
    pub fn new(offset: u32, per_page: u64, total: u64, link: impl Fn(u64) -> String) -> Pagination {
        let offset = u64::from(offset);
        let (current_page, total_pages) = match per_page {
            0 => (1, 0),
            n => (offset / n + 1, total.div_ceil(n)),
        };
        let next = offset.saturating_add(per_page);
        Pagination {
            current_page,
            per_page,
            offset,
            total,
            total_pages,
            links: Links {
                next: (per_page > 0 && next < total).then(|| link(next)),
                previous: (offset > 0).then(|| link(offset.saturating_sub(per_page))),
            },
        }
    }
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
        pagination: Pagination::new(offset, u64::from(limit), total, |o| {
            ctx.link_with("offset", &o.to_string())
        }),
    };
    Reply::with_meta(&items, Some(&meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(offset: u32, per_page: u64, total: u64) -> Pagination {
        Pagination::new(offset, per_page, total, |o| format!("?offset={o}"))
    }

    #[test]
    fn pages_count_from_one_and_round_up() {
        let p = page(40, 20, 41);
        assert_eq!((p.current_page, p.total_pages), (3, 3));
        assert_eq!(p.links.next, None);
        assert_eq!(p.links.previous.as_deref(), Some("?offset=20"));
        let p = page(0, 20, 0);
        assert_eq!((p.current_page, p.total_pages), (1, 0));
        assert_eq!((p.links.next, p.links.previous), (None, None));
        let p = page(5, 0, 0);
        assert_eq!((p.current_page, p.total_pages), (1, 0));
    }

    #[test]
    fn previous_stops_at_the_start() {
        let p = page(5, 20, 100);
        assert_eq!(p.links.previous.as_deref(), Some("?offset=0"));
        assert_eq!(p.links.next.as_deref(), Some("?offset=25"));
    }
}
