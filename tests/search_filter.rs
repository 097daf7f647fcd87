//! `query=` on full-text search, over real HTTP: the filter narrows the
//! hits before they are ranked, counted and paged; it never reaches a room
//! the searcher is not in; a bad filter is a 400 that changes nothing.

mod support;

use serde_json::{json, Value};
use support::{assert_bad_query, Api, TestServer, User};

/// `GET /api/messages/search?q=<q>&query=<filter>` plus `extra`.
fn search_path(q: &str, filter: Option<&str>, extra: &str) -> String {
    let mut params = vec![("q", q)];
    params.extend(filter.map(|f| ("query", f)));
    let encoded = serde_urlencoded::to_string(params).expect("encode");
    if extra.is_empty() {
        format!("/api/messages/search?{encoded}")
    } else {
        format!("/api/messages/search?{encoded}&{extra}")
    }
}

async fn search(api: &Api, user: &User, filter: &str, extra: &str) -> Value {
    let (status, body) = api
        .get(&search_path("walrus", Some(filter), extra), &user.token)
        .await;
    assert_eq!(status, 200, "{filter}: {body}");
    body
}

/// The hits' contents, sorted (ranks of near-equal texts may tie).
fn contents(body: &Value) -> Vec<String> {
    let mut found: Vec<String> = body["data"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            h["message"]["content"]
                .as_str()
                .expect("content")
                .to_owned()
        })
        .collect();
    found.sort();
    found
}

/// Alice is in `ours` (with bob) and `hers` (with carol); carol and bob
/// share `theirs`, which alice is not in. Every message says "walrus".
struct Rooms {
    /// Kept for the test's length: dropping it stops the server.
    _server: TestServer,
    api: Api,
    alice: User,
    bob: User,
    carol: User,
    ours: i64,
    hers: i64,
    theirs: i64,
}

async fn rooms() -> Rooms {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let ours = api.room(&alice, &[&bob]).await;
    let hers = api.room(&alice, &[&carol]).await;
    let theirs = api.room(&carol, &[&bob]).await;
    api.say(&alice, ours, "walrus one from alice").await;
    api.say(&bob, ours, "walrus two from bob").await;
    api.say(&carol, hers, "walrus three from carol").await;
    api.say(&carol, theirs, "walrus secret from carol").await;
    api.say(&bob, theirs, "walrus hidden from bob").await;
    Rooms {
        _server: server,
        api,
        alice,
        bob,
        carol,
        ours,
        hers,
        theirs,
    }
}

#[tokio::test]
async fn query_narrows_hits_and_total() {
    let r = rooms().await;
    let (api, alice) = (&r.api, &r.alice);
    let (ours, hers) = (r.ours, r.hers);
    let one = "walrus one from alice";
    let two = "walrus two from bob";
    let three = "walrus three from carol";

    let cases: Vec<(String, Vec<&str>)> = vec![
        (format!("roomId = {ours}"), vec![one, two]),
        (format!("roomId IN ({hers})"), vec![three]),
        // Bob's message in a room alice is not in stays out.
        (format!("senderId = {}", r.bob.id), vec![two]),
        (
            format!("senderId <> {} AND roomId <> {hers}", r.carol.id),
            vec![one, two],
        ),
        ("type = 'text'".into(), vec![one, three, two]),
        ("type IN ('image', 'file')".into(), vec![]),
        (
            "createdAt >= '2000-01-01T00:00:00Z'".into(),
            vec![one, three, two],
        ),
        ("createdAt < '2000-01-01T00:00:00Z'".into(), vec![]),
        ("content LIKE '%from bob'".into(), vec![two]),
        (
            "deletedAt IS NULL AND seq >= 1".into(),
            vec![one, three, two],
        ),
        ("NOT (roomId = 0)".into(), vec![one, three, two]),
    ];
    for (filter, want) in cases {
        let body = search(api, alice, &filter, "").await;
        let mut want: Vec<String> = want.into_iter().map(String::from).collect();
        want.sort();
        assert_eq!(contents(&body), want, "{filter}");
        assert_eq!(body["meta"]["total"], want.len(), "{filter}");
        assert_eq!(body["meta"]["pagination"]["total"], want.len(), "{filter}");
        assert_eq!(body["meta"]["count"], want.len(), "{filter}");
    }

    // The filter applies before paging: one hit per page, two pages, and
    // the links keep the filter.
    let filter = format!("roomId = {ours}");
    let first = search(api, alice, &filter, "limit=1").await;
    let p = &first["meta"]["pagination"];
    assert_eq!(
        (&p["total"], &p["totalPages"], &first["meta"]["count"]),
        (&json!(2), &json!(2), &json!(1))
    );
    let next = p["links"]["next"].as_str().expect("next link");
    let (status, second) = api.get(next, &alice.token).await;
    assert_eq!(status, 200, "{next}: {second}");
    assert_eq!(second["meta"]["pagination"]["total"], 2);
    let mut both = contents(&first);
    both.extend(contents(&second));
    both.sort();
    assert_eq!(both, [one, two]);

    // ANDed with the roomId parameter.
    let body = search(
        api,
        alice,
        &format!("roomId = {hers}"),
        &format!("roomId={ours}"),
    )
    .await;
    assert!(contents(&body).is_empty());
    assert_eq!(body["meta"]["total"], 0);
}

