//! Filtered, paged lists: the conditions that define a list, the client's
//! `query=` filter, a count of all matches and one page of rows. Every list
//! with `query=` builds its SQL here (the user-facing ones directly, the
//! admin collections through `list.rs`), so lists differ only in the
//! tables, columns and conditions they name.

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

pub(super) struct List<'a> {
    /// `SELECT` list of the page query.
    columns: &'a str,
    /// Tables, with joins.
    from: &'a str,
    order_by: &'a str,
    /// ANDed; placeholders are `?N` into `params`.
    conditions: Vec<String>,
    params: Vec<Value>,
}

impl<'a> List<'a> {
    pub fn new(columns: &'a str, from: &'a str, order_by: &'a str) -> List<'a> {
        List::with_params(columns, from, order_by, Vec::new())
    }

    /// A list whose `columns` or `from` already use `?1`..`?N` for
    /// `params` (an owner bound inside a subquery, say); conditions and
    /// the filter number their placeholders after them.
    pub fn with_params(
        columns: &'a str,
        from: &'a str,
        order_by: &'a str,
        params: Vec<Value>,
    ) -> List<'a> {
        List {
            columns,
            from,
            order_by,
            conditions: Vec::new(),
            params,
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
    ) -> List<'static> {
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
        let items = self.fetch(conn, Some(limit), offset.into(), from_row)?;
        Ok((items, total))
    }

    /// Adds `condition`, whose one `?` stands for `value`.
    pub fn condition(&mut self, condition: &'static str, value: Value) {
        self.params.push(value);
        let placeholder = format!("?{}", self.params.len());
        self.conditions
            .push(condition.replacen('?', &placeholder, 1));
    }

    /// Adds a condition with no values of its own: fixed SQL, or SQL over
    /// the parameters the list was made [`with_params`](List::with_params).
    pub fn fixed(&mut self, condition: &'static str) {
        self.conditions.push(condition.to_owned());
    }

    pub fn filter(&mut self, filter: Option<&Filter>) {
        if let Some(filter) = filter {
            let sql = filter.to_sql(&mut self.params);
            self.conditions.push(sql);
        }
    }

    /// Adds `filter` evaluated on the one row `row` finds: `row` is the
    /// `FROM … WHERE …` of a correlated subquery. For a list whose filter
    /// is over another table than the one it pages (search pages the index
    /// and filters messages): the filter's bare column names resolve in the
    /// subquery first, and it can only narrow the list, never reach past it.
    pub fn filter_exists(&mut self, filter: Option<&Filter>, row: &'static str) {
        if let Some(filter) = filter {
            let sql = filter.to_sql(&mut self.params);
            self.conditions
                .push(format!("EXISTS (SELECT 1 FROM {row} AND ({sql}))"));
        }
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// How many rows match the conditions so far. The statement's own
    /// error is returned, so a caller can tell a client's fault (an FTS5
    /// query that does not parse) from a failure.
    pub fn count(&self, conn: &Connection) -> rusqlite::Result<u64> {
        let sql = format!("SELECT count(*) FROM {}{}", self.from, self.where_clause());
        let n: i64 =
            conn.query_row(&sql, rusqlite::params_from_iter(&self.params), |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// One page: `offset` rows skipped, at most `limit` (all when `None`).
    /// Errors as [`List::count`].
    pub fn fetch<T>(
        &self,
        conn: &Connection,
        limit: Option<u32>,
        offset: u64,
        from_row: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        // The statement's text depends on the filter, so it is prepared
        // afresh rather than filling the statement cache with one-offs.
        let mut stmt = conn.prepare(&self.page_sql())?;
        // SQLite takes LIMIT and OFFSET as signed 64-bit integers.
        let limit = limit.map_or(-1, i64::from);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let params = self
            .params
            .iter()
            .map(|p| p as &dyn ToSql)
            .chain([&limit as &dyn ToSql, &offset as &dyn ToSql]);
        let rows = stmt.query_map(rusqlite::params_from_iter(params), from_row)?;
        rows.collect()
    }

    /// The page query; LIMIT and OFFSET are the two parameters after the
    /// list's own.
    fn page_sql(&self) -> String {
        let n = self.params.len();
        format!(
            "SELECT {} FROM {}{} ORDER BY {} LIMIT ?{} OFFSET ?{}",
            self.columns,
            self.from,
            self.where_clause(),
            self.order_by,
            n + 1,
            n + 2
        )
    }

    /// The page query's plan (the `detail` column of EXPLAIN QUERY PLAN),
    /// for tests that check a list reads through the index it should.
    #[cfg(test)]
    pub fn plan(&self, conn: &Connection) -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", self.page_sql()))?;
        let params = self
            .params
            .iter()
            .map(|p| p as &dyn ToSql)
            .chain([&20 as &dyn ToSql, &0 as &dyn ToSql]);
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| r.get(3))?;
        rows.collect()
    }
}
