//! Every error class answers with its status and the JSON envelope, and
//! changes nothing; bad WebSocket frames get an `error` frame or the right
//! close code, never a crash.

mod support;

use serde_json::{json, Value};
use support::{Api, Pair, TestServer, Ws};
use tokio_tungstenite::tungstenite::Message as WsMessage;

fn assert_envelope(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], true, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    let reason = body["reason"].as_str().expect("reason");
    assert!(!reason.is_empty());
}

async fn raw(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        server.url(path),
    );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_error_class_has_its_status_and_envelope() {
    let Pair {
        server,
        api,
        alice,
        bob,
        room,
    } = Pair::start().await;
    let auth = format!("Bearer {}", alice.token);
    let json_ct = ("content-type", "application/json");
    let messages = format!("/api/rooms/{room}/messages");

    // 400: JSON that does not parse, with where.
    let (s, b) = raw(
        &server,
        "POST",
        &messages,
        &[("authorization", &auth), json_ct],
        b"{\"content\": ".to_vec(),
    )
    .await;
    assert_envelope(s, &b, 400, "bad_request");
    assert!(b["reason"].as_str().unwrap().contains("line 1"), "{b}");
    // 400: bad query string.
    let (s, b) = api
        .get(&format!("{messages}?limit=many"), &alice.token)
        .await;
    assert_envelope(s, &b, 400, "bad_request");

    // 401: no token, a wrong token, a logged-out token.
    let (s, b) = api.call("GET", "/api/me", None, None).await;
    assert_envelope(s, &b, 401, "unauthorized");
    let (s, b) = api.get("/api/me", "not-a-token").await;
    assert_envelope(s, &b, 401, "unauthorized");
    let temp = api.user("temp").await;
    let (s, _) = api.post("/api/auth/logout", &temp.token, json!({})).await;
    assert_eq!(s, 200);
    let (s, b) = api.get("/api/me", &temp.token).await;
    assert_envelope(s, &b, 401, "unauthorized");
    // The alias header works.
    let (s, _) = raw(
        &server,
        "GET",
        "/api/me",
        &[("accesstoken", &alice.token)],
        vec![],
    )
    .await;
    assert_eq!(s, 200);

    // 403: a member who may not.
    let (s, b) = api
        .call(
            "PATCH",
            &format!("/api/rooms/{room}"),
            Some(&bob.token),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_envelope(s, &b, 403, "forbidden");

    // 404: unknown path, unknown id, non-numeric id.
    let (s, b) = api.get("/api/nowhere", &alice.token).await;
    assert_envelope(s, &b, 404, "not_found");
    let (s, b) = api.get("/api/users/99999", &alice.token).await;
    assert_envelope(s, &b, 404, "not_found");
    let (s, b) = api.get("/api/rooms/abc", &alice.token).await;
    assert_envelope(s, &b, 404, "not_found");

    // 405 with Allow.
    let resp = reqwest::Client::new()
        .put(server.url("/api/rooms"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers()["allow"], "GET, POST");

    // 406: an API version that does not exist; v1 and plain JSON are fine.
    let (s, b) = raw(
        &server,
        "GET",
        "/api/me",
        &[
            ("authorization", &auth),
            ("accept", "application/vnd.palaver.v9+json"),
        ],
        vec![],
    )
    .await;
    assert_envelope(s, &b, 406, "not_acceptable");
    let (s, _) = raw(
        &server,
        "GET",
        "/api/me",
        &[
            ("authorization", &auth),
            ("accept", "application/vnd.palaver.v1+json"),
        ],
        vec![],
    )
    .await;
    assert_eq!(s, 200);

    // 409: a taken login.
    let (s, b) = api
        .call(
            "POST",
            "/api/users",
            None,
            Some(json!({"login": "alice", "password": "password123", "name": "A"})),
        )
        .await;
    assert_envelope(s, &b, 409, "conflict");

    // 413: a body over the limit (64 KiB by default).
    let huge = format!("{{\"content\": \"{}\"}}", "x".repeat(70 * 1024));
    let (s, b) = raw(
        &server,
        "POST",
        &messages,
        &[("authorization", &auth), json_ct],
        huge.into_bytes(),
    )
    .await;
    assert_envelope(s, &b, 413, "payload_too_large");

    // 415: not JSON.
    let (s, b) = raw(
        &server,
        "POST",
        &messages,
        &[("authorization", &auth), ("content-type", "text/plain")],
        b"hello".to_vec(),
    )
    .await;
    assert_envelope(s, &b, 415, "unsupported_media_type");

    // 422: every invalid field at once, each with name/code/slug/message.
    let (s, b) = api
        .call(
            "POST",
            "/api/users",
            None,
            Some(json!({"login": "No Spaces", "password": "short"})),
        )
        .await;
    assert_envelope(s, &b, 422, "validation_failed");
    let slugs: Vec<&str> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["login.format", "password.too_short", "name.required"]
    );
    for e in b["errors"].as_array().unwrap() {
        for key in ["name", "code", "slug", "message"] {
            assert!(e[key].is_string(), "{e}");
        }
    }
    let (s, b) = api
        .post(&messages, &alice.token, json!({"content": ""}))
        .await;
    assert_envelope(s, &b, 422, "validation_failed");
    assert_eq!(b["errors"][0]["slug"], "content.empty");
    let (s, b) = api
        .post(
            &messages,
            &alice.token,
            json!({"content": "x".repeat(4001)}),
        )
        .await;
    assert_eq!(
        (s, b["errors"][0]["slug"].clone()),
        (422, json!("content.too_long"))
    );
    let (s, b) = api
        .post(
            &messages,
            &alice.token,
            json!({"content": "x", "messageId": "nope"}),
        )
        .await;
    assert_eq!(
        (s, b["errors"][0]["slug"].clone()),
        (422, json!("messageId.format"))
    );
    let (s, b) = api
        .post(&messages, &alice.token, json!({"content": 5}))
        .await;
    assert_envelope(s, &b, 422, "validation_failed");
    let (s, b) = api
        .get(&format!("{messages}?limit=1000"), &alice.token)
        .await;
    assert_envelope(s, &b, 422, "validation_failed");

    // None of the rejected requests changed anything.
    assert!(api.history(&alice, room).await.is_empty());

    // Wrong password: 401, the same answer as an unknown login.
    let (s1, b1) = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"login": "alice", "password": "wrong-password"})),
        )
        .await;
    let (s2, b2) = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"login": "nobody", "password": "wrong-password"})),
        )
        .await;
    assert_envelope(s1, &b1, 401, "unauthorized");
    assert_eq!((s1, b1), (s2, b2));
}

