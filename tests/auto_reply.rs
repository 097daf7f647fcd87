//! Auto-reply rules over real sockets: a matching message in a direct room
//! is answered once, as the rule's owner, and nothing else is.
//!
//! "Nothing else" is shown with a fence: every owner also has a rule that
//! answers `zz-fence` with `zz-fenced`. The auto-replier reads an owner's
//! messages of a room in order, so once the fence's answer arrives every
//! message before it has been looked at, and any reply it caused would
//! already be there.

mod support;

use serde_json::{json, Value};
use support::{Api, TestServer, User, Ws};

const FENCE: &str = "zz-fence";
const FENCED: &str = "zz-fenced";

async fn add_rule(api: &Api, owner: &User, body: Value) -> Value {
    let (status, body) = api.post("/api/auto-replies", &owner.token, body).await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

async fn add_fence(api: &Api, owner: &User) {
    add_rule(
        api,
        owner,
        json!({"pattern": FENCE, "matchMode": "literal", "reply": FENCED}),
    )
    .await;
}

/// `sender` posts the fence into `room`; returns every message `ws` saw
/// created in that room up to and including the answer to this fence.
async fn through_fence(api: &Api, ws: &mut Ws, sender: &User, room: i64) -> Vec<Value> {
    let fence = api.say(sender, room, FENCE).await;
    let mut seen = Vec::new();
    loop {
        let frame = ws.next_of("message_created").await;
        let message = frame["message"].clone();
        if message["roomId"] != room {
            continue;
        }
        let done = message["content"] == FENCED && message["replyId"] == fence["messageId"];
        seen.push(message);
        if done {
            return seen;
        }
    }
}

/// A fresh server with alice and bob signed in and their direct room.
struct Direct {
    server: TestServer,
    api: Api,
    alice: User,
    bob: User,
    room: i64,
}

async fn start() -> Direct {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let room = api.direct(&alice, &bob).await;
    Direct {
        server,
        api,
        alice,
        bob,
        room,
    }
}

fn contents(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect()
}

/// (trigger content, reply content) for each auto-reply, sorted; fails
/// if a message was answered twice.
fn answers(messages: &[Value]) -> Vec<(String, String)> {
    let mut answered = std::collections::HashSet::new();
    let mut out = Vec::new();
    for reply in messages.iter().filter(|m| m["autoReply"] == true) {
        let trigger = messages
            .iter()
            .find(|m| m["messageId"] == reply["replyId"])
            .unwrap_or_else(|| panic!("the reply names its trigger: {reply}"));
        assert!(
            answered.insert(trigger["messageId"].clone()),
            "answered twice: {trigger}"
        );
        out.push((
            trigger["content"].as_str().unwrap().to_owned(),
            reply["content"].as_str().unwrap().to_owned(),
        ));
    }
    out.sort();
    out
}

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_matching_message_gets_one_reply_which_the_sender_sees_live() {
    let Direct {
        server,
        api,
        alice,
        bob,
        room,
    } = start().await;
    let rule = add_rule(
        &api,
        &alice,
        json!({"pattern": "where are you", "matchMode": "caseInsensitive",
               "reply": "On holiday until Monday"}),
    )
    .await;
    assert_eq!(rule["enabled"], true);
    assert_eq!(rule["contactId"], Value::Null);
    add_fence(&api, &alice).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;

    let trigger = api.say(&bob, room, "Hey, WHERE ARE YOU?").await;
    assert_eq!(trigger["autoReply"], false);
    let own = bob_ws.next_of("message_created").await;
    assert_eq!(own["message"]["messageId"], trigger["messageId"]);
    let reply = bob_ws.next_of("message_created").await["message"].clone();
    assert_eq!(reply["roomId"], room);
    assert_eq!(reply["senderId"], alice.id);
    assert_eq!(reply["content"], "On holiday until Monday");
    assert_eq!(reply["autoReply"], true);
    assert_eq!(reply["replyId"], trigger["messageId"]);

    let seen = through_fence(&api, &mut bob_ws, &bob, room).await;
    assert_eq!(contents(&seen), [FENCE, FENCED], "no second reply");
    let history = api.history(&alice, room).await;
    assert_eq!(
        contents(&history),
        [
            "Hey, WHERE ARE YOU?",
            "On holiday until Monday",
            FENCE,
            FENCED
        ]
    );
    assert_eq!(history[1], reply, "history says what the socket said");
}

#[tokio::test]
async fn other_text_and_other_contacts_get_no_reply() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let with_bob = api.direct(&alice, &bob).await;
    let with_carol = api.direct(&alice, &carol).await;
    add_rule(
        &api,
        &alice,
        json!({"pattern": "hello", "contactId": bob.id, "reply": "hi bob"}),
    )
    .await;
    add_fence(&api, &alice).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;
    let mut carol_ws = Ws::connect(&server, &carol).await;

    api.say(&carol, with_carol, "hello alice").await;
    let seen = through_fence(&api, &mut carol_ws, &carol, with_carol).await;
    assert_eq!(contents(&seen), ["hello alice", FENCE, FENCED]);

    api.say(&bob, with_bob, "goodbye").await;
    api.say(&bob, with_bob, "hello there").await;
    let seen = through_fence(&api, &mut bob_ws, &bob, with_bob).await;
    assert_eq!(
        answers(&seen),
        pairs(&[("hello there", "hi bob"), (FENCE, FENCED)])
    );
    assert_eq!(seen.len(), 5, "{:?}", contents(&seen));
}

