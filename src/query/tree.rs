//! The filter tree. It has one shape with two kinds of leaf: what the
//! parser read (field names and literals, with their positions) and what
//! the checker made of it (allow-listed columns and typed values), so the
//! two stages cannot disagree about structure.

use super::fields::Op;

/// `AND` and `OR` hold flat lists: `a OR b OR c` is one node, so a long
/// chain adds no depth.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr<L> {
    Or(Vec<Expr<L>>),
    And(Vec<Expr<L>>),
    Not(Box<Expr<L>>),
    Leaf(L),
}

impl<L> Expr<L> {
    /// The same tree with every leaf replaced by `f(leaf)`; the first error
    /// stops the walk.
    pub fn try_map<M, E>(self, f: &mut impl FnMut(L) -> Result<M, E>) -> Result<Expr<M>, E> {
        Ok(match self {
            Expr::Or(items) => Expr::Or(map_all(items, f)?),
            Expr::And(items) => Expr::And(map_all(items, f)?),
            Expr::Not(inner) => Expr::Not(Box::new(inner.try_map(f)?)),
            Expr::Leaf(leaf) => Expr::Leaf(f(leaf)?),
        })
    }
}

fn map_all<L, M, E>(
    items: Vec<Expr<L>>,
    f: &mut impl FnMut(L) -> Result<M, E>,
) -> Result<Vec<Expr<M>>, E> {
    items.into_iter().map(|e| e.try_map(f)).collect()
}

/// The test one leaf applies to its field, over values of type `V`.
#[derive(Debug, Clone, PartialEq)]
pub enum Test<V> {
    /// `Op` is one of `Eq`, `Ne`, `Lt`, `Le`, `Gt`, `Ge`.
    Compare(Op, V),
    Like {
        negated: bool,
        pattern: V,
    },
    In {
        negated: bool,
        values: Vec<V>,
    },
    Null {
        negated: bool,
    },
}

impl<V> Test<V> {
    /// Which allow-list entry the test needs.
    pub fn op(&self) -> Op {
        match self {
            Test::Compare(op, _) => *op,
            Test::Like { .. } => Op::Like,
            Test::In { .. } => Op::In,
            Test::Null { .. } => Op::Null,
        }
    }

    /// The operator as the client wrote it, for error messages.
    pub fn written(&self) -> &'static str {
        match self {
            Test::Compare(op, _) => op.as_str(),
            Test::Like { negated: true, .. } => "NOT LIKE",
            Test::In { negated: true, .. } => "NOT IN",
            Test::Null { negated: true } => "IS NOT NULL",
            other => other.op().as_str(),
        }
    }
}

/// A leaf as parsed. Positions are byte offsets into the query text.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    pub field: String,
    pub at: usize,
    pub test: Test<Literal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub value: LiteralValue,
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiteralValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
}

impl LiteralValue {
    pub fn describe(&self) -> &'static str {
        match self {
            LiteralValue::Text(_) => "a string",
            LiteralValue::Integer(_) => "a number",
            LiteralValue::Boolean(_) => "a boolean",
        }
    }
}

/// A leaf after checking: an allow-listed column expression and values in
/// the column's own representation.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: &'static str,
    pub test: Test<Value>,
}

/// A value bound as an SQL parameter. Booleans and timestamps are already
/// integers (1/0, unix ms), as they are stored. Kept free of any database
/// crate; the store converts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Integer(i64),
    Text(String),
}
