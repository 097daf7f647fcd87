//! Realtime chat over real WebSocket connections: rooms, messages, fan-out,
//! idempotent retries, resume, authorization, slow members.

mod support;

use serde_json::json;
use support::{flood, Api, Pair, TestServer, User, Ws};
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test]
async fn two_users_chat_over_websocket() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let mut a = Ws::connect(&server, &alice).await;
    let mut b = Ws::connect(&server, &bob).await;

    // Seed 004: create_room broadcasts room_created to every online participant,
    // including bob, who did not create it.
    a.send(
        json!({"action": "create_room", "requestId": "r1", "participants": [bob.id.to_string()]}),
    )
    .await;
    let created_b = b.next_of("room_created").await;
    let room = &created_b["room"];
    let room_id = room["id"].as_i64().unwrap();
    let ids: Vec<i64> = room["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [alice.id, bob.id]);
    assert!(room["createdAt"].as_str().unwrap().ends_with('Z'));
    let [created_a, ack] = <[_; 2]>::try_from(a.next_each(&["room_created", "ack"]).await).unwrap();
    assert_eq!(created_a["room"]["id"], room_id);
    assert_eq!(ack["requestId"], "r1");
    assert_eq!(ack["room"]["id"], room_id);

    // Seed 004 create_message, with a forged sender and time that the server ignores.
    let mid = "0190a1b2-0000-7000-8000-000000000003";
    a.send(json!({
        "action": "create_message", "requestId": "m1", "roomId": room_id.to_string(),
        "messageId": mid, "content": "How are you?",
        "senderId": bob.id, "createdAt": "2001-01-01T00:00:00.000Z"
    }))
    .await;
    let [created_a, ack] =
        <[_; 2]>::try_from(a.next_each(&["message_created", "ack"]).await).unwrap();
    let created_b = b.next_of("message_created").await;
    for f in [&created_a, &created_b] {
        let m = &f["message"];
        assert_eq!(m["roomId"], room_id);
        assert_eq!(m["messageId"], mid);
        assert_eq!(m["content"], "How are you?");
        assert_eq!(m["senderId"], alice.id, "sender comes from the token");
        assert_eq!(m["status"], "success");
        assert_eq!(m["seq"], 1);
        assert!(!m["createdAt"].as_str().unwrap().starts_with("2001"));
    }
    assert_eq!(ack["requestId"], "m1");
    assert_eq!(ack["message"]["seq"], 1);

    b.send(json!({"action": "create_message", "roomId": room_id, "content": "Fine!"}))
        .await;
    let reply = a.next_of("message_created").await;
    assert_eq!(reply["message"]["senderId"], bob.id);
    assert_eq!(reply["message"]["seq"], 2);
    assert_eq!(b.next_of("message_created").await["message"]["seq"], 2);
}

#[tokio::test]
async fn message_reaches_every_online_member_and_nobody_else() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let mallory = api.user("mallory").await;
    let room = api.room(&alice, &[&bob, &carol]).await;

    let mut a = Ws::connect(&server, &alice).await;
    let mut b1 = Ws::connect(&server, &bob).await;
    let mut b2 = Ws::connect(&server, &bob).await; // a second device
    let mut c = Ws::connect(&server, &carol).await;
    let mut m = Ws::connect(&server, &mallory).await;

    // Posted over REST, delivered live over WebSocket.
    let posted = api.say(&carol, room, "over REST").await;
    for ws in [&mut a, &mut b1, &mut b2, &mut c] {
        let f = ws.next_of("message_created").await;
        assert_eq!(f["message"], posted);
    }
    m.expect_quiet().await;
    for ws in [&mut a, &mut b1, &mut b2, &mut c] {
        ws.expect_quiet().await;
    }
}

