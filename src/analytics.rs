//! What a person's conversations say, computed from their messages: time
//! spent talking, a per-day chart, messages per resource type, and the
//! rankings of noisy and best contacts. Pure functions over what the store
//! returns, so every rule here is unit-tested.
//!
//! **How conversation time is estimated.** Messages are taken in time
//! order; a gap of more than [`CONVERSATION_GAP_MS`] (5 minutes) between
//! two messages ends one conversation and starts the next. A conversation
//! lasts from its first to its last message, plus [`FIRST_MESSAGE_MS`]
//! (1 minute) for reading and writing its first message, so a lone message
//! counts as one minute. In the per-day chart each gap inside a
//! conversation counts on the day of the later message, and each
//! conversation's first minute on the day it starts; the days add up to
//! the total.

use crate::model::{ContactActivity, ConversationEvent, MessageKind, UserId};
use serde::Serialize;

/// A silence longer than this ends a conversation.
pub const CONVERSATION_GAP_MS: i64 = 5 * 60 * 1000;
/// Time credited for the first message of a conversation.
pub const FIRST_MESSAGE_MS: i64 = 60 * 1000;
/// One UTC day.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The resource types a client can send, as analysis reports them.
pub const RESOURCE_KINDS: [MessageKind; 7] = [
    MessageKind::Text,
    MessageKind::Image,
    MessageKind::File,
    MessageKind::Audio,
    MessageKind::Video,
    MessageKind::Voice,
    MessageKind::Link,
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SentReceived {
    pub sent: u64,
    pub received: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationTime {
    pub conversations: u64,
    pub minutes: f64,
}

/// One day of the chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// 0 is today, 1 yesterday, …
    pub days_ago: u32,
    pub messages: u64,
    pub minutes: f64,
}

fn minutes(ms: i64) -> f64 {
    // Two decimals: minutes are an estimate, not a stopwatch.
    (ms as f64 / 60_000.0 * 100.0).round() / 100.0
}

/// The milliseconds each event adds to conversation time: the gap to the
/// previous event inside a conversation, or the first-message credit.
fn credits(events: &[ConversationEvent]) -> impl Iterator<Item = (i64, i64)> + '_ {
    events.iter().enumerate().map(|(i, e)| {
        let gap = i
            .checked_sub(1)
            .map(|p| e.at - events[p].at)
            .filter(|gap| *gap <= CONVERSATION_GAP_MS);
        (e.at, gap.unwrap_or(FIRST_MESSAGE_MS))
    })
}

/// Conversation count and time over events sorted by time.
pub fn conversation_time(events: &[ConversationEvent]) -> ConversationTime {
    let mut total = ConversationTime::default();
    let mut ms = 0;
    for (i, (_, credit)) in credits(events).enumerate() {
        let starts = i == 0 || events[i].at - events[i - 1].at > CONVERSATION_GAP_MS;
        if starts {
            total.conversations += 1;
        }
        ms += credit;
    }
    total.minutes = minutes(ms);
    total
}

/// Messages and minutes per UTC day for the `days` days ending today
/// (oldest first), zero-filled. `events` sorted by time; `now_ms` decides
/// what "today" is.
pub fn daily(events: &[ConversationEvent], now_ms: i64, days: u32) -> Vec<Day> {
    let today = now_ms.div_euclid(DAY_MS);
    let mut counts = vec![(0u64, 0i64); days as usize];
    for (at, credit) in credits(events) {
        let ago = today - at.div_euclid(DAY_MS);
        if let Some(slot) = usize::try_from(ago)
            .ok()
            .filter(|a| *a < days as usize)
            .and_then(|a| counts.get_mut(a))
        {
            slot.0 += 1;
            slot.1 += credit;
        }
    }
    (0..days)
        .rev()
        .map(|ago| {
            let (messages, ms) = counts[ago as usize];
            let start = crate::model::Timestamp((today - i64::from(ago)) * DAY_MS);
            Day {
                date: start.to_rfc3339()[..10].to_owned(),
                days_ago: ago,
                messages,
                minutes: minutes(ms),
            }
        })
        .collect()
}

/// Messages sent and received per resource type (system messages and
/// other people's are not counted).
pub fn resources(events: &[ConversationEvent], me: UserId) -> Vec<(MessageKind, SentReceived)> {
    RESOURCE_KINDS
        .iter()
        .map(|kind| {
            let mut c = SentReceived::default();
            for e in events.iter().filter(|e| e.kind == *kind) {
                if e.sender_id == me {
                    c.sent += 1;
                } else {
                    c.received += 1;
                }
            }
            (*kind, c)
        })
        .collect()
}

/// How noisy a contact is: messages they sent me for each one I sent
/// them, plus one (so a contact I never answer scores what they sent).
/// Only contacts who wrote at all count.
pub fn noisiness(a: &ContactActivity) -> f64 {
    a.received as f64 / (a.sent as f64 + 1.0)
}

/// How good a conversation is: the two-way part (the smaller of the two
/// directions) plus the media and links both sides shared, which weigh
/// double.
pub fn closeness(a: &ContactActivity) -> f64 {
    a.sent.min(a.received) as f64 + 2.0 * (a.sent_media + a.received_media) as f64
}

