//! The REST resources: users, sessions, rooms, participants, history pages,
//! caching headers.

mod support;

use serde_json::json;
use support::{Api, Pair, TestServer};

#[tokio::test]
async fn users_list_get_and_me() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let mut others = Vec::new();
    for login in ["bob", "bella", "carl"] {
        others.push(api.user(login).await);
    }

    // Everyone but me, paged by lastId.
    let (s, b) = api.get("/api/users?limit=2", &alice.token).await;
    assert_eq!(s, 200);
    let page: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert_eq!(page, ["bob", "bella"]);
    let last = b["meta"]["lastId"].as_i64().unwrap();
    let (_, b) = api
        .get(&format!("/api/users?limit=2&lastId={last}"), &alice.token)
        .await;
    assert_eq!(b["data"][0]["login"], "carl");
    assert!(
        b["meta"]["lastId"].is_null(),
        "last page has no next cursor"
    );
    // Filter by login prefix; wildcards are literal.
    let (_, b) = api.get("/api/users?login=b", &alice.token).await;
    assert_eq!(b["meta"]["count"], 2);
    let (_, b) = api.get("/api/users?login=%25", &alice.token).await;
    assert_eq!(b["meta"]["count"], 0);

    // No password hash anywhere.
    let (s, b) = api
        .get(&format!("/api/users/{}", others[0].id), &alice.token)
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["login"], "bob");
    assert!(!b.to_string().contains("argon2"));

    let room = api.room(&alice, &[&others[0]]).await;
    let (_, b) = api.get("/api/me", &alice.token).await;
    assert_eq!(b["data"]["id"], alice.id);
    assert_eq!(b["data"]["rooms"][0]["id"], room);
}

