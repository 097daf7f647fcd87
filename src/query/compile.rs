//! From a checked tree to an SQL boolean expression. The text is built only
//! from allow-listed column expressions, fixed operator tokens and numbered
//! placeholders; every value goes into `params`.

use super::tree::{Condition, Expr, Test, Value};
use std::fmt::Write;

pub(super) fn compile(expr: &Expr<Condition>, params: &mut Vec<Value>, out: &mut String) {
    match expr {
        Expr::Or(items) => join(items, " OR ", params, out),
        Expr::And(items) => join(items, " AND ", params, out),
        Expr::Not(inner) => {
            out.push_str("NOT ");
            // Parenthesised even when `inner` is a leaf: `NOT a = ?` would
            // otherwise rely on SQLite's precedence of NOT over `=`.
            out.push('(');
            compile(inner, params, out);
            out.push(')');
        }
        Expr::Leaf(c) => condition(c, params, out),
    }
}

fn join(items: &[Expr<Condition>], sep: &str, params: &mut Vec<Value>, out: &mut String) {
    out.push('(');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push_str(sep);
        }
        compile(item, params, out);
    }
    out.push(')');
}

fn condition(c: &Condition, params: &mut Vec<Value>, out: &mut String) {
    out.push_str(c.column);
    match &c.test {
        Test::Compare(op, v) => {
            // `!=` is written `<>`: one spelling in the SQL we emit.
            let _ = write!(out, " {} ", op.as_str());
            bind(v, params, out);
        }
        Test::Like { negated, pattern } => {
            out.push_str(if *negated { " NOT LIKE " } else { " LIKE " });
            bind(pattern, params, out);
        }
        Test::In { negated, values } => {
            out.push_str(if *negated { " NOT IN (" } else { " IN (" });
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                bind(v, params, out);
            }
            out.push(')');
        }
        Test::Null { negated } => {
            out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
        }
    }
}

/// Appends the value and writes its placeholder. Placeholders are numbered
/// by position in `params`, so a caller that bound its own parameters first
/// can append the fragment to its statement unchanged.
fn bind(v: &Value, params: &mut Vec<Value>, out: &mut String) {
    params.push(v.clone());
    let _ = write!(out, "?{}", params.len());
}
