//! `query=` filters with `offset`/`limit` on the user-facing lists, over
//! real HTTP: the right rows, totals and page sizes, and a 400 with a
//! reason (and no change to anything) for every bad filter.

mod support;

use serde_json::{json, Value};
use support::{assert_bad_query, with_query, Api, Pair, TestServer, User};

fn ids(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|x| x["id"].as_i64().expect("id"))
        .collect()
}

async fn list(api: &Api, user: &User, path: &str, q: &str, extra: &str) -> Value {
    let (status, body) = api.get(&with_query(path, q, extra), &user.token).await;
    assert_eq!(status, 200, "{q}: {body}");
    body
}

#[tokio::test]
async fn users_filter_page_and_total() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let bella = api.user("bella").await;
    let carl = api.user("carl").await;
    let dave = api.user("dave").await;

    let cases: Vec<(String, Vec<i64>)> = vec![
        ("login LIKE 'b%'".into(), vec![bob.id, bella.id]),
        // LIKE ignores ASCII case, as in SQLite.
        ("login LIKE 'B%'".into(), vec![bob.id, bella.id]),
        ("login NOT LIKE 'b%'".into(), vec![carl.id, dave.id]),
        (
            "login IN ('bob', 'carl') OR name = 'DAVE'".into(),
            vec![bob.id, carl.id, dave.id],
        ),
        (
            format!("id > {} AND NOT login = 'carl'", bob.id),
            vec![bella.id, dave.id],
        ),
        (
            "login NOT IN ('bob') AND (id <= 0 OR name <> 'CARL')".into(),
            vec![bella.id, dave.id],
        ),
        (
            "createdAt >= '2000-01-01T00:00:00Z'".into(),
            vec![bob.id, bella.id, carl.id, dave.id],
        ),
        ("createdAt < '2000-01-01T00:00:00Z'".into(), vec![]),
        (
            "avatar IS NULL".into(),
            vec![bob.id, bella.id, carl.id, dave.id],
        ),
        ("avatar IS NOT NULL".into(), vec![]),
        // Matches the caller, who is never listed.
        ("login = 'alice'".into(), vec![]),
    ];
    for (q, want) in cases {
        let body = list(&api, &alice, "/api/users", &q, "").await;
        assert_eq!(ids(&body), want, "{q}");
        let meta = &body["meta"];
        assert_eq!(meta["count"], want.len(), "{q}");
        assert_eq!(meta["pagination"]["total"], want.len(), "{q}");
        assert_eq!(meta["pagination"]["perPage"], 20, "{q}");
    }

    // offset + limit: the total counts every match, the page holds `limit`.
    let body = list(&api, &alice, "/api/users", "id > 0", "limit=2&offset=1").await;
    assert_eq!(ids(&body), [bella.id, carl.id]);
    let p = &body["meta"]["pagination"];
    assert_eq!(
        (&p["total"], &p["perPage"], &p["offset"], &p["totalPages"]),
        (&json!(4), &json!(2), &json!(1), &json!(2))
    );
    assert_eq!(body["meta"]["count"], 2);
    let body = list(&api, &alice, "/api/users", "id > 0", "limit=2&offset=2").await;
    assert_eq!(ids(&body), [carl.id, dave.id]);
    assert_eq!(body["meta"]["pagination"]["currentPage"], 2);
    assert!(body["meta"]["pagination"]["links"]["next"].is_null());

    // The links keep the filter and limit and move the offset.
    let first = list(&api, &alice, "/api/users", "id > 0", "limit=2").await;
    let links = &first["meta"]["pagination"]["links"];
    assert!(links["previous"].is_null());
    let next = links["next"].as_str().expect("next link");
    let (status, second) = api.get(next, &alice.token).await;
    assert_eq!(status, 200, "{next}: {second}");
    assert_eq!(ids(&second), [carl.id, dave.id]);
    let previous = second["meta"]["pagination"]["links"]["previous"]
        .as_str()
        .expect("previous link");
    let (_, back) = api.get(previous, &alice.token).await;
    assert_eq!(ids(&back), ids(&first));

    // Works alongside the older lastId cursor and login prefix.
    let body = list(
        &api,
        &alice,
        "/api/users",
        "name <> 'DAVE'",
        &format!("lastId={}&login=b", bob.id),
    )
    .await;
    assert_eq!(ids(&body), [bella.id]);
    assert_eq!(body["meta"]["pagination"]["total"], 2);

    // No query: everyone but me, with the total.
    let (_, body) = api.get("/api/users?offset=3", &alice.token).await;
    assert_eq!(ids(&body), [dave.id]);
    assert_eq!(body["meta"]["pagination"]["total"], 4);
}

