//! The query string of every admin list: `page`, `limit`,
//! `sort=field&direction=asc|desc`, and `field=value` filters, each checked
//! against the collection's allow-list and turned into a [`ListQuery`]
//! (values are parsed here and bound by the store, never spliced into SQL).
//! Anything unknown is a 400 that names what is allowed. A later `query=`
//! filter language adds its tree to the same `Condition::And`.

use crate::error::{Error, Result};
use crate::http::context::Ctx;
use crate::http::pagination::Pagination;
use crate::http::response::Reply;
use crate::http::users::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::model::Timestamp;
use crate::store::list::{Condition, Field, FieldKind, ListQuery, Page, Sort, Value};
use serde::Serialize;

/// A parsed list request and what its page links need.
pub struct ListRequest {
    pub query: ListQuery,
    path: String,
    /// The query string as sent, to rebuild with another `page`.
    pairs: Vec<(String, String)>,
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
        FieldKind::Int => Value::Int(raw.parse().map_err(|_| wrong("an integer"))?),
        FieldKind::Text => Value::Text(raw.to_owned()),
        FieldKind::Bool => match raw {
            "true" => Value::Int(1),
            "false" => Value::Int(0),
            _ => return Err(wrong("true or false")),
        },
        FieldKind::Time => Value::Int(
            Timestamp::parse_rfc3339(raw)
                .ok_or_else(|| wrong("an RFC 3339 time, e.g. 2026-11-25T17:00:00Z"))?
                .millis(),
        ),
        FieldKind::OneOf(allowed) if allowed.contains(&raw) => Value::Text(raw.to_owned()),
        FieldKind::OneOf(allowed) => return Err(wrong(&format!("one of {}", allowed.join(", ")))),
    })
}

/// Reads the list parameters of `ctx` for a collection with `fields`.
pub fn parse(ctx: &Ctx, fields: &'static [Field]) -> Result<ListRequest> {
    let pairs = ctx.query_pairs()?;
    let mut page = 1;
    let mut limit = DEFAULT_LIMIT;
    let mut sort_by = None;
    let mut descending = None;
    let mut filters = Vec::new();
    for (name, raw) in &pairs {
        match name.as_str() {
            "page" => {
                page = raw
                    .parse::<u64>()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| bad("page must be an integer from 1".into()))?;
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
            _ => {
                let (field, op) = fields
                    .iter()
                    .find_map(|f| f.filter.filter(|_| f.name == name).map(|op| (f, op)))
                    .ok_or_else(|| {
                        bad(format!(
                            "unknown query parameter '{name}'; use page, limit, sort, direction or a filter: {}",
                            names(fields, |f| f.filter.is_some())
                        ))
                    })?;
                filters.push(Condition::Compare {
                    field,
                    op,
                    value: value_of(field, raw)?,
                });
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
    Ok(ListRequest {
        query: ListQuery {
            condition: Condition::And(filters),
            sort,
            page,
            limit,
        },
        path: ctx.path().to_owned(),
        pairs,
    })
}

impl ListRequest {
    /// Narrows the list to what its path names (one room's messages, say).
    pub fn scope(&mut self, field: &'static Field, value: Value) {
        if let Condition::And(parts) = &mut self.query.condition {
            parts.push(Condition::Compare {
                field,
                op: crate::store::list::Op::Eq,
                value,
            });
        }
    }

    /// The URL of page `n` with every other parameter as sent.
    fn link(&self, n: u64) -> String {
        let mut pairs: Vec<(&str, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        pairs.push(("page", n.to_string()));
        // Strings and integers always encode.
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{}?{query}", self.path)
    }

    /// The page as `{"data": [...], "meta": {"pagination": ...}}`.
    pub fn reply<T, V: Serialize>(&self, page: Page<T>, view: impl Fn(T) -> V) -> Reply {
        #[derive(Serialize)]
        struct Meta {
            pagination: Pagination,
        }
        let q = &self.query;
        let meta = Meta {
            pagination: Pagination::new(q.page, q.limit, page.total, |n| self.link(n)),
        };
        let items: Vec<V> = page.items.into_iter().map(view).collect();
        Reply::with_meta(&items, Some(&meta))
    }
}
