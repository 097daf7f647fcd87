//! What can be wrong with a `query=` text, and where. Every rejection the
//! filter language makes is one of these; `crate::error` turns it into a 400.

/// A rejected filter. `at` is the 1-based character position the problem
/// was found at, so a client can point at it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("at character {at}: {kind}")]
pub struct QueryError {
    pub at: usize,
    pub kind: QueryErrorKind,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryErrorKind {
    #[error("the query is empty")]
    Empty,
    #[error("the query is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the query nests parentheses or NOT deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("an IN list may hold at most {max} values")]
    TooManyItems { max: usize },
    #[error("comments are not allowed")]
    Comment,
    #[error("';' is not allowed: a query is one filter, not statements")]
    Statement,
    #[error("a string literal is not closed with '")]
    UnterminatedString,
    #[error("{0}")]
    Syntax(String),
    #[error("function calls are not allowed (`{0}(`)")]
    FunctionCall(String),
    #[error("subqueries are not allowed")]
    Subquery,
    #[error("a field can only be compared with a value, not with `{0}`")]
    FieldComparison(String),
    #[error("use IS NULL or IS NOT NULL to test for null")]
    NullComparison,
    #[error("unknown field `{name}`; allowed fields: {allowed}")]
    UnknownField { name: String, allowed: String },
    #[error("operator {op} is not allowed on field `{field}`")]
    OperatorNotAllowed { field: String, op: &'static str },
    #[error("field `{field}` expects {expected}, not {found}")]
    TypeMismatch {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("field `{field}` expects an RFC 3339 timestamp such as '2024-06-16T12:34:56Z', not '{found}'")]
    BadTimestamp { field: String, found: String },
    #[error("number {0} is out of range")]
    NumberOutOfRange(String),
}

impl QueryError {
    /// `byte` is an offset into `text`; clients count characters from 1.
    pub(crate) fn at_byte(text: &str, byte: usize, kind: QueryErrorKind) -> QueryError {
        let at = text
            .get(..byte)
            .map_or_else(|| text.chars().count(), |s| s.chars().count())
            + 1;
        QueryError { at, kind }
    }
}
