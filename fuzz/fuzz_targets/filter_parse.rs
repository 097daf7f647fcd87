//! Arbitrary text, as a client may send it in `query=`, into the filter
//! parser and compiler. Every input must give a filter or a `QueryError`,
//! never a panic, overflow or hang; a filter must compile to SQL that holds
//! no client text (no quotes, comments or `;`) and exactly one parameter
//! per placeholder.
//!
//! Run from the repository root with `cargo +nightly fuzz run filter_parse`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palaver::query::{Field, FieldType, Filter};

/// One field of each type, so every checking path is reachable.
const FIELDS: &[Field] = &[
    Field::new("id", "t.id", FieldType::Integer),
    Field::new("name", "t.name", FieldType::Text),
    Field::new("public", "t.public", FieldType::Boolean),
    Field::new("createdAt", "t.created_at", FieldType::Timestamp),
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Filter::parse(&text, FIELDS) {
        Ok(filter) => {
            let mut params = Vec::new();
            let sql = filter.to_sql(&mut params);
            assert!(!sql.contains('\'') && !sql.contains(';') && !sql.contains("--"));
            assert!(!sql.contains("/*"));
            assert_eq!(sql.matches('?').count(), params.len());
        }
        Err(e) => {
            // The position points into the text or just past its end.
            assert!(e.at >= 1 && e.at <= text.chars().count() + 1);
            let _ = e.to_string();
        }
    }
});
