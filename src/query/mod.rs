//! The filter language of `query=`: a small, SQL-looking boolean language
//! over a per-endpoint allow-list of fields.
//!
//! ```text
//! name LIKE 'a%' AND (createdAt >= '2024-01-01T00:00:00Z' OR id IN (1, 2, 3))
//! ```
//!
//! A text goes through four steps, each in its own file: [`scan`] refuses
//! what is never a filter (too long, empty, comments, `;`), [`parse`] reads
//! it into a [`tree`], [`check`] resolves each field against the
//! allow-list, its operators and its type, and [`compile`] writes an SQL
//! expression with every value bound as a parameter. Client text never
//! reaches SQL: only the allow-list's column expressions and fixed operator
//! tokens do.
//!
//! ## Why `winnow`
//!
//! The grammar is a dozen rules, so a full SQL parser (`sqlparser`) would
//! accept far more than we want and leave us to refuse it node by node; its
//! tokenizer also drops comments silently, which we want to refuse. A
//! parser-combinator crate fits the small grammar, and `winnow` was already
//! built here (the TOML config reader depends on it), so the filter adds no
//! new crate. The grammar is written as recursive descent over winnow's
//! token parsers so that depth is counted on the way down and each refusal
//! names its reason.
//!
//! ## Use
//!
//! ```
//! use palaver::query::{Field, FieldType, Filter, Value};
//! const FIELDS: &[Field] = &[
//!     Field::new("id", "id", FieldType::Integer),
//!     Field::new("name", "name", FieldType::Text),
//! ];
//! let filter = Filter::parse("name LIKE 'a%' OR id = 7", FIELDS).unwrap();
//! let mut params = Vec::new();
//! assert_eq!(filter.to_sql(&mut params), "(name LIKE ?1 OR id = ?2)");
//! assert_eq!(params, [Value::Text("a%".into()), Value::Integer(7)]);
//! ```

mod check;
mod compile;
mod error;
mod fields;
mod parse;
mod scan;
mod tree;

pub use error::{QueryError, QueryErrorKind};
pub use fields::{Field, FieldType, Op, ALL_OPS, EQUALITY_OPS};
pub use parse::{MAX_DEPTH, MAX_IN_ITEMS};
pub use scan::MAX_QUERY_CHARS;
pub use tree::Value;

use tree::{Condition, Expr, Test};

/// A checked filter, ready to compile. Holds no client text: only
/// allow-listed column expressions and typed values.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    root: Expr<Condition>,
}

impl Filter {
    /// Parses `text` and checks it against `fields`. Total: every input
    /// gives a filter or a [`QueryError`], never a panic.
    pub fn parse(text: &str, fields: &[Field]) -> Result<Filter, QueryError> {
        scan::scan(text)?;
        let tree = parse::parse(text)?;
        let root = check::check(tree, fields, text)?;
        Ok(Filter { root })
    }

    /// `column op value` built by the server itself, for filters a list
    /// takes in another form (the admin lists' `field=value`) or a scope its
    /// path names. `column` must come from an allow-list, like a
    /// [`Field`]'s. `Like` takes `value` as its pattern, `In` as its one
    /// item, and `Null` ignores it.
    pub fn compare(column: &'static str, op: Op, value: Value) -> Filter {
        let test = match op {
            Op::Like => Test::Like {
                negated: false,
                pattern: value,
            },
            Op::In => Test::In {
                negated: false,
                values: vec![value],
            },
            Op::Null => Test::Null { negated: false },
            op => Test::Compare(op, value),
        };
        Filter {
            root: Expr::Leaf(Condition { column, test }),
        }
    }

    /// Every filter of `parts` at once; `None` when there are none.
    pub fn all(parts: impl IntoIterator<Item = Filter>) -> Option<Filter> {
        let mut roots: Vec<_> = parts.into_iter().map(|f| f.root).collect();
        match roots.len() {
            0 => None,
            1 => roots.pop().map(|root| Filter { root }),
            _ => Some(Filter {
                root: Expr::And(roots),
            }),
        }
    }

    /// The filter as an SQL boolean expression. Values are appended to
    /// `params` and referenced as `?N` by their 1-based position there, so
    /// bind `params` in order as the statement's parameters.
    pub fn to_sql(&self, params: &mut Vec<Value>) -> String {
        let mut out = String::new();
        compile::compile(&self.root, params, &mut out);
        out
    }
}

#[cfg(test)]
mod tests;
