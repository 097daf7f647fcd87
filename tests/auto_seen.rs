//! Auto-seen periods on a clock the test moves: at the end of each period
//! the server marks a channel's messages as seen for the user, as their own
//! `seen` would, and not before.

mod support;

use serde_json::{json, Value};
use support::{Api, TestServer, User, Ws};

/// A channel of `owner`'s with `members` in it.
async fn channel(api: &Api, owner: &User, members: &[&User]) -> i64 {
    let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
    let (status, body) = api
        .post(
            "/api/rooms",
            &owner.token,
            json!({"type": "channel", "name": "news", "participants": ids}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_i64().unwrap()
}

/// (readSeq, lastSeq, unread) of my entry for `room` in GET /api/rooms.
async fn position(api: &Api, user: &User, room: i64) -> (i64, i64, i64) {
    let (status, body) = api.get("/api/rooms", &user.token).await;
    assert_eq!(status, 200, "{body}");
    let mine = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .cloned()
        .expect("my room is listed");
    let n = |k: &str| mine[k].as_i64().unwrap();
    (n("readSeq"), n("lastSeq"), n("unread"))
}

async fn create(api: &Api, user: &User, body: Value) -> (u16, Value) {
    api.post("/api/auto-seen", &user.token, body).await
}

#[tokio::test]
async fn a_channel_is_marked_seen_at_the_end_of_each_period_not_before() {
    let server = TestServer::start_with(&["--test-clock"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let news = channel(&api, &alice, &[&bob]).await;
    // A shorter period elsewhere: when it has run, the 30-second mark has
    // been looked at.
    let sports = channel(&api, &alice, &[&bob]).await;
    api.say(&alice, news, "one").await;
    api.say(&alice, news, "two").await;
    api.say(&alice, sports, "goal").await;
    let (status, body) = create(&api, &bob, json!({"channelId": news, "periodSecs": 60})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_i64().unwrap();
    assert_eq!(body["data"]["channelId"], news);
    let (status, _) = create(&api, &bob, json!({"channelId": sports, "periodSecs": 30})).await;
    assert_eq!(status, 201);
    let (read, last, unread) = position(&api, &bob, news).await;
    assert_eq!((read, unread), (0, 2));
    let mut alice_ws = Ws::connect(&server, &alice).await;

    api.advance_clock(31).await;
    let seen = alice_ws.next_of("seen").await;
    assert_eq!(
        (&seen["roomId"], &seen["userId"]),
        (&json!(sports), &json!(bob.id))
    );
    assert_eq!(position(&api, &bob, news).await, (0, last, 2), "not before");

    // The period ends: the room hears it as it hears a `seen`.
    api.advance_clock(30).await;
    let seen = alice_ws.next_of("seen").await;
    assert_eq!(
        seen,
        json!({"type": "seen", "roomId": news, "userId": bob.id, "seq": last})
    );
    assert_eq!(position(&api, &bob, news).await, (last, last, 0));

    // And again next period, for what came since.
    api.say(&alice, news, "three").await;
    assert_eq!(position(&api, &bob, news).await, (last, last + 1, 1));
    api.advance_clock(60).await;
    loop {
        let seen = alice_ws.next_of("seen").await;
        if seen["roomId"] == news {
            assert_eq!(seen["seq"], last + 1);
            break;
        }
    }
    assert_eq!(position(&api, &bob, news).await, (last + 1, last + 1, 0));

    // Deleted, it stops; the other one goes on and is the barrier.
    let path = format!("/api/auto-seen/{id}");
    let (status, _) = api.call("DELETE", &path, Some(&bob.token), None).await;
    assert_eq!(status, 200);
    api.say(&alice, news, "four").await;
    api.say(&alice, sports, "another goal").await;
    api.advance_clock(120).await;
    let seen = alice_ws.next_of("seen").await;
    assert_eq!(seen["roomId"], sports);
    assert_eq!(
        position(&api, &bob, news).await,
        (last + 1, last + 2, 1),
        "a deleted period marks nothing"
    );
}

#[tokio::test]
async fn bad_periods_are_refused_and_others_periods_are_not_found() {
    let server = TestServer::start_with(&["--test-clock"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let news = channel(&api, &alice, &[&bob]).await;
    let group = api.room(&alice, &[&bob]).await;
    let elsewhere = channel(&api, &carol, &[]).await;

    let cases = [
        (json!({"channelId": news}), 422),
        (json!({"periodSecs": 60}), 422),
        (json!({"channelId": news, "periodSecs": 5}), 422),
        (
            json!({"channelId": news, "periodSecs": 400 * 24 * 3600}),
            422,
        ),
        (json!({"channelId": news, "periodSecs": 1.5}), 422),
        (
            json!({"channelId": news, "periodSecs": 60, "extra": true}),
            422,
        ),
        // A group room is no channel; a channel I am not in is not mine.
        (json!({"channelId": group, "periodSecs": 60}), 404),
        (json!({"channelId": elsewhere, "periodSecs": 60}), 404),
        (json!({"channelId": 999_999, "periodSecs": 60}), 404),
    ];
    for (body, expected) in cases {
        let (status, resp) = create(&api, &bob, body.clone()).await;
        assert_eq!(status, expected, "{body} → {resp}");
    }
    let (_, body) = api.get("/api/auto-seen", &bob.token).await;
    assert_eq!(body["meta"]["pagination"]["total"], 0, "nothing stored");

    let (status, body) = create(&api, &bob, json!({"channelId": news, "periodSecs": 60})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_i64().unwrap();
    let (status, _) = create(&api, &bob, json!({"channelId": news, "periodSecs": 90})).await;
    assert_eq!(status, 409, "one period per channel");

    let path = format!("/api/auto-seen/{id}");
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"periodSecs": 30}))),
        ("DELETE", None),
    ] {
        let (status, _) = api.call(method, &path, Some(&alice.token), body).await;
        assert_eq!(status, 404, "{method} someone else's period");
    }
    let (status, _) = api
        .call(
            "PATCH",
            &path,
            Some(&bob.token),
            Some(json!({"periodSecs": 0})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, body) = api
        .call(
            "PATCH",
            &path,
            Some(&bob.token),
            Some(json!({"periodSecs": 3600})),
        )
        .await;
    assert_eq!((status, &body["data"]["periodSecs"]), (200, &json!(3600)));

    let (status, body) = api
        .get(
            &format!("/api/auto-seen?query=channelId%20%3D%20{news}"),
            &bob.token,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["periodSecs"], 3600);
    let (status, _) = api
        .get("/api/auto-seen?query=userId%20%3D%201", &bob.token)
        .await;
    assert_eq!(status, 400);
}
