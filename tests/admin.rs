//! The Management API's gate: off (404) without configured credentials,
//! admin login with the configured username and password, admin tokens.

mod support;

use serde_json::json;
use support::{Api, TestServer, ADMIN_ARGS};

#[tokio::test]
async fn without_credentials_the_management_api_does_not_exist() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    for (method, path, body) in [
        (
            "POST",
            "/api/admin/auth",
            Some(json!({"username": "", "password": ""})),
        ),
        ("GET", "/api/admin/stats", None),
        ("GET", "/api/admin/auth", None),
        ("DELETE", "/api/admin/users/1", None),
        ("GET", "/api/admin/users", None),
        ("POST", "/api/admin/users", Some(json!({"login": "x"}))),
        ("GET", "/api/admin/users/1", None),
        ("PATCH", "/api/admin/users/1", Some(json!({"name": "x"}))),
        ("GET", "/api/admin/rooms", None),
        ("POST", "/api/admin/rooms", Some(json!({"name": "x"}))),
        ("GET", "/api/admin/rooms/1", None),
        ("PATCH", "/api/admin/rooms/1", Some(json!({"name": "x"}))),
        ("DELETE", "/api/admin/rooms/1", None),
        ("GET", "/api/admin/rooms/1/participants", None),
        (
            "POST",
            "/api/admin/rooms/1/participants",
            Some(json!({"userId": 1})),
        ),
        (
            "PATCH",
            "/api/admin/rooms/1/participants/1",
            Some(json!({"role": "admin"})),
        ),
        ("DELETE", "/api/admin/rooms/1/participants/1", None),
        ("GET", "/api/admin/rooms/1/messages", None),
        ("GET", "/api/admin/messages", None),
        (
            "GET",
            "/api/admin/messages/00000000-0000-7000-8000-000000000000",
            None,
        ),
        ("GET", "/api/admin/sessions", None),
        ("GET", "/api/admin/sessions/1", None),
        ("DELETE", "/api/admin/sessions/1", None),
    ] {
        let (status, body) = api.call(method, path, Some(&alice.token), body).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["code"], "not_found");
    }
}

#[tokio::test]
async fn admin_login_token_and_logout() {
    let server = TestServer::start_with(ADMIN_ARGS);
    let api = Api::new(&server);
    let alice = api.user("alice").await;

    for (username, password) in [("root", "wrong-password"), ("alice", "admin-password-1")] {
        let (status, body) = api
            .call(
                "POST",
                "/api/admin/auth",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, 401, "{body}");
        assert!(body.get("data").is_none(), "no token for wrong credentials");
    }
    let (status, body) = api
        .call(
            "POST",
            "/api/admin/auth",
            None,
            Some(json!({"username": "root"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["name"], "password");

    // No token, a user's token, a made-up token: all 401.
    let (status, _) = api.call("GET", "/api/admin/stats", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = api.get("/api/admin/stats", &alice.token).await;
    assert_eq!(status, 401, "a user's token is not an admin token");

    let token = api.admin_token().await;
    // Bearer works, and so does the admin-accesstoken header.
    let (status, body) = api.get("/api/admin/stats", &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["users"], 1);
    let resp = api
        .client
        .get(format!("{}/api/admin/stats", api.base))
        .header("admin-accesstoken", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // An admin token is not a user token either.
    let (status, _) = api.get("/api/me", &token).await;
    assert_eq!(status, 401);

    let (status, _) = api
        .call("POST", "/api/admin/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = api.get("/api/admin/stats", &token).await;
    assert_eq!(status, 401, "a logged-out admin token stops working");
}

#[tokio::test]
async fn stats_count_what_the_server_holds() {
    let server = TestServer::start_with(ADMIN_ARGS);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let room = api.room(&alice, &[&bob]).await;
    api.say(&alice, room, "one").await;
    api.say(&bob, room, "two").await;
    let token = api.admin_token().await;
    let (status, body) = api.get("/api/admin/stats", &token).await;
    assert_eq!(status, 200, "{body}");
    let stats = &body["data"];
    assert_eq!(stats["users"], 2);
    assert_eq!(stats["rooms"], 1);
    assert_eq!(stats["participants"], 2);
    assert_eq!(stats["messages"], 2);
    assert_eq!(stats["liveSessions"], 2);
}

#[tokio::test]
async fn every_admin_endpoint_wants_an_admin_token() {
    let server = TestServer::start_with(ADMIN_ARGS);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    for (method, path) in [
        ("GET", "/api/admin/users"),
        ("POST", "/api/admin/users"),
        ("GET", "/api/admin/users/1"),
        ("PATCH", "/api/admin/users/1"),
        ("DELETE", "/api/admin/users/1"),
        ("GET", "/api/admin/rooms"),
        ("POST", "/api/admin/rooms"),
        ("GET", "/api/admin/rooms/1"),
        ("PATCH", "/api/admin/rooms/1"),
        ("DELETE", "/api/admin/rooms/1"),
        ("GET", "/api/admin/rooms/1/participants"),
        ("POST", "/api/admin/rooms/1/participants"),
        ("PATCH", "/api/admin/rooms/1/participants/1"),
        ("DELETE", "/api/admin/rooms/1/participants/1"),
        ("GET", "/api/admin/rooms/1/messages"),
        ("GET", "/api/admin/messages"),
        (
            "GET",
            "/api/admin/messages/00000000-0000-7000-8000-000000000000",
        ),
        ("GET", "/api/admin/sessions"),
        ("GET", "/api/admin/sessions/1"),
        ("DELETE", "/api/admin/sessions/1"),
    ] {
        let body = (method == "POST" || method == "PATCH").then(|| json!({}));
        let (status, reply) = api.call(method, path, Some(&alice.token), body).await;
        assert_eq!(status, 401, "{method} {path}: {reply}");
    }
    let (status, body) = api.get("/api/admin/users/1", &alice.token).await;
    assert_eq!((status, &body["code"]), (401, &json!("unauthorized")));
}
