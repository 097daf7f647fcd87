//! Property test of the filter language against SQLite itself: random
//! filter trees over a small random table are rendered to `query=` text,
//! parsed and compiled, run on an in-memory SQLite table, and the matching
//! ids are compared with an in-memory evaluation of the same tree.
//!
//! The in-memory semantics are SQLite's: three-valued logic (a test on a
//! NULL is unknown, NOT unknown is unknown, and only true rows match),
//! LIKE case-insensitive for ASCII letters only with `%` any run and `_`
//! one character, text ordered by bytes (BINARY collation).

use palaver::model::Timestamp;
use palaver::query::{Field, FieldType, Filter, Op, MAX_QUERY_CHARS};
use proptest::prelude::*;
use rusqlite::Connection;
use std::cmp::Ordering;

const FIELDS: &[Field] = &[
    Field::new("id", "id", FieldType::Integer),
    Field::new("name", "name", FieldType::Text),
    Field::new("score", "score", FieldType::Integer),
    // IN on a flag is unusual but harmless; it exercises `with_ops`.
    Field::new("flag", "flag", FieldType::Boolean).with_ops(&[Op::Eq, Op::Ne, Op::In, Op::Null]),
    Field::new("at", "at", FieldType::Timestamp),
];

#[derive(Debug, Clone)]
struct Row {
    name: Option<String>,
    score: Option<i64>,
    flag: Option<bool>,
    at: Option<i64>,
}

/// A value as the column holds it; booleans and timestamps are integers.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Col {
    Id,
    Name,
    Score,
    Flag,
    At,
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
enum Leaf {
    Compare(Col, Cmp, V),
    Like(bool, String),
    In(Col, bool, Vec<V>),
    Null(Col, bool),
}

#[derive(Debug, Clone)]
enum Tree {
    Or(Vec<Tree>),
    And(Vec<Tree>),
    Not(Box<Tree>),
    Leaf(Leaf),
}

fn text() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "a", "A", "ab", "Ab", "b'c", "é", "É", "a_b", "a%"])
        .prop_map(str::to_owned)
}

fn pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "A", "b", "%", "_", "'", "é", "c"]),
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

const TIMES: [i64; 4] = [0, 1_000, 86_400_000, 1_718_541_296_789];

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::weighted(0.8, text()),
        prop::option::weighted(0.8, -2i64..3),
        prop::option::weighted(0.8, any::<bool>()),
        prop::option::weighted(0.8, prop::sample::select(TIMES.to_vec())),
    )
        .prop_map(|(name, score, flag, at)| Row {
            name,
            score,
            flag,
            at,
        })
}

/// A value of the column's type.
fn value(col: Col) -> BoxedStrategy<V> {
    match col {
        Col::Id => (0i64..8).prop_map(V::Int).boxed(),
        Col::Name => text().prop_map(V::Text).boxed(),
        Col::Score => (-3i64..4).prop_map(V::Int).boxed(),
        Col::Flag => any::<bool>().prop_map(|b| V::Int(i64::from(b))).boxed(),
        Col::At => prop::sample::select(TIMES.to_vec())
            .prop_map(V::Int)
            .boxed(),
    }
}

fn col() -> impl Strategy<Value = Col> {
    prop::sample::select(vec![Col::Id, Col::Name, Col::Score, Col::Flag, Col::At])
}

fn cmp(col: Col) -> BoxedStrategy<Cmp> {
    if col == Col::Flag {
        // Booleans allow equality only.
        prop::sample::select(vec![Cmp::Eq, Cmp::Ne]).boxed()
    } else {
        prop::sample::select(vec![Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge]).boxed()
    }
}

fn leaf() -> impl Strategy<Value = Leaf> {
    prop_oneof![
        col()
            .prop_flat_map(|c| (cmp(c), value(c)).prop_map(move |(op, v)| Leaf::Compare(c, op, v))),
        (any::<bool>(), pattern()).prop_map(|(neg, p)| Leaf::Like(neg, p)),
        (col(), any::<bool>()).prop_flat_map(|(c, neg)| {
            prop::collection::vec(value(c), 1..4).prop_map(move |vs| Leaf::In(c, neg, vs))
        }),
        (col(), any::<bool>()).prop_map(|(c, neg)| Leaf::Null(c, neg)),
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    leaf()
        .prop_map(Tree::Leaf)
        .prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Tree::Or),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Tree::And),
                inner.prop_map(|t| Tree::Not(Box::new(t))),
            ]
        })
}

