//! From parsed leaves to checked ones: every field must be on the
//! endpoint's allow-list, allow the operator, and get values of its type.
//! Values are converted to how the column stores them here, so the
//! compiler only ever sees allow-listed columns and typed values.

use super::error::{QueryError, QueryErrorKind};
use super::fields::{Field, FieldType};
use super::tree::{Condition, Expr, Literal, LiteralValue, Predicate, Test, Value};
use crate::model::Timestamp;

pub(super) fn check(
    tree: Expr<Predicate>,
    fields: &[Field],
    text: &str,
) -> Result<Expr<Condition>, QueryError> {
    tree.try_map(&mut |leaf| {
        condition(leaf, fields).map_err(|(byte, kind)| QueryError::at_byte(text, byte, kind))
    })
}

type Checked<T> = Result<T, (usize, QueryErrorKind)>;

fn condition(leaf: Predicate, fields: &[Field]) -> Checked<Condition> {
    let Some(field) = fields.iter().find(|f| f.name == leaf.field) else {
        let allowed = fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
        return Err((
            leaf.at,
            QueryErrorKind::UnknownField {
                name: leaf.field,
                allowed,
            },
        ));
    };
    if !field.allows(leaf.test.op()) {
        return Err((
            leaf.at,
            QueryErrorKind::OperatorNotAllowed {
                field: leaf.field,
                op: leaf.test.written(),
            },
        ));
    }
    let test = match leaf.test {
        Test::Compare(op, v) => Test::Compare(op, value(field, v)?),
        Test::Like { negated, pattern } => Test::Like {
            negated,
            pattern: value(field, pattern)?,
        },
        Test::In { negated, values } => Test::In {
            negated,
            values: values
                .into_iter()
                .map(|v| value(field, v))
                .collect::<Checked<_>>()?,
        },
        Test::Null { negated } => Test::Null { negated },
    };
    Ok(Condition {
        column: field.column,
        test,
    })
}

/// The literal as the field's column stores it.
fn value(field: &Field, literal: Literal) -> Checked<Value> {
    let at = literal.at;
    let mismatch = |found: &LiteralValue| {
        (
            at,
            QueryErrorKind::TypeMismatch {
                field: field.name.to_owned(),
                expected: field.ty.describe(),
                found: found.describe(),
            },
        )
    };
    match (field.ty, literal.value) {
        (FieldType::Text, LiteralValue::Text(s)) => Ok(Value::Text(s)),
        (FieldType::Integer, LiteralValue::Integer(n)) => Ok(Value::Integer(n)),
        (FieldType::Boolean, LiteralValue::Boolean(b)) => Ok(Value::Integer(i64::from(b))),
        (FieldType::Timestamp, LiteralValue::Text(s)) => match Timestamp::parse_rfc3339(&s) {
            Some(t) => Ok(Value::Integer(t.millis())),
            None => Err((
                at,
                QueryErrorKind::BadTimestamp {
                    field: field.name.to_owned(),
                    found: s,
                },
            )),
        },
        (_, other) => Err(mismatch(&other)),
    }
}