#[tokio::test]
async fn bad_websocket_frames_get_error_frames_and_the_socket_survives() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let mut ws = Ws::connect(&server, &alice).await;

    for (frame, code) in [
        ("{not json", "bad_request"),
        (r#"{"action": "fly", "requestId": "f"}"#, "bad_request"),
        (
            r#"{"action": "create_message", "roomId": "room_456", "content": "x"}"#,
            "bad_request",
        ),
        (
            r#"{"action": "create_message", "roomId": 1, "content": ""}"#,
            "validation_failed",
        ),
        (
            r#"{"action": "create_message", "roomId": 999, "content": "x"}"#,
            "not_found",
        ),
        (r#"{"action": "auth", "token": "again"}"#, "conflict"),
    ] {
        ws.send_raw(WsMessage::Text(frame.into())).await;
        let f = ws.next_frame().await;
        assert_eq!(f["type"], "error", "{frame} -> {f}");
        assert_eq!(f["code"], code, "{frame} -> {f}");
    }
    // The requestId is echoed when the frame had one.
    ws.send_raw(WsMessage::Text(
        r#"{"action": "fly", "requestId": "f"}"#.into(),
    ))
    .await;
    assert_eq!(ws.next_frame().await["requestId"], "f");
    ws.send_raw(WsMessage::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(ws.next_frame().await["type"], "error");
    ws.expect_quiet().await;

    // A frame over 64 KiB breaks the protocol: close 1009.
    ws.send_raw(WsMessage::Text("x".repeat(70 * 1024).into()))
        .await;
    assert_eq!(ws.close_code().await, Some(1009));
}

#[tokio::test]
async fn websocket_authentication_failures_close_with_1008() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;

    let mut ws = Ws::connect_raw(&format!("{}/?token=bogus", server.ws)).await;
    let f = ws.next_frame().await;
    assert_eq!(
        (f["type"].as_str(), f["code"].as_str()),
        (Some("error"), Some("unauthorized"))
    );
    assert_eq!(ws.close_code().await, Some(1008));

    // Without a token in the URL, the first frame must be `auth`.
    let mut ws = Ws::connect_raw(&server.ws).await;
    ws.send(json!({"action": "ping"})).await;
    assert_eq!(ws.next_frame().await["code"], "unauthorized");
    assert_eq!(ws.close_code().await, Some(1008));

    let mut ws = Ws::connect_raw(&server.ws).await;
    ws.send(json!({"action": "auth", "requestId": "a", "token": alice.token}))
        .await;
    let ack = ws.next_frame().await;
    assert_eq!(
        ack,
        json!({"type": "ack", "requestId": "a", "userId": alice.id})
    );
    ws.expect_quiet().await;
}
