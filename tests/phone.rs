//! Phone login: a one-time code by SMS (log sender or HTTP webhook with
//! retries from a persistent outbox), verify for a session, device ids
//! bound to one number, code expiry/reuse/attempt limits, rate limits.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::{code_in, nth_logged_code, Api, TestServer, Ws, WAIT};
use tokio::sync::mpsc;

const ALICE: &str = "+4915123456789";
const BOB: &str = "+14155552671";
const CAROL: &str = "+447911123456";

async fn ask_code(api: &Api, body: Value) -> (u16, Value) {
    api.call("POST", "/api/auth/code", None, Some(body)).await
}

async fn verify(api: &Api, phone: &str, code: &str, device: &str) -> (u16, Value) {
    api.call(
        "POST",
        "/api/auth/verify",
        None,
        Some(json!({"phone": phone, "code": code, "deviceId": device})),
    )
    .await
}

/// A code for `phone` on `device` through the log sender: the nth sent.
async fn log_code(server: &TestServer, api: &Api, phone: &str, device: &str, n: usize) -> String {
    let (status, body) = ask_code(api, json!({"phone": phone, "deviceId": device})).await;
    assert_eq!(status, 200, "{body}");
    nth_logged_code(server, phone, n).await
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

#[tokio::test]
async fn phone_login_end_to_end_with_the_log_sender() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let (status, body) = ask_code(
        &api,
        json!({"phone": "+49 151 2345-6789", "deviceId": "pixel"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["phone"], ALICE, "normalised to E.164");
    assert_eq!(body["data"]["deviceId"], "pixel");
    assert!(body["data"]["expiresAt"].as_str().unwrap().ends_with('Z'));
    let code = nth_logged_code(&server, ALICE, 1).await;

    // First login creates the account: 201 + Location.
    let resp = reqwest::Client::new()
        .post(server.url("/api/auth/verify"))
        .json(&json!({"phone": "+49 (151) 23456789", "code": code, "deviceId": "pixel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let data = &body["data"];
    let user_id = data["user"]["id"].as_i64().unwrap();
    assert_eq!(location, format!("/api/users/{user_id}"));
    // The number is never shown to others: not as login, not as name.
    let shown = format!("{}{}", data["user"]["login"], data["user"]["name"]);
    assert!(!shown.contains(&ALICE[1..]), "{shown}");
    assert!(data["user"]["login"].as_str().unwrap().starts_with('u'));
    assert_eq!(data["deviceId"], "pixel");
    let token = data["token"].as_str().unwrap().to_owned();

    let (status, me) = api.get("/api/me", &token).await;
    assert_eq!((status, me["data"]["id"].as_i64()), (200, Some(user_id)));
    let user = support::User {
        id: user_id,
        login: ALICE.into(),
        token: token.clone(),
    };
    let mut ws = Ws::connect(&server, &user).await;
    ws.expect_quiet().await;

    // Sessions list the device; a second login is the same account (200).
    let (_, sessions) = api.get("/api/sessions", &token).await;
    assert_eq!(sessions["data"][0]["deviceId"], "pixel");
    let code = log_code(&server, &api, ALICE, "pixel", 2).await;
    let (status, body) = verify(&api, ALICE, &code, "pixel").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["id"].as_i64(), Some(user_id));

    // No password opens a phone-only account.
    for password in ["", "!", "password123"] {
        let (status, _) = api
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"login": ALICE, "password": password})),
            )
            .await;
        assert_eq!(status, 401, "password {password:?}");
    }
    // Logging out ends the phone session like any other.
    let (status, _) = api.post("/api/auth/logout", &token, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(ws.close_code().await, Some(1008));
    assert_eq!(api.get("/api/me", &token).await.0, 401);
}

/// A stand-in SMS gateway on 127.0.0.1:0: answers the given statuses in
/// turn (then 200) and reports every request it got.
struct Gateway {
    url: String,
    requests: mpsc::UnboundedReceiver<(hyper::HeaderMap, String)>,
}

impl Gateway {
    async fn start(statuses: Vec<u16>) -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        let (tx, requests) = mpsc::unbounded_channel();
        let served = Arc::new(AtomicUsize::new(0));
        let statuses = Arc::new(statuses);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (tx, served, statuses) = (tx.clone(), served.clone(), statuses.clone());
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (tx, served, statuses) = (tx.clone(), served.clone(), statuses.clone());
                        async move {
                            let headers = req.headers().clone();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let n = served.fetch_add(1, Ordering::SeqCst);
                            let status = statuses.get(n).copied().unwrap_or(200);
                            let _ = tx.send((headers, String::from_utf8_lossy(&body).into_owned()));
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from_static(b"{}")))
                        }
                    },
                );
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Gateway { url, requests }
    }

    async fn next(&mut self) -> (hyper::HeaderMap, String) {
        tokio::time::timeout(WAIT, self.requests.recv())
            .await
            .expect("timed out waiting for the gateway to be called")
            .expect("gateway stopped")
    }
}