#[tokio::test]
async fn rooms_filter_page_and_total() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let mut rooms = Vec::new();
    for body in [
        json!({"type": "group", "name": "Alpha", "public": true, "participants": [bob.id]}),
        json!({"type": "group", "name": "beta", "participants": []}),
        json!({"type": "direct", "participants": [bob.id]}),
    ] {
        let (status, b) = api.post("/api/rooms", &alice.token, body).await;
        assert_eq!(status, 201, "{b}");
        rooms.push(b["data"]["id"].as_i64().expect("room id"));
    }
    // Bob's own room, which alice is not in, never shows up for her.
    let (status, _) = api
        .post(
            "/api/rooms",
            &bob.token,
            json!({"type": "group", "name": "alpha2", "participants": []}),
        )
        .await;
    assert_eq!(status, 201);

    let cases: Vec<(String, Vec<i64>)> = vec![
        ("type = 'direct'".into(), vec![rooms[2]]),
        (
            "type IN ('group', 'channel')".into(),
            vec![rooms[0], rooms[1]],
        ),
        ("public = true".into(), vec![rooms[0]]),
        ("public = false".into(), vec![rooms[1], rooms[2]]),
        ("name LIKE 'a%'".into(), vec![rooms[0]]),
        (
            "name IS NULL OR name = 'beta'".into(),
            vec![rooms[1], rooms[2]],
        ),
        ("NOT (name = 'beta')".into(), vec![rooms[0]]),
        (format!("creatorId = {}", alice.id), rooms.clone()),
        (format!("id >= {}", rooms[1]), vec![rooms[1], rooms[2]]),
        (
            "createdAt > '2000-01-01T00:00:00.000Z'".into(),
            rooms.clone(),
        ),
    ];
    for (q, want) in cases {
        let body = list(&api, &alice, "/api/rooms", &q, "").await;
        assert_eq!(ids(&body), want, "{q}");
        assert_eq!(body["meta"]["count"], want.len(), "{q}");
        assert_eq!(body["meta"]["pagination"]["total"], want.len(), "{q}");
    }

    let body = list(&api, &alice, "/api/rooms", "id > 0", "limit=1&offset=1").await;
    assert_eq!(ids(&body), [rooms[1]]);
    let p = &body["meta"]["pagination"];
    assert_eq!(
        (&p["total"], &p["perPage"], &p["totalPages"]),
        (&json!(3), &json!(1), &json!(3))
    );

    // Without parameters: every room, as before.
    let (_, body) = api.get("/api/rooms", &alice.token).await;
    assert_eq!(ids(&body), rooms);
    assert_eq!(body["meta"]["count"], 3);
    assert_eq!(body["meta"]["pagination"]["perPage"], 3);
}

#[tokio::test]
async fn bad_filters_are_400_with_a_reason_and_change_nothing() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    api.room(&alice, &[&bob]).await;

    let cases: &[(&str, &str, &str)] = &[
        (
            "/api/users",
            "1=1; DROP TABLE users",
            "at character 4: ';' is not allowed",
        ),
        (
            "/api/users",
            "' OR '1'='1",
            "at character 1: expected a field name",
        ),
        ("/api/users", "login = 'x' --", "comments are not allowed"),
        (
            "/api/users",
            "login = 'x' /* */",
            "comments are not allowed",
        ),
        (
            "/api/users",
            "id IN (SELECT id FROM users)",
            "subqueries are not allowed",
        ),
        (
            "/api/users",
            "load_extension('x')",
            "function calls are not allowed",
        ),
        ("/api/users", "name = name", "not with `name`"),
        ("/api/users", "name = 'x", "not closed"),
        ("/api/users", "(name = 'x'", "expected ')'"),
        (
            "/api/users",
            "password_hash = 'x'",
            "unknown field `password_hash`; allowed fields: id, login, name, avatar, createdAt",
        ),
        (
            "/api/users",
            "id = 'one'",
            "field `id` expects a whole number, not a string",
        ),
        ("/api/users", "createdAt > 'yesterday'", "RFC 3339"),
        (
            "/api/users",
            "id LIKE '1%'",
            "operator LIKE is not allowed on field `id`",
        ),
        ("/api/users", "", "the query is empty"),
        (
            "/api/rooms",
            "type LIKE 'd%'",
            "operator LIKE is not allowed on field `type`",
        ),
        (
            "/api/rooms",
            "public = 'yes'",
            "field `public` expects true or false",
        ),
        (
            "/api/rooms",
            "login = 'alice'",
            "allowed fields: id, type, name, public, creatorId, createdAt",
        ),
        ("/api/rooms", "1=1; DELETE FROM rooms", "';' is not allowed"),
    ];
    let deep = format!("{}id = 1{}", "(".repeat(40), ")".repeat(40));
    let long = format!("name = '{}'", "x".repeat(2000));
    let huge_in = format!("id IN ({})", vec!["1"; 101].join(","));
    let generated = [
        ("/api/users", deep.as_str(), "deeper than 16 levels"),
        ("/api/rooms", long.as_str(), "longer than 1024 characters"),
        ("/api/users", huge_in.as_str(), "at most 100 values"),
    ];
    for (path, q, reason) in cases.iter().copied().chain(generated) {
        let (status, body) = api.get(&with_query(path, q, ""), &alice.token).await;
        assert_eq!(body["error"], true);
        assert_bad_query(status, &body, q, reason);
    }

    // Everything is still there.
    let (_, body) = api.get("/api/users", &alice.token).await;
    assert_eq!(ids(&body), [bob.id]);
    let (_, body) = api.get("/api/rooms", &bob.token).await;
    assert_eq!(body["meta"]["count"], 1);
}

