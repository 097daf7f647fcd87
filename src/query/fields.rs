//! The allow-list an endpoint filters on: for each field its API name, the
//! column expression it stands for, its type and the operators it takes.
//! Only these column expressions ever reach SQL text, so the list is the
//! whole attack surface of a filter and is written by us, never by a client.

/// The kinds of test a field may allow. `Like` covers `NOT LIKE`, `In`
/// covers `NOT IN` and `Null` covers `IS NULL` and `IS NOT NULL`: a negation
/// reveals nothing the positive form does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    In,
    Null,
}

impl Op {
    /// How the operator is written in a query, for error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::In => "IN",
            Op::Null => "IS NULL",
        }
    }
}

/// What values a field holds in the API, and so which literals it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Single-quoted strings.
    Text,
    /// Whole numbers.
    Integer,
    /// RFC 3339 strings in the API, unix milliseconds in the column.
    Timestamp,
    /// `true` / `false` in the API, 1 / 0 in the column.
    Boolean,
}

impl FieldType {
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Text => "a string",
            FieldType::Integer => "a whole number",
            FieldType::Timestamp => "an RFC 3339 timestamp string",
            FieldType::Boolean => "true or false",
        }
    }
}

/// Every operator.
pub const ALL_OPS: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::Lt,
    Op::Le,
    Op::Gt,
    Op::Ge,
    Op::Like,
    Op::In,
    Op::Null,
];
/// Equality and null tests, for flags.
pub const EQUALITY_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Null];

/// One filterable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The camelCase name clients write.
    pub name: &'static str,
    /// The SQL column expression it compiles to (e.g. `r.created_at`).
    pub column: &'static str,
    pub ty: FieldType,
    pub ops: &'static [Op],
}

impl Field {
    /// A field with the operators that suit its type: all of them for text,
    /// numbers and timestamps (LIKE applies to text only, see
    /// [`Field::allows`]), equality and null tests for booleans.
    pub const fn new(name: &'static str, column: &'static str, ty: FieldType) -> Field {
        let ops = match ty {
            FieldType::Text | FieldType::Integer | FieldType::Timestamp => ALL_OPS,
            FieldType::Boolean => EQUALITY_OPS,
        };
        Field {
            name,
            column,
            ty,
            ops,
        }
    }

    /// The same field with a narrower set of operators.
    pub const fn with_ops(self, ops: &'static [Op]) -> Field {
        Field { ops, ..self }
    }

    /// Whether the allow-list entry takes `op`. LIKE is refused on
    /// anything but text whatever the list says: on a number it would
    /// compare the number's text form, which no client means.
    pub fn allows(&self, op: Op) -> bool {
        self.ops.contains(&op) && (op != Op::Like || self.ty == FieldType::Text)
    }
}
