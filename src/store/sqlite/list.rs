//! Turns a [`ListQuery`] into SQL: the WHERE clause from its condition tree,
//! ORDER BY from its sort, LIMIT/OFFSET from its page. Column expressions
//! come only from the allow-listed [`Field`]s; every value is a bound
//! parameter.
//!
//! [`Field`]: crate::store::list::Field

use crate::store::list::{Condition, ListQuery, Page, Value};
use crate::store::StoreResult;
use rusqlite::types::{ToSql, ToSqlOutput};
use rusqlite::{params_from_iter, Connection, Row};

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Value::Int(n) => n.to_sql(),
            Value::Text(s) => s.to_sql(),
        }
    }
}

/// Appends the SQL of `c` to `sql` and its values to `values`.
fn compile(c: &Condition, sql: &mut String, values: &mut Vec<Value>) {
    let join =
        |parts: &[Condition], sep: &str, empty: &str, sql: &mut String, values: &mut Vec<Value>| {
            if parts.is_empty() {
                sql.push_str(empty);
                return;
            }
            sql.push('(');
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    sql.push_str(sep);
                }
                compile(part, sql, values);
            }
            sql.push(')');
        };
    match c {
        Condition::Compare { field, op, value } => {
            sql.push_str(&format!("{} {} ?", field.sql, op.sql()));
            values.push(value.clone());
        }
        Condition::And(parts) => join(parts, " AND ", "1", sql, values),
        Condition::Or(parts) => join(parts, " OR ", "0", sql, values),
        Condition::Not(inner) => {
            sql.push_str("NOT (");
            compile(inner, sql, values);
            sql.push(')');
        }
    }
}

/// One listing: what to select from where, and the order that makes pages
/// stable (the collection's key; a sort by another field comes first).
pub struct Listing {
    /// `SELECT` list, with the aliases the collection's fields use.
    pub columns: &'static str,
    /// `FROM` clause (tables and joins).
    pub from: &'static str,
    /// A fixed condition of this listing (e.g. `p.room_id = ?`), whose
    /// values the caller passes with the query.
    pub scope: Option<&'static str>,
    /// The key order, e.g. `u.id`.
    pub key_order: &'static str,
}

/// Reads one page and the total count that matches.
pub fn page<T>(
    conn: &Connection,
    listing: &Listing,
    scope_values: Vec<Value>,
    q: &ListQuery,
    from_row: impl Fn(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Page<T>> {
    let mut filter = String::new();
    let mut values = scope_values;
    if let Some(scope) = listing.scope {
        filter.push_str(&format!("({scope}) AND "));
    }
    compile(&q.condition, &mut filter, &mut values);
    let total: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM {} WHERE {filter}",
            listing.from
        ))?
        .query_row(params_from_iter(values.iter()), |r| r.get(0))?;
    let order = match q.sort {
        Some(sort) => format!(
            "{} {}, {}",
            sort.field.sql,
            if sort.descending { "DESC" } else { "ASC" },
            listing.key_order
        ),
        None => listing.key_order.to_owned(),
    };
    // SQLite takes LIMIT and OFFSET as signed 64-bit integers.
    let offset = i64::try_from(q.offset()).unwrap_or(i64::MAX);
    values.push(Value::Int(i64::from(q.limit)));
    values.push(Value::Int(offset));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM {} WHERE {filter} ORDER BY {order} LIMIT ? OFFSET ?",
        listing.columns, listing.from
    ))?;
    let items = stmt
        .query_map(params_from_iter(values.iter()), from_row)?
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        total: u64::try_from(total).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::list::{fields, Op};

    #[test]
    fn conditions_become_bound_sql() {
        let login = &fields::USERS[1];
        let id = &fields::USERS[0];
        let c = Condition::And(vec![
            Condition::Compare {
                field: login,
                op: Op::Eq,
                value: Value::Text("x' OR 1=1 --".into()),
            },
            Condition::Not(Box::new(Condition::Or(vec![Condition::Compare {
                field: id,
                op: Op::Lt,
                value: Value::Int(3),
            }]))),
        ]);
        let (mut sql, mut values) = (String::new(), Vec::new());
        compile(&c, &mut sql, &mut values);
        assert_eq!(sql, "(u.login = ? AND NOT ((u.id < ?)))");
        assert_eq!(values, [Value::Text("x' OR 1=1 --".into()), Value::Int(3)]);
        let (mut sql, mut values) = (String::new(), Vec::new());
        compile(&Condition::And(vec![]), &mut sql, &mut values);
        assert_eq!(sql, "1");
    }
}
