//! User-facing filtered, paged lists: the conditions that define a list,
//! the client's `query=` filter, a count of all matches and one page of
//! rows. `GET /api/users` and `GET /api/rooms` build their lists from this,
//! so their SQL differs only in the tables and conditions they name. (The
//! admin collections use `list.rs`, whose condition tree a
//! [`Filter`] could also feed.)

use crate::query::{Filter, Value};
use crate::store::StoreResult;
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, Row, ToSql};

/// The filter's values bound as they are: integers and text.
impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Integer(n) => ToSqlOutput::from(*n),
            Value::Text(s) => ToSqlOutput::from(s.as_str()),
        })
    }
}

pub(super) struct List {
    /// `SELECT` list of the page query.
    columns: &'static str,
    /// Tables, with joins.
    from: &'static str,
    order_by: &'static str,
    /// ANDed; placeholders are `?N` into `params`.
    conditions: Vec<String>,
    params: Vec<Value>,
}

impl List {
    pub fn new(columns: &'static str, from: &'static str, order_by: &'static str) -> List {
        List {
            columns,
            from,
            order_by,
            conditions: Vec::new(),
            params: Vec::new(),
        }
    }

    /// The rows of a per-user table (its `user_id` column) that belong to
    /// `owner` and pass `filter`.
    pub fn owned(
        columns: &'static str,
        table: &'static str,
        order_by: &'static str,
        owner: i64,
        filter: Option<&Filter>,
    ) -> List {
        let mut list = List::new(columns, table, order_by);
        list.condition("user_id = ?", Value::Integer(owner));
        list.filter(filter);
        list
    }

    /// One page and how many rows match in all.
    pub fn page<T>(
        &self,
        conn: &Connection,
        limit: u32,
        offset: u32,
        from_row: fn(&Row) -> rusqlite::Result<T>,
    ) -> StoreResult<(Vec<T>, u64)> {
        let total = self.count(conn)?;
        let items = self.fetch(conn, Some(limit), offset, from_row)?;
        Ok((items, total))
    }

    /// Adds `condition`, whose one `?` stands for `value`.
    pub fn condition(&mut self, condition: &'static str, value: Value) {
        self.params.push(value);
        let placeholder = format!("?{}", self.params.len());
        self.conditions
            .push(condition.replacen('?', &placeholder, 1));
    }

    pub fn filter(&mut self, filter: Option<&Filter>) {
        if let Some(filter) = filter {
            let sql = filter.to_sql(&mut self.params);
            self.conditions.push(sql);
        }
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// How many rows match the conditions so far.
    pub fn count(&self, conn: &Connection) -> StoreResult<u64> {
        let sql = format!("SELECT count(*) FROM {}{}", self.from, self.where_clause());
        let n: i64 =
            conn.query_row(&sql, rusqlite::params_from_iter(&self.params), |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// One page: `offset` rows skipped, at most `limit` (all when `None`).
    pub fn fetch<T>(
        &self,
        conn: &Connection,
        limit: Option<u32>,
        offset: u32,
        from_row: fn(&Row) -> rusqlite::Result<T>,
    ) -> StoreResult<Vec<T>> {
        let n = self.params.len();
        let sql = format!(
            "SELECT {} FROM {}{} ORDER BY {} LIMIT ?{} OFFSET ?{}",
            self.columns,
            self.from,
            self.where_clause(),
            self.order_by,
            n + 1,
            n + 2
        );
        // The statement's text depends on the filter, so it is prepared
        // afresh rather than filling the statement cache with one-offs.
        let mut stmt = conn.prepare(&sql)?;
        let limit = limit.map_or(-1, i64::from);
        let params = self
            .params
            .iter()
            .map(|p| p as &dyn ToSql)
            .chain([&limit as &dyn ToSql, &offset as &dyn ToSql]);
        let rows = stmt.query_map(rusqlite::params_from_iter(params), from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