fn contents(body: &Value) -> Vec<&str> {
    body["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|m| m["content"].as_str().expect("content"))
        .collect()
}

#[tokio::test]
async fn room_history_filter_offset_and_total() {
    let Pair {
        server: _server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let mut sent = Vec::new();
    for (who, text) in [
        (&alice, "apple"),
        (&bob, "banana"),
        (&alice, "avocado"),
        (&bob, "berry"),
        (&alice, "cherry"),
    ] {
        sent.push(api.say(who, room, text).await);
    }
    let path = format!("/api/rooms/{room}/messages");
    let avocado_seq = sent[2]["seq"].as_i64().unwrap();
    let berry_id = sent[3]["messageId"].as_str().unwrap();
    let (status, body) = api
        .call(
            "DELETE",
            &format!("{path}/{berry_id}"),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let before_avocado = format!("before={avocado_seq}");
    let cases: Vec<(String, &str, Vec<&str>, usize)> = vec![
        (format!("senderId = {}", bob.id), "", vec!["", "banana"], 2),
        ("content LIKE 'a%'".into(), "limit=1", vec!["avocado"], 2),
        (
            "content LIKE 'a%'".into(),
            "limit=1&offset=1",
            vec!["apple"],
            2,
        ),
        (
            "content LIKE 'a%'".into(),
            &before_avocado,
            vec!["apple"],
            2,
        ),
        (
            "type = 'text' AND seq >= 4 AND deletedAt IS NULL".into(),
            "",
            vec!["cherry"],
            1,
        ),
        // A deleted message's text is gone, so no filter finds it.
        ("content = 'berry'".into(), "", vec![], 0),
        ("deletedAt IS NOT NULL".into(), "", vec![""], 1),
    ];
    for (q, extra, want, total) in cases {
        let (status, body) = api.get(&with_query(&path, &q, extra), &alice.token).await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(contents(&body), want, "{q} {extra}");
        assert_eq!(body["meta"]["count"], want.len(), "{q}");
        assert_eq!(body["meta"]["pagination"]["total"], total, "{q} {extra}");
        assert_eq!(body["meta"]["lastSeq"], 5);
    }
    // offset alone pages the whole history the same way.
    let (_, body) = api
        .get(&format!("{path}?offset=1&limit=2"), &alice.token)
        .await;
    assert_eq!(contents(&body), ["", "avocado"]);
    assert_eq!(body["meta"]["pagination"]["total"], 5);

    for (q, reason) in [
        ("roomId = 1", "unknown field `roomId`; allowed fields: seq, senderId, type, content, createdAt, editedAt, deletedAt"),
        ("password_hash = 'x'", "unknown field `password_hash`"),
        ("content = 'x'; DELETE FROM messages", "';' is not allowed"),
        ("type LIKE 't%'", "operator LIKE is not allowed on field `type`"),
    ] {
        let (status, body) = api.get(&with_query(&path, q, ""), &alice.token).await;
        assert_bad_query(status, &body, q, reason);
    }
    let (status, _) = api
        .get(&with_query(&path, "seq > 0", "after=1"), &alice.token)
        .await;
    assert_eq!(status, 422, "query pages by offset or before, not after");
    let carol = api.user("carol").await;
    let (status, _) = api
        .get(&with_query(&path, "seq > 0", ""), &carol.token)
        .await;
    assert_eq!(status, 404, "not a member");
    let (_, body) = api.get(&path, &alice.token).await;
    assert_eq!(body["meta"]["count"], 5, "nothing changed");
}
