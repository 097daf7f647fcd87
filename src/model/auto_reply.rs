//! Auto-reply rules: what a user wants answered for them in direct rooms,
//! and how a rule decides that a message is one to answer.

use super::{Message, MessageKind, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// How a rule's pattern is looked for in a message's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MatchMode {
    /// The pattern appears in the text exactly as written (case counts).
    Literal,
    /// The pattern appears in the text, ignoring case.
    CaseInsensitive,
    /// The pattern appears ignoring case, with no letter, digit or `_`
    /// right before or after it: `hi` matches "Hi there" and "oh, hi!"
    /// but not "this" or "hiking". A pattern of several words matches
    /// them as a phrase.
    WholeWord,
}

impl MatchMode {
    pub const ALL: &'static str = "literal, caseInsensitive, wholeWord";

    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::Literal => "literal",
            MatchMode::CaseInsensitive => "caseInsensitive",
            MatchMode::WholeWord => "wholeWord",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "literal" => MatchMode::Literal,
            "caseInsensitive" => MatchMode::CaseInsensitive,
            "wholeWord" => MatchMode::WholeWord,
            _ => return None,
        })
    }

    /// Does `pattern` occur in `text` in this mode?
    pub fn matches(self, pattern: &str, text: &str) -> bool {
        match self {
            MatchMode::Literal => text.contains(pattern),
            MatchMode::CaseInsensitive => text.to_lowercase().contains(&pattern.to_lowercase()),
            MatchMode::WholeWord => whole_word(&pattern.to_lowercase(), &text.to_lowercase()),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Some occurrence of `pattern` in `text` with no word character on
/// either side of it.
fn whole_word(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    // Every occurrence, overlapping ones too: in "xab ab ab" the pattern
    // "ab ab" qualifies only where it overlaps the first try.
    let mut from = 0;
    while let Some(found) = text[from..].find(pattern) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + pattern.len()..].chars().next();
        if !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char) {
            return true;
        }
        // On to the next character boundary after `at`.
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoReply {
    pub id: i64,
    pub user_id: UserId,
    pub pattern: String,
    pub match_mode: MatchMode,
    /// Whose messages it answers; `None`: anyone's.
    pub contact_id: Option<UserId>,
    pub reply: String,
    pub enabled: bool,
    /// Created or last enabled: only messages sent from then on are
    /// answered, never older history.
    pub active_since: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl AutoReply {
    /// Should this rule answer `m`, which arrived in a direct room of the
    /// rule's owner? Never the owner's own messages, system messages,
    /// deleted ones, or other auto-replies (which is what stops two
    /// users' rules from answering each other forever).
    pub fn answers(&self, m: &Message) -> bool {
        let Some(sender) = m.sender_id else {
            return false;
        };
        self.enabled
            && sender != self.user_id
            && !m.auto_reply
            && !m.deleted
            && m.kind != MessageKind::System
            && m.created_at >= self.active_since
            && self.contact_id.is_none_or(|c| c == sender)
            && self.match_mode.matches(&self.pattern, &m.content)
    }

    /// The messageId of this rule's reply to `trigger`: the same on every
    /// attempt, so posting it again (a retry, a restart) stores nothing.
    pub fn reply_message_id(&self, trigger: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"palaver auto-reply\0")
            .chain_update(self.id.to_be_bytes())
            .chain_update(trigger.as_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}

#[derive(Debug, Clone)]
pub struct NewAutoReply {
    pub user_id: UserId,
    pub pattern: String,
    pub match_mode: MatchMode,
    pub contact_id: Option<UserId>,
    pub reply: String,
    pub enabled: bool,
}

/// A change to a rule; `None` keeps a field as it is. `contact_id:
/// Some(None)` makes the rule answer anyone.
#[derive(Debug, Clone, Default)]
pub struct AutoReplyPatch {
    pub pattern: Option<String>,
    pub match_mode: Option<MatchMode>,
    pub contact_id: Option<Option<UserId>>,
    pub reply: Option<String>,
    pub enabled: Option<bool>,
}

/// What the auto-replier handles next for one owner in one direct room:
/// the owner's enabled rules and the messages after the cursor.
#[derive(Debug, Clone)]
pub struct AutoReplyWork {
    pub rules: Vec<AutoReply>,
    pub messages: Vec<Message>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_is_case_sensitive_substring() {
        assert!(MatchMode::Literal.matches("Hello", "well Hello there"));
        assert!(MatchMode::Literal.matches("ell", "Hello"));
        assert!(!MatchMode::Literal.matches("hello", "Hello"));
    }

    #[test]
    fn case_insensitive_ignores_case() {
        assert!(MatchMode::CaseInsensitive.matches("HELLO", "oh hello!"));
        assert!(MatchMode::CaseInsensitive.matches("straße", "STRASSE straße"));
        assert!(!MatchMode::CaseInsensitive.matches("bye", "hello"));
    }

    #[test]
    fn whole_word_needs_boundaries() {
        let m = MatchMode::WholeWord;
        assert!(m.matches("hi", "Hi there"));
        assert!(m.matches("hi", "oh, HI!"));
        assert!(m.matches("hi", "hi"));
        assert!(!m.matches("hi", "this"));
        assert!(!m.matches("hi", "hiking"));
        assert!(!m.matches("hi", "hi_there"));
        // A later occurrence may qualify where an earlier one does not.
        assert!(m.matches("hi", "this hi"));
        assert!(m.matches("good morning", "Good morning, all"));
        assert!(m.matches("café", "un café?"));
        assert!(!m.matches("café", "cafés"));
        assert!(m.matches("ab ab", "xab ab ab"));
    }

    #[test]
    fn reply_ids_are_stable_and_distinct() {
        let rule = |id| AutoReply {
            id,
            user_id: 1,
            pattern: "x".into(),
            match_mode: MatchMode::Literal,
            contact_id: None,
            reply: "y".into(),
            enabled: true,
            active_since: Timestamp(0),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        };
        let trigger = "0190b5a4-0000-7000-8000-000000000001";
        let a = rule(1).reply_message_id(trigger);
        assert_eq!(a, rule(1).reply_message_id(trigger));
        assert_ne!(a, rule(2).reply_message_id(trigger));
        assert_ne!(
            a,
            rule(1).reply_message_id("0190b5a4-0000-7000-8000-000000000002")
        );
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
