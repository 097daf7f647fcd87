//! Checks on the raw text before parsing: size, emptiness, and the marks of
//! SQL that is not a filter (comments, statement separators). Doing these
//! first gives the clearest reason for the commonest injection attempts,
//! whatever else the text holds.

use super::error::{QueryError, QueryErrorKind};

/// Longest query text accepted, in characters: bounds parse time and
/// memory, and no hand-written filter comes near it.
pub const MAX_QUERY_CHARS: usize = 1024;

pub(super) fn scan(text: &str) -> Result<(), QueryError> {
    if let Some((byte, _)) = text.char_indices().nth(MAX_QUERY_CHARS) {
        return Err(QueryError::at_byte(
            text,
            byte,
            QueryErrorKind::TooLong {
                max: MAX_QUERY_CHARS,
            },
        ));
    }
    if text.trim().is_empty() {
        return Err(QueryError::at_byte(text, 0, QueryErrorKind::Empty));
    }
    let bytes = text.as_bytes();
    let mut in_string = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\'' {
            // A doubled quote inside a string toggles twice: still inside.
            in_string = !in_string;
            continue;
        }
        if in_string {
            continue;
        }
        let next = bytes.get(i + 1).copied();
        let kind = match (b, next) {
            (b'-', Some(b'-')) | (b'/', Some(b'*')) | (b'*', Some(b'/')) | (b'#', _) => {
                QueryErrorKind::Comment
            }
            (b';', _) => QueryErrorKind::Statement,
            _ => continue,
        };
        return Err(QueryError::at_byte(text, i, kind));
    }
    Ok(())
}