#[tokio::test]
async fn webhook_sender_retries_until_the_gateway_takes_the_sms() {
    let mut gateway = Gateway::start(vec![500]).await;
    let server = TestServer::start_with(&[
        "--sms-webhook-url",
        &gateway.url,
        "--sms-webhook-template",
        r#"{"number":"{phone}","message":"{text}"}"#,
        "--sms-webhook-auth-header",
        "X-Api-Key: k-123",
    ]);
    let api = Api::new(&server);
    let (status, body) = ask_code(&api, json!({"phone": BOB, "deviceId": "iphone"})).await;
    assert_eq!(status, 200, "{body}");

    let (headers, first) = gateway.next().await; // answered 500
    let (_, second) = gateway.next().await; // the retry, answered 200
    assert_eq!(first, second, "the retry sends the same SMS");
    assert_eq!(headers["x-api-key"], "k-123");
    assert_eq!(headers["content-type"], "application/json");
    let sms: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(sms["number"], BOB);
    let code = code_in(sms["message"].as_str().unwrap()).unwrap();

    let (status, body) = verify(&api, BOB, &code, "iphone").await;
    assert_eq!(status, 201, "{body}");
    assert!(
        !server.data_dir.join("outbox/sms.log").exists(),
        "the log sender is not used when a webhook is configured"
    );
}