/// Noisiest first; contacts who never wrote are left out.
pub fn rank_noisy(mut all: Vec<ContactActivity>) -> Vec<(ContactActivity, f64)> {
    all.retain(|a| a.received > 0);
    rank(all, noisiness)
}

/// Closest first; contacts with no exchange at all are left out.
pub fn rank_best(mut all: Vec<ContactActivity>) -> Vec<(ContactActivity, f64)> {
    all.retain(|a| closeness(a) > 0.0);
    rank(all, closeness)
}

fn rank(
    all: Vec<ContactActivity>,
    score: fn(&ContactActivity) -> f64,
) -> Vec<(ContactActivity, f64)> {
    let mut scored: Vec<_> = all
        .into_iter()
        .map(|a| {
            let s = (score(&a) * 100.0).round() / 100.0;
            (a, s)
        })
        .collect();
    // Ties broken by id so pages are stable.
    scored.sort_by(|(a, sa), (b, sb)| {
        sb.total_cmp(sa)
            .then(a.contact.user.id.cmp(&b.contact.user.id))
    });
    scored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Contact, Timestamp, User};

    const MIN: i64 = 60_000;

    fn ev(sender: UserId, kind: MessageKind, at: i64) -> ConversationEvent {
        ConversationEvent {
            sender_id: sender,
            kind,
            at,
        }
    }

    fn text_at(ats: &[i64]) -> Vec<ConversationEvent> {
        ats.iter().map(|at| ev(1, MessageKind::Text, *at)).collect()
    }

    #[test]
    fn conversations_split_on_gaps_over_five_minutes() {
        assert_eq!(conversation_time(&[]), ConversationTime::default());
        let one = conversation_time(&text_at(&[0]));
        assert_eq!((one.conversations, one.minutes), (1, 1.0));
        // 0, 2, 7 minutes: one conversation of 7 minutes + 1.
        let t = conversation_time(&text_at(&[0, 2 * MIN, 7 * MIN]));
        assert_eq!((t.conversations, t.minutes), (1, 8.0));
        // A gap of 5 min 1 s starts a second conversation.
        let t = conversation_time(&text_at(&[0, 5 * MIN + 1000]));
        assert_eq!((t.conversations, t.minutes), (2, 2.0));
    }

    #[test]
    fn daily_is_zero_filled_and_adds_up_to_the_total() {
        let now = 20 * DAY_MS + 12 * 60 * MIN;
        let events = text_at(&[
            now - 3 * DAY_MS,
            now - 3 * DAY_MS + MIN,
            now - 20 * DAY_MS,
            now - 10 * MIN,
            now - 8 * MIN,
        ]);
        let mut sorted = events.clone();
        sorted.sort_by_key(|e| e.at);
        let days = daily(&sorted, now, 14);
        assert_eq!(days.len(), 14);
        assert_eq!(days[13].days_ago, 0);
        assert_eq!(days[13].date, Timestamp(now).to_rfc3339()[..10]);
        assert_eq!((days[13].messages, days[13].minutes), (2, 3.0));
        assert_eq!((days[10].messages, days[10].minutes), (2, 2.0));
        assert_eq!(days.iter().map(|d| d.messages).sum::<u64>(), 4);
        let in_range: Vec<_> = sorted[1..].to_vec();
        let total = conversation_time(&in_range).minutes;
        assert_eq!(days.iter().map(|d| d.minutes).sum::<f64>(), total);
    }

    #[test]
    fn resources_split_by_kind_and_direction() {
        let events = [
            ev(1, MessageKind::Image, 0),
            ev(2, MessageKind::Image, 1),
            ev(2, MessageKind::Image, 2),
            ev(1, MessageKind::Link, 3),
            ev(0, MessageKind::System, 4),
        ];
        let r = resources(&events, 1);
        assert_eq!(r.len(), 7);
        let get = |k| r.iter().find(|(kind, _)| *kind == k).unwrap().1;
        assert_eq!(
            get(MessageKind::Image),
            SentReceived {
                sent: 1,
                received: 2
            }
        );
        assert_eq!(
            get(MessageKind::Link),
            SentReceived {
                sent: 1,
                received: 0
            }
        );
        assert_eq!(get(MessageKind::Text), SentReceived::default());
    }

    fn activity(id: UserId, sent: i64, received: i64, media: i64) -> ContactActivity {
        ContactActivity {
            contact: Contact {
                user: User {
                    id,
                    login: format!("u{id}"),
                    name: format!("u{id}"),
                    avatar: None,
                    created_at: Timestamp(0),
                },
                phone: None,
                direct_room_id: Some(id),
            },
            sent,
            received,
            sent_media: media,
            received_media: 0,
        }
    }

    #[test]
    fn rankings() {
        let all = vec![
            activity(1, 10, 10, 0),
            activity(2, 0, 9, 0),
            activity(3, 1, 0, 0),
            activity(4, 2, 6, 3),
        ];
        let noisy: Vec<_> = rank_noisy(all.clone())
            .iter()
            .map(|(a, _)| a.contact.user.id)
            .collect();
        assert_eq!(noisy, [2, 4, 1], "who writes most and hears least");
        let best: Vec<_> = rank_best(all)
            .iter()
            .map(|(a, s)| (a.contact.user.id, *s))
            .collect();
        assert_eq!(best, [(1, 10.0), (4, 8.0)]);
    }
}