#[tokio::test]
async fn literal_case_insensitive_and_whole_word_match_as_documented() {
    let Direct {
        server,
        api,
        alice,
        bob,
        room,
    } = start().await;
    for (pattern, mode, reply) in [
        ("Urgent", "literal", "literal"),
        ("invoice", "caseInsensitive", "case-insensitive"),
        ("hi", "wholeWord", "whole word"),
    ] {
        add_rule(
            &api,
            &alice,
            json!({"pattern": pattern, "matchMode": mode, "reply": reply}),
        )
        .await;
    }
    add_fence(&api, &alice).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;
    for text in [
        "an urgent matter",
        "URGENT: Urgent call",
        "your INVOICE is ready",
        "this is it",
        "hiking today",
        "oh, HI!",
    ] {
        api.say(&bob, room, text).await;
    }
    let seen = through_fence(&api, &mut bob_ws, &bob, room).await;
    assert_eq!(
        answers(&seen),
        pairs(&[
            ("URGENT: Urgent call", "literal"),
            ("your INVOICE is ready", "case-insensitive"),
            ("oh, HI!", "whole word"),
            (FENCE, FENCED),
        ])
    );
}

#[tokio::test]
async fn a_disabled_rule_does_nothing_and_enabling_it_does_not_answer_the_past() {
    let Direct {
        server,
        api,
        alice,
        bob,
        room,
    } = start().await;
    let rule = add_rule(
        &api,
        &alice,
        json!({"pattern": "ping", "reply": "pong", "enabled": false}),
    )
    .await;
    assert_eq!(rule["enabled"], false);
    add_fence(&api, &alice).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;

    api.say(&bob, room, "ping while off").await;
    let seen = through_fence(&api, &mut bob_ws, &bob, room).await;
    assert_eq!(contents(&seen), ["ping while off", FENCE, FENCED]);

    let (status, body) = api
        .call(
            "PATCH",
            &format!("/api/auto-replies/{}", rule["id"]),
            Some(&alice.token),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["enabled"], true);
    api.say(&bob, room, "ping while on").await;
    let seen = through_fence(&api, &mut bob_ws, &bob, room).await;
    assert_eq!(
        answers(&seen),
        pairs(&[("ping while on", "pong"), (FENCE, FENCED)])
    );
    let history = api.history(&bob, room).await;
    assert_eq!(
        answers(&history),
        pairs(&[("ping while on", "pong"), (FENCE, FENCED), (FENCE, FENCED)]),
        "the message sent while the rule was off stays unanswered"
    );
}

#[tokio::test]
async fn two_users_whose_rules_match_each_others_replies_do_not_loop() {
    let Direct {
        server,
        api,
        alice,
        bob,
        room,
    } = start().await;
    // Each reply contains the other's pattern, and the sender's own.
    add_rule(
        &api,
        &alice,
        json!({"pattern": "hi", "matchMode": "wholeWord", "reply": "hi, alice is away"}),
    )
    .await;
    add_rule(
        &api,
        &bob,
        json!({"pattern": "hi", "matchMode": "wholeWord", "reply": "hi, bob is away"}),
    )
    .await;
    add_fence(&api, &alice).await;
    add_fence(&api, &bob).await;
    let mut alice_ws = Ws::connect(&server, &alice).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;

    api.say(&alice, room, "hi bob").await;
    // Bob's replier answers alice once...
    let seen = through_fence(&api, &mut alice_ws, &alice, room).await;
    assert_eq!(
        answers(&seen),
        pairs(&[("hi bob", "hi, bob is away"), (FENCE, FENCED)])
    );
    // ...and alice's, which has now looked at bob's auto-reply, does not
    // answer it (nor alice's own message).
    let seen = through_fence(&api, &mut bob_ws, &bob, room).await;
    let replies: Vec<_> = seen
        .iter()
        .filter(|m| m["content"] == "hi, alice is away")
        .collect();
    assert!(replies.is_empty(), "{:?}", contents(&seen));
    let history = api.history(&alice, room).await;
    assert_eq!(
        answers(&history),
        pairs(&[
            ("hi bob", "hi, bob is away"),
            (FENCE, FENCED),
            (FENCE, FENCED)
        ])
    );
    assert_eq!(history.len(), 6, "{:?}", contents(&history));
}

