//! The auto-replier: one task that answers messages in direct rooms for
//! users whose auto-reply rules match them, as those users.
//!
//! The commit path is untouched. Like the webhook deliverer, the task
//! reads the messages table itself: per (owner, direct room) the store
//! keeps a cursor, the last seq looked at. Room actors of direct rooms
//! with a rule owner among their members nudge the task through a
//! bounded channel after each commit that added messages (one atomic load
//! per commit otherwise, see `actors::watch`); the task reads what is
//! after the cursor, posts the replies through the room like any message,
//! and then moves the cursor. A sweep at start-up, on every rule change
//! (it also tells room actors who follows now) and on a timer catches
//! nudges a full channel dropped, and messages a crash or a stop left
//! unanswered: those are answered when the server is back, from the
//! cursor on. A rule answers only messages sent after it was created or
//! last enabled, so switching a rule on never answers old history.
//!
//! Once per trigger: the reply's messageId is derived from (rule id,
//! trigger messageId) and posting is idempotent on messageId, so a reply
//! repeated after a crash between post and cursor move stores nothing.
//! Only the first of the owner's enabled rules (oldest first) that
//! matches answers a message. No loops: replies are stored with
//! `autoReply` set and never trigger a rule, and a rule never answers its
//! owner's own messages.

use super::rounds::is_passing;
use crate::actors::RoomWatch;
use crate::app::App;
use crate::error::Error;
use crate::model::{AutoReply, Message, MessageKind, NewMessage, RoomId, Seq, Timestamp, UserId};
use crate::service;
use crate::store::StoreResult;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Full sweep period: catches nudges a full channel dropped.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);
/// Messages read from the store per (owner, room) step.
const BATCH: u32 = 100;
/// Pause after a post failed for a reason that may pass (the room was
/// busy, the server is stopping) before everything is looked at again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Runs until shutdown. `watch` is the one room actors nudge `nudges`
/// through; the task keeps its follower set (owners of enabled rules).
pub async fn run(app: Arc<App>, watch: RoomWatch, mut nudges: mpsc::Receiver<RoomId>) {
    let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut retry = false;
    loop {
        // `None`: every room (a sweep); otherwise the nudged ones.
        // Biased: a due sweep goes before queued nudges. It covers their
        // rooms anyway, and so everything committed before a rule change
        // is looked at before what is sent after it is answered.
        let rooms = tokio::select! {
            biased;
            _ = app.shutdown.cancelled() => return,
            // The first tick fires at once: the start-up sweep.
            _ = sweep.tick() => None,
            _ = app.auto_replies_changed.notified() => None,
            _ = tokio::time::sleep(RETRY_PAUSE), if retry => None,
            Some(room) = nudges.recv() => {
                let mut rooms = HashSet::from([room]);
                while let Ok(room) = nudges.try_recv() {
                    rooms.insert(room);
                }
                Some(rooms)
            }
        };
        retry = tokio::select! {
            _ = app.shutdown.cancelled() => return,
            retry = round(&app, &watch, rooms) => retry,
        };
    }
}

/// Answers what is waiting in `rooms` (all when `None`). True when
/// something must be tried again shortly.
async fn round(app: &App, watch: &RoomWatch, rooms: Option<HashSet<RoomId>>) -> bool {
    let targets = match rooms {
        None => sweep_targets(app, watch).await,
        Some(rooms) => {
            app.store
                .run(move |s| {
                    let mut all = Vec::new();
                    for room in rooms {
                        all.extend(s.auto_reply_targets(Some(room))?);
                    }
                    Ok(all)
                })
                .await
        }
    };
    let targets = match targets {
        Ok(targets) => targets,
        Err(e) => {
            tracing::error!(error = %e, "auto-reply: cannot read targets");
            return true;
        }
    };
    let mut retry = false;
    for (owner, room) in targets {
        if let Err(e) = answer_room(app, owner, room).await {
            tracing::warn!(owner, room, error = %e, "auto-reply: will try again");
            retry = true;
        }
    }
    retry
}

/// Every pair with unread messages, after telling room actors who owns
/// enabled rules now. In that order: a message committed before the new
/// follower set is in place is among the targets read after it, and one
/// committed later nudges.
async fn sweep_targets(app: &App, watch: &RoomWatch) -> StoreResult<Vec<(UserId, RoomId)>> {
    let owners = app.store.run(|s| s.auto_reply_owners()).await?;
    watch.set_followers(owners.into_iter().collect());
    app.store.run(|s| s.auto_reply_targets(None)).await
}

/// Answers `owner`'s unread messages in `room`, a batch at a time.
/// `Err` when it stopped early; the cursor stays before the message that
/// could not be answered.
async fn answer_room(app: &App, owner: UserId, room: RoomId) -> Result<(), Error> {
    loop {
        let work = app
            .store
            .run(move |s| s.auto_reply_work(owner, room, BATCH))
            .await?;
        let Some(last) = work.messages.last().map(|m| m.seq) else {
            return Ok(());
        };
        let mut done: Option<Seq> = None;
        for message in &work.messages {
            let rule = work.rules.iter().find(|rule| rule.answers(message));
            if let Some(rule) = rule {
                if let Err(e) = post_reply(app, rule, message).await {
                    if is_passing(&e) {
                        if let Some(seq) = done {
                            app.store
                                .run(move |s| s.auto_reply_done(owner, room, seq))
                                .await?;
                        }
                        return Err(e);
                    }
                    // The owner left the room, say: this one is skipped.
                    tracing::info!(owner, room, seq = message.seq, reason = %e.reason(), "auto-reply not posted");
                }
            }
            done = Some(message.seq);
        }
        app.store
            .run(move |s| s.auto_reply_done(owner, room, last))
            .await?;
        if work.messages.len() < BATCH as usize {
            return Ok(());
        }
    }
}

/// Posts `rule`'s reply to `trigger` as the rule's owner, through the
/// room like any message.
async fn post_reply(app: &App, rule: &AutoReply, trigger: &Message) -> Result<(), Error> {
    let reply = NewMessage {
        message_id: rule.reply_message_id(&trigger.message_id),
        sender_id: Some(rule.user_id),
        kind: MessageKind::Text,
        content: rule.reply.clone(),
        reply_id: Some(trigger.message_id.clone()),
        forward_of: None,
        file_id: None,
        preview: None,
        created_at: Timestamp::now(),
        auto_reply: true,
    };
    service::post_message(app, trigger.room_id, reply).await?;
    Ok(())
}
