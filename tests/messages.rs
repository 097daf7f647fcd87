//! Rich messaging over real sockets: edits, deletes (tombstones),
//! reactions, replies, forwards, full-text search, and catching up on
//! changes after a reconnect.

mod support;

use serde_json::{json, Value};
use support::{Api, Pair, TestServer, User, Ws};

fn message_path(room: i64, message: &Value) -> String {
    format!(
        "/api/rooms/{room}/messages/{}",
        message["messageId"].as_str().expect("messageId")
    )
}

/// 👍, percent-encoded for a path.
const THUMBS_UP: &str = "%F0%9F%91%8D";

async fn search(api: &Api, user: &User, query: &str) -> (u16, Value) {
    let q: String = url_encode(query);
    api.get(&format!("/api/messages/search?{q}"), &user.token)
        .await
}

/// `q=...` plus any `&k=v` given after a `&` in `query` untouched.
fn url_encode(query: &str) -> String {
    let (q, rest) = query.split_once('&').unwrap_or((query, ""));
    let mut out = String::from("q=");
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if !rest.is_empty() {
        out.push('&');
        out.push_str(rest);
    }
    out
}

fn contents(hits: &Value) -> Vec<String> {
    hits["data"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["message"]["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn edits_and_deletes_reach_every_member_and_show_in_history() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let carol = api.user("carol").await;
    let mut a = Ws::connect(&server, &alice).await;
    let mut b = Ws::connect(&server, &bob).await;

    let first = api.say(&alice, room, "helo wrld").await;
    let second = api.say(&bob, room, "a message from bob").await;
    for ws in [&mut a, &mut b] {
        ws.next_of("message_created").await;
        ws.next_of("message_created").await;
    }

    // The sender edits over WebSocket: everyone hears it, the sender is acked.
    a.send(
        json!({"action": "edit_message", "requestId": "e1", "roomId": room,
                  "messageId": first["messageId"], "content": "hello world"}),
    )
    .await;
    let [updated, ack] =
        <[_; 2]>::try_from(a.next_each(&["message_updated", "ack"]).await).unwrap();
    assert_eq!(ack["requestId"], "e1");
    assert_eq!(ack["message"]["content"], "hello world");
    let heard = b.next_of("message_updated").await;
    for f in [&updated, &heard] {
        assert_eq!(f["roomId"], room);
        assert_eq!(f["messageId"], first["messageId"]);
        assert_eq!(f["seq"], first["seq"]);
        assert_eq!(f["content"], "hello world");
        assert!(f["editedAt"].as_str().unwrap().ends_with('Z'));
        assert_eq!(f["rev"], 1);
    }

    // Only the sender may edit; someone outside the room learns nothing.
    let path = message_path(room, &first);
    let edit = json!({"content": "hijacked"});
    let (status, body) = api
        .call("PATCH", &path, Some(&bob.token), Some(edit.clone()))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = api
        .call("PATCH", &path, Some(&carol.token), Some(edit))
        .await;
    assert_eq!(status, 404);
    let (status, body) = api
        .call(
            "PATCH",
            &path,
            Some(&alice.token),
            Some(json!({"content": ""})),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // A member may not delete someone else's message; the sender may.
    let (status, _) = api.call("DELETE", &path, Some(&bob.token), None).await;
    assert_eq!(status, 403);
    let (status, body) = api.call("DELETE", &path, Some(&alice.token), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["deleted"], true);
    for ws in [&mut a, &mut b] {
        let f = ws.next_of("message_deleted").await;
        assert_eq!(f["messageId"], first["messageId"]);
        assert_eq!(f["rev"], 2);
        assert!(f["deletedAt"].as_str().unwrap().ends_with('Z'));
    }
    // The owner may delete anyone's message, over WebSocket too.
    a.send(json!({"action": "delete_message", "roomId": room, "messageId": second["messageId"]}))
        .await;
    b.next_of("message_deleted").await;

    // History keeps both seqs, as tombstones; a deleted message stays deleted.
    let history = api.history(&bob, room).await;
    let seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2]);
    for m in &history {
        assert_eq!(m["deleted"], true);
        assert_eq!(m["content"], "");
        assert!(m["deletedAt"].is_string());
    }
    assert!(history[0]["editedAt"].is_string());
    let (status, _) = api
        .call(
            "PATCH",
            &path,
            Some(&alice.token),
            Some(json!({"content": "back"})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = api
        .call(
            "PATCH",
            &format!("/api/rooms/{room}/messages/nope"),
            Some(&alice.token),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn reactions_are_counted_in_history_and_broadcast() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let mut a = Ws::connect(&server, &alice).await;
    let mut b = Ws::connect(&server, &bob).await;
    let m = api.say(&alice, room, "lunch?").await;

    b.send(json!({"action": "react", "requestId": "r", "roomId": room,
                  "messageId": m["messageId"], "emoji": "👍"}))
        .await;
    for ws in [&mut a, &mut b] {
        let f = ws.next_of("reaction_updated").await;
        assert_eq!(f["messageId"], m["messageId"]);
        assert_eq!(
            (&f["emoji"], &f["count"], &f["added"]),
            (&json!("👍"), &json!(1), &json!(true))
        );
        assert_eq!(f["userId"], bob.id);
    }
    let path = format!("{}/reactions/{THUMBS_UP}", message_path(room, &m));
    let (status, body) = api.call("PUT", &path, Some(&alice.token), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["reactions"],
        json!([{"emoji": "👍", "count": 2, "me": true}])
    );
    for ws in [&mut a, &mut b] {
        assert_eq!(ws.next_of("reaction_updated").await["count"], 2);
    }
    // Reacting twice changes nothing and tells no one.
    let (status, _) = api.call("PUT", &path, Some(&alice.token), None).await;
    assert_eq!(status, 200);
    let (status, _) = api
        .call(
            "PUT",
            &format!("{}/reactions/%F0%9F%8E%89", message_path(room, &m)),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    for ws in [&mut a, &mut b] {
        let f = ws.next_of("reaction_updated").await;
        assert_eq!(
            (&f["emoji"], &f["count"]),
            (&json!("🎉"), &json!(1)),
            "no frame for the repeat"
        );
    }

    let history = api.history(&bob, room).await;
    assert_eq!(
        history[0]["reactions"],
        json!([{"emoji": "👍", "count": 2, "me": true}, {"emoji": "🎉", "count": 1, "me": true}])
    );

    a.send(
        json!({"action": "unreact", "roomId": room, "messageId": m["messageId"], "emoji": "👍"}),
    )
    .await;
    let f = b.next_of("reaction_updated").await;
    assert_eq!(
        (&f["count"], &f["added"], &f["userId"]),
        (&json!(1), &json!(false), &json!(alice.id))
    );
    let history = api.history(&alice, room).await;
    assert_eq!(
        history[0]["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": false}, {"emoji": "🎉", "count": 1, "me": false}])
    );

    b.send(
        json!({"action": "react", "requestId": "bad", "roomId": room,
                  "messageId": m["messageId"], "emoji": "two words"}),
    )
    .await;
    let e = b.next_of("error").await;
    assert_eq!(
        (&e["requestId"], &e["code"]),
        (&json!("bad"), &json!("validation_failed"))
    );
}

#[tokio::test]
async fn replies_stay_in_their_room_and_forwards_copy_the_original() {
    let Pair {
        server: _server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let carol = api.user("carol").await;
    let other = api.room(&alice, &[&carol]).await;
    let original = api.say(&bob, room, "meet at noon").await;

    let post = |room: i64, body: Value| {
        let api = api.clone();
        let token = alice.token.clone();
        async move {
            api.post(&format!("/api/rooms/{room}/messages"), &token, body)
                .await
        }
    };
    let (status, body) = post(
        other,
        json!({"content": "re", "replyId": original["messageId"]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["name"], "replyId");
    let (status, body) = post(
        room,
        json!({"content": "ok", "replyId": original["messageId"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["replyId"], original["messageId"]);

    // Alice is in both rooms: she may forward bob's message to carol.
    let (status, body) = post(other, json!({"forwardOf": original["messageId"]})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["content"], "meet at noon");
    assert_eq!(body["data"]["forwardOf"], original["messageId"]);
    assert_eq!(body["data"]["senderId"], alice.id);
    // Carol is not in the first room: she cannot forward from it.
    let (status, _) = api
        .post(
            &format!("/api/rooms/{other}/messages"),
            &carol.token,
            json!({"forwardOf": original["messageId"]}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = post(
        other,
        json!({"forwardOf": original["messageId"], "content": "x"}),
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn search_follows_edits_and_deletes_and_stays_in_my_rooms() {
    let Pair {
        server: _server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let carol = api.user("carol").await;
    let elsewhere = api.room(&carol, &[&bob]).await;

    let fox = api.say(&alice, room, "the quick brown fox").await;
    let dog = api.say(&bob, room, "a lazy dog & <b>cat</b>").await;
    api.say(&carol, elsewhere, "a turtle and a lazy fox").await;
    for i in 0..3 {
        api.say(&alice, room, &format!("turtle number {i}")).await;
    }

    let (status, found) = search(&api, &alice, "fox").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        contents(&found),
        ["the quick brown fox"],
        "not carol's room"
    );
    assert_eq!(
        found["data"][0]["snippet"],
        "the quick brown <mark>fox</mark>"
    );

    let path = message_path(room, &fox);
    let (status, _) = api
        .call(
            "PATCH",
            &path,
            Some(&alice.token),
            Some(json!({"content": "the slow green turtle"})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(contents(&search(&api, &alice, "fox").await.1).is_empty());
    let (_, found) = search(&api, &alice, "green turtle").await;
    assert_eq!(contents(&found), ["the slow green turtle"]);

    // Snippets are HTML-escaped around the marks.
    let (_, found) = search(&api, &alice, "lazy").await;
    assert_eq!(
        found["data"][0]["snippet"],
        "a <mark>lazy</mark> dog &amp; &lt;b&gt;cat&lt;/b&gt;"
    );
    let (status, _) = api
        .call("DELETE", &message_path(room, &dog), Some(&bob.token), None)
        .await;
    assert_eq!(status, 200);
    assert!(contents(&search(&api, &alice, "lazy").await.1).is_empty());
    assert_eq!(
        contents(&search(&api, &bob, "lazy").await.1),
        ["a turtle and a lazy fox"]
    );

    // Paging and the room filter.
    let (_, page) = search(&api, &alice, "turtle&limit=3&page=2").await;
    let meta = &page["meta"]["pagination"];
    assert_eq!(
        (&meta["total"], &meta["totalPages"], &meta["currentPage"]),
        (&json!(4), &json!(2), &json!(2))
    );
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert!(meta["links"]["previous"].is_string() && meta["links"]["next"].is_null());
    let (_, only) = search(&api, &bob, &format!("turtle&roomId={elsewhere}")).await;
    assert_eq!(contents(&only), ["a turtle and a lazy fox"]);
    let (_, none) = search(&api, &carol, &format!("turtle&roomId={room}")).await;
    assert!(contents(&none).is_empty());

    // Query syntax: prefix and phrase work; broken syntax is the client's 400.
    assert_eq!(search(&api, &alice, "turt*").await.1["meta"]["total"], 4);
    assert_eq!(
        contents(&search(&api, &alice, "\"green turtle\"").await.1).len(),
        1
    );
    for bad in [
        "turtle AND (",
        "\"unclosed",
        "nosuchcolumn: turtle",
        "NEAR(",
        "*",
    ] {
        let (status, body) = search(&api, &alice, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["code"], "bad_request");
    }
    let (status, _) = search(&api, &alice, "").await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn a_returning_client_catches_up_on_changes() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let kept = api.say(&alice, room, "first draft").await;
    let gone = api.say(&alice, room, "oops").await;
    let liked = api.say(&alice, room, "like me").await;
    let mut b = Ws::connect(&server, &bob).await;
    b.send(
        json!({"action": "resume", "rooms": {room.to_string(): 3}, "revs": {room.to_string(): 0}}),
    )
    .await;
    let ack = b.next_of("ack").await;
    assert_eq!(ack["rooms"][room.to_string()]["lastRev"], 0);
    b.close().await;

    // While bob is away: an edit, a delete, a reaction, and a new message.
    let (status, _) = api
        .call(
            "PATCH",
            &message_path(room, &kept),
            Some(&alice.token),
            Some(json!({"content": "final"})),
        )
        .await;
    assert_eq!(status, 200);
    api.call(
        "DELETE",
        &message_path(room, &gone),
        Some(&alice.token),
        None,
    )
    .await;
    let react = format!("{}/reactions/{THUMBS_UP}", message_path(room, &liked));
    api.call("PUT", &react, Some(&alice.token), None).await;
    api.say(&alice, room, "new one").await;

    let mut b = Ws::connect(&server, &bob).await;
    b.send(
        json!({"action": "resume", "requestId": "r", "rooms": {room.to_string(): 3},
                  "revs": {room.to_string(): 0}}),
    )
    .await;
    let created = b.next_of("message_created").await;
    assert_eq!(created["message"]["seq"], 4);
    let mut changed = Vec::new();
    for _ in 0..3 {
        changed.push(b.next_of("message_changed").await["message"].clone());
    }
    assert_eq!(changed[0]["content"], "final");
    assert!(changed[0]["editedAt"].is_string());
    assert_eq!(
        (&changed[1]["deleted"], &changed[1]["content"]),
        (&json!(true), &json!(""))
    );
    assert_eq!(
        changed[2]["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": false}])
    );
    let revs: Vec<_> = changed.iter().map(|m| m["rev"].as_u64().unwrap()).collect();
    assert_eq!(revs, [1, 2, 3]);
    let ack = b.next_of("ack").await;
    assert_eq!(ack["requestId"], "r");
    assert_eq!(
        ack["rooms"][room.to_string()],
        json!({"status": "replayed", "count": 1, "lastSeq": 4, "changed": 3, "lastRev": 3})
    );
    b.expect_quiet().await;

    // Caught up: nothing more to send.
    b.send(
        json!({"action": "resume", "rooms": {room.to_string(): 4}, "revs": {room.to_string(): 3}}),
    )
    .await;
    let ack = b.next_frame().await;
    assert_eq!(ack["rooms"][room.to_string()]["changed"], 0);
}

#[tokio::test]
async fn a_restart_indexes_what_a_crash_left_unindexed() {
    let Pair {
        mut server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let dir = server.take_dir().unwrap();
    let first = api.say(&alice, room, "one lonely walrus").await;
    api.say(&bob, room, "two lonely walruses").await;
    server.kill();
    // Play a crash between the commit and the indexing: the messages are
    // stored, the index knows nothing of them.
    let db = rusqlite::Connection::open(dir.path().join("search.db")).unwrap();
    db.execute_batch("DELETE FROM messages_fts; DELETE FROM marks;")
        .unwrap();
    drop(db);

    let server = TestServer::start_in(dir.path(), &[]);
    let api = Api::new(&server);
    assert_eq!(search(&api, &alice, "lonely").await.1["meta"]["total"], 2);
    // Recovered rows follow edits like any other.
    let (status, _) = api
        .call(
            "PATCH",
            &message_path(room, &first),
            Some(&alice.token),
            Some(json!({"content": "a happy seal"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        contents(&search(&api, &bob, "lonely").await.1),
        ["two lonely walruses"]
    );
    assert_eq!(
        contents(&search(&api, &bob, "seal").await.1),
        ["a happy seal"]
    );
}

#[tokio::test]
async fn link_previews_are_kept_as_sent_and_checked_for_shape() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let room = api.room(&alice, &[&bob]).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;
    let preview = json!({
        "url": "https://example.org/post",
        "title": "A post",
        "description": "What it says",
        "imageUrl": "https://example.org/cover.png"
    });
    let (status, body) = api
        .post(
            &format!("/api/rooms/{room}/messages"),
            &alice.token,
            json!({"content": "look: https://example.org/post", "preview": preview}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["data"]["type"], "link",
        "a preview makes a link message"
    );
    assert_eq!(body["data"]["preview"]["title"], "A post");
    let live = bob_ws.next_of("message_created").await;
    assert_eq!(
        live["message"]["preview"]["imageUrl"],
        "https://example.org/cover.png"
    );
    let history = api.history(&bob, room).await;
    assert_eq!(
        history.last().unwrap()["preview"]["url"],
        "https://example.org/post"
    );

    for (bad, field) in [
        (
            json!({"content": "x", "type": "text", "preview": {"url": "https://a.b"}}),
            "preview",
        ),
        (
            json!({"content": "x", "preview": {"url": "javascript:alert(1)"}}),
            "preview.url",
        ),
        (
            json!({"content": "x", "preview": {"url": "https://a.b", "imageUrl": "data:x"}}),
            "preview.imageUrl",
        ),
        (
            json!({"content": "x", "preview": {"url": "https://a.b", "title": "t".repeat(300)}}),
            "preview.title",
        ),
    ] {
        let (status, body) = api
            .post(
                &format!("/api/rooms/{room}/messages"),
                &alice.token,
                bad.clone(),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["errors"][0]["name"], field, "{body}");
    }
    let (status, _) = api
        .post(
            &format!("/api/rooms/{room}/messages"),
            &alice.token,
            json!({"content": "x", "preview": {"url": "https://a.b", "favicon": "x"}}),
        )
        .await;
    assert_eq!(status, 422, "unknown preview fields are refused");

    // Deleting for everyone removes the preview with the body.
    let id = body_id(&history);
    let (status, body) = api
        .call(
            "DELETE",
            &format!("/api/rooms/{room}/messages/{id}"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["preview"].is_null());
}

fn body_id(history: &[serde_json::Value]) -> String {
    history.last().unwrap()["messageId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// SIGKILL right after a post, an edit and a delete were acknowledged: the
/// index may have got all, some or none of them, and after the restart a
/// search is right either way. Then the same with the index file lost.
#[tokio::test]
async fn search_is_right_after_a_kill_right_after_changes() {
    let Pair {
        mut server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let dir = server.take_dir().unwrap();
    let first = api.say(&alice, room, "an old narwhal").await;
    let second = api.say(&bob, room, "a doomed narwhal").await;
    assert_eq!(search(&api, &alice, "narwhal").await.1["meta"]["total"], 2);
    api.say(&alice, room, "a new narwhal").await;
    let (status, _) = api
        .call(
            "PATCH",
            &message_path(room, &first),
            Some(&alice.token),
            Some(json!({"content": "an edited otter"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .call(
            "DELETE",
            &message_path(room, &second),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    server.kill();

    let (alice, bob) = (&alice, &bob);
    let check = |api: Api| async move {
        assert_eq!(
            contents(&search(&api, alice, "narwhal").await.1),
            ["a new narwhal"]
        );
        assert_eq!(
            contents(&search(&api, bob, "otter OR old OR doomed").await.1),
            ["an edited otter"]
        );
    };
    let mut server = TestServer::start_in(dir.path(), &[]);
    check(Api::new(&server)).await;
    server.kill();
    for file in ["search.db", "search.db-wal", "search.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(file));
    }
    let server = TestServer::start_in(dir.path(), &[]);
    check(Api::new(&server)).await;
}