#[tokio::test]
async fn retried_message_id_is_stored_once() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let mut a = Ws::connect(&server, &alice).await;
    let mut b = Ws::connect(&server, &bob).await;

    let mid = "7d3f5e1c-5b1a-4c7e-9d2f-0a1b2c3d4e5f";
    let frame = json!({"action": "create_message", "requestId": "x", "roomId": room, "messageId": mid, "content": "once"});
    a.send(frame.clone()).await;
    let first = a.next_of("ack").await;
    a.send(frame).await;
    let second = a.next_of("ack").await;
    assert_eq!(
        first["message"], second["message"],
        "a retry answers with the original"
    );

    // Over REST too, with the same id.
    let (status, body) = api
        .post(
            &format!("/api/rooms/{room}/messages"),
            &alice.token,
            json!({"messageId": mid, "content": "once"}),
        )
        .await;
    assert_eq!(status, 200, "a retry creates nothing");
    assert_eq!(body["data"], first["message"]);

    // Bob saw it once, and history holds it once.
    assert_eq!(
        b.next_of("message_created").await["message"]["messageId"],
        mid
    );
    b.expect_quiet().await;
    let history = api.history(&bob, room).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["messageId"], mid);

    // The same id from someone else is a conflict, not a silent overwrite.
    let (status, body) = api
        .post(
            &format!("/api/rooms/{room}/messages"),
            &bob.token,
            json!({"messageId": mid, "content": "mine"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn resume_after_reconnect_replays_exactly_the_gap() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;

    let mut b = Ws::connect(&server, &bob).await;
    for text in ["one", "two"] {
        api.say(&alice, room, text).await;
    }
    assert_eq!(b.next_of("message_created").await["message"]["seq"], 1);
    let last_seen = b.next_of("message_created").await["message"]["seq"]
        .as_i64()
        .unwrap();
    assert_eq!(last_seen, 2);
    b.close().await;

    for text in ["three", "four", "five"] {
        api.say(&alice, room, text).await;
    }

    let mut b = Ws::connect(&server, &bob).await;
    b.send(json!({"action": "resume", "requestId": "re", "rooms": {room.to_string(): last_seen}}))
        .await;
    let mut replayed = Vec::new();
    for _ in 0..3 {
        let f = b.next_frame().await;
        assert_eq!(f["type"], "message_created", "{f}");
        replayed.push((
            f["message"]["seq"].as_i64().unwrap(),
            f["message"]["content"].clone(),
        ));
    }
    assert_eq!(
        replayed,
        [(3, json!("three")), (4, json!("four")), (5, json!("five"))]
    );
    let ack = b.next_frame().await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["requestId"], "re");
    assert_eq!(
        ack["rooms"][room.to_string()],
        json!({"status": "replayed", "count": 3, "lastSeq": 5})
    );

    // Then live traffic, with no repeats.
    api.say(&alice, room, "six").await;
    assert_eq!(b.next_frame().await["message"]["seq"], 6);
    b.expect_quiet().await;
}

#[tokio::test]
async fn resume_past_the_limit_says_it_cannot_recover() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(&["--resume-limit", "2"]).await;
    for text in ["a", "b", "c"] {
        api.say(&alice, room, text).await;
    }
    let mut b = Ws::connect(&server, &bob).await;
    b.send(json!({"action": "resume", "rooms": {room.to_string(): 0, "999": 0}}))
        .await;
    let ack = b.next_of("ack").await;
    assert_eq!(
        ack["rooms"][room.to_string()],
        json!({"status": "cannotRecover", "lastSeq": 3, "limit": 2})
    );
    assert_eq!(ack["rooms"]["999"], json!({"status": "notFound"}));
    b.expect_quiet().await;
}

#[tokio::test]
async fn a_non_participant_can_neither_read_nor_post() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let eve = api.user("eve").await;
    let room = api.room(&alice, &[&bob]).await;
    api.say(&alice, room, "secret").await;

    for path in [
        format!("/api/rooms/{room}"),
        format!("/api/rooms/{room}/messages"),
    ] {
        let (status, body) = api.get(&path, &eve.token).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["code"], "not_found");
        assert!(!body.to_string().contains("secret"));
    }
    let (status, _) = api
        .post(
            &format!("/api/rooms/{room}/messages"),
            &eve.token,
            json!({"content": "let me in"}),
        )
        .await;
    assert_eq!(status, 404);
    // A room that exists and one that does not look the same to a stranger.
    let (_, exists) = api.get(&format!("/api/rooms/{room}"), &eve.token).await;
    let (_, missing) = api.get("/api/rooms/424242", &eve.token).await;
    assert_eq!(exists, missing);

    let mut e = Ws::connect(&server, &eve).await;
    e.send(json!({"action": "create_message", "requestId": "e1", "roomId": room, "content": "hi"}))
        .await;
    let err = e.next_frame().await;
    assert_eq!(err["type"], "error");
    assert_eq!(err["requestId"], "e1");
    assert_eq!(err["code"], "not_found");
    e.send(json!({"action": "resume", "rooms": {room.to_string(): 0}}))
        .await;
    assert_eq!(
        e.next_of("ack").await["rooms"][room.to_string()]["status"],
        "notFound"
    );

    let history = api.history(&alice, room).await;
    assert_eq!(history.len(), 1, "nothing from eve was stored");
}

