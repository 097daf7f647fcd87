//! Channels: the ones I joined, ratings 0–99 with the average in the
//! details, only admins post.

mod support;

use serde_json::{json, Value};
use support::{assert_bad_query, with_query, Api, TestServer};

#[tokio::test]
async fn channels_list_ratings_and_posting_rules() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let (status, body) = api
        .post(
            "/api/rooms",
            &alice.token,
            json!({"type": "channel", "name": "news", "participants": [bob.id, carol.id]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let channel = body["data"]["id"].as_i64().unwrap();
    let group = api.room(&alice, &[&bob]).await;

    let (status, body) = api.get("/api/channels", &bob.token).await;
    assert_eq!(status, 200, "{body}");
    let list = body["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "the group room is no channel");
    assert_eq!(list[0]["id"], channel);
    assert_eq!(list[0]["members"], 3);
    assert!(list[0]["rating"].is_null());
    assert_eq!(body["meta"]["pagination"]["total"], 1);

    let rate = |token: String, rate: serde_json::Value| {
        let api = api.clone();
        async move {
            api.call(
                "PUT",
                &format!("/api/channels/{channel}/rating"),
                Some(&token),
                Some(json!({"rate": rate})),
            )
            .await
        }
    };
    let (status, body) = rate(bob.token.clone(), json!(80)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["myRating"], 80);
    let (_, _) = rate(carol.token.clone(), json!(41)).await;
    // Rating again replaces the earlier one.
    let (_, body) = rate(carol.token.clone(), json!(40)).await;
    assert_eq!(body["data"]["rating"], 60.0);
    assert_eq!(body["data"]["ratings"], 2);
    let (status, body) = api
        .get(&format!("/api/channels/{channel}"), &alice.token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["rating"], 60.0);
    assert!(body["data"]["myRating"].is_null());

    for bad in [json!(100), json!(-1), json!(4.5), json!("9")] {
        let (status, _) = rate(bob.token.clone(), bad.clone()).await;
        assert_eq!(status, 422, "{bad}");
    }
    let outsider = api.user("dave").await;
    let (status, _) = rate(outsider.token.clone(), json!(5)).await;
    assert_eq!(status, 404, "not a member");
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/channels/{group}/rating"),
            Some(&bob.token),
            Some(json!({"rate": 5})),
        )
        .await;
    assert_eq!(status, 404, "a group room is no channel");

    // Only the channel's owner and admins post.
    let (status, _) = api
        .post(
            &format!("/api/rooms/{channel}/messages"),
            &bob.token,
            json!({"content": "hi"}),
        )
        .await;
    assert_eq!(status, 403);
    api.say(&alice, channel, "welcome").await;
}

fn ids(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn channels_query_narrows_and_counts_matches() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let mut channels = Vec::new();
    for body in [
        json!({"type": "channel", "name": "news", "public": true, "participants": [bob.id, carol.id]}),
        json!({"type": "channel", "name": "sports", "participants": [bob.id]}),
    ] {
        let (status, body) = api.post("/api/rooms", &alice.token, body).await;
        assert_eq!(status, 201, "{body}");
        channels.push(body["data"]["id"].as_i64().unwrap());
    }
    let (news, sports) = (channels[0], channels[1]);
    api.room(&alice, &[&bob]).await;
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/channels/{news}/rating"),
            Some(&bob.token),
            Some(json!({"rate": 80})),
        )
        .await;
    assert_eq!(status, 200);

    let cases: Vec<(String, Vec<i64>)> = vec![
        ("name = 'news'".into(), vec![news]),
        ("public = false".into(), vec![sports]),
        ("myRating IS NULL".into(), vec![sports]),
        ("myRating = 80 AND ratings = 1".into(), vec![news]),
        ("rating >= 50".into(), vec![news]),
        ("members = 2".into(), vec![sports]),
        ("ratings = 0 OR name LIKE 'N%'".into(), vec![news, sports]),
        (
            format!("creatorId = {} AND id <> {news}", alice.id),
            vec![sports],
        ),
        ("createdAt < '2000-01-01T00:00:00Z'".into(), vec![]),
    ];
    for (q, want) in cases {
        let (status, body) = api
            .get(&with_query("/api/channels", &q, ""), &bob.token)
            .await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(ids(&body), want, "{q}");
        assert_eq!(body["meta"]["count"], want.len(), "{q}");
        assert_eq!(body["meta"]["pagination"]["total"], want.len(), "{q}");
    }
    let (_, body) = api
        .get(
            &with_query("/api/channels", "id > 0", "limit=1"),
            &bob.token,
        )
        .await;
    assert_eq!(ids(&body), [news]);
    assert_eq!(body["meta"]["pagination"]["total"], 2);
    assert_eq!(body["meta"]["pagination"]["totalPages"], 2);

    for (q, reason) in [
        ("type = 'group'", "unknown field `type`; allowed fields: id, name, public, creatorId, createdAt, members, rating, ratings, myRating"),
        ("password_hash = 'x'", "unknown field `password_hash`"),
        ("1=1; DROP TABLE rooms", "';' is not allowed"),
        ("name = 'x' /* */", "comments are not allowed"),
        ("rating = '80'", "field `rating` expects a whole number, not a string"),
    ] {
        let (status, body) = api
            .get(&with_query("/api/channels", q, ""), &bob.token)
            .await;
        assert_bad_query(status, &body, q, reason);
    }
    let (_, body) = api.get("/api/channels", &bob.token).await;
    assert_eq!(ids(&body), [news, sports], "nothing changed");
}
