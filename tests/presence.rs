//! Receipts (read and delivered positions, unread counts, `seen`), typing
//! and presence, over real sockets.

mod support;

use serde_json::{json, Value};
use support::{Api, Pair, TestServer, User, Ws, WAIT};

/// My entry for `room` in GET /api/rooms.
async fn my_room(api: &Api, user: &User, room: i64) -> Value {
    let (status, body) = api.get("/api/rooms", &user.token).await;
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|r| r["id"] == room)
        .cloned()
        .expect("my room is listed")
}

#[tokio::test]
async fn seen_moves_the_read_position_forward_and_unread_counts_follow() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(&["--delivered-flush-ms", "20"]).await;
    let mut a = Ws::connect(&server, &alice).await;
    let mut b = Ws::connect(&server, &bob).await;
    for text in ["one", "two", "three"] {
        api.say(&alice, room, text).await;
    }
    for _ in 0..3 {
        b.next_of("message_created").await;
    }

    let mine = my_room(&api, &bob, room).await;
    assert_eq!(
        (&mine["lastSeq"], &mine["readSeq"], &mine["unread"]),
        (&json!(3), &json!(0), &json!(3))
    );
    // My own messages are never unread.
    assert_eq!(my_room(&api, &alice, room).await["unread"], 0);

    // Over the WebSocket: the room hears it, the reader gets an ack.
    b.send(json!({"action": "seen", "requestId": "s1", "roomId": room, "seq": 2}))
        .await;
    assert_eq!(
        a.next_of("seen").await,
        json!({"type": "seen", "roomId": room, "userId": bob.id, "seq": 2})
    );
    assert_eq!(b.next_of("ack").await["requestId"], "s1");
    let mine = my_room(&api, &bob, room).await;
    assert_eq!((&mine["readSeq"], &mine["unread"]), (&json!(2), &json!(1)));

    // Over REST.
    let seen = format!("/api/rooms/{room}/seen");
    let (status, body) = api.post(&seen, &bob.token, json!({"seq": 3})).await;
    assert_eq!((status, &body), (200, &json!({"status": "ok"})));
    assert_eq!(a.next_of("seen").await["seq"], 3);
    assert_eq!(my_room(&api, &bob, room).await["unread"], 0);

    // Never backwards, and nobody hears about a no-op.
    let (status, _) = api.post(&seen, &bob.token, json!({"seq": 1})).await;
    assert_eq!(status, 200);
    assert_eq!(my_room(&api, &bob, room).await["readSeq"], 3);
    a.expect_quiet().await;

    // Never past the last message.
    let (status, body) = api.post(&seen, &bob.token, json!({"seq": 4})).await;
    assert_eq!((status, &body["code"]), (422, &json!("validation_failed")));
    b.send(json!({"action": "seen", "requestId": "s2", "roomId": room, "seq": 9}))
        .await;
    let error = b.next_of("error").await;
    assert_eq!(
        (&error["requestId"], &error["code"]),
        (&json!("s2"), &json!("validation_failed"))
    );

    // Strangers cannot mark a room read.
    let eve = api.user("eve").await;
    let (status, _) = api.post(&seen, &eve.token, json!({"seq": 1})).await;
    assert_eq!(status, 404);

    // Bob's socket had seqs 1..3: the delivered position gets there.
    let deadline = tokio::time::Instant::now() + WAIT;
    while my_room(&api, &bob, room).await["deliveredSeq"] != 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivered position never reached 3"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Bob's own message leaves his unread count alone; Alice has one.
    api.say(&bob, room, "four").await;
    assert_eq!(my_room(&api, &bob, room).await["unread"], 0);
    assert_eq!(my_room(&api, &alice, room).await["unread"], 1);
}

/// A server with Alice and Bob in a room, and Eve, who shares none.
async fn outsider(args: &[&str]) -> (TestServer, Api, [User; 3], i64) {
    let server = TestServer::start_with(args);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let eve = api.user("eve").await;
    let room = api.room(&alice, &[&bob]).await;
    (server, api, [alice, bob, eve], room)
}