#[tokio::test]
async fn participants_added_removed_and_room_deleted_are_broadcast() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let room = api.room(&alice, &[&bob]).await;
    let mut b = Ws::connect(&server, &bob).await;
    let mut c = Ws::connect(&server, &carol).await;

    let (status, body) = api
        .post(
            &format!("/api/rooms/{room}/participants"),
            &alice.token,
            json!({"userId": carol.id}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for ws in [&mut b, &mut c] {
        let f = ws.next_of("participant_added").await;
        assert_eq!(f["roomId"], room);
        assert_eq!(f["userId"], carol.id);
        assert_eq!(f["message"]["type"], "system");
    }
    // Carol now receives the room's messages.
    api.say(&alice, room, "welcome").await;
    assert_eq!(
        c.next_of("message_created").await["message"]["content"],
        "welcome"
    );

    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/rooms/{room}/participants/{}", carol.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(b.next_of("participant_removed").await["userId"], carol.id);
    assert_eq!(c.next_of("participant_removed").await["userId"], carol.id);
    api.say(&alice, room, "carol is gone").await;
    assert_eq!(
        b.next_of("message_created").await["message"]["content"],
        "carol is gone"
    );
    c.expect_quiet().await;

    // Only the owner deletes; everyone online hears it.
    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/rooms/{room}"),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/rooms/{room}"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(b.next_of("room_deleted").await["roomId"], room);
    let (status, _) = api
        .get(&format!("/api/rooms/{room}/messages"), &bob.token)
        .await;
    assert_eq!(status, 404);
}

/// alice, bob and a member whose socket has a tiny receive buffer and is
/// not read, in one room.
struct SlowRoom {
    server: TestServer,
    api: Api,
    alice: User,
    bob: User,
    room: i64,
    slow_ws: Ws,
}

async fn room_with_a_slow_member(queue_frames: &str) -> SlowRoom {
    let server = TestServer::start_with(&["--ws-queue-frames", queue_frames]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let slow = api.user("slow").await;
    let room = api.room(&alice, &[&bob, &slow]).await;
    let slow_ws = Ws::connect_small_buffer(&server, &slow).await;
    SlowRoom {
        server,
        api,
        alice,
        bob,
        room,
        slow_ws,
    }
}

#[tokio::test]
async fn a_member_that_stops_reading_still_has_its_frames_read() {
    // The queue holds every message, so nobody is cut off; but the kernel
    // buffers towards the member who does not read fill up, so writing to
    // its socket blocks while it posts.
    let SlowRoom {
        server,
        api,
        alice,
        bob,
        room,
        mut slow_ws,
    } = room_with_a_slow_member("4096").await;
    // More than the kernel buffers hold on loopback (up to 4 MiB).
    let total = 1500;
    let b = Ws::connect(&server, &bob).await;
    let (mut b, seqs) = flood(&api, &alice, room, b, total).await;
    let expected: Vec<i64> = (1..=total as i64).collect();
    assert_eq!(seqs, expected, "bob got every message, in order");

    // The member who does not read posts: its frame is read and acted on
    // although the server cannot write to its socket.
    slow_ws
        .send(json!({"action": "create_message", "requestId": "late", "roomId": room, "content": "still reading"}))
        .await;
    let posted = b.next_of("message_created").await;
    assert_eq!(posted["message"]["content"], "still reading");
    assert_eq!(posted["message"]["seq"], total as i64 + 1);

    // Once it reads again it gets everything, in order, then its ack.
    let mut seqs = Vec::new();
    let mut acked = false;
    while !acked {
        let frame = slow_ws.next_frame().await;
        match frame["type"].as_str() {
            Some("message_created") => seqs.push(frame["message"]["seq"].as_i64().unwrap()),
            Some("ack") if frame["requestId"] == "late" => acked = true,
            _ => {}
        }
    }
    assert_eq!(seqs[..total], expected[..], "every message, in order");
}

#[tokio::test]
async fn a_member_that_stops_reading_is_dropped_while_others_keep_receiving() {
    // A tiny per-socket queue makes "falling behind" quick to reach.
    let SlowRoom {
        server,
        api,
        alice,
        bob,
        room,
        mut slow_ws,
    } = room_with_a_slow_member("8").await;

    let total = 1500;
    let b = Ws::connect(&server, &bob).await;
    let (mut b, seqs) = flood(&api, &alice, room, b, total).await;
    assert_eq!(
        seqs,
        (1..=total as i64).collect::<Vec<_>>(),
        "bob got every message, in order"
    );

    // The slow member was disconnected: after whatever was buffered, its
    // socket ends (with close code 1008) before all the messages.
    let (received, code) = slow_ws.frames_until_closed().await;
    assert!(
        received < total,
        "the slow member should have been cut off, got {received}"
    );
    assert!(code.is_none() || code == Some(1008), "close code {code:?}");

    // The room goes on.
    api.say(&alice, room, "still here").await;
    assert_eq!(
        b.next_of("message_created").await["message"]["content"],
        "still here"
    );
}

#[tokio::test]
async fn typing_and_seen_reach_the_other_members_only() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let eve = api.user("eve").await;
    let room = api.room(&alice, &[&bob]).await;
    let mut a = Ws::connect(&server, &alice).await;
    let mut b = Ws::connect(&server, &bob).await;
    let mut e = Ws::connect(&server, &eve).await;

    a.send(json!({"action": "typing", "roomId": room})).await;
    let typing = b.next_frame().await;
    assert_eq!(
        (&typing["type"], &typing["roomId"], &typing["userId"]),
        (&json!("typing"), &json!(room), &json!(alice.id))
    );
    assert_eq!(typing["state"], "start");
    assert!(typing["expiresAt"].is_string(), "{typing}");
    a.expect_quiet().await; // the typist does not hear themself

    api.say(&alice, room, "read me").await;
    assert_eq!(b.next_of("message_created").await["message"]["seq"], 1);
    b.send(json!({"action": "seen", "requestId": "s", "roomId": room, "seq": 1}))
        .await;
    assert_eq!(
        a.next_of("seen").await,
        json!({"type": "seen", "roomId": room, "userId": bob.id, "seq": 1})
    );
    assert_eq!(b.next_of("ack").await["requestId"], "s");

    e.send(json!({"action": "typing", "requestId": "t", "roomId": room}))
        .await;
    assert_eq!(e.next_frame().await["code"], "not_found");
    e.expect_quiet().await;
    a.expect_quiet().await;
}

#[tokio::test]
async fn websocket_accepts_the_token_in_a_header_and_checks_origin() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = TestServer::start_with(&["--ws-allowed-origins", "https://chat.example"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;

    let request = |origin: &str| {
        let mut req = server.ws.as_str().into_client_request().unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", alice.token).parse().unwrap(),
        );
        req.headers_mut().insert("origin", origin.parse().unwrap());
        req
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(request("https://chat.example"))
        .await
        .unwrap();
    use futures_util::StreamExt;
    let Some(Ok(WsMessage::Text(hello))) = ws.next().await else {
        panic!("no ack")
    };
    let hello: serde_json::Value = serde_json::from_str(&hello).unwrap();
    assert_eq!(hello["userId"], alice.id);

    match tokio_tungstenite::connect_async(request("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 403)
        }
        other => panic!("a foreign origin was let in: {:?}", other.map(|_| ())),
    }
}

/// A socket whose client reads bincode frames.
type BincodeWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a socket asking for bincode frames; the server must agree.
async fn connect_bincode(server: &TestServer, user: &User) -> BincodeWs {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("{}/?token={}", server.ws, user.token)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "palaver.v1.bincode".parse().unwrap(),
    );
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers()["sec-websocket-protocol"],
        "palaver.v1.bincode"
    );
    ws
}

