//! The Management API's CRUD: users, rooms, participants, messages and
//! sessions, with paging, sorting and filters, as a client sees them — and
//! what members' live sockets see when the administrator changes things.

mod support;

use serde_json::{json, Value};
use support::{assert_bad_query, with_query, Api, Pair, TestServer, User, Ws, ADMIN_ARGS};

/// Session ended: the same close code as logout.
const POLICY_VIOLATION: u16 = 1008;

/// The administrator's side of the API: every call carries the admin token.
struct Admin<'a> {
    api: &'a Api,
    token: String,
}

impl Admin<'_> {
    async fn login(api: &Api) -> Admin<'_> {
        Admin {
            token: api.admin_token().await,
            api,
        }
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.api.get(path, &self.token).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.api.post(path, &self.token, body).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.api
            .call("PATCH", path, Some(&self.token), Some(body))
            .await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.api.call("DELETE", path, Some(&self.token), None).await
    }
}

fn logins(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|u| u["login"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn users_paging_sorting_filters_and_errors() {
    let server = TestServer::start_with(ADMIN_ARGS);
    let api = Api::new(&server);
    let adm = Admin::login(&api).await;
    for login in ["dave", "alice", "erin", "carol", "bob"] {
        let (status, body) = adm.post("/api/admin/users", json!({"login": login, "password": "password123", "name": login, "avatar": "a.png"}))
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["data"]["login"], login);
        assert!(body["data"].get("password").is_none());
    }

    let (status, body) = adm.get("/api/admin/users?limit=2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(logins(&body), ["dave", "alice"], "by id when unsorted");
    let p = &body["meta"]["pagination"];
    assert_eq!(
        (
            &p["currentPage"],
            &p["perPage"],
            &p["total"],
            &p["totalPages"]
        ),
        (&json!(1), &json!(2), &json!(5), &json!(3))
    );
    assert_eq!(p["links"]["next"], "/api/admin/users?limit=2&page=2");
    assert!(p["links"]["previous"].is_null());

    let (_, body) = adm.get("/api/admin/users?limit=2&page=3").await;
    assert_eq!(logins(&body), ["bob"]);
    let p = &body["meta"]["pagination"];
    assert!(p["links"]["next"].is_null());
    assert_eq!(p["links"]["previous"], "/api/admin/users?limit=2&page=2");

    let (_, body) = adm.get("/api/admin/users?sort=login").await;
    assert_eq!(logins(&body), ["alice", "bob", "carol", "dave", "erin"]);
    let (_, body) = adm
        .get("/api/admin/users?sort=login&direction=desc&limit=2&page=2")
        .await;
    assert_eq!(logins(&body), ["carol", "bob"]);
    assert_eq!(
        body["meta"]["pagination"]["links"]["next"],
        "/api/admin/users?sort=login&direction=desc&limit=2&page=3"
    );

    let (_, body) = adm.get("/api/admin/users?login=carol").await;
    assert_eq!(logins(&body), ["carol"]);
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    let (_, body) = adm
        .get("/api/admin/users?createdAfter=2000-01-01T00:00:00Z&name=nobody")
        .await;
    assert_eq!(body["meta"]["pagination"]["total"], 0);
    assert_eq!(body["meta"]["pagination"]["totalPages"], 0);

    for (query, says) in [
        ("sort=password", "login"),
        ("sort=id&direction=up", "direction"),
        ("direction=desc", "sort"),
        ("password=x", "unknown query parameter 'password'"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("limit=101", "limit"),
        ("id=abc", "integer"),
        ("createdAfter=yesterday", "RFC 3339"),
    ] {
        let (status, body) = adm.get(&format!("/api/admin/users?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], "bad_request");
        let reason = body["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(says), "{query}: {reason}");
    }
}

#[tokio::test]
async fn user_get_create_patch_delete() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(ADMIN_ARGS).await;
    let adm = Admin::login(&api).await;

    let (status, body) = adm.get(&format!("/api/admin/users/{}", bob.id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["login"], "bob");
    assert_eq!(body["data"]["rooms"][0]["id"], room);
    for path in ["/api/admin/users/999", "/api/admin/users/abc"] {
        let (status, body) = adm.get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }

    // Mass assignment: ids and times are the server's.
    let (status, body) = adm
        .post(
            "/api/admin/users",
            json!({"login": "mallory", "password": "password123", "name": "M", "id": 1}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = adm
        .patch(
            &format!("/api/admin/users/{}", bob.id),
            json!({"createdAt": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    // The sign-up rules hold.
    let (status, body) = adm
        .post(
            "/api/admin/users",
            json!({"login": "X", "password": "short", "name": ""}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(3), "{body}");

    let bob_path = format!("/api/admin/users/{}", bob.id);
    let (status, body) = adm
        .patch(
            &bob_path,
            json!({"name": "Robert", "avatar": "r.png", "login": "robert"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["data"]["name"],
            &body["data"]["avatar"],
            &body["data"]["login"]
        ),
        (&json!("Robert"), &json!("r.png"), &json!("robert"))
    );
    let (status, body) = adm.patch(&bob_path, json!({"avatar": null})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["avatar"].is_null());
    let (status, _) = adm.patch(&bob_path, json!({"login": "alice"})).await;
    assert_eq!(status, 409, "login taken");
    let (status, _) = adm
        .patch("/api/admin/users/999", json!({"name": "x"}))
        .await;
    assert_eq!(status, 404);

    // A password reset ends bob's sessions: his socket closes, his token dies.
    let mut bob_ws = Ws::connect(&server, &bob).await;
    let (status, body) = adm
        .patch(&bob_path, json!({"password": "new-password-9"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bob_ws.close_code().await, Some(POLICY_VIOLATION));
    let (status, _) = api.get("/api/me", &bob.token).await;
    assert_eq!(status, 401);

    // Deleting alice, the room's owner: her socket closes, bob (logged in
    // again) sees her leave, the room and her messages stay.
    let said = api.say(&alice, room, "before I go").await;
    // The new password works.
    let bob = api_login(&api, "robert", "new-password-9", bob.id).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;
    let mut alice_ws = Ws::connect(&server, &alice).await;
    let alice_path = format!("/api/admin/users/{}", alice.id);
    let (status, body) = adm.delete(&alice_path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(alice_ws.close_code().await, Some(POLICY_VIOLATION));
    let removed = bob_ws.next_of("participant_removed").await;
    assert_eq!(removed["userId"], alice.id);
    assert_eq!(removed["roomId"], room);
    let (status, _) = adm.get(&alice_path).await;
    assert_eq!(status, 404);
    let (status, _) = adm.delete(&alice_path).await;
    assert_eq!(status, 404);
    let (status, body) = adm.get(&format!("/api/admin/rooms/{room}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["creatorId"].is_null());
    assert_eq!(
        body["data"]["participants"].as_array().map(Vec::len),
        Some(1)
    );
    let (_, body) = adm
        .get(&format!(
            "/api/admin/messages/{}",
            said["messageId"].as_str().unwrap()
        ))
        .await;
    assert!(body["data"]["senderId"].is_null(), "{body}");
    assert_eq!(body["data"]["content"], "before I go");
}

async fn api_login(api: &Api, login: &str, password: &str, id: i64) -> User {
    let (status, body) = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"login": login, "password": password})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    User {
        id,
        login: login.to_owned(),
        token: body["data"]["token"].as_str().expect("token").to_owned(),
    }
}

#[tokio::test]
async fn rooms_crud_and_delete_kicks_members() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(ADMIN_ARGS).await;
    let adm = Admin::login(&api).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;

    let (status, body) = adm.post("/api/admin/rooms", json!({"type": "channel", "name": "News", "public": true, "ownerId": alice.id, "participants": [bob.id]}))
    .await;
    assert_eq!(status, 201, "{body}");
    let news = body["data"]["id"].as_i64().expect("room id");
    assert_eq!(body["data"]["creatorId"], alice.id);
    assert_eq!(bob_ws.next_of("room_created").await["room"]["id"], news);
    for (bad, field) in [
        (
            json!({"type": "group", "name": "x", "ownerId": 999}),
            "ownerId",
        ),
        (json!({"type": "group", "name": "x"}), "ownerId"),
        (
            json!({"type": "lobby", "name": "x", "ownerId": alice.id}),
            "type",
        ),
    ] {
        let (status, body) = adm.post("/api/admin/rooms", bad).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["name"], field);
    }
    let (status, _) = adm
        .post(
            "/api/admin/rooms",
            json!({"type": "group", "name": "x", "ownerId": alice.id, "id": 5}),
        )
        .await;
    assert_eq!(status, 422, "mass assignment");

    let (_, body) = adm.get("/api/admin/rooms?type=channel").await;
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["id"], news);
    let (_, body) = adm.get("/api/admin/rooms?sort=id&direction=desc").await;
    assert_eq!(body["data"][0]["id"], news);
    assert_eq!(body["data"][1]["id"], room);
    let (_, body) = adm.get("/api/admin/rooms?public=false").await;
    assert_eq!(body["data"][0]["id"], room);
    let (status, _) = adm.get("/api/admin/rooms?public=maybe").await;
    assert_eq!(status, 400);
    let (status, _) = adm.get("/api/admin/rooms?type=lobby").await;
    assert_eq!(status, 400);

    let room_path = format!("/api/admin/rooms/{room}");
    let (status, body) = adm.get(&room_path).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["participants"].as_array().map(Vec::len),
        Some(2)
    );
    let (status, body) = adm
        .patch(&room_path, json!({"name": "Renamed", "public": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["data"]["name"], &body["data"]["public"]),
        (&json!("Renamed"), &json!(true))
    );
    let (status, _) = adm.patch(&room_path, json!({"creatorId": bob.id})).await;
    assert_eq!(status, 422, "mass assignment");
    let (status, _) = adm.patch(&room_path, json!({"name": " "})).await;
    assert_eq!(status, 422);
    let (status, _) = adm
        .patch("/api/admin/rooms/999", json!({"public": false}))
        .await;
    assert_eq!(status, 404);

    let (status, body) = adm.delete(&room_path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bob_ws.next_of("room_deleted").await["roomId"], room);
    let (status, _) = adm.get(&room_path).await;
    assert_eq!(status, 404);
    let (status, _) = adm.delete(&room_path).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn participants_through_the_room() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(ADMIN_ARGS).await;
    let carol = api.user("carol").await;
    let adm = Admin::login(&api).await;
    let mut bob_ws = Ws::connect(&server, &bob).await;
    let path = format!("/api/admin/rooms/{room}/participants");

    let (status, body) = adm.get(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 2);
    let (_, body) = adm.get(&format!("{path}?role=owner")).await;
    assert_eq!(body["data"][0]["id"], alice.id);
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    let (status, _) = adm.get("/api/admin/rooms/999/participants").await;
    assert_eq!(status, 404);

    let (status, body) = adm
        .post(&path, json!({"userId": carol.id, "role": "admin"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["type"], "system");
    let added = bob_ws.next_of("participant_added").await;
    assert_eq!(added["userId"], carol.id);
    let (_, body) = adm.get(&format!("{path}?role=admin")).await;
    assert_eq!(body["data"][0]["id"], carol.id);
    for (bad, status_code) in [
        (json!({"userId": carol.id}), 409),
        (json!({"userId": 999}), 422),
        (json!({"userId": carol.id, "role": "king"}), 422),
        (
            json!({"userId": carol.id, "joinedAt": "2000-01-01T00:00:00Z"}),
            422,
        ),
    ] {
        let (status, body) = adm.post(&path, bad.clone()).await;
        assert_eq!(status, status_code, "{bad}: {body}");
    }

    // Role changes go through the room: carol, now a member, cannot add people.
    let carol_path = format!("{path}/{}", carol.id);
    let (status, body) = adm.patch(&carol_path, json!({"role": "member"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["role"], "member");
    let dave = api.user("dave").await;
    let (status, _) = api
        .post(
            &format!("/api/rooms/{room}/participants"),
            &carol.token,
            json!({"userId": dave.id}),
        )
        .await;
    assert_eq!(status, 403, "the room knows carol is a member again");
    let (status, _) = adm
        .patch(&format!("{path}/999"), json!({"role": "admin"}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = adm
        .patch(&carol_path, json!({"role": "admin", "userId": 1}))
        .await;
    assert_eq!(status, 422);

    let (status, body) = adm.delete(&format!("{path}/{}", bob.id)).await;
    assert_eq!(status, 200, "{body}");
    let removed = bob_ws.next_of("participant_removed").await;
    assert_eq!(removed["userId"], bob.id);
    let (status, _) = adm.delete(&format!("{path}/{}", bob.id)).await;
    assert_eq!(status, 404);
    let (_, body) = adm.get(&path).await;
    assert_eq!(body["meta"]["pagination"]["total"], 2);
}

#[tokio::test]
async fn messages_across_rooms_and_in_one() {
    // The server stops when `_server` is dropped.
    let Pair {
        server: _server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(ADMIN_ARGS).await;
    let other = api.room(&bob, &[&alice]).await;
    let adm = Admin::login(&api).await;
    let first = api.say(&alice, room, "one").await;
    api.say(&bob, room, "two").await;
    api.say(&bob, other, "three").await;

    let (status, body) = adm.get("/api/admin/messages").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 3);
    let (_, body) = adm
        .get(&format!("/api/admin/messages?senderId={}", bob.id))
        .await;
    assert_eq!(body["meta"]["pagination"]["total"], 2);
    let (_, body) = adm
        .get(&format!(
            "/api/admin/messages?roomId={room}&sort=seq&direction=desc"
        ))
        .await;
    let contents: Vec<_> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].clone())
        .collect();
    assert_eq!(contents, [json!("two"), json!("one")]);
    let (_, body) = adm.get("/api/admin/messages?type=system").await;
    assert_eq!(body["meta"]["pagination"]["total"], 0);
    let (_, body) = adm
        .get(&format!(
            "/api/admin/messages?createdAfter={}",
            first["createdAt"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        body["meta"]["pagination"]["total"], 3,
        "createdAfter includes that instant"
    );
    let (_, body) = adm
        .get("/api/admin/messages?createdBefore=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(body["meta"]["pagination"]["total"], 0);
    let (status, _) = adm.get("/api/admin/messages?content=one").await;
    assert_eq!(status, 400);

    let (status, body) = adm.get(&format!("/api/admin/rooms/{other}/messages")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["content"], "three");
    let (status, _) = adm.get("/api/admin/rooms/999/messages").await;
    assert_eq!(status, 404);

    let id = first["messageId"].as_str().unwrap();
    let (status, body) = adm.get(&format!("/api/admin/messages/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["content"], "one");
    for missing in ["00000000-0000-7000-8000-000000000000", "nope"] {
        let (status, _) = adm.get(&format!("/api/admin/messages/{missing}")).await;
        assert_eq!(status, 404);
    }
    // The administrator deletes for everyone: members see it live, history
    // keeps a tombstone with the same seq.
    let mut bob_ws = Ws::connect(&_server, &bob).await;
    let (status, body) = adm.delete(&format!("/api/admin/messages/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["deleted"], true);
    assert_eq!(body["data"]["content"], "");
    let deleted = bob_ws.next_of("message_deleted").await;
    assert_eq!(deleted["messageId"], id, "{deleted}");
    let history = api.history(&bob, room).await;
    let tomb = history.iter().find(|m| m["messageId"] == id).unwrap();
    assert_eq!(
        (tomb["deleted"].clone(), tomb["seq"].clone()),
        (json!(true), first["seq"].clone())
    );
    let (status, _) = adm
        .delete("/api/admin/messages/00000000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(status, 404);
    let (status, _) = adm
        .patch(
            &format!("/api/admin/messages/{id}"),
            json!({"content": "x"}),
        )
        .await;
    assert_eq!(status, 405);

    // An announcement: a system message, live to the room's members.
    let (status, body) = adm
        .post(
            &format!("/api/admin/rooms/{room}/messages"),
            json!({"content": "maintenance at noon"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["type"], "system");
    assert!(body["data"]["senderId"].is_null());
    let live = bob_ws.next_of("message_created").await;
    assert_eq!(live["message"]["content"], "maintenance at noon");
    for (path, body, expected) in [
        (
            format!("/api/admin/rooms/{room}/messages"),
            json!({"content": ""}),
            422,
        ),
        (
            format!("/api/admin/rooms/{room}/messages"),
            json!({"content": "x", "senderId": 1}),
            422,
        ),
        (
            "/api/admin/rooms/999/messages".to_owned(),
            json!({"content": "x"}),
            404,
        ),
    ] {
        let (status, resp) = adm.post(&path, body).await;
        assert_eq!(status, expected, "{path}: {resp}");
    }
}

#[tokio::test]
async fn sessions_list_and_revoke_closes_the_socket() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room: _,
    } = Pair::start_with(ADMIN_ARGS).await;
    let adm = Admin::login(&api).await;
    let bob_phone = api_login(&api, "bob", "password123", bob.id).await;
    let mut phone_ws = Ws::connect(&server, &bob_phone).await;
    let mut laptop_ws = Ws::connect(&server, &bob).await;

    let (status, body) = adm
        .get(&format!("/api/admin/sessions?userId={}", bob.id))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 2);
    let (_, body) = adm
        .get(&format!(
            "/api/admin/sessions?userId={}&sort=id&direction=desc",
            bob.id
        ))
        .await;
    let newest = body["data"][0]["id"].as_i64().expect("session id");
    assert_eq!(body["data"][0]["live"], true);
    assert_eq!(body["data"][0]["userId"], bob.id);

    let path = format!("/api/admin/sessions/{newest}");
    let (status, body) = adm.delete(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(phone_ws.close_code().await, Some(POLICY_VIOLATION));
    let (status, _) = api.get("/api/me", &bob_phone.token).await;
    assert_eq!(status, 401);
    laptop_ws.expect_quiet().await;
    let (status, _) = api.get("/api/me", &bob.token).await;
    assert_eq!(status, 200, "the other session lives");

    let (status, body) = adm.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["data"]["live"], &body["data"]["revoked"]),
        (&json!(false), &json!(true))
    );
    let (_, body) = adm.get("/api/admin/sessions?live=true").await;
    assert_eq!(
        body["meta"]["pagination"]["total"], 2,
        "alice's and bob's laptop: {body}"
    );
    let (_, body) = adm.get("/api/admin/sessions?live=false").await;
    assert_eq!(body["data"][0]["id"], newest);
    let (_, body) = adm
        .get(&format!("/api/admin/sessions?userId={}", alice.id))
        .await;
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    for missing in ["/api/admin/sessions/999", "/api/admin/sessions/x"] {
        let (status, _) = adm.delete(missing).await;
        assert_eq!(status, 404);
    }
    let (status, _) = adm.get("/api/admin/sessions?tokenHash=x").await;
    assert_eq!(status, 400);
}

/// A room's message list is that room's, whatever the filter: an `OR`
/// never reaches another room's messages.
#[tokio::test]
async fn a_room_message_filter_never_reaches_another_room() {
    let Pair {
        server: _server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(ADMIN_ARGS).await;
    let carol = api.user("carol").await;
    let other = api.room(&carol, &[]).await;
    let adm = Admin::login(&api).await;
    api.say(&alice, room, "hello").await;
    api.say(&bob, room, "hi").await;
    api.say(&carol, other, "secret one").await;
    api.say(&carol, other, "secret two").await;
    let path = format!("/api/admin/rooms/{room}/messages");
    let (status, body) = adm.get(&path).await;
    assert_eq!(status, 200, "{body}");
    let all = body["meta"]["pagination"]["total"].as_u64().unwrap();
    assert!(all >= 2, "{body}");

    let everything = [
        "seq > 0 OR seq < 0".to_owned(),
        "seq > 0 OR seq <= 0".to_owned(),
        format!("roomId = {other} OR seq > 0"),
        format!(
            "senderId = {} OR content LIKE 'secret%' OR seq > 0",
            carol.id
        ),
        "NOT (seq < 0) OR (content IS NOT NULL AND content IS NULL)".to_owned(),
    ];
    for q in &everything {
        let (status, body) = adm.get(&with_query(&path, q, "limit=100")).await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(body["meta"]["pagination"]["total"], all, "{q}: {body}");
        for m in body["data"].as_array().unwrap() {
            assert_eq!(m["roomId"], room, "{q}: {m}");
        }
    }
    let nothing = [
        format!("roomId = {other}"),
        format!("roomId = {other} OR content LIKE 'secret%'"),
        format!("senderId = {} OR roomId IN ({other})", carol.id),
    ];
    for q in &nothing {
        let (status, body) = adm.get(&with_query(&path, q, "")).await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(body["meta"]["pagination"]["total"], 0, "{q}: {body}");
    }
    // The plain roomId filter does not widen the scope either.
    let (status, body) = adm.get(&format!("{path}?roomId={other}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 0, "{body}");
}

/// An offset past any page, up to the largest there is, is an empty page
/// (not an overflow).
#[tokio::test]
async fn the_largest_offset_is_an_empty_page() {
    let Pair {
        server: _server,
        api,
        room,
        ..
    } = Pair::start_with(ADMIN_ARGS).await;
    let adm = Admin::login(&api).await;
    for path in [
        "/api/admin/users".to_owned(),
        "/api/admin/messages".to_owned(),
        format!("/api/admin/rooms/{room}/messages"),
    ] {
        let (status, body) = adm
            .get(&format!("{path}?offset=18446744073709551615&limit=1"))
            .await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["data"], json!([]), "{path}: {body}");
        assert_eq!(body["meta"]["count"], 0, "{path}: {body}");
        let p = &body["meta"]["pagination"];
        assert_eq!(p["offset"], json!(u64::MAX), "{path}: {body}");
        assert_eq!(p["links"]["next"], Value::Null, "{path}: {body}");
    }
    let (status, body) = adm
        .get("/api/admin/users?offset=18446744073709551616&limit=1")
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("offset"),
        "{body}"
    );
}

#[tokio::test]
async fn every_admin_list_takes_query_with_offset_and_totals() {
    let Pair {
        server: _server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(ADMIN_ARGS).await;
    let carol = api.user("carol").await;
    let adm = Admin::login(&api).await;
    api.say(&alice, room, "hello there").await;
    api.say(&bob, room, "Hello back").await;
    api.say(&bob, room, "bye").await;
    let (a, b, c) = (alice.id, bob.id, carol.id);
    let participants = format!("/api/admin/rooms/{room}/participants");
    let room_messages = format!("/api/admin/rooms/{room}/messages");

    // (list, query=, other parameters, rows that match)
    let cases: Vec<(&str, String, String, usize)> = vec![
        (
            "/api/admin/users",
            "login LIKE 'b%' OR login = 'carol'".into(),
            String::new(),
            2,
        ),
        (
            "/api/admin/users",
            "login LIKE 'b%' OR login = 'carol'".into(),
            format!("id={c}"),
            1,
        ),
        (
            "/api/admin/users",
            "name = 'BOB' AND login <> 'bob'".into(),
            String::new(),
            0,
        ),
        (
            "/api/admin/rooms",
            format!("id = {room} AND public = false"),
            String::new(),
            1,
        ),
        (
            "/api/admin/rooms",
            format!("creatorId IN ({b}, {c})"),
            String::new(),
            0,
        ),
        (
            &participants,
            "role = 'owner' OR login = 'bob'".into(),
            String::new(),
            2,
        ),
        (
            &participants,
            "role IN ('admin', 'member')".into(),
            "role=owner".into(),
            0,
        ),
        (
            "/api/admin/messages",
            "content LIKE 'hello%'".into(),
            String::new(),
            2,
        ),
        (
            "/api/admin/messages",
            "content LIKE 'hello%'".into(),
            format!("senderId={b}"),
            1,
        ),
        (
            "/api/admin/messages",
            "editedAt IS NULL AND deletedAt IS NULL AND type = 'text'".into(),
            String::new(),
            3,
        ),
        (
            &room_messages,
            format!("senderId = {b} AND NOT content = 'bye'"),
            String::new(),
            1,
        ),
        (
            "/api/admin/sessions",
            format!("userId IN ({a}, {c}) AND live = true"),
            String::new(),
            2,
        ),
        (
            "/api/admin/sessions",
            "revokedAt IS NOT NULL".into(),
            String::new(),
            0,
        ),
    ];
    for (path, q, extra, want) in &cases {
        let (status, body) = adm.get(&with_query(path, q, extra)).await;
        assert_eq!(status, 200, "{path} {q}: {body}");
        let rows = body["data"].as_array().expect("data").len();
        assert_eq!(rows, *want, "{path} {q} {extra}: {body}");
        assert_eq!(body["meta"]["count"], *want, "{path} {q}");
        assert_eq!(body["meta"]["pagination"]["total"], *want, "{path} {q}");
    }

    // offset/limit as well as page: the total counts every match and the
    // links move the offset, keeping the filter.
    let (status, body) = adm
        .get(&with_query(
            "/api/admin/users",
            "id > 0",
            "limit=1&offset=1",
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(logins(&body), ["bob"]);
    let p = &body["meta"]["pagination"];
    assert_eq!(
        (&p["offset"], &p["perPage"], &p["total"], &p["currentPage"]),
        (&json!(1), &json!(1), &json!(3), &json!(2))
    );
    let next = p["links"]["next"].as_str().expect("next");
    assert!(
        next.contains("offset=2") && next.contains("query="),
        "{next}"
    );
    let (_, body) = adm.get(next).await;
    assert_eq!(logins(&body), ["carol"]);
    let (status, body) = adm.get("/api/admin/users?page=1&offset=0").await;
    assert_eq!(status, 400);
    assert!(body["reason"].as_str().unwrap().contains("page or offset"));

    // Unknown and secret fields and injections are 400 with a reason.
    let bad: Vec<(&str, &str, &str)> = vec![
        ("/api/admin/users", "password_hash = 'x'", "unknown field `password_hash`"),
        ("/api/admin/users", "passwordHash IS NULL", "unknown field `passwordHash`"),
        ("/api/admin/users", "phone LIKE '+1%'", "unknown field `phone`"),
        ("/api/admin/sessions", "token_hash = 'x'", "unknown field `token_hash`; allowed fields: id, userId, deviceId, live, createdAt, expiresAt, revokedAt"),
        ("/api/admin/sessions", "tokenHash IS NOT NULL", "unknown field `tokenHash`"),
        ("/api/admin/users", "1=1; DROP TABLE users", "';' is not allowed"),
        ("/api/admin/rooms", "' OR '1'='1", "expected a field name"),
        ("/api/admin/messages", "content = 'x' --", "comments are not allowed"),
        (&participants, "id IN (SELECT id FROM users)", "subqueries are not allowed"),
        (&room_messages, "type LIKE 't%'", "operator LIKE is not allowed on field `type`"),
        ("/api/admin/sessions", "live = 1", "field `live` expects true or false"),
    ];
    for (path, q, reason) in bad {
        let (status, body) = adm.get(&with_query(path, q, "")).await;
        assert_bad_query(status, &body, q, reason);
    }
    let (_, body) = adm.get("/api/admin/users").await;
    assert_eq!(body["meta"]["pagination"]["total"], 3, "nothing changed");
    let (_, body) = adm.get("/api/admin/messages").await;
    assert_eq!(body["meta"]["pagination"]["total"], 3, "nothing changed");
}