#[tokio::test]
async fn a_filter_never_reaches_past_my_rooms() {
    let r = rooms().await;
    let (api, alice) = (&r.api, &r.alice);
    let (ours, theirs) = (r.ours, r.theirs);

    // Naming the room alice is not in finds nothing in it.
    let body = search(api, alice, &format!("roomId = {theirs}"), "").await;
    assert!(contents(&body).is_empty(), "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 0);
    let body = search(
        api,
        alice,
        &format!("roomId = {theirs}"),
        &format!("roomId={theirs}"),
    )
    .await;
    assert!(contents(&body).is_empty(), "{body}");

    // An OR cannot widen the scope: only alice's rooms match either side.
    for filter in [
        format!("roomId = {theirs} OR roomId = {ours}"),
        format!("roomId = {theirs} OR senderId = {}", r.bob.id),
        format!("senderId = {} OR roomId > 0", r.carol.id),
        format!("NOT (roomId = {ours}) OR roomId = {theirs}"),
        "roomId IS NULL OR roomId IS NOT NULL".into(),
    ] {
        let body = search(api, alice, &filter, "").await;
        let found = contents(&body);
        assert!(
            found
                .iter()
                .all(|c| !c.contains("secret") && !c.contains("hidden")),
            "{filter}: {found:?}"
        );
        assert!(!found.is_empty(), "{filter}: alice's own hits still match");
    }

    // Bob, who is in `theirs`, does find its messages with the same filter.
    let body = search(api, &r.bob, &format!("roomId = {theirs}"), "").await;
    assert_eq!(
        contents(&body),
        ["walrus hidden from bob", "walrus secret from carol"]
    );
}

#[tokio::test]
async fn bad_search_filters_are_400_and_change_nothing() {
    let r = rooms().await;
    let (api, alice) = (&r.api, &r.alice);
    let ours = r.ours;
    let before = api.history(alice, ours).await;

    let cases: &[(&str, &str)] = &[
        (
            "password = 'x'",
            "unknown field `password`; allowed fields: roomId, seq, senderId, type, content, \
             createdAt, editedAt, deletedAt",
        ),
        ("rank < 0", "unknown field `rank`"),
        ("snippet LIKE '%'", "unknown field `snippet`"),
        ("1=1; DROP TABLE messages", "';' is not allowed"),
        ("' OR '1'='1", "expected a field name"),
        ("roomId = 1 OR 1=1", "expected a field name"),
        ("content = 'x' --", "comments are not allowed"),
        ("content = 'x' /* */", "comments are not allowed"),
        (
            "roomId IN (SELECT room_id FROM participants)",
            "subqueries are not allowed",
        ),
        ("load_extension('x')", "function calls are not allowed"),
        ("roomId = roomId", "not with `roomId`"),
        ("roomId = 'one'", "expects a whole number"),
        (
            "type LIKE 't%'",
            "operator LIKE is not allowed on field `type`",
        ),
        ("createdAt > 'yesterday'", "RFC 3339"),
        ("", "the query is empty"),
    ];
    for (filter, reason) in cases {
        let (status, body) = api
            .get(&search_path("walrus", Some(filter), ""), &alice.token)
            .await;
        assert_bad_query(status, &body, filter, reason);
    }

    // Nothing changed: the same hits and the same history.
    let (status, body) = api
        .get(&search_path("walrus", None, ""), &alice.token)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["total"], 3);
    assert_eq!(api.history(alice, ours).await, before);
}