/// The next frame on a bincode socket, past `presence` frames; a JSON
/// frame fails the test.
async fn next_bin(ws: &mut BincodeWs) -> palaver::protocol::binary::ServerFrameBin {
    use futures_util::StreamExt;
    use palaver::protocol::binary::{decode_server, ServerFrameBin};
    loop {
        match ws.next().await.unwrap().unwrap() {
            WsMessage::Binary(bytes) => match decode_server(&bytes).unwrap() {
                ServerFrameBin::Presence { .. } => {}
                frame => return frame,
            },
            WsMessage::Text(t) => panic!("a JSON frame on a bincode socket: {t}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn bincode_clients_share_rooms_with_json_clients() {
    use futures_util::{SinkExt, StreamExt};
    use palaver::protocol::binary::{self, AckBin, ActionBin, ClientFrameBin, ServerFrameBin};

    let Pair {
        server,
        api: _,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let mut b = Ws::connect(&server, &bob).await;

    let mut a = connect_bincode(&server, &alice).await;
    let hello = next_bin(&mut a).await;
    assert_eq!(
        hello,
        ServerFrameBin::Ack {
            request_id: None,
            body: AckBin::Authenticated { user_id: alice.id }
        }
    );

    let frame = ClientFrameBin {
        request_id: Some("b1".into()),
        action: ActionBin::CreateMessage {
            room_id: room,
            message_id: None,
            content: Some("binary hello".into()),
            kind: None,
            reply_id: None,
            forward_of: None,
            file_id: None,
            preview: None,
        },
    };
    a.send(WsMessage::Binary(binary::encode_client(&frame).into()))
        .await
        .unwrap();
    let mut got_created = false;
    let mut got_ack = false;
    while !(got_created && got_ack) {
        let WsMessage::Binary(bytes) = a.next().await.unwrap().unwrap() else {
            continue;
        };
        match binary::decode_server(&bytes).unwrap() {
            ServerFrameBin::MessageCreated { message } => {
                assert_eq!(message.content, "binary hello");
                got_created = true;
            }
            ServerFrameBin::Ack {
                request_id,
                body: AckBin::Message { message },
            } => {
                assert_eq!(request_id.as_deref(), Some("b1"));
                assert_eq!(message.seq, 1);
                got_ack = true;
            }
            // Bob is online: the new socket is told so.
            ServerFrameBin::Presence { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // The JSON member of the same room gets the same message as JSON.
    let f = b.next_of("message_created").await;
    assert_eq!(f["message"]["content"], "binary hello");
    assert_eq!(f["message"]["senderId"], alice.id);
}

/// The sender's `ack` and the room's `message_created` carry the same
/// message, field for field, whether the sender reads JSON or bincode and
/// whatever the other members read.
#[tokio::test]
async fn a_posts_ack_and_its_echo_carry_the_same_message() {
    use futures_util::SinkExt;
    use palaver::protocol::binary::{self, AckBin, ActionBin, ClientFrameBin, ServerFrameBin};
    let Pair {
        server,
        alice,
        bob,
        room,
        ..
    } = Pair::start().await;
    let mut a = Ws::connect(&server, &alice).await;
    let mut b = connect_bincode(&server, &bob).await;
    // Bob's socket is registered once its auth ack arrives.
    assert!(matches!(
        next_bin(&mut b).await,
        ServerFrameBin::Ack {
            body: AckBin::Authenticated { .. },
            ..
        }
    ));

    // A JSON sender, with escapes in the request id and the content, a
    // reply and a preview: every field the message has.
    let preview = json!({"url": "https://example.org/a?b=%22c%22&d=1", "title": "A \"post\" é"});
    a.send(json!({
        "action": "create_message", "requestId": "q\"1\\", "roomId": room,
        "content": "look \"here\" \\ é 👍 https://example.org/a", "preview": preview,
    }))
    .await;
    let [created, ack] =
        <[_; 2]>::try_from(a.next_each(&["message_created", "ack"]).await).unwrap();
    assert_eq!(ack["requestId"], "q\"1\\");
    assert_eq!(ack["message"], created["message"]);
    assert_eq!(created["message"]["preview"]["title"], "A \"post\" é");
    let ServerFrameBin::MessageCreated { message: seen_by_b } = next_bin(&mut b).await else {
        panic!("bob got no message_created");
    };
    assert_eq!(seen_by_b.content, created["message"]["content"]);

    // A bincode sender: its ack and the echo it gets hold the same message.
    let frame = ClientFrameBin {
        request_id: Some("b1".into()),
        action: ActionBin::CreateMessage {
            room_id: room,
            message_id: None,
            content: Some("binary \"hello\"".into()),
            kind: None,
            reply_id: Some(seen_by_b.message_id.clone()),
            forward_of: None,
            file_id: None,
            preview: None,
        },
    };
    b.send(WsMessage::Binary(binary::encode_client(&frame).into()))
        .await
        .unwrap();
    let (mut echo, mut acked) = (None, None);
    while echo.is_none() || acked.is_none() {
        match next_bin(&mut b).await {
            ServerFrameBin::MessageCreated { message } => echo = Some(message),
            ServerFrameBin::Ack {
                request_id,
                body: AckBin::Message { message },
            } => {
                assert_eq!(request_id.as_deref(), Some("b1"));
                acked = Some(*message);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let echo = echo.unwrap();
    assert_eq!(acked.as_ref(), Some(&echo));
    assert_eq!(
        echo.reply_id.as_deref(),
        Some(seen_by_b.message_id.as_str())
    );
    // And the JSON member sees that message as JSON, field for field.
    let f = a.next_of("message_created").await;
    assert_eq!(f["message"]["content"], "binary \"hello\"");
    assert_eq!(f["message"]["seq"], echo.seq);
    assert_eq!(f["message"]["replyId"], seen_by_b.message_id.as_str());
}
