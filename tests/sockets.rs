//! One user with several sockets: rooms put their traffic on each of the
//! user's open sockets directly, record what reached them (delivered
//! positions), and cut off only the socket that falls behind.

mod support;

use serde_json::Value;
use support::{flood, Api, Pair, TestServer, User, Ws, WAIT};

/// The content of the next `message_created` on `ws`.
async fn next_content(ws: &mut Ws) -> Value {
    ws.next_of("message_created").await["message"]["content"].clone()
}

/// Waits until `user`'s stored delivered position in `room` is `seq`.
async fn delivered_reaches(api: &Api, user: &User, room: i64, seq: i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = api.get("/api/rooms", &user.token).await;
        assert_eq!(status, 200, "{body}");
        let mine = body["data"]
            .as_array()
            .expect("rooms")
            .iter()
            .find(|r| r["id"] == room)
            .cloned()
            .expect("my room is listed");
        if mine["deliveredSeq"] == seq {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivered position stuck at {} (want {seq})",
            mine["deliveredSeq"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_second_socket_opened_while_the_room_is_active_gets_its_next_messages() {
    let p = Pair::start().await;
    let mut first = Ws::connect(&p.server, &p.bob).await;
    // The room's actor is running and delivering to Bob's first socket.
    p.api.say(&p.alice, p.room, "one").await;
    assert_eq!(next_content(&mut first).await, "one");

    let mut second = Ws::connect(&p.server, &p.bob).await;
    p.api.say(&p.alice, p.room, "two").await;
    assert_eq!(next_content(&mut first).await, "two");
    // The new socket starts with the first message after it connected.
    assert_eq!(next_content(&mut second).await, "two");
    first.expect_quiet().await;
    second.expect_quiet().await;
}

#[tokio::test]
async fn a_closed_socket_stops_receiving_while_the_other_still_does() {
    let p = Pair::start().await;
    let mut first = Ws::connect(&p.server, &p.bob).await;
    let mut second = Ws::connect(&p.server, &p.bob).await;
    p.api.say(&p.alice, p.room, "both").await;
    assert_eq!(next_content(&mut first).await, "both");
    assert_eq!(next_content(&mut second).await, "both");

    first.close().await;
    for text in ["after 1", "after 2", "after 3"] {
        p.api.say(&p.alice, p.room, text).await;
    }
    for text in ["after 1", "after 2", "after 3"] {
        assert_eq!(next_content(&mut second).await, text);
    }
    second.expect_quiet().await;

    // A socket opened now hears only what comes next.
    let mut third = Ws::connect(&p.server, &p.bob).await;
    p.api.say(&p.alice, p.room, "last").await;
    assert_eq!(next_content(&mut third).await, "last");
    assert_eq!(next_content(&mut second).await, "last");
    third.expect_quiet().await;
}

#[tokio::test]
async fn delivered_positions_are_written_after_the_flush_interval() {
    let server = TestServer::start_with(&["--delivered-flush-ms", "50"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let room = api.room(&alice, &[&bob, &carol]).await;

    let mut b = Ws::connect(&server, &bob).await;
    for text in ["one", "two", "three"] {
        api.say(&alice, room, text).await;
    }
    for text in ["one", "two", "three"] {
        assert_eq!(next_content(&mut b).await, text);
    }
    delivered_reaches(&api, &bob, room, 3).await;

    // Carol had no socket open: nothing reached her.
    delivered_reaches(&api, &carol, room, 0).await;
    // Bob's second socket raises the same position, never past the truth.
    let mut b2 = Ws::connect(&server, &bob).await;
    api.say(&alice, room, "four").await;
    assert_eq!(next_content(&mut b2).await, "four");
    delivered_reaches(&api, &bob, room, 4).await;
}

#[tokio::test]
async fn delivered_positions_are_written_when_the_member_goes_offline() {
    // The interval alone would take an hour: going offline must write it.
    let server = TestServer::start_with(&[
        "--delivered-flush-ms",
        "3600000",
        "--presence-grace-ms",
        "50",
    ]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let room = api.room(&alice, &[&bob]).await;

    let mut b = Ws::connect(&server, &bob).await;
    api.say(&alice, room, "one").await;
    api.say(&alice, room, "two").await;
    assert_eq!(next_content(&mut b).await, "one");
    assert_eq!(next_content(&mut b).await, "two");
    b.close().await;
    delivered_reaches(&api, &bob, room, 2).await;
}

#[tokio::test]
async fn a_slow_socket_is_cut_off_while_the_same_users_other_socket_keeps_receiving() {
    // A tiny per-socket queue makes "falling behind" quick to reach.
    let server = TestServer::start_with(&["--ws-queue-frames", "8"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let room = api.room(&alice, &[&bob]).await;

    // One of Bob's sockets has a tiny receive buffer and is never read.
    let mut slow = Ws::connect_small_buffer(&server, &bob).await;
    let total = 1500;
    let fast = Ws::connect(&server, &bob).await;
    let (mut fast, seqs) = flood(&api, &alice, room, fast, total).await;
    assert_eq!(
        seqs,
        (1..=total as i64).collect::<Vec<_>>(),
        "the reading socket got every message, in order"
    );

    // The slow socket was closed (1008) before all the messages.
    let (received, code) = slow.frames_until_closed().await;
    assert!(
        received < total,
        "the slow socket should have been cut off, got {received}"
    );
    assert!(code.is_none() || code == Some(1008), "close code {code:?}");

    // Bob's other socket stays open and the room goes on.
    api.say(&alice, room, "still here").await;
    assert_eq!(next_content(&mut fast).await, "still here");
    fast.expect_quiet().await;
}
