//! Keeps one socket's room traffic in order across a `resume`: while a
//! room's missed messages are being read, its live frames are held; then
//! the replay is written, then the held frames, each seq at most once.
//! Change frames (edits, deletes, reactions) are held too, and never
//! dropped as repeats: they carry no new seq.

use crate::actors::messages::{Outgoing, Replay};
use crate::model::{RoomId, Seq};
use crate::protocol::Encoded;
use std::collections::HashMap;

#[derive(Default)]
struct RoomState {
    /// Lowest and highest seq written to this socket; everything between
    /// was written too (live frames arrive in order, and a socket that
    /// misses one is disconnected).
    sent: Option<(Seq, Seq)>,
    /// Live frames held while a replay is on its way.
    held: Option<Vec<Held>>,
}

/// A live frame held during a resume.
enum Held {
    Message(Seq, Encoded),
    Change(Encoded),
}

impl RoomState {
    fn already_sent(&self, seq: Seq) -> bool {
        self.sent.is_some_and(|(lo, hi)| lo <= seq && seq <= hi)
    }

    fn mark_sent(&mut self, seq: Seq) {
        self.sent = Some(match self.sent {
            None => (seq, seq),
            Some((lo, hi)) => (lo.min(seq), hi.max(seq)),
        });
    }

    fn write(&mut self, at: (RoomId, Seq), frame: Encoded, out: &mut impl Written) {
        if !self.already_sent(at.1) {
            self.mark_sent(at.1);
            out.written(Some(at), frame);
        }
    }
}

/// Where the frames to write go. The WebSocket writer needs only the bytes;
/// the SSE stream also needs each room frame's (room, seq) for its event id.
pub trait Written {
    fn written(&mut self, at: Option<(RoomId, Seq)>, frame: Encoded);
}

impl Written for Vec<Encoded> {
    fn written(&mut self, _: Option<(RoomId, Seq)>, frame: Encoded) {
        self.push(frame);
    }
}

impl Written for Vec<(Option<(RoomId, Seq)>, Encoded)> {
    fn written(&mut self, at: Option<(RoomId, Seq)>, frame: Encoded) {
        self.push((at, frame));
    }
}

#[derive(Default)]
pub struct Ordering {
    rooms: HashMap<RoomId, RoomState>,
}

impl Ordering {
    /// Turns one queued item into the frames to write now, in order.
    pub fn accept(&mut self, item: Outgoing, out: &mut impl Written) {
        match item {
            Outgoing::Frame(frame) => out.written(None, frame),
            Outgoing::RoomFrame {
                room_id,
                seq,
                frame,
            } => {
                let room = self.rooms.entry(room_id).or_default();
                match &mut room.held {
                    Some(held) => held.push(Held::Message(seq, frame)),
                    None => room.write((room_id, seq), frame, out),
                }
            }
            Outgoing::RoomChange { room_id, frame } => {
                match &mut self.rooms.entry(room_id).or_default().held {
                    Some(held) => held.push(Held::Change(frame)),
                    None => out.written(None, frame),
                }
            }
            Outgoing::ResumeStart { room_id } => {
                self.rooms.entry(room_id).or_default().held = Some(Vec::new());
            }
            Outgoing::ResumeData { room_id, replay } => {
                let Replay { frames, changes } = *replay;
                let room = self.rooms.entry(room_id).or_default();
                let held = room.held.take().unwrap_or_default();
                // The replay fills the hole below what went out live, so
                // judge "already sent" against the range from before it.
                let live = RoomState {
                    sent: room.sent,
                    held: None,
                };
                let replay = frames.into_iter().map(|(seq, f)| Held::Message(seq, f));
                let changes = changes.into_iter().map(Held::Change);
                let mut newest = 0;
                for item in replay.chain(changes).chain(held) {
                    match item {
                        Held::Change(frame) => out.written(None, frame),
                        Held::Message(seq, frame) => {
                            if live.already_sent(seq) || seq <= newest {
                                continue;
                            }
                            newest = seq;
                            room.mark_sent(seq);
                            out.written(Some((room_id, seq)), frame);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: Seq) -> Encoded {
        Encoded::new(seq.to_string().into(), Default::default())
    }

    fn live(seq: Seq) -> Outgoing {
        Outgoing::RoomFrame {
            room_id: 1,
            seq,
            frame: frame(seq),
        }
    }

    fn replay(seqs: &[Seq]) -> Outgoing {
        Outgoing::ResumeData {
            room_id: 1,
            replay: Box::new(Replay {
                frames: seqs.iter().map(|s| (*s, frame(*s))).collect(),
                changes: Vec::new(),
            }),
        }
    }

    fn run(items: Vec<Outgoing>) -> Vec<String> {
        let mut o = Ordering::default();
        let mut out: Vec<Encoded> = Vec::new();
        for i in items {
            o.accept(i, &mut out);
        }
        out.iter()
            .map(|e| String::from_utf8(e.json.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn replay_comes_before_live_frames_held_during_it() {
        let got = run(vec![
            Outgoing::ResumeStart { room_id: 1 },
            live(4), // committed after the replay was read
            replay(&[2, 3]),
            live(5),
        ]);
        assert_eq!(got, ["2", "3", "4", "5"]);
    }

    #[test]
    fn frames_in_both_replay_and_live_are_written_once() {
        let got = run(vec![
            Outgoing::ResumeStart { room_id: 1 },
            live(3),
            replay(&[2, 3]),
        ]);
        assert_eq!(got, ["2", "3"]);
    }

    #[test]
    fn changes_held_during_a_resume_follow_the_replay() {
        let change = |s: &str| Outgoing::RoomChange {
            room_id: 1,
            frame: Encoded::new(s.to_owned().into(), Default::default()),
        };
        let got = run(vec![
            change("e0"),
            Outgoing::ResumeStart { room_id: 1 },
            change("e2"),
            Outgoing::ResumeData {
                room_id: 1,
                replay: Box::new(Replay {
                    frames: vec![(1, frame(1))],
                    changes: vec![Encoded::new("e1".into(), Default::default())],
                }),
            },
            change("e3"),
        ]);
        assert_eq!(got, ["e0", "1", "e1", "e2", "e3"]);
    }

    #[test]
    fn live_frames_sent_before_resume_are_not_repeated() {
        let got = run(vec![
            live(5),
            Outgoing::ResumeStart { room_id: 1 },
            replay(&[3, 4, 5]),
        ]);
        assert_eq!(got, ["5", "3", "4"]);
    }
}