#[tokio::test]
async fn rooms_create_list_details_update_and_public_sample() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;

    // A direct room between the same two people exists once.
    let (s, b) = api
        .post(
            "/api/rooms",
            &alice.token,
            json!({"type": "direct", "participants": [bob.id]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let direct = b["data"]["id"].as_i64().unwrap();
    let (s, b) = api
        .post(
            "/api/rooms",
            &bob.token,
            json!({"type": "direct", "participants": [alice.id]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["id"], direct);
    // ... and always has exactly two people.
    let carol = api.user("carol").await;
    let (s, _) = api
        .post(
            &format!("/api/rooms/{direct}/participants"),
            &alice.token,
            json!({"userId": carol.id}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, b) = api
        .post(
            "/api/rooms",
            &alice.token,
            json!({"type": "direct", "participants": [bob.id, carol.id]}),
        )
        .await;
    assert_eq!(
        (s, b["errors"][0]["slug"].clone()),
        (422, json!("participants.count"))
    );
    let (s, b) = api
        .post(
            "/api/rooms",
            &alice.token,
            json!({"type": "group", "participants": [4242]}),
        )
        .await;
    assert_eq!(
        (s, b["errors"][0]["slug"].clone()),
        (422, json!("participants.unknown"))
    );

    let (s, b) = api
        .post(
            "/api/rooms",
            &alice.token,
            json!({"type": "group", "name": "Book club", "public": true, "participants": [bob.id]}),
        )
        .await;
    assert_eq!(s, 201);
    let group = b["data"]["id"].as_i64().unwrap();
    assert_eq!(b["data"]["participants"][0]["role"], "owner");

    let (_, b) = api.get("/api/rooms", &bob.token).await;
    let mine: Vec<i64> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(mine, [direct, group]);

    let (_, b) = api.get("/api/rooms/public?limit=5", &carol.token).await;
    let public: Vec<i64> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(public, [group], "only public rooms, even to outsiders");

    let (s, b) = api
        .call(
            "PATCH",
            &format!("/api/rooms/{group}"),
            Some(&alice.token),
            Some(json!({"name": "Poetry club"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["name"], "Poetry club");
    assert_eq!(b["data"]["public"], true, "unnamed fields are kept");
    let (_, b) = api.get(&format!("/api/rooms/{group}"), &bob.token).await;
    assert_eq!(b["data"]["name"], "Poetry club");
    let (s, _) = api
        .call(
            "PATCH",
            &format!("/api/rooms/{group}"),
            Some(&alice.token),
            Some(json!({"id": 7})),
        )
        .await;
    assert_eq!(s, 422, "unknown fields are refused, not mass-assigned");

    // A deleted room's id is never given to another room.
    let doomed = api.room(&alice, &[&bob]).await;
    let (s, _) = api
        .call(
            "DELETE",
            &format!("/api/rooms/{doomed}"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(api.room(&alice, &[&bob]).await > doomed);

    // A member may leave; the owner may not.
    let (s, _) = api
        .call(
            "DELETE",
            &format!("/api/rooms/{group}/participants/{}", bob.id),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api.get(&format!("/api/rooms/{group}"), &bob.token).await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call(
            "DELETE",
            &format!("/api/rooms/{group}/participants/{}", alice.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn history_pages_by_cursor_and_by_page() {
    let Pair {
        server: _server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    for i in 1..=25 {
        api.say(&alice, room, &format!("m{i}")).await;
    }
    let seqs = |b: &serde_json::Value| -> Vec<i64> {
        b["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect()
    };
    let path = format!("/api/rooms/{room}/messages");

    let (_, b) = api.get(&format!("{path}?limit=10"), &bob.token).await;
    assert_eq!(
        seqs(&b),
        (16..=25).rev().collect::<Vec<_>>(),
        "newest first"
    );
    assert_eq!(b["meta"]["lastSeq"], 25);
    assert_eq!(b["meta"]["nextBefore"], 16);
    let (_, b) = api
        .get(&format!("{path}?limit=10&before=16"), &bob.token)
        .await;
    assert_eq!(seqs(&b), (6..=15).rev().collect::<Vec<_>>());
    let (_, b) = api
        .get(&format!("{path}?limit=10&lastId=6"), &bob.token)
        .await;
    assert_eq!(seqs(&b), (1..=5).rev().collect::<Vec<_>>());
    assert!(b["meta"]["nextBefore"].is_null());
    let (_, b) = api
        .get(&format!("{path}?limit=3&after=20"), &bob.token)
        .await;
    assert_eq!(
        seqs(&b),
        [23, 22, 21],
        "the messages right after the cursor"
    );

    let (_, b) = api
        .get(&format!("{path}?limit=10&page=3"), &bob.token)
        .await;
    assert_eq!(seqs(&b), (1..=5).rev().collect::<Vec<_>>());
    let p = &b["meta"]["pagination"];
    assert_eq!(
        (
            p["currentPage"].as_i64(),
            p["perPage"].as_i64(),
            p["total"].as_i64(),
            p["totalPages"].as_i64()
        ),
        (Some(3), Some(10), Some(25), Some(3))
    );
    assert!(p["links"]["next"].is_null());
    assert_eq!(
        p["links"]["previous"],
        format!("/api/rooms/{room}/messages?page=2&limit=10")
    );

    let (s, _) = api
        .get(&format!("{path}?before=5&after=1"), &bob.token)
        .await;
    assert_eq!(s, 422);
}

#[tokio::test]
async fn get_responses_carry_etags_and_honour_if_none_match() {
    let Pair {
        server,
        api,
        alice,
        bob: _,
        room,
    } = Pair::start().await;
    let url = server.url(&format!("/api/rooms/{room}/messages"));
    let client = reqwest::Client::new();

    let first = client
        .get(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = client
        .get(&url)
        .bearer_auth(&alice.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert!(again.text().await.unwrap().is_empty());

    api.say(&alice, room, "news").await;
    let changed = client
        .get(&url)
        .bearer_auth(&alice.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        changed.status().as_u16(),
        200,
        "a new message changes the ETag"
    );
}
