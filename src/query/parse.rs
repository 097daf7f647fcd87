//! The grammar, from text to a tree of [`Predicate`] leaves.
//!
//! ```text
//! filter    = or EOF
//! or        = and { OR and }
//! and       = not { AND not }
//! not       = NOT not | primary                      (each NOT is a level)
//! primary   = "(" or ")" | predicate                 (each "(" is a level)
//! predicate = field ( cmp value | [NOT] LIKE value | [NOT] IN "(" value {"," value} ")"
//!                   | IS [NOT] NULL )
//! cmp       = "=" | "<>" | "!=" | "<" | "<=" | ">" | ">="
//! value     = 'string' ('' escapes a quote) | [-]digits | TRUE | FALSE
//! ```
//!
//! Keywords are case-insensitive. The structure is plain recursive descent
//! so that depth is counted on the way down (a deep input is refused before
//! it can exhaust the stack) and so that each refusal carries its own
//! reason; `winnow` supplies the token-level pieces. Anything SQL has that
//! this grammar lacks (function calls, subqueries, a field on the right of a
//! comparison, `= NULL`) is recognised where it would start and refused by
//! name rather than with a bare syntax error.

use super::error::{QueryError, QueryErrorKind};
use super::fields::Op;
use super::tree::{Expr, Literal, LiteralValue, Predicate, Test};
use winnow::error::ParserError;
use winnow::stream::Stream;
use winnow::token::{one_of, take_while};
use winnow::Parser;

/// Deepest nesting of parentheses and NOTs accepted.
pub const MAX_DEPTH: usize = 16;
/// Most values in one IN list.
pub const MAX_IN_ITEMS: usize = 100;

/// Why parsing stopped: the unparsed rest's length locates it in the text.
#[derive(Debug)]
pub(super) struct Fail {
    rest: usize,
    kind: Option<QueryErrorKind>,
}

impl<'a> ParserError<&'a str> for Fail {
    type Inner = Fail;

    fn from_input(input: &&'a str) -> Self {
        Fail {
            rest: input.len(),
            kind: None,
        }
    }

    fn into_inner(self) -> Result<Fail, Fail> {
        Ok(self)
    }
}

type PResult<T> = Result<T, Fail>;

pub(super) fn parse(text: &str) -> Result<Expr<Predicate>, QueryError> {
    let grammar = Grammar { len: text.len() };
    let mut input = text;
    grammar.filter(&mut input).map_err(|fail| {
        let kind = fail
            .kind
            .unwrap_or_else(|| QueryErrorKind::Syntax("unexpected input".into()));
        QueryError::at_byte(text, text.len() - fail.rest, kind)
    })
}

struct Grammar {
    /// Length of the whole text, to turn the rest's length into a position.
    len: usize,
}

impl Grammar {
    fn at(&self, i: &str) -> usize {
        self.len - i.len()
    }

    fn filter(&self, i: &mut &str) -> PResult<Expr<Predicate>> {
        ws(i)?;
        let expr = self.or(i, 0)?;
        if i.is_empty() {
            Ok(expr)
        } else if i.starts_with(')') {
            Err(fail(i, syntax("')' has no matching '('")))
        } else {
            Err(unexpected(i, "AND, OR or the end of the query"))
        }
    }

    fn or(&self, i: &mut &str, depth: usize) -> PResult<Expr<Predicate>> {
        let mut items = vec![self.and(i, depth)?];
        while keyword(i, "OR")? {
            items.push(self.and(i, depth)?);
        }
        Ok(flatten(items, Expr::Or))
    }

    fn and(&self, i: &mut &str, depth: usize) -> PResult<Expr<Predicate>> {
        let mut items = vec![self.not(i, depth)?];
        while keyword(i, "AND")? {
            items.push(self.not(i, depth)?);
        }
        Ok(flatten(items, Expr::And))
    }

    fn not(&self, i: &mut &str, depth: usize) -> PResult<Expr<Predicate>> {
        let start = *i;
        if keyword(i, "NOT")? {
            let depth = deeper(start, depth)?;
            return Ok(Expr::Not(Box::new(self.not(i, depth)?)));
        }
        self.primary(i, depth)
    }

