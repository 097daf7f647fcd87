//! Disappearing messages on a clock the test moves: a conversation's
//! messages become tombstones for everyone once older than the lifetime
//! (not before), the files only they carried are freed, and rules survive
//! restarts.
//!
//! Messages are stamped with the real time while the rules run on the
//! automation clock, so each test posts before it moves the clock: a
//! message posted after a jump would already look that much older.

mod support;

use serde_json::{json, Value};
use support::{with_query, Api, TestServer, User, Ws, WAIT};

async fn create(api: &Api, user: &User, body: Value) -> (u16, Value) {
    api.post("/api/auto-destructs", &user.token, body).await
}

/// Makes a rule that must be accepted; its id.
async fn rule(api: &Api, user: &User, body: Value) -> i64 {
    let (status, body) = create(api, user, body).await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_i64().unwrap()
}

/// Whether each message of the room is deleted, oldest first.
async fn deleted(api: &Api, user: &User, room: i64) -> Vec<bool> {
    api.history(user, room)
        .await
        .iter()
        .filter(|m| m["type"] != "system")
        .map(|m| m["deleted"] == true)
        .collect()
}

async fn upload(api: &Api, user: &User, bytes: &'static [u8]) -> Value {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("notes.txt");
    let resp = api
        .client
        .post(format!("{}/api/files", api.base))
        .bearer_auth(&user.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["data"].clone()
}

async fn post_file(api: &Api, user: &User, room: i64, file: &Value) {
    let (status, body) = api
        .post(
            &format!("/api/rooms/{room}/messages"),
            &user.token,
            json!({"fileId": file["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// The status of a download, or 0 when the response broke off (a blob
/// the test made unreadable fails while it is sent).
async fn download_status(api: &Api, user: &User, file: &Value) -> u16 {
    api.client
        .get(format!("{}/api/files/{}", api.base, file["id"]))
        .bearer_auth(&user.token)
        .send()
        .await
        .map_or(0, |resp| resp.status().as_u16())
}

fn blob_path(server: &TestServer, file: &Value) -> std::path::PathBuf {
    let sha = file["sha256"].as_str().unwrap();
    server.data_dir.join("files").join(&sha[..2]).join(sha)
}

/// Polls until `check` holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn messages_and_their_files_disappear_after_the_lifetime_not_before() {
    let server = TestServer::start_with(&["--test-clock"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let direct = api.direct(&alice, &bob).await;
    let group = api.room(&alice, &[&bob]).await;
    // A shorter rule elsewhere: when its message goes, the sweep has run
    // past the 30-second mark.
    let with_carol = api.direct(&alice, &carol).await;

    // Earlier messages disappear too, not only those after the rule.
    api.say(&alice, direct, "before the rule").await;
    let only_here = upload(&api, &alice, b"only in the direct room").await;
    let shared = upload(&api, &alice, b"also in the group").await;
    post_file(&api, &alice, direct, &only_here).await;
    post_file(&api, &alice, direct, &shared).await;
    post_file(&api, &alice, group, &shared).await;
    api.say(&bob, direct, "bob's words go too").await;
    api.say(&carol, with_carol, "short-lived").await;
    rule(
        &api,
        &alice,
        json!({"contactId": bob.id, "lifetimeSecs": 60}),
    )
    .await;
    rule(
        &api,
        &carol,
        json!({"roomId": with_carol, "lifetimeSecs": 30}),
    )
    .await;
    assert!(blob_path(&server, &only_here).exists());
    let mut bob_ws = Ws::connect(&server, &bob).await;
    let mut carol_ws = Ws::connect(&server, &carol).await;

    api.advance_clock(31).await;
    let gone = carol_ws.next_of("message_deleted").await;
    assert_eq!(gone["roomId"], with_carol);
    assert_eq!(deleted(&api, &carol, with_carol).await, [true]);
    assert_eq!(
        deleted(&api, &bob, direct).await,
        [false; 4],
        "not before the lifetime"
    );
    bob_ws.expect_quiet().await;

    api.advance_clock(30).await;
    let mut seqs = Vec::new();
    for _ in 0..4 {
        let f = bob_ws.next_of("message_deleted").await;
        assert_eq!(f["roomId"], direct);
        seqs.push(f["seq"].as_i64().unwrap());
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 4, "each message once");
    // Tombstones for both of them: no content, no file.
    let history = api.history(&alice, direct).await;
    for m in history.iter().filter(|m| m["type"] != "system") {
        assert_eq!((&m["deleted"], &m["content"]), (&json!(true), &json!("")));
        assert!(m["fileId"].is_null(), "{m}");
    }
    // The group room has no rule: its copy of the shared file stays.
    assert_eq!(deleted(&api, &bob, group).await, [false]);

    // The file only the destroyed messages carried is gone for everyone,
    // its uploader too, and off the disk; the shared one stays.
    eventually("the unshared file is freed", || async {
        download_status(&api, &alice, &only_here).await == 404
    })
    .await;
    assert_eq!(download_status(&api, &bob, &only_here).await, 404);
    eventually("its blob is removed", || async {
        !blob_path(&server, &only_here).exists()
    })
    .await;
    assert_eq!(download_status(&api, &bob, &shared).await, 200);
    assert!(blob_path(&server, &shared).exists());
}

/// A blob that cannot be removed (here a directory stands where its file
/// was) neither stops later messages from disappearing nor is forgotten:
/// its removal is tried again once it can succeed.
#[tokio::test]
async fn a_blob_that_cannot_be_removed_holds_up_nothing_and_goes_later() {
    let server = TestServer::start_with(&["--test-clock"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let direct = api.direct(&alice, &bob).await;
    let stuck = upload(&api, &alice, b"bytes that will not go").await;
    post_file(&api, &alice, direct, &stuck).await;
    rule(&api, &alice, json!({"roomId": direct, "lifetimeSecs": 60})).await;
    let blob = blob_path(&server, &stuck);
    std::fs::remove_file(&blob).unwrap();
    std::fs::create_dir(&blob).unwrap();

    api.advance_clock(61).await;
    eventually("the message goes", || async {
        deleted(&api, &bob, direct).await == [true]
    })
    .await;
    eventually("the file is freed", || async {
        download_status(&api, &alice, &stuck).await == 404
    })
    .await;

    // Posted after the jump, so already due; each look moves the clock on
    // in case the task went to sleep until its next retry.
    api.say(&bob, direct, "after the stuck blob").await;
    eventually("a later message still goes", || async {
        api.advance_clock(5).await;
        deleted(&api, &bob, direct).await == [true, true]
    })
    .await;
    assert!(blob.is_dir(), "the removal keeps failing");

    // Once the blob can be removed, a later try removes it.
    std::fs::remove_dir(&blob).unwrap();
    std::fs::write(&blob, b"bytes that will not go").unwrap();
    eventually("the blob is removed at last", || async {
        api.advance_clock(30).await;
        !blob.exists()
    })
    .await;
}

#[tokio::test]
async fn a_deleted_rule_stops_and_other_users_rules_are_not_found() {
    let server = TestServer::start_with(&["--test-clock"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let direct = api.direct(&alice, &bob).await;
    let with_carol = api.direct(&alice, &carol).await;
    api.say(&alice, direct, "stays").await;
    api.say(&alice, with_carol, "goes").await;
    let id = rule(&api, &bob, json!({"roomId": direct, "lifetimeSecs": 60})).await;
    // The barrier: a rule that does fire.
    rule(
        &api,
        &carol,
        json!({"contactId": alice.id, "lifetimeSecs": 120}),
    )
    .await;

    // Someone else's rule is not there for them.
    let path = format!("/api/auto-destructs/{id}");
    let (status, _) = api.get(&path, &alice.token).await;
    assert_eq!(status, 404);
    let (status, _) = api
        .call(
            "PATCH",
            &path,
            Some(&alice.token),
            Some(json!({"lifetimeSecs": 5})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = api.call("DELETE", &path, Some(&alice.token), None).await;
    assert_eq!(status, 404);
    let (status, body) = api.get(&path, &bob.token).await;
    assert_eq!((status, &body["data"]["lifetimeSecs"]), (200, &json!(60)));

    // Its owner changes it, then deletes it.
    let (status, body) = api
        .call(
            "PATCH",
            &path,
            Some(&bob.token),
            Some(json!({"lifetimeSecs": 90})),
        )
        .await;
    assert_eq!((status, &body["data"]["lifetimeSecs"]), (200, &json!(90)));
    let (status, _) = api.call("DELETE", &path, Some(&bob.token), None).await;
    assert_eq!(status, 200);
    let (status, _) = api.get(&path, &bob.token).await;
    assert_eq!(status, 404);

    let mut alice_ws = Ws::connect(&server, &alice).await;
    api.advance_clock(121).await;
    assert_eq!(
        alice_ws.next_of("message_deleted").await["roomId"],
        with_carol
    );
    assert_eq!(
        deleted(&api, &alice, direct).await,
        [false],
        "no rule, no delete"
    );
}

#[tokio::test]
async fn bad_rules_are_refused_and_change_nothing() {
    let server = TestServer::start_with(&["--test-clock"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let direct = api.direct(&alice, &bob).await;
    // alice owns the group; bob is a plain member of it.
    let group = api.room(&alice, &[&bob]).await;
    let strangers = api.room(&carol, &[]).await;

    let cases = [
        (json!({"roomId": direct}), 422),
        (json!({"roomId": direct, "lifetimeSecs": 0}), 422),
        (json!({"roomId": direct, "lifetimeSecs": -5}), 422),
        (
            json!({"roomId": direct, "lifetimeSecs": 400 * 24 * 3600}),
            422,
        ),
        (json!({"roomId": direct, "lifetimeSecs": "60"}), 422),
        (json!({"lifetimeSecs": 60}), 422),
        (
            json!({"roomId": direct, "contactId": bob.id, "lifetimeSecs": 60}),
            422,
        ),
        (json!({"roomId": direct, "lifetimeSecs": 60, "x": 1}), 422),
        // Not my room, no such room, not my contact.
        (json!({"roomId": strangers, "lifetimeSecs": 60}), 404),
        (json!({"roomId": 999_999, "lifetimeSecs": 60}), 404),
        (json!({"contactId": carol.id, "lifetimeSecs": 60}), 404),
    ];
    for (body, expected) in cases {
        let (status, resp) = create(&api, &alice, body.clone()).await;
        assert_eq!(status, expected, "{body} → {resp}");
    }
    let (status, body) = api
        .call("POST", "/api/auto-destructs", Some(&alice.token), None)
        .await;
    assert_eq!(status, 400, "{body}");
    // A group's messages are everyone's: only its owners and admins.
    let (status, body) = create(&api, &bob, json!({"roomId": group, "lifetimeSecs": 60})).await;
    assert_eq!(status, 403, "{body}");
    for user in [&alice, &bob] {
        let (_, body) = api.get("/api/auto-destructs", &user.token).await;
        assert_eq!(body["meta"]["pagination"]["total"], 0, "nothing stored");
    }

    // One rule per conversation; the owner may set one on the group.
    let id = rule(&api, &alice, json!({"roomId": direct, "lifetimeSecs": 60})).await;
    let (status, _) = create(
        &api,
        &alice,
        json!({"contactId": bob.id, "lifetimeSecs": 5}),
    )
    .await;
    assert_eq!(status, 409);
    rule(&api, &alice, json!({"roomId": group, "lifetimeSecs": 3600})).await;
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/api/auto-destructs/{id}"),
            Some(&alice.token),
            Some(json!({"lifetimeSecs": 0})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, body) = api
        .get(&format!("/api/auto-destructs/{id}"), &alice.token)
        .await;
    assert_eq!(body["data"]["lifetimeSecs"], 60, "unchanged");

    // The list pages and filters.
    let (status, body) = api
        .get(
            "/api/auto-destructs?query=lifetimeSecs%20%3C%20100&limit=10",
            &alice.token,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["roomId"], direct);
    let (status, _) = api
        .get("/api/auto-destructs?query=secret%20%3D%201", &alice.token)
        .await;
    assert_eq!(status, 400);
    let (_, body) = api.get("/api/auto-destructs", &alice.token).await;
    assert_eq!(body["meta"]["pagination"]["total"], 2);
}

/// The list is mine whatever the filter: an `OR` never reaches another
/// user's rules.
#[tokio::test]
async fn a_filter_never_lists_another_users_rules() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let direct = api.direct(&alice, &bob).await;
    let bobs_other = api.direct(&bob, &carol).await;
    let mine = rule(&api, &alice, json!({"roomId": direct, "lifetimeSecs": 60})).await;
    let bobs = rule(&api, &bob, json!({"roomId": direct, "lifetimeSecs": 30})).await;
    rule(
        &api,
        &bob,
        json!({"roomId": bobs_other, "lifetimeSecs": 30}),
    )
    .await;

    let cases = [
        ("id > 0 OR id <= 0".to_owned(), 1),
        (format!("id = {bobs} OR lifetimeSecs > 0"), 1),
        (format!("roomId = {bobs_other} OR roomId = {direct}"), 1),
        ("NOT (id < 0) OR lifetimeSecs = 30".to_owned(), 1),
        (format!("id = {bobs} OR lifetimeSecs = 30"), 0),
        (format!("roomId = {bobs_other}"), 0),
    ];
    for (q, want) in cases {
        let (status, body) = api
            .get(&with_query("/api/auto-destructs", &q, ""), &alice.token)
            .await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(body["meta"]["pagination"]["total"], want, "{q}: {body}");
        for r in body["data"].as_array().unwrap() {
            assert_eq!(r["id"], mine, "{q}: {r}");
        }
    }
}

#[tokio::test]
async fn rules_survive_a_restart_and_messages_due_meanwhile_go_at_start() {
    let mut server = TestServer::start();
    let dir = server.take_dir().unwrap();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let room = api.direct(&alice, &bob).await;
    let id = rule(&api, &alice, json!({"roomId": room, "lifetimeSecs": 1})).await;
    api.say(&bob, room, "gone while you were away").await;
    let posted = tokio::time::Instant::now();
    server.kill();
    // Down for longer than the lifetime.
    tokio::time::sleep_until(posted + std::time::Duration::from_millis(1200)).await;

    let server = TestServer::start_in(dir.path(), &[]);
    let api = Api::new(&server);
    eventually("the message that fell due is deleted", || async {
        deleted(&api, &bob, room).await == [true]
    })
    .await;
    let (status, body) = api
        .get(&format!("/api/auto-destructs/{id}"), &alice.token)
        .await;
    assert_eq!((status, &body["data"]["lifetimeSecs"]), (200, &json!(1)));
}