// ---- rendering to query text ----

fn col_name(c: Col) -> &'static str {
    match c {
        Col::Id => "id",
        Col::Name => "name",
        Col::Score => "score",
        Col::Flag => "flag",
        Col::At => "at",
    }
}

fn render_value(c: Col, v: &V) -> String {
    match (c, v) {
        (Col::Flag, V::Int(n)) => if *n == 1 { "true" } else { "FALSE" }.to_owned(),
        (Col::At, V::Int(ms)) => format!("'{}'", Timestamp(*ms).to_rfc3339()),
        (_, V::Int(n)) => n.to_string(),
        (_, V::Text(s)) => quote(s),
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn render_leaf(l: &Leaf) -> String {
    match l {
        Leaf::Compare(c, op, v) => {
            let op = match op {
                Cmp::Eq => "=",
                Cmp::Ne => "!=",
                Cmp::Lt => "<",
                Cmp::Le => "<=",
                Cmp::Gt => ">",
                Cmp::Ge => ">=",
            };
            format!("{} {op} {}", col_name(*c), render_value(*c, v))
        }
        Leaf::Like(neg, p) => {
            format!("name {}like {}", if *neg { "NOT " } else { "" }, quote(p))
        }
        Leaf::In(c, neg, vs) => {
            let items: Vec<String> = vs.iter().map(|v| render_value(*c, v)).collect();
            format!(
                "{} {}IN ({})",
                col_name(*c),
                if *neg { "not " } else { "" },
                items.join(",")
            )
        }
        Leaf::Null(c, neg) => {
            format!("{} IS {}NULL", col_name(*c), if *neg { "NOT " } else { "" })
        }
    }
}

fn render(t: &Tree) -> String {
    match t {
        Tree::Or(items) => join(items, " OR "),
        Tree::And(items) => join(items, " and "),
        Tree::Not(inner) => format!("NOT ({})", render(inner)),
        Tree::Leaf(l) => render_leaf(l),
    }
}

fn join(items: &[Tree], sep: &str) -> String {
    let parts: Vec<String> = items.iter().map(|t| format!("({})", render(t))).collect();
    parts.join(sep)
}

// ---- evaluation as SQLite does it ----

fn column(id: i64, r: &Row, c: Col) -> Option<V> {
    match c {
        Col::Id => Some(V::Int(id)),
        Col::Name => r.name.clone().map(V::Text),
        Col::Score => r.score.map(V::Int),
        Col::Flag => r.flag.map(|b| V::Int(i64::from(b))),
        Col::At => r.at.map(V::Int),
    }
}

fn order(a: &V, b: &V) -> Ordering {
    match (a, b) {
        (V::Int(x), V::Int(y)) => x.cmp(y),
        (V::Text(x), V::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => unreachable!("values always match their column's type"),
    }
}

fn like(text: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|n| like(&text[n..], rest)),
        Some((p, rest)) => match text.split_first() {
            Some((t, more)) => (*p == '_' || t.eq_ignore_ascii_case(p)) && like(more, rest),
            None => false,
        },
    }
}

fn eval_leaf(id: i64, r: &Row, l: &Leaf) -> Option<bool> {
    match l {
        Leaf::Compare(c, op, v) => {
            let o = order(&column(id, r, *c)?, v);
            Some(match op {
                Cmp::Eq => o == Ordering::Equal,
                Cmp::Ne => o != Ordering::Equal,
                Cmp::Lt => o == Ordering::Less,
                Cmp::Le => o != Ordering::Greater,
                Cmp::Gt => o == Ordering::Greater,
                Cmp::Ge => o != Ordering::Less,
            })
        }
        Leaf::Like(neg, p) => {
            let name: Vec<char> = r.name.as_ref()?.chars().collect();
            let p: Vec<char> = p.chars().collect();
            Some(like(&name, &p) != *neg)
        }
        Leaf::In(c, neg, vs) => {
            let x = column(id, r, *c)?;
            Some(vs.iter().any(|v| order(&x, v) == Ordering::Equal) != *neg)
        }
        Leaf::Null(c, neg) => Some(column(id, r, *c).is_none() != *neg),
    }
}

fn eval(id: i64, r: &Row, t: &Tree) -> Option<bool> {
    match t {
        // Kleene logic: false wins an AND, true wins an OR, else unknown.
        Tree::And(items) => {
            let vals: Vec<Option<bool>> = items.iter().map(|t| eval(id, r, t)).collect();
            if vals.contains(&Some(false)) {
                Some(false)
            } else if vals.contains(&None) {
                None
            } else {
                Some(true)
            }
        }
        Tree::Or(items) => {
            let vals: Vec<Option<bool>> = items.iter().map(|t| eval(id, r, t)).collect();
            if vals.contains(&Some(true)) {
                Some(true)
            } else if vals.contains(&None) {
                None
            } else {
                Some(false)
            }
        }
        Tree::Not(inner) => eval(id, r, inner).map(|b| !b),
        Tree::Leaf(l) => eval_leaf(id, r, l),
    }
}

fn table(rows: &[Row]) -> Connection {
    let conn = Connection::open_in_memory().expect("in-memory db");
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score INTEGER,
                         flag INTEGER, at INTEGER)",
    )
    .expect("create");
    for (n, r) in rows.iter().enumerate() {
        conn.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![n as i64 + 1, r.name, r.score, r.flag, r.at],
        )
        .expect("insert");
    }
    conn
}

