//! The query string of every admin list: `page` or `offset`, `limit`,
//! `sort=field&direction=asc|desc`, `field=value` filters checked against
//! the collection's allow-list, and a `query=` filter in the filter
//! language. Each `field=value` becomes an equality (or bound) [`Filter`]
//! ANDed with the `query=` one, so the store sees one filter and binds
//! every value. Anything unknown is a 400 that names what is allowed.

use super::super::listing;
use crate::error::{Error, Result};
use crate::http::context::Ctx;
use crate::http::pagination::Pagination;
use crate::http::response::Reply;
use crate::http::users::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::model::Timestamp;
use crate::query::{Filter, Op, Value};
use crate::store::list::{Collection, Field, FieldKind, ListQuery, Page, Sort};
use serde::Serialize;

/// How the client asked to page: by page number (the default) or offset.
#[derive(Debug, Clone, Copy)]
enum Paging {
    Page(u64),
    Offset(u64),
}

/// A parsed list request and how its pages are numbered.
pub struct ListRequest {
    pub query: ListQuery,
    paging: Paging,
}

fn names(fields: &[Field], keep: impl Fn(&Field) -> bool) -> String {
    fields
        .iter()
        .filter(|f| keep(f))
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn bad(reason: String) -> Error {
    Error::BadRequest(reason)
}

/// Parses one filter value as its field's kind says.
fn value_of(field: &Field, raw: &str) -> Result<Value> {
    let wrong = |what: &str| bad(format!("filter '{}' must be {what}", field.name));
    Ok(match field.kind {
        FieldKind::Int => Value::Integer(raw.parse().map_err(|_| wrong("an integer"))?),
        FieldKind::Text => Value::Text(raw.to_owned()),
        FieldKind::Bool => match raw {
            "true" => Value::Integer(1),
            "false" => Value::Integer(0),
            _ => return Err(wrong("true or false")),
        },
        FieldKind::Time => Value::Integer(
            Timestamp::parse_rfc3339(raw)
                .ok_or_else(|| wrong("an RFC 3339 time, e.g. 2026-11-25T17:00:00Z"))?
                .millis(),
        ),
        FieldKind::OneOf(allowed) if allowed.contains(&raw) => Value::Text(raw.to_owned()),
        FieldKind::OneOf(allowed) => return Err(wrong(&format!("one of {}", allowed.join(", ")))),
    })
}

/// Reads the list parameters of `ctx` for `collection`.
pub fn parse(ctx: &Ctx, collection: &'static Collection) -> Result<ListRequest> {
    let fields = collection.fields;
    let mut page = None;
    let mut offset = None;
    let mut limit = DEFAULT_LIMIT;
    let mut sort_by = None;
    let mut descending = None;
    let mut filters = Vec::new();
    for (name, raw) in &ctx.query_pairs()? {
        match name.as_str() {
            "page" => {
                page = Some(
                    raw.parse::<u64>()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| bad("page must be an integer from 1".into()))?,
                );
            }
            "offset" => {
                offset = Some(
                    raw.parse::<u64>()
                        .map_err(|_| bad("offset must be an integer from 0".into()))?,
                );
            }
            "limit" => {
                limit = raw
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| bad(format!("limit must be between 1 and {MAX_LIMIT}")))?;
            }
            "sort" => {
                let field = fields
                    .iter()
                    .find(|f| f.sortable && f.name == raw)
                    .ok_or_else(|| {
                        bad(format!(
                            "cannot sort by '{raw}'; sort by one of: {}",
                            names(fields, |f| f.sortable)
                        ))
                    })?;
                sort_by = Some(field);
            }
            "direction" => {
                descending = Some(match raw.as_str() {
                    "asc" => false,
                    "desc" => true,
                    _ => return Err(bad("direction must be asc or desc".into())),
                });
            }
            "query" => filters.extend(listing::filter(Some(raw), collection.query)?),
            _ => {
                let (field, op) = fields
                    .iter()
                    .find_map(|f| f.filter.filter(|_| f.name == name).map(|op| (f, op)))
                    .ok_or_else(|| {
                        bad(format!(
                            "unknown query parameter '{name}'; use page, offset, limit, sort, direction, query or a filter: {}",
                            names(fields, |f| f.filter.is_some())
                        ))
                    })?;
                filters.push(Filter::compare(field.sql, op, value_of(field, raw)?));
            }
        }
    }
    let sort = match (sort_by, descending) {
        (Some(field), descending) => Some(Sort {
            field,
            descending: descending.unwrap_or(false),
        }),
        (None, Some(_)) => return Err(bad("direction needs sort=field".into())),
        (None, None) => None,
    };
    let paging = match (page, offset) {
        (Some(_), Some(_)) => return Err(bad("use page or offset, not both".into())),
        (_, Some(offset)) => Paging::Offset(offset),
        (page, None) => Paging::Page(page.unwrap_or(1)),
    };
    let offset = match paging {
        Paging::Offset(offset) => offset,
        Paging::Page(page) => page.saturating_sub(1).saturating_mul(u64::from(limit)),
    };
    Ok(ListRequest {
        query: ListQuery {
            filter: Filter::all(filters),
            sort,
            offset,
            limit,
        },
        paging,
    })
}

impl ListRequest {
    /// Narrows the list to what its path names (one room's messages, say).
    pub fn scope(&mut self, field: &'static Field, value: Value) {
        let scope = Filter::compare(field.sql, Op::Eq, value);
        self.query.filter = Filter::all(self.query.filter.take().into_iter().chain([scope]));
    }

    /// The page as `{"data": [...], "meta": {"count", "pagination"}}`, its
    /// links numbered the way the client paged.
    pub fn reply<T, V: Serialize>(&self, ctx: &Ctx, page: Page<T>, view: impl Fn(T) -> V) -> Reply {
        #[derive(Serialize)]
        struct Meta {
            count: usize,
            pagination: Pagination,
        }
        let limit = self.query.limit;
        let pagination = match self.paging {
            Paging::Page(n) => Pagination::by_page(n, limit, page.total, |n| {
                ctx.link_with("page", &n.to_string())
            }),
            Paging::Offset(o) => Pagination::by_offset(o, limit.into(), page.total, |o| {
                ctx.link_with("offset", &o.to_string())
            }),
        };
        let items: Vec<V> = page.items.into_iter().map(view).collect();
        let meta = Meta {
            count: items.len(),
            pagination,
        };
        Reply::with_meta(&items, Some(&meta))
    }
}
