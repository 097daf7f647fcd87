//! Scheduled messages on a clock the test moves: each is sent once at its
//! time, a cancelled one never, and the queue survives restarts.

mod support;

use serde_json::{json, Value};
use support::{Api, TestServer, User, Ws};

async fn advance(api: &Api, secs: i64) -> String {
    api.advance_clock(secs).await
}

/// The automation clock's time plus `secs`, as RFC 3339.
async fn in_secs(api: &Api, secs: i64) -> String {
    let now = advance(api, 0).await;
    let t = time::OffsetDateTime::parse(&now, &time::format_description::well_known::Rfc3339)
        .unwrap()
        + time::Duration::seconds(secs);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn schedule(api: &Api, user: &User, body: Value) -> (u16, Value) {
    api.post("/api/scheduled-messages", &user.token, body).await
}

/// Waits until the scheduled message reaches `want` (the post is seen
/// live a moment before its row is marked sent).
async fn wait_status(api: &Api, user: &User, id: &Value, want: &str) {
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let status = status_of(api, user, id).await;
        if status == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {status}, not {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn status_of(api: &Api, user: &User, id: &Value) -> String {
    let (status, body) = api
        .get(&format!("/api/scheduled-messages/{id}"), &user.token)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sent_once_at_its_time_and_a_cancelled_one_never() {
    let server = TestServer::start_with(&["--test-clock"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let room = api.room(&alice, &[&bob]).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;

    let at_1h = in_secs(&api, 3600).await;
    let (status, a) = schedule(
        &api,
        &alice,
        json!({"roomId": room, "content": "in an hour", "sendAt": at_1h}),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["data"]["status"], "pending");
    let at_2h = in_secs(&api, 7200).await;
    let (_, b) = schedule(
        &api,
        &alice,
        json!({"roomId": room, "content": "in two hours", "sendAt": at_2h}),
    )
    .await;
    let at_30m = in_secs(&api, 1800).await;
    let (_, c) = schedule(
        &api,
        &alice,
        json!({"roomId": room, "content": "never", "sendAt": at_30m}),
    )
    .await;
    let (status, cancelled) = api
        .call(
            "DELETE",
            &format!("/api/scheduled-messages/{}", c["data"]["id"]),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["data"]["status"], "cancelled");

    advance(&api, 3700).await;
    let frame = bob_ws.next_of("message_created").await;
    assert_eq!(frame["message"]["content"], "in an hour");
    assert_eq!(frame["message"]["senderId"], alice.id);
    assert_eq!(frame["message"]["messageId"], a["data"]["messageId"]);
    wait_status(&api, &alice, &a["data"]["id"], "sent").await;
    assert_eq!(status_of(&api, &alice, &b["data"]["id"]).await, "pending");
    assert_eq!(status_of(&api, &alice, &c["data"]["id"]).await, "cancelled");

    // A sent one can no longer change or be cancelled.
    let (status, _) = api
        .call(
            "PATCH",
            &format!("/api/scheduled-messages/{}", a["data"]["id"]),
            Some(&alice.token),
            Some(json!({"content": "too late"})),
        )
        .await;
    assert_eq!(status, 409);

    advance(&api, 3600).await;
    let frame = bob_ws.next_of("message_created").await;
    assert_eq!(frame["message"]["content"], "in two hours");
    let contents: Vec<Value> = api
        .history(&bob, room)
        .await
        .iter()
        .map(|m| m["content"].clone())
        .collect();
    assert_eq!(contents, [json!("in an hour"), json!("in two hours")]);

    let (status, body) = api.get("/api/scheduled-messages", &alice.token).await;
    assert_eq!(status, 200);
    assert_eq!(body["meta"]["pagination"]["total"], 3);
    // The filter language works on the queue too.
    let filtered = |q: &str| {
        let q = q
            .replace(' ', "%20")
            .replace('\'', "%27")
            .replace('=', "%3D");
        format!("/api/scheduled-messages?query={q}")
    };
    let (status, body) = api
        .get(&filtered("status = 'cancelled'"), &alice.token)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["content"], "never");
    let (_, body) = api
        .get(
            &filtered(&format!("status = 'sent' AND sendAt > '{at_1h}'")),
            &alice.token,
        )
        .await;
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["content"], "in two hours");
    let (status, body) = api.get(&filtered("userId = 1"), &alice.token).await;
    assert_eq!(status, 400, "{body}");
    // Nobody else sees them.
    let (status, _) = api
        .get(
            &format!("/api/scheduled-messages/{}", a["data"]["id"]),
            &bob.token,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_schedules_are_refused() {
    let server = TestServer::start_with(&["--test-clock"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let room = api.room(&bob, &[&carol]).await;
    let later = in_secs(&api, 60).await;
    for (body, expected) in [
        (
            json!({"roomId": room, "content": "x", "sendAt": later}),
            404,
        ),
        (
            json!({"contactId": bob.id, "content": "x", "sendAt": later}),
            404,
        ),
        (json!({"content": "x", "sendAt": later}), 422),
        (
            json!({"roomId": 1, "contactId": 2, "content": "x", "sendAt": later}),
            422,
        ),
        (
            json!({"roomId": room, "content": "x", "sendAt": "2000-01-01T00:00:00Z"}),
            422,
        ),
        (
            json!({"roomId": room, "content": "x", "sendAt": "tomorrow"}),
            422,
        ),
        (json!({"roomId": room, "content": "", "sendAt": later}), 422),
        (
            json!({"roomId": room, "content": "x", "sendAt": later, "status": "sent"}),
            422,
        ),
    ] {
        let (status, resp) = schedule(&api, &alice, body.clone()).await;
        assert_eq!(status, expected, "{body} → {resp}");
    }
    let (_, body) = api.get("/api/scheduled-messages", &alice.token).await;
    assert_eq!(body["meta"]["pagination"]["total"], 0, "nothing stored");
}

#[tokio::test]
async fn a_message_due_while_the_server_was_down_is_sent_at_start() {
    let mut server = TestServer::start();
    let dir = server.take_dir().unwrap();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    // A contact: the direct room is made for the schedule.
    let (status, body) = api
        .post(
            "/api/rooms",
            &alice.token,
            json!({"type": "direct", "participants": [bob.id]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let room = body["data"]["id"].as_i64().unwrap();
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::milliseconds(1500))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, s) = schedule(
        &api,
        &alice,
        json!({"contactId": bob.id, "content": "while you were away", "sendAt": soon}),
    )
    .await;
    assert_eq!(status, 201, "{s}");
    assert_eq!(s["data"]["roomId"], room);
    server.kill();

    let server = TestServer::start_in(dir.path(), &[]);
    let api = Api::new(&server);
    let mut bob_ws = Ws::connect(&server, &bob).await;
    let frame = bob_ws.next_of("message_created").await;
    assert_eq!(frame["message"]["content"], "while you were away");
    let history = api.history(&bob, room).await;
    assert_eq!(history.len(), 1, "sent exactly once: {history:?}");
    wait_status(&api, &alice, &s["data"]["id"], "sent").await;
}
