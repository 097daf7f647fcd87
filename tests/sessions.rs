//! Sessions: one per device login; list, revoke one, log out everywhere,
//! expiry. Ending a session closes its live sockets at once.

mod support;

use serde_json::json;
use support::{assert_bad_query, with_query, Api, TestServer, Ws, WAIT};

/// Logs `login` in again from another device; returns the token.
async fn login(api: &Api, login: &str, device: &str) -> String {
    let (status, body) = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"login": login, "password": "password123", "deviceId": device})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["token"].as_str().unwrap().to_owned()
}

async fn ws_with_token(server: &TestServer, token: &str) -> Ws {
    let mut ws = Ws::connect_raw(&format!("{}/?token={token}", server.ws)).await;
    assert_eq!(ws.next_frame().await["type"], "ack");
    ws
}

#[tokio::test]
async fn list_and_revoke_one_device_closes_its_socket() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let phone = login(&api, "alice", "phone").await;
    let laptop = login(&api, "alice", "laptop").await;

    let (status, body) = api.get("/api/sessions", &phone).await;
    assert_eq!(status, 200);
    let sessions = body["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["deviceId"], "phone");
    let laptop_id = sessions.iter().find(|s| s["deviceId"] == "laptop").unwrap()["id"]
        .as_i64()
        .unwrap();

    // query= narrows my sessions; the total counts the matches.
    let (status, body) = api
        .get(
            &with_query("/api/sessions", "deviceId = 'laptop'", ""),
            &phone,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["id"], laptop_id);
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    let (_, body) = api
        .get(
            &with_query(
                "/api/sessions",
                "deviceId IN ('phone', 'laptop')",
                "limit=1",
            ),
            &phone,
        )
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["meta"]["pagination"]["total"], 2);
    for (q, reason) in [
        (
            "token_hash = 'x'",
            "unknown field `token_hash`; allowed fields: id, deviceId, createdAt, expiresAt",
        ),
        ("userId = 1", "unknown field `userId`"),
        ("deviceId = 'x'; DELETE FROM sessions", "';' is not allowed"),
    ] {
        let (status, body) = api.get(&with_query("/api/sessions", q, ""), &phone).await;
        assert_bad_query(status, &body, q, reason);
    }

    let mut laptop_ws = ws_with_token(&server, &laptop).await;
    let mut phone_ws = ws_with_token(&server, &phone).await;
    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/sessions/{laptop_id}"),
            Some(&phone),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        laptop_ws.close_code().await,
        Some(1008),
        "the revoked device's socket closes"
    );
    let (status, _) = api.get("/api/me", &laptop).await;
    assert_eq!(status, 401);
    // The other devices go on.
    phone_ws.expect_quiet().await;
    let (status, _) = api.get("/api/me", &alice.token).await;
    assert_eq!(status, 200);

    // Someone else's session id is not found, and nothing happens to it.
    let bob = api.user("bob").await;
    let (_, body) = api.get("/api/sessions", &bob.token).await;
    let bobs = body["data"][0]["id"].as_i64().unwrap();
    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/sessions/{bobs}"),
            Some(&phone),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = api.get("/api/me", &bob.token).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn logout_and_logout_all_close_sockets_and_tokens() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let phone = login(&api, "alice", "phone").await;

    // Logout ends just this session.
    let mut ws = ws_with_token(&server, &alice.token).await;
    let (status, _) = api.post("/api/auth/logout", &alice.token, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(ws.close_code().await, Some(1008));
    let (status, _) = api.get("/api/me", &phone).await;
    assert_eq!(status, 200);

    // Logout-all ends every session, on every device.
    let laptop = login(&api, "alice", "laptop").await;
    let mut phone_ws = ws_with_token(&server, &phone).await;
    let (status, _) = api.post("/api/auth/logout-all", &laptop, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(phone_ws.close_code().await, Some(1008));
    for token in [&phone, &laptop] {
        let (status, body) = api.get("/api/me", token).await;
        assert_eq!(status, 401, "{body}");
    }
    // A new socket with an ended session is refused.
    let mut ws = Ws::connect_raw(&format!("{}/?token={phone}", server.ws)).await;
    assert_eq!(ws.next_frame().await["code"], "unauthorized");
}

#[tokio::test]
async fn tokens_expire() {
    let server = TestServer::start_with(&["--token-ttl-secs", "1"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let (status, _) = api.get("/api/me", &alice.token).await;
    assert_eq!(status, 200);
    // Expiry is about time passing: poll until the one-second lifetime is over.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = api.get("/api/me", &alice.token).await;
        if status == 401 {
            assert!(
                body["reason"].as_str().unwrap().contains("expired"),
                "{body}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_expired_session_closes_its_socket() {
    let server = TestServer::start_with(&["--token-ttl-secs", "2"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let mut ws = ws_with_token(&server, &alice.token).await;
    // The socket stays open for the session's two seconds, then closes with
    // the reason, without the client doing anything.
    assert_eq!(ws.close_code().await, Some(1008));
    let (status, _) = api.get("/api/me", &alice.token).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let laptop = login(&api, "alice", "laptop").await;
    let mut laptop_ws = ws_with_token(&server, &laptop).await;
    let mut here_ws = ws_with_token(&server, &alice.token).await;

    let change = |current: &str, new: &str| json!({"currentPassword": current, "newPassword": new});
    let (status, body) = api
        .call(
            "PUT",
            "/api/me/password",
            Some(&alice.token),
            Some(change("wrong-one", "new-password-1")),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = api
        .call(
            "PUT",
            "/api/me/password",
            Some(&alice.token),
            Some(change("password123", "short")),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["slug"].as_str()),
        (422, Some("newPassword.too_short"))
    );
    // Nothing changed so far: the laptop still works.
    let (status, _) = api.get("/api/me", &laptop).await;
    assert_eq!(status, 200);

    let (status, _) = api
        .call(
            "PUT",
            "/api/me/password",
            Some(&alice.token),
            Some(change("password123", "new-password-1")),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(laptop_ws.close_code().await, Some(1008));
    let (status, _) = api.get("/api/me", &laptop).await;
    assert_eq!(status, 401);
    // This session and its socket stay; the new password logs in, the old does not.
    here_ws.expect_quiet().await;
    let (status, _) = api.get("/api/me", &alice.token).await;
    assert_eq!(status, 200);
    let creds = |p: &str| json!({"login": "alice", "password": p});
    let (status, _) = api
        .call("POST", "/api/auth/login", None, Some(creds("password123")))
        .await;
    assert_eq!(status, 401);
    let (status, _) = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(creds("new-password-1")),
        )
        .await;
    assert_eq!(status, 200);
}