    fn primary(&self, i: &mut &str, depth: usize) -> PResult<Expr<Predicate>> {
        let start = *i;
        if !symbol(i, "(")? {
            return self.predicate(i).map(Expr::Leaf);
        }
        if starts_subquery(i) {
            return Err(fail(start, QueryErrorKind::Subquery));
        }
        let depth = deeper(start, depth)?;
        let inner = self.or(i, depth)?;
        if !symbol(i, ")")? {
            let open = self.at(start) + 1;
            return Err(unexpected(
                i,
                &format!("')' to close the '(' at character {open}"),
            ));
        }
        Ok(inner)
    }

    fn predicate(&self, i: &mut &str) -> PResult<Predicate> {
        let start = *i;
        let field = match word(i) {
            Ok(w) => w,
            Err(_) => return Err(unexpected(i, "a field name")),
        };
        if field.eq_ignore_ascii_case("SELECT") {
            return Err(fail(start, QueryErrorKind::Subquery));
        }
        if i.starts_with('(') {
            return Err(fail(start, QueryErrorKind::FunctionCall(field.into())));
        }
        ws(i)?;
        let test = self.test(i)?;
        Ok(Predicate {
            field: field.to_owned(),
            at: self.at(start),
            test,
        })
    }

    fn test(&self, i: &mut &str) -> PResult<Test<Literal>> {
        if keyword(i, "IS")? {
            let negated = keyword(i, "NOT")?;
            if !keyword(i, "NULL")? {
                return Err(unexpected(i, "NULL"));
            }
            return Ok(Test::Null { negated });
        }
        let negated = keyword(i, "NOT")?;
        if keyword(i, "LIKE")? {
            let pattern = self.value(i)?;
            return Ok(Test::Like { negated, pattern });
        }
        if keyword(i, "IN")? {
            let values = self.list(i)?;
            return Ok(Test::In { negated, values });
        }
        if negated {
            return Err(unexpected(i, "LIKE or IN after NOT"));
        }
        let Some(op) = comparison(i)? else {
            return Err(unexpected(
                i,
                "an operator (=, <>, !=, <, <=, >, >=, LIKE, IN or IS)",
            ));
        };
        Ok(Test::Compare(op, self.value(i)?))
    }

    fn list(&self, i: &mut &str) -> PResult<Vec<Literal>> {
        if !symbol(i, "(")? {
            return Err(unexpected(i, "'(' after IN"));
        }
        if starts_subquery(i) {
            return Err(fail(i, QueryErrorKind::Subquery));
        }
        let mut values = Vec::new();
        loop {
            if values.len() == MAX_IN_ITEMS {
                return Err(fail(i, QueryErrorKind::TooManyItems { max: MAX_IN_ITEMS }));
            }
            values.push(self.value(i)?);
            if symbol(i, ")")? {
                return Ok(values);
            }
            if !symbol(i, ",")? {
                return Err(unexpected(i, "',' or ')' in the IN list"));
            }
        }
    }

    fn value(&self, i: &mut &str) -> PResult<Literal> {
        let start = *i;
        let at = self.at(start);
        let value = match i.chars().next() {
            Some('\'') => LiteralValue::Text(string(i)?),
            Some(c) if c == '-' || c.is_ascii_digit() => LiteralValue::Integer(number(i)?),
            Some('(') if starts_subquery(&i[1..]) => {
                return Err(fail(i, QueryErrorKind::Subquery));
            }
            Some('"') => {
                return Err(fail(i, syntax("strings are written in single quotes")));
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let w = word(i)?;
                if w.eq_ignore_ascii_case("TRUE") {
                    LiteralValue::Boolean(true)
                } else if w.eq_ignore_ascii_case("FALSE") {
                    LiteralValue::Boolean(false)
                } else if w.eq_ignore_ascii_case("NULL") {
                    return Err(fail(start, QueryErrorKind::NullComparison));
                } else if w.eq_ignore_ascii_case("SELECT") {
                    return Err(fail(start, QueryErrorKind::Subquery));
                } else if i.starts_with('(') {
                    return Err(fail(start, QueryErrorKind::FunctionCall(w.into())));
                } else {
                    return Err(fail(start, QueryErrorKind::FieldComparison(w.into())));
                }
            }
            _ => {
                return Err(unexpected(
                    i,
                    "a value (a 'string', a number, true or false)",
                ))
            }
        };
        ws(i)?;
        Ok(Literal { value, at })
    }
}

