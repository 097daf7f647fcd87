//! Input rules, each returning field errors in the shape of PRODUCT.md:
//! `{name, code, slug, message}`.

use serde::Serialize;

/// Longest message body, in characters. Large enough for a long paragraph,
/// small enough that a frame stays far below the 64 KiB frame limit.
pub const MAX_CONTENT_CHARS: usize = 4000;
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_ROOM_NAME_CHARS: usize = 100;
pub const MAX_AVATAR_CHARS: usize = 512;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Most people one request may put in a new room.
pub const MAX_PARTICIPANTS: usize = 1000;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub name: String,
    pub code: String,
    pub slug: String,
    pub message: String,
}

impl FieldError {
    pub fn new(name: &str, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            name: name.to_owned(),
            code: code.to_owned(),
            slug: format!("{name}.{code}"),
            message: message.into(),
        }
    }

    pub fn required(name: &str) -> Self {
        FieldError::new(name, "required", format!("{name} is required"))
    }
}

/// Collects field errors so a client learns every problem at once.
#[derive(Debug, Default)]
pub struct Checker {
    pub errors: Vec<FieldError>,
}

impl Checker {
    pub fn push(&mut self, e: FieldError) {
        self.errors.push(e);
    }

    /// A required string: present, trimmed non-empty, at most `max` characters.
    pub fn text<'a>(&mut self, name: &str, value: Option<&'a str>, max: usize) -> Option<&'a str> {
        match value {
            None => {
                self.push(FieldError::required(name));
                None
            }
            Some(v) => self.optional_text(name, Some(v), max),
        }
    }

    /// An optional string: when present, trimmed non-empty and at most `max` characters.
    pub fn optional_text<'a>(
        &mut self,
        name: &str,
        value: Option<&'a str>,
        max: usize,
    ) -> Option<&'a str> {
        let v = value?;
        if v.trim().is_empty() {
            self.push(FieldError::new(
                name,
                "empty",
                format!("{name} must not be empty"),
            ));
            return None;
        }
        if v.chars().count() > max {
            self.push(FieldError::new(
                name,
                "too_long",
                format!("{name} must be at most {max} characters"),
            ));
            return None;
        }
        Some(v)
    }

    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

/// A required whole number of seconds from `min` to `max` (a lifetime,
/// a period).
pub fn seconds(c: &mut Checker, name: &str, value: Option<i64>, min: i64, max: i64) -> Option<i64> {
    match value {
        None => c.push(FieldError::required(name)),
        Some(v) if !(min..=max).contains(&v) => c.push(FieldError::new(
            name,
            "range",
            format!("{name} must be a whole number of seconds from {min} to {max}"),
        )),
        Some(v) => return Some(v),
    }
    None
}

/// Longest reaction, in bytes: room for an emoji with skin tone and joiners
/// (a family emoji is 25 bytes), too small to carry a message.
pub const MAX_EMOJI_BYTES: usize = 32;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 256;

/// A reaction: 1–32 bytes with no whitespace or control characters. Any
/// such string is accepted (custom `:shortcodes:` included); clients show it.
pub fn emoji(c: &mut Checker, value: &str) {
    let ok = !value.is_empty()
        && value.len() <= MAX_EMOJI_BYTES
        && !value
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control());
    if !ok {
        c.push(FieldError::new(
            "emoji",
            "format",
            format!("emoji must be 1-{MAX_EMOJI_BYTES} bytes without spaces"),
        ));
    }
}

/// Logins are 3–32 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn login(c: &mut Checker, value: Option<&str>) {
    let Some(v) = value else {
        c.push(FieldError::required("login"));
        return;
    };
    let ok_len = (3..=32).contains(&v.len());
    let ok_chars = v
        .chars()
        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch));
    let ok_start = v
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_alphanumeric());
    if !(ok_len && ok_chars && ok_start) {
        c.push(FieldError::new(
            "login",
            "format",
            "login must be 3-32 characters of lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        ));
    }
}

/// A password field (`name` is "password" or "newPassword").
pub fn password(c: &mut Checker, name: &str, value: Option<&str>) {
    let Some(v) = value else {
        c.push(FieldError::required(name));
        return;
    };
    let n = v.chars().count();
    if n < MIN_PASSWORD_CHARS {
        c.push(FieldError::new(
            name,
            "too_short",
            format!("{name} must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    } else if n > MAX_PASSWORD_CHARS {
        c.push(FieldError::new(
            name,
            "too_long",
            format!("{name} must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
}

/// Message ids are UUIDs; returned in canonical lowercase hyphenated form.
pub fn message_id(c: &mut Checker, value: Option<&str>) -> Option<String> {
    let v = value?;
    match uuid::Uuid::parse_str(v) {
        Ok(u) => Some(u.hyphenated().to_string()),
        Err(_) => {
            c.push(FieldError::new(
                "messageId",
                "format",
                "messageId must be a UUID",
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_rules() {
        for ok in ["bob", "alice.w", "a_1-2"] {
            let mut c = Checker::default();
            login(&mut c, Some(ok));
            assert!(c.errors.is_empty(), "{ok}");
        }
        for bad in ["", "ab", "Bob", "-bob", "bob smith", &"x".repeat(33)] {
            let mut c = Checker::default();
            login(&mut c, Some(bad));
            assert_eq!(c.errors[0].slug, "login.format", "{bad}");
        }
    }

    #[test]
    fn text_limits() {
        let mut c = Checker::default();
        assert_eq!(c.text("name", Some("Al"), 64), Some("Al"));
        assert_eq!(c.text("name", Some("  "), 64), None);
        assert_eq!(c.text("name", None, 64), None);
        assert_eq!(c.text("name", Some("abc"), 2), None);
        let slugs: Vec<_> = c.errors.iter().map(|e| e.slug.as_str()).collect();
        assert_eq!(slugs, ["name.empty", "name.required", "name.too_long"]);
    }
}