#[tokio::test]
async fn a_queued_sms_survives_a_crash_and_a_gateway_outage() {
    let mut down = Gateway::start(vec![503; 1000]).await;
    let mut server = TestServer::start_with(&["--sms-webhook-url", &down.url]);
    let api = Api::new(&server);
    let (status, _) = ask_code(&api, json!({"phone": CAROL})).await;
    assert_eq!(status, 200);
    down.next().await; // tried once and refused
    server.kill();

    let dir = server.take_dir().unwrap();
    let mut up = Gateway::start(vec![]).await;
    let server = TestServer::start_in(dir.path(), &["--sms-webhook-url", &up.url]);
    let (_, body) = up.next().await;
    let sms: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sms["to"], CAROL, "the default template");
    let code = code_in(sms["text"].as_str().unwrap()).unwrap();
    let (status, body) = verify(&Api::new(&server), CAROL, &code, "tablet").await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_device_belongs_to_one_phone_and_browsers_get_theirs_back() {
    let server = TestServer::start_with(&["--sms-per-phone-per-minute", "0"]);
    let api = Api::new(&server);
    let code = log_code(&server, &api, ALICE, "alices-phone", 1).await;
    assert_eq!(verify(&api, ALICE, &code, "alices-phone").await.0, 201);

    // Bob cannot use Alice's device, asking for a code or verifying one.
    let (status, body) = ask_code(&api, json!({"phone": BOB, "deviceId": "alices-phone"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let code = log_code(&server, &api, BOB, "bobs-phone", 1).await;
    let (status, body) = verify(&api, BOB, &code, "alices-phone").await;
    assert_eq!(status, 403, "{body}");
    assert!(body["reason"]
        .as_str()
        .unwrap()
        .contains("another phone number"));
    // The refusal burnt no try: the code still works on Bob's own device.
    assert_eq!(verify(&api, BOB, &code, "bobs-phone").await.0, 201);

    // Alice logs in from a browser; later a browser gets that id back.
    let (status, _) = ask_code(
        &api,
        json!({"phone": ALICE, "deviceId": "browser-1", "deviceType": "browser"}),
    )
    .await;
    assert_eq!(status, 200);
    let code = nth_logged_code(&server, ALICE, 2).await;
    let (status, body) = api
        .call(
            "POST",
            "/api/auth/verify",
            None,
            Some(json!({"phone": ALICE, "code": code, "deviceId": "browser-1", "deviceType": "browser"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = ask_code(
        &api,
        json!({"phone": ALICE, "deviceId": "fresh-random-id", "deviceType": "browser"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["deviceId"], "browser-1");
    // A native app keeps its own id.
    let (status, body) = ask_code(&api, json!({"phone": ALICE, "deviceId": "alices-phone"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["deviceId"], "alices-phone");
}

#[tokio::test]
async fn wrong_reused_and_exhausted_codes_are_refused_with_a_reason() {
    let server = TestServer::start_with(&[
        "--code-checks-per-phone-per-minute",
        "0",
        "--code-checks-per-ip-per-minute",
        "0",
        "--sms-per-phone-per-minute",
        "0",
    ]);
    let api = Api::new(&server);
    let reason = |body: &Value| body["reason"].as_str().unwrap_or_default().to_owned();

    let (status, body) = verify(&api, ALICE, "123456", "d").await;
    assert_eq!(status, 401);
    assert!(reason(&body).contains("no code was sent"), "{body}");

    let code = log_code(&server, &api, ALICE, "d", 1).await;
    let (status, body) = verify(&api, ALICE, &other_than(&code), "d").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    assert!(reason(&body).contains("wrong; 4 more tries"), "{body}");
    let (status, body) = verify(&api, ALICE, "12ab56", "d").await;
    assert_eq!(
        (status, body["errors"][0]["slug"].as_str()),
        (422, Some("code.format"))
    );
    assert_eq!(verify(&api, ALICE, &code, "d").await.0, 201);
    let (status, body) = verify(&api, ALICE, &code, "d").await;
    assert_eq!(status, 401);
    assert!(reason(&body).contains("already used"), "{body}");

    // A new code replaces the old one.
    let old = log_code(&server, &api, ALICE, "d", 2).await;
    let new = log_code(&server, &api, ALICE, "d", 3).await;
    if old != new {
        let (status, body) = verify(&api, ALICE, &old, "d").await;
        assert!(status == 401 && reason(&body).contains("wrong"), "{body}");
    }
    // Five wrong tries kill the code, even for the right one afterwards.
    let code = log_code(&server, &api, ALICE, "d", 4).await;
    for _ in 0..4 {
        assert_eq!(verify(&api, ALICE, &other_than(&code), "d").await.0, 401);
    }
    let (_, body) = verify(&api, ALICE, &other_than(&code), "d").await;
    assert!(reason(&body).contains("last try"), "{body}");
    let (status, body) = verify(&api, ALICE, &code, "d").await;
    assert_eq!(status, 401);
    assert!(reason(&body).contains("too many wrong codes"), "{body}");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let server = TestServer::start_with(&["--phone-code-ttl-secs", "1"]);
    let api = Api::new(&server);
    let (status, body) = ask_code(&api, json!({"phone": ALICE})).await;
    assert_eq!(status, 200);
    let code = nth_logged_code(&server, ALICE, 1).await;
    // Wait out the lifetime the server announced.
    let expires_at = time::OffsetDateTime::parse(
        body["data"]["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = expires_at - time::OffsetDateTime::now_utc();
    if left.is_positive() {
        tokio::time::sleep(left.unsigned_abs() + std::time::Duration::from_millis(50)).await;
    }
    let (status, body) = verify(&api, ALICE, &code, "d").await;
    assert_eq!(status, 401);
    assert!(
        body["reason"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}

/// Status, `Retry-After` and body of a raw POST.
async fn post_raw(server: &TestServer, path: &str, body: Value) -> (u16, Option<u64>, Value) {
    let resp = reqwest::Client::new()
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry, resp.json().await.unwrap())
}

#[tokio::test]
async fn code_requests_and_checks_are_rate_limited() {
    let server = TestServer::start_with(&[
        "--sms-per-phone-per-minute",
        "2",
        "--sms-per-ip-per-minute",
        "3",
        "--code-checks-per-phone-per-minute",
        "2",
        "--code-checks-per-ip-per-minute",
        "3",
    ]);
    let limited = |(status, retry, body): (u16, Option<u64>, Value)| {
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["code"], "rate_limited");
        let retry = retry.expect("Retry-After");
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        assert_eq!(body["retryAfter"], retry);
    };
    let code = |phone: &str| json!({"phone": phone});
    // Per phone: two codes a minute; per IP: three attempts, the refused
    // one included, so Bob's first request is already over the IP's limit.
    for _ in 0..2 {
        assert_eq!(
            post_raw(&server, "/api/auth/code", code(ALICE)).await.0,
            200
        );
    }
    limited(post_raw(&server, "/api/auth/code", code(ALICE)).await);
    limited(post_raw(&server, "/api/auth/code", code(BOB)).await);

    // The same for checking codes, with budgets of their own.
    let check = |phone: &str| json!({"phone": phone, "code": "000000", "deviceId": "d"});
    for _ in 0..2 {
        assert_eq!(
            post_raw(&server, "/api/auth/verify", check(ALICE)).await.0,
            401
        );
    }
    limited(post_raw(&server, "/api/auth/verify", check(ALICE)).await);
    limited(post_raw(&server, "/api/auth/verify", check(BOB)).await);
}

#[tokio::test]
async fn invalid_phone_numbers_are_validation_errors() {
    let server = TestServer::start();
    let api = Api::new(&server);
    for phone in [
        json!("0151 23456789"),
        json!("+1 555"),
        json!("call me"),
        json!(""),
    ] {
        for path in ["/api/auth/code", "/api/auth/verify"] {
            let (status, body) = api
                .call(
                    "POST",
                    path,
                    None,
                    Some(json!({"phone": phone, "code": "123456", "deviceId": "d"})),
                )
                .await;
            assert_eq!(status, 422, "{path} {phone}: {body}");
            assert_eq!(body["errors"][0]["name"], "phone");
        }
    }
    let (status, body) = ask_code(&api, json!({})).await;
    assert_eq!(
        (status, body["errors"][0]["slug"].as_str()),
        (422, Some("phone.required"))
    );
}