proptest! {
    // Failures print the query and SQL; no regression files in the tree.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sqlite_and_the_model_agree(rows in prop::collection::vec(row(), 0..10), t in tree()) {
        let text = render(&t);
        prop_assume!(text.chars().count() <= MAX_QUERY_CHARS);
        let filter = Filter::parse(&text, FIELDS)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut params = Vec::new();
        let sql = filter.to_sql(&mut params);
        let conn = table(&rows);
        let mut stmt = conn
            .prepare(&format!("SELECT id FROM t WHERE {sql} ORDER BY id"))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let got: Vec<i64> = stmt
            .query_map(rusqlite::params_from_iter(&params), |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let want: Vec<i64> = rows
            .iter()
            .enumerate()
            .map(|(n, r)| (n as i64 + 1, r))
            .filter(|(id, r)| eval(*id, r, &t) == Some(true))
            .map(|(id, _)| id)
            .collect();
        prop_assert_eq!(got, want, "query: {}\nsql: {}", text, sql);
    }
}

/// Pieces of the grammar and of SQL it refuses, so random texts get deep
/// into the parser instead of failing at the first character.
fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "id",
            "name",
            "flag",
            "at",
            "score",
            "x",
            "(",
            ")",
            "((",
            "NOT ",
            " AND ",
            " OR ",
            " = ",
            "<>",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            " LIKE ",
            " IN ",
            " IS ",
            " NULL",
            ",",
            "'a'",
            "'",
            "''",
            "'2024-06-16T12:34:56Z'",
            "1",
            "-",
            "99999999999999999999",
            "true",
            "false",
            ";",
            "--",
            "/*",
            "SELECT",
            " ",
            "é",
            "\"",
            ".5",
        ]),
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2048,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The parser is total: any text gives a filter or an error with a
    /// position inside the text, and a filter's SQL carries no client text.
    #[test]
    fn any_text_parses_or_is_refused(text in prop_oneof![token_soup(), any::<String>()]) {
        match Filter::parse(&text, FIELDS) {
            Ok(filter) => {
                let mut params = Vec::new();
                let sql = filter.to_sql(&mut params);
                prop_assert!(!sql.contains('\'') && !sql.contains(';') && !sql.contains("--"));
                prop_assert_eq!(sql.matches('?').count(), params.len());
            }
            Err(e) => {
                prop_assert!(e.at >= 1 && e.at <= text.chars().count() + 1, "{}: {}", text, e);
            }
        }
    }
}
