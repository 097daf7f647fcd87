//! Parse + compile output for every operator and combinator, and a table of
//! refused inputs with the error each must give.

use super::*;

const FIELDS: &[Field] = &[
    Field::new("id", "t.id", FieldType::Integer),
    Field::new("name", "t.name", FieldType::Text),
    Field::new("createdAt", "t.created_at", FieldType::Timestamp),
    Field::new("public", "t.public", FieldType::Boolean),
    Field::new("login", "t.login", FieldType::Text).with_ops(EQUALITY_OPS),
];

fn sql(text: &str) -> (String, Vec<Value>) {
    let filter = Filter::parse(text, FIELDS).unwrap_or_else(|e| panic!("{text}: {e}"));
    let mut params = Vec::new();
    let sql = filter.to_sql(&mut params);
    (sql, params)
}

fn int(n: i64) -> Value {
    Value::Integer(n)
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn every_comparison_compiles_to_a_bound_parameter() {
    for (written, emitted) in [
        ("=", "="),
        ("<>", "<>"),
        ("!=", "<>"),
        ("<", "<"),
        ("<=", "<="),
        (">", ">"),
        (">=", ">="),
    ] {
        let (s, p) = sql(&format!("id {written} 5"));
        assert_eq!(s, format!("t.id {emitted} ?1"));
        assert_eq!(p, [int(5)]);
        // No spaces needed around symbols.
        let (s2, _) = sql(&format!("id{written}5"));
        assert_eq!(s, s2);
    }
}

#[test]
fn like_and_not_like() {
    assert_eq!(
        sql("name LIKE 'a%'"),
        ("t.name LIKE ?1".into(), vec![text("a%")])
    );
    assert_eq!(
        sql("name not like '_b'"),
        ("t.name NOT LIKE ?1".into(), vec![text("_b")])
    );
}

#[test]
fn in_and_not_in() {
    assert_eq!(
        sql("id IN (1, 2,3)"),
        ("t.id IN (?1, ?2, ?3)".into(), vec![int(1), int(2), int(3)])
    );
    assert_eq!(
        sql("name NOT IN ('a')"),
        ("t.name NOT IN (?1)".into(), vec![text("a")])
    );
}

#[test]
fn null_tests() {
    assert_eq!(sql("name IS NULL"), ("t.name IS NULL".into(), vec![]));
    assert_eq!(
        sql("name is not null"),
        ("t.name IS NOT NULL".into(), vec![])
    );
}

#[test]
fn and_or_not_and_parentheses() {
    assert_eq!(
        sql("id = 1 AND name = 'x' OR NOT public = true"),
        (
            "((t.id = ?1 AND t.name = ?2) OR NOT (t.public = ?3))".into(),
            vec![int(1), text("x"), int(1)]
        )
    );
    assert_eq!(
        sql("id = 1 AND (name = 'x' OR public = false)"),
        (
            "(t.id = ?1 AND (t.name = ?2 OR t.public = ?3))".into(),
            vec![int(1), text("x"), int(0)]
        )
    );
    assert_eq!(sql("((id = 1))").0, "t.id = ?1");
    assert_eq!(sql("NOT NOT id = 1").0, "NOT (NOT (t.id = ?1))");
    // A chain stays one flat node.
    assert_eq!(
        sql("id = 1 OR id = 2 OR id = 3").0,
        "(t.id = ?1 OR t.id = ?2 OR t.id = ?3)"
    );
}

#[test]
fn literals() {
    assert_eq!(sql("name = 'it''s'").1, [text("it's")]);
    assert_eq!(sql("name = ''").1, [text("")]);
    assert_eq!(sql("name = 'ünï -- /* ; '").1, [text("ünï -- /* ; ")]);
    assert_eq!(sql("id = -12").1, [int(-12)]);
    assert_eq!(sql("id = 9223372036854775807").1, [int(i64::MAX)]);
    assert_eq!(sql("public = TRUE").1, [int(1)]);
    assert_eq!(
        sql("createdAt >= '2024-06-16T12:34:56.789Z'").1,
        [int(1_718_541_296_789)]
    );
    assert_eq!(
        sql("createdAt < '2024-06-16T14:34:56+02:00'").1,
        [int(1_718_541_296_000)]
    );
}

#[test]
fn keywords_are_case_insensitive_and_whole_words() {
    assert_eq!(
        sql("  id=1   and   name='a'  ").0,
        "(t.id = ?1 AND t.name = ?2)"
    );
    // `ORx` is not `OR`: the query has a stray word after a complete filter.
    assert!(Filter::parse("id = 1 ORx id = 2", FIELDS).is_err());
}

#[test]
fn placeholders_continue_after_the_callers_own() {
    let filter = Filter::parse("id IN (4, 5)", FIELDS).unwrap();
    let mut params = vec![int(1), int(2)];
    assert_eq!(filter.to_sql(&mut params), "t.id IN (?3, ?4)");
    assert_eq!(params.len(), 4);
}

#[test]
fn built_filters_join_parsed_ones() {
    let parsed = Filter::parse("name LIKE 'a%' OR id = 2", FIELDS).unwrap();
    let built = Filter::compare("t.login", Op::Eq, text("x' OR 1=1 --"));
    let both = Filter::all([built, parsed]).unwrap();
    let mut params = Vec::new();
    assert_eq!(
        both.to_sql(&mut params),
        "(t.login = ?1 AND (t.name LIKE ?2 OR t.id = ?3))"
    );
    assert_eq!(params, [text("x' OR 1=1 --"), text("a%"), int(2)]);
    assert_eq!(Filter::all([]), None);
    let one = Filter::all([Filter::compare("t.id", Op::Ge, int(3))]).unwrap();
    assert_eq!(one.to_sql(&mut Vec::new()), "t.id >= ?1");
}

#[test]
fn limits_are_inclusive() {
    let deep = format!("{}id = 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(Filter::parse(&deep, FIELDS).is_ok());
    let nots = format!("{}id = 1", "NOT ".repeat(MAX_DEPTH));
    assert!(Filter::parse(&nots, FIELDS).is_ok());
    let items = vec!["1"; MAX_IN_ITEMS].join(",");
    assert!(Filter::parse(&format!("id IN ({items})"), FIELDS).is_ok());
    let long = format!("name = '{}'", "x".repeat(MAX_QUERY_CHARS - 9));
    assert_eq!(long.chars().count(), MAX_QUERY_CHARS);
    assert!(Filter::parse(&long, FIELDS).is_ok());
}

/// `(input, expected kind as matched by the closure, expected position)`.
#[test]
fn refused_inputs() {
    use QueryErrorKind as K;
    let deep = format!("{}id = 1{}", "(".repeat(17), ")".repeat(17));
    let huge_nesting = format!("{}id = 1{}", "(".repeat(500), ")".repeat(500));
    let nots = format!("{}id = 1", "NOT ".repeat(17));
    let items = vec!["1"; MAX_IN_ITEMS + 1].join(",");
    let many = format!("id IN ({items})");
    let long = "x".repeat(MAX_QUERY_CHARS + 1);
    let syntax = |s: &str| K::Syntax(s.into());
    let cases: Vec<(&str, K, usize)> = vec![
        ("", K::Empty, 1),
        ("   ", K::Empty, 1),
        (&long, K::TooLong { max: MAX_QUERY_CHARS }, 1025),
        (&deep, K::TooDeep { max: MAX_DEPTH }, 17),
        (&huge_nesting, K::TooDeep { max: MAX_DEPTH }, 17),
        (&nots, K::TooDeep { max: MAX_DEPTH }, 65),
        (&many, K::TooManyItems { max: MAX_IN_ITEMS }, 208),
        // Injection classics.
        ("1=1; DROP TABLE users", K::Statement, 4),
        ("id = 1; DROP TABLE users", K::Statement, 7),
        ("' OR '1'='1", syntax("expected a field name, found `'`"), 1),
        ("name = '' OR '1'='1'", syntax("expected a field name, found `'`"), 14),
        ("name = 'x' --", K::Comment, 12),
        ("name = 'x' /* */", K::Comment, 12),
        ("/* */", K::Comment, 1),
        ("id = 1 # x", K::Comment, 8),
        ("id IN (SELECT id FROM users)", K::Subquery, 8),
        ("id = (SELECT 1)", K::Subquery, 6),
        ("(SELECT 1)", K::Subquery, 1),
        ("SELECT * FROM users", K::Subquery, 1),
        ("load_extension('x')", K::FunctionCall("load_extension".into()), 1),
        ("name = lower('x')", K::FunctionCall("lower".into()), 8),
        ("name = name", K::FieldComparison("name".into()), 8),
        ("id = id + 1", K::FieldComparison("id".into()), 6),
        ("name = NULL", K::NullComparison, 8),
        // Unbalanced quotes and parentheses.
        ("name = 'x", K::UnterminatedString, 8),
        ("name = 'x''", K::UnterminatedString, 8),
        ("(id = 1", syntax("expected ')' to close the '(' at character 1, found the end of the query"), 8),
        ("id = 1)", syntax("')' has no matching '('"), 7),
        ("id IN (1, 2", syntax("expected ',' or ')' in the IN list, found the end of the query"), 12),
        // Grammar.
        ("1 = 1", syntax("expected a field name, found `1`"), 1),
        ("'a' = name", syntax("expected a field name, found `'`"), 1),
        ("id", syntax("expected an operator (=, <>, !=, <, <=, >, >=, LIKE, IN or IS), found the end of the query"), 3),
        ("id == 1", syntax("expected a value (a 'string', a number, true or false), found `=`"), 5),
        ("id = 1 AND", syntax("expected a field name, found the end of the query"), 11),
        ("id = 1 id = 2", syntax("expected AND, OR or the end of the query, found `id`"), 8),
        ("id NOT = 1", syntax("expected LIKE or IN after NOT, found `=`"), 8),
        ("name IS 'x'", syntax("expected NULL, found `'`"), 9),
        ("id IN 1", syntax("expected '(' after IN, found `1`"), 7),
        ("id IN ()", syntax("expected a value (a 'string', a number, true or false), found `)`"), 8),
        ("name = \"x\"", syntax("strings are written in single quotes"), 8),
        ("id = 1.5", syntax("numbers are whole numbers, written in digits"), 7),
        ("id = -", syntax("expected a digit after '-', found the end of the query"), 7),
        ("id = 99999999999999999999", K::NumberOutOfRange("99999999999999999999".into()), 6),
        // Allow-list and types.
        (
            "nmae = 'x'",
            K::UnknownField {
                name: "nmae".into(),
                allowed: "id, name, createdAt, public, login".into(),
            },
            1,
        ),
        ("password_hash = 'x'", K::UnknownField {
            name: "password_hash".into(),
            allowed: "id, name, createdAt, public, login".into(),
        }, 1),
        ("id = 1 AND login LIKE 'a%'", K::OperatorNotAllowed { field: "login".into(), op: "LIKE" }, 12),
        ("login NOT IN ('a')", K::OperatorNotAllowed { field: "login".into(), op: "NOT IN" }, 1),
        ("id LIKE '1%'", K::OperatorNotAllowed { field: "id".into(), op: "LIKE" }, 1),
        ("public < true", K::OperatorNotAllowed { field: "public".into(), op: "<" }, 1),
        ("id = '1'", K::TypeMismatch { field: "id".into(), expected: "a whole number", found: "a string" }, 6),
        ("name = 1", K::TypeMismatch { field: "name".into(), expected: "a string", found: "a number" }, 8),
        ("public = 1", K::TypeMismatch { field: "public".into(), expected: "true or false", found: "a number" }, 10),
        ("id IN (1, 'x')", K::TypeMismatch { field: "id".into(), expected: "a whole number", found: "a string" }, 11),
        ("createdAt > 5", K::TypeMismatch { field: "createdAt".into(), expected: "an RFC 3339 timestamp string", found: "a number" }, 13),
        ("createdAt > 'yesterday'", K::BadTimestamp { field: "createdAt".into(), found: "yesterday".into() }, 13),
    ];
    for (input, kind, at) in cases {
        let got = Filter::parse(input, FIELDS).expect_err(input);
        assert_eq!(got, QueryError { at, kind }, "input: {input}");
        assert!(!got.to_string().is_empty());
    }
}

#[test]
fn unicode_positions_count_characters() {
    let e = Filter::parse("name = 'é' AND ü = 1", FIELDS).unwrap_err();
    assert_eq!(e.at, 16);
}