/// One item stays itself; several become one AND / OR node.
fn flatten(
    mut items: Vec<Expr<Predicate>>,
    node: fn(Vec<Expr<Predicate>>) -> Expr<Predicate>,
) -> Expr<Predicate> {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    node(items)
}

/// One level deeper than `depth`, or the too-deep error at `start`.
fn deeper(start: &str, depth: usize) -> PResult<usize> {
    if depth >= MAX_DEPTH {
        return Err(fail(start, QueryErrorKind::TooDeep { max: MAX_DEPTH }));
    }
    Ok(depth + 1)
}

fn fail(at: &str, kind: QueryErrorKind) -> Fail {
    Fail {
        rest: at.len(),
        kind: Some(kind),
    }
}

fn syntax(message: &str) -> QueryErrorKind {
    QueryErrorKind::Syntax(message.to_owned())
}

/// "expected X, found Y" where Y is what the text holds at `i`.
fn unexpected(i: &str, expected: &str) -> Fail {
    let found = match i.chars().next() {
        None => "the end of the query".to_owned(),
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
            let token: String = i
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(32)
                .collect();
            format!("`{token}`")
        }
        Some(c) => format!("`{c}`"),
    };
    fail(i, syntax(&format!("expected {expected}, found {found}")))
}

fn ws(i: &mut &str) -> PResult<()> {
    take_while(0.., char::is_whitespace).void().parse_next(i)
}

/// An identifier or keyword: a letter or `_`, then letters, digits, `_`.
fn word<'a>(i: &mut &'a str) -> PResult<&'a str> {
    (
        one_of(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(0.., |c: char| c.is_ascii_alphanumeric() || c == '_'),
    )
        .take()
        .parse_next(i)
}

/// Consumes `kw` (and the spaces after it) if the next word is `kw`; a word
/// that merely starts with it (`ORDER` for `OR`) is left alone.
fn keyword(i: &mut &str, kw: &str) -> PResult<bool> {
    let checkpoint = i.checkpoint();
    match word(i) {
        Ok(w) if w.eq_ignore_ascii_case(kw) => {
            ws(i)?;
            Ok(true)
        }
        _ => {
            i.reset(&checkpoint);
            Ok(false)
        }
    }
}

/// Consumes `sym` (and the spaces after it) if the text starts with it.
fn symbol(i: &mut &str, sym: &str) -> PResult<bool> {
    match i.strip_prefix(sym) {
        Some(rest) => {
            *i = rest;
            ws(i)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Whether the text after a `(` begins a query of its own.
fn starts_subquery(after_paren: &str) -> bool {
    let mut i = after_paren.trim_start();
    word(&mut i).is_ok_and(|w| {
        ["SELECT", "WITH", "VALUES"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
    })
}

fn comparison(i: &mut &str) -> PResult<Option<Op>> {
    // Two-character operators first, so `<=` is not read as `<`.
    const OPS: [(&str, Op); 7] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<>", Op::Ne),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("=", Op::Eq),
    ];
    for (sym, op) in OPS {
        if symbol(i, sym)? {
            return Ok(Some(op));
        }
    }
    Ok(None)
}

/// A single-quoted string; `''` inside stands for one quote.
fn string(i: &mut &str) -> PResult<String> {
    let start = *i;
    let body = &i[1..];
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((n, c)) = chars.next() {
        if c != '\'' {
            out.push(c);
            continue;
        }
        if body[n + 1..].starts_with('\'') {
            out.push('\'');
            chars.next();
            continue;
        }
        *i = &body[n + 1..];
        return Ok(out);
    }
    Err(fail(start, QueryErrorKind::UnterminatedString))
}

/// An optionally negative whole number.
fn number(i: &mut &str) -> PResult<i64> {
    let start = *i;
    let text = (
        winnow::combinator::opt('-'),
        take_while(1.., |c: char| c.is_ascii_digit()),
    )
        .take()
        .parse_next(i)
        .map_err(|_: Fail| unexpected(&start[1..], "a digit after '-'"))?;
    if i.starts_with(|c: char| c == '.' || c.is_ascii_alphanumeric() || c == '_') {
        return Err(fail(
            i,
            syntax("numbers are whole numbers, written in digits"),
        ));
    }
    text.parse()
        .map_err(|_| fail(start, QueryErrorKind::NumberOutOfRange(text.into())))
}