#[tokio::test]
async fn typing_starts_and_stops_for_the_other_members_only() {
    let (server, api, [alice, bob, eve], room) = outsider(&["--typing-ttl-ms", "1000"]).await;
    let mut a = Ws::connect(&server, &alice).await;
    let mut b = Ws::connect(&server, &bob).await;
    let mut e = Ws::connect(&server, &eve).await;

    // A start expires on its own with a stop.
    a.send(json!({"action": "typing", "roomId": room})).await;
    let start = b.next_frame().await;
    assert_eq!(
        (&start["type"], &start["state"]),
        (&json!("typing"), &json!("start"))
    );
    assert_eq!(start["userId"], alice.id);
    assert!(start["expiresAt"].is_string(), "{start}");
    assert_eq!(
        b.next_frame().await,
        json!({"type": "typing", "roomId": room, "userId": alice.id, "state": "stop"})
    );

    // An explicit stop ends it at once; a post ends it too.
    a.send(json!({"action": "typing", "roomId": room})).await;
    assert_eq!(b.next_frame().await["state"], "start");
    a.send(json!({"action": "typing", "roomId": room, "state": "stop"}))
        .await;
    assert_eq!(b.next_frame().await["state"], "stop");

    // Repeats inside the rate limit are dropped.
    a.send(json!({"action": "typing", "roomId": room})).await;
    a.send(json!({"action": "typing", "roomId": room})).await;
    assert_eq!(b.next_frame().await["state"], "start");
    api.say(&alice, room, "done typing").await;
    assert_eq!(b.next_frame().await["type"], "message_created");
    assert_eq!(b.next_frame().await["state"], "stop");
    b.expect_quiet().await;

    a.next_of("message_created").await;
    a.expect_quiet().await; // the typist hears nothing of it
    e.expect_quiet().await; // nor does someone outside the room
    e.send(json!({"action": "typing", "requestId": "t", "roomId": room}))
        .await;
    assert_eq!(e.next_frame().await["code"], "not_found");
    b.expect_quiet().await;
}

#[tokio::test]
async fn presence_reaches_only_those_who_share_a_room() {
    let (server, api, [alice, bob, eve], _) = outsider(&["--presence-grace-ms", "50"]).await;
    let mut a = Ws::connect(&server, &alice).await.with_presence();
    let mut e = Ws::connect(&server, &eve).await.with_presence();

    let mut b = Ws::connect(&server, &bob).await.with_presence();
    assert_eq!(
        a.next_frame().await,
        json!({"type": "presence", "userId": bob.id, "status": "online"})
    );
    // A new socket learns who is online already.
    assert_eq!(
        b.next_frame().await,
        json!({"type": "presence", "userId": alice.id, "status": "online"})
    );
    let path = format!("/api/users/{}", bob.id);
    let (_, seen_by_alice) = api.get(&path, &alice.token).await;
    assert_eq!(seen_by_alice["data"]["online"], true);
    assert_eq!(seen_by_alice["data"]["lastSeenAt"], Value::Null);
    // Eve shares no room with Bob: his profile, but not his presence.
    let (status, seen_by_eve) = api.get(&path, &eve.token).await;
    assert_eq!(status, 200);
    assert_eq!(seen_by_eve["data"]["login"], "bob");
    assert!(seen_by_eve["data"].get("online").is_none(), "{seen_by_eve}");
    assert!(seen_by_eve["data"].get("lastSeenAt").is_none());

    b.close().await;
    let offline = a.next_frame().await;
    assert_eq!(
        (&offline["type"], &offline["userId"], &offline["status"]),
        (&json!("presence"), &json!(bob.id), &json!("offline"))
    );
    let last_seen = offline["lastSeenAt"]
        .as_str()
        .expect("lastSeenAt")
        .to_owned();
    let (_, now) = api.get(&path, &alice.token).await;
    assert_eq!(now["data"]["online"], false);
    assert_eq!(now["data"]["lastSeenAt"], last_seen.as_str());

    e.expect_quiet().await;
    a.expect_quiet().await;
}

#[tokio::test]
async fn a_quick_reconnect_does_not_flap_presence() {
    let (server, _api, [alice, bob, _], _) = outsider(&["--presence-grace-ms", "1000"]).await;
    let mut a = Ws::connect(&server, &alice).await.with_presence();
    let b = Ws::connect(&server, &bob).await;
    assert_eq!(a.next_frame().await["status"], "online");

    // Gone and back within the grace: nobody hears of it.
    b.close().await;
    let b = Ws::connect(&server, &bob).await;
    b.close().await;
    let offline = a.next_frame().await;
    assert_eq!(
        (&offline["userId"], &offline["status"]),
        (&json!(bob.id), &json!("offline"))
    );
    a.expect_quiet().await;
}
