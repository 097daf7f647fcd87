//! The admin collections' pages: a [`ListQuery`] (filter, sort, page) over
//! one [`Listing`], read through the same [`List`] builder as every other
//! filtered list. Column expressions come only from allow-lists; every
//! value is a bound parameter.

use super::filtered::List;
use crate::query::Value;
use crate::store::list::{ListQuery, Page};
use crate::store::StoreResult;
use rusqlite::{Connection, Row};

/// One listing: what to select from where, and the order that makes pages
/// stable (the collection's key; a sort by another field comes first).
pub struct Listing {
    /// `SELECT` list, with the aliases the collection's fields use.
    pub columns: &'static str,
    /// `FROM` clause (tables and joins).
    pub from: &'static str,
    /// A fixed condition of this listing whose one `?` is the scope value
    /// the caller passes (e.g. `p.room_id = ?`).
    pub scope: Option<&'static str>,
    /// The key order, e.g. `u.id`.
    pub key_order: &'static str,
}

/// Reads one page and the total count that matches.
pub fn page<T>(
    conn: &Connection,
    listing: &Listing,
    scope_value: Option<Value>,
    q: &ListQuery,
    from_row: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Page<T>> {
    let order = match q.sort {
        Some(sort) => format!(
            "{} {}, {}",
            sort.field.sql,
            if sort.descending { "DESC" } else { "ASC" },
            listing.key_order
        ),
        None => listing.key_order.to_owned(),
    };
    let mut list = List::new(listing.columns, listing.from, &order);
    if let (Some(scope), Some(value)) = (listing.scope, scope_value) {
        list.condition(scope, value);
    }
    list.filter(q.filter.as_ref());
    let total = list.count(conn)?;
    let items = list.fetch(conn, Some(q.limit), q.offset, from_row)?;
    Ok(Page { items, total })
}