#[tokio::test]
async fn group_rooms_are_ignored() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let group = api.room(&alice, &[&bob]).await;
    let room = api.direct(&alice, &bob).await;
    let rule = add_rule(&api, &alice, json!({"pattern": "hello", "reply": "away"})).await;
    add_fence(&api, &alice).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;

    api.say(&bob, group, "hello group").await;
    // Group rooms send no nudges: only a sweep could look at the message
    // above, and a rule change makes the replier sweep, before it answers
    // what is sent after the change.
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/api/auto-replies/{}", rule["id"]),
            Some(&alice.token),
            Some(json!({"reply": "away"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api.say(&bob, room, "hello direct").await;
    let seen = through_fence(&api, &mut bob_ws, &bob, room).await;
    assert_eq!(
        answers(&seen),
        pairs(&[("hello direct", "away"), (FENCE, FENCED)])
    );
    // That fence may have been answered by a round that was under way at
    // the change, the next by the sweep itself; the third comes after the
    // sweep is through.
    through_fence(&api, &mut bob_ws, &bob, room).await;
    through_fence(&api, &mut bob_ws, &bob, room).await;
    assert_eq!(
        contents(&api.history(&bob, group).await),
        ["hello group"],
        "no reply in the group room"
    );
}

#[tokio::test]
async fn a_user_may_have_at_most_100_rules() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let mut first = Value::Null;
    for i in 0..100 {
        // Disabled rules count too: any of them can be switched on.
        let rule = add_rule(
            &api,
            &alice,
            json!({"pattern": format!("p{i}"), "reply": "r", "enabled": i % 2 == 0}),
        )
        .await;
        if i == 0 {
            first = rule;
        }
    }
    let (status, body) = api
        .post(
            "/api/auto-replies",
            &alice.token,
            json!({"pattern": "one more", "reply": "r"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "conflict");
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("100"), "{reason}");
    let (_, body) = api
        .get(
            "/api/auto-replies?query=pattern%20%3D%20'one%20more'",
            &alice.token,
        )
        .await;
    assert_eq!(body["meta"]["pagination"]["total"], 0, "nothing stored");
    let (_, body) = api.get("/api/auto-replies", &alice.token).await;
    assert_eq!(body["meta"]["pagination"]["total"], 100);

    // The limit is per user, and deleting one makes room again.
    add_rule(&api, &bob, json!({"pattern": "p", "reply": "r"})).await;
    let path = format!("/api/auto-replies/{}", first["id"]);
    let (status, _) = api.call("DELETE", &path, Some(&alice.token), None).await;
    assert_eq!(status, 200);
    add_rule(&api, &alice, json!({"pattern": "one more", "reply": "r"})).await;
}

#[tokio::test]
async fn rules_are_listed_changed_and_deleted_by_their_owner_only() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let a = add_rule(&api, &alice, json!({"pattern": "one", "reply": "1"})).await;
    let b = add_rule(
        &api,
        &alice,
        json!({"pattern": "two", "reply": "2", "matchMode": "wholeWord", "contactId": bob.id}),
    )
    .await;
    add_rule(
        &api,
        &alice,
        json!({"pattern": "three", "reply": "3", "enabled": false}),
    )
    .await;
    assert_eq!(a["matchMode"], "caseInsensitive", "the default mode");
    assert_eq!(b["contactId"], bob.id);

    let (status, body) = api.get("/api/auto-replies?limit=2", &alice.token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 3);
    let patterns: Vec<_> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pattern"].clone())
        .collect();
    assert_eq!(patterns, ["one", "two"]);
    let (_, body) = api
        .get("/api/auto-replies?offset=2&limit=2", &alice.token)
        .await;
    assert_eq!(body["data"][0]["pattern"], "three");
    let (status, body) = api
        .get(
            "/api/auto-replies?query=enabled%20%3D%20true%20AND%20matchMode%20%3D%20'wholeWord'",
            &alice.token,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["id"], b["id"]);
    let (status, _) = api
        .get("/api/auto-replies?query=owner%20%3D%201", &alice.token)
        .await;
    assert_eq!(status, 400, "unknown filter field");

    // Bob sees none of them and can touch none of them.
    let (_, body) = api.get("/api/auto-replies", &bob.token).await;
    assert_eq!(body["meta"]["pagination"]["total"], 0);
    let path = format!("/api/auto-replies/{}", b["id"]);
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"reply": "hacked"}))),
        ("DELETE", None),
    ] {
        let (status, resp) = api.call(method, &path, Some(&bob.token), body).await;
        assert_eq!(status, 404, "{method}: {resp}");
    }
    let (status, body) = api.get(&path, &alice.token).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], b, "unchanged");

    // The owner changes it: any contact now, another reply.
    let (status, body) = api
        .call(
            "PATCH",
            &path,
            Some(&alice.token),
            Some(json!({"contactId": null, "reply": "deux"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["contactId"], Value::Null);
    assert_eq!(body["data"]["reply"], "deux");
    assert_eq!(body["data"]["pattern"], "two", "untouched fields stay");
    let (status, _) = api.call("DELETE", &path, Some(&alice.token), None).await;
    assert_eq!(status, 200);
    let (status, _) = api.get(&path, &alice.token).await;
    assert_eq!(status, 404);
    let (status, _) = api.call("DELETE", &path, Some(&alice.token), None).await;
    assert_eq!(status, 404);
    let (_, body) = api.get("/api/auto-replies", &alice.token).await;
    assert_eq!(body["meta"]["pagination"]["total"], 2);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let long = "x".repeat(201);
    for (body, expected) in [
        (json!({"reply": "r"}), 422),
        (json!({"pattern": "   ", "reply": "r"}), 422),
        (json!({"pattern": long, "reply": "r"}), 422),
        (json!({"pattern": "p"}), 422),
        (json!({"pattern": "p", "reply": ""}), 422),
        (json!({"pattern": "p", "reply": "y".repeat(4001)}), 422),
        (
            json!({"pattern": "p", "reply": "r", "matchMode": "regex"}),
            422,
        ),
        (
            json!({"pattern": "p", "reply": "r", "contactId": 999_999}),
            422,
        ),
        (
            json!({"pattern": "p", "reply": "r", "contactId": alice.id}),
            422,
        ),
        (json!({"pattern": "p", "reply": "r", "owner": 1}), 422),
        (json!({"pattern": "p", "reply": "r", "enabled": "yes"}), 422),
        (json!(["p", "r"]), 422),
    ] {
        let (status, resp) = api
            .post("/api/auto-replies", &alice.token, body.clone())
            .await;
        assert_eq!(status, expected, "{body} → {resp}");
        assert_eq!(resp["error"], true, "{resp}");
    }
    let (_, body) = api.get("/api/auto-replies", &alice.token).await;
    assert_eq!(body["meta"]["pagination"]["total"], 0, "nothing stored");

    let rule = add_rule(&api, &alice, json!({"pattern": "p", "reply": "r"})).await;
    let path = format!("/api/auto-replies/{}", rule["id"]);
    for (body, expected) in [
        (json!({"pattern": ""}), 422),
        (json!({"matchMode": "fuzzy"}), 422),
        (json!({"contactId": 999_999}), 422),
        (json!({"reply": "ok", "matchMode": "nope"}), 422),
        (json!({"id": 7}), 422),
    ] {
        let (status, resp) = api
            .call("PATCH", &path, Some(&alice.token), Some(body.clone()))
            .await;
        assert_eq!(status, expected, "{body} → {resp}");
    }
    let (_, body) = api.get(&path, &alice.token).await;
    assert_eq!(body["data"], rule, "unchanged");
    for path in ["/api/auto-replies/abc", "/api/auto-replies/0"] {
        let (status, _) = api.get(path, &alice.token).await;
        assert!(status == 400 || status == 404, "{path}: {status}");
    }
    let (status, _) = api.call("GET", "/api/auto-replies", None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_crash_right_after_the_trigger_still_answers_exactly_once() {
    let mut server = TestServer::start();
    let dir = server.take_dir().unwrap();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let room = api.direct(&alice, &bob).await;
    add_rule(
        &api,
        &alice,
        json!({"pattern": "are you there", "reply": "back soon"}),
    )
    .await;
    add_fence(&api, &alice).await;
    api.say(&bob, room, "are you there?").await;
    // Killed at once: the reply may or may not have gone out. Either way
    // the restarted server ends with exactly one.
    server.kill();

    let server = TestServer::start_in(dir.path(), &[]);
    let api = Api::new(&server);
    let mut bob_ws = Ws::connect(&server, &bob).await;
    through_fence(&api, &mut bob_ws, &bob, room).await;
    let history = api.history(&bob, room).await;
    assert_eq!(
        answers(&history),
        pairs(&[("are you there?", "back soon"), (FENCE, FENCED)])
    );
    assert_eq!(history.len(), 4, "{:?}", contents(&history));
}
