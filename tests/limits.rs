//! Abuse limits: sign-ups and logins per IP and per account over REST
//! (429 + Retry-After), actions per WebSocket connection (`error` frame
//! with `retryAfter`). A refused call changes nothing.

mod support;

use serde_json::json;
use support::{Api, Pair, TestServer, Ws};

#[tokio::test]
async fn logins_are_limited_per_account_and_per_ip() {
    let server = TestServer::start_with(&[
        "--auth-per-account-per-minute",
        "2",
        "--auth-per-ip-per-minute",
        "5",
    ]);
    let api = Api::new(&server);
    api.user("alice").await; // a sign-up and a login: 2 of this IP's 5
    let wrong = json!({"login": "alice", "password": "not-her-password"});
    let (status, _) = api
        .call("POST", "/api/auth/login", None, Some(wrong.clone()))
        .await;
    assert_eq!(
        status, 401,
        "alice's second login this minute is still allowed"
    );

    let resp = reqwest::Client::new()
        .post(server.url("/api/auth/login"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["retryAfter"], retry);

    // The IP's budget: 4 used (sign-up, 3 logins); one more sign-up, then 429.
    let signup = |login: &str| json!({"login": login, "password": "password123", "name": "X"});
    let (status, _) = api
        .call("POST", "/api/users", None, Some(signup("bob")))
        .await;
    assert_eq!(status, 201);
    let (status, body) = api
        .call("POST", "/api/users", None, Some(signup("carol")))
        .await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    // Carol was not created.
    let (status, _) = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"login": "carol", "password": "password123"})),
        )
        .await;
    assert_eq!(status, 429, "still limited, and nothing leaked about carol");
}

#[tokio::test]
async fn websocket_actions_are_limited_per_connection() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start_with(&["--ws-actions-per-sec", "1"]).await;
    let mut a = Ws::connect(&server, &alice).await;
    // A burst of two actions is allowed...
    for i in 0..2 {
        a.send(json!({"action": "ping", "requestId": i.to_string()}))
            .await;
        assert_eq!(a.next_frame().await["type"], "pong");
    }
    // ...the third is refused and not carried out.
    a.send(
        json!({"action": "create_message", "requestId": "x", "roomId": room, "content": "spam"}),
    )
    .await;
    let f = a.next_frame().await;
    assert_eq!(f["type"], "error");
    assert_eq!(f["code"], "rate_limited");
    assert_eq!(f["requestId"], "x");
    assert!(f["retryAfter"].as_u64().unwrap() >= 1);
    assert!(api.history(&alice, room).await.is_empty());
    // Another connection has its own budget.
    let mut b = Ws::connect(&server, &bob).await;
    b.expect_quiet().await;
}
